package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"pagebridge/firmware-agent/espa"
)

// ESPA devices. Both ride on a Sender's pty and inbox: what the agent
// writes is kept for the device's own espa role to read, through a
// senderConn whose reads time out as a serial port's do.

// espaFaults are the line faults an ESPA device can be told to make, each
// once. The zero value makes none.
type espaFaults struct {
	mu        sync.Mutex
	corrupt   int  // blocks still to send with a wrong BCC
	loseACK   int  // ACKs still to lose, each the answer to a block we send
	dropArmed bool // a block went out: the next ACK read is the one to lose
}

// line wraps the device's side of the line with the faults.
func (f *espaFaults) line(c senderConn) *espaLine { return &espaLine{c: c, f: f} }

// espaLine is a senderConn that makes the faults.
type espaLine struct {
	c senderConn
	f *espaFaults
}

func (l *espaLine) Write(p []byte) (int, error) {
	f := l.f
	f.mu.Lock()
	if len(p) > 0 && p[0] == espa.SOH {
		if f.corrupt > 0 {
			f.corrupt--
			p = bytes.Clone(p)
			p[len(p)-1] ^= 0x01 // a wrong BCC, still one byte
		}
		if f.loseACK > 0 {
			f.dropArmed = true
		}
	}
	f.mu.Unlock()
	return l.c.Write(p)
}

func (l *espaLine) Read(p []byte) (int, error) {
	n, err := l.c.Read(p)
	f := l.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dropArmed {
		// Only ACK or NAK answers a block we sent, so this 0x06 is an
		// ACK, not some block's BCC.
		if i := bytes.IndexByte(p[:n], espa.ACK); i >= 0 {
			copy(p[i:], p[i+1:n])
			n--
			f.loseACK--
			f.dropArmed = false
		}
	}
	return n, err
}

// CorruptNextBCC makes the next data block the device sends go out with
// a wrong BCC, once: the other station should answer it NAK, and the
// device sends it again, right.
func (f *espaFaults) CorruptNextBCC() {
	f.mu.Lock()
	f.corrupt++
	f.mu.Unlock()
}

// LoseNextACK loses the ACK that answers the next data block the device
// sends, as if garbled on the line: the device times out and sends the
// block again, which the other station has taken already.
func (f *espaFaults) LoseNextACK() {
	f.mu.Lock()
	f.loseACK++
	f.mu.Unlock()
}

// ESPAControlStationOptions configure a simulated ESPA control station.
type ESPAControlStationOptions struct {
	Name string // symlink name in the device dir; default "espa-cs0"
	// Control is how it speaks ESPA: addresses (default '1', outstation
	// '2'), dialect, timeouts.
	Control espa.ControlConfig
}

// ESPAControlStation is a simulated ESPA 4.4.4 control station (a nurse
// call system, a PBX) on a pty pair: the agent's outstation opens Path()
// as it opens the serial line a real one is wired to. Call selects the
// agent and sends a call; Poll polls it and keeps the status blocks it
// sends (Statuses). CorruptNextBCC and LoseNextACK make line faults.
// Received() is what the agent sent, Sent() what the control station
// wrote.
type ESPAControlStation struct {
	*Device
	espaFaults
	s    *Sender
	opts ESPAControlStationOptions

	xmu sync.Mutex // one exchange at a time

	mu       sync.Mutex
	statuses []espa.Status
	blocks   []espa.Block // every block the agent sent us that we took
	changed  chan struct{}
}

// NewESPAControlStation starts a simulated control station whose symlink
// is dir/opts.Name.
func NewESPAControlStation(dir string, opts ESPAControlStationOptions) (*ESPAControlStation, error) {
	if opts.Name == "" {
		opts.Name = "espa-cs0"
	}
	s, err := NewSender(dir, SenderOptions{Name: opts.Name})
	if err != nil {
		return nil, err
	}
	return &ESPAControlStation{Device: s.Device, s: s, opts: opts, changed: make(chan struct{})}, nil
}

// station returns a control station on the current plug.
func (c *ESPAControlStation) station() (*espa.ControlStation, error) {
	c.s.mu.Lock()
	gen := c.s.gen
	c.s.mu.Unlock()
	return espa.NewControlStation(c.line(senderConn{s: c.s, gen: gen}), c.opts.Control)
}

// Call selects the outstation and sends it call; nil means it answered
// ACK. Its errors are those of espa.ControlStation.Send.
func (c *ESPAControlStation) Call(ctx context.Context, call espa.Call) error {
	c.xmu.Lock()
	defer c.xmu.Unlock()
	cs, err := c.station()
	if err != nil {
		return err
	}
	return cs.SendCall(ctx, call)
}

// Poll polls the outstation once and returns the status blocks it sent
// and we took (ACK), in order; they are kept in Statuses too. A block that
// is not a status is kept in Blocks only.
func (c *ESPAControlStation) Poll(ctx context.Context) ([]espa.Status, error) {
	c.xmu.Lock()
	defer c.xmu.Unlock()
	cs, err := c.station()
	if err != nil {
		return nil, err
	}
	var got []espa.Status
	_, err = cs.Poll(ctx, func(b espa.Block) error {
		var s espa.Status
		var serr error
		if b.Header == espa.HeaderStatus {
			if s, serr = espa.DecodeStatus(b, c.opts.Control.Dialect); serr != nil {
				return serr
			}
			got = append(got, s)
		}
		c.mu.Lock()
		c.blocks = append(c.blocks, b)
		if b.Header == espa.HeaderStatus {
			c.statuses = append(c.statuses, s)
		}
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
		return nil
	})
	return got, err
}

