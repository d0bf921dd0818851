package espa

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Errors of the line roles.
var (
	// ErrLine: reading or writing the line failed; the error wraps the
	// read's or write's.
	ErrLine = errors.New("espa: line failed")
	// ErrTimeout: the other station did not answer in time.
	ErrTimeout = errors.New("espa: no answer")
)

// tokKind is what the lexer found on the line.
type tokKind int

const (
	tokEOT   tokKind = iota + 1
	tokENQ           // <address> ENQ; addr is the character before ENQ (0 if none)
	tokACK           // [prefix] ACK; addr is the prefix (0 if none)
	tokNAK           // [prefix] NAK; addr is the prefix (0 if none)
	tokBlock         // SOH … ETX BCC; raw is the block
)

// token is one thing the other station said.
type token struct {
	kind tokKind
	addr byte
	raw  []byte
}

// lexer cuts the bytes of a line into tokens. Outside a block, printable
// characters are remembered as the address or prefix of the control
// character that follows them, and anything else is noise. Inside a block
// every byte up to ETX is kept (DecodeBlock judges them), then one more,
// the BCC, whatever it is. An SOH inside a block starts it over; an EOT,
// ENQ, ACK or NAK inside one abandons it and counts as itself.
type lexer struct {
	inBlock  bool
	afterETX bool   // the next byte is the BCC
	block    []byte // from SOH
	prev     byte   // the last printable character outside a block, 0 after anything else
}

// partial reports whether a block is half received.
func (l *lexer) partial() bool { return l.inBlock }

// drop forgets a half-received block.
func (l *lexer) drop() {
	l.inBlock, l.afterETX, l.block, l.prev = false, false, l.block[:0], 0
}

// feed takes one byte; ok is true when it completes a token.
func (l *lexer) feed(c byte) (t token, ok bool) {
	if l.inBlock {
		if l.afterETX {
			raw := append(l.block, c)
			l.drop()
			l.block = nil // raw is handed out
			return token{kind: tokBlock, raw: raw}, true
		}
		switch c {
		case ETX:
			l.afterETX = true
		case SOH:
			l.block = l.block[:0]
		case EOT, ENQ, ACK, NAK:
			var addr byte
			if n := len(l.block); n > 0 && printable(l.block[n-1]) {
				addr = l.block[n-1]
			}
			l.drop()
			l.prev = addr
			return l.control(c)
		}
		l.block = append(l.block, c)
		if len(l.block) > MaxBlockLen {
			l.drop() // not a block: wait for the next SOH
		}
		return token{}, false
	}
	switch {
	case c == SOH:
		l.inBlock = true
		l.block = append(l.block[:0], c)
		return token{}, false
	case c == EOT || c == ENQ || c == ACK || c == NAK:
		return l.control(c)
	case printable(c):
		l.prev = c
	default:
		l.prev = 0 // noise: CR, LF, NUL, a space, …
	}
	return token{}, false
}

func (l *lexer) control(c byte) (token, bool) {
	addr := l.prev
	l.prev = 0
	switch c {
	case EOT:
		return token{kind: tokEOT}, true
	case ENQ:
		return token{kind: tokENQ, addr: addr}, true
	case ACK:
		return token{kind: tokACK, addr: addr}, true
	}
	return token{kind: tokNAK, addr: addr}, true
}

// conn reads tokens from a line and writes to it. Reads that return
// (0, nil), as a serial port's read timeout does, are taken as "nothing
// yet", and the deadlines are checked between reads against now.
type conn struct {
	rw   io.ReadWriter
	now  func() time.Time
	lex  lexer
	toks []token // read, not yet taken
	rbuf [256]byte
	// last is when a byte last came.
	last time.Time
}

func newConn(rw io.ReadWriter, now func() time.Time) *conn {
	if now == nil {
		now = time.Now
	}
	return &conn{rw: rw, now: now, last: now()}
}

// write writes b in one Write; a short write without an error counts as
// failed.
func (c *conn) write(b ...byte) error {
	n, err := c.rw.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return fmt.Errorf("%w: write: %w", ErrLine, err)
	}
	return nil
}

// next returns the next token. It returns ErrTimeout once deadline has
// passed (a zero deadline never passes), ctx's error when ctx ended, and
// an error wrapping ErrLine when a read failed. idle, if above 0, drops a
// block left half received that long without a byte.
func (c *conn) next(ctx context.Context, deadline time.Time, idle time.Duration) (token, error) {
	for {
		if len(c.toks) > 0 {
			t := c.toks[0]
			c.toks = c.toks[1:]
			return t, nil
		}
		if err := ctx.Err(); err != nil {
			return token{}, err
		}
		now := c.now()
		if idle > 0 && c.lex.partial() && now.Sub(c.last) >= idle {
			c.lex.drop()
		}
		if !deadline.IsZero() && !now.Before(deadline) {
			return token{}, ErrTimeout
		}
		n, err := c.rw.Read(c.rbuf[:])
		if n > 0 {
			c.last = c.now()
		}
		for _, b := range c.rbuf[:n] {
			if t, ok := c.lex.feed(b); ok {
				c.toks = append(c.toks, t)
			}
		}
		if err != nil && len(c.toks) == 0 {
			return token{}, fmt.Errorf("%w: read: %w", ErrLine, err)
		}
	}
}

// discard forgets what was read and not yet taken: after an abandoned
// exchange, stale answers must not be taken for the next one's.
func (c *conn) discard() {
	c.toks = c.toks[:0]
	c.lex.drop()
}

// lineDefaults sets what both roles' configs share to its default where
// it is zero.
func lineDefaults(timeout *time.Duration, retries *int, now *func() time.Time, log **slog.Logger) {
	if *timeout <= 0 {
		*timeout = DefaultResponseTimeout
	}
	if *retries <= 0 {
		*retries = DefaultMaxRetries
	}
	if *now == nil {
		*now = time.Now
	}
	if *log == nil {
		*log = slog.New(slog.DiscardHandler)
	}
}

// answer waits up to timeout for ACK, NAK or EOT; other tokens are
// dropped.
func (c *conn) answer(ctx context.Context, timeout time.Duration) (token, error) {
	deadline := c.now().Add(timeout)
	for {
		t, err := c.next(ctx, deadline, timeout)
		if err != nil || t.kind == tokACK || t.kind == tokNAK || t.kind == tokEOT {
			return t, err
		}
	}
}

// sent is what became of a block sent by sendBlock.
type sent struct {
	acked    bool // answered ACK
	eot      bool // the other station answered EOT: it took the line back
	naks     int  // answers NAK
	timeouts int  // tries without an answer
}

// sendBlock writes raw and waits up to timeout for its answer, and sends
// it again after NAK or silence, up to retries times.
func (c *conn) sendBlock(ctx context.Context, raw []byte, retries int, timeout time.Duration) (sent, error) {
	var r sent
	for r.naks+r.timeouts <= retries {
		if err := c.write(raw...); err != nil {
			return r, err
		}
		t, err := c.answer(ctx, timeout)
		switch {
		case errors.Is(err, ErrTimeout):
			r.timeouts++
		case err != nil:
			return r, err
		case t.kind == tokACK:
			r.acked = true
			return r, nil
		case t.kind == tokNAK:
			r.naks++
		default:
			r.eot = true
			return r, nil
		}
	}
	return r, nil
}
