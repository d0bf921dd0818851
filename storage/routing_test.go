package storage_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"pagebridge/gateway/paging"
	"pagebridge/storage"
	"pagebridge/storage/storagetest"
)

// An accepted page waits for the engine until a route change says it is
// routed, across a restart; the change's timers, jobs, attempt index and
// audit entries land together or not at all.
func TestRoutePendingAndApply(t *testing.T) {
	e := storagetest.New(t)
	s := e.Open(t)
	ctx := context.Background()
	m1, m2 := newMsg("first"), newMsg("second")
	accept(t, s, m1)
	accept(t, s, m2)
	accept(t, s, m1) // a sender's retry: queued once
	s = reopen(t, e, s)
	pending, err := s.PendingRoutes(ctx, 10)
	if err != nil || len(pending) != 2 || pending[0] != m1.ID || pending[1] != m2.ID {
		t.Fatalf("pending %v %v; want both, oldest first", pending, err)
	}
	if _, err := s.MessageToRoute(ctx, paging.NewID(time.Now())); !errors.Is(err, paging.ErrNotFound) {
		t.Fatalf("unknown message: %v", err)
	}
	got, err := s.MessageToRoute(ctx, m1.ID)
	if err != nil || got.Text.Reveal() != "first" {
		t.Fatalf("message to route: %v", err)
	}
	if head, err := s.MessageHead(ctx, m1.ID); err != nil || head.Text.Len() != 0 || head.PagerID != m1.PagerID {
		t.Fatalf("message head: %+v %v", head, err)
	}

	type route struct{ Step int }
	job, timer := paging.NewID(time.Now()), paging.NewID(time.Now())
	change := storage.RouteChange{
		Message:  m1.ID,
		Route:    route{Step: 1},
		Routed:   true,
		Attempts: []paging.ID{job},
		Outbox:   []paging.OutboxItem{{ID: job, Due: time.Now(), Topic: "pagebridge/v1/agent/a/device/t/job", Payload: paging.NewPHI("job")}},
		Timers:   []paging.Timer{{ID: timer, Due: time.Now().Add(time.Minute), Kind: "escalate", Ref: "message/" + m1.ID.String()}},
		Audit:    []paging.AuditEvent{{Actor: "system:engine", Action: "page.route", Object: "message/" + m1.ID.String()}},
	}
	// A failed commit leaves nothing of it.
	storage.SetCommitHook(s, func() error { return errors.New("disk on fire") })
	if err := s.ApplyRoute(ctx, change); err == nil {
		t.Fatal("apply with a failing disk: no error")
	}
	storage.SetCommitHook(s, nil)
	var r route
	if err := s.Route(ctx, m1.ID, &r); !errors.Is(err, paging.ErrNotFound) {
		t.Fatalf("route after a failed apply: %v", err)
	}
	if due, _ := s.DueOutbox(ctx, time.Now().Add(time.Hour), 10); len(due) != 0 {
		t.Fatalf("outbox after a failed apply: %d", len(due))
	}

	if err := s.ApplyRoute(ctx, change); err != nil {
		t.Fatal(err)
	}
	if err := s.Route(ctx, m1.ID, &r); err != nil || r.Step != 1 {
		t.Fatalf("route %+v %v", r, err)
	}
	if pending, _ := s.PendingRoutes(ctx, 10); len(pending) != 1 || pending[0] != m2.ID {
		t.Fatalf("pending after routing the first: %v", pending)
	}
	if id, err := s.RouteOfAttempt(ctx, job); err != nil || id != m1.ID {
		t.Fatalf("attempt's route: %v %v", id, err)
	}
	if due, _ := s.DueOutbox(ctx, time.Now().Add(time.Hour), 10); len(due) != 1 || due[0].Payload.Reveal() != "job" {
		t.Fatalf("outbox after apply: %+v", due)
	}
	if due, _ := s.Due(ctx, time.Now().Add(time.Hour), 10); len(due) != 1 || due[0].ID != timer {
		t.Fatalf("timers after apply: %+v", due)
	}
	// The next step moves nothing it does not name, and cancels the timer.
	if err := s.ApplyRoute(ctx, storage.RouteChange{Message: m1.ID, Route: route{Step: 2}, Cancel: []paging.ID{timer}}); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.Due(ctx, time.Now().Add(time.Hour), 10); len(due) != 0 {
		t.Fatalf("timer not cancelled: %+v", due)
	}
	// Three accepts (one a retry, not stored again) and the route step.
	if rep := verify(t, s); rep.Entries != 3 {
		t.Fatalf("audit chain: %+v, want 3 entries", rep)
	}
}

func TestRecordsAndDirectoryVersion(t *testing.T) {
	s := storagetest.MustOpen(t)
	ctx := context.Background()
	type sched struct {
		ID, Zone string
	}
	v0 := s.DirectoryVersion()
	if err := s.PutRecord(ctx, storage.KindSchedule, "cardio", sched{"cardio", "Europe/Berlin"}, by); err != nil {
		t.Fatal(err)
	}
	if s.DirectoryVersion() == v0 {
		t.Fatal("a schedule written did not change the directory version")
	}
	var got sched
	if err := s.GetRecord(ctx, storage.KindSchedule, "cardio", &got); err != nil || got.Zone != "Europe/Berlin" {
		t.Fatalf("%+v %v", got, err)
	}
	all, err := storage.Records[sched](ctx, s, storage.KindSchedule)
	if err != nil || len(all) != 1 {
		t.Fatalf("%v %v", all, err)
	}
	if err := s.PutRecord(ctx, "nonsense", "x", 1, by); !errors.Is(err, paging.ErrInvalid) {
		t.Fatalf("unknown kind: %v", err)
	}
	v1 := s.DirectoryVersion()
	if err := s.DeleteRecord(ctx, storage.KindSchedule, "cardio", by); err != nil || s.DirectoryVersion() == v1 {
		t.Fatalf("delete: %v", err)
	}
	if err := s.DeleteRecord(ctx, storage.KindSchedule, "cardio", by); !errors.Is(err, paging.ErrNotFound) {
		t.Fatalf("delete again: %v", err)
	}
}

// Old pages whose routing is settled are deleted with an audit entry;
// newer ones and those still escalating stay.
func TestSweepPages(t *testing.T) {
	s := storagetest.MustOpen(t)
	ctx := context.Background()
	old := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var ids []paging.ID
	for i, at := range []time.Time{old, old.Add(time.Hour), old.Add(2 * time.Hour), old.Add(40 * 24 * time.Hour)} {
		m := newMsg(fmt.Sprint("page ", i))
		m.ID, m.Received = paging.NewID(at), at
		accept(t, s, m)
		ids = append(ids, m.ID)
	}
	active := ids[1] // still escalating
	n, err := s.SweepPages(ctx, old.Add(30*24*time.Hour), func(_ context.Context, id paging.ID) (bool, error) { return id != active, nil }, by)
	if err != nil || n != 2 {
		t.Fatalf("swept %d, %v; want the two old settled pages", n, err)
	}
	got := texts(t, s)
	if len(got) != 2 || got[active] != "page 1" || got[ids[3]] != "page 3" {
		t.Fatalf("left: %v", got)
	}
	if rep := verify(t, s); rep.Entries < 5 {
		t.Fatalf("audit: %+v", rep)
	}
}
