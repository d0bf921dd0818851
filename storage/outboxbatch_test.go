package storage_test

import (
	"context"
	"testing"
	"time"

	"pagebridge/gateway/paging"
	"pagebridge/storage/storagetest"
)

func TestOutboxRetryAndSentBatch(t *testing.T) {
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
	// Deferring two (and one that is not there) leaves one due now.
	if err := s.RetryBatch(ctx, []paging.ID{ids[0], ids[1], gone}, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	due, err := s.DueOutbox(ctx, now, 10)
	if err != nil || len(due) != 1 || due[0].ID != ids[2] {
		t.Fatalf("due now: %+v, %v; want only the third", due, err)
	}
	later, _ := s.DueOutbox(ctx, now.Add(2*time.Minute), 10)
	if len(later) != 3 {
		t.Fatalf("due later: %d items, want 3", len(later))
	}
	for _, it := range later {
		want := 1
		if it.ID == ids[2] {
			want = 0
		}
		if it.Tries != want {
			t.Errorf("item %s: %d tries, want %d", it.ID, it.Tries, want)
		}
		if it.Payload.Len() == 0 {
			t.Errorf("item %s lost its payload", it.ID)
		}
	}
	n, err := s.SentBatch(ctx, []paging.ID{ids[0], ids[2], gone})
	if err != nil || n != 2 {
		t.Fatalf("SentBatch = %d, %v; want 2 removed", n, err)
	}
	left, _ := s.DueOutbox(ctx, now.Add(2*time.Minute), 10)
	if len(left) != 1 || left[0].ID != ids[1] {
		t.Fatalf("left: %+v, want only the second", left)
	}
	if err := s.RetryBatch(ctx, ids, time.Time{}); err == nil {
		t.Fatal("RetryBatch with no due time succeeded")
	}
}
