package airtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"pagebridge/firmware-agent/pocsag"
	"pagebridge/firmware-agent/transmitter"
	"pagebridge/gateway/paging"
)

// Targets of the air-time bench (issue 9).
const (
	// TargetPacking: pages per minute achieved, as a share of the packing
	// bound.
	TargetPacking = 0.95
)

// BenchOptions of [Bench]. Zero fields take the defaults.
type BenchOptions struct {
	Rate  pocsag.Rate // default 1200
	Chars int         // characters a page; default 40
	Pages int         // pages in the throughput run; default 2000
	// CriticalTrials is how many times a critical page arrives behind a
	// full queue, at times spread over two maximum-length transmissions;
	// default 100.
	CriticalTrials int
	Seed           uint64 // default 1
	// Transmitter is the driver's config; default
	// transmitter.DefaultConfig() (100 ms key-up, 50 ms tail, 30 s at
	// most). The bench sets the modulator's sample rate to twice the bit
	// rate: the figures count bits, not samples.
	Transmitter *transmitter.Config
}

// BenchResult is what [Bench] measured, in simulated time computed from
// the bits sent (not the wall clock): the same options give the same
// figures.
type BenchResult struct {
	Rate             pocsag.Rate
	Chars            int
	CodewordsPerPage int
	Pages            int
	Transmissions    int
	// Elapsed runs from the first key-up to the last unkey, key-up,
	// preambles, idle codewords, tails and gaps included.
	Elapsed        time.Duration
	PagesPerMinute float64
	// PackingBound is paging-protocols.md §7's "packed max": pages a
	// minute if every codeword of back-to-back batches carried pages
	// (no preamble, key-up or idle codeword), rounded down as the table
	// does. Packing is PagesPerMinute / PackingBound.
	PackingBound float64
	Packing      float64

	MaxTransmission time.Duration
	KeyUp           time.Duration
	CriticalTrials  int
	// CriticalWorstWait and CriticalMeanWait: from the critical page's
	// Enqueue until it is fully on air, over the trials.
	CriticalWorstWait time.Duration
	CriticalMeanWait  time.Duration
	// CriticalWaitBound is Scheduler.WorstCriticalWait for the run.
	CriticalWaitBound time.Duration
}

// MeetsPacking reports Packing ≥ TargetPacking.
func (r BenchResult) MeetsPacking() bool { return r.Packing >= TargetPacking }

// MeetsCriticalWait reports that the worst critical wait seen, and the
// computed bound, are within one maximum-length transmission.
func (r BenchResult) MeetsCriticalWait() bool {
	return r.CriticalWorstWait <= r.MaxTransmission && r.CriticalWaitBound <= r.MaxTransmission
}

// PackingBound is the packed maximum of pages a minute at r for pages of
// n codewords (address included), as paging-protocols.md §7 tabulates it.
func PackingBound(r pocsag.Rate, n int) float64 {
	return float64(60 * int(r) * pocsag.BatchWords / (pocsag.BatchBits * n))
}

