package sdnotify_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"pagebridge/internal/sdnotify"
	"pagebridge/internal/sdnotify/notifytest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const wait = 10 * time.Second

func TestReadyWatchdogStopping(t *testing.T) {
	sock := notifytest.Listen(t, 20*time.Millisecond) // pings every 10 ms
	calls := make(chan chan error)
	probe := func(ctx context.Context) error {
		answer := make(chan error)
		select {
		case calls <- answer:
		case <-ctx.Done():
			return ctx.Err()
		}
		return <-answer
	}
	stop := sdnotify.Start(context.Background(), quiet, "serving https 127.0.0.1:443", probe)
	if got, want := sock.Next(t, wait), "READY=1\nSTATUS=serving https 127.0.0.1:443"; got != want {
		t.Fatalf("first notification %q, want %q", got, want)
	}

	// A failing probe: no ping for it. Its ping, had there been one, is
	// sent before the pinger waits for the next probe, so by the second
	// probe the socket shows it.
	(<-calls) <- errors.New("wedged")
	second := <-calls
	if !sock.Empty() {
		t.Fatal("a ping after a failed probe")
	}
	second <- nil
	if got := sock.Next(t, wait); got != "WATCHDOG=1" {
		t.Fatalf("after a good probe %q, want WATCHDOG=1", got)
	}

	// stop ends the pinger (it may be waiting in a probe) and says STOPPING.
	go func() {
		for answer := range calls {
			answer <- nil
		}
	}()
	stop()
	close(calls)
	sock.UntilStopping(t, wait)
	if !sock.Empty() {
		t.Fatal("a notification after STOPPING")
	}
}

func TestNoWatchdog(t *testing.T) {
	sock := notifytest.Listen(t, 0)
	probe := func(context.Context) error { t.Error("probe called without WatchdogSec"); return nil }
	stop := sdnotify.Start(context.Background(), quiet, "", probe)
	if got := sock.Next(t, wait); got != "READY=1" {
		t.Fatalf("got %q, want READY=1", got)
	}
	stop()
	if got := sock.Next(t, wait); got != "STOPPING=1" {
		t.Fatalf("got %q, want STOPPING=1", got)
	}
}

// Another process's watchdog (WATCHDOG_PID not ours) is not answered.
func TestWatchdogForAnotherPID(t *testing.T) {
	sock := notifytest.Listen(t, 20*time.Millisecond)
	t.Setenv("WATCHDOG_PID", "1")
	probe := func(context.Context) error { t.Error("probe called for another PID's watchdog"); return nil }
	stop := sdnotify.Start(context.Background(), quiet, "", probe)
	sock.Next(t, wait)
	stop()
	if got := sock.Next(t, wait); got != "STOPPING=1" {
		t.Fatalf("got %q, want STOPPING=1", got)
	}
}

// Outside systemd nothing is sent and nothing fails.
func TestOutsideSystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "")
	sdnotify.Start(context.Background(), quiet, "x", func(context.Context) error { return nil })()
}
