package tap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// ClientConfig configures a Client. The zero value of each field means
// its default; the defaults are sendpage's (T1–T3, N1–N3 of its TAP
// driver).
type ClientConfig struct {
	// Password is sent with the logon, ESC PG1<password>: at most 6
	// printable characters; empty for none.
	Password string
	// NoLogon is for terminals that take blocks without a logon: Logon
	// sends nothing (but EOT to end a session left open), and Send goes
	// straight to the blocks.
	NoLogon bool

	// IDWait is how long to wait for "ID=" after each CR; IDTries how many
	// CRs to send. Defaults 2s and 3.
	IDWait  time.Duration
	IDTries int
	// LogonWait is how long to wait for the answer to ESC PG1;
	// LogonTries how often to send it when the terminal answers NAK or
	// nothing. Defaults 10s and 3.
	LogonWait  time.Duration
	LogonTries int
	// GoAheadWait is how long to wait for ESC [p after the logon's ACK.
	// Default 10s.
	GoAheadWait time.Duration
	// ReplyWait is how long to wait for the answer to a block. Default
	// 10s.
	ReplyWait time.Duration
	// Resends is how often a block the terminal answers NAK is sent
	// again before the page counts as failed temporarily. Default 3 (so
	// at most 4 sends).
	Resends int
	// LogoffWait is how long to wait for the answer to EOT. Default 2s.
	LogoffWait time.Duration

	// MaxPagesPerSession, if above 0, is how many pages go in one session:
	// before the next page Send ends the session (EOT) and logs on again,
	// for terminals that limit a session (PageGate: 25). 0: no limit.
	MaxPagesPerSession int
	// BareLF is for terminals that end reply lines with LF alone: an LF
	// that does not follow a CR is taken as CR. Without it LF is line
	// noise (which is right for CR LF terminals such as Zetron's ID=).
	BareLF bool
	// NoChecksum writes blocks without their 3 checksum characters,
	// <STX>id<CR>text<CR><ETX><CR>, for receivers configured to take no
	// checksum (and for simulating senders that send none).
	NoChecksum bool
}

// Client defaults.
const (
	DefaultIDWait      = 2 * time.Second
	DefaultIDTries     = 3
	DefaultLogonWait   = 10 * time.Second
	DefaultLogonTries  = 3
	DefaultGoAheadWait = 10 * time.Second
	DefaultReplyWait   = 10 * time.Second
	DefaultResends     = 3
	DefaultLogoffWait  = 2 * time.Second
)

func (c ClientConfig) withDefaults() ClientConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(n *int, v int) {
		if *n <= 0 {
			*n = v
		}
	}
	def(&c.IDWait, DefaultIDWait)
	defInt(&c.IDTries, DefaultIDTries)
	def(&c.LogonWait, DefaultLogonWait)
	defInt(&c.LogonTries, DefaultLogonTries)
	def(&c.GoAheadWait, DefaultGoAheadWait)
	def(&c.ReplyWait, DefaultReplyWait)
	defInt(&c.Resends, DefaultResends)
	def(&c.LogoffWait, DefaultLogoffWait)
	return c
}

// Errors of the session (Logon, Logoff) and causes of a SendError.
var (
	// ErrLine wraps a failed read or write: the port is gone or closed.
	ErrLine = errors.New("tap: line failed")
	// ErrTimeout: the terminal did not answer in time.
	ErrTimeout = errors.New("tap: no answer in time")
	// ErrNoPrompt: the terminal sent no "ID=" for any of the CRs.
	ErrNoPrompt = errors.New("tap: no ID= prompt")
	// ErrRefused: the terminal refused the logon (ESC EOT or RS), or
	// answered NAK to every try.
	ErrRefused = errors.New("tap: logon refused")
	// ErrPassword: the configured password cannot be sent.
	ErrPassword = errors.New("tap: password must be at most 6 printable characters")
	// ErrNotLoggedOn: Send before a successful Logon, or after the session
	// ended (ESC EOT) or was left in doubt (an unknown outcome).
	ErrNotLoggedOn = errors.New("tap: not logged on")
	// ErrDisconnected: the terminal ended the session (ESC EOT).
	ErrDisconnected = errors.New("tap: terminal disconnected")
	// ErrNAK: the terminal answered NAK to the block and to every resend.
	ErrNAK = errors.New("tap: terminal answered NAK to every send")
	// ErrRS: the terminal dropped the page (RS).
	ErrRS = errors.New("tap: terminal dropped the page (RS)")
)

