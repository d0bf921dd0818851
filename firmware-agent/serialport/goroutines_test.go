package serialport

import (
	"runtime"
	"testing"
	"time"
)

func runtimeGoroutines() int { return runtime.NumGoroutine() }

// waitGoroutines waits until no more than n goroutines run. Goroutines end
// asynchronously after the calls that stop them return, so it polls, with
// a deadline; it never asserts on timing.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(wait)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		<-tick.C
	}
}
