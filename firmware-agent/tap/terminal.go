package tap

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"time"
)

// TerminalConfig configures ServeTerminal. The zero value of each field
// means its default.
type TerminalConfig struct {
	// Password, if set, must come with the logon (ESC PG1<password>), and
	// a sender must log on before its blocks are taken. If empty, the
	// logon is optional and any password is taken.
	Password string
	// IdleTimeout: a block, page or command line left unfinished this
	// long is dropped. Default 20s (a full block takes 8.5 s at 300 baud).
	IdleTimeout time.Duration
	// MaxBadBlocks: bad blocks in a row (checksum or format) answered NAK
	// before the next is answered "503" RS. Default 3.
	MaxBadBlocks int
	// NoChecksum is for senders that leave the checksum out,
	// <STX>id<CR>text<CR><ETX><CR>: such blocks are taken (the CR, or
	// whatever comes next that is not a checksum character, ends them).
	// Blocks with a checksum are still checked: a wrong one is "514" NAK.
	NoChecksum bool
	// BareLF is for senders that end lines with LF alone: an LF that does
	// not follow a CR ends a line (CR, ESC PG1, EOT) and a field as CR
	// does, and after the checksum it is the block's closing CR; a block's
	// checksum may count such an LF as sent (0x0a) or as the CR it stands
	// for. LF right after CR is dropped as always, so CR LF senders work
	// either way. Without BareLF every LF is line noise.
	BareLF bool
}

// Terminal defaults.
const (
	DefaultIdleTimeout  = 20 * time.Second
	DefaultMaxBadBlocks = 3
)

func (c TerminalConfig) withDefaults() TerminalConfig {
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxBadBlocks <= 0 {
		c.MaxBadBlocks = DefaultMaxBadBlocks
	}
	return c
}

// What the terminal role sends, byte for byte.
const (
	idPrompt = "ID=\r"
	logonOK  = "110 1.8\r\x06\r\x1b[p\r" // version, ACK, go-ahead
	goodbye  = "115 Goodbye\r\x1b\x04\r"
	ackBlock = "\x06\r" // a block of a page that goes on
)

// maxLine bounds a command line (ESC PG1…, EOT) outside blocks.
const maxLine = 64

// ServeTerminal plays the paging terminal on rw for senders (nurse call,
// switchboards) until a read or write fails or ctx ends, and returns that
// error (wrapping ErrLine) or ctx's.
//
// It answers CR with "ID=", ESC PG1[password] CR with "110 1.8", ACK and
// the go-ahead ESC [p (NAK for a wrong password, ESC EOT after three), and
// EOT CR with "115" and ESC EOT. Blocks are taken with or without a logon
// (unless Password is set). A bad block is answered "514" (checksum) or
// "515" (format) and NAK, the MaxBadBlocks+1st in a row "503" and RS. A
// block that ends ETB or US is answered ACK and kept until the page's ETX
// block; then accept is called with the page and its reply sent as it is
// (a reply with no action, or GoAhead, is sent as "512" NAK). After a NAK
// the sender sends the page's last block again, so the blocks before it
// are kept.
//
// accept decides: it returns Accepted() only once the page is committed
// durably, Rejected(…) (RS) for a page that will never be taken (511
// unknown ID) and Resend(…) (NAK) for a temporary failure. It is called
// from ServeTerminal's goroutine while the sender waits, so it should not
// take longer than a sender's reply timeout (10 s for sendpage).
//
// Nothing half-received is accepted: a block or page cut off by a hang-up,
// an EOT, a new logon or IdleTimeout of silence is dropped. What accept
// took stays taken even when its reply cannot be written.
func ServeTerminal(ctx context.Context, rw io.ReadWriter, cfg TerminalConfig, accept func(ctx context.Context, p Page) Reply) error {
	t := &terminal{cfg: cfg.withDefaults(), accept: accept}
	buf := make([]byte, 512)
	last := time.Now()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := rw.Read(buf)
		now := time.Now()
		if now.Sub(last) > t.cfg.IdleTimeout {
			t.dropPartial()
		}
		if n > 0 {
			last = now
		}
		for _, b := range buf[:n] {
			out := t.feed(ctx, b)
			if len(out) == 0 {
				continue
			}
			if _, werr := rw.Write(out); werr != nil {
				return fmt.Errorf("%w: write: %w", ErrLine, werr)
			}
		}
		if err != nil {
			return fmt.Errorf("%w: read: %w", ErrLine, err)
		}
	}
}

