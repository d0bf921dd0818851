package agent

import (
	"context"
	"slices"
	"testing"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/firmware-agent/espa"
	"pagebridge/firmware-agent/sim"
	"pagebridge/gateway/paging"
)

// An espa-system on the simulated DECT messaging server's pty: page jobs
// go out as calls with their tier in record 6, each taken once; one the
// paging system refuses fails for good; its "paged" statuses come back as
// one delivery report a call, through a status block with a corrupted BCC
// and one whose ACK was lost.
func TestESPASystem(t *testing.T) {
	ps, err := sim.NewESPAPagingSystem(t.TempDir(), sim.ESPAPagingSystemOptions{
		Outstation: espa.OutstationConfig{ResponseTimeout: 300 * time.Millisecond},
		AutoStatus: espa.StatusPaged,
		Refuse:     func(c espa.Call) bool { return c.Address == "1003" },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ps.Close() })
	a := testAgent(t, DeviceConfig{ID: "dect", Kind: KindESPASystem, Port: ps.Path(), MaxInFlight: 1})
	d := a.devices["dect"]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	done := make(chan struct{})
	go func() { defer close(done); d.run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	ps.CorruptNextBCC() // the first status block
	ps.LoseNextACK()    // and our ACK of the next one
	jobs := map[string]paging.ID{}
	for _, p := range []struct {
		to, text string
		prio     paging.Priority
	}{
		{"1001", "Code blue 4W bed 2", paging.PriorityCritical},
		{"1002", "Room 12 call bell", paging.PriorityNormal},
		{"1003", "Room 14", paging.PriorityHigh},
	} {
		jobs[p.to] = queueJob(t, a, agentapi.Job{Device: "dect", Priority: p.prio,
			Action: ActionTAPPage, To: p.to, Text: agentapi.Text(p.text), Attempt: 1})
	}

	// What the agent reports: sent and delivered for 1001 and 1002, a
	// permanent failure for 1003, nothing twice.
	want := map[string][]agentapi.Outcome{
		"1001": {agentapi.OutcomeSent, agentapi.OutcomeDelivered},
		"1002": {agentapi.OutcomeSent, agentapi.OutcomeDelivered},
		"1003": {agentapi.OutcomeFailPerm},
	}
	got := func() map[string][]agentapi.Outcome {
		results, _ := spooled(t, a)
		out := map[string][]agentapi.Outcome{}
		for to, k := range jobs {
			out[to] = slices.Sorted(slices.Values(results[k.String()]))
		}
		return out
	}
	eventually(t, "every call's outcomes", func() bool {
		g := got()
		return len(g["1001"]) == 2 && len(g["1002"]) == 2 && len(g["1003"]) == 1
	})
	for to, w := range want {
		if g := got()[to]; !slices.Equal(g, slices.Sorted(slices.Values(w))) {
			t.Errorf("%s: outcomes %v, want %v", to, g, w)
		}
	}
	// A moment more for anything sent twice to show.
	time.Sleep(2 * espaSystemPoll)
	if _, results := espaSpooled(t, a); len(results) != 5 {
		t.Errorf("%d results, want 5", len(results))
	}
	calls := ps.Calls()
	if len(calls) != 2 || calls[0].Address != "1001" || calls[1].Address != "1002" {
		t.Fatalf("paging system took %v, want 1001 then 1002 once each", calls)
	}
	if calls[0].Priority != espa.PriorityAlarm || calls[0].Text.Reveal() != "Code blue 4W bed 2" ||
		calls[1].Priority != espa.PriorityNormal || calls[1].Text.Reveal() != "Room 12 call bell" {
		t.Errorf("calls %+v", calls)
	}
	if s := d.status(); s.State != agentapi.DeviceReady {
		t.Errorf("device %s (%s), want ready", s.State, s.Error)
	}
}
