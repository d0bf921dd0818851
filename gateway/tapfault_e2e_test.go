package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pagebridge/firmware-agent/agent"
	"pagebridge/firmware-agent/sim"
	"pagebridge/firmware-agent/tap"
	"pagebridge/gateway/paging"
)

// TAP end to end over ptys, with faults: a nurse-call sender on a serial
// line (pty) → the agent's terminal role → the gateway → the agent's
// client role → a slow simulated paging terminal that answers every third
// block NAK, for a pager-stage person. On the way in the sender sends
// blocks with bad checksums, garbage, and a page it hangs up on mid-block.
// Every page that got 211 reaches the terminal exactly once; the page cut
// off mid-block never does.
func TestTAPEndToEndWithFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: not in -short")
	}
	dev := filepath.Join(t.TempDir(), "dev")
	if err := os.MkdirAll(dev, 0o700); err != nil {
		t.Fatal(err)
	}
	sender, err := sim.NewSender(dev, sim.SenderOptions{Name: "nurse-call", Client: tap.ClientConfig{ReplyWait: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sender.Close() })
	r := newRig(t, rigSpec{
		// The texts go to the pager as they are, so the test can tell
		// the pages apart, and one person gets them all without bundling.
		gateway:   []func(*Config){func(c *Config) { c.Routing.PHIOnPager, c.Routing.RateLimit = true, 0 }},
		terminals: []sim.TerminalOptions{{NAKEvery: 3, Delay: 30 * time.Millisecond}, {}},
		agent: func(c *agent.Config) {
			c.Devices = append(c.Devices, agent.DeviceConfig{ID: "nurse-call", Kind: agent.KindTAPLine, Port: sender.Path()})
		},
	})
	r.seedPagerStage()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	acked := map[string]bool{}
	const pages = 24
	for i := 1; i <= pages; i++ {
		text := fmt.Sprintf("Bed %d call bell", i)
		switch {
		case i%5 == 0:
			// A block garbled on the way: the agent answers 514 NAK and
			// keeps nothing of it.
			blocks, err := tap.EncodePage(tap.Page{ID: "1002", Text: paging.NewPHI(text + " garbled")})
			if err != nil {
				t.Fatal(err)
			}
			reply, err := sender.Exchange(ctx, sim.CorruptChecksum(blocks[0]))
			if err != nil || reply.Code() != tap.CodeChecksum || reply.Action != tap.NAK {
				t.Fatalf("bad checksum: %v %v, want 514 NAK", reply, err)
			}
		case i%7 == 0:
			// Line noise between pages.
			if err := sender.SendRaw([]byte("\x00\xff+++ATH0\r\x15garbage\r")); err != nil {
				t.Fatal(err)
			}
		case i == 11:
			// The sender hangs up in the middle of a block, then comes
			// back on the same line.
			if err := sender.HangUpMidBlock("1002", "Bed 11 cut off mid-block"); err != nil {
				t.Fatal(err)
			}
			if err := sender.Plug(); err != nil {
				t.Fatal(err)
			}
		}
		reply, err := sender.Page(ctx, "1002", text)
		if err == nil && reply.Code() == tap.CodeSent {
			acked[text] = true
		} else {
			t.Logf("%q not acknowledged: %v %v", text, reply, err)
		}
	}
	sender.Logoff(ctx)
	if len(acked) < pages-2 {
		t.Fatalf("only %d of %d pages got 211", len(acked), pages)
	}

	term := r.terms[0]
	if err := term.WaitPages(ctx, func(ps []tap.Page) bool {
		got := map[string]bool{}
		for _, p := range ps {
			got[p.Text.Reveal()] = true
		}
		for text := range acked {
			if !got[text] {
				return false
			}
		}
		return true
	}); err != nil {
		for _, rt := range r.pages() {
			t.Logf("route %s %s %s %+v %+v", rt.PagerID, rt.State, rt.Source, rt.Deliveries, rt.Notes)
		}
		t.Logf("terminal: %d pages", len(term.Pages()))
		t.Fatalf("not every acknowledged page reached the terminal: %v", err)
	}
	hc := httpClient(t, r.root, 1)
	waitUntil(t, 2*time.Minute, "the agent to be idle", func() bool {
		return agentIdle(t, hc, "https://"+r.httpsAddr()+"/api/v1/agents", r.token())
	})
	count := map[string]int{}
	for _, p := range term.Pages() {
		if p.ID != "1002" {
			t.Errorf("page to %q", p.ID)
		}
		count[p.Text.Reveal()]++
	}
	for text, n := range count {
		switch {
		case strings.Contains(text, "cut off") || strings.Contains(text, "garbled"):
			t.Errorf("%q reached the terminal %d times: it was never accepted", text, n)
		case acked[text] && n != 1:
			t.Errorf("%q reached the terminal %d times, want once", text, n)
		}
	}
	// The faults happened: the terminal garbled blocks (514 NAK) and the
	// client sent them again.
	if n := strings.Count(string(term.Sent()), "514"); n == 0 {
		t.Error("the terminal never answered 514: no NAK fault was injected")
	}
	if len(r.terms[1].Pages()) != 0 {
		t.Errorf("the other terminal took %d pages", len(r.terms[1].Pages()))
	}
}
