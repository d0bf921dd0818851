package pocsag_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"
	"time"

	"pagebridge/firmware-agent/pocsag"
	"pagebridge/firmware-agent/pocsag/pocsagtest"
)

func samples(pcm []byte) []int16 {
	out := make([]int16, len(pcm)/2)
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(pcm[2*i:]))
	}
	return out
}

// TestNRZ: levels, polarity, and sample counts that never drift, whether
// the bits come in one piece or batch by batch.
func TestNRZ(t *testing.T) {
	tx, err := pocsag.Encode(pocsag.Rate1200, alpha(1234567, "Code Blue Rm 402"), numeric(8, "5551234"))
	if err != nil {
		t.Fatal(err)
	}
	bits := tx.Bits()
	for _, r := range pocsag.Rates {
		m, err := pocsag.NewModulator(pocsag.ModulatorConfig{Rate: r})
		if err != nil {
			t.Fatal(err)
		}
		if n := m.Samples(len(bits)); n != len(bits)*pocsag.DefaultSampleRate/int(r) {
			t.Errorf("%v: Samples(%d) = %d", r, len(bits), n)
		}
		whole := m.Append(nil, bits)
		if len(whole) != 2*(len(bits)*pocsag.DefaultSampleRate/int(r)) {
			t.Errorf("%v: %d bytes for %d bits", r, len(whole), len(bits))
		}
		m2, _ := pocsag.NewModulator(pocsag.ModulatorConfig{Rate: r})
		var pieces []byte
		for i := 0; i < len(bits); i += 544 {
			pieces = m2.Append(pieces, bits[i:min(i+544, len(bits))])
		}
		if !bytes.Equal(whole, pieces) {
			t.Errorf("%v: batch by batch differs from one piece", r)
		}
		// Bit 0 of the preamble is a 1: negative; bit 1 a 0: positive.
		s := samples(whole)
		per := pocsag.DefaultSampleRate / int(r)
		if s[per/2] != -16384 || s[per+per/2] != 16384 {
			t.Errorf("%v: preamble starts %d, %d; want -16384 (1 bit), 16384 (0 bit)", r, s[per/2], s[per+per/2])
		}
		got := pocsagtest.SliceNRZ(whole, pocsag.DefaultSampleRate, r, false)
		if !bytes.Equal(got, bits) {
			t.Errorf("%v: sliced bits differ from those sent", r)
		}
	}
}

// TestNRZInvertAndSilence: Invert swaps the levels; silence is zero
// samples that move no bit.
func TestNRZInvertAndSilence(t *testing.T) {
	m, err := pocsag.NewModulator(pocsag.ModulatorConfig{Rate: pocsag.Rate2400, Invert: true, Amplitude: 1, SampleRate: 48000})
	if err != nil {
		t.Fatal(err)
	}
	pcm := m.AppendSilence(nil, 10*time.Millisecond)
	if len(pcm) != 2*480 {
		t.Fatalf("10 ms of silence at 48 kHz: %d bytes", len(pcm))
	}
	pcm = m.Append(pcm, []byte{1, 0})
	s := samples(pcm)
	if s[0] != 0 || s[479] != 0 || s[480] != 32767 || s[len(s)-1] != -32767 {
		t.Errorf("inverted: %d %d %d %d", s[0], s[479], s[480], s[len(s)-1])
	}
	if len(s) != 480+40 {
		t.Errorf("%d samples, want 520", len(s))
	}
}

// goertzel is the power of frequency f in x.
func goertzel(x []int16, f float64, rate int) float64 {
	w := 2 * math.Pi * f / float64(rate)
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range x {
		s0 := float64(v) + c*s1 - s2
		s2, s1 = s1, s0
	}
	return s1*s1 + s2*s2 - c*s1*s2
}

// TestFSK: each bit's samples carry its tone (1200 Hz for 1, 2200 Hz for
// 0 by default), read back by a Goertzel filter, and the phase runs on
// across bits (no step larger than one sample's advance).
func TestFSK(t *testing.T) {
	tx, err := pocsag.Encode(pocsag.Rate512, numeric(8, "5551234"))
	if err != nil {
		t.Fatal(err)
	}
	bits := tx.Bits()
	for _, c := range []struct {
		rate       pocsag.Rate
		sampleRate int
		zero, one  float64
	}{
		{pocsag.Rate512, 22050, 0, 0},
		{pocsag.Rate1200, 48000, 0, 0},
		{pocsag.Rate2400, 48000, 7200, 4800},
	} {
		m, err := pocsag.NewModulator(pocsag.ModulatorConfig{Rate: c.rate, SampleRate: c.sampleRate, Modulation: pocsag.FSK, ZeroHz: c.zero, OneHz: c.one})
		if err != nil {
			t.Fatal(err)
		}
		cfg := m.Config()
		s := samples(m.Append(nil, bits))
		var at int64
		for i, b := range bits {
			end := int64(i+1) * int64(c.sampleRate) / int64(c.rate)
			x := s[at:end]
			at = end
			p0, p1 := goertzel(x, cfg.ZeroHz, c.sampleRate), goertzel(x, cfg.OneHz, c.sampleRate)
			if got := p1 > p0; got != (b == 1) {
				t.Fatalf("%v bit/s: bit %d is %d but the tones say otherwise (%.3g vs %.3g)", c.rate, i, b, p1, p0)
			}
		}
		maxStep := 2 * math.Pi * max(cfg.ZeroHz, cfg.OneHz) / float64(c.sampleRate) * cfg.Amplitude * 32767 * 1.01
		for i := 1; i < len(s); i++ {
			if d := math.Abs(float64(s[i]) - float64(s[i-1])); d > maxStep+1 {
				t.Fatalf("%v bit/s: jump of %.0f at sample %d (phase not continuous)", c.rate, d, i)
			}
		}
	}
}

func TestModulatorConfigErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  pocsag.ModulatorConfig
		want error
	}{
		{"no rate", pocsag.ModulatorConfig{}, pocsag.ErrRate},
		{"rate 600", pocsag.ModulatorConfig{Rate: 600}, pocsag.ErrRate},
		{"sample rate too low", pocsag.ModulatorConfig{Rate: pocsag.Rate2400, SampleRate: 4000}, pocsag.ErrModulator},
		{"amplitude above 1", pocsag.ModulatorConfig{Rate: pocsag.Rate1200, Amplitude: 1.5}, pocsag.ErrModulator},
		{"negative amplitude", pocsag.ModulatorConfig{Rate: pocsag.Rate1200, Amplitude: -0.5}, pocsag.ErrModulator},
		{"NaN amplitude", pocsag.ModulatorConfig{Rate: pocsag.Rate1200, Amplitude: math.NaN()}, pocsag.ErrModulator},
		{"unknown modulation", pocsag.ModulatorConfig{Rate: pocsag.Rate1200, Modulation: 7}, pocsag.ErrModulator},
		{"tone above Nyquist", pocsag.ModulatorConfig{Rate: pocsag.Rate1200, Modulation: pocsag.FSK, ZeroHz: 12000}, pocsag.ErrModulator},
		{"negative tone", pocsag.ModulatorConfig{Rate: pocsag.Rate1200, Modulation: pocsag.FSK, OneHz: -1}, pocsag.ErrModulator},
		{"same tones", pocsag.ModulatorConfig{Rate: pocsag.Rate1200, Modulation: pocsag.FSK, ZeroHz: 1500, OneHz: 1500}, pocsag.ErrModulator},
	} {
		if _, err := pocsag.NewModulator(c.cfg); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}
