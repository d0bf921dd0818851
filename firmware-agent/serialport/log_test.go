package serialport

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// logRecorder is a slog.Handler that keeps records' messages and attrs.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
	added   chan struct{} // signalled after each record
}

func newLogRecorder() *logRecorder { return &logRecorder{added: make(chan struct{}, 1)} }

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r)
	select {
	case h.added <- struct{}{}:
	default:
	}
	return nil
}

// waitFor waits until a record with message msg has been logged, and
// returns count(msg, key).
func (h *logRecorder) waitFor(t *testing.T, msg, key string) (n int, last int64) {
	t.Helper()
	deadline := time.After(wait)
	for {
		if n, last = h.count(msg, key); n > 0 {
			return n, last
		}
		select {
		case <-h.added:
		case <-deadline:
			t.Fatalf("no %q logged within %v", msg, wait)
		}
	}
}

// count returns how many records have message msg, and the int64 value of
// key in the last of them.
func (h *logRecorder) count(msg, key string) (n int, last int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.records {
		if r.Message != msg {
			continue
		}
		n++
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == key {
				last = a.Value.Int64()
			}
			return true
		})
	}
	return n, last
}

// waitFailures waits until the line has counted at least n failures.
func waitFailures(t *testing.T, l *Line, rec recorder, n uint64) {
	t.Helper()
	deadline := time.After(wait)
	for l.Stats().Failures < n {
		select {
		case <-rec:
		case <-deadline:
			t.Fatalf("fewer than %d failures within %v: %+v", n, wait, l.Stats())
		}
	}
}

// TestLogThrottle runs a line on a missing device with a stopped clock:
// the error is logged once however often it repeats; once the clock moves
// a minute on, the repeats are logged with their count; when the device
// appears the recovery is logged with the number of errors.
func TestLogThrottle(t *testing.T) {
	t.Parallel()
	link := filepath.Join(t.TempDir(), "usb-modem-if00")
	logs := newLogRecorder()
	rec := newRecorder()
	l, err := New(fastConfig(link), slog.New(logs), rec.onState)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }

	var sessions atomic.Int32
	runLine(t, l, atSession(&sessions, nil))
	waitFailures(t, l, rec, 5)
	if n, _ := logs.waitFor(t, "line error", ""); n != 1 {
		t.Errorf("%d error lines for %d failures, want 1", n, l.Stats().Failures)
	}

	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if n, repeated := logs.waitFor(t, "line error repeated", keyRepeated); n != 1 || repeated < 4 {
		t.Errorf("%d repeat lines, last with count %d: want 1 with at least 4", n, repeated)
	}

	slave, _ := openPTY(t)
	if err := os.Symlink(slave, link); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, StateReady)
	if n, errs := logs.waitFor(t, "line recovered", keyErrors); n != 1 || errs < 5 {
		t.Errorf("%d recovery lines, last with %d errors: want 1 with at least 5", n, errs)
	}
}
