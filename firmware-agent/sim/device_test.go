package sim

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// safety bounds a test that would otherwise hang; no assertion rests on it.
const safety = 30 * time.Second

func mustModem(t *testing.T, opts ModemOptions) *Modem {
	t.Helper()
	m, err := NewModem(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	})
	return m
}

// openPort opens the device as the agent does: the symlink, read-write, no
// controlling tty.
func openPort(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := f.SetReadDeadline(time.Now().Add(safety)); err != nil {
		t.Fatal(err)
	}
	return f
}

// readUntil reads f until what it read ends with suffix, and returns it all.
func readUntil(t *testing.T, f *os.File, suffix string) string {
	t.Helper()
	var got []byte
	buf := make([]byte, 256)
	for !bytes.HasSuffix(got, []byte(suffix)) {
		n, err := f.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("read %q so far, waiting for %q: %v", got, suffix, err)
		}
	}
	return string(got)
}

func write(t *testing.T, f *os.File, s string) {
	t.Helper()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func waitReceived(t *testing.T, d *Device, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), safety)
	defer cancel()
	err := d.WaitFor(ctx, func(rec []byte) bool { return len(rec) >= len(want) })
	if err != nil {
		t.Fatalf("received %q, waiting for %q: %v", d.Received(), want, err)
	}
	if got := string(d.Received()); got != want {
		t.Fatalf("Received() = %q, want %q", got, want)
	}
}

// The line is raw both ways: LF is not turned into CR LF on the way to the
// device, CR is not turned into LF on the way back, the device's replies
// are not echoed back to it, and nothing waits for a newline.
func TestModemOverPTYIsRaw(t *testing.T) {
	t.Parallel()
	m := mustModem(t, ModemOptions{})
	f := openPort(t, m.Path())

	write(t, f, "AT\r")
	if got := readUntil(t, f, "OK\r\n"); got != "AT\r\r\nOK\r\n" {
		t.Errorf("reply %q", got)
	}
	write(t, f, "ATE0\n")
	if got := readUntil(t, f, "OK\r\n"); got != "ATE0\n\r\nOK\r\n" {
		t.Errorf("reply %q", got)
	}
	write(t, f, "AT+CSQ\r\n\x03\x7f\xff")
	if got := readUntil(t, f, "OK\r\n"); got != "\r\n+CSQ: 20,99\r\n\r\nOK\r\n" {
		t.Errorf("reply %q", got)
	}
	waitReceived(t, m.Device, "AT\rATE0\nAT+CSQ\r\n\x03\x7f\xff")
	if got, want := string(m.Sent()), "AT\r\r\nOK\r\nATE0\n\r\nOK\r\n\r\n+CSQ: 20,99\r\n\r\nOK\r\n"; got != want {
		t.Errorf("Sent() = %q, want %q", got, want)
	}
}

// The agent may close its port and open it again; the device stays.
func TestReopenPort(t *testing.T) {
	t.Parallel()
	m := mustModem(t, ModemOptions{NoEcho: true})
	f := openPort(t, m.Path())
	write(t, f, "AT\r")
	readUntil(t, f, "OK\r\n")
	f.Close()

	f = openPort(t, m.Path())
	write(t, f, "AT+CGMM\r")
	if got := readUntil(t, f, "OK\r\n"); got != "\r\nSIMULATED\r\n\r\nOK\r\n" {
		t.Errorf("reply %q", got)
	}
	waitReceived(t, m.Device, "AT\rAT+CGMM\r")
}

