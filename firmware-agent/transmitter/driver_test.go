package transmitter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"pagebridge/firmware-agent/pocsag"
	"pagebridge/firmware-agent/pocsag/pocsagtest"
	"pagebridge/gateway/paging"
)

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// batches is a Source of fixed batches that records its calls.
type batches struct {
	clock Clock
	list  []pocsag.Batch
	calls []call
}

type call struct {
	at   time.Time
	room Room
}

func (s *batches) Next(now time.Time, room Room) (pocsag.Batch, bool) {
	s.calls = append(s.calls, call{now, room})
	if now != s.clock.Now() {
		panic("Next got a time other than the clock's")
	}
	if len(s.list) == 0 {
		return pocsag.Batch{}, false
	}
	b := s.list[0]
	s.list = s.list[1:]
	return b, true
}

// endless is a Source that never ends.
type endless struct{ n int }

func (s *endless) Next(time.Time, Room) (pocsag.Batch, bool) {
	s.n++
	var b pocsag.Batch
	for i := range b {
		b[i] = pocsag.Idle
	}
	return b, true
}

func newDriver(t *testing.T, cfg Config) (*Driver, *SimClock, *FakePTT, *bytes.Buffer) {
	t.Helper()
	clock := NewSimClock(t0)
	ptt := &FakePTT{Clock: clock}
	var out bytes.Buffer
	d, err := New(&out, ptt, clock, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d, clock, ptt, &out
}

// TestTransmit: PTT on, key-up of silence, preamble and batches, tail,
// PTT off; the audio decodes to the pages; each batch is asked for when
// the one before it starts on air.
func TestTransmit(t *testing.T) {
	pages := []pocsag.Page{
		{RIC: 1234567, Function: 3, Kind: pocsag.Alpha, Text: paging.NewPHI("Code Blue Rm 402")},
		{RIC: 8, Kind: pocsag.Numeric, Text: paging.NewPHI("5551234")},
	}
	for _, r := range pocsag.Rates {
		t.Run(r.String(), func(t *testing.T) {
			cfg := DefaultConfig()
			d, clock, ptt, out := newDriver(t, cfg)
			tx, err := pocsag.Encode(r, pages...)
			if err != nil {
				t.Fatal(err)
			}
			src := &batches{clock: clock, list: tx.Batches}
			res, err := d.Transmit(context.Background(), r, src)
			if err != nil {
				t.Fatal(err)
			}
			n := len(tx.Batches)
			wantLen := cfg.KeyUp + r.TransmissionDuration(n) + cfg.Tail
			if res.Keyed != t0 || res.Unkeyed.Sub(res.Keyed) != wantLen || res.Batches != n {
				t.Errorf("keyed %v for %v, %d batches; want %v, %d", res.Keyed, res.Unkeyed.Sub(res.Keyed), res.Batches, wantLen, n)
			}
			if res.OnAirUntil != res.Unkeyed.Add(-cfg.Tail) || res.BitsStart != t0.Add(cfg.KeyUp) {
				t.Errorf("bits from %v until %v", res.BitsStart, res.OnAirUntil)
			}
			ch := ptt.Changes()
			if len(ch) != 2 || !ch[0].On || ch[0].At != t0 || ch[1].On || ch[1].At != res.Unkeyed || ptt.Keyed() {
				t.Errorf("PTT changes %+v", ch)
			}
			if len(src.calls) != n+1 {
				t.Fatalf("%d calls to Next for %d batches", len(src.calls), n)
			}
			maxB := d.MaxBatches(r, t0, false)
			for k, c := range src.calls {
				want := t0
				if k > 0 {
					want = res.BatchStart(k - 1)
				}
				if c.at != want || c.room.Critical != maxB-k || c.room.Routine != maxB-k {
					t.Errorf("call %d at %v room %+v; want %v room %d", k, c.at.Sub(t0), c.room, want.Sub(t0), maxB-k)
				}
			}
			// Silence for the key-up, then the bits.
			m, _ := pocsag.NewModulator(pocsag.ModulatorConfig{Rate: r})
			silence := len(m.AppendSilence(nil, cfg.KeyUp))
			if out.Len() != silence+2*m.Samples(len(tx.Bits())) {
				t.Errorf("%d bytes of audio, want %d", out.Len(), silence+2*m.Samples(len(tx.Bits())))
			}
			if bytes.ContainsFunc(out.Bytes()[:silence], func(r rune) bool { return r != 0 }) {
				t.Errorf("key-up is not silent")
			}
			bits := pocsagtest.SliceNRZ(out.Bytes(), pocsag.DefaultSampleRate, r, false)
			msgs, err := pocsagtest.Decode(bits)
			if err != nil || len(msgs) != 2 || msgs[0].RIC != 8 || msgs[0].Numeric() != "5551234" || msgs[1].Alpha() != "Code Blue Rm 402" {
				t.Errorf("decoded %+v, %v", msgs, err)
			}
			if st := d.Stats(); st.Transmissions != 1 || st.Keyed != wantLen || st.LastError != nil {
				t.Errorf("stats %+v", st)
			}
			if used := d.Duty().Used(clock.Now()); used != 0 {
				t.Errorf("no duty limit, yet %v used", used)
			}
		})
	}
}

// TestTransmitMaxLength: a source that never ends is cut at the longest
// transmission allowed, and the keyed time stays within it.
func TestTransmitMaxLength(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxTransmission = 10 * time.Second
	d, _, _, _ := newDriver(t, cfg)
	src := &endless{}
	res, err := d.Transmit(context.Background(), pocsag.Rate1200, src)
	if err != nil {
		t.Fatal(err)
	}
	keyed := res.Unkeyed.Sub(res.Keyed)
	if keyed > cfg.MaxTransmission || keyed+pocsag.Rate1200.BatchDuration() <= cfg.MaxTransmission {
		t.Errorf("keyed %v with a %v limit", keyed, cfg.MaxTransmission)
	}
	// (10 s − 0.1 − 0.48 − 0.05) / 0.4533 = 20.66
	if res.Batches != 20 || src.n != 20 {
		t.Errorf("%d batches, %d asked; want 20", res.Batches, src.n)
	}
}

// TestTransmitDutyCycle: the driver keeps within the duty cycle, routine
// traffic leaves the reserve to critical pages, and Transmit refuses when
// nothing fits.
func TestTransmitDutyCycle(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxTransmission = 5 * time.Second
	cfg.DutyLimit = 0.1
	cfg.DutyWindow = 100 * time.Second // 10 s a window, 5 s of it for critical pages
	d, clock, ptt, out := newDriver(t, cfg)
	r := pocsag.Rate1200
	if got := d.MaxBatches(r, t0, false); got != 9 { // (5 − 0.63) / 0.4533
		t.Fatalf("MaxBatches routine = %d, want 9", got)
	}
	if _, err := d.Transmit(context.Background(), r, &endless{}); err != nil {
		t.Fatal(err)
	}
	now := clock.Now()
	used := d.Duty().Used(now)
	if used != d.Length(r, 9) {
		t.Errorf("used %v, want %v", used, d.Length(r, 9))
	}
	// Routine budget 5 s: 0.74 s left, not a batch.
	if got := d.MaxBatches(r, now, false); got != 0 {
		t.Errorf("routine room after 4.7 s of 5: %d batches", got)
	}
	if got := d.MaxBatches(r, now, true); got != 9 {
		t.Errorf("critical room: %d batches, want 9", got)
	}
	// A routine transmission of one batch can start once the first one
	// has left the window far enough.
	start := d.EarliestStart(r, now, 1, false)
	if start.Before(now) || !d.Duty().fitsAt(start, d.Length(r, 1), false) || d.Duty().fitsAt(start.Add(-time.Millisecond), d.Length(r, 1), false) {
		t.Errorf("EarliestStart %v after the first transmission ended", start.Sub(now))
	}
	// A critical transmission fills the reserve; then nothing fits.
	if _, err := d.Transmit(context.Background(), r, &endless{}); err != nil {
		t.Fatal(err)
	}
	if got := d.Duty().Used(clock.Now()); got > time.Duration(cfg.DutyLimit*float64(cfg.DutyWindow)) {
		t.Errorf("used %v, above the budget", got)
	}
	before := out.Len()
	n := len(ptt.Changes())
	if _, err := d.Transmit(context.Background(), r, &endless{}); !errors.Is(err, ErrDutyCycle) {
		t.Errorf("third transmission: %v, want ErrDutyCycle", err)
	}
	if out.Len() != before || len(ptt.Changes()) != n {
		t.Errorf("refused transmission keyed or wrote")
	}
}

// fitsAt is fits with the lock, for tests.
func (d *DutyCycle) fitsAt(start time.Time, length time.Duration, critical bool) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fits(start, length, d.Budget(critical))
}

