package espa

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// OutstationConfig configures an Outstation. The zero value of each field
// means its default.
type OutstationConfig struct {
	// Address is ours on the line, '0'–'9'. Default '2' (the paging
	// system's, where two stations are connected).
	Address byte
	// ControlAddress is the control station's: the one we select to send
	// it status. Default '1'.
	ControlAddress byte
	// Dialect is the line's flavour of ESPA; see Dialect.
	Dialect Dialect
	// ResponseTimeout: how long we wait for the control station's answer
	// to our select or to a block we sent. Default 3s.
	ResponseTimeout time.Duration
	// IdleTimeout: a block left half received, or a poll or selection
	// left hanging, this long without a byte is dropped, and the line is
	// taken as neutral again. Default 20s.
	IdleTimeout time.Duration
	// MaxRetries: how often we send a status block again after a NAK or
	// no answer before we give up for this poll. Default 3.
	MaxRetries int
	// MaxStatusPerPoll bounds the status blocks we send in one turn as
	// temporary master, so that a long queue does not hold the line.
	// Default 8.
	MaxStatusPerPoll int
	// MaxQueue bounds the status blocks waiting for a poll; QueueStatus
	// refuses more (ErrQueueFull). Default 256.
	MaxQueue int
	// Now tells the time (timeouts); nil is time.Now.
	Now func() time.Time
	// Log, if set, gets the line's events (no message text).
	Log *slog.Logger
	// OnStatusSent, if set, is called (from Serve's goroutine) with each
	// status the control station acknowledged.
	OnStatusSent func(Status)
	// OnStatusDropped, if set, is called with each status the control
	// station refused MaxRetries+1 times (NAK): it is not sent again.
	OnStatusDropped func(Status)
}

// Outstation defaults.
const (
	DefaultAddress          = '2'
	DefaultControlAddress   = '1'
	DefaultResponseTimeout  = 3 * time.Second
	DefaultIdleTimeout      = 20 * time.Second
	DefaultMaxRetries       = 3
	DefaultMaxStatusPerPoll = 8
	DefaultMaxQueue         = 256
)

// ErrQueueFull: QueueStatus found MaxQueue status blocks waiting.
var ErrQueueFull = errors.New("espa: status queue full")

func (c OutstationConfig) withDefaults() OutstationConfig {
	if c.Address == 0 {
		c.Address = DefaultAddress
	}
	if c.ControlAddress == 0 {
		c.ControlAddress = DefaultControlAddress
	}
	lineDefaults(&c.ResponseTimeout, &c.MaxRetries, &c.Now, &c.Log)
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxStatusPerPoll <= 0 {
		c.MaxStatusPerPoll = DefaultMaxStatusPerPoll
	}
	if c.MaxQueue <= 0 {
		c.MaxQueue = DefaultMaxQueue
	}
	return c
}

// validAddress reports whether a is a station address.
func validAddress(a byte) bool { return a >= '0' && a <= '9' }

// checkAddresses reports why ours and theirs (the address of the station
// named whose) cannot be the two ends of a line.
func checkAddresses(ours, theirs byte, whose string) error {
	switch {
	case !validAddress(ours):
		return fmt.Errorf("espa: address %q is not '0'–'9'", rune(ours))
	case !validAddress(theirs):
		return fmt.Errorf("espa: %s address %q is not '0'–'9'", whose, rune(theirs))
	case ours == theirs:
		return fmt.Errorf("espa: address %q is the %s's too", rune(ours), whose)
	}
	return nil
}

// OutstationStats counts what an Outstation did since it was made.
type OutstationStats struct {
	Calls        uint64 // calls handed to accept and taken (ACK)
	Duplicates   uint64 // blocks sent again after our ACK was lost: ACK, not handed on
	BadBlocks    uint64 // blocks answered NAK: bad BCC or format
	Refused      uint64 // calls accept refused (NAK)
	Ignored      uint64 // blocks taken (ACK) but not calls: headers 2–5
	StatusSent   uint64 // status blocks the control station acknowledged
	StatusFailed uint64 // status blocks dropped after MaxRetries NAKs
	Queued       int    // status blocks waiting for a poll
}

// Outstation is the paging system's side of an ESPA 4.4.4 line, the usual
// role of this box: the nurse call system or PBX is the control station,
// polls us, selects us and sends us calls; we answer its polls with EOT,
// or with the status blocks queued for it.
//
// Serve runs the line; QueueStatus may be called from any goroutine. What
// an Outstation remembers (the queue, the last call taken) lasts across
// Serve calls, so a line that is reopened after a failure goes on where it
// was.
type Outstation struct {
	cfg    OutstationConfig
	accept func(context.Context, Call) error

	mu    sync.Mutex
	queue []Status
	stats OutstationStats

	// Only Serve's goroutine touches the fields below.

	// last is the last call block taken, from SOH to ETX, until the
	// control station shows it got our ACK; a block equal to it is a
	// retransmission. lastSure: the ACK for last was written in the Serve
	// that runs, so an EOT from the control station (which would have sent
	// the block again instead, had the ACK been lost) settles it.
	last     []byte
	lastSure bool
	// running holds the last blocks taken that carried a running number
	// (Ascom dialect): a block equal to one of them is a retransmission
	// even in a later selection.
	running [][]byte
}

