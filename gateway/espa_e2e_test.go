package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"pagebridge/firmware-agent/agent"
	"pagebridge/firmware-agent/espa"
	"pagebridge/firmware-agent/sim"
	"pagebridge/gateway/admin"
	"pagebridge/gateway/engine"
	"pagebridge/gateway/paging"
	"pagebridge/storage"
)

// ESPA 4.4.4 end to end over a pty: a simulated nurse call system (the
// control station) sends calls to the agent's espa-line; they become pages
// the gateway routes like any other, here to an app-stage nurse. A call
// sent with a corrupted BCC is answered NAK and its retry taken; a call
// whose ACK is lost on the line and sent again is taken once. Each call is
// exactly one page, and the nurse call hears back on its polls: paged (3)
// for every call, and acknowledged (6) for the one the nurse acknowledged
// in the app.
func TestESPAEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: not in -short")
	}
	dev := filepath.Join(t.TempDir(), "dev")
	if err := os.MkdirAll(dev, 0o700); err != nil {
		t.Fatal(err)
	}
	cs, err := sim.NewESPAControlStation(dev, sim.ESPAControlStationOptions{Name: "nurse-call-espa"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	r := newRig(t, rigSpec{agent: func(c *agent.Config) {
		c.Devices = append(c.Devices, agent.DeviceConfig{ID: "espa-4w", Kind: agent.KindESPALine, Port: cs.Path()})
	}})
	addresses := []string{"4101", "4102", "4103", "4104", "4105"}
	im := storage.Import{People: []paging.Person{{ID: "ana.ruiz", Name: "Ana Ruiz RN", Stage: paging.StageApp,
		Endpoints: []paging.Endpoint{{Channel: paging.ChannelApp, Address: "ana.ruiz"}}}}}
	for _, a := range addresses {
		im.PagerIDs = append(im.PagerIDs, paging.PagerID{ID: a, Target: paging.Target{Kind: paging.TargetPerson, ID: "ana.ruiz"}})
	}
	r.seed(im)
	waitUntil(t, time.Minute, "the agent to receive the directory", func() bool {
		b, _ := os.ReadFile(r.agLog)
		return strings.Contains(string(b), "directory from the gateway") && strings.Contains(string(b), fmt.Sprintf("pager_ids=%d", len(addresses)))
	})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i, a := range addresses {
		switch i {
		case 1:
			cs.CorruptNextBCC()
		case 3:
			cs.LoseNextACK()
		}
		call := espa.Call{Address: a, Text: paging.NewPHI("Room " + a + " call bell"), Priority: espa.PriorityHigh}
		if err := cs.Call(ctx, call); err != nil {
			t.Fatalf("call %d to %s: %v", i, a, err)
		}
	}
	if !bytes.Contains(cs.Received(), []byte{espa.NAK}) {
		t.Fatal("the agent never answered NAK: the corrupted BCC was taken")
	}

	// Every call is one page, sent to the nurse's app.
	var routes map[string][]engine.Route
	waitUntil(t, time.Minute, "a page for every call", func() bool {
		routes = map[string][]engine.Route{}
		for _, rt := range r.pages() {
			routes[rt.PagerID] = append(routes[rt.PagerID], rt)
		}
		for _, a := range addresses {
			rs := routes[a]
			if len(rs) == 0 || len(rs[0].Deliveries) == 0 || rs[0].Deliveries[0].State != paging.StateSent {
				return false
			}
		}
		return true
	})
	for _, a := range addresses {
		if n := len(routes[a]); n != 1 {
			t.Errorf("call to %s became %d pages, want 1", a, n)
		}
		rt := routes[a][0]
		if rt.ESPA == nil || rt.ESPA.Agent != rigAgent || rt.ESPA.Line != "espa-4w" || rt.Priority != paging.PriorityHigh {
			t.Errorf("page for %s: priority %v, ESPA return %+v", a, rt.Priority, rt.ESPA)
		}
	}

	// Paged (3) for each call comes back on the control station's polls.
	paged := func(st []espa.Status, code espa.CallStatus, addrs ...string) bool {
		for _, a := range addrs {
			if !slices.ContainsFunc(st, func(s espa.Status) bool { return s.Address == a && s.Call == code }) {
				return false
			}
		}
		return true
	}
	if err := cs.PollUntil(ctx, 100*time.Millisecond, func(st []espa.Status) bool {
		return paged(st, espa.StatusPaged, addresses...)
	}); err != nil {
		t.Fatalf("statuses %+v: %v", cs.Statuses(), err)
	}

	// The nurse acknowledges one page in the app.
	acked := routes["4103"][0]
	resp, err := admin.Do(ctx, r.sock, admin.Request{Op: admin.OpAck,
		Ack: &admin.Ack{Message: acked.Message.String(), Person: "ana.ruiz", Channel: string(paging.ChannelApp)}})
	if err != nil || !resp.OK {
		t.Fatalf("acknowledge: %v %s", err, resp.Error)
	}
	if err := cs.PollUntil(ctx, 100*time.Millisecond, func(st []espa.Status) bool {
		return paged(st, espa.StatusAcknowledged, "4103")
	}); err != nil {
		t.Fatalf("statuses %+v: %v", cs.Statuses(), err)
	}

	// Settled: nothing more comes, and nothing came twice.
	hc := httpClient(t, r.root, 1)
	waitUntil(t, time.Minute, "the agent to be idle", func() bool {
		return agentIdle(t, hc, "https://"+r.httpsAddr()+"/api/v1/agents", r.token())
	})
	if _, err := cs.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range cs.Statuses() {
		got = append(got, fmt.Sprintf("%s %d", s.Address, s.Call))
	}
	slices.Sort(got)
	want := []string{"4101 3", "4102 3", "4103 3", "4103 6", "4104 3", "4105 3"}
	if !slices.Equal(got, want) {
		t.Errorf("statuses the nurse call took:\n got  %q\n want %q", got, want)
	}
	n := 0
	for _, rt := range r.pages() {
		if slices.Contains(addresses, rt.PagerID) {
			n++
		}
	}
	if n != len(addresses) {
		t.Errorf("%d pages for %d calls", n, len(addresses))
	}
}
