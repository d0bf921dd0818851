package airtime

import (
	"time"

	"pagebridge/firmware-agent/pocsag"
	"pagebridge/firmware-agent/transmitter"
	"pagebridge/gateway/paging"
)

// placement is a page laid out in a transmission: its address codeword at
// start, its last codeword at end (indexes from the first batch).
type placement struct {
	it         *item
	start, end int
}

// txSource plans one transmission batch by batch: each time the driver
// asks for a batch it lays out queued pages until a batch is full, the
// highest priority first, so a page queued while the transmission is on
// air goes in it ahead of routine pages not yet laid out. Pages already
// laid out (a long one may run on over several batches) are never cut.
type txSource struct {
	s      *Scheduler
	rate   pocsag.Rate
	b      pocsag.Builder
	placed []placement
}

var _ transmitter.Source = (*txSource)(nil)

// Next implements transmitter.Source.
func (t *txSource) Next(_ time.Time, room transmitter.Room) (pocsag.Batch, bool) {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	for t.b.Ready() == 0 && t.place(room) {
	}
	if b, ok := t.b.Take(); ok {
		return b, true
	}
	if t.b.Batches() == 0 {
		return pocsag.Batch{}, false
	}
	// Nothing more fits or is queued: pad the last batch with idle
	// codewords (the transmission may still go on if pages come before
	// the driver asks again).
	return t.b.Flush()[0], true
}

// place lays out the next page, if one is queued at this rate and fits
// the room left, and reports whether it did. The candidates are the
// oldest pages of the highest priority queued; when a page of higher
// priority waits at another rate, nothing more is laid out, so that this
// transmission ends and that page goes next. s.mu held.
func (t *txSource) place(room transmitter.Room) bool {
	s := t.s
	var prio paging.Priority
	found := false
	for _, it := range s.queue {
		if it.rate == t.rate && (!found || it.prio > prio) {
			prio, found = it.prio, true
		}
	}
	if !found {
		return false
	}
	for _, it := range s.queue {
		if it.prio > prio {
			return false
		}
	}
	// Among the first Window pages of that priority, the one whose frame
	// comes soonest; the oldest once it has been passed over Window times.
	var oldest, best *item
	bestIdx, n := -1, 0
	for i, it := range s.queue {
		if it.rate != t.rate || it.prio != prio {
			continue
		}
		if oldest == nil {
			oldest = it
		}
		if best == nil || t.b.Gap(it.page.Frame()) < t.b.Gap(best.page.Frame()) {
			best, bestIdx = it, i
		}
		if n++; n == s.opts.Window {
			break
		}
	}
	if oldest.passed >= s.opts.Window {
		best = oldest
		for i, it := range s.queue {
			if it == oldest {
				bestIdx = i
			}
		}
	}
	limit := room.Routine
	if prio == paging.PriorityCritical {
		limit = room.Critical
	}
	if t.b.BatchesWith(best.page.Frame(), len(best.words)) > limit {
		return false
	}
	if best != oldest {
		oldest.passed++
	}
	start := t.b.Add(best.page.Frame(), best.words)
	t.placed = append(t.placed, placement{it: best, start: start, end: start + len(best.words) - 1})
	s.queue = append(s.queue[:bestIdx], s.queue[bestIdx+1:]...)
	for _, id := range best.ids {
		s.onAir[id] = true
	}
	return true
}
