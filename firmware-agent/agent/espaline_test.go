package agent

import (
	"context"
	"testing"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/firmware-agent/espa"
	"pagebridge/firmware-agent/sim"
	"pagebridge/gateway/paging"
)

// espaSpooled returns the inbound pages and the results in the spool.
func espaSpooled(t *testing.T, a *Agent) (pages []agentapi.Inbound, results []agentapi.Result) {
	t.Helper()
	items, err := a.spool.PendingItems(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		switch it.Kind {
		case agentapi.KindInbound:
			var in agentapi.Inbound
			if _, err := agentapi.Open([]byte(it.Payload.Reveal()), &in); err != nil {
				t.Fatal(err)
			}
			pages = append(pages, in)
		case agentapi.KindResult:
			var r agentapi.Result
			if _, err := agentapi.Open([]byte(it.Payload.Reveal()), &r); err != nil {
				t.Fatal(err)
			}
			results = append(results, r)
		}
	}
	return pages, results
}

// An espa-line on the simulated nurse call's pty: every call the nurse
// call saw ACKed is in the spool as a page when the ACK comes, once, with
// its tier from record 6 or the line's rules, through a corrupted BCC and
// a lost ACK; an espa.status job from the gateway reaches the nurse call
// as call status 6 on its poll, and the job's result is "sent".
func TestESPALine(t *testing.T) {
	cs, err := sim.NewESPAControlStation(t.TempDir(), sim.ESPAControlStationOptions{
		Control: espa.ControlConfig{ResponseTimeout: 300 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	a := testAgent(t, DeviceConfig{ID: "nurse-call", Kind: KindESPALine, Port: cs.Path(), MaxInFlight: 1,
		PriorityRules: []paging.PriorityRule{{StartsWith: "CODE BLUE", Priority: paging.PriorityCritical}}})
	d := a.devices["nurse-call"]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	done := make(chan struct{})
	go func() { defer close(done); d.run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	calls := []struct {
		call  espa.Call
		fault func()
		tier  paging.Priority
	}{
		{espa.Call{Address: "1001", Text: paging.NewPHI("Room 4 bed 2"), Priority: espa.PriorityAlarm}, nil, paging.PriorityCritical},
		{espa.Call{Address: "1002", Text: paging.NewPHI("Bed 7")}, cs.CorruptNextBCC, paging.PriorityNormal},
		{espa.Call{Address: "1003", Text: paging.NewPHI("CODE BLUE 4W"), Priority: espa.PriorityNormal}, cs.LoseNextACK, paging.PriorityCritical},
		{espa.Call{Address: "1004", Priority: espa.PriorityHigh}, nil, paging.PriorityHigh},
	}
	for i, c := range calls {
		if c.fault != nil {
			c.fault()
		}
		if err := cs.Call(ctx, c.call); err != nil {
			t.Fatalf("call %s: %v", c.call.Address, err)
		}
		// ACKed: so it is in the spool already.
		pages, _ := espaSpooled(t, a)
		if len(pages) != i+1 {
			t.Fatalf("after call %s the spool holds %d pages, want %d", c.call.Address, len(pages), i+1)
		}
		var p agentapi.Inbound
		for _, q := range pages {
			if q.PagerID == c.call.Address {
				p = q
			}
		}
		if p.PagerID != c.call.Address || p.Protocol != paging.ProtocolESPA || p.Line != "nurse-call" ||
			string(p.Text) != c.call.Text.Reveal() || p.Priority != c.tier {
			t.Errorf("page of call %s: %+v, want tier %v", c.call.Address, p, c.tier)
		}
	}

	// Status back: the gateway's job for the page of call 1001.
	key := queueJob(t, a, agentapi.Job{Device: "nurse-call", Priority: paging.PriorityNormal,
		Action: ActionESPAStatus, To: "1001", ESPAStatus: int(espa.StatusAcknowledged), Attempt: 1})
	if err := cs.PollUntil(ctx, 20*time.Millisecond, func(s []espa.Status) bool { return len(s) > 0 }); err != nil {
		t.Fatal(err)
	}
	if got := cs.Statuses(); len(got) != 1 || got[0].Address != "1001" || got[0].Call != espa.StatusAcknowledged {
		t.Fatalf("nurse call got %+v", got)
	}
	var results []agentapi.Result
	eventually(t, "a result for the status job", func() bool {
		_, results = espaSpooled(t, a)
		return len(results) > 0
	})
	if r := results[0]; len(results) != 1 || r.Job != key.String() || r.Outcome != agentapi.OutcomeSent {
		t.Fatalf("results %+v", results)
	}
}