// maxRunning is how many running-numbered blocks an Outstation remembers.
const maxRunning = 64

// NewOutstation returns an outstation that hands each call it takes to
// accept, once. accept must return nil only once the call is committed
// (durably, if that is what the caller promises): the ACK goes out after
// it returns nil. An error makes the block NAK, so the control station
// sends it again. accept runs on Serve's goroutine while the control
// station waits for the answer, so it should return within the control
// station's timeout (often 3 s).
func NewOutstation(cfg OutstationConfig, accept func(ctx context.Context, c Call) error) (*Outstation, error) {
	cfg = cfg.withDefaults()
	if err := checkAddresses(cfg.Address, cfg.ControlAddress, "control station"); err != nil {
		return nil, err
	}
	if accept == nil {
		return nil, errors.New("espa: no accept function")
	}
	return &Outstation{cfg: cfg, accept: accept}, nil
}

// QueueStatus queues s for the control station: it goes out when the
// control station next polls us. It returns ErrQueueFull when MaxQueue
// blocks are waiting, and an error wrapping ErrInvalid for a status that
// cannot be written.
func (o *Outstation) QueueStatus(s Status) error {
	if _, err := s.Encode(o.cfg.Dialect); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.queue) >= o.cfg.MaxQueue {
		return ErrQueueFull
	}
	o.queue = append(o.queue, s)
	return nil
}

// Stats returns the counters.
func (o *Outstation) Stats() OutstationStats {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.stats
	s.Queued = len(o.queue)
	return s
}

func (o *Outstation) count(f func(*OutstationStats)) {
	o.mu.Lock()
	f(&o.stats)
	o.mu.Unlock()
}

// Outstation line states.
const (
	osNeutral  = iota // after EOT: the next <address> ENQ is a poll
	osPolled          // another station was polled: the next <address> ENQ is its select
	osSelected        // we were selected: blocks come to us
	osPassive         // another station was selected: wait for EOT
)

// Serve runs the outstation on rw until a read or write fails (an error
// wrapping ErrLine) or ctx ends (its error).
//
// It answers a poll of our address with EOT, or, with status blocks
// queued, selects the control station (<control address> ENQ), sends
// them one by one (each sent again after NAK or no answer, up to
// MaxRetries) and ends with EOT. It answers a select of our address
// (another station's <address> ENQ, then ours) with ACK and then each
// block: a bad BCC or a malformed block NAK; a call handed to accept, ACK
// if it took it and NAK if not; a block with header 2–5 ACK without more;
// a block 7 or 9 of the Ascom dialect NAK. A call block sent again because
// our ACK was lost (the same bytes in the same selection, or, with the
// Ascom dialect, with a running number we took before) is ACKed and not
// handed to accept again.
func (o *Outstation) Serve(ctx context.Context, rw io.ReadWriter) error {
	c := newConn(rw, o.cfg.Now)
	o.lastSure = false
	state := osNeutral
	for {
		var deadline time.Time
		if state != osNeutral {
			deadline = c.last.Add(o.cfg.IdleTimeout)
		}
		t, err := c.next(ctx, deadline, o.cfg.IdleTimeout)
		if errors.Is(err, ErrTimeout) {
			o.cfg.Log.Debug("espa: line idle, back to neutral", "state", state)
			state = osNeutral
			continue
		}
		if err != nil {
			return err
		}
		state, err = o.step(ctx, c, state, t)
		if err != nil {
			return err
		}
	}
}

// step takes one token in state and returns the next state.
func (o *Outstation) step(ctx context.Context, c *conn, state int, t token) (int, error) {
	me := o.cfg.Address
	switch t.kind {
	case tokEOT:
		if state == osSelected && o.lastSure {
			o.last = nil // the control station got our ACK: it did not send the block again
		}
		return osNeutral, nil
	case tokENQ:
		switch {
		case state == osNeutral && t.addr == me:
			return osNeutral, o.polled(ctx, c)
		case state == osNeutral && validAddress(t.addr):
			return osPolled, nil
		case (state == osPolled || state == osSelected) && t.addr == me:
			// Selected, or selected again because our ACK was lost.
			return osSelected, c.write(ACK)
		case state == osSelected && validAddress(t.addr):
			return osPolled, nil // a new poll without EOT first
		case state == osPolled && validAddress(t.addr):
			return osPassive, nil
		}
		return state, nil
	case tokBlock:
		if state != osSelected {
			return state, nil // not for us
		}
		return osSelected, o.block(ctx, c, t.raw)
	}
	return state, nil // ACK, NAK: not ours to answer
}

