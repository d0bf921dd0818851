package jobqueue

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"pagebridge/gateway/paging"
)

// A critical job queued behind 200 normal ones is the next one out.
func TestCriticalJumpsTheQueue(t *testing.T) {
	q := New[int]()
	for i := range 200 {
		q.Push(paging.PriorityNormal, i)
	}
	q.Push(paging.PriorityHigh, 1000)
	q.Push(paging.PriorityCritical, 9999)
	q.Push(paging.PriorityCritical, 9998)
	ctx := context.Background()
	want := []int{9999, 9998, 1000}
	for i := range 200 {
		want = append(want, i)
	}
	if q.Len() != 203 {
		t.Fatalf("len %d", q.Len())
	}
	for i, w := range want {
		got, err := q.Pop(ctx)
		if err != nil || got != w {
			t.Fatalf("pop %d: %d %v, want %d", i, got, err, w)
		}
	}
}

func TestPopWaitsAndCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := New[string]()
		got := make(chan string)
		go func() {
			j, err := q.Pop(context.Background())
			if err != nil {
				t.Error(err)
			}
			got <- j
		}()
		synctest.Wait() // Pop is blocked on an empty queue
		q.Push(paging.PriorityNormal, "page")
		if j := <-got; j != "page" {
			t.Fatalf("got %q", j)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := q.Pop(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("pop on empty queue with deadline: %v", err)
		}
		q.Push(paging.PriorityNormal, "last")
		q.Close()
		if err := q.Push(paging.PriorityCritical, "late"); !errors.Is(err, ErrClosed) {
			t.Fatalf("push after close: %v", err)
		}
		if j, err := q.Pop(context.Background()); err != nil || j != "last" {
			t.Fatalf("drain after close: %q %v", j, err)
		}
		if _, err := q.Pop(context.Background()); !errors.Is(err, ErrClosed) {
			t.Fatalf("pop on closed empty queue: %v", err)
		}
	})
}

func TestConcurrent(t *testing.T) {
	q := New[int]()
	const n = 2000
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Go(func() {
			for i := range n / 4 {
				q.Push(paging.Priority(i%3), p*n+i)
			}
		})
	}
	seen := map[int]bool{}
	var mu sync.Mutex
	var cw sync.WaitGroup
	for range 2 {
		cw.Go(func() {
			for {
				j, err := q.Pop(context.Background())
				if err != nil {
					return
				}
				mu.Lock()
				seen[j] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	q.Close()
	cw.Wait()
	if len(seen) != n {
		t.Fatalf("%d of %d jobs popped", len(seen), n)
	}
}

func TestPushFrontTryPopHead(t *testing.T) {
	q := New[string]()
	if _, ok := q.TryPop(); ok {
		t.Fatal("TryPop on an empty queue returned a job")
	}
	if _, ok := q.Head(); ok {
		t.Fatal("Head on an empty queue reported a job")
	}
	for _, j := range []string{"n1", "n2"} {
		q.Push(paging.PriorityNormal, j)
	}
	q.PushFront(paging.PriorityNormal, "n0")
	q.PushFront(paging.PriorityNormal, "n-1")
	q.Push(paging.PriorityCritical, "c1")
	if p, ok := q.Head(); !ok || p != paging.PriorityCritical {
		t.Fatalf("Head = %v, %v; want critical", p, ok)
	}
	var got []string
	for {
		j, ok := q.TryPop()
		if !ok {
			break
		}
		got = append(got, j)
	}
	want := []string{"c1", "n-1", "n0", "n1", "n2"}
	if !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}
