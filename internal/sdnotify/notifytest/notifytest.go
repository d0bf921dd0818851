// Package notifytest is systemd's end of the notify protocol for tests: a
// datagram socket that NOTIFY_SOCKET points at, and the messages a daemon
// sends to it.
//
// Main types and functions: Listen, Socket.Next, Socket.Empty.
//
// # Caveats
//
// Listen sets environment variables with t.Setenv, so a test that uses it
// cannot run in parallel with others.
package notifytest

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Socket is the notify socket of one test.
type Socket struct {
	c *net.UnixConn
}

// Listen makes a notify socket and points NOTIFY_SOCKET at it, as systemd
// does for a Type=notify unit; watchdog > 0 also sets WATCHDOG_USEC as
// WatchdogSec= does (WATCHDOG_PID is cleared, so a child process started
// by the test answers it too). The socket lives in a short directory of
// its own: sun_path holds 108 bytes.
func Listen(t testing.TB, watchdog time.Duration) *Socket {
	t.Helper()
	dir, err := os.MkdirTemp("", "sdn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	usec := ""
	if watchdog > 0 {
		usec = strconv.FormatInt(watchdog.Microseconds(), 10)
	}
	t.Setenv("WATCHDOG_USEC", usec)
	t.Setenv("WATCHDOG_PID", "")
	return &Socket{c: c}
}

// Next returns the next message, failing the test if none comes within
// wait.
func (s *Socket) Next(t testing.TB, wait time.Duration) string {
	t.Helper()
	s.c.SetReadDeadline(time.Now().Add(wait))
	b := make([]byte, 4096)
	n, err := s.c.Read(b)
	if err != nil {
		t.Fatalf("no notification within %v: %v", wait, err)
	}
	return string(b[:n])
}

// Empty reports whether no message is waiting.
func (s *Socket) Empty() bool {
	s.c.SetReadDeadline(time.Now())
	b := make([]byte, 4096)
	_, err := s.c.Read(b)
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// UntilStopping reads messages until STOPPING=1, failing the test on any
// other than WATCHDOG=1 before it.
func (s *Socket) UntilStopping(t testing.TB, wait time.Duration) {
	t.Helper()
	for {
		switch got := s.Next(t, wait); got {
		case "STOPPING=1":
			return
		case "WATCHDOG=1":
		default:
			t.Fatalf("before STOPPING=1: %q", got)
		}
	}
}
