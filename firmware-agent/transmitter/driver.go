package transmitter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"pagebridge/firmware-agent/pocsag"
)

// Errors of the driver.
var (
	// ErrConfig: a Config out of range.
	ErrConfig = errors.New("transmitter: bad config")
	// ErrDutyCycle: Transmit was called when the duty cycle leaves no
	// room for a single batch. Nothing was keyed.
	ErrDutyCycle = errors.New("transmitter: duty cycle exhausted")
	// ErrWrite wraps a failed write of audio; the transmitter was unkeyed
	// at once.
	ErrWrite = errors.New("transmitter: write audio")
)

// Config of a Driver. [DefaultConfig] has sensible values; a zero
// duration is taken as zero.
type Config struct {
	// KeyUp is the time from keying to the first bit, sent as silence:
	// the transmitter's attack time plus margin.
	KeyUp time.Duration
	// Tail is the time from the last bit on air to unkeying.
	Tail time.Duration
	// OutputLatency is how long audio takes from a write to the air
	// (the sound device's buffer): the driver waits that much longer
	// before unkeying, and counts it as keyed time.
	OutputLatency time.Duration
	// MaxTransmission is the longest keyed time of one transmission,
	// key-up and tail included.
	MaxTransmission time.Duration
	// DutyLimit is the fraction of DutyWindow the transmitter may be
	// keyed, in any sliding window; 0 is no limit.
	DutyLimit  float64
	DutyWindow time.Duration
	// CriticalReserve is the part of the duty budget only transmissions
	// with critical pages may use; default (0) MaxTransmission when
	// DutyLimit is set.
	CriticalReserve time.Duration
	// Modulator sets the audio (NRZ or FSK, sample rate, level,
	// polarity); its Rate is set per transmission.
	Modulator pocsag.ModulatorConfig
}

// DefaultConfig is 100 ms key-up, 50 ms tail, 30 s transmissions at most,
// no duty-cycle limit, NRZ at 22050 Hz.
func DefaultConfig() Config {
	return Config{KeyUp: 100 * time.Millisecond, Tail: 50 * time.Millisecond, MaxTransmission: 30 * time.Second}
}

// Room is how many more batches a transmission may have: Routine for
// routine pages, Critical (never less) when critical pages are on board.
type Room struct{ Routine, Critical int }

// Source gives the batches of one transmission as they are due.
type Source interface {
	// Next returns the next batch, planned at now, or false to end the
	// transmission. room counts this batch and those after it that the
	// transmission may still have; the driver asks no more than
	// room.Critical allows.
	Next(now time.Time, room Room) (pocsag.Batch, bool)
}

// Result is what happened to one transmission.
type Result struct {
	Rate      pocsag.Rate
	Keyed     time.Time // PTT on
	Unkeyed   time.Time // PTT off (zero if keying failed)
	BitsStart time.Time // first preamble bit on air
	Batches   int       // batches written
	// OnAirUntil: everything written that was due on air before this
	// went out (the end of the last batch, or the moment a failure cut
	// the transmission).
	OnAirUntil time.Time
}

// BatchStart is when batch k (from 0) starts on air.
func (r Result) BatchStart(k int) time.Time {
	return r.BitsStart.Add(r.Rate.Duration(pocsag.PreambleBits + k*pocsag.BatchBits))
}

// CodewordEnd is when codeword i (counted from the first batch's first
// codeword, sync words not counted) has been sent.
func (r Result) CodewordEnd(i int) time.Time {
	k, w := i/pocsag.BatchWords, i%pocsag.BatchWords
	return r.BatchStart(k).Add(r.Rate.Duration(32 * (w + 2)))
}

// Stats of a driver since New.
type Stats struct {
	Transmissions uint64
	Keyed         time.Duration // keyed time in all
	LastError     error
}

// Driver sends transmissions: it keys the PTT, writes the audio of
// preamble and batches to an io.Writer (a sound device, a pipe to aplay,
// a file), paced so that it runs one batch ahead of the air, waits for the
// tail and unkeys. It enforces MaxTransmission and the duty cycle. One
// goroutine transmits at a time; Stats, Duty and the planning methods are
// safe from any goroutine.
type Driver struct {
	cfg   Config
	out   io.Writer
	ptt   PTT
	clock Clock
	duty  *DutyCycle

	mu    sync.Mutex
	stats Stats
}

// New checks cfg and makes a Driver writing to out and keying ptt.
func New(out io.Writer, ptt PTT, clock Clock, cfg Config) (*Driver, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.DutyLimit > 0 && cfg.CriticalReserve == 0 {
		cfg.CriticalReserve = cfg.MaxTransmission
	}
	if cfg.DutyLimit > 0 && time.Duration(cfg.DutyLimit*float64(cfg.DutyWindow))-cfg.CriticalReserve < cfg.MaxTransmission {
		return nil, fmt.Errorf("%w: duty budget %v of %v less the critical reserve %v leaves less than one transmission of %v",
			ErrConfig, cfg.DutyLimit, cfg.DutyWindow, cfg.CriticalReserve, cfg.MaxTransmission)
	}
	return &Driver{cfg: cfg, out: out, ptt: ptt, clock: clock,
		duty: NewDutyCycle(cfg.DutyLimit, cfg.DutyWindow, cfg.CriticalReserve)}, nil
}

