package serialport

import (
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func(d time.Duration) time.Time { now = now.Add(d); return now }
	th := throttle{interval: time.Minute}

	type step struct {
		advance time.Duration
		msg     string // "" means recover
		log     bool
		count   int // repeated count, or errors for a recovery
	}
	steps := []step{
		{0, "", false, 0},                 // healthy: nothing to recover from
		{0, "ENOENT", true, 0},            // first error is logged
		{time.Second, "ENOENT", false, 0}, // repeat within the minute: counted
		{time.Second, "ENOENT", false, 0}, // counted
		{time.Minute, "ENOENT", true, 3},  // a minute on: logged with count 3
		{time.Second, "ENOENT", false, 0}, // counted again from zero
		{time.Second, "EIO", true, 0},     // a different error is logged at once
		{time.Second, "EIO", false, 0},    // counted
		{time.Second, "", true, 7},        // recovery reports all seven errors
		{time.Second, "", false, 0},       // a second recovery says nothing
		{time.Second, "EIO", true, 0},     // after recovery the same text is new
	}
	for i, s := range steps {
		at := clock(s.advance)
		var log bool
		var n int
		if s.msg == "" {
			log, n = th.recover()
		} else {
			log, n = th.fail(at, s.msg)
		}
		if log != s.log || n != s.count {
			t.Errorf("step %d (%q): got log=%v n=%d, want log=%v n=%d", i, s.msg, log, n, s.log, s.count)
		}
	}
}
