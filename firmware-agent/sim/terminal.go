package sim

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"pagebridge/firmware-agent/tap"
	"pagebridge/gateway/paging"
)

// TAP control characters.
const (
	tapSTX = 0x02
	tapETX = 0x03
	tapEOT = 0x04
	tapETB = 0x17
	tapESC = 0x1b
	tapUS  = 0x1f
)

// Answer is how the simulated terminal answers a page whose blocks all
// came with good checksums.
type Answer int

// Answers.
const (
	// AnswerAccept takes the page: TAPPageSent ("211", ACK).
	AnswerAccept Answer = iota
	// AnswerReject drops it for good: TAPUnknownID ("511", RS).
	AnswerReject
	// AnswerNAK asks for it again: TAPTryLater ("512", NAK).
	AnswerNAK
	// AnswerSilent takes the page and answers nothing, as when the answer
	// is lost on the line: the sender cannot know the page went out.
	AnswerSilent
	// AnswerDrop neither takes the page nor answers.
	AnswerDrop
	// AnswerDisconnect ends the session: TAPRefused (ESC EOT).
	AnswerDisconnect
)

// TerminalOptions configure a simulated paging terminal. The zero value
// of each field is the plain terminal: logon required, NAK for every bad
// block for as long as the sender resends, any length of text, answers at
// once, bytes at memory speed.
type TerminalOptions struct {
	Name     string // symlink name in the device dir; default "tap0"
	Password string // if set, ESC PG1<password> must match; otherwise any password logs in
	// NoLogon takes blocks before a logon, as terminals whose logon is
	// optional do (WaveWare); a logon is still answered. Without it blocks
	// before the go-ahead are not answered.
	NoLogon bool
	// MaxBadBlocks, if above 0, is how many bad blocks in a row (checksum
	// or format) are answered NAK: the next is answered "503" RS and the
	// page so far dropped, as a real terminal gives up. 0: NAK for ever.
	MaxBadBlocks int
	// NAKEvery, if above 0, answers every n-th block received (counted
	// from the plug-in, resends included) "514" NAK without taking it, as
	// a block garbled on the line: fault injection. The sender sends it
	// again, and the page is still taken once.
	NAKEvery int
	// MaxText, if above 0, truncates a text longer than that many
	// characters, takes the rest and answers "212" ACK (Ascom: 128). Pages
	// records the truncated text.
	MaxText int
	// Delay makes a slow terminal: it waits this long before each reply.
	Delay time.Duration
	// Baud, if above 0, paces the line both ways at that many bits per
	// second, 10 bits a byte (8N1; 9600 baud is 1.042 ms a byte): what the
	// terminal sends is released at that rate, and what it receives is
	// taken (recorded, answered) no faster. A pty has no baud rate of its
	// own.
	Baud int
	// Answer, if set, decides the answer to each page; nil accepts every
	// page. It is called from the device goroutine.
	Answer func(p tap.Page) Answer
	// OnPage, if set, is called with each page the terminal takes
	// (AnswerAccept, AnswerSilent), from the device goroutine.
	OnPage func(p tap.Page)
}

// PagingTerminal is a simulated TAP paging terminal on a pty pair. It
// records every page it takes, across reconnects.
type PagingTerminal struct {
	*Device

	mu      sync.Mutex
	pages   []tap.Page    // every page taken, in order
	changed chan struct{} // closed and replaced when pages grows
}

// NewPagingTerminal starts a simulated paging terminal whose symlink is
// dir/opts.Name.
func NewPagingTerminal(dir string, opts TerminalOptions) (*PagingTerminal, error) {
	if opts.Name == "" {
		opts.Name = "tap0"
	}
	t := &PagingTerminal{changed: make(chan struct{})}
	onPage := opts.OnPage
	opts.OnPage = func(p tap.Page) {
		t.mu.Lock()
		t.pages = append(t.pages, p)
		close(t.changed)
		t.changed = make(chan struct{})
		t.mu.Unlock()
		if onPage != nil {
			onPage(p)
		}
	}
	d, err := newDevice(dir, opts.Name, func() Responder { return NewTerminalResponder(opts) }, pace{baud: opts.Baud, delay: opts.Delay})
	if err != nil {
		return nil, err
	}
	t.Device = d
	return t, nil
}

