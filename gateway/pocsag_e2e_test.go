package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"pagebridge/firmware-agent/agent"
	"pagebridge/firmware-agent/agentapi"
	"pagebridge/firmware-agent/pocsag"
	"pagebridge/firmware-agent/pocsag/pocsagtest"
	"pagebridge/firmware-agent/tap"
	"pagebridge/gateway/paging"
	"pagebridge/storage"
)

// decodedPage is a page multimon-ng decoded: capcode, function, text.
type decodedPage struct {
	capcode, function, text string
}

var multimonPage = regexp.MustCompile(`^POCSAG1200: Address:\s*(\d+)\s+Function:\s*(\d)\s+Alpha:\s*(.*)$`)

// POCSAG end to end with the real daemons: pages for a pager-stage nurse
// whose pager is on a transmitter the agent drives come in over the
// agent's TAP line, are routed by the gateway, go back to the agent as
// pocsag.page jobs and out as POCSAG audio, which multimon-ng decodes with
// the right capcode, function and text, each page once. The audio goes to
// a FIFO the test reads: while it does not, the transmitter stalls after
// its first batches, so routine pages queue at the scheduler; a critical
// page queued behind them goes on air before every one of them.
func TestPOCSAGEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: not in -short")
	}
	mm := requirePeer(t, "multimon-ng", "multimon-ng")
	fifo := filepath.Join(t.TempDir(), "tx-1.raw")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// Open for reading first, without blocking, so that the agent's
	// open for writing succeeds; nothing is read until the test says.
	rd, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.Close() })
	r := newRig(t, rigSpec{
		gateway: []func(*Config){func(c *Config) { c.Routing.PHIOnPager, c.Routing.RateLimit = true, 0 }},
		agent: func(c *agent.Config) {
			c.Devices = append(c.Devices, agent.DeviceConfig{ID: "tx-1", Kind: agent.KindTransmitter, Port: agent.PTTNone, AudioFile: fifo})
		},
	})
	const capcode = "1234567"
	nurse := paging.Target{Kind: paging.TargetPerson, ID: "noah.fischer"}
	r.seed(storage.Import{
		People: []paging.Person{{ID: "noah.fischer", Name: "Noah Fischer RN", Stage: paging.StagePager,
			Endpoints: []paging.Endpoint{{Channel: paging.ChannelPager, Address: capcode, Via: rigAgent + "/tx-1",
				POCSAG: paging.POCSAG{Rate: 1200, Function: 3, Kind: paging.POCSAGAlpha}}}}},
		PagerIDs: []paging.PagerID{{ID: "4001", Target: nurse}, {ID: "4999", Target: nurse, Priority: paging.PriorityCritical}},
	})
	waitUntil(t, time.Minute, "the agent to receive the directory", func() bool {
		b, _ := os.ReadFile(r.agLog)
		return strings.Contains(string(b), "directory from the gateway") && strings.Contains(string(b), "pager_ids=2")
	})

	hc := httpClient(t, r.root, 1)
	agents := "https://" + r.httpsAddr() + "/api/v1/agents"
	airTime := func() *agentapi.AirTime {
		for _, a := range agentsHealth(t, hc, agents, r.token()) {
			for _, d := range a.Devices {
				if d.ID == "tx-1" && d.AirTime != nil {
					return d.AirTime
				}
			}
		}
		return nil
	}
	const routine = 10
	var want []string
	for i := 1; i <= routine; i++ {
		text := fmt.Sprintf("Routine %02d: ward round notes ready", i)
		r.sendTAP("4001", text)
		want = append(want, text)
	}
	waitUntil(t, time.Minute, "routine pages queued at the transmitter", func() bool {
		at := airTime()
		return at != nil && at.QueuedNormal >= 3
	})
	const critical = "CODE BLUE ICU bed 3"
	r.sendTAP("4999", critical)
	var behind int // routine pages queued when the critical page was
	waitUntil(t, time.Minute, "the critical page queued at the transmitter", func() bool {
		at := airTime()
		if at == nil || at.QueuedCritical != 1 {
			return false
		}
		behind = at.QueuedNormal
		return true
	})
	if behind < 3 {
		t.Fatalf("only %d routine pages were queued behind the critical one", behind)
	}

	// Now listen: multimon-ng reads the FIFO as a receiver would.
	rd.Fd() // blocking reads from here on, for the child too
	cmd := exec.Command(mm, "-t", "raw", "-a", "POCSAG1200", "-")
	cmd.Stdin = rd
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var mu sync.Mutex
	var got []decodedPage
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			m := multimonPage.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			text := strings.TrimRight(strings.TrimSuffix(strings.TrimSpace(m[3]), "<NUL>"), "\x00")
			mu.Lock()
			got = append(got, decodedPage{m[1], m[2], text})
			mu.Unlock()
		}
	}()
	decoded := func() []decodedPage {
		mu.Lock()
		defer mu.Unlock()
		return append([]decodedPage(nil), got...)
	}
	waitUntil(t, 2*time.Minute, "multimon-ng to decode every page", func() bool { return len(decoded()) >= routine+1 })

	pages := decoded()
	count := map[string]int{}
	at := -1
	for i, p := range pages {
		if p.capcode != capcode || p.function != "3" {
			t.Errorf("page %q decoded to capcode %s function %s", p.text, p.capcode, p.function)
		}
		count[p.text]++
		if p.text == critical {
			at = i
		}
	}
	for _, text := range append(want, critical) {
		if count[text] != 1 {
			t.Errorf("%q decoded %d times, want once", text, count[text])
		}
	}
	if len(pages) != routine+1 {
		t.Errorf("%d pages decoded, want %d: %+v", len(pages), routine+1, pages)
	}
	t.Logf("critical page decoded %d of %d; %d routine pages were queued behind it", at+1, len(pages), behind)
	if after := len(pages) - 1 - at; at < 0 || after < behind {
		t.Errorf("critical page decoded at %d of %d: %d routine pages after it, but %d were queued when it came", at, len(pages), after, behind)
	}
	// Every page's route hears that it went on air.
	waitUntil(t, time.Minute, "every route to say sent", func() bool {
		rts := r.pages()
		for _, rt := range rts {
			if len(rt.Deliveries) != 1 || rt.Deliveries[0].State != paging.StateSent {
				return false
			}
		}
		return len(rts) == routine+1
	})
}

