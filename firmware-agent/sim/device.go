package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// Errors returned by a Device.
var (
	// ErrClosed: the device was closed; it cannot be plugged again.
	ErrClosed = errors.New("sim: device closed")
	// ErrPlugged: Plug on a device that is already plugged in.
	ErrPlugged = errors.New("sim: device already plugged in")
	// ErrUnplugged: Unplug on a device that is not plugged in.
	ErrUnplugged = errors.New("sim: device not plugged in")
)

// Responder is a device's protocol: bytes in, replies out. The device
// goroutine calls Respond with each chunk as it was read from the line;
// chunks may split a command anywhere, so a Responder buffers what it
// needs. Respond returns the bytes to write back (nil for none). A
// Responder is used by one goroutine only and needs no locking.
type Responder interface {
	Respond(in []byte) (out []byte)
}

// Device is a simulated serial device on the master side of a pty pair.
// The agent opens Path(), a stable symlink (like /dev/serial/by-id/…)
// that points at the current pty slave while the device is plugged in.
//
// One goroutine per plug-in reads the master, records every byte and
// writes the Responder's replies. Each Plug starts a fresh Responder, as
// a power-cycled device would.
type Device struct {
	path         string
	newResponder func() Responder
	pace         pace // the line's speed and the device's reply delay

	opMu sync.Mutex // serialises Plug, Unplug and Close

	mu       sync.Mutex    // guards the fields below
	received []byte        // every byte read from the line since NewDevice
	sent     []byte        // every byte written to the line since NewDevice
	changed  chan struct{} // closed and replaced whenever received grows, and on Close
	conn     *conn         // the current pty pair; nil while unplugged
	closed   bool
}

// conn is one plug-in: a pty pair and the goroutine serving it.
type conn struct {
	ptmx *os.File      // master; read and written only by the serve goroutine, closed by Unplug
	tty  *os.File      // slave, held open so the master never sees EIO when the agent closes its end
	done chan struct{} // closed when the serve goroutine has returned
	stop chan struct{} // closed by unplug: a paced serve stops waiting
}

// NewDevice creates a device whose symlink is dir/name, plugs it in and
// starts answering with responders made by newResponder.
func NewDevice(dir, name string, newResponder func() Responder) (*Device, error) {
	return newDevice(dir, name, newResponder, pace{})
}

// newDevice is NewDevice with a paced line (see pace).
func newDevice(dir, name string, newResponder func() Responder, p pace) (*Device, error) {
	if name == "" || strings.ContainsRune(name, '/') {
		return nil, fmt.Errorf("sim: bad device name %q", name)
	}
	d := &Device{
		path:         filepath.Join(dir, name),
		newResponder: newResponder,
		pace:         p,
		changed:      make(chan struct{}),
	}
	if err := d.Plug(); err != nil {
		return nil, err
	}
	return d, nil
}

// Path is the symlink the agent opens. It exists only while the device is
// plugged in.
func (d *Device) Path() string { return d.path }

// Received returns a copy of every raw byte the device has read from the
// line since it was created, across reconnects.
func (d *Device) Received() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return bytes.Clone(d.received)
}

// Sent returns a copy of every raw byte the device has written to the
// line since it was created, across reconnects: a reply is there before
// the agent can read it. Bytes written into a pty nobody reads stay in its
// buffer and are lost on Unplug.
func (d *Device) Sent() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return bytes.Clone(d.sent)
}

// WaitFor blocks until pred, given a copy of Received(), returns true. It
// returns ctx's error wrapped if ctx ends first, and ErrClosed if the
// device is closed while pred is still false.
func (d *Device) WaitFor(ctx context.Context, pred func(received []byte) bool) error {
	for {
		d.mu.Lock()
		rec, ch, closed := bytes.Clone(d.received), d.changed, d.closed
		d.mu.Unlock()
		if pred(rec) {
			return nil
		}
		if closed {
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("sim: wait for %s: %w", d.path, ctx.Err())
		}
	}
}

// Plug opens a new pty pair, points the symlink at its slave and starts
// answering.
func (d *Device) Plug() error {
	d.opMu.Lock()
	defer d.opMu.Unlock()
	d.mu.Lock()
	closed, plugged := d.closed, d.conn != nil
	d.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case plugged:
		return ErrPlugged
	}

	ptmx, tty, err := openPTY()
	if err != nil {
		return fmt.Errorf("sim: open pty: %w", err)
	}
	if err := makeRaw(tty); err != nil {
		ptmx.Close()
		tty.Close()
		return fmt.Errorf("sim: raw mode on %s: %w", tty.Name(), err)
	}
	if err := symlinkAtomic(tty.Name(), d.path); err != nil {
		ptmx.Close()
		tty.Close()
		return fmt.Errorf("sim: link %s: %w", d.path, err)
	}
	c := &conn{ptmx: ptmx, tty: tty, done: make(chan struct{}), stop: make(chan struct{})}
	d.mu.Lock()
	d.conn = c
	d.mu.Unlock()
	if d.pace.on() {
		go d.servePaced(c, d.newResponder())
	} else {
		go d.serve(c, d.newResponder())
	}
	return nil
}

