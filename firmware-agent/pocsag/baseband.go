package pocsag

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrModulator: a modulator setting out of range.
var ErrModulator = errors.New("pocsag: bad modulator setting")

// Modulation is how bits become audio samples.
type Modulation uint8

const (
	// NRZ is baseband: a level per bit, for a transmitter's data
	// (modulator) input. A 0 bit is the positive level, a 1 bit the
	// negative one, unless Invert is set.
	NRZ Modulation = iota
	// FSK is a tone per bit (continuous phase), for a transmitter that
	// takes audio tones.
	FSK
)

// DefaultSampleRate is the rate multimon-ng's POCSAG decoders expect.
const DefaultSampleRate = 22050

// ModulatorConfig sets up a [Modulator]. Zero fields take the defaults.
type ModulatorConfig struct {
	Rate       Rate       // bit rate; required
	SampleRate int        // samples per second; DefaultSampleRate
	Modulation Modulation // NRZ (default) or FSK
	// Amplitude is the peak level as a fraction of full scale, 0 < a ≤ 1;
	// default 0.5.
	Amplitude float64
	// Invert swaps NRZ levels: 1 bits positive. The default (0 bits
	// positive, 1 bits negative) is what multimon-ng decodes: its
	// POCSAG slicer reads a positive sample as a 0 bit. It matches the
	// RF rule (a 0 bit is the higher frequency) through an FM
	// discriminator whose output rises with frequency. A transmitter
	// whose modulator deviates the other way needs Invert.
	Invert bool
	// ZeroHz and OneHz are the FSK tones of 0 and 1 bits; defaults 2200
	// and 1200 Hz (0 the higher, as on air). Ignored for NRZ.
	ZeroHz, OneHz float64
}

// Modulator turns bits into signed 16-bit little-endian mono PCM. It keeps
// its place between calls (the fraction of a sample a bit ends on, the
// FSK phase), so a transmission can be modulated batch by batch with the
// same samples as in one piece. Not safe for concurrent use.
type Modulator struct {
	c     ModulatorConfig
	level int16   // NRZ level of a 0 bit
	bit   int64   // bits modulated so far
	phase float64 // FSK phase, radians
}

// NewModulator checks c and makes a Modulator.
func NewModulator(c ModulatorConfig) (*Modulator, error) {
	if !c.Rate.Valid() {
		return nil, fmt.Errorf("%w: %d", ErrRate, c.Rate)
	}
	if c.SampleRate == 0 {
		c.SampleRate = DefaultSampleRate
	}
	if c.Amplitude == 0 {
		c.Amplitude = 0.5
	}
	if c.ZeroHz == 0 {
		c.ZeroHz = 2200
	}
	if c.OneHz == 0 {
		c.OneHz = 1200
	}
	switch {
	case c.SampleRate < 2*int(c.Rate):
		return nil, fmt.Errorf("%w: sample rate %d below twice the bit rate", ErrModulator, c.SampleRate)
	case !(c.Amplitude > 0 && c.Amplitude <= 1):
		return nil, fmt.Errorf("%w: amplitude %v outside (0, 1]", ErrModulator, c.Amplitude)
	case c.Modulation > FSK:
		return nil, fmt.Errorf("%w: modulation %d", ErrModulator, c.Modulation)
	case c.Modulation == FSK && !(c.ZeroHz > 0 && c.ZeroHz < float64(c.SampleRate)/2 && c.OneHz > 0 && c.OneHz < float64(c.SampleRate)/2):
		return nil, fmt.Errorf("%w: FSK tones %v and %v Hz must lie between 0 and half the sample rate", ErrModulator, c.ZeroHz, c.OneHz)
	case c.Modulation == FSK && c.ZeroHz == c.OneHz:
		return nil, fmt.Errorf("%w: FSK tones must differ", ErrModulator)
	}
	m := &Modulator{c: c, level: int16(math.Round(c.Amplitude * 32767))}
	if c.Invert {
		m.level = -m.level
	}
	return m, nil
}

// Config is the modulator's configuration, defaults filled in.
func (m *Modulator) Config() ModulatorConfig { return m.c }

// samplesUntil is the number of samples from the start to the end of bit
// n (exclusive), so that bits get floor or ceil of SampleRate/Rate samples
// and never drift.
func (m *Modulator) samplesUntil(n int64) int64 {
	return n * int64(m.c.SampleRate) / int64(m.c.Rate)
}

// Samples is the number of samples the next n bits will take.
func (m *Modulator) Samples(n int) int {
	return int(m.samplesUntil(m.bit+int64(n)) - m.samplesUntil(m.bit))
}

// Append appends the samples of bits (one bit a byte, 0 or nonzero) to
// dst.
func (m *Modulator) Append(dst []byte, bits []byte) []byte {
	for _, b := range bits {
		n := m.samplesUntil(m.bit+1) - m.samplesUntil(m.bit)
		m.bit++
		one := b != 0
		if m.c.Modulation == NRZ {
			v := m.level
			if one {
				v = -v
			}
			for range n {
				dst = binary.LittleEndian.AppendUint16(dst, uint16(v))
			}
			continue
		}
		f := m.c.ZeroHz
		if one {
			f = m.c.OneHz
		}
		step := 2 * math.Pi * f / float64(m.c.SampleRate)
		amp := m.c.Amplitude * 32767
		for range n {
			dst = binary.LittleEndian.AppendUint16(dst, uint16(int16(math.Round(amp*math.Sin(m.phase)))))
			m.phase += step
		}
		m.phase = math.Mod(m.phase, 2*math.Pi)
	}
	return dst
}

// AppendSilence appends d of zero samples to dst (the transmitter keyed,
// nothing modulated). It does not move the bit clock.
func (m *Modulator) AppendSilence(dst []byte, d time.Duration) []byte {
	n := int64(d) * int64(m.c.SampleRate) / int64(time.Second)
	for range n {
		dst = append(dst, 0, 0)
	}
	return dst
}