// TestTransmitPTTFails: a PTT that cannot key leaves nothing written and
// asks the source for nothing.
func TestTransmitPTTFails(t *testing.T) {
	d, clock, ptt, out := newDriver(t, DefaultConfig())
	ptt.Fail(errors.New("ioctl failed"))
	src := &batches{clock: clock}
	_, err := d.Transmit(context.Background(), pocsag.Rate1200, src)
	if !errors.Is(err, ErrPTT) {
		t.Fatalf("err %v, want ErrPTT", err)
	}
	if out.Len() != 0 || len(src.calls) != 0 {
		t.Errorf("wrote %d bytes, %d calls to Next", out.Len(), len(src.calls))
	}
	if st := d.Stats(); !errors.Is(st.LastError, ErrPTT) || st.Transmissions != 0 {
		t.Errorf("stats %+v", st)
	}
}

// failWriter fails from its n-th write on.
type failWriter struct {
	n      int
	writes int
}

func (w *failWriter) Write(p []byte) (int, error) {
	w.writes++
	if w.writes >= w.n {
		return 0, errors.New("device gone")
	}
	return len(p), nil
}

// TestTransmitFailures: a write error or an ended ctx unkeys at once, and
// Result tells what was on air.
func TestTransmitFailures(t *testing.T) {
	t.Run("write", func(t *testing.T) {
		clock := NewSimClock(t0)
		ptt := &FakePTT{Clock: clock}
		d, err := New(&failWriter{n: 4}, ptt, clock, DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		res, err := d.Transmit(context.Background(), pocsag.Rate1200, &endless{})
		if !errors.Is(err, ErrWrite) {
			t.Fatalf("err %v", err)
		}
		// Preamble, batch 0, batch 1 written; batch 2 failed when batch 1
		// started on air.
		if res.Batches != 2 || res.Unkeyed != res.BatchStart(1) || res.OnAirUntil != res.BatchStart(1) || ptt.Keyed() {
			t.Errorf("result %+v, keyed %v", res, ptt.Keyed())
		}
	})
	t.Run("ctx", func(t *testing.T) {
		d, clock, ptt, _ := newDriver(t, DefaultConfig())
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		at := t0.Add(2 * time.Second)
		clock.At(at, cancel)
		res, err := d.Transmit(ctx, pocsag.Rate1200, &endless{})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
		if ptt.Keyed() || res.Unkeyed.Before(at) || res.Unkeyed.After(at.Add(pocsag.Rate1200.BatchDuration())) || res.OnAirUntil != res.Unkeyed {
			t.Errorf("cancelled at %v: unkeyed %v, on air until %v", at.Sub(t0), res.Unkeyed.Sub(t0), res.OnAirUntil.Sub(t0))
		}
		if used := d.Stats().Keyed; used != res.Unkeyed.Sub(res.Keyed) {
			t.Errorf("keyed %v counted, %v keyed", used, res.Unkeyed.Sub(res.Keyed))
		}
	})
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Config)
	}{
		{"negative key-up", func(c *Config) { c.KeyUp = -1 }},
		{"negative tail", func(c *Config) { c.Tail = -time.Second }},
		{"negative latency", func(c *Config) { c.OutputLatency = -1 }},
		{"max transmission too short", func(c *Config) { c.MaxTransmission = 2 * time.Second }},
		{"duty above 1", func(c *Config) { c.DutyLimit = 1.5 }},
		{"duty negative", func(c *Config) { c.DutyLimit = -0.1 }},
		{"duty without window", func(c *Config) { c.DutyLimit = 0.1 }},
		{"duty budget below a transmission", func(c *Config) { c.DutyLimit = 0.01; c.DutyWindow = time.Hour }},
		{"negative reserve", func(c *Config) { c.CriticalReserve = -1 }},
		{"bad modulator", func(c *Config) { c.Modulator.Amplitude = 2 }},
	} {
		cfg := DefaultConfig()
		c.edit(&cfg)
		if _, err := New(&bytes.Buffer{}, &FakePTT{}, SystemClock{}, cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", c.name, err)
		}
	}
	cfg := DefaultConfig()
	cfg.DutyLimit, cfg.DutyWindow = 0.1, time.Hour
	d, err := New(&bytes.Buffer{}, &FakePTT{}, SystemClock{}, cfg)
	if err != nil || d.Config().CriticalReserve != cfg.MaxTransmission {
		t.Errorf("default reserve: %v, %v", d.Config().CriticalReserve, err)
	}
}

func ExampleDriver_Length() {
	d, _ := New(&bytes.Buffer{}, &FakePTT{}, SystemClock{}, DefaultConfig())
	for _, r := range pocsag.Rates {
		fmt.Println(r, d.Length(r, 1), d.MaxBatches(r, t0, false))
	}
	// Output:
	// 512 2.3375s 27
	// 1200 1.083333333s 64
	// 2400 616.666666ms 130
}
