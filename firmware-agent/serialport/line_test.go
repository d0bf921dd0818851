package serialport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// wait is how long a test waits for an event before it fails.
const wait = 10 * time.Second

// fastConfig returns a Config for path with short timeouts and backoff.
func fastConfig(path string) Config {
	return Config{
		Path:        path,
		Baud:        115200,
		ReadTimeout: 20 * time.Millisecond,
		MinBackoff:  10 * time.Millisecond,
		MaxBackoff:  50 * time.Millisecond,
	}
}

// stateEvent is one call of onState.
type stateEvent struct {
	st  State
	err error
}

// recorder collects onState calls on a channel.
type recorder chan stateEvent

func newRecorder() recorder { return make(recorder, 1000) }

func (r recorder) onState(st State, err error) {
	select {
	case r <- stateEvent{st, err}:
	default: // a test that stopped listening does not block the line
	}
}

// waitFor consumes events until st arrives, failing the test after wait.
// It returns the events before st.
func (r recorder) waitFor(t *testing.T, st State) []stateEvent {
	t.Helper()
	var seen []stateEvent
	deadline := time.After(wait)
	for {
		select {
		case e := <-r:
			if e.st == st {
				return seen
			}
			seen = append(seen, e)
		case <-deadline:
			t.Fatalf("no state %q within %v; saw %v", st, wait, seen)
		}
	}
}

// fakeModem plays a modem on the master side of a pty (or on a TCP
// connection): it answers each "AT\r" with "\r\nOK\r\n" until rw fails.
func fakeModem(rw io.ReadWriter) {
	var buf []byte
	p := make([]byte, 256)
	for {
		n, err := rw.Read(p)
		if err != nil {
			return
		}
		buf = append(buf, p[:n]...)
		for {
			i := bytes.Index(buf, []byte("AT\r"))
			if i < 0 {
				break
			}
			buf = buf[i+3:]
			if _, err := rw.Write([]byte("\r\nOK\r\n")); err != nil {
				return
			}
		}
	}
}

// atSession is a Session that initialises a modem with AT, calls ready on
// OK, then reads until the device goes away or ctx ends. It counts its
// runs in *sessions and reports the error it returns on errs.
func atSession(sessions *atomic.Int32, errs chan<- error) Session {
	return func(ctx context.Context, rw io.ReadWriter, ready func()) (err error) {
		sessions.Add(1)
		defer func() {
			select {
			case errs <- err:
			default:
			}
		}()
		if _, err := rw.Write([]byte("AT\r")); err != nil {
			return err
		}
		var got []byte
		p := make([]byte, 64)
		for !bytes.Contains(got, []byte("OK\r\n")) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			n, err := rw.Read(p)
			if err != nil {
				return err
			}
			got = append(got, p[:n]...)
		}
		ready()
		for {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if _, err := rw.Read(p); err != nil {
				return err
			}
		}
	}
}

// openPTY opens a pty pair and runs fakeModem on its master. The test keeps
// the slave open too, so the master does not see EIO before the line opens
// the slave. Closing the returned function unplugs the device.
func openPTY(t *testing.T) (slavePath string, unplug func()) {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	master, err = pollable(master)
	if err != nil {
		t.Fatal(err)
	}
	go fakeModem(master)
	unplug = func() { master.Close(); slave.Close() }
	t.Cleanup(unplug)
	return slave.Name(), unplug
}

// pollable returns f as a non-blocking, poller-managed *os.File. pty.Open
// calls Fd on the master, which puts it into blocking mode: then Close does
// not interrupt a pending Read, and the descriptor is not really closed
// (the device not really unplugged) until that Read returns.
func pollable(f *os.File) (*os.File, error) {
	defer f.Close()
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		return nil, err
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// runLine starts l.Run in a goroutine and returns its cancel and a channel
// with Run's result; cleanup cancels and waits.
func runLine(t *testing.T, l *Line, s Session) (cancel func(), done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	ch := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		ch <- l.Run(ctx, s)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(wait):
			t.Errorf("Run did not return within %v of cancel", wait)
		}
	})
	return cancel, ch
}

func TestPTYInitialise(t *testing.T) {
	t.Parallel()
	slave, _ := openPTY(t)
	rec := newRecorder()
	l, err := New(fastConfig(slave), nil, rec.onState)
	if err != nil {
		t.Fatal(err)
	}
	var sessions atomic.Int32
	runLine(t, l, atSession(&sessions, nil))

	if before := rec.waitFor(t, StateReady); len(before) != 1 || before[0].st != StateInitialising {
		t.Errorf("states before ready: %v, want [initialising]", before)
	}
	st := l.Stats()
	if st.State != StateReady || st.Opens != 1 || st.Failures != 0 {
		t.Errorf("stats %+v: want ready, 1 open, no failures", st)
	}
	if st.BytesOut != 3 || st.BytesIn < 6 {
		t.Errorf("bytes out %d, in %d: want 3 and at least 6", st.BytesOut, st.BytesIn)
	}
}

