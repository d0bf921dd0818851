package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/firmware-agent/espa"
	"pagebridge/gateway/paging"
)

// ActionESPAStatus sends an ESPA call status (Job.ESPAStatus) about the
// call address Job.To to the control station of an espa-line: the
// gateway's report that the page it made of a call was paged (3),
// acknowledged (6) or failed (8).
const ActionESPAStatus = "espa.status"

// espaConfig returns the outstation configuration of an espa-line device.
// For other kinds it is an error to set an espa_ key.
func (d DeviceConfig) espaConfig() (espa.OutstationConfig, error) {
	if d.Kind != KindESPALine && d.Kind != KindESPASystem {
		if d.ESPADialect != "" || d.ESPAAddress != "" || d.ESPAControl != "" {
			return espa.OutstationConfig{}, errors.New("espa_dialect, espa_address and espa_control are for espa-line and espa-system devices")
		}
		return espa.OutstationConfig{}, nil
	}
	dialect, err := espa.ParseDialect(d.ESPADialect)
	if err != nil {
		return espa.OutstationConfig{}, errors.New("espa_dialect: standard or ascom")
	}
	cfg := espa.OutstationConfig{Dialect: dialect, IdleTimeout: d.IdleTimeout.Duration}
	for _, a := range []struct {
		key, v string
		dst    *byte
		def    byte
	}{
		{"espa_address", d.ESPAAddress, &cfg.Address, espa.DefaultAddress},
		{"espa_control", d.ESPAControl, &cfg.ControlAddress, espa.DefaultControlAddress},
	} {
		switch {
		case a.v == "":
			*a.dst = a.def
		case len(a.v) == 1 && a.v[0] >= '0' && a.v[0] <= '9':
			*a.dst = a.v[0]
		default:
			return espa.OutstationConfig{}, fmt.Errorf("%s: one digit, 0 to 9", a.key)
		}
	}
	if cfg.Address == cfg.ControlAddress {
		return espa.OutstationConfig{}, errors.New("espa_address: the same as espa_control")
	}
	return cfg, nil
}

// runESPA serves an espa-line until ctx ends: the nurse call system (the
// control station) sends calls, which become pages like a TAP line's,
// each in the spool before it is ACKed; espa.status jobs from the gateway
// go back to it as status blocks on its next poll.
func (d *device) runESPA(ctx context.Context) {
	cfg, _ := d.cfg.espaConfig() // checked by Validate
	cfg.Log = d.a.log.With("device", d.cfg.ID)
	w := &espaWaiters{}
	cfg.OnStatusSent = func(espa.Status) { w.done(true) }
	cfg.OnStatusDropped = func(espa.Status) { w.done(false) }
	o, err := espa.NewOutstation(cfg, d.acceptCall)
	if err != nil {
		d.setState(agentapi.DeviceFailing, err)
		return
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.runJobs(ctx, func(ctx context.Context, j *job) outcome { return d.sendStatus(ctx, o, w, j) })
	}()
	d.line.Run(ctx, func(ctx context.Context, rw io.ReadWriter, ready func()) error {
		ready()
		return o.Serve(ctx, rw)
	})
	wg.Wait()
}

// acceptCall makes a call from the control station a page: durable in the
// spool before the outstation ACKs it. Record 6 sets the page's tier
// (alarm critical, high high, normal normal), or the line's default when
// absent; the ID's own tier and the line's keyword rules raise it. A
// reset, remote acknowledgement or erase (call types 1, 5, 6) is taken and
// not paged: the gateway has no way yet to cancel a page by address.
func (d *device) acceptCall(ctx context.Context, c espa.Call) error {
	switch c.Type {
	case espa.CallReset, espa.CallRemoteAck, espa.CallErase:
		d.a.log.Info("ESPA call cancelling an earlier one taken, not paged", "device", d.cfg.ID, "call", c)
		return nil
	}
	base := d.cfg.Priority
	if t, ok := c.Priority.Tier(); ok {
		base = t
	}
	switch d.acceptInbound(ctx, paging.ProtocolESPA, c.Address, c.Text, base) {
	case inboundTaken:
		return nil
	case inboundUnknownID:
		return errors.New("unknown call address")
	case inboundMalformed:
		return errors.New("call cannot be encoded")
	}
	return errors.New("spool did not take the call")
}

// sendStatus carries out an espa.status job: it queues the status for the
// control station and waits until the control station acknowledged it
// (sent), refused it for good (fail-perm) or ctx ended (fail-temp: the job
// is run again, and the status may reach the control station twice,
// which a status may).
func (d *device) sendStatus(ctx context.Context, o *espa.Outstation, w *espaWaiters, j *job) outcome {
	if j.body.Action != ActionESPAStatus {
		return outcome{Outcome: agentapi.OutcomeFailPerm, Note: refusal(d, &j.body)}
	}
	s := espa.Status{Address: j.body.To, Call: espa.CallStatus(j.body.ESPAStatus)}
	ch := w.add()
	if err := o.QueueStatus(s); err != nil {
		w.cancel(ch)
		if errors.Is(err, espa.ErrQueueFull) {
			return outcome{Outcome: agentapi.OutcomeFailTemp, Note: err.Error()}
		}
		return outcome{Outcome: agentapi.OutcomeFailPerm, Note: err.Error()}
	}
	select {
	case ok := <-ch:
		if !ok {
			return outcome{Outcome: agentapi.OutcomeFailPerm, Note: "control station refused the status (NAK)"}
		}
		return outcome{Outcome: agentapi.OutcomeSent, Code: "ACK"}
	case <-ctx.Done():
		return outcome{Outcome: agentapi.OutcomeFailTemp, Note: "agent stopping; status still queued"}
	}
}

// espaWaiters matches the outstation's reports (sent or dropped) to the
// jobs waiting for them: the outstation sends its queue in order, so the
// first report is the first waiter's.
type espaWaiters struct {
	mu    sync.Mutex
	queue []chan bool
}

func (w *espaWaiters) add() chan bool {
	ch := make(chan bool, 1)
	w.mu.Lock()
	w.queue = append(w.queue, ch)
	w.mu.Unlock()
	return ch
}

// cancel removes ch, whose status never went into the queue.
func (w *espaWaiters) cancel(ch chan bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, c := range w.queue {
		if c == ch {
			w.queue = append(w.queue[:i], w.queue[i+1:]...)
			return
		}
	}
}

func (w *espaWaiters) done(ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) == 0 {
		return
	}
	w.queue[0] <- ok
	w.queue = w.queue[1:]
}