// Receiver states.
const (
	stLine     = iota // outside a block: a command line (CR, ESC PG1, EOT) or noise
	stBlock           // after STX, until ETX, ETB or US
	stChecksum        // the 3 checksum characters
)

// terminal is ServeTerminal's state; only its goroutine touches it.
type terminal struct {
	cfg    TerminalConfig
	accept func(context.Context, Page) Reply

	state     int
	line      []byte  // command line since the last CR (stLine)
	block     []byte  // the block from STX (stBlock, stChecksum)
	sum       int     // checksum characters in block (stChecksum)
	pending   []Block // blocks of the page so far, each ended ETB or US
	swallowCR bool    // the next byte, if CR, ends the block just answered
	afterCR   bool    // the last byte was CR (an LF now is part of CR LF)
	loggedOn  bool
	failures  int // wrong passwords in a row
	bad       int // bad blocks in a row
}

// dropPartial forgets whatever is half-received.
func (t *terminal) dropPartial() {
	t.state = stLine
	t.line = t.line[:0]
	t.block = t.block[:0]
	t.pending = nil
	t.swallowCR = false
}

// feed takes one byte from the line and returns what to answer.
func (t *terminal) feed(ctx context.Context, b byte) []byte {
	if b &= 0x7f; b == 0 {
		return nil // line noise
	}
	afterCR := t.afterCR
	t.afterCR = b == cr
	eol := b == cr // b ends a line or a field
	switch {
	case b == lf && t.cfg.BareLF && !afterCR:
		eol = true
	case b == lf:
		return nil // line noise, and the LF of senders that end lines CR LF
	}
	swallow := t.swallowCR
	t.swallowCR = false
	if eol && t.state != stBlock {
		b = cr // a bare LF, taken as CR; inside a block it stays as sent
	}
	switch t.state {
	case stBlock:
		switch b {
		case stx: // the sender started the block over
			t.block = append(t.block[:0], stx)
		case esc, eot: // the sender gave up on the block: a command starts
			t.state = stLine
			t.block = t.block[:0]
			t.line = append(t.line[:0], b)
		case etx, etb, us:
			t.block = append(t.block, b)
			t.state = stChecksum
			t.sum = 0
		default:
			t.block = append(t.block, b)
			if len(t.block) > MaxReadInfo+1 {
				t.state = stLine // not a block; wait for the next STX
				t.block = t.block[:0]
			}
		}
		return nil
	case stChecksum:
		if b < '0' || b > '?' {
			// The checksum is cut short: answer the block (as bad), then
			// take b as what it is.
			out := t.endBlock(ctx)
			if b == cr {
				return out
			}
			return append(out, t.feed(ctx, b)...)
		}
		t.block = append(t.block, b)
		if t.sum++; t.sum < 3 {
			return nil
		}
		t.swallowCR = true
		return t.endBlock(ctx)
	}
	switch b {
	case stx:
		t.state = stBlock
		t.block = append(t.block[:0], stx)
		t.line = t.line[:0]
		return nil
	case cr:
		if swallow {
			return nil
		}
		out := t.command(t.line)
		t.line = t.line[:0]
		return out
	case esc, eot:
		t.line = t.line[:0] // a command starts here; what came before is noise
	}
	if len(t.line) < maxLine {
		t.line = append(t.line, b)
	}
	return nil
}

