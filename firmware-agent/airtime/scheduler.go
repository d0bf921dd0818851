package airtime

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"pagebridge/firmware-agent/pocsag"
	"pagebridge/firmware-agent/transmitter"
	"pagebridge/gateway/paging"
)

// Errors of Enqueue.
var (
	// ErrInvalid: a request that cannot be sent (no ID, a bad rate or
	// priority, a page the encoder refuses: see the wrapped pocsag error).
	ErrInvalid = errors.New("airtime: invalid request")
	// ErrTooLong: a page longer than MaxChars, or than fits one
	// transmission.
	ErrTooLong = errors.New("airtime: page too long")
)

// errIdle: step found nothing to send.
var errIdle = errors.New("airtime: nothing queued")

// Request is one page for the transmitter.
type Request struct {
	// ID is the caller's (the agent's job ID): OnSent reports it.
	// Enqueueing an ID already queued or on air changes nothing.
	ID       string
	Page     pocsag.Page
	Rate     pocsag.Rate
	Priority paging.Priority
	// Group marks Page.RIC as a group capcode: a page identical to one
	// already queued (same RIC, function, kind, rate and text) joins it
	// and goes on air once, at the higher of the two priorities.
	Group bool
}

// Options of a Scheduler. Zero fields take the defaults.
type Options struct {
	// Clock: transmitter.SystemClock{} by default; use the driver's.
	Clock transmitter.Clock
	// OnSent is called for every ID whose page went on air, with the time
	// its last codeword (and the one that ends it) was sent. It runs on
	// the scheduler's goroutine and must not block.
	OnSent func(id string, at time.Time)
	// MaxChars is the longest text a page may have; default 240.
	// Longer pages are refused (ErrTooLong): the caller splits them. It
	// bounds how long a critical page can wait behind a page on air.
	MaxChars int
	// Rates the transmitter serves, for WorstCriticalWait; default all
	// three.
	Rates []pocsag.Rate
	// RetryDelay is the pause after a failed transmission; default 5 s.
	RetryDelay time.Duration
	// Window is how many of the oldest pages of a priority the packer
	// chooses among (the one whose frame comes soonest goes next; the
	// oldest on a tie); the oldest page, once passed over Window times,
	// goes next regardless. Default 256: with 32, random frames leave the
	// window short of the frame needed, and 40-character pages at 1200
	// bit/s fill 92 % of the packing bound instead of 96 %.
	Window int
	Log    *slog.Logger
}

// item is a queued page. Fields are guarded by Scheduler.mu.
type item struct {
	ids    []string
	page   pocsag.Page
	words  []uint32
	rate   pocsag.Rate
	prio   paging.Priority
	group  bool
	seq    uint64 // enqueue order
	passed int    // times the packer chose another page over this, the oldest
}

// Scheduler queues the pages of one transmitter and sends them packed
// behind one preamble per transmission, critical pages first. Enqueue,
// Cancel and Snapshot are safe from any goroutine; Run owns the driver.
type Scheduler struct {
	drv  *transmitter.Driver
	opts Options
	log  *slog.Logger

	wake chan struct{} // Enqueue → Run, buffered 1

	mu        sync.Mutex
	queue     []*item // by seq
	seq       uint64
	onAir     map[string]bool      // IDs placed in the transmission under way
	interrupt context.CancelFunc   // ends Run's duty-cycle wait, when waiting
	waitPrio  paging.Priority      // priority Run waits to send
	current   *pocsag.Rate         // rate of the transmission under way
	sent      [3]uint64            // pages sent, by priority
	lastErr   error                // last transmission failure
	waits     map[string]time.Time // enqueue time of critical IDs, for MaxCriticalWait
	maxWait   time.Duration        // longest critical wait seen
	running   bool
}