// Outcomes of a page that was not accepted. Every error Send returns is a
// *SendError that wraps exactly one of them.
var (
	// ErrPermanent: the page failed and sending it again will not help:
	// the terminal dropped it (RS) with its code, or TAP cannot carry it.
	ErrPermanent = errors.New("tap: page failed permanently")
	// ErrTemporary: the page was not accepted and may be sent again: the
	// terminal answered NAK to every send, disconnected, or nothing that
	// could complete the page reached the line.
	ErrTemporary = errors.New("tap: page failed temporarily")
	// ErrUnknown: the page's last block was written but no answer came,
	// or the line failed after the write: the page may or may not have
	// gone out. Sending it again may page twice.
	ErrUnknown = errors.New("tap: page outcome unknown")
)

// SendError is the error Send returns for a page that was not accepted.
type SendError struct {
	// Outcome is ErrPermanent, ErrTemporary or ErrUnknown.
	Outcome error
	// Reply is the terminal's last reply to the page (its Code tells
	// why), zero if it sent none.
	Reply Reply
	// Sends counts the blocks written for the page, resends included.
	Sends int
	// Err is the cause: ErrRS, ErrNAK, ErrDisconnected, ErrTimeout,
	// ErrNotLoggedOn, ErrInvalidPage, ErrTooLong, a line error (ErrLine),
	// ctx's error, or Logon's when Send had to start a new session.
	Err error
}

func (e *SendError) Error() string {
	var b strings.Builder
	b.WriteString(e.Outcome.Error())
	if e.Reply.Action != NoAction {
		fmt.Fprintf(&b, " (terminal: %v)", e.Reply)
	}
	b.WriteString(": ")
	b.WriteString(strings.TrimPrefix(e.Err.Error(), "tap: "))
	return b.String()
}

// Unwrap returns the outcome and the cause, for errors.Is.
func (e *SendError) Unwrap() []error { return []error{e.Outcome, e.Err} }

// Client sends pages to a paging terminal over one line: Logon, Send for
// each page, Logoff. It reads rw itself and copes with reads that return
// (0, nil) on a read timeout, as serialport's do. A Client is used by one
// goroutine, the line's session.
type Client struct {
	cfg ClientConfig
	c   conn
	// loggedOn: the terminal gave the go-ahead (or NoLogon) and nothing
	// since left the session in doubt.
	loggedOn bool
	// unsure: the terminal may still be inside a session or a page (an
	// answer did not come, a page was cut off after some of its blocks);
	// the next Logon ends it with EOT first.
	unsure bool
	// pages counts the pages begun in this session; full: the terminal
	// said the session takes no more (112, 113). Either makes Send start
	// a new session first.
	pages int
	full  bool
}

// NewClient returns a client on rw, not logged on. cfg's zero fields take
// their defaults.
func NewClient(rw io.ReadWriter, cfg ClientConfig) *Client {
	return &Client{cfg: cfg.withDefaults(), c: conn{rw: rw, bareLF: cfg.BareLF}}
}

// LoggedOn reports whether Send may be called.
func (c *Client) LoggedOn() bool { return c.loggedOn }

