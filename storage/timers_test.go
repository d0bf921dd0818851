package storage_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"pagebridge/gateway/paging"
	"pagebridge/storage/storagetest"
)

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

func TestTimersDueOrderAndRestart(t *testing.T) {
	e := storagetest.New(t)
	s := e.Open(t)
	ctx := context.Background()
	// Scheduled out of order; IDs unrelated to due order.
	offsets := []time.Duration{5 * time.Minute, -time.Hour, 30 * time.Second, 0, 2 * time.Hour, -time.Second}
	byOffset := map[time.Duration]paging.ID{}
	for i, off := range offsets {
		id := paging.NewID(t0.Add(time.Duration(i) * time.Millisecond))
		byOffset[off] = id
		if err := s.Schedule(ctx, paging.Timer{ID: id, Due: t0.Add(off), Kind: "escalate", Ref: "delivery/" + id.String()}); err != nil {
			t.Fatal(err)
		}
	}
	want := []time.Duration{-time.Hour, -time.Second, 0}
	check := func(s interface {
		Due(context.Context, time.Time, int) ([]paging.Timer, error)
	}, now time.Time, limit int, want []time.Duration) {
		t.Helper()
		got, err := s.Due(ctx, now, limit)
		if err != nil {
			t.Fatal(err)
		}
		var gotIDs, wantIDs []paging.ID
		for _, tm := range got {
			gotIDs = append(gotIDs, tm.ID)
			if tm.Kind != "escalate" || tm.Ref != "delivery/"+tm.ID.String() {
				t.Errorf("timer fields lost: %+v", tm)
			}
		}
		for _, off := range want {
			wantIDs = append(wantIDs, byOffset[off])
		}
		if !slices.Equal(gotIDs, wantIDs) {
			t.Errorf("Due(%v, %d) = %v, want %v", now.Sub(t0), limit, gotIDs, wantIDs)
		}
	}
	check(s, t0, 10, want)
	check(s, t0, 2, want[:2])
	check(s, t0.Add(10*time.Minute), 10, []time.Duration{-time.Hour, -time.Second, 0, 30 * time.Second, 5 * time.Minute})

	// Restart: the same timers are due.
	s = reopen(t, e, s)
	check(s, t0, 10, want)

	// Re-scheduling moves a timer; Done removes it; Done twice is fine.
	moved := byOffset[-time.Hour]
	if err := s.Schedule(ctx, paging.Timer{ID: moved, Due: t0.Add(3 * time.Hour), Kind: "escalate", Ref: "delivery/" + moved.String()}); err != nil {
		t.Fatal(err)
	}
	if err := s.Done(ctx, byOffset[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.Done(ctx, byOffset[0]); err != nil {
		t.Errorf("second Done: %v", err)
	}
	check(s, t0, 10, []time.Duration{-time.Second})
	got, _ := s.Due(ctx, t0.Add(4*time.Hour), 10)
	if len(got) != 5 || got[4].ID != moved {
		t.Errorf("after moving: %d due, last %v", len(got), got)
	}
}

func TestTimerInvalid(t *testing.T) {
	s := storagetest.MustOpen(t)
	id := paging.NewID(t0)
	for _, tm := range []paging.Timer{
		{Due: t0, Kind: "x"},
		{ID: id, Kind: "x"},
		{ID: id, Due: t0},
	} {
		if err := s.Schedule(context.Background(), tm); !errors.Is(err, paging.ErrInvalid) {
			t.Errorf("Schedule(%+v) = %v, want ErrInvalid", tm, err)
		}
	}
}

func TestOutboxPriorityOrderAndRestart(t *testing.T) {
	e := storagetest.New(t)
	s := e.Open(t)
	ctx := context.Background()
	type item struct {
		name string
		p    paging.Priority
		off  time.Duration
	}
	items := []item{
		{"normal-early", paging.PriorityNormal, -time.Hour},
		{"critical-late", paging.PriorityCritical, 0},
		{"high", paging.PriorityHigh, -time.Minute},
		{"critical-future", paging.PriorityCritical, time.Minute},
		{"critical-early", paging.PriorityCritical, -time.Second},
		{"normal-late", paging.PriorityNormal, -time.Millisecond},
		{"high-future", paging.PriorityHigh, time.Hour},
	}
	ids := map[string]paging.ID{}
	names := map[paging.ID]string{}
	for i, it := range items {
		id := paging.NewID(t0.Add(time.Duration(i) * time.Millisecond))
		ids[it.name], names[id] = id, it.name
		err := s.Enqueue(ctx, paging.OutboxItem{ID: id, Due: t0.Add(it.off), Priority: it.p,
			Topic: "agent/modem-1/sms", Payload: paging.NewPHI("payload of " + it.name)})
		if err != nil {
			t.Fatal(err)
		}
	}
	order := func(now time.Time, limit int) []string {
		t.Helper()
		got, err := s.DueOutbox(ctx, now, limit)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, it := range got {
			out = append(out, names[it.ID])
			if it.Payload.Reveal() != "payload of "+names[it.ID] || it.Topic != "agent/modem-1/sms" {
				t.Errorf("item %s: payload %q topic %q", names[it.ID], it.Payload.Reveal(), it.Topic)
			}
		}
		return out
	}
	want := []string{"critical-early", "critical-late", "high", "normal-early", "normal-late"}
	if got := order(t0, 10); !slices.Equal(got, want) {
		t.Errorf("due order %v, want %v", got, want)
	}
	if got := order(t0, 3); !slices.Equal(got, want[:3]) {
		t.Errorf("limited %v, want %v", got, want[:3])
	}
	s = reopen(t, e, s)
	if got := order(t0, 10); !slices.Equal(got, want) {
		t.Errorf("after restart %v, want %v", got, want)
	}

	// A retry moves an item later and counts the try.
	if err := s.Retry(ctx, ids["critical-early"], t0.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := order(t0, 10); !slices.Equal(got, want[1:]) {
		t.Errorf("after retry %v, want %v", got, want[1:])
	}
	later, _ := s.DueOutbox(ctx, t0.Add(45*time.Second), 2)
	if len(later) != 2 || later[1].ID != ids["critical-early"] || later[1].Tries != 1 {
		t.Errorf("retried item: %+v", later)
	}
	if err := s.Retry(ctx, paging.NewID(t0), t0); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("retry unknown: %v, want ErrNotFound", err)
	}
	// Sent removes; twice is fine.
	for range 2 {
		if err := s.Sent(ctx, ids["critical-late"]); err != nil {
			t.Fatal(err)
		}
	}
	// A repeated enqueue changes nothing.
	if err := s.Enqueue(ctx, paging.OutboxItem{ID: ids["high"], Due: t0.Add(time.Hour), Priority: paging.PriorityNormal,
		Topic: "other", Payload: paging.NewPHI("other")}); err != nil {
		t.Fatal(err)
	}
	if got := order(t0, 10); !slices.Equal(got, []string{"high", "normal-early", "normal-late"}) {
		t.Errorf("after sent and re-enqueue %v", got)
	}
}

func TestOutboxInvalid(t *testing.T) {
	s := storagetest.MustOpen(t)
	id := paging.NewID(t0)
	for _, it := range []paging.OutboxItem{
		{Due: t0, Topic: "t"},
		{ID: id, Topic: "t"},
		{ID: id, Due: t0},
		{ID: id, Due: t0, Topic: "t", Priority: 7},
	} {
		if err := s.Enqueue(context.Background(), it); !errors.Is(err, paging.ErrInvalid) {
			t.Errorf("Enqueue(%+v) = %v, want ErrInvalid", it, err)
		}
	}
}