// Bypass to a transmitter: with the gateway stopped, a TAP page for a
// pager-stage nurse whose pager is on the agent's transmitter goes on air
// through the agent alone (the notice, no PHI, as the directory's policy
// says); once the gateway is back the page is in its store, marked sent
// in bypass, and the pager got it exactly once.
func TestPOCSAGBypassWhileGatewayDown(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: not in -short")
	}
	audio := filepath.Join(t.TempDir(), "tx-1.raw")
	r := newRig(t, rigSpec{agent: func(c *agent.Config) {
		c.Devices = append(c.Devices, agent.DeviceConfig{ID: "tx-1", Kind: agent.KindTransmitter, Port: agent.PTTNone, AudioFile: audio})
	}})
	r.seed(storage.Import{
		People: []paging.Person{{ID: "noah.fischer", Name: "Noah Fischer RN", Stage: paging.StagePager,
			Endpoints: []paging.Endpoint{{Channel: paging.ChannelPager, Address: "1234567", Via: rigAgent + "/tx-1",
				POCSAG: paging.POCSAG{Rate: 2400, Function: 3, Kind: paging.POCSAGAlpha}}}}},
		PagerIDs: []paging.PagerID{{ID: "4001", Target: paging.Target{Kind: paging.TargetPerson, ID: "noah.fischer"}}},
	})
	waitUntil(t, time.Minute, "the agent to receive the directory", func() bool {
		b, _ := os.ReadFile(r.agLog)
		return strings.Contains(string(b), "directory from the gateway") && strings.Contains(string(b), "pager_ids=1")
	})
	onAir := func() []pocsagtest.Message {
		pcm, _ := os.ReadFile(audio)
		msgs, err := pocsagtest.Decode(pocsagtest.SliceNRZ(pcm, pocsag.DefaultSampleRate, pocsag.Rate2400, false))
		if err != nil {
			t.Fatalf("audio does not decode: %v", err)
		}
		return msgs
	}

	r.gw.stop()
	if reply := r.tryTAP("4001", "Bed 3 pump alarm, gateway away"); reply.Code() != tap.CodeSent {
		t.Fatalf("page while the gateway is down: %v, want 211", reply)
	}
	waitUntil(t, time.Minute, "the bypassed page on air", func() bool { return len(onAir()) > 0 })
	r.startGateway()
	waitUntil(t, time.Minute, "the bypassed page in the gateway's store", func() bool {
		for _, rt := range r.pages() {
			if rt.PagerID == "4001" && len(rt.Deliveries) == 1 && len(rt.Deliveries[0].Attempts) == 1 {
				a := rt.Deliveries[0].Attempts[0]
				return a.State == paging.StateSent && strings.Contains(a.Note, "bypass")
			}
		}
		return false
	})
	hc := httpClient(t, r.root, 1)
	waitUntil(t, time.Minute, "the agent to be idle", func() bool {
		return agentIdle(t, hc, "https://"+r.httpsAddr()+"/api/v1/agents", r.token())
	})
	msgs := onAir()
	if len(msgs) != 1 {
		t.Fatalf("%d pages on air, want the bypassed one once", len(msgs))
	}
	if m := msgs[0]; m.RIC != 1234567 || m.Function != 3 || !strings.Contains(m.Alpha(), "open Pagebridge") || strings.Contains(m.Alpha(), "pump") {
		t.Errorf("on air: capcode %d function %d %q, want the notice to 1234567", m.RIC, m.Function, m.Alpha())
	}
}
