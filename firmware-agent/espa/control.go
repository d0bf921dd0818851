package espa

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Outcomes of ControlStation.Send that are not success. Each error Send
// returns wraps one of them, ErrLine, or ctx's error.
var (
	// ErrNotReady: the outstation did not accept our select (NAK, or no
	// answer MaxRetries+1 times). Nothing was sent; try again later.
	ErrNotReady = errors.New("espa: outstation not ready")
	// ErrRefused: the outstation answered the block NAK MaxRetries+1
	// times. It did not take it.
	ErrRefused = errors.New("espa: block refused")
	// ErrUnknown: the block went out, and at least one try got no answer:
	// the outstation may have taken it and its ACK been lost.
	ErrUnknown = errors.New("espa: outcome unknown")
)

// ControlConfig configures a ControlStation. The zero value of each field
// means its default.
type ControlConfig struct {
	// Address is ours, '0'–'9'. Default '1'.
	Address byte
	// Outstation is the address of the paging system we page through.
	// Default '2'.
	Outstation byte
	// Dialect is the line's flavour of ESPA.
	Dialect Dialect
	// ResponseTimeout: how long we wait for an answer to a poll, a select
	// or a block. Default 3s.
	ResponseTimeout time.Duration
	// IdleTimeout: how long an outstation that selected us may stay
	// silent before its next block or EOT; then we take the line back.
	// It must be longer than the outstation's own timeout for our answer,
	// after which it sends a block again. Default 20s.
	IdleTimeout time.Duration
	// MaxRetries: how often a select or a block is sent again after no
	// answer, and a block after NAK. Default 3.
	MaxRetries int
	// Now tells the time (timeouts); nil is time.Now.
	Now func() time.Time
	// Log, if set, gets the line's events (no message text).
	Log *slog.Logger
}

func (c ControlConfig) withDefaults() ControlConfig {
	if c.Address == 0 {
		c.Address = DefaultControlAddress
	}
	if c.Outstation == 0 {
		c.Outstation = DefaultAddress
	}
	lineDefaults(&c.ResponseTimeout, &c.MaxRetries, &c.Now, &c.Log)
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	return c
}

// ControlStation is the control station's side of an ESPA 4.4.4 line:
// this box forwarding pages to an ESPA paging system (a DECT messaging
// server, a paging transmitter controller). It selects the outstation to
// send it calls (Send) and polls it for status (Poll). Its methods are
// for one goroutine at a time.
type ControlStation struct {
	cfg ControlConfig
	c   *conn
}

// NewControlStation returns a control station on rw.
func NewControlStation(rw io.ReadWriter, cfg ControlConfig) (*ControlStation, error) {
	cfg = cfg.withDefaults()
	if err := checkAddresses(cfg.Address, cfg.Outstation, "outstation"); err != nil {
		return nil, err
	}
	return &ControlStation{cfg: cfg, c: newConn(rw, cfg.Now)}, nil
}

// SendCall sends one call: see Send.
func (s *ControlStation) SendCall(ctx context.Context, c Call) error {
	b, err := c.Block(s.cfg.Dialect)
	if err != nil {
		return err
	}
	return s.Send(ctx, b)
}

