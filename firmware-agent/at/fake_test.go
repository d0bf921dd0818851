package at

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// wait bounds every wait on an event in the tests; nothing here is about
// how fast things happen.
const wait = 10 * time.Second

// half is one direction of a line: writes never block (a UART buffers),
// reads return (0, nil) after timeout with nothing to read (0: block), and
// io.EOF once closed and drained, as a hung-up tty does.
type half struct {
	mu     sync.Mutex
	buf    []byte
	closed bool
	signal chan struct{}
}

func newHalf() *half { return &half{signal: make(chan struct{}, 1)} }

func (h *half) write(p []byte) (int, error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return 0, io.ErrClosedPipe
	}
	h.buf = append(h.buf, p...)
	h.mu.Unlock()
	select {
	case h.signal <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (h *half) read(p []byte, timeout time.Duration) (int, error) {
	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	for {
		h.mu.Lock()
		if len(h.buf) > 0 {
			n := copy(p, h.buf)
			h.buf = h.buf[n:]
			h.mu.Unlock()
			return n, nil
		}
		closed := h.closed
		h.mu.Unlock()
		if closed {
			return 0, io.EOF
		}
		select {
		case <-h.signal:
		case <-expired:
			return 0, nil
		}
	}
}

func (h *half) close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	select {
	case h.signal <- struct{}{}:
	default:
	}
}

// end is one end of a line.
type end struct {
	in, out *half
	timeout time.Duration
}

func (e end) Read(p []byte) (int, error)  { return e.in.read(p, e.timeout) }
func (e end) Write(p []byte) (int, error) { return e.out.write(p) }

// newLine returns the agent's end (reads time out, as serialport's do)
// and the modem's end (reads block).
func newLine() (agent, modem end) {
	a, b := newHalf(), newHalf()
	return end{in: a, out: b, timeout: 5 * time.Millisecond}, end{in: b, out: a}
}

// fakeModem answers command lines through handle; tests script it and
// inject bytes with send. It records what it received.
type fakeModem struct {
	t    *testing.T
	port end

	mu     sync.Mutex
	echo   bool
	handle func(cmd string) string // reply to a command line; nil: the defaults
	onData func(data string) string
	got    []string // command lines and "DATA:<pdu>" / "ESC"
	raw    []byte
	silent bool // answer nothing at all
	change chan struct{}
}

func newFakeModem(t *testing.T, port end) *fakeModem {
	fm := &fakeModem{t: t, port: port, change: make(chan struct{})}
	go fm.serve()
	return fm
}

// defaultReply is a well-behaved modem.
func defaultReply(cmd string) string {
	switch strings.ToUpper(cmd) {
	case "AT", "ATE0", "ATE1", "AT+CMEE=1", "AT+CMEE=2":
		return "\r\nOK\r\n"
	case "AT+CMEE?":
		return "\r\n+CMEE: 1\r\n\r\nOK\r\n"
	case "AT+CSQ":
		return "\r\n+CSQ: 20,99\r\n\r\nOK\r\n"
	case "AT+CGMI":
		return "\r\nPagebridge\r\n\r\nOK\r\n"
	case "AT+CREG?":
		return "\r\n+CREG: 0,1\r\n\r\nOK\r\n"
	}
	if strings.HasPrefix(strings.ToUpper(cmd), "AT+CMGS=") {
		return "\r\n> "
	}
	return "\r\nERROR\r\n"
}