// block answers a data block sent to us.
func (o *Outstation) block(ctx context.Context, c *conn, raw []byte) error {
	b, err := DecodeBlock(raw)
	if err != nil {
		o.count(func(s *OutstationStats) { s.BadBlocks++ })
		o.cfg.Log.Info("espa: block refused (NAK)", "err", err)
		return c.write(NAK)
	}
	switch {
	case b.Header == HeaderCall:
	case o.cfg.Dialect == Ascom && (b.Header == HeaderLicense || b.Header == HeaderModuleKey):
		o.count(func(s *OutstationStats) { s.BadBlocks++ })
		o.cfg.Log.Info("espa: licence block refused (NAK)", "block", b)
		return c.write(NAK)
	default:
		o.count(func(s *OutstationStats) { s.Ignored++ })
		o.cfg.Log.Info("espa: block taken, not a call", "block", b)
		return c.write(ACK)
	}
	body := raw[:len(raw)-1] // SOH … ETX: the BCC follows from it
	if o.seen(body) {
		o.count(func(s *OutstationStats) { s.Duplicates++ })
		o.cfg.Log.Info("espa: call sent again after a lost ACK; taken once", "block", b)
		if err := c.write(ACK); err != nil {
			return err
		}
		o.lastSure = o.last != nil && bytes.Equal(o.last, body)
		return nil
	}
	call, err := DecodeCall(b, o.cfg.Dialect)
	if err != nil {
		o.count(func(s *OutstationStats) { s.BadBlocks++ })
		o.cfg.Log.Info("espa: call refused (NAK)", "block", b, "err", err)
		return c.write(NAK)
	}
	if err := o.accept(ctx, call); err != nil {
		o.count(func(s *OutstationStats) { s.Refused++ })
		o.cfg.Log.Warn("espa: call not taken (NAK)", "call", call, "err", err)
		return c.write(NAK)
	}
	o.count(func(s *OutstationStats) { s.Calls++ })
	o.last, o.lastSure = bytes.Clone(body), false
	if call.RunningNumber != "" {
		o.running = append(o.running, o.last)
		if len(o.running) > maxRunning {
			o.running = o.running[1:]
		}
	}
	if err := c.write(ACK); err != nil {
		return err
	}
	o.lastSure = true
	return nil
}

// seen reports whether body is a call block taken before whose ACK may
// have been lost.
func (o *Outstation) seen(body []byte) bool {
	if o.last != nil && bytes.Equal(o.last, body) {
		return true
	}
	for _, r := range o.running {
		if bytes.Equal(r, body) {
			return true
		}
	}
	return false
}

// polled answers a poll: EOT, or our status blocks as temporary master.
func (o *Outstation) polled(ctx context.Context, c *conn) error {
	o.mu.Lock()
	n := min(len(o.queue), o.cfg.MaxStatusPerPoll)
	pending := append([]Status(nil), o.queue[:n]...)
	o.mu.Unlock()
	if n == 0 {
		return c.write(EOT)
	}
	// Select the control station.
	if err := c.write(o.cfg.ControlAddress, ENQ); err != nil {
		return err
	}
	t, err := c.answer(ctx, o.cfg.ResponseTimeout)
	switch {
	case errors.Is(err, ErrTimeout):
		o.cfg.Log.Info("espa: control station did not answer our select")
		return c.write(EOT)
	case err != nil:
		return err
	case t.kind != tokACK:
		// NAK: not ready; EOT: it took the line back; anything else:
		// not the answer. Either way the turn is over.
		o.cfg.Log.Info("espa: control station not ready for status", "answer", int(t.kind))
		if t.kind == tokEOT {
			return nil
		}
		return c.write(EOT)
	}
	for _, s := range pending {
		done, err := o.sendStatus(ctx, c, s)
		if err != nil {
			return err
		}
		if !done {
			break
		}
	}
	return c.write(EOT)
}

// sendStatus sends one status block and waits for its answer, sending it
// again after NAK or silence up to MaxRetries times. done is false when
// the turn should end (no answer: the status stays queued).
func (o *Outstation) sendStatus(ctx context.Context, c *conn, s Status) (done bool, err error) {
	raw, err := s.Encode(o.cfg.Dialect) // checked by QueueStatus
	if err != nil {
		o.dequeue(s, false)
		return true, nil
	}
	r, err := c.sendBlock(ctx, raw, o.cfg.MaxRetries, o.cfg.ResponseTimeout)
	switch {
	case err != nil:
		return false, err
	case r.acked:
		o.dequeue(s, true)
		return true, nil
	case r.eot:
		return false, nil // the control station took the line back
	}
	if r.timeouts == 0 {
		o.cfg.Log.Warn("espa: control station refused a status; dropped", "address", s.Address, "status", s.Call)
		o.dequeue(s, false)
		return true, nil
	}
	o.cfg.Log.Info("espa: no answer to a status; kept for the next poll", "address", s.Address, "status", s.Call)
	return false, nil
}

// dequeue removes s, the head of the queue, after it was sent (ok) or
// refused for good.
func (o *Outstation) dequeue(s Status, ok bool) {
	o.mu.Lock()
	if len(o.queue) > 0 {
		o.queue = o.queue[1:]
	}
	if ok {
		o.stats.StatusSent++
	} else {
		o.stats.StatusFailed++
	}
	o.mu.Unlock()
	switch {
	case ok && o.cfg.OnStatusSent != nil:
		o.cfg.OnStatusSent(s)
	case !ok && o.cfg.OnStatusDropped != nil:
		o.cfg.OnStatusDropped(s)
	}
}
