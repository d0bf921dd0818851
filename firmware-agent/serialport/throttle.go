package serialport

import "time"

// throttle decides which of a line's repeated errors reach the log, in the
// manner of gokrazy's supervisor: a new error is logged at once; the same
// error again is counted and logged at most once per interval with the
// count; a recovery is logged once, with the number of errors it ends.
//
// It is pure policy: the caller passes the time, so tests need no clock.
// It is only accessed from the goroutine running Line.Run.
type throttle struct {
	interval time.Duration

	last       string    // text of the error being repeated; "" when healthy
	lastLogged time.Time // when an error line was last let through
	pending    int       // repeats of last since lastLogged, not yet logged
	total      int       // errors since the last recovery
}

// fail records an error with text msg at now. It reports whether to log
// it and, for a repeat, how many times it was repeated since the last
// line that was let through.
func (t *throttle) fail(now time.Time, msg string) (log bool, repeated int) {
	t.total++
	if msg != t.last {
		t.last, t.lastLogged, t.pending = msg, now, 0
		return true, 0
	}
	t.pending++
	if now.Sub(t.lastLogged) < t.interval {
		return false, 0
	}
	repeated, t.pending, t.lastLogged = t.pending, 0, now
	return true, repeated
}

// recover records that the line works again. It reports whether to log a
// recovery line and how many errors preceded it.
func (t *throttle) recover() (log bool, errors int) {
	if t.total == 0 {
		return false, 0
	}
	errors = t.total
	*t = throttle{interval: t.interval}
	return true, errors
}