func TestUnplugPlug(t *testing.T) {
	t.Parallel()
	m := mustModem(t, ModemOptions{NoEcho: true})
	f := openPort(t, m.Path())
	write(t, f, "AT\r")
	readUntil(t, f, "OK\r\n")

	readErr := make(chan error, 1)
	go func() {
		_, err := f.Read(make([]byte, 64))
		readErr <- err
	}()
	if err := m.Unplug(); err != nil {
		t.Fatal(err)
	}
	if err := <-readErr; err == nil {
		t.Error("read from an unplugged device succeeded")
	} else if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.EIO) {
		t.Errorf("read from an unplugged device: %v, want EOF or EIO", err)
	}
	if _, err := f.WriteString("AT\r"); err == nil {
		t.Error("write to an unplugged device succeeded")
	}
	if _, err := os.Lstat(m.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("path after Unplug: %v, want not exist", err)
	}
	if err := m.Unplug(); !errors.Is(err, ErrUnplugged) {
		t.Errorf("second Unplug: %v, want ErrUnplugged", err)
	}

	if err := m.Plug(); err != nil {
		t.Fatal(err)
	}
	if err := m.Plug(); !errors.Is(err, ErrPlugged) {
		t.Errorf("second Plug: %v, want ErrPlugged", err)
	}
	f = openPort(t, m.Path())
	write(t, f, "AT+CSQ\r")
	if got := readUntil(t, f, "OK\r\n"); got != "\r\n+CSQ: 20,99\r\n\r\nOK\r\n" {
		t.Errorf("reply after Plug %q", got)
	}
	waitReceived(t, m.Device, "AT\rAT+CSQ\r")
}

func TestPagingTerminalOverPTY(t *testing.T) {
	t.Parallel()
	pt, err := NewPagingTerminal(t.TempDir(), TerminalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pt.Close()
	if !strings.HasSuffix(pt.Path(), "/tap0") {
		t.Errorf("path %s, want …/tap0", pt.Path())
	}
	f := openPort(t, pt.Path())
	write(t, f, "\r")
	if got := readUntil(t, f, "ID=\r"); got != "ID=\r" {
		t.Errorf("reply %q", got)
	}
	write(t, f, "\x1bPG1\r")
	if got := readUntil(t, f, "\x1b[p\r"); got != "110 1.8\r\x06\r\x1b[p\r" {
		t.Errorf("reply %q", got)
	}
	waitReceived(t, pt.Device, "\r\x1bPG1\r")
}

func TestWaitForContext(t *testing.T) {
	t.Parallel()
	m := mustModem(t, ModemOptions{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := m.WaitFor(ctx, func(rec []byte) bool { return len(rec) > 0 })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("WaitFor on a cancelled context: %v", err)
	}
	if err := m.WaitFor(ctx, func([]byte) bool { return true }); err != nil {
		t.Errorf("WaitFor on a true predicate: %v", err)
	}
}

// Not parallel: while it runs, the parallel tests are paused before they
// start any device, so any serve goroutine left is this test's.
func TestCloseLeavesNothing(t *testing.T) {
	m, err := NewModem(t.TempDir(), ModemOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := openPort(t, m.Path())
	write(t, f, "AT\r")
	readUntil(t, f, "OK\r\n")

	waiting := make(chan error, 1)
	go func() { waiting <- m.WaitFor(context.Background(), func([]byte) bool { return false }) }()

	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-waiting; !errors.Is(err, ErrClosed) {
		t.Errorf("WaitFor across Close: %v, want ErrClosed", err)
	}
	if _, err := os.Lstat(m.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("path after Close: %v, want not exist", err)
	}
	if stacks := settledStacks("(*Device).serve"); strings.Contains(stacks, "(*Device).serve") {
		t.Errorf("serve goroutine left after Close:\n%s", stacks)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := m.Plug(); !errors.Is(err, ErrClosed) {
		t.Errorf("Plug after Close: %v, want ErrClosed", err)
	}
	if got := string(m.Received()); got != "AT\r" {
		t.Errorf("Received() after Close = %q", got)
	}

	// Closing an unplugged device is fine too.
	m2, err := NewModem(t.TempDir(), ModemOptions{Name: "m2"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Unplug(); err != nil {
		t.Fatal(err)
	}
	if err := m2.Close(); err != nil {
		t.Fatal(err)
	}
}

// settledStacks is allStacks once no goroutine's stack holds sub, or
// after a bounded number of yields: a goroutine that closed its done
// channel in a defer is still on its way out for a moment after.
func settledStacks(sub string) string {
	s := allStacks()
	for i := 0; i < 1000 && strings.Contains(s, sub); i++ {
		runtime.Gosched()
		s = allStacks()
	}
	return s
}

func allStacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

func TestBadName(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"a/b"} {
		if _, err := NewDevice(t.TempDir(), name, nil); err == nil {
			t.Errorf("NewDevice(%q) succeeded", name)
		}
	}
}
