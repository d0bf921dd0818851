package tap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// maxPending bounds what conn keeps unread: a terminal that babbles
// without ever ending a reply cannot make it grow without end.
const maxPending = 2 * maxReply

// conn reads and writes a line for the client. It keeps what was read but
// not yet used, with the 8th bit cleared and line noise (LF, NUL)
// dropped. Reads that return (0, nil), as a serial port's read timeout
// does, are taken as "nothing yet".
type conn struct {
	rw   io.ReadWriter
	buf  []byte // read, cleaned, not yet used
	rbuf [512]byte
	// bareLF: an LF that does not follow a CR is taken as CR
	// (ClientConfig.BareLF); afterCR: the last byte read was CR.
	bareLF, afterCR bool
}

// discard forgets everything read so far.
func (c *conn) discard() { c.buf = c.buf[:0] }

// write writes b; a short write without an error counts as failed.
func (c *conn) write(b []byte) (int, error) {
	n, err := c.rw.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return n, fmt.Errorf("%w: write: %w", ErrLine, err)
	}
	return n, nil
}

// fill reads once and appends what it got to buf. It returns ErrTimeout
// when deadline has passed, ctx's error when ctx ended, and an error
// wrapping ErrLine when the read failed (after keeping what it returned).
func (c *conn) fill(ctx context.Context, deadline time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !time.Now().Before(deadline) {
		return ErrTimeout
	}
	n, err := c.rw.Read(c.rbuf[:])
	for _, b := range c.rbuf[:n] {
		if b &= 0x7f; b == 0 {
			continue
		}
		afterCR := c.afterCR
		c.afterCR = b == cr
		switch {
		case b == lf && c.bareLF && !afterCR:
			c.buf = append(c.buf, cr)
		case b != lf:
			c.buf = append(c.buf, b)
		}
	}
	if len(c.buf) > maxPending {
		c.buf = append(c.buf[:0], c.buf[len(c.buf)-maxReply:]...)
	}
	if err != nil {
		return fmt.Errorf("%w: read: %w", ErrLine, err)
	}
	return nil
}

// awaitString reads until s has arrived and drops everything up to and
// including it.
func (c *conn) awaitString(ctx context.Context, d time.Duration, s string) error {
	deadline := time.Now().Add(d)
	for {
		if i := bytes.Index(c.buf, []byte(s)); i >= 0 {
			c.buf = c.buf[i+len(s):]
			return nil
		}
		if err := c.fill(ctx, deadline); err != nil {
			return err
		}
	}
}

// reply reads replies until one whose action want accepts arrives within
// d; the others are dropped.
func (c *conn) reply(ctx context.Context, d time.Duration, want func(Action) bool) (Reply, error) {
	deadline := time.Now().Add(d)
	for {
		r, n, err := ParseReply(c.buf)
		switch {
		case err == nil:
			c.buf = c.buf[n:]
			if want(r.Action) {
				return r, nil
			}
			continue
		case errors.Is(err, ErrTooLong):
			// A screenful without an action: keep only the line being
			// received, if there is one.
			if i := bytes.LastIndexByte(c.buf, cr); i >= 0 {
				c.buf = c.buf[i+1:]
			} else {
				c.buf = c.buf[:0]
			}
			continue
		}
		if err := c.fill(ctx, deadline); err != nil {
			return Reply{}, err
		}
	}
}

func anyAction(Action) bool { return true }
