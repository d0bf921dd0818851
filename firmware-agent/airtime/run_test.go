package airtime

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"pagebridge/firmware-agent/pocsag"
	"pagebridge/firmware-agent/transmitter"
	"pagebridge/gateway/paging"
	"pagebridge/internal/peertest"
)

// TestRun: Run sends what is enqueued while it runs, sleeps when the
// queue is empty, and returns when ctx ends. Under synctest the system
// clock is simulated, so nothing waits for real time.
func TestRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		ptt := &transmitter.FakePTT{Clock: transmitter.SystemClock{}}
		drv, err := transmitter.New(&out, ptt, transmitter.SystemClock{}, transmitter.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		sent := map[string]time.Time{}
		s := New(drv, Options{OnSent: func(id string, at time.Time) {
			mu.Lock()
			defer mu.Unlock()
			sent[id] = at
		}})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- s.Run(ctx) }()
		synctest.Wait()
		if err := s.Run(ctx); err == nil {
			t.Error("a second Run did not fail")
		}
		start := time.Now()
		for i := range 3 {
			if err := s.Enqueue(alphaReq(fmt.Sprint(i), uint32(100+i), "Run test", paging.PriorityNormal)); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(3 * time.Second) // simulated: the pages go on air meanwhile
		synctest.Wait()
		snap := s.Snapshot()
		mu.Lock()
		if len(sent) != 3 || snap.Transmitting || snap.Transmissions != 1 || snap.Sent.Normal != 3 {
			t.Errorf("after 3 s: sent %v, snapshot %+v", sent, snap)
		}
		for id, at := range sent {
			if at.Before(start) || at.After(start.Add(2*time.Second)) {
				t.Errorf("page %s sent at %v", id, at.Sub(start))
			}
		}
		mu.Unlock()
		if ptt.Keyed() {
			t.Error("still keyed")
		}
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Run returned %v", err)
		}
	})
}

var multimonLine = regexp.MustCompile(`POCSAG(\d+): Address: +(\d+) +Function: (\d) +(Alpha|Numeric): +(.*?)(<NUL>)*$`)

// TestMultimonEndToEnd: the scheduler and driver, as the agent will run
// them, produce audio that multimon-ng decodes: at each rate 20 pages to
// different capcodes, numeric and alpha, a critical one among them, each
// decoded once with its address, function and text. (One stream per rate:
// multimon-ng's decoders of one rate now and then take a few bits of
// another rate's audio for a sync word and print phantom pages.)
func TestMultimonEndToEnd(t *testing.T) {
	bin, ok := peertest.Find("multimon-ng")
	if !ok {
		peertest.Missing(t, "multimon-ng is not installed (Debian package multimon-ng)")
	}
	for _, rate := range pocsag.Rates {
		t.Run(rate.String(), func(t *testing.T) {
			t.Parallel()
			r := newRig(t, transmitter.DefaultConfig(), Options{})
			want := map[string]bool{}
			for i := range 20 {
				req := alphaReq(fmt.Sprint(i), uint32(20000+int(rate)*100+i*13), fmt.Sprintf("%v bit/s page %d of 20", rate, i+1), paging.PriorityNormal)
				req.Rate = rate
				// multimon-ng 1.2.0 shows function 0 as numeric and
				// 1 to 3 as alpha, whatever the message holds.
				req.Page.Function = pocsag.Function(1 + i%3)
				kind := "Alpha"
				if i%5 == 0 {
					req.Page.Kind, req.Page.Function, kind = pocsag.Numeric, 0, "Numeric"
					req.Page.Text = paging.NewPHI(fmt.Sprintf("%d-%d", rate, 1000+i))
				}
				if i == 10 {
					req.Priority = paging.PriorityCritical
				}
				r.enqueue(t, req)
				want[fmt.Sprintf("%d %d %d %s %s", rate, req.Page.RIC, req.Page.Function, kind, req.Page.Text.Reveal())] = true
			}
			r.drain(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "-t", "raw", "-a", "POCSAG512", "-a", "POCSAG1200", "-a", "POCSAG2400", "-")
			cmd.Stdin = bytes.NewReader(r.out.Bytes())
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("multimon-ng: %v", err)
			}
			got := map[string]int{}
			for _, l := range strings.Split(string(out), "\n") {
				if m := multimonLine.FindStringSubmatch(l); m != nil {
					got[fmt.Sprintf("%s %s %s %s %s", m[1], m[2], m[3], m[4], strings.TrimRight(m[5], " "))]++
				} else if strings.Contains(l, "Address:") {
					t.Errorf("multimon-ng decoded %q, not sent", l)
				}
			}
			for k := range want {
				if got[k] != 1 {
					t.Errorf("multimon-ng decoded %q %d times", k, got[k])
				}
			}
			for k := range got {
				if !want[k] {
					t.Errorf("multimon-ng decoded %q, not sent", k)
				}
			}
			if len(r.sent) != 20 {
				t.Errorf("%d pages reported sent", len(r.sent))
			}
		})
	}
}
