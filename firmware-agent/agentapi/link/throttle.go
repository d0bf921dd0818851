package link

import (
	"sync"
	"time"
)

// Throttle decides which log lines of a kind are written: the first at
// once, then at most one per interval with the number held back, so that
// a peer sending garbage in a loop cannot flood the journal. Kinds are
// bounded (the set is cleared past 1024), as they may come from topics.
type Throttle struct {
	interval time.Duration
	mu       sync.Mutex
	kinds    map[string]*throttled
}

type throttled struct {
	last time.Time
	held int
}

// NewThrottle returns a throttle that lets one line per kind through per
// interval.
func NewThrottle(interval time.Duration) *Throttle {
	return &Throttle{interval: interval, kinds: map[string]*throttled{}}
}

// Allow reports whether to log a line of kind now, and how many lines of
// that kind were held back since the last one let through.
func (t *Throttle) Allow(kind string) (held int, ok bool) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	k := t.kinds[kind]
	if k == nil {
		if len(t.kinds) > 1024 {
			clear(t.kinds)
		}
		t.kinds[kind] = &throttled{last: now}
		return 0, true
	}
	if now.Sub(k.last) < t.interval {
		k.held++
		return 0, false
	}
	held, k.held, k.last = k.held, 0, now
	return held, true
}
