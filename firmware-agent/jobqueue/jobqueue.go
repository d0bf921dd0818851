// Package jobqueue is the agent's per-device job queue: critical first,
// then high, then normal, first in first out within a tier. A device's
// owner goroutine takes the next job with Pop; whoever receives jobs from
// the bus Pushes them.
//
// # Caveats
//
//   - The queue is memory only. The agent's spool is the durable record of
//     jobs; the queue is rebuilt from it at start.
//   - A job already popped is the device's: a critical job arriving then
//     waits for it to finish. Pre-empting a transmission is the air-time
//     scheduler's business, not the queue's.
package jobqueue

import (
	"container/heap"
	"context"
	"errors"
	"sync"

	"pagebridge/gateway/paging"
)

// ErrClosed is returned by Pop on a closed, drained queue and by Push on a
// closed queue.
var ErrClosed = errors.New("job queue closed")

// Queue holds jobs of type T for one device. It is safe for concurrent
// use.
type Queue[T any] struct {
	mu     sync.Mutex
	items  items[T]
	seq    int64         // next arrival number, for FIFO within a tier
	front  int64         // next number for PushFront: below every arrival
	wake   chan struct{} // closed and replaced when an item arrives or the queue closes
	closed bool
}

// New returns an empty queue.
func New[T any]() *Queue[T] { return &Queue[T]{wake: make(chan struct{})} }

// Push adds a job with priority p.
func (q *Queue[T]) Push(p paging.Priority, job T) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	heap.Push(&q.items, item[T]{prio: p, seq: q.seq, job: job})
	q.seq++
	close(q.wake)
	q.wake = make(chan struct{})
	return nil
}

// PushFront adds a job ahead of every job of its priority: one taken by
// the device and handed back (the device failed, or a more urgent job
// pre-empted it) goes next within its tier, as it was before.
func (q *Queue[T]) PushFront(p paging.Priority, job T) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	q.front--
	heap.Push(&q.items, item[T]{prio: p, seq: q.front, job: job})
	close(q.wake)
	q.wake = make(chan struct{})
	return nil
}

// TryPop returns the most urgent job without waiting; ok is false when the
// queue is empty.
func (q *Queue[T]) TryPop() (job T, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return job, false
	}
	return heap.Pop(&q.items).(item[T]).job, true
}

// Head returns the priority of the most urgent job waiting; ok is false
// when the queue is empty.
func (q *Queue[T]) Head() (p paging.Priority, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return p, false
	}
	return q.items[0].prio, true
}

// Pop returns the most urgent job, waiting for one if the queue is empty.
// It returns ctx.Err() if ctx ends first, and ErrClosed once the queue is
// closed and empty.
func (q *Queue[T]) Pop(ctx context.Context) (T, error) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			it := heap.Pop(&q.items).(item[T])
			q.mu.Unlock()
			return it.job, nil
		}
		closed, wake := q.closed, q.wake
		q.mu.Unlock()
		var zero T
		if closed {
			return zero, ErrClosed
		}
		select {
		case <-ctx.Done():
			return zero, ctx.Err()
		case <-wake:
		}
	}
}

// Len is the number of jobs waiting: the device's queue depth.
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// Close refuses further pushes; Pop drains what is left, then returns
// ErrClosed.
func (q *Queue[T]) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.wake)
	}
}

type item[T any] struct {
	prio paging.Priority
	seq  int64
	job  T
}

// items is a heap: higher priority first, then earlier arrival.
type items[T any] []item[T]

func (h items[T]) Len() int { return len(h) }
func (h items[T]) Less(i, j int) bool {
	if h[i].prio != h[j].prio {
		return h[i].prio > h[j].prio
	}
	return h[i].seq < h[j].seq
}
func (h items[T]) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *items[T]) Push(x any)   { *h = append(*h, x.(item[T])) }
func (h *items[T]) Pop() any {
	old := *h
	it := old[len(old)-1]
	var zero item[T]
	old[len(old)-1] = zero // let the job be collected
	*h = old[:len(old)-1]
	return it
}
