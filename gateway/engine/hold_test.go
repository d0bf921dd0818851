package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"pagebridge/gateway/engine"
	"pagebridge/gateway/paging"
)

// accept stores m as a way in does and lets the engine route it.
func (h *hospital) accept(m *paging.Message) {
	h.t.Helper()
	if err := h.st.Accept(context.Background(), m, paging.AuditEvent{Actor: "test"}); err != nil {
		h.t.Fatal(err)
	}
	h.tick()
}

// A held page (SNPP HOLD) goes out when the sender asked, not before, and
// survives a restart in between.
func TestHeldPage(t *testing.T) {
	start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	h := newHospital(t, start, engine.Config{})
	h.person("lee", paging.StagePager, pager("1002"))
	h.pagerID("1002", paging.Target{Kind: paging.TargetPerson, ID: "lee"})
	m := &paging.Message{ID: paging.NewID(start), Source: paging.Source{Protocol: paging.ProtocolSNPP, Line: "switchboard"},
		PagerID: "1002", Text: paging.NewPHI("Ward round at 11"), Received: start, DeliverAt: start.Add(time.Hour)}
	h.accept(m)
	r := h.route(m.ID)
	if len(r.Deliveries) != 0 || !r.Next.Equal(start.Add(time.Hour)) || len(r.Notes) == 0 || !strings.Contains(r.Notes[0].Text, "held for delivery") {
		t.Fatalf("held page routed at once: %+v", r)
	}
	h.clock.add(59 * time.Minute)
	h.restart()
	h.tick()
	if jobs, _ := h.jobs.sent(t); len(jobs) != 0 {
		t.Fatalf("sent before its time: %q", jobs)
	}
	h.clock.add(time.Minute)
	h.tick()
	want(t, "attempts", attempts(h.route(m.ID)), []string{"lee pager queued"})
	jobs, _ := h.jobs.sent(t)
	want(t, "jobs", jobs, []string{"agent-1/terminal-1 tap.page 1002"})
}

// A page an agent already passed to a pager in bypass is not sent there
// again; the person's other channels still are.
func TestBypassedPagerNotSentAgain(t *testing.T) {
	start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	h := newHospital(t, start, engine.Config{})
	h.person("lee", paging.StageBoth, paging.Endpoint{Channel: paging.ChannelApp, Address: "lee"}, pager("1002"))
	h.pagerID("1002", paging.Target{Kind: paging.TargetPerson, ID: "lee"})
	m := &paging.Message{ID: paging.NewID(start), Source: paging.Source{Protocol: paging.ProtocolTAP, Line: "nurse-call"},
		PagerID: "1002", Text: paging.NewPHI("Bed 4"), Received: start, Bypassed: []paging.Endpoint{pager("1002")}}
	h.accept(m)
	r := h.route(m.ID)
	want(t, "attempts", attempts(r), []string{"lee app sent", "lee pager sent"})
	if jobs, _ := h.jobs.sent(t); len(jobs) != 0 {
		t.Fatalf("the bypassed pager got a job: %q", jobs)
	}
}
