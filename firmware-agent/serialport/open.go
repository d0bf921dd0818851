package serialport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.bug.st/serial"
)

// ErrAbsent is wrapped by an open error that means the device is not there
// (an unplugged USB adapter, a device server that refuses or does not
// answer); the line reports StateAbsent and keeps retrying.
var ErrAbsent = errors.New("device absent")

// port is an open line: a serial port or a TCP connection.
type port interface {
	io.ReadWriteCloser
}

// open opens the line described by c.
func open(ctx context.Context, c Config) (port, error) {
	if c.isTCP() {
		return openTCP(ctx, c)
	}
	return openSerial(c)
}

func openSerial(c Config) (port, error) {
	var flow *os.File
	if c.Flow == "rtscts" {
		// go.bug.st/serial clears CRTSCTS on open and has no setting for
		// it. Termios belongs to the device, not the descriptor, so set it
		// through a second descriptor opened before serial.Open takes
		// exclusive access (TIOCEXCL).
		f, err := os.OpenFile(c.Path, flowOpenFlags, 0)
		if err != nil {
			return nil, openError(c.Path, err)
		}
		defer f.Close()
		flow = f
	}
	p, err := serial.Open(c.Path, c.mode())
	if err != nil {
		return nil, openError(c.Path, err)
	}
	if err := p.SetReadTimeout(c.ReadTimeout); err != nil {
		p.Close()
		return nil, fmt.Errorf("open %s: read timeout: %w", c.Path, err)
	}
	if flow != nil {
		if err := setRTSCTS(flow); err != nil {
			p.Close()
			return nil, fmt.Errorf("open %s: rts/cts flow control: %w", c.Path, err)
		}
	}
	return p, nil
}

func openError(path string, err error) error {
	var pe *serial.PortError
	if errors.Is(err, fs.ErrNotExist) || (errors.As(err, &pe) && pe.Code() == serial.PortNotFound) {
		return fmt.Errorf("open %s: %w: %w", path, ErrAbsent, err)
	}
	return fmt.Errorf("open %s: %w", path, err)
}

func openTCP(ctx context.Context, c Config) (port, error) {
	addr := strings.TrimPrefix(c.Path, tcpScheme)
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		// Refused, unreachable or silent: the device server is not there.
		return nil, fmt.Errorf("dial %s: %w: %w", addr, ErrAbsent, err)
	}
	return LineConn(conn, c.ReadTimeout), nil
}

// LineConn gives a network connection the read semantics of a serial port
// with a read timeout, as every session expects: a Read with nothing to
// read for timeout returns (0, nil). A listening line's connections (a
// device server dialling in) and tests use it as tcp:// lines do.
func LineConn(conn net.Conn, timeout time.Duration) net.Conn {
	return &timeoutConn{Conn: conn, timeout: timeout}
}

// timeoutConn is LineConn's connection.
type timeoutConn struct {
	net.Conn
	timeout time.Duration
}

func (c *timeoutConn) Read(p []byte) (int, error) {
	if c.timeout > 0 {
		if err := c.Conn.SetReadDeadline(time.Now().Add(c.timeout)); err != nil {
			return 0, err
		}
	}
	n, err := c.Conn.Read(p)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return n, nil
	}
	return n, err
}

// ErrClosed is returned by a session's reads and writes once Run has
// closed the port because ctx ended.
var ErrClosed = errors.New("serialport: port closed")

// guard closes a port once, and never while a Read or Write is in progress:
// go.bug.st/serial's Write does not check that the port is open, and its
// Read closes a window between closing the descriptor and noticing it, so
// either could touch a descriptor number already reused by another open.
// Reads end within ReadTimeout, so Close waits at most that long, unless a
// Write is blocked (see the package caveats).
type guard struct {
	p      port
	mu     sync.RWMutex
	closed bool  // guarded by mu
	err    error // the result of the one p.Close; guarded by mu
}

func (g *guard) Read(b []byte) (int, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.closed {
		return 0, ErrClosed
	}
	return g.p.Read(b)
}

func (g *guard) Write(b []byte) (int, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.closed {
		return 0, ErrClosed
	}
	return g.p.Write(b)
}

func (g *guard) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		g.closed = true
		g.err = g.p.Close()
	}
	return g.err
}

// counter is the io.ReadWriter handed to a session: it counts bytes into
// the line's Stats.
type counter struct {
	rw      io.ReadWriter
	in, out *atomic.Uint64
}

func (c counter) Read(p []byte) (int, error) {
	n, err := c.rw.Read(p)
	c.in.Add(uint64(n))
	return n, err
}

func (c counter) Write(p []byte) (int, error) {
	n, err := c.rw.Write(p)
	c.out.Add(uint64(n))
	return n, err
}
