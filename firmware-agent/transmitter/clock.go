package transmitter

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Clock tells the time and waits. The driver and the scheduler take one,
// so tests and the air-time bench run on simulated time.
type Clock interface {
	Now() time.Time
	// Sleep waits d, or returns ctx.Err() when ctx ends first.
	Sleep(ctx context.Context, d time.Duration) error
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now is time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// Sleep waits d or until ctx ends.
func (SystemClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SimClock is simulated time: Sleep moves the clock on at once, running
// the functions registered with At whose time it passes, in time order,
// each with the clock set to its time. Time moves only in Sleep and
// Advance, so a simulation driven from one goroutine is deterministic.
// Safe for concurrent use; functions run without the clock's lock held
// and may call At, Now and Sleep.
type SimClock struct {
	mu     sync.Mutex
	now    time.Time
	events []simEvent
	seq    int
}

type simEvent struct {
	at  time.Time
	seq int
	f   func()
}

// NewSimClock starts simulated time at start.
func NewSimClock(start time.Time) *SimClock { return &SimClock{now: start} }

// Now is the simulated time.
func (c *SimClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// At runs f when the clock reaches t (at the next Sleep or Advance if t
// has passed).
func (c *SimClock) At(t time.Time, f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	c.events = append(c.events, simEvent{at: t, seq: c.seq, f: f})
	sort.Slice(c.events, func(i, j int) bool {
		if !c.events[i].at.Equal(c.events[j].at) {
			return c.events[i].at.Before(c.events[j].at)
		}
		return c.events[i].seq < c.events[j].seq
	})
}

// Sleep advances the clock by d at once. When a function it runs ends
// ctx, it stops at that function's time and returns ctx.Err().
func (c *SimClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.advance(d, func() bool { return ctx.Err() != nil })
	return ctx.Err()
}

// Advance moves the clock on by d (not back), running due functions.
func (c *SimClock) Advance(d time.Duration) { c.advance(d, func() bool { return false }) }

// advance moves the clock on by d, or to the time of the function after
// which stop reports true.
func (c *SimClock) advance(d time.Duration, stop func() bool) {
	c.mu.Lock()
	end := c.now
	if d > 0 {
		end = end.Add(d)
	}
	for len(c.events) > 0 && !c.events[0].at.After(end) {
		e := c.events[0]
		c.events = c.events[1:]
		if e.at.After(c.now) {
			c.now = e.at
		}
		c.mu.Unlock()
		e.f()
		c.mu.Lock()
		if c.now.After(end) {
			end = c.now // a function slept past the end
		}
		if stop() {
			c.mu.Unlock()
			return
		}
	}
	c.now = end
	c.mu.Unlock()
}