func (fm *fakeModem) serve() {
	buf := make([]byte, 512)
	var line []byte
	prompt := false
	for {
		n, err := fm.port.Read(buf)
		if err != nil {
			return
		}
		fm.mu.Lock()
		fm.raw = append(fm.raw, buf[:n]...)
		fm.mu.Unlock()
		for _, c := range buf[:n] {
			fm.mu.Lock()
			echo, silent := fm.echo, fm.silent
			fm.mu.Unlock()
			if echo && !silent {
				fm.send(string([]byte{c}))
			}
			switch {
			case prompt && c == ctrlZ:
				prompt = false
				data := string(line)
				line = line[:0]
				fm.record("DATA:" + data)
				fm.mu.Lock()
				on := fm.onData
				fm.mu.Unlock()
				reply := "\r\n+CMGS: 42\r\n\r\nOK\r\n"
				if on != nil {
					reply = on(data)
				}
				if !silent {
					fm.send(reply)
				}
			case c == esc:
				line = line[:0]
				fm.record("ESC")
				if prompt {
					prompt = false
					if !silent {
						fm.send("\r\nOK\r\n")
					}
				}
			case prompt:
				line = append(line, c)
			case c == '\r':
				cmd := string(line)
				line = line[:0]
				if cmd == "" {
					continue
				}
				fm.record(cmd)
				fm.mu.Lock()
				h := fm.handle
				fm.mu.Unlock()
				reply := ""
				if h != nil {
					reply = h(cmd)
				} else {
					reply = defaultReply(cmd)
				}
				if reply == "\r\n> " || strings.HasSuffix(reply, "> ") {
					prompt = true
				}
				if !silent {
					fm.send(reply)
				}
			case c == '\n':
			default:
				line = append(line, c)
			}
		}
	}
}

func (fm *fakeModem) record(s string) {
	fm.mu.Lock()
	fm.got = append(fm.got, s)
	close(fm.change)
	fm.change = make(chan struct{})
	fm.mu.Unlock()
}

// send writes raw bytes to the agent.
func (fm *fakeModem) send(s string) {
	if s != "" {
		fm.port.Write([]byte(s))
	}
}

func (fm *fakeModem) set(f func(fm *fakeModem)) {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	f(fm)
}

func (fm *fakeModem) received() []string {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	return append([]string(nil), fm.got...)
}

// waitGot waits until the modem received a line for which pred holds.
func (fm *fakeModem) waitGot(pred func(string) bool) {
	fm.t.Helper()
	deadline := time.After(wait)
	for {
		fm.mu.Lock()
		got, ch := fm.got, fm.change
		fm.mu.Unlock()
		for _, g := range got {
			if pred(g) {
				return
			}
		}
		select {
		case <-ch:
		case <-deadline:
			fm.t.Fatalf("modem never received the line; got %q", got)
		}
	}
}

// unplug closes both directions: the agent reads EOF, its writes fail.
func (fm *fakeModem) unplug() {
	fm.port.in.close()
	fm.port.out.close()
}

// urcs collects URCs on a channel.
type urcs chan URC

func (u urcs) on(x URC) { u <- x }

func (u urcs) next(t *testing.T) URC {
	t.Helper()
	select {
	case x := <-u:
		return x
	case <-time.After(wait):
		t.Fatal("no URC")
		return URC{}
	}
}

// fastOptions are short resync timings, so that fault tests run quickly;
// they do not decide any outcome.
func fastOptions(u urcs) Options {
	o := Options{Timeout: 2 * time.Second, Quiet: 5 * time.Millisecond, ResyncTimeout: 2 * time.Second}
	if u != nil {
		o.OnURC = u.on
	}
	return o
}

// start returns an engine talking to a fake modem; both are cleaned up.
func start(t *testing.T, opts Options) (*Engine, *fakeModem) {
	t.Helper()
	agent, modem := newLine()
	fm := newFakeModem(t, modem)
	e := New(agent, opts)
	t.Cleanup(func() {
		e.Close()
		fm.unplug()
	})
	return e, fm
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

func mustExec(t *testing.T, e *Engine, cmd string, want ...string) {
	t.Helper()
	info, err := e.Exec(ctxT(t), cmd)
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	if !equal(info, want) {
		t.Fatalf("%s: info %q, want %q", cmd, info, want)
	}
}

func equal(a, b []string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func hasByte(s []byte, c byte) bool { return bytes.IndexByte(s, c) >= 0 }