// Pages returns every page the terminal took (answered 211, or took
// silently), in order, across reconnects. A page sent twice is there
// twice.
func (t *PagingTerminal) Pages() []tap.Page {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]tap.Page(nil), t.pages...)
}

// WaitPages blocks until pred, given Pages(), returns true, or ctx ends
// (its error wrapped).
func (t *PagingTerminal) WaitPages(ctx context.Context, pred func([]tap.Page) bool) error {
	for {
		t.mu.Lock()
		pages, ch := append([]tap.Page(nil), t.pages...), t.changed
		t.mu.Unlock()
		if pred(pages) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("sim: wait for pages on %s: %w", t.Path(), ctx.Err())
		}
	}
}

// Replies of the paging terminal, byte for byte as in the reference's
// worked session.
const (
	TAPIDPrompt  = "ID=\r"
	TAPLogonOK   = "110 1.8\r\x06\r" // version line, then <ACK><CR>
	TAPGoAhead   = "\x1b[p\r"
	TAPLogonNAK  = "\x15\r"     // wrong password: try again
	TAPRefused   = "\x1b\x04\r" // <ESC><EOT><CR>: logon refused, or goodbye
	TAPGoodbye   = "115 Goodbye\r" + TAPRefused
	TAPPageSent  = "211 Page(s) Sent Successfully\r\x06\r"
	TAPBlockOK   = "\x06\r" // a block of a page that goes on (ETB, US)
	TAPChecksum  = "514 Checksum error\r\x15\r"
	TAPFormat    = "515 Message format error\r\x15\r"
	TAPBadPage   = "515 Message format error\r\x1e\r"
	TAPUnknownID = "511 Invalid Pager ID\r\x1e\r"
	TAPTryLater  = "512 Temporarily cannot deliver - try later\r\x15\r"
	TAPTruncated = "212 Long message truncated and sent\r\x06\r"
	TAPTooMany   = "503 Excessive checksum errors\r\x1e\r"
)

// maxTAPBlock bounds a block: a longer "block" is noise.
const maxTAPBlock = 2048

// TerminalResponder is the paging terminal's TAP handling with no IO: the
// entry handshake (CR → "ID="; ESC PG1[password] CR → "110 1.8", ACK and
// the ESC [p go-ahead), the blocks of pages after the go-ahead, and the end
// of session (EOT CR → "115", ESC EOT). A block with a bad checksum is
// answered "514" NAK, a malformed one "515" NAK; a block ending ETB or US
// is answered ACK; the last block of a page (ETX) gets the answer
// opts.Answer picks, "211" and ACK by default. Blocks before the logon are
// not answered, as by a terminal that requires it, unless opts.NoLogon.
// opts.MaxBadBlocks, NAKEvery and MaxText add a real terminal's "503",
// injected NAKs and "212". The 8th bit of every byte is ignored, as
// on-site encoders do; LF is ignored.
type TerminalResponder struct {
	opts      TerminalOptions
	line      []byte // bytes since the last CR, outside blocks
	loggedIn  bool   // the go-ahead was sent
	failures  int    // wrong passwords in a row
	blocks    int    // blocks received, for NAKEvery
	bad       int    // bad blocks in a row, for MaxBadBlocks
	inBlock   bool   // between STX and the end of the checksum
	block     []byte // the block being received, from STX
	sumLeft   int    // checksum characters still to come; -1 before the end character
	pending   []tap.Block
	swallowCR bool // the next byte, if CR, ends the block just answered
}

// NewTerminalResponder returns a terminal waiting for a sender.
func NewTerminalResponder(opts TerminalOptions) *TerminalResponder {
	return &TerminalResponder{opts: opts}
}

var _ Responder = (*TerminalResponder)(nil)

// Respond implements Responder.
func (r *TerminalResponder) Respond(in []byte) []byte {
	var out []byte
	for _, b := range in {
		b &= 0x7f
		if b == '\n' {
			continue
		}
		swallow := r.swallowCR
		r.swallowCR = false
		switch {
		case (r.loggedIn || r.opts.NoLogon) && (r.inBlock || b == tapSTX):
			out = append(out, r.blockByte(b)...)
		case b == '\r':
			if !swallow {
				out = append(out, r.execLine(r.line)...)
			}
			r.line = r.line[:0]
		default:
			if len(r.line) < 512 {
				r.line = append(r.line, b)
			}
		}
	}
	return out
}

