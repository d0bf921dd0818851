package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/gateway/engine"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/routing"
	"pagebridge/storage"
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

// SMS delivery reports: "delivered" moves the attempt (and the delivery)
// on from sent, also when it overtakes the send's own result;
// "undelivered" fails it. The SMS says how to acknowledge by reply.
func TestSMSDeliveryReports(t *testing.T) {
	start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	h := newHospital(t, start, engine.Config{SMSDevice: "agent-1/modem-1", DefaultPolicy: "sms"})
	h.person("lee", paging.StageApp, sms("+4915112345678"))
	h.person("kim", paging.StageApp, sms("+4915187654321"))
	h.put(storage.KindPolicy, "sms", routing.Policy{ID: "sms", Steps: []routing.Step{{Channels: []paging.Channel{paging.ChannelSMS}}}})
	h.pagerID("1002", paging.Target{Kind: paging.TargetPerson, ID: "lee"})
	h.pagerID("1003", paging.Target{Kind: paging.TargetPerson, ID: "kim"})
	ctx := context.Background()
	report := func(r engine.Route, o agentapi.Outcome) {
		t.Helper()
		a := r.Deliveries[0].Attempts[0]
		if err := h.eng.JobResult(ctx, a.ID, &agentapi.Result{Job: a.ID.String(), Device: "modem-1", Outcome: o, Code: "00", At: h.clock.Now(), Attempt: 1}); err != nil {
			t.Fatal(err)
		}
	}
	lee := h.route(h.page("1002", paging.PriorityHigh, "Bed 4"))
	_, texts := h.jobs.sent(t)
	if len(texts) != 1 || !strings.Contains(texts[0], "Reply 1 or A "+engine.SMSAckCode(lee.Deliveries[0].ID)+" to acknowledge.") || strings.Contains(texts[0], "Bed 4") {
		t.Fatalf("SMS text %q", texts)
	}
	report(lee, agentapi.OutcomeSent)
	report(lee, agentapi.OutcomeDelivered)
	got := h.route(lee.Message)
	if a, d := got.Deliveries[0].Attempts[0], got.Deliveries[0]; a.State != paging.StateDelivered || d.State != paging.StateDelivered {
		t.Fatalf("after the report: attempt %s, delivery %s", a.State, d.State)
	}
	kim := h.route(h.page("1003", paging.PriorityHigh, "Bed 5"))
	report(kim, agentapi.OutcomeDelivered) // before its "sent"
	report(kim, agentapi.OutcomeSent)      // late: changes nothing
	if a := h.route(kim.Message).Deliveries[0].Attempts[0]; a.State != paging.StateDelivered {
		t.Fatalf("report before the result: %s", a.State)
	}
	h.clock.add(time.Second)
	other := h.route(h.page("1003", paging.PriorityNormal, "Bed 6"))
	report(other, agentapi.OutcomeSent)
	report(other, agentapi.OutcomeUndelivered)
	if a := h.route(other.Message).Deliveries[0].Attempts[0]; a.State != paging.StateFailedPerm || !strings.Contains(a.Note, "not delivered") {
		t.Fatalf("undelivered: %s %q", a.State, a.Note)
	}
}
