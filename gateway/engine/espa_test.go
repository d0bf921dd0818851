package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/gateway/engine"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/routing"
	"pagebridge/storage"
)

// espaStatuses lists "agent/line to status" of every espa.status job
// committed so far.
func (j *jobs) espaStatuses(t *testing.T) []string {
	t.Helper()
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []string
	for _, it := range j.committed {
		var job agentapi.Job
		if _, err := agentapi.Open([]byte(it.Payload.Reveal()), &job); err != nil {
			t.Fatal(err)
		}
		if job.Action != engine.ActionESPAStatus {
			continue
		}
		agent := strings.Split(strings.TrimPrefix(it.Topic, agentapi.TopicRoot+"/agent/"), "/")[0]
		out = append(out, fmt.Sprintf("%s/%s %s %d", agent, job.Device, job.To, job.ESPAStatus))
	}
	return out
}

// espaCall accepts a page as the bus sink does for a call on an agent's
// ESPA line, and routes it.
func (h *hospital) espaCall(address string, prio paging.Priority) paging.ID {
	h.t.Helper()
	m := &paging.Message{ID: paging.NewID(h.clock.Now()),
		Source:  paging.Source{Protocol: paging.ProtocolESPA, Line: "espa-1", Sender: "agent nc-agent", Agent: "nc-agent"},
		PagerID: address, Priority: prio, Text: paging.NewPHI("Room 12 bed 2"), Received: h.clock.Now()}
	h.accept(m)
	return m.ID
}

// A page from an ESPA line reports back to its line: paged (3) when the
// app took it, acknowledged (6) on the acknowledgement; each once, also
// across a second acknowledgement and a restart. Pages from elsewhere
// report nothing.
func TestESPAStatusPagedAndAcknowledged(t *testing.T) {
	start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	h := newHospital(t, start, engine.Config{})
	h.person("lee", paging.StageApp)
	h.pagerID("1001", paging.Target{Kind: paging.TargetPerson, ID: "lee"})
	ctx := context.Background()

	id := h.espaCall("1001", paging.PriorityHigh)
	want(t, "after routing", h.jobs.espaStatuses(t), []string{"nc-agent/espa-1 1001 3"})
	h.page("1001", paging.PriorityHigh, "not from ESPA")
	h.clock.add(time.Minute)
	h.tick()
	want(t, "after a tick", h.jobs.espaStatuses(t), []string{"nc-agent/espa-1 1001 3"})
	for range 2 {
		if _, err := h.eng.Acknowledge(ctx, id, "lee", paging.ChannelApp); err != nil {
			t.Fatal(err)
		}
	}
	want(t, "after acknowledging twice", h.jobs.espaStatuses(t), []string{"nc-agent/espa-1 1001 3", "nc-agent/espa-1 1001 6"})
	h.restart()
	h.clock.add(time.Hour)
	h.tick()
	want(t, "after a restart", h.jobs.espaStatuses(t), []string{"nc-agent/espa-1 1001 3", "nc-agent/espa-1 1001 6"})
	if r := h.route(id); r.ESPA == nil || fmt.Sprint(r.ESPA.Sent) != "[3 6]" {
		t.Fatalf("route's ESPA return: %+v", r.ESPA)
	}
}

// A pager attempt reports paged (3) when the terminal took the job, not
// before, and only once for a repeated result; a page nobody
// acknowledges reports fault (8) when it expires.
func TestESPAStatusPagerAndExpiry(t *testing.T) {
	start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	h := newHospital(t, start, engine.Config{})
	h.person("kim", paging.StagePager, pager("2002"))
	h.put(storage.KindPolicy, "short", routing.Policy{ID: "short", Steps: []routing.Step{{}}, FallbackAfter: 5 * time.Minute, Expire: 30 * time.Minute})
	if err := h.st.PutPagerID(context.Background(), paging.PagerID{ID: "2002", Target: paging.Target{Kind: paging.TargetPerson, ID: "kim"}, Policy: "short"}, admin); err != nil {
		t.Fatal(err)
	}
	id := h.espaCall("2002", paging.PriorityNormal)
	want(t, "with the pager job queued", h.jobs.espaStatuses(t), nil)
	a := h.route(id).Deliveries[0].Attempts[0]
	for range 2 {
		if err := h.eng.JobResult(context.Background(), a.ID, &agentapi.Result{Job: a.ID.String(), Device: "terminal-1",
			Outcome: agentapi.OutcomeSent, Code: "211", At: h.clock.Now(), Attempt: 1}); err != nil {
			t.Fatal(err)
		}
	}
	want(t, "after the terminal took it", h.jobs.espaStatuses(t), []string{"nc-agent/espa-1 2002 3"})
	for range 8 {
		h.clock.add(5 * time.Minute)
		h.tick()
	}
	if r := h.route(id); r.State != engine.StateExpired {
		t.Fatalf("after 40 min: %s", r.State)
	}
	want(t, "after expiry", h.jobs.espaStatuses(t), []string{"nc-agent/espa-1 2002 3", "nc-agent/espa-1 2002 8"})
}

// A call whose address names nobody reachable goes to the fallback with
// nobody paged: fault (8) at once.
func TestESPAStatusFaultWhenNobodyPaged(t *testing.T) {
	start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	h := newHospital(t, start, engine.Config{})
	h.role("night-porter", "")
	h.pagerID("3003", paging.Target{Kind: paging.TargetRole, ID: "night-porter"})
	id := h.espaCall("3003", paging.PriorityHigh)
	for range 4 {
		h.clock.add(5 * time.Minute)
		h.tick()
	}
	if r := h.route(id); r.State != engine.StateFallback {
		t.Fatalf("state %s, want fallback", r.State)
	}
	want(t, "statuses", h.jobs.espaStatuses(t), []string{"nc-agent/espa-1 3003 8"})
}
