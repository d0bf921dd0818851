package sim

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"
)

// Modem is a simulated GSM modem on a pty pair. A goroutine of its own
// per plug-in owns the ModemResponder: it takes what the line brings,
// keeps the responder's clock in step with the real one, so that
// latencies, late replies, status reports and reboots come in real time,
// and runs the calls below (Deliver, Report, the faults) between bytes.
//
// The message storage, the SMSC address and the message reference
// counter survive Unplug and Plug, as a SIM's do; everything else starts
// afresh, as after a power cycle. Messages records every message the modem
// sent, across reconnects.
type Modem struct {
	*Device
	opts    ModemOptions
	store   *modemStore   // used only by the current loop
	started chan struct{} // closed once Device is set

	loopMu sync.Mutex
	loop   *modemLoop // the current plug-in's; nil when unplugged

	mu      sync.Mutex
	msgs    []SentMessage
	changed chan struct{} // closed and replaced when msgs grows
}

// modemLoop is the goroutine of one plug-in and its inputs.
type modemLoop struct {
	r    *ModemResponder // only accessed from run
	in   chan []byte     // bytes from the line
	do   chan func(*ModemResponder) []byte
	stop chan struct{}
	done chan struct{}
}

// NewModem starts a simulated modem whose symlink is dir/opts.Name.
func NewModem(dir string, opts ModemOptions) (*Modem, error) {
	opts = opts.withDefaults()
	m := &Modem{started: make(chan struct{}), changed: make(chan struct{})}
	onMessage := opts.OnMessage
	opts.OnMessage = func(s SentMessage) {
		m.mu.Lock()
		m.msgs = append(m.msgs, s)
		close(m.changed)
		m.changed = make(chan struct{})
		m.mu.Unlock()
		if onMessage != nil {
			onMessage(s)
		}
	}
	m.opts = opts
	m.store = newModemStore(opts)
	d, err := NewDevice(dir, opts.Name, m.newResponder)
	if err != nil {
		return nil, err
	}
	m.Device = d
	close(m.started)
	return m, nil
}

// newResponder is the Device's Responder factory, called at each Plug:
// it starts the plug-in's loop and hands the Device a Responder that
// passes the line's bytes to it.
func (m *Modem) newResponder() Responder {
	m.loopMu.Lock()
	defer m.loopMu.Unlock()
	if m.loop != nil { // plugged again without Modem.Unplug
		m.loop.halt()
	}
	l := &modemLoop{
		r:    newModemResponder(m.opts, m.store),
		in:   make(chan []byte),
		do:   make(chan func(*ModemResponder) []byte),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	m.loop = l
	go m.run(l)
	return modemFeed{l}
}

func (l *modemLoop) halt() {
	close(l.stop)
	<-l.done
}

// modemFeed is the Responder the Device runs: it hands each chunk to the
// loop, which answers on its own.
type modemFeed struct{ l *modemLoop }

func (f modemFeed) Respond(in []byte) []byte {
	select {
	case f.l.in <- bytes.Clone(in):
	case <-f.l.stop:
	}
	return nil
}

// run is the plug-in's loop. It writes through the Device, so what it
// writes is in Sent.
func (m *Modem) run(l *modemLoop) {
	defer close(l.done)
	select {
	case <-m.started:
	case <-l.stop:
		return
	}
	last := time.Now()
	advance := func() []byte {
		now := time.Now()
		d := now.Sub(last)
		last = now
		return l.r.Advance(d)
	}
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	out := advance() // the boot URCs
	for {
		if len(out) > 0 {
			// An error means the device was unplugged under us: the
			// bytes are lost, as on a real line.
			_, _ = m.Device.write(out)
		}
		if d, ok := l.r.Next(); ok {
			t.Reset(d)
		} else {
			t.Stop()
		}
		select {
		case in := <-l.in:
			out = append(advance(), l.r.Respond(in)...)
		case f := <-l.do:
			out = append(advance(), f(l.r)...)
		case <-t.C:
			out = advance()
		case <-l.stop:
			return
		}
	}
}

// Unplug stops the modem's goroutine and unplugs the device (see
// Device.Unplug).
func (m *Modem) Unplug() error {
	err := m.Device.Unplug()
	m.stopLoop()
	return err
}

// Close closes the device (see Device.Close) and stops the modem's
// goroutine.
func (m *Modem) Close() error {
	err := m.Device.Close()
	m.stopLoop()
	return err
}

func (m *Modem) stopLoop() {
	m.loopMu.Lock()
	defer m.loopMu.Unlock()
	if m.loop != nil {
		m.loop.halt()
		m.loop = nil
	}
}

// do runs f on the modem's goroutine and writes what it returns. It fails
// with ErrUnplugged while the modem is unplugged.
func (m *Modem) do(ctx context.Context, f func(r *ModemResponder) ([]byte, error)) error {
	m.loopMu.Lock()
	l := m.loop
	m.loopMu.Unlock()
	if l == nil {
		return ErrUnplugged
	}
	errc := make(chan error, 1)
	req := func(r *ModemResponder) []byte {
		out, err := f(r)
		errc <- err
		return out
	}
	select {
	case l.do <- req:
		return <-errc
	case <-l.stop:
		return ErrUnplugged
	case <-ctx.Done():
		return fmt.Errorf("sim: modem %s: %w", m.Path(), ctx.Err())
	}
}

// Messages returns every message the modem sent (answered +CMGS), in
// order, across reconnects: each part of a long message is one.
func (m *Modem) Messages() []SentMessage {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]SentMessage(nil), m.msgs...)
}

