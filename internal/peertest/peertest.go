// Package peertest runs the real peers that tests talk to (Mosquitto, and
// later others) on loopback, and decides what a test does when a peer is
// not installed: skip with a clear message, or fail when
// PAGEBRIDGE_REQUIRE_PEERS=1 (as CI sets it), so that a missing package
// never passes for a green run.
package peertest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Missing skips t with msg, or fails it when PAGEBRIDGE_REQUIRE_PEERS=1.
func Missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("PAGEBRIDGE_REQUIRE_PEERS") == "1" {
		t.Fatal(msg + "; PAGEBRIDGE_REQUIRE_PEERS=1 makes this a failure")
	}
	t.Skip(msg)
}

// Find returns the path of a peer program, looking in PATH and then in the
// sbin directories Debian installs daemons to (not in a normal user's PATH).
func Find(name string) (string, bool) {
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Mosquitto is a mosquitto broker this test started on a loopback port.
// It keeps nothing on disk (persistence false), like the embedded broker.
type Mosquitto struct {
	t    testing.TB
	bin  string
	conf string
	port int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
}

// StartMosquitto starts mosquitto on a free loopback port, anonymous
// access allowed, and stops it when t ends. A missing mosquitto skips or
// fails t (see Missing).
func StartMosquitto(t testing.TB) *Mosquitto {
	t.Helper()
	bin, ok := Find("mosquitto")
	if !ok {
		Missing(t, "mosquitto is not installed (Debian package mosquitto)")
	}
	dir := t.TempDir()
	m := &Mosquitto{t: t, bin: bin, port: FreePort(t), conf: filepath.Join(dir, "mosquitto.conf")}
	conf := fmt.Sprintf(`listener %d 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 100000
max_inflight_messages 0
log_dest stderr
log_type error
log_type warning
`, m.port)
	if err := os.WriteFile(m.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var err error
	if m.log, err = os.Create(filepath.Join(dir, "mosquitto.log")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Stop()
		m.log.Close()
	})
	m.Start()
	return m
}

// URL is the broker's address as the daemons' configs name it.
func (m *Mosquitto) URL() string { return "tcp://" + m.Addr() }

// Addr is host:port.
func (m *Mosquitto) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(m.port)) }

// Start starts the broker again on the same port (after Stop) and waits
// until it accepts connections.
func (m *Mosquitto) Start() {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return
	}
	cmd := exec.Command(m.bin, "-c", m.conf)
	cmd.Stdout, cmd.Stderr = m.log, m.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		m.t.Fatalf("mosquitto: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	m.cmd, m.done = cmd, done
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		c, err := net.DialTimeout("tcp", m.Addr(), time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-done:
			m.t.Fatalf("mosquitto exited at start: %s", m.logTail())
		case <-ctx.Done():
			m.t.Fatalf("mosquitto did not listen on %s: %s", m.Addr(), m.logTail())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop kills the broker (SIGKILL: it keeps nothing, so this is a broker
// crash and a clean stop alike) and waits for it to exit.
func (m *Mosquitto) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	m.cmd.Process.Kill()
	<-m.done
	m.cmd, m.done = nil, nil
}

// Restart stops and starts the broker; every client loses its connection
// and its session.
func (m *Mosquitto) Restart() {
	m.t.Helper()
	m.Stop()
	m.Start()
}

func (m *Mosquitto) logTail() string {
	b, _ := os.ReadFile(m.log.Name())
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return strings.Join(lines, "\n")
}
