package espa

import (
	"bytes"
	"io"
	"sync"
	"testing"
	"time"
)

// wireEnd is one end of an in-memory serial line: reads time out with
// (0, nil) after readTimeout, as a serial port's do. Inside a synctest
// bubble its timeouts cost no real time.
type wireEnd struct {
	in, out chan []byte
	closed  chan struct{}
	once    *sync.Once
	pending []byte

	mu      sync.Mutex
	written []byte // everything this end wrote
}

const readTimeout = 10 * time.Millisecond

// wire returns the two ends of a line.
func wire() (a, b *wireEnd) {
	ab, ba := make(chan []byte, 1024), make(chan []byte, 1024)
	closed, once := make(chan struct{}), &sync.Once{}
	return &wireEnd{in: ba, out: ab, closed: closed, once: once}, &wireEnd{in: ab, out: ba, closed: closed, once: once}
}

func (w *wireEnd) Read(p []byte) (int, error) {
	if len(w.pending) == 0 {
		t := time.NewTimer(readTimeout)
		defer t.Stop()
		select {
		case b := <-w.in:
			w.pending = b
		case <-t.C:
			return 0, nil
		case <-w.closed:
			return 0, io.EOF
		}
	}
	n := copy(p, w.pending)
	w.pending = w.pending[n:]
	return n, nil
}

func (w *wireEnd) Write(p []byte) (int, error) {
	select {
	case <-w.closed:
		return 0, io.ErrClosedPipe
	default:
	}
	w.mu.Lock()
	w.written = append(w.written, p...)
	w.mu.Unlock()
	w.out <- bytes.Clone(p)
	return len(p), nil
}

// Close hangs up both ends.
func (w *wireEnd) Close() error {
	w.once.Do(func() { close(w.closed) })
	return nil
}

// Written returns what this end wrote so far.
func (w *wireEnd) Written() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Clone(w.written)
}

// peer drives the other end of a line by hand.
type peer struct {
	t testing.TB
	w *wireEnd
}

func (p peer) send(b ...byte) {
	p.t.Helper()
	if _, err := p.w.Write(b); err != nil {
		p.t.Fatal(err)
	}
}

// expect reads exactly len(want) bytes, waiting up to d, and fails if
// they are not want.
func (p peer) expect(d time.Duration, want ...byte) {
	p.t.Helper()
	got := p.read(d, len(want))
	if !bytes.Equal(got, want) {
		p.t.Fatalf("peer got %q, want %q", got, want)
	}
}

// read reads n bytes, or what came within d.
func (p peer) read(d time.Duration, n int) []byte {
	deadline := time.Now().Add(d)
	var got []byte
	buf := make([]byte, n)
	for len(got) < n && time.Now().Before(deadline) {
		k, err := p.w.Read(buf[:n-len(got)])
		got = append(got, buf[:k]...)
		if err != nil {
			break
		}
	}
	return got
}

// silent fails if anything comes within d.
func (p peer) silent(d time.Duration) {
	p.t.Helper()
	if got := p.read(d, 1); len(got) > 0 {
		p.t.Fatalf("peer got %q, want silence", got)
	}
}
