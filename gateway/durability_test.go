package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pagebridge/gateway/wctp"
)

// TestNothingLostAcrossKill9 has 16 clients submit WCTP pages to the real
// binary while it is killed with SIGKILL at random moments, 20 times, and
// proves that every page that got a 200 is in the store afterwards.
func TestNothingLostAcrossKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 cycles take a while; not in -short")
	}
	const (
		cycles  = 20
		clients = 16
	)
	root := t.TempDir()
	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		tried atomic.Int64
	)
	for cycle := range cycles {
		d := startDemo(t, root)
		sender := demoSender(t, root)
		hc := httpClient(t, root, clients)
		// Kill after a random number of acknowledged pages in this cycle,
		// while all clients keep requests in flight.
		killAfter := int64(1 + rand.IntN(300))
		var cycleAcks atomic.Int64
		reached := make(chan struct{})
		var once sync.Once
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; ctx.Err() == nil; n++ {
					ref := fmt.Sprintf("k%02d-c%02d-%05d", cycle, c, n)
					tried.Add(1)
					resp, err := wctp.Submit(ctx, hc, d.url("/wctp"), page(sender, ref, "1002", "kill test "+ref))
					if err != nil || !resp.Success {
						continue // the daemon died under this request: not acknowledged
					}
					mu.Lock()
					acked[ref] = true
					mu.Unlock()
					if cycleAcks.Add(1) >= killAfter {
						once.Do(func() { close(reached) })
					}
				}
			}()
		}
		select {
		case <-reached:
		case <-time.After(2 * time.Minute):
			t.Fatalf("cycle %d: %d of %d pages acknowledged in 2 minutes", cycle, cycleAcks.Load(), killAfter)
		}
		d.kill()
		cancel()
		wg.Wait()
		hc.CloseIdleConnections()
	}
	// One clean start and stop after the last kill, as an operator would.
	d := startDemo(t, root)
	d.stop()

	stored := storedRefs(t, root)
	var lost []string
	for ref := range acked {
		if _, ok := stored[ref]; !ok {
			lost = append(lost, ref)
		}
	}
	t.Logf("%d cycles: %d requests, %d acknowledged, %d stored, %d lost", cycles, tried.Load(), len(acked), len(stored), len(lost))
	if len(acked) == 0 {
		t.Fatal("no page was acknowledged")
	}
	if len(lost) > 0 {
		t.Fatalf("%d acknowledged pages lost, e.g. %v", len(lost), lost[:min(5, len(lost))])
	}
	for ref, text := range stored {
		if text != "kill test "+ref {
			t.Fatalf("page %s came back with different text", ref)
		}
	}
}