func (c Config) check() error {
	m := c.Modulator
	m.Rate = pocsag.Rate512
	if _, err := pocsag.NewModulator(m); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	switch {
	case c.KeyUp < 0 || c.Tail < 0 || c.OutputLatency < 0:
		return fmt.Errorf("%w: negative key-up, tail or latency", ErrConfig)
	case c.MaxTransmission < c.overhead(pocsag.Rate512)+pocsag.Rate512.BatchDuration():
		return fmt.Errorf("%w: max transmission %v holds no batch at 512 bit/s", ErrConfig, c.MaxTransmission)
	case !(c.DutyLimit >= 0 && c.DutyLimit <= 1):
		return fmt.Errorf("%w: duty limit %v outside 0..1", ErrConfig, c.DutyLimit)
	case c.DutyLimit > 0 && c.DutyWindow <= 0:
		return fmt.Errorf("%w: duty limit without a window", ErrConfig)
	case c.CriticalReserve < 0:
		return fmt.Errorf("%w: negative critical reserve", ErrConfig)
	}
	return nil
}

// overhead is the keyed time of a transmission besides its batches.
func (c Config) overhead(r pocsag.Rate) time.Duration {
	return c.OutputLatency + c.KeyUp + r.PreambleDuration() + c.Tail
}

// Config is the driver's configuration, defaults filled in.
func (d *Driver) Config() Config { return d.cfg }

// Duty is the driver's duty-cycle account.
func (d *Driver) Duty() *DutyCycle { return d.duty }

// Length is the keyed time of a transmission of n batches at r.
func (d *Driver) Length(r pocsag.Rate, n int) time.Duration {
	return d.cfg.overhead(r) + r.Duration(n*pocsag.BatchBits)
}

// MaxBatches is how many batches a transmission at r starting at start
// may have, by MaxTransmission and the duty cycle.
func (d *Driver) MaxBatches(r pocsag.Rate, start time.Time, critical bool) int {
	l := d.duty.MaxLength(start, critical, d.cfg.MaxTransmission) - d.cfg.overhead(r)
	if l < 0 {
		return 0
	}
	return int(l / r.BatchDuration())
}

// EarliestStart is the first time from now on when a transmission of n
// batches at r fits the duty cycle (zero time if it never can).
func (d *Driver) EarliestStart(r pocsag.Rate, now time.Time, n int, critical bool) time.Time {
	return d.duty.EarliestStart(now, d.Length(r, n), critical)
}

// Stats returns the driver's counters.
func (d *Driver) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// Transmit sends one transmission at rate r with the batches src gives.
// It returns when the transmitter is unkeyed again. On an error after
// keying (a failed write, ctx ended) it unkeys at once; Result says what
// went on air. A PTT that fails to key leaves nothing written.
func (d *Driver) Transmit(ctx context.Context, r pocsag.Rate, src Source) (res Result, err error) {
	res.Rate = r
	mc := d.cfg.Modulator
	mc.Rate = r
	mod, err := pocsag.NewModulator(mc)
	if err != nil {
		return res, err
	}
	t0 := d.clock.Now()
	maxRoutine, maxCritical := d.MaxBatches(r, t0, false), d.MaxBatches(r, t0, true)
	if maxCritical <= 0 {
		return res, ErrDutyCycle
	}
	defer func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if err != nil {
			d.stats.LastError = err
		}
	}()
	if err := d.ptt.Key(true); err != nil {
		_ = d.ptt.Key(false) // it may have half worked
		return res, err
	}
	res.Keyed = t0
	res.BitsStart = t0.Add(d.cfg.OutputLatency + d.cfg.KeyUp)
	keyed := true
	unkey := func() {
		if !keyed {
			return
		}
		keyed = false
		if kerr := d.ptt.Key(false); kerr != nil {
			err = errors.Join(err, kerr)
		}
		res.Unkeyed = d.clock.Now()
		if end := res.BatchStart(res.Batches); res.Unkeyed.Before(end) {
			res.OnAirUntil = res.Unkeyed
		} else {
			res.OnAirUntil = end
		}
		d.duty.Record(res.Keyed, res.Unkeyed)
		d.mu.Lock()
		d.stats.Transmissions++
		d.stats.Keyed += res.Unkeyed.Sub(res.Keyed)
		d.mu.Unlock()
	}
	defer unkey()

	buf := mod.AppendSilence(nil, d.cfg.KeyUp)
	bits := pocsag.AppendPreamble(nil)
	buf = mod.Append(buf, bits)
	if _, err := d.out.Write(buf); err != nil {
		return res, fmt.Errorf("%w: %w", ErrWrite, err)
	}
	for res.Batches < maxCritical {
		room := Room{Routine: max(0, maxRoutine-res.Batches), Critical: maxCritical - res.Batches}
		b, ok := src.Next(d.clock.Now(), room)
		if !ok {
			break
		}
		bits = pocsag.AppendBatch(bits[:0], b)
		buf = mod.Append(buf[:0], bits)
		if _, err := d.out.Write(buf); err != nil {
			return res, fmt.Errorf("%w: %w", ErrWrite, err)
		}
		res.Batches++
		// Plan the next batch while this one is on air.
		if err := d.sleepUntil(ctx, res.BatchStart(res.Batches-1)); err != nil {
			return res, err
		}
	}
	if err := d.sleepUntil(ctx, res.BatchStart(res.Batches).Add(d.cfg.Tail)); err != nil {
		return res, err
	}
	return res, nil
}

func (d *Driver) sleepUntil(ctx context.Context, t time.Time) error {
	if w := t.Sub(d.clock.Now()); w > 0 {
		return d.clock.Sleep(ctx, w)
	}
	return ctx.Err()
}