func TestPTYUnplugAndReplug(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	link := filepath.Join(dir, "usb-modem-if00") // as under /dev/serial/by-id
	slave1, unplug1 := openPTY(t)
	if err := os.Symlink(slave1, link); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	l, err := New(fastConfig(link), nil, rec.onState)
	if err != nil {
		t.Fatal(err)
	}
	var sessions atomic.Int32
	errs := make(chan error, 10)
	runLine(t, l, atSession(&sessions, errs))
	rec.waitFor(t, StateReady)

	// Unplug: the device and its by-id link go away.
	unplug1()
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		t.Logf("session error after the master closed: %v (%T)", err, err)
		if err == nil {
			t.Error("session ended without an error")
		}
	case <-time.After(wait):
		t.Fatal("session did not end after the master closed")
	}
	rec.waitFor(t, StateFailing)
	rec.waitFor(t, StateAbsent)
	if err := l.Stats().LastError; !errors.Is(err, ErrAbsent) {
		t.Errorf("last error %v: want ErrAbsent", err)
	}

	// Replug: a new device at the same path.
	slave2, _ := openPTY(t)
	if err := os.Symlink(slave2, link); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, StateReady)
	if n := sessions.Load(); n < 2 {
		t.Errorf("%d sessions, want at least 2", n)
	}
	if st := l.Stats(); st.Opens < 2 || st.Failures < 2 {
		t.Errorf("stats %+v: want at least 2 opens and 2 failures", st)
	}
}

// fdsOpenOn counts this process's descriptors open on path.
func fdsOpenOn(t *testing.T, path string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	n := 0
	for _, e := range ents {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && target == path {
			n++
		}
	}
	return n
}

// TestPTYCancel is not parallel: it counts goroutines and descriptors.
func TestPTYCancel(t *testing.T) {
	slave, _ := openPTY(t)
	before := fdsOpenOn(t, slave) // the test's own slave descriptor
	rec := newRecorder()
	l, err := New(fastConfig(slave), nil, rec.onState)
	if err != nil {
		t.Fatal(err)
	}
	goroutines := runtimeGoroutines()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	var sessions atomic.Int32
	go func() { done <- l.Run(ctx, atSession(&sessions, nil)) }()
	rec.waitFor(t, StateReady)
	if n := fdsOpenOn(t, slave); n != before+1 {
		t.Errorf("%d descriptors on %s while running, want %d", n, slave, before+1)
	}

	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	case <-time.After(wait):
		t.Fatal("Run did not return after cancel")
	}
	if n := fdsOpenOn(t, slave); n != before {
		t.Errorf("%d descriptors on %s after Run, want %d: port left open", n, slave, before)
	}
	if st := l.Stats().State; st != StateClosed {
		t.Errorf("state %q after Run, want closed", st)
	}
	waitGoroutines(t, goroutines)
}

func TestRunTwice(t *testing.T) {
	t.Parallel()
	slave, _ := openPTY(t)
	l, err := New(fastConfig(slave), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	runLine(t, l, func(ctx context.Context, _ io.ReadWriter, _ func()) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})
	<-started
	if err := l.Run(t.Context(), nil); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run: %v, want ErrRunning", err)
	}
}

func TestAbsentPath(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ttyUSB9")
	rec := newRecorder()
	l, err := New(fastConfig(path), nil, rec.onState)
	if err != nil {
		t.Fatal(err)
	}
	runLine(t, l, func(context.Context, io.ReadWriter, func()) error {
		t.Error("session ran on a missing device")
		return nil
	})
	rec.waitFor(t, StateAbsent)
	if err := l.Stats().LastError; !errors.Is(err, ErrAbsent) || !strings.Contains(err.Error(), path) {
		t.Errorf("last error %v: want ErrAbsent naming %s", err, path)
	}
}

// TestCancelClosesPort: a session that does not watch ctx still ends,
// because Run closes the port under it.
func TestCancelClosesPort(t *testing.T) {
	t.Parallel()
	slave, _ := openPTY(t)
	rec := newRecorder()
	l, err := New(fastConfig(slave), nil, rec.onState)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 1)
	cancel, done := runLine(t, l, func(_ context.Context, rw io.ReadWriter, ready func()) error {
		ready()
		p := make([]byte, 16)
		for {
			if _, err := rw.Read(p); err != nil {
				errs <- err
				return err
			}
		}
	})
	rec.waitFor(t, StateReady)
	cancel()
	select {
	case err := <-errs:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("session read after cancel: %v, want ErrClosed", err)
		}
	case <-time.After(wait):
		t.Fatal("session still reading after cancel")
	}
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v, want context.Canceled", err)
		}
	case <-time.After(wait):
		t.Fatal("Run did not return after cancel")
	}
}
