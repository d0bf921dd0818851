package main

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"pagebridge/firmware-agent/serialport"
	"pagebridge/firmware-agent/tap"
	"pagebridge/gateway/paging"
	"pagebridge/storage"
)

// Bypass: with the gateway stopped, a TAP page for a pager-stage ID still
// reaches the paging terminal, through the agent alone; once the gateway
// is back, the page is in its store, marked bypassed, and the pager got it
// exactly once. A page for an ID the directory does not know is refused
// with 511 while the gateway is up and while it is down.
func TestBypassWhileGatewayDown(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: not in -short")
	}
	r := newBusRig(t, false)
	// The agent has the directory (and keeps it on disk) before the
	// gateway goes.
	r.seedPagerStage()
	if reply := r.tryTAP("9999", "nobody has this pager"); reply.Code() != tap.CodeUnknownID {
		t.Fatalf("page to an unknown ID: %v, want 511", reply)
	}

	r.gw.stop()
	term := r.terms[0]
	if reply := r.tryTAP("1002", "Room 12 call bell, gateway away"); reply.Code() != tap.CodeSent {
		t.Fatalf("page while the gateway is down: %v, want 211", reply)
	}
	if reply := r.tryTAP("9999", "nobody has this pager"); reply.Code() != tap.CodeUnknownID {
		t.Fatalf("page to an unknown ID with the gateway down: %v, want 511", reply)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := term.WaitPages(ctx, func(p []tap.Page) bool { return len(p) >= 1 }); err != nil {
		t.Fatal("the bypassed page never reached the terminal:", err)
	}

	r.startGateway()
	var note string
	waitUntil(t, time.Minute, "the bypassed page in the gateway's store", func() bool {
		for _, rt := range r.pages() {
			if rt.PagerID != "1002" || len(rt.Deliveries) == 0 || len(rt.Deliveries[0].Attempts) == 0 {
				continue
			}
			a := rt.Deliveries[0].Attempts[0]
			if a.Channel == paging.ChannelPager && a.State == paging.StateSent {
				note = a.Note
				for _, n := range rt.Notes {
					note += " | " + n.Text
				}
				return true
			}
		}
		return false
	})
	if !strings.Contains(note, "sent by the agent in bypass") || !strings.Contains(note, "bypassed:") {
		t.Errorf("route does not say the page was bypassed: %q", note)
	}
	// The route is settled on the pager without a job: nothing more can
	// reach the terminal for it.
	hc := httpClient(t, r.root, 1)
	agents := "https://" + r.httpsAddr() + "/api/v1/agents"
	waitUntil(t, time.Minute, "the agent to be idle", func() bool {
		return agentIdle(t, hc, agents, r.token())
	})
	if a := agentsHealth(t, hc, agents, r.token()); len(a) != 1 || a[0].Bypassed != 1 {
		t.Errorf("agents: %+v, want one that bypassed one page", a)
	}
	if got := len(term.Pages()); got != 1 {
		t.Fatalf("the terminal took the page %d times, want once", got)
	}
	if p := term.Pages()[0]; strings.Contains(p.Text.Reveal(), "Room 12") {
		t.Error("PHI went to the pager in bypass without a policy allowing it")
	}
}

// tryTAP sends one page to the agent's TAP line, as nurse call would, and
// returns the agent's answer.
func (r *busRig) tryTAP(pagerID, text string) tap.Reply {
	r.t.Helper()
	conn, err := net.DialTimeout("tcp", r.tapAddr, 5*time.Second)
	if err != nil {
		r.t.Fatal(err)
	}
	defer conn.Close()
	c := tap.NewClient(serialport.LineConn(conn, serialport.DefaultReadTimeout), tap.ClientConfig{ReplyWait: 10 * time.Second})
	ctx := context.Background()
	if err := c.Logon(ctx); err != nil {
		r.t.Fatal(err)
	}
	defer c.Logoff(ctx)
	reply, err := c.Send(ctx, tap.Page{ID: pagerID, Text: paging.NewPHI(text)})
	var se *tap.SendError
	switch {
	case errors.As(err, &se):
		return se.Reply
	case err != nil:
		r.t.Fatal(err)
	}
	return reply
}

// seedPagerStage gives the rig one pager-stage person, Ben Lee, on pager
// ID 1002 through term-1, and waits until the agent has the directory.
func (r *busRig) seedPagerStage() {
	r.t.Helper()
	r.seed(storage.Import{
		People: []paging.Person{{ID: "ben.lee", Name: "Ben Lee RN", Stage: paging.StagePager,
			Endpoints: []paging.Endpoint{{Channel: paging.ChannelPager, Address: "1002", Via: rigAgent + "/term-1"}}}},
		PagerIDs: []paging.PagerID{{ID: "1002", Target: paging.Target{Kind: paging.TargetPerson, ID: "ben.lee"}}},
	})
	waitUntil(r.t, time.Minute, "the agent to receive the directory", func() bool {
		b, _ := os.ReadFile(r.agLog)
		return strings.Contains(string(b), "directory from the gateway") && strings.Contains(string(b), "pager_ids=1")
	})
}
