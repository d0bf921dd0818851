package threads_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"pagebridge/gateway/engine"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/routing"
	"pagebridge/gateway/threads"
	"pagebridge/storage"
)

// The members of a page's thread are the people the engine put it in
// front of on the app, each credited to the step that did.
func TestPageThreadOf(t *testing.T) {
	pol := routing.Policy{ID: "esc", Steps: []routing.Step{{}, {Delay: 5 * time.Minute}, {Delay: 5 * time.Minute}}}
	app := func(at time.Time, s paging.State) paging.Attempt {
		return paging.Attempt{ID: paging.NewID(at), Channel: paging.ChannelApp, State: s}
	}
	pager := paging.Attempt{ID: paging.NewID(t0), Channel: paging.ChannelPager, State: paging.StateSent}
	deliveries := []paging.Delivery{
		{PersonID: "dr-kim", Reason: "person dr-kim", Attempts: []paging.Attempt{pager, app(t0, paging.StateRead)}},
		{PersonID: "dr-ng", Reason: "step 2", Attempts: []paging.Attempt{app(t0.Add(5*time.Minute), paging.StateCancelled)}},
		{PersonID: "dr-lee", Reason: "pager only", Attempts: []paging.Attempt{pager}},
		{PersonID: "nurse-ana", Reason: "no app", Attempts: []paging.Attempt{app(t0, paging.StateFailedPerm)}},
		{PersonID: "op-1", Reason: "fallback role", Attempts: []paging.Attempt{app(t0.Add(15*time.Minute), paging.StateSent)}},
		{PersonID: "dr-x", Reason: "acknowledged without being paged", State: paging.StateAcknowledged},
	}
	cases := []struct {
		name  string
		route engine.Route
		want  []string
	}{
		{"nobody on the app yet", engine.Route{Policy: pol, Done: 0, State: engine.StateActive, Deliveries: deliveries[2:4]}, nil},
		{"first step", engine.Route{Policy: pol, Done: 0, State: engine.StateActive, Deliveries: deliveries[:1]},
			[]string{"dr-kim escalation step 1 person dr-kim"}},
		{"late steps and the fallback", engine.Route{Policy: pol, Done: 2, State: engine.StateAcknowledged, Deliveries: deliveries},
			[]string{"dr-kim escalation step 1 person dr-kim", "dr-ng escalation step 2 step 2", "op-1 fallback fallback role"}},
		{"a pager ID gone: straight to the fallback", engine.Route{Done: -1, State: engine.StateFallback, Deliveries: deliveries[4:5]},
			[]string{"op-1 fallback fallback role"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.route.Message, c.route.Start, c.route.PagerID, c.route.Source = paging.NewID(t0), t0, "1002", "4W nurse call"
			c.route.Priority = paging.PriorityCritical
			nt, ok := threads.PageThreadOf(c.route)
			if ok != (c.want != nil) {
				t.Fatalf("ok %v", ok)
			}
			var got []string
			for _, m := range nt.Members {
				got = append(got, fmt.Sprintf("%s %s %s", m.Person, m.AddedBy, m.Note))
			}
			wantList(t, "members", got, c.want)
			if ok && (nt.Kind != storage.ThreadPage || nt.Page != c.route.Message || nt.Label != "4W nurse call · pager 1002" ||
				nt.Priority != paging.PriorityCritical || nt.CreatedBy != "system:engine") {
				t.Errorf("thread %+v", nt)
			}
		})
	}
}

