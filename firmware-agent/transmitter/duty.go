package transmitter

import (
	"sync"
	"time"
)

// DutyCycle keeps a transmitter's keyed time within a limit: at most
// Limit × Window keyed in any sliding window of length Window. Part of
// that budget, Reserve, is kept for transmissions that carry critical
// pages: routine traffic stops at Limit × Window − Reserve, so a code page
// never waits for the duty cycle behind routine pages. A zero Limit means
// no limit. Safe for concurrent use.
type DutyCycle struct {
	limit   float64
	window  time.Duration
	reserve time.Duration

	mu    sync.Mutex
	spans []span // keyed intervals, oldest first, none older than a window
}

type span struct{ from, to time.Time }

// NewDutyCycle makes a DutyCycle; limit 0 is no limit. The caller has
// checked 0 ≤ limit ≤ 1, window > 0 and reserve < limit × window.
func NewDutyCycle(limit float64, window, reserve time.Duration) *DutyCycle {
	return &DutyCycle{limit: limit, window: window, reserve: reserve}
}

// Limited reports whether there is a limit at all.
func (d *DutyCycle) Limited() bool { return d.limit > 0 }

// Budget is the keyed time allowed in a window: all of it for
// transmissions with critical pages, less the reserve for others.
func (d *DutyCycle) Budget(critical bool) time.Duration {
	b := time.Duration(d.limit * float64(d.window))
	if !critical {
		b -= d.reserve
	}
	return b
}

// Record adds a keyed interval.
func (d *DutyCycle) Record(from, to time.Time) {
	if !to.After(from) {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.spans = append(d.spans, span{from, to})
	cut := 0
	for cut < len(d.spans) && !d.spans[cut].to.After(to.Add(-d.window)) {
		cut++
	}
	d.spans = d.spans[cut:]
}

// Used is the keyed time in the window that ends at now.
func (d *DutyCycle) Used(now time.Time) time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.usedIn(now.Add(-d.window), now)
}

// usedIn is the keyed time between a and b. d.mu held.
func (d *DutyCycle) usedIn(a, b time.Time) time.Duration {
	var sum time.Duration
	for _, s := range d.spans {
		from, to := s.from, s.to
		if from.Before(a) {
			from = a
		}
		if to.After(b) {
			to = b
		}
		if to.After(from) {
			sum += to.Sub(from)
		}
	}
	return sum
}

// fits reports whether a transmission keyed from start for length keeps
// within budget. Every window that overlaps it holds at most what the
// window ending at its end holds: old time leaves a window no faster than
// the new transmission enters it. d.mu held.
func (d *DutyCycle) fits(start time.Time, length, budget time.Duration) bool {
	end := start.Add(length)
	return d.usedIn(end.Add(-d.window), start)+length <= budget
}

// MaxLength is the longest transmission that may start at start (no
// recorded interval after it), at most limit; limit itself without a
// duty-cycle limit.
func (d *DutyCycle) MaxLength(start time.Time, critical bool, limit time.Duration) time.Duration {
	if !d.Limited() {
		return limit
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	budget := d.Budget(critical)
	if d.fits(start, limit, budget) {
		return limit
	}
	lo, hi := time.Duration(0), limit // fits(lo), !fits(hi)
	if !d.fits(start, 0, budget) {
		return 0
	}
	for hi-lo > time.Microsecond {
		mid := lo + (hi-lo)/2
		if d.fits(start, mid, budget) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// EarliestStart is the first time from now on at which a transmission of
// length fits the budget. A length above the budget never fits: the
// result is then the zero time.
func (d *DutyCycle) EarliestStart(now time.Time, length time.Duration, critical bool) time.Time {
	if !d.Limited() {
		return now
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	budget := d.Budget(critical)
	if length > budget {
		return time.Time{}
	}
	t := now
	for range 10000 {
		excess := d.usedIn(t.Add(length-d.window), t) + length - budget
		if excess <= 0 {
			return t
		}
		// Old time leaves the window at most as fast as the clock
		// runs, so nothing earlier than t+excess can fit.
		t = t.Add(excess)
	}
	if n := len(d.spans); n > 0 {
		return d.spans[n-1].to.Add(d.window)
	}
	return t
}