// WaitMessages blocks until pred, given Messages(), returns true, or ctx
// ends (its error wrapped).
func (m *Modem) WaitMessages(ctx context.Context, pred func([]SentMessage) bool) error {
	for {
		m.mu.Lock()
		msgs, ch := append([]SentMessage(nil), m.msgs...), m.changed
		m.mu.Unlock()
		if pred(msgs) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("sim: wait for messages on %s: %w", m.Path(), ctx.Err())
		}
	}
}

// Deliver receives an SMS from the network (see ModemResponder.Deliver)
// and returns how many parts it took.
func (m *Modem) Deliver(ctx context.Context, in Inbound) (parts int, err error) {
	err = m.do(ctx, func(r *ModemResponder) ([]byte, error) {
		out, n, err := r.Deliver(in)
		parts = n
		return out, err
	})
	return parts, err
}

// Report sends the status report of the message sent with reference mr
// now (see ModemResponder.Report).
func (m *Modem) Report(ctx context.Context, mr int, st ReportStatus) error {
	return m.do(ctx, func(r *ModemResponder) ([]byte, error) { return r.Report(mr, st) })
}

// LateOK: see ModemResponder.LateOK.
func (m *Modem) LateOK(ctx context.Context, n int, by time.Duration) error {
	return m.do(ctx, func(r *ModemResponder) ([]byte, error) { r.LateOK(n, by); return nil, nil })
}

// FailSends: see ModemResponder.FailSends.
func (m *Modem) FailSends(ctx context.Context, n, code int) error {
	return m.do(ctx, func(r *ModemResponder) ([]byte, error) { r.FailSends(n, code); return nil, nil })
}

// InjectURC: see ModemResponder.InjectURC.
func (m *Modem) InjectURC(ctx context.Context, urc string) error {
	return m.do(ctx, func(r *ModemResponder) ([]byte, error) { r.InjectURC(urc); return nil, nil })
}

// Hang: see ModemResponder.Hang. Unplug and Plug end it.
func (m *Modem) Hang(ctx context.Context, answersReset bool) error {
	return m.do(ctx, func(r *ModemResponder) ([]byte, error) { r.Hang(answersReset); return nil, nil })
}