// A page routed by the real engine opens its thread, which grows as the
// escalation reaches more people, and which the sweep leaves alone until
// someone acknowledges the page.
func TestOpenForPageWithTheEngine(t *testing.T) {
	const day = 24 * time.Hour
	r := newRig(t, func(o *threads.Options) { o.Retention = storage.RetentionPolicy{Page: day, Direct: day} })
	ctx := context.Background()
	pol := routing.Policy{ID: "esc", Steps: []routing.Step{{}, {Delay: 5 * time.Minute, Targets: []paging.Target{person("dr-ng")}}}}
	if err := r.st.PutRecord(ctx, storage.KindPolicy, pol.ID, pol, admin); err != nil {
		t.Fatal(err)
	}
	if err := r.st.PutPagerID(ctx, paging.PagerID{ID: "1002", Target: person("dr-kim"), Priority: paging.PriorityHigh,
		Policy: "esc", Label: "4W charge nurse"}, admin); err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Store: r.st, Jobs: engine.OutboxJobs{Clock: r.clk}, Clock: r.clk})
	if err != nil {
		t.Fatal(err)
	}
	page := &paging.Message{ID: paging.NewID(t0), Source: paging.Source{Protocol: paging.ProtocolWCTP, Line: "4W nurse call"},
		PagerID: "1002", Priority: paging.PriorityHigh, Text: paging.NewPHI("bed 12 chest pain"), Received: t0}
	if err := r.st.Accept(ctx, page, paging.AuditEvent{Actor: "wctp:nurse-call"}); err != nil {
		t.Fatal(err)
	}
	route := func() engine.Route {
		t.Helper()
		rt, err := eng.Route(ctx, page.ID)
		if err != nil {
			t.Fatal(err)
		}
		return rt
	}
	tick := func() engine.Route {
		t.Helper()
		if err := eng.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		return route()
	}

	th, ok, err := r.svc.OpenForPage(ctx, tick())
	if err != nil || !ok {
		t.Fatalf("open: %v %v", ok, err)
	}
	if th.ID != page.ID || th.Kind != storage.ThreadPage || th.Label != "4W nurse call · pager 1002 (4W charge nurse)" ||
		th.Priority != paging.PriorityHigh || th.Target != person("dr-kim") || len(th.Members) != 1 {
		t.Fatalf("thread %+v", th)
	}
	entries := len(r.auditAll())
	if _, _, err := r.svc.OpenForPage(ctx, route()); err != nil || len(r.auditAll()) != entries {
		t.Errorf("opening again with nobody new wrote something: %v", err)
	}

	r.clk.add(5 * time.Minute)
	th, _, err = r.svc.OpenForPage(ctx, tick())
	if err != nil {
		t.Fatal(err)
	}
	var members []string
	for _, m := range th.Members {
		members = append(members, m.Person+" "+m.AddedBy)
	}
	wantList(t, "members after step 2", members, []string{"dr-kim escalation step 1", "dr-ng escalation step 2"})
	wantList(t, "adds", r.audit("thread.add"), []string{"system:engine thread/" + page.ID.String()})

	v, err := r.svc.Read(ctx, as("dr-ng"), page.ID, paging.ChannelApp)
	if err != nil || v.Messages[0].Text.Reveal() != "bed 12 chest pain" || v.Messages[0].Kind != storage.PostPage {
		t.Fatalf("read: %v", err)
	}
	if _, err := r.svc.Reply(ctx, as("dr-ng"), page.ID, text("on my way")); err != nil {
		t.Fatal(err)
	}
	wantList(t, "inbox of dr-kim", r.inbox("dr-kim"), []string{th.Label + " 2"})
	wantList(t, "page reads", r.audit("message.read"), []string{"person:dr-ng message/" + page.ID.String()})

	// Days later, not acknowledged: kept whole.
	r.clk.add(2 * day)
	rep, err := r.svc.Sweep(ctx)
	if err != nil || rep != (storage.SweepReport{Kept: 1}) {
		t.Fatalf("sweep before the acknowledgement: %+v, %v", rep, err)
	}
	if _, err := eng.Acknowledge(ctx, page.ID, "dr-ng", paging.ChannelApp); err != nil {
		t.Fatal(err)
	}
	rep, err = r.svc.Sweep(ctx)
	if err != nil || rep != (storage.SweepReport{Messages: 2, Threads: 1}) {
		t.Fatalf("sweep after the acknowledgement: %+v, %v", rep, err)
	}
	if _, err := r.st.Thread(ctx, page.ID); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("thread after the sweep: %v", err)
	}
	wantList(t, "sweeps", r.audit("thread.sweep"), []string{"system:retention thread/" + page.ID.String()})
	wantList(t, "inbox of dr-kim after the sweep", r.inbox("dr-kim"), nil)
	if _, err := r.st.VerifyAudit(ctx); err != nil {
		t.Fatal(err)
	}
}
