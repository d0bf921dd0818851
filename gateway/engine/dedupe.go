package engine

import (
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"

	"pagebridge/gateway/paging"
)

// dedupe remembers the pages of the last window by a salted hash of their
// pager ID and text, so that the same page from two senders (or resent
// under a new reference) pages nobody twice. It lives in memory: after a
// restart, pages of the window before it are not recognised.
type dedupe struct {
	window time.Duration
	salt   [32]byte

	mu     sync.Mutex
	recent map[[32]byte]seenPage
	order  []seenKey // by arrival, for pruning
}

type seenPage struct {
	id       paging.ID
	at       time.Time
	priority paging.Priority
}

type seenKey struct {
	key [32]byte
	at  time.Time
}

func newDedupe(window time.Duration) *dedupe {
	if window <= 0 {
		return nil
	}
	d := &dedupe{window: window, recent: map[[32]byte]seenPage{}}
	rand.Read(d.salt[:])
	return d
}

// seen reports whether m repeats a page received within the window that
// was at least as urgent, and which; otherwise it remembers m.
func (d *dedupe) seen(m *paging.Message) (paging.ID, bool) {
	if d == nil {
		return paging.ID{}, false
	}
	h := sha256.New()
	h.Write(d.salt[:])
	h.Write([]byte(m.PagerID))
	h.Write([]byte{0})
	h.Write([]byte(m.Text.Reveal()))
	var key [32]byte
	h.Sum(key[:0])

	d.mu.Lock()
	defer d.mu.Unlock()
	d.prune(m.Received)
	if prev, ok := d.recent[key]; ok && prev.id != m.ID && m.Received.Sub(prev.at).Abs() <= d.window && m.Priority <= prev.priority {
		return prev.id, true
	}
	d.recent[key] = seenPage{id: m.ID, at: m.Received, priority: m.Priority}
	d.order = append(d.order, seenKey{key, m.Received})
	return paging.ID{}, false
}

// prune forgets pages older than the window before now.
func (d *dedupe) prune(now time.Time) {
	n := 0
	for n < len(d.order) && now.Sub(d.order[n].at) > d.window {
		k := d.order[n]
		if p, ok := d.recent[k.key]; ok && !p.at.After(k.at) {
			delete(d.recent, k.key)
		}
		n++
	}
	if n > 0 {
		d.order = append(d.order[:0], d.order[n:]...)
	}
}