// New makes a Scheduler for the transmitter driven by drv.
func New(drv *transmitter.Driver, opts Options) *Scheduler {
	if opts.Clock == nil {
		opts.Clock = transmitter.SystemClock{}
	}
	if opts.OnSent == nil {
		opts.OnSent = func(string, time.Time) {}
	}
	if opts.MaxChars <= 0 {
		opts.MaxChars = 240
	}
	if len(opts.Rates) == 0 {
		opts.Rates = pocsag.Rates
	}
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = 5 * time.Second
	}
	if opts.Window <= 0 {
		opts.Window = 256
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{drv: drv, opts: opts, log: opts.Log.With("component", "airtime"),
		wake: make(chan struct{}, 1), onAir: map[string]bool{}, waits: map[string]time.Time{}}
}

// Enqueue queues r. It returns an error wrapping ErrInvalid or ErrTooLong
// for a page that cannot be sent; the error never quotes the text.
func (s *Scheduler) Enqueue(r Request) error {
	switch {
	case r.ID == "":
		return fmt.Errorf("%w: no ID", ErrInvalid)
	case !r.Rate.Valid():
		return fmt.Errorf("%w: %w: %d", ErrInvalid, pocsag.ErrRate, r.Rate)
	case !r.Priority.Valid():
		return fmt.Errorf("%w: priority %d", ErrInvalid, r.Priority)
	case r.Page.Text.Len() > s.opts.MaxChars:
		return fmt.Errorf("%w: %d characters, at most %d", ErrTooLong, r.Page.Text.Len(), s.opts.MaxChars)
	}
	words, err := r.Page.Codewords()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var b pocsag.Builder
	if n := b.BatchesWith(r.Page.Frame(), len(words)); s.drv.Length(r.Rate, n) > s.drv.Config().MaxTransmission {
		return fmt.Errorf("%w: %d batches do not fit one transmission of %v", ErrTooLong, n, s.drv.Config().MaxTransmission)
	}
	now := s.opts.Clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.onAir[r.ID] || slices.ContainsFunc(s.queue, func(it *item) bool { return slices.Contains(it.ids, r.ID) }) {
		return nil
	}
	if r.Priority == paging.PriorityCritical {
		s.waits[r.ID] = now
	}
	if r.Group {
		for _, it := range s.queue {
			if it.group && it.page.RIC == r.Page.RIC && it.page.Function == r.Page.Function &&
				it.page.Kind == r.Page.Kind && it.rate == r.Rate && it.page.Text.Reveal() == r.Page.Text.Reveal() {
				it.ids = append(it.ids, r.ID)
				it.prio = max(it.prio, r.Priority)
				s.nudge(it.prio)
				return nil
			}
		}
	}
	s.seq++
	s.queue = append(s.queue, &item{ids: []string{r.ID}, page: r.Page, words: words, rate: r.Rate,
		prio: r.Priority, group: r.Group, seq: s.seq})
	s.nudge(r.Priority)
	return nil
}

// nudge wakes Run, and ends its duty-cycle wait if p outranks what it
// waits to send. s.mu held.
func (s *Scheduler) nudge(p paging.Priority) {
	select {
	case s.wake <- struct{}{}:
	default:
	}
	if s.interrupt != nil && p > s.waitPrio {
		s.interrupt()
		s.interrupt = nil
	}
}

// Cancel removes a queued page (one of its IDs, for a group page several
// asked for) and reports whether it was queued. A page already on air is
// not cancelled.
func (s *Scheduler) Cancel(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, it := range s.queue {
		if j := slices.Index(it.ids, id); j >= 0 {
			it.ids = slices.Delete(it.ids, j, j+1)
			if len(it.ids) == 0 {
				s.queue = slices.Delete(s.queue, i, i+1)
			}
			delete(s.waits, id)
			return true
		}
	}
	return false
}