// blockByte takes one byte of a block.
func (r *TerminalResponder) blockByte(b byte) []byte {
	if b == tapSTX { // a block starts, or starts over
		r.inBlock, r.sumLeft = true, -1
		r.block = append(r.block[:0], b)
		r.line = r.line[:0]
		return nil
	}
	r.block = append(r.block, b)
	if r.sumLeft < 0 {
		switch {
		case b == tapETX || b == tapETB || b == tapUS:
			r.sumLeft = 3
		case len(r.block) > maxTAPBlock:
			r.inBlock = false
		}
		return nil
	}
	if r.sumLeft--; r.sumLeft > 0 {
		return nil
	}
	r.inBlock = false
	r.swallowCR = true
	return r.answerBlock(r.block)
}

// answerBlock answers a whole block, STX to the last checksum character.
func (r *TerminalResponder) answerBlock(raw []byte) []byte {
	r.blocks++
	blk, err := tap.ParseBlock(raw)
	if err == nil && r.opts.NAKEvery > 0 && r.blocks%r.opts.NAKEvery == 0 {
		err = tap.ErrChecksum // garbled on the line
	}
	if err != nil {
		if r.bad++; r.opts.MaxBadBlocks > 0 && r.bad > r.opts.MaxBadBlocks {
			r.bad = 0
			r.pending = nil
			return []byte(TAPTooMany)
		}
		if errors.Is(err, tap.ErrChecksum) {
			return []byte(TAPChecksum)
		}
		return []byte(TAPFormat)
	}
	r.bad = 0
	r.pending = append(r.pending, blk)
	if !blk.Last() {
		if len(r.pending) >= tap.MaxBlocks {
			r.pending = nil
			return []byte(TAPBadPage)
		}
		return []byte(TAPBlockOK)
	}
	blocks := r.pending
	r.pending = nil
	p, err := tap.AssemblePage(blocks)
	if err != nil {
		return []byte(TAPBadPage)
	}
	a := AnswerAccept
	if r.opts.Answer != nil {
		a = r.opts.Answer(p)
	}
	if n := r.opts.MaxText; n > 0 && p.Text.Len() > n && (a == AnswerAccept || a == AnswerSilent) {
		p.Text = paging.NewPHI(p.Text.Reveal()[:n])
		if a == AnswerAccept {
			r.took(p)
			return []byte(TAPTruncated)
		}
	}
	switch a {
	case AnswerAccept:
		r.took(p)
		return []byte(TAPPageSent)
	case AnswerReject:
		return []byte(TAPUnknownID)
	case AnswerNAK:
		r.pending = blocks[:len(blocks)-1] // the sender sends the last block again
		return []byte(TAPTryLater)
	case AnswerSilent:
		r.took(p)
		return nil
	case AnswerDisconnect:
		r.loggedIn = false
		return []byte(TAPRefused)
	}
	return nil // AnswerDrop
}

func (r *TerminalResponder) took(p tap.Page) {
	if r.opts.OnPage != nil {
		r.opts.OnPage(p)
	}
}

func (r *TerminalResponder) execLine(line []byte) []byte {
	if (r.loggedIn || r.opts.NoLogon) && len(line) == 1 && line[0] == tapEOT {
		r.loggedIn = false
		r.pending = nil
		return []byte(TAPGoodbye)
	}
	if r.loggedIn {
		return nil
	}
	switch {
	case len(line) == 0:
		return []byte(TAPIDPrompt)
	case len(line) >= 4 && line[0] == tapESC && line[1] == 'P' && line[2] == 'G':
		// line[3] is the service type (1 = alphanumeric paging).
		if r.opts.Password != "" && string(line[4:]) != r.opts.Password {
			r.failures++
			if r.failures >= 3 {
				r.failures = 0
				return []byte(TAPRefused)
			}
			return []byte(TAPLogonNAK)
		}
		r.failures = 0
		r.loggedIn = true
		r.pending = nil
		return []byte(TAPLogonOK + TAPGoAhead)
	}
	return nil
}