// PollUntil polls every interval until pred, given Statuses(), is true,
// or ctx ends (its error wrapped). A poll that fails (no answer, a line
// error) is followed by the next.
func (c *ESPAControlStation) PollUntil(ctx context.Context, interval time.Duration, pred func([]espa.Status) bool) error {
	for !pred(c.Statuses()) {
		_, _ = c.Poll(ctx)
		if pred(c.Statuses()) {
			break
		}
		select {
		case <-time.After(interval):
		case <-ctx.Done():
			return fmt.Errorf("sim: poll %s: %w", c.Path(), ctx.Err())
		}
	}
	return nil
}

// Statuses returns every status the control station took, in order,
// across reconnects. A status the agent sent twice is there once per
// block taken (retransmissions after a lost ACK are taken once).
func (c *ESPAControlStation) Statuses() []espa.Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]espa.Status(nil), c.statuses...)
}

// Blocks returns every block the control station took, status or not.
func (c *ESPAControlStation) Blocks() []espa.Block {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]espa.Block(nil), c.blocks...)
}

// ESPAPagingSystemOptions configure a simulated ESPA paging system.
type ESPAPagingSystemOptions struct {
	Name string // symlink name in the device dir; default "espa-ps0"
	// Outstation is how it speaks ESPA: addresses (default '2', control
	// station '1'), dialect, timeouts.
	Outstation espa.OutstationConfig
	// AutoStatus, if set, queues a status of the call's address with this
	// call status for every call taken, as a paging system reports
	// "paged" (3) once it sent the call.
	AutoStatus espa.CallStatus
	// Refuse, if set, decides whether a call is refused: NAK instead of
	// ACK. It is called from the device's goroutine.
	Refuse func(espa.Call) bool
}

// ESPAPagingSystem is a simulated ESPA 4.4.4 paging system (a DECT
// messaging server, a paging transmitter controller) on a pty pair: the
// agent's control station role opens Path(), selects it to send calls and
// polls it for status. It records every call it took (Calls, WaitCalls);
// QueueStatus and AutoStatus give it status blocks to send when polled;
// CorruptNextBCC and LoseNextACK make line faults on those.
type ESPAPagingSystem struct {
	*Device
	espaFaults
	s    *Sender
	o    *espa.Outstation
	opts ESPAPagingSystemOptions

	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	calls   []espa.Call
	changed chan struct{}
}

// NewESPAPagingSystem starts a simulated paging system whose symlink is
// dir/opts.Name.
func NewESPAPagingSystem(dir string, opts ESPAPagingSystemOptions) (*ESPAPagingSystem, error) {
	if opts.Name == "" {
		opts.Name = "espa-ps0"
	}
	p := &ESPAPagingSystem{opts: opts, changed: make(chan struct{}), done: make(chan struct{})}
	o, err := espa.NewOutstation(opts.Outstation, p.accept)
	if err != nil {
		return nil, err
	}
	s, err := NewSender(dir, SenderOptions{Name: opts.Name})
	if err != nil {
		return nil, err
	}
	p.o, p.s, p.Device = o, s, s.Device
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go p.serve(ctx)
	return p, nil
}

// serve runs the outstation on each plug-in until Close.
func (p *ESPAPagingSystem) serve(ctx context.Context) {
	defer close(p.done)
	for ctx.Err() == nil {
		p.s.mu.Lock()
		gen := p.s.gen
		p.s.mu.Unlock()
		_ = p.o.Serve(ctx, p.line(senderConn{s: p.s, gen: gen})) // ends when unplugged
		select {
		case <-ctx.Done():
		case <-time.After(senderReadTimeout): // unplugged: look for the next plug-in
		}
	}
}

func (p *ESPAPagingSystem) accept(_ context.Context, c espa.Call) error {
	if p.opts.Refuse != nil && p.opts.Refuse(c) {
		return errors.New("sim: call refused")
	}
	p.mu.Lock()
	p.calls = append(p.calls, c)
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
	if p.opts.AutoStatus != 0 {
		_ = p.o.QueueStatus(espa.Status{Address: c.Address, Call: p.opts.AutoStatus,
			ID: c.ID, RunningNumber: c.RunningNumber})
	}
	return nil
}

// QueueStatus queues s for the control station's next poll.
func (p *ESPAPagingSystem) QueueStatus(s espa.Status) error { return p.o.QueueStatus(s) }

// Stats returns the paging system's outstation counters.
func (p *ESPAPagingSystem) Stats() espa.OutstationStats { return p.o.Stats() }

// Calls returns every call the paging system took, in order, across
// reconnects; a call sent again after a lost ACK is there once.
func (p *ESPAPagingSystem) Calls() []espa.Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]espa.Call(nil), p.calls...)
}

// WaitCalls blocks until pred, given Calls(), returns true, or ctx ends
// (its error wrapped).
func (p *ESPAPagingSystem) WaitCalls(ctx context.Context, pred func([]espa.Call) bool) error {
	for {
		p.mu.Lock()
		calls, ch := append([]espa.Call(nil), p.calls...), p.changed
		p.mu.Unlock()
		if pred(calls) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("sim: wait for calls on %s: %w", p.Path(), ctx.Err())
		}
	}
}

// Close stops the paging system and unplugs it for good.
func (p *ESPAPagingSystem) Close() error {
	p.cancel()
	err := p.Device.Close() // wakes a Serve blocked on the line
	<-p.done
	return err
}
