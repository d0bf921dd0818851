package storage_test

import (
	"context"
	"testing"
	"time"

	"pagebridge/gateway/paging"
	"pagebridge/storage/storagetest"
)

func TestOutboxExceptAndSentBatch(t *testing.T) {
	s := storagetest.MustOpen(t)
	ctx := context.Background()
	now := time.Now().UTC()
	var ids []paging.ID
	for i := range 3 {
		id := paging.NewID(now)
		ids = append(ids, id)
		if err := s.Enqueue(ctx, paging.OutboxItem{ID: id, Due: now, Topic: "t", Payload: paging.NewPHI("job " + string(rune('a'+i)))}); err != nil {
			t.Fatal(err)
		}
	}
	gone := paging.NewID(now)
	// Passing over the first two (as a sender does with what it
	// published) leaves the third.
	skip := map[paging.ID]bool{ids[0]: true, ids[1]: true, gone: true}
	due, err := s.DueOutboxExcept(ctx, now, 10, func(id paging.ID) bool { return skip[id] })
	if err != nil || len(due) != 1 || due[0].ID != ids[2] || due[0].Payload.Reveal() != "job c" {
		t.Fatalf("due except two: %+v, %v; want only the third", due, err)
	}
	if all, _ := s.DueOutbox(ctx, now, 10); len(all) != 3 {
		t.Fatalf("due: %d items, want 3", len(all))
	}
	n, err := s.SentBatch(ctx, []paging.ID{ids[0], ids[2], gone})
	if err != nil || n != 2 {
		t.Fatalf("SentBatch = %d, %v; want 2 removed", n, err)
	}
	left, _ := s.DueOutbox(ctx, now, 10)
	if len(left) != 1 || left[0].ID != ids[1] {
		t.Fatalf("left: %+v, want only the second", left)
	}
	// Retry still moves an item (and shares the move with the batch code).
	if err := s.Retry(ctx, ids[1], now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if left, _ := s.DueOutbox(ctx, now, 10); len(left) != 0 {
		t.Fatalf("after Retry: %d due now, want 0", len(left))
	}
}