// Logon opens a session: CR until the terminal answers "ID=" (IDTries
// times), then ESC PG1[password] CR until it answers ACK and the go-ahead
// ESC [p, or the go-ahead alone (LogonTries times when it answers NAK or
// nothing). A session that may still be open (an earlier Logon, an
// unknown outcome) is ended with EOT first; so is one the terminal seems
// stuck in when no "ID=" comes. Errors: ErrNoPrompt, ErrRefused,
// ErrTimeout (no go-ahead), ErrPassword, ErrLine, or ctx's.
func (c *Client) Logon(ctx context.Context) error {
	if !validPassword(c.cfg.Password) {
		return ErrPassword
	}
	if c.loggedOn || c.unsure {
		if err := c.endSession(ctx); errors.Is(err, ErrLine) || ctx.Err() != nil {
			return fmt.Errorf("tap: logon: %w", err)
		}
	}
	c.pages, c.full = 0, false
	if c.cfg.NoLogon {
		c.c.discard()
		c.loggedOn, c.unsure = true, false
		return nil
	}
	err := c.probe(ctx)
	if errors.Is(err, ErrNoPrompt) {
		// A terminal inside a session may ignore CR: end the session and
		// ask once more.
		if err := c.endSession(ctx); errors.Is(err, ErrLine) || ctx.Err() != nil {
			return fmt.Errorf("tap: logon: %w", err)
		}
		err = c.probe(ctx)
	}
	if err != nil {
		return fmt.Errorf("tap: logon: %w", err)
	}
	logon := []byte("\x1bPG1" + c.cfg.Password + "\r")
	var last Reply
	for range c.cfg.LogonTries {
		c.c.discard()
		if _, err := c.c.write(logon); err != nil {
			return fmt.Errorf("tap: logon: %w", err)
		}
		r, err := c.c.reply(ctx, c.cfg.LogonWait, anyAction)
		switch {
		case errors.Is(err, ErrTimeout):
			continue
		case err != nil:
			return fmt.Errorf("tap: logon: %w", err)
		}
		last = r
		switch r.Action {
		case GoAhead: // no ACK first, as some terminals do
			c.loggedOn, c.unsure = true, false
			return nil
		case ACK:
			_, err := c.c.reply(ctx, c.cfg.GoAheadWait, func(a Action) bool { return a == GoAhead })
			if err != nil {
				c.unsure = true
				return fmt.Errorf("tap: logon: waiting for the go-ahead: %w", err)
			}
			c.loggedOn, c.unsure = true, false
			return nil
		case NAK:
			continue
		default: // RS, ESC EOT
			return fmt.Errorf("tap: logon: terminal answered %v: %w", r, ErrRefused)
		}
	}
	c.unsure = true
	if last.Action == NoAction {
		return fmt.Errorf("tap: logon: %w", ErrTimeout)
	}
	return fmt.Errorf("tap: logon: terminal answered %v to %d tries: %w", last, c.cfg.LogonTries, ErrRefused)
}

// probe sends CR until "ID=" arrives.
func (c *Client) probe(ctx context.Context) error {
	for range c.cfg.IDTries {
		c.c.discard()
		if _, err := c.c.write([]byte{cr}); err != nil {
			return err
		}
		err := c.c.awaitString(ctx, c.cfg.IDWait, "ID=")
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, ErrTimeout):
			return err
		}
	}
	return ErrNoPrompt
}

// endSession sends EOT CR and waits for the answer: ESC EOT (goodbye) or
// RS (the terminal says the session was broken). Either way, and also
// when nothing comes, the session is over for the Client.
func (c *Client) endSession(ctx context.Context) error {
	c.loggedOn = false
	c.c.discard()
	if _, err := c.c.write([]byte{eot, cr}); err != nil {
		c.unsure = true
		return err
	}
	r, err := c.c.reply(ctx, c.cfg.LogoffWait, func(a Action) bool { return a == Disconnect || a == RS })
	if err != nil {
		c.unsure = true
		return err
	}
	c.unsure = false
	if r.Action == RS {
		return fmt.Errorf("tap: terminal answered %v to EOT", r)
	}
	return nil
}

// Logoff ends the session: EOT CR, answered by ESC EOT (and usually a 115
// line). It returns ErrTimeout if no answer came, an error if the
// terminal answered RS (it says the session was broken), ErrLine. The
// Client is logged off in every case.
func (c *Client) Logoff(ctx context.Context) error {
	if err := c.endSession(ctx); err != nil {
		return fmt.Errorf("tap: logoff: %w", err)
	}
	return nil
}