// Unplug removes the symlink and closes the pty pair: the agent's open
// port hangs up (on Linux reads return EOF, writes EIO) and the path is gone
// until Plug. The recording is kept.
func (d *Device) Unplug() error {
	d.opMu.Lock()
	defer d.opMu.Unlock()
	d.mu.Lock()
	c, closed := d.conn, d.closed
	d.conn = nil
	d.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case c == nil:
		return ErrUnplugged
	}
	return d.unplug(c)
}

func (d *Device) unplug(c *conn) error {
	errLink := os.Remove(d.path)
	if errors.Is(errLink, os.ErrNotExist) {
		errLink = nil // someone removed it for us; the device is gone either way
	}
	close(c.stop)
	errM := c.ptmx.Close() // wakes the serve goroutine
	<-c.done
	errS := c.tty.Close()
	if err := errors.Join(errLink, errM, errS); err != nil {
		return fmt.Errorf("sim: unplug %s: %w", d.path, err)
	}
	return nil
}

// Close unplugs the device if it is plugged in, waits for its goroutine
// and wakes every WaitFor. The recording stays readable.
func (d *Device) Close() error {
	d.opMu.Lock()
	defer d.opMu.Unlock()
	d.mu.Lock()
	c, closed := d.conn, d.closed
	d.conn = nil
	if !closed {
		d.closed = true
		close(d.changed)
	}
	d.mu.Unlock()
	if closed || c == nil {
		return nil
	}
	return d.unplug(c)
}

// serve reads the master until it is closed, recording and answering.
func (d *Device) serve(c *conn, r Responder) {
	defer close(c.done)
	buf := make([]byte, 4096)
	for {
		n, err := c.ptmx.Read(buf)
		if n > 0 {
			d.record(buf[:n])
			if out := r.Respond(buf[:n]); len(out) > 0 {
				if _, werr := d.writeConn(c, out); werr != nil {
					return
				}
			}
		}
		if err != nil {
			// Closed by Unplug or Close. The slave is held open, so the
			// master sees no EIO while plugged in.
			return
		}
	}
}

// write writes p to the line from the device's side, as the device
// speaking first does (a sender), and records it in Sent. It fails with
// ErrUnplugged while the device is unplugged.
func (d *Device) write(p []byte) (int, error) {
	d.mu.Lock()
	c := d.conn
	d.mu.Unlock()
	if c == nil {
		return 0, ErrUnplugged
	}
	return d.writeConn(c, p)
}

// writeConn writes p to c's master and records it in Sent. It records p
// before the write, so that a peer that has read a reply finds it in
// Sent(), and takes back what the write did not get out.
func (d *Device) writeConn(c *conn, p []byte) (int, error) {
	d.mu.Lock()
	d.sent = append(d.sent, p...)
	d.mu.Unlock()
	n, err := c.ptmx.Write(p)
	if n < len(p) {
		d.mu.Lock()
		d.sent = d.sent[:len(d.sent)-(len(p)-n)]
		d.mu.Unlock()
	}
	return n, err
}

// plugged reports whether the device is plugged in.
func (d *Device) plugged() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.conn != nil
}

func (d *Device) record(p []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.received = append(d.received, p...)
	if !d.closed {
		close(d.changed)
		d.changed = make(chan struct{})
	}
}

// openPTY opens a pty pair whose master is in Go's poller, so that
// closing it wakes a blocked Read. pty.Open's master is blocking (its
// ioctls call Fd), and a blocking Read would hold Close off forever; so
// the master is duplicated into a non-blocking descriptor.
func openPTY() (ptmx, tty *os.File, err error) {
	p, tty, err := pty.Open()
	if err != nil {
		return nil, nil, err
	}
	defer p.Close()
	fd, err := unix.FcntlInt(p.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err == nil {
		err = unix.SetNonblock(fd, true)
		if err != nil {
			unix.Close(fd)
		}
	}
	if err != nil {
		tty.Close()
		return nil, nil, err
	}
	return os.NewFile(uintptr(fd), p.Name()), tty, nil
}

// makeRaw puts the pty slave in raw mode (cfmakeraw): no echo, no CR/LF
// translation, no signals, 8 bits, so the bytes on the line are exactly
// the bytes written. The master side of a Linux pty is raw already.
func makeRaw(tty *os.File) error {
	rc, err := tty.SyscallConn() // not Fd(): that would make the file blocking
	if err != nil {
		return err
	}
	var opErr error
	err = rc.Control(func(fd uintptr) {
		t, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
		if err != nil {
			opErr = err
			return
		}
		t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF
		t.Oflag &^= unix.OPOST
		t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		t.Cflag &^= unix.CSIZE | unix.PARENB
		t.Cflag |= unix.CS8
		t.Cc[unix.VMIN] = 1
		t.Cc[unix.VTIME] = 0
		opErr = unix.IoctlSetTermios(int(fd), unix.TCSETS, t)
	})
	return errors.Join(err, opErr)
}

// symlinkAtomic points link at target, replacing whatever is there.
func symlinkAtomic(target, link string) error {
	tmp := link + ".new"
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