// Send selects the outstation (EOT <ours> ENQ <its> ENQ), sends b once it
// answers ACK, and ends with EOT. A select without an answer is sent
// again, up to MaxRetries times; a select answered NAK is ErrNotReady at
// once. The block is sent again after NAK or no answer, up to MaxRetries
// times. nil means the outstation acknowledged the block; see ErrNotReady,
// ErrRefused and ErrUnknown for the rest.
func (s *ControlStation) Send(ctx context.Context, b Block) error {
	raw, err := EncodeBlock(b)
	if err != nil {
		return err
	}
	s.c.discard()
	selected := false
	for try := 0; try <= s.cfg.MaxRetries && !selected; try++ {
		if err := s.c.write(EOT, s.cfg.Address, ENQ, s.cfg.Outstation, ENQ); err != nil {
			return err
		}
		t, err := s.c.answer(ctx, s.cfg.ResponseTimeout)
		switch {
		case errors.Is(err, ErrTimeout):
			continue
		case err != nil:
			return err
		case t.kind == tokNAK:
			return s.end(fmt.Errorf("%w: select answered NAK", ErrNotReady))
		case t.kind == tokACK:
			selected = true
		}
	}
	if !selected {
		return s.end(fmt.Errorf("%w: no answer to %d selects", ErrNotReady, s.cfg.MaxRetries+1))
	}
	r, err := s.c.sendBlock(ctx, raw, s.cfg.MaxRetries, s.cfg.ResponseTimeout)
	switch {
	case err != nil:
		return err
	case r.acked:
		return s.end(nil)
	case r.timeouts > 0 || r.eot:
		return s.end(fmt.Errorf("%w: %d NAKs and %d tries without an answer", ErrUnknown, r.naks, r.timeouts))
	}
	return s.end(fmt.Errorf("%w: %d NAKs", ErrRefused, r.naks))
}

// end writes EOT, which gives the line back, and returns err, or the
// write's error if there was none.
func (s *ControlStation) end(err error) error {
	if werr := s.c.write(EOT); err == nil {
		return werr
	}
	return err
}

// Poll polls the outstation (EOT <its> ENQ). If it has nothing to send it
// answers EOT, and Poll returns 0. If it selects us (<ours> ENQ), Poll
// answers ACK and takes its blocks until its EOT: each is handed to
// handle, and answered ACK if handle returns nil, NAK otherwise (and NAK
// for a bad BCC or format). A block sent again because our ACK was lost
// (the same bytes as the block before) is answered ACK and not handed on
// again. n is the number of blocks handed on and acknowledged.
//
// Silence ends the poll (ResponseTimeout for the answer to the poll,
// IdleTimeout once the outstation selected us): we take the line back
// with EOT and return ErrTimeout, wrapped, with what was taken so far.
func (s *ControlStation) Poll(ctx context.Context, handle func(Block) error) (n int, err error) {
	s.c.discard()
	if err := s.c.write(EOT, s.cfg.Outstation, ENQ); err != nil {
		return 0, err
	}
	var last []byte // the last block taken in this turn
	selected := false
	for {
		wait := s.cfg.ResponseTimeout
		if selected {
			wait = s.cfg.IdleTimeout
		}
		t, err := s.c.next(ctx, s.cfg.Now().Add(wait), wait)
		switch {
		case errors.Is(err, ErrTimeout):
			return n, s.end(fmt.Errorf("%w: poll of %q", ErrTimeout, rune(s.cfg.Outstation)))
		case err != nil:
			return n, err
		}
		switch t.kind {
		case tokEOT:
			return n, nil
		case tokENQ:
			// Selected (again, if our ACK was lost), or another station
			// was: then its blocks are not ours.
			selected = t.addr == s.cfg.Address
			if selected {
				if err := s.c.write(ACK); err != nil {
					return n, err
				}
			}
		case tokBlock:
			if !selected {
				continue
			}
			ans, took := s.take(t.raw, last, handle)
			if took {
				n++
				last = t.raw[:len(t.raw)-1]
			}
			if err := s.c.write(ans); err != nil {
				return n, err
			}
		}
	}
}

// take judges a block the outstation sent us: the answer, and whether it
// was handed on.
func (s *ControlStation) take(raw, last []byte, handle func(Block) error) (answer byte, took bool) {
	b, err := DecodeBlock(raw)
	switch {
	case err != nil:
		s.cfg.Log.Info("espa: block refused (NAK)", "err", err)
		return NAK, false
	case last != nil && bytes.Equal(raw[:len(raw)-1], last):
		s.cfg.Log.Info("espa: block sent again after a lost ACK; taken once", "block", b)
		return ACK, false
	}
	if err := handle(b); err != nil {
		s.cfg.Log.Info("espa: block not taken (NAK)", "block", b, "err", err)
		return NAK, false
	}
	return ACK, true
}