// Send sends one page and returns the terminal's reply to its last block.
// A nil error means the terminal accepted the page (ACK): Reply.Code is
// normally 211, or 212/213/214 when it truncated the message or holds the
// page (Reply.Truncated, Reply.Deferred). Any other result is a
// *SendError whose Outcome tells what the caller may do:
//
//   - ErrPermanent: dropped by the terminal (RS, with its code in Reply)
//     or a page TAP cannot carry. The session goes on.
//   - ErrTemporary: not accepted (NAK to every send, ESC EOT, not logged
//     on, a new session that could not be opened, ctx ended before the
//     last block was written); send it again.
//   - ErrUnknown: the last block was written and no decisive answer came
//     (timeout, line failure, ctx ended). The page may have gone out.
//
// Send starts a new session (Logon, which ends the old one with EOT)
// before the page when MaxPagesPerSession pages went in this one, or the
// terminal said it takes no more (112 or 113 with an ACK). A page
// answered 112 or 113 with NAK or RS was not taken because the session
// is full: Send starts a new session and sends the page again, once.
//
// After ESC EOT, and after an unknown or cut-off page, the Client is not
// logged on: call Logon again before the next page, which first ends the
// session the terminal may still be in, so a late answer cannot be taken
// for the next page's.
func (c *Client) Send(ctx context.Context, p Page) (Reply, error) {
	blocks, err := EncodePage(p)
	if err != nil {
		return Reply{}, &SendError{Outcome: ErrPermanent, Err: err}
	}
	if c.cfg.NoChecksum {
		for i, b := range blocks {
			blocks[i] = append(b[:len(b)-4], cr)
		}
	}
	if !c.loggedOn {
		return Reply{}, &SendError{Outcome: ErrTemporary, Err: ErrNotLoggedOn}
	}
	var last Reply
	sends := 0
	fail := func(outcome, cause error) (Reply, error) {
		return last, &SendError{Outcome: outcome, Reply: last, Sends: sends, Err: cause}
	}
	renewed := false // a session limit made Send start a new session for this page
	if c.full || c.cfg.MaxPagesPerSession > 0 && c.pages >= c.cfg.MaxPagesPerSession {
		if err := c.Logon(ctx); err != nil {
			return fail(ErrTemporary, err)
		}
	}
	c.pages++
page:
	for i := 0; i < len(blocks); i++ {
		b := blocks[i]
		final := i == len(blocks)-1
		if i > 0 {
			// The terminal holds the blocks so far: a page cut off now
			// leaves it mid-page.
			c.unsure = true
		}
		for try := 0; ; try++ {
			if err := ctx.Err(); err != nil {
				c.loggedOn = c.loggedOn && !c.unsure
				return fail(ErrTemporary, err)
			}
			c.c.discard()
			n, err := c.c.write(b)
			sends++
			if err != nil {
				c.loggedOn, c.unsure = false, true
				if final && n > 0 {
					// Part of the last block is out: a terminal that does
					// not wait for the checksum may have taken it.
					return fail(ErrUnknown, err)
				}
				return fail(ErrTemporary, err)
			}
			r, err := c.c.reply(ctx, c.cfg.ReplyWait, func(a Action) bool { return a != GoAhead })
			if err != nil {
				c.loggedOn, c.unsure = false, true
				if final {
					return fail(ErrUnknown, err)
				}
				// Without its last block the terminal cannot have the
				// page.
				return fail(ErrTemporary, err)
			}
			last = r
			limit := r.Code() == CodeMaxPages || r.Code() == CodeMaxTime
			c.full = c.full || limit
			if limit && !renewed && (r.Action == NAK || r.Action == RS) {
				// Not taken because the session is full: the page goes
				// again, whole, in a new session.
				renewed = true
				if err := c.Logon(ctx); err != nil {
					return fail(ErrTemporary, err)
				}
				c.pages++
				i = -1
				continue page
			}
			switch r.Action {
			case ACK:
				if final {
					c.unsure = false
					return r, nil
				}
			case NAK:
				if try < c.cfg.Resends {
					continue
				}
				c.loggedOn = !c.unsure
				return fail(ErrTemporary, ErrNAK)
			case RS:
				// The terminal dropped the page, blocks so far included.
				c.unsure = false
				if limit {
					// For the session's limit, even in a new one: not the
					// page's fault.
					return fail(ErrTemporary, ErrRS)
				}
				return fail(ErrPermanent, ErrRS)
			default: // Disconnect
				c.loggedOn, c.unsure = false, false
				return fail(ErrTemporary, ErrDisconnected)
			}
			break
		}
	}
	panic("unreachable")
}

// validPassword reports whether s can follow ESC PG1.
func validPassword(s string) bool {
	if len(s) > 6 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
