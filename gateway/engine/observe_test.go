package engine_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"pagebridge/gateway/engine"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/routing"
	"pagebridge/storage"
	"pagebridge/storage/storagetest"
)

// observed records what Options.Observe heard.
type observed struct {
	mu     sync.Mutex
	events []string
}

func (o *observed) hear(r engine.Route, ev engine.Event) {
	o.mu.Lock()
	o.events = append(o.events, string(ev)+" "+r.State)
	o.mu.Unlock()
}

func (o *observed) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.events
	o.events = nil
	return out
}

// A live session's receipt moves the app attempt to delivered and nothing
// else: the escalation goes on; every committed change is observed, once,
// with what it was.
func TestAppDeliveredAndObserve(t *testing.T) {
	start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	env := &observed{}
	h := &hospital{t: t, env: storagetest.New(t), clock: &clock{t: start}, observe: env.hear}
	h.jobs = &jobs{clock: h.clock}
	h.open()
	h.person("lee", paging.StageApp)
	h.person("kim", paging.StageApp)
	h.put(storage.KindPolicy, "two", routing.Policy{ID: "two", Steps: []routing.Step{{},
		{Delay: 5 * time.Minute, Targets: []paging.Target{{Kind: paging.TargetPerson, ID: "kim"}}}}, FallbackAfter: time.Hour})
	if err := h.st.PutPagerID(context.Background(), paging.PagerID{ID: "1002", Target: paging.Target{Kind: paging.TargetPerson, ID: "lee"},
		Policy: "two"}, admin); err != nil {
		t.Fatal(err)
	}
	id := h.page("1002", paging.PriorityHigh, "Bed 12")
	want(t, "events after routing", env.take(), []string{"step active"})

	ctx := context.Background()
	moved, err := h.eng.AppDelivered(ctx, id, "lee")
	if err != nil || !moved {
		t.Fatalf("delivered: %v %v", moved, err)
	}
	r := h.route(id)
	want(t, "attempts", attempts(r), []string{"lee app delivered"})
	if r.Deliveries[0].State != paging.StateDelivered || r.State != engine.StateActive || r.Next.IsZero() {
		t.Fatalf("route after delivered: %+v", r)
	}
	want(t, "events after delivered", env.take(), []string{"delivered active"})
	// Again, and for someone not paged: nothing changes, nothing heard.
	for _, p := range []string{"lee", "kim"} {
		if moved, err := h.eng.AppDelivered(ctx, id, p); err != nil || moved {
			t.Errorf("delivered to %s again: %v %v", p, moved, err)
		}
	}
	want(t, "events after repeats", env.take(), nil)
	// The escalation goes on: kim is paged at the next step.
	h.clock.add(5 * time.Minute)
	h.tick()
	want(t, "attempts after the step", attempts(h.route(id)), []string{"lee app delivered", "kim app sent"})
	want(t, "events after the step", env.take(), []string{"step active"})
	if _, err := h.eng.Acknowledge(ctx, id, "kim", paging.ChannelApp); err != nil {
		t.Fatal(err)
	}
	if got := env.take(); !slices.Equal(got, []string{"acknowledged acknowledged"}) {
		t.Errorf("events after the ack: %q", got)
	}
	// Past delivered (cancelled by kim's ack): nothing.
	if moved, err := h.eng.AppDelivered(ctx, id, "lee"); err != nil || moved {
		t.Errorf("delivered after the ack: %v %v", moved, err)
	}
	if _, err := h.eng.AppDelivered(ctx, paging.NewID(start), "lee"); err == nil {
		t.Error("delivered for an unknown page: no error")
	}
}