// Run sends queued pages until ctx ends, and returns ctx.Err().
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("airtime: Run already running")
	}
	s.running = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running = false
		s.mu.Unlock()
	}()
	for {
		err := s.step(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, errIdle) {
			select {
			case <-s.wake:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

// top is the page that decides the next transmission: the oldest of the
// highest priority queued. s.mu held.
func (s *Scheduler) top() *item {
	var best *item
	for _, it := range s.queue {
		if best == nil || it.prio > best.prio {
			best = it
		}
	}
	return best
}

// step makes one transmission, after waiting for the duty cycle if need
// be: errIdle if nothing is queued, a transmission's error after the
// retry pause.
func (s *Scheduler) step(ctx context.Context) error {
	s.mu.Lock()
	top := s.top()
	if top == nil {
		s.mu.Unlock()
		return errIdle
	}
	rate, prio := top.rate, top.prio
	critical := prio == paging.PriorityCritical
	// A critical page goes as soon as it fits; routine traffic waits
	// until the queue at this rate fits, or a whole transmission does.
	var b pocsag.Builder
	need := b.BatchesWith(top.page.Frame(), len(top.words))
	if !critical {
		words := 0
		for _, it := range s.queue {
			if it.rate == rate {
				words += len(it.words) + 1
			}
		}
		need = max(need, min((words+pocsag.BatchWords-1)/pocsag.BatchWords, s.maxBatches(rate)))
	}
	now := s.opts.Clock.Now()
	start := s.drv.EarliestStart(rate, now, need, critical)
	if start.IsZero() { // more than the budget: send what fits
		start = s.drv.EarliestStart(rate, now, 1, critical)
	}
	if wait := start.Sub(now); wait > 0 {
		wctx, cancel := context.WithCancel(ctx)
		s.interrupt, s.waitPrio = cancel, prio
		s.mu.Unlock()
		err := s.opts.Clock.Sleep(wctx, wait)
		cancel()
		s.mu.Lock()
		s.interrupt = nil
		s.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			return nil // a higher priority page came: plan again
		}
		return err
	}
	s.current = &rate
	s.mu.Unlock()

	tx := &txSource{s: s, rate: rate}
	res, err := s.drv.Transmit(ctx, rate, tx)
	s.finish(tx, res, err)
	if err != nil {
		s.log.Warn("transmission failed", "rate", int(rate), "batches", res.Batches, "err", err)
		if ctx.Err() == nil {
			_ = s.opts.Clock.Sleep(ctx, s.opts.RetryDelay)
		}
		return err
	}
	return nil
}

// finish reports the pages that went on air and puts the others back in
// the queue, in their places.
func (s *Scheduler) finish(tx *txSource, res transmitter.Result, err error) {
	type done struct {
		id string
		at time.Time
	}
	var sent []done
	s.mu.Lock()
	s.current = nil
	if err != nil {
		s.lastErr = err
	} else {
		s.lastErr = nil
	}
	for _, p := range tx.placed {
		for _, id := range p.it.ids {
			delete(s.onAir, id)
		}
		// Sent when its last codeword and the one that ends it were
		// written and on air.
		end := p.end + 1
		if res.Batches > 0 && end/pocsag.BatchWords < res.Batches && !res.CodewordEnd(end).After(res.OnAirUntil) {
			at := res.CodewordEnd(p.end)
			s.sent[p.it.prio]++
			for _, id := range p.it.ids {
				sent = append(sent, done{id, at})
				if t, ok := s.waits[id]; ok {
					s.maxWait = max(s.maxWait, at.Sub(t))
					delete(s.waits, id)
				}
			}
			continue
		}
		i, _ := slices.BinarySearchFunc(s.queue, p.it.seq, func(it *item, seq uint64) int { return cmp.Compare(it.seq, seq) })
		s.queue = slices.Insert(s.queue, i, p.it)
	}
	s.mu.Unlock()
	for _, d := range sent {
		s.opts.OnSent(d.id, d.at)
	}
}

// maxBatches is how many batches the longest transmission at r holds.
func (s *Scheduler) maxBatches(r pocsag.Rate) int {
	return int((s.drv.Config().MaxTransmission - s.drv.Length(r, 0)) / r.BatchDuration())
}