// endBlock answers the block in t.block.
func (t *terminal) endBlock(ctx context.Context) []byte {
	raw := t.block
	t.state = stLine
	t.block = t.block[:0]
	if t.cfg.BareLF {
		raw = bareLFBlock(raw)
	}
	parse := ParseBlock
	if t.cfg.NoChecksum {
		parse = ParseBlockNoChecksum
	}
	blk, err := parse(raw)
	if err != nil {
		t.bad++
		if t.bad > t.cfg.MaxBadBlocks {
			t.bad = 0
			t.pending = nil
			return EncodeReply(Rejected(CodeChecksumMany, "Excessive checksum errors"))
		}
		if errors.Is(err, ErrChecksum) {
			return EncodeReply(Resend(CodeChecksum, "Checksum error"))
		}
		return EncodeReply(Resend(CodeFormat, "Message format error"))
	}
	t.bad = 0
	if t.cfg.Password != "" && !t.loggedOn {
		// Disconnect rather than RS: a sender that forgot to log on keeps
		// its pages and tries again, instead of dropping them for good.
		t.pending = nil
		return EncodeReply(Reply{Lines: []ReplyLine{{CodeLogonInvalid, "Logon required"}}, Action: Disconnect})
	}
	t.pending = append(t.pending, blk)
	if !blk.Last() {
		if len(t.pending) >= MaxBlocks {
			t.pending = nil
			return EncodeReply(Rejected(CodeTooLong, "Message too long"))
		}
		return []byte(ackBlock)
	}
	blocks := t.pending
	t.pending = nil
	page, err := AssemblePage(blocks)
	if err != nil {
		return EncodeReply(Rejected(CodeFormat, "Message format error"))
	}
	r := t.accept(ctx, page)
	switch r.Action {
	case ACK, RS:
	case Disconnect:
		t.loggedOn = false
	default:
		if r.Action != NAK {
			r = Resend(CodeTryLater, "Try later")
		}
		// The sender sends the last block again, and only that.
		t.pending = blocks[:len(blocks)-1]
	}
	return EncodeReply(r)
}

// command answers a line outside blocks.
func (t *terminal) command(line []byte) []byte {
	switch {
	case len(line) == 0:
		return []byte(idPrompt)
	case line[0] == eot:
		t.loggedOn = false
		t.pending = nil
		return []byte(goodbye)
	case len(line) >= 3 && line[0] == esc && line[1] == 'P' && line[2] == 'G':
		return t.logon(line[3:])
	}
	return nil // noise
}

// logon answers ESC PG; arg is the service type and the password.
func (t *terminal) logon(arg []byte) []byte {
	t.pending = nil
	t.bad = 0
	if len(arg) == 0 {
		return EncodeReply(Resend(CodeLogonInvalid, "Invalid logon"))
	}
	// arg[0] is the service type: 1 for alphanumeric paging; the others
	// are taken alike.
	if t.cfg.Password != "" && subtle.ConstantTimeCompare(arg[1:], []byte(t.cfg.Password)) != 1 {
		t.loggedOn = false
		t.failures++
		if t.failures >= 3 {
			t.failures = 0
			return EncodeReply(Reply{Lines: []ReplyLine{{CodeLogonPassword, "Invalid password"}}, Action: Disconnect})
		}
		return EncodeReply(Resend(CodeLogonPassword, "Invalid password"))
	}
	t.failures = 0
	t.loggedOn = true
	return []byte(logonOK)
}

// bareLFBlock turns the LFs in the fields of raw (a block from STX to its
// checksum, if any) into the CRs they stand for. The checksum is rewritten
// to the CR version's when it is right for the block either way: with the
// LFs counted as sent, or as CRs. A block without an LF is returned as it
// is.
func bareLFBlock(raw []byte) []byte {
	end := bytes.IndexAny(raw, "\x03\x17\x1f")
	if end < 0 || bytes.IndexByte(raw[:end], lf) < 0 {
		return raw
	}
	asCR := bytes.ReplaceAll(raw[:end+1], []byte{lf}, []byte{cr})
	sum := raw[end+1:]
	if len(sum) == 3 && (string(sum) == Checksum(raw[:end+1]) || string(sum) == Checksum(asCR)) {
		sum = []byte(Checksum(asCR))
	}
	return append(asCR, sum...)
}