// Bench measures the scheduler's use of air time: a saturated stream of
// alphanumeric pages of Chars random characters to random capcodes at
// Rate, and the wait of a critical page that arrives behind a full queue.
func Bench(ctx context.Context, o BenchOptions) (BenchResult, error) {
	if o.Rate == 0 {
		o.Rate = pocsag.Rate1200
	}
	if o.Chars <= 0 {
		o.Chars = 40
	}
	if o.Pages <= 0 {
		o.Pages = 2000
	}
	if o.CriticalTrials <= 0 {
		o.CriticalTrials = 100
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	cfg := transmitter.DefaultConfig()
	if o.Transmitter != nil {
		cfg = *o.Transmitter
	}
	cfg.Modulator.SampleRate = 2 * int(o.Rate)
	rng := rand.New(rand.NewPCG(o.Seed, 9))
	page := func(id string, p paging.Priority) Request {
		b := make([]byte, o.Chars)
		for i := range b {
			b[i] = byte(' ' + rng.IntN(95))
		}
		return Request{ID: id, Rate: o.Rate, Priority: p, Page: pocsag.Page{
			RIC: uint32(rng.IntN(pocsag.MaxRIC + 1)), Function: 3, Kind: pocsag.Alpha, Text: paging.NewPHI(string(b))}}
	}
	res := BenchResult{Rate: o.Rate, Chars: o.Chars, Pages: o.Pages, MaxTransmission: cfg.MaxTransmission,
		KeyUp: cfg.KeyUp, CriticalTrials: o.CriticalTrials}
	n, err := page("", 0).Page.Len()
	if err != nil {
		return res, err
	}
	res.CodewordsPerPage = n
	res.PackingBound = PackingBound(o.Rate, n)

	// Throughput: every page queued at the start, sent to the last.
	s, _, ptt, err := benchScheduler(cfg, o.Rate)
	if err != nil {
		return res, err
	}
	sent := 0
	s.opts.OnSent = func(string, time.Time) { sent++ }
	for i := range o.Pages {
		if err := s.Enqueue(page(fmt.Sprint(i), paging.PriorityNormal)); err != nil {
			return res, err
		}
	}
	if err := benchDrain(ctx, s, func() bool { return false }); err != nil {
		return res, err
	}
	ch := ptt.Changes()
	if sent != o.Pages || len(ch) == 0 {
		return res, fmt.Errorf("airtime bench: %d of %d pages sent", sent, o.Pages)
	}
	res.Transmissions = len(ch) / 2
	res.Elapsed = ch[len(ch)-1].At.Sub(ch[0].At)
	res.PagesPerMinute = float64(o.Pages) / res.Elapsed.Minutes()
	res.Packing = res.PagesPerMinute / res.PackingBound

	// Critical wait: a full queue (three maximum transmissions' worth),
	// a critical page arriving at a different moment each trial.
	full := 3 * s.maxBatches(o.Rate) * pocsag.BatchWords / n
	span := 2 * cfg.MaxTransmission
	var total time.Duration
	for trial := range o.CriticalTrials {
		s, clock, _, err := benchScheduler(cfg, o.Rate)
		if err != nil {
			return res, err
		}
		res.CriticalWaitBound = s.WorstCriticalWait()
		var arrived, done time.Time
		s.opts.OnSent = func(id string, at time.Time) {
			if id == "critical" {
				done = at
			}
		}
		for i := range full {
			if err := s.Enqueue(page(fmt.Sprint(i), paging.PriorityNormal)); err != nil {
				return res, err
			}
		}
		jitter := time.Duration(rng.Int64N(int64(o.Rate.BatchDuration())))
		arrive := benchStart.Add(span*time.Duration(trial)/time.Duration(o.CriticalTrials) + jitter)
		crit := page("critical", paging.PriorityCritical)
		var enqErr error
		clock.At(arrive, func() {
			arrived = clock.Now()
			enqErr = s.Enqueue(crit)
		})
		if err := benchDrain(ctx, s, func() bool { return !done.IsZero() }); err != nil {
			return res, err
		}
		if enqErr != nil || done.IsZero() {
			return res, fmt.Errorf("airtime bench: critical page of trial %d not sent (%v)", trial, enqErr)
		}
		wait := done.Sub(arrived)
		total += wait
		res.CriticalWorstWait = max(res.CriticalWorstWait, wait)
	}
	res.CriticalMeanWait = total / time.Duration(o.CriticalTrials)
	return res, nil
}

var benchStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// benchScheduler is a scheduler for rate r on a simulated transmitter
// whose audio goes nowhere.
func benchScheduler(cfg transmitter.Config, r pocsag.Rate) (*Scheduler, *transmitter.SimClock, *transmitter.FakePTT, error) {
	clock := transmitter.NewSimClock(benchStart)
	ptt := &transmitter.FakePTT{Clock: clock}
	drv, err := transmitter.New(io.Discard, ptt, clock, cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	return New(drv, Options{Clock: clock, Rates: []pocsag.Rate{r}}), clock, ptt, nil
}

// benchDrain runs transmissions until the queue is empty or stop reports
// true.
func benchDrain(ctx context.Context, s *Scheduler, stop func() bool) error {
	for !stop() {
		err := s.step(ctx)
		switch {
		case errors.Is(err, errIdle):
			return nil
		case err != nil:
			return err
		}
	}
	return nil
}
