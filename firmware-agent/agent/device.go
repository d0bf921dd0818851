package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/firmware-agent/jobqueue"
	"pagebridge/firmware-agent/serialport"
	"pagebridge/gateway/paging"
	"pagebridge/storage"
)

// job is a job from the gateway on its way to a device.
type job struct {
	key  paging.ID
	prio paging.Priority
	body agentapi.Job
	// resent: an earlier run was in flight when it was lost, so its
	// outcome is unknown; the result says so.
	resent bool
}

func decodeJob(sj storage.SpoolJob) (*job, error) {
	var body agentapi.Job
	env, err := agentapi.Open([]byte(sj.Payload.Reveal()), &body)
	if err != nil {
		return nil, err
	}
	if env.Key != sj.Key.String() {
		return nil, fmt.Errorf("spooled job %s holds envelope %s", sj.Key, env.Key)
	}
	return &job{key: sj.Key, prio: body.Priority, body: body}, nil
}

// Actions each device kind carries out.
const (
	ActionTAPPage = "tap.page"
)

var actions = map[string][]string{
	KindPagingTerminal: {ActionTAPPage},
	KindLoopback:       {ActionTAPPage},
	KindModem:          {ActionSMSSend},
	KindModemPool:      {ActionSMSSend},
	KindESPALine:       {ActionESPAStatus},
	KindESPASystem:     {ActionTAPPage},
	KindTransmitter:    {ActionPOCSAGPage},
}

// refusal says why d will not take j, or "" if it will.
func refusal(d *device, j *agentapi.Job) string {
	if d == nil {
		return "no such device on this agent"
	}
	for _, a := range actions[d.cfg.Kind] {
		if a == j.Action {
			return ""
		}
	}
	return fmt.Sprintf("device kind %s does not carry out %q", d.cfg.Kind, j.Action)
}

// outcome is what became of one job on the device.
type outcome struct {
	Outcome agentapi.Outcome
	Code    string // the device's own code
	Note    string // non-PHI detail
	// Err, when the outcome is unknown or the job never reached the
	// device, is the line's failure: the session ends and the line is
	// reopened.
	Err error
	// NotSent: the line failed before the job's bytes were written; the
	// job was never in flight and is not re-sent as unknown.
	NotSent bool
}

// device is one configured line with its driver and job queue.
type device struct {
	a     *Agent
	cfg   DeviceConfig
	queue *jobqueue.Queue[*job]
	line  *serialport.Line // nil for a listener

	mu      sync.Mutex
	addr    string // a listening line's bound address
	state   string
	since   time.Time
	lastErr string

	done, failed atomic.Uint64

	modem   *modemState // a modem's PDU encoder, reports, health
	tx      *txState    // a transmitter's scheduler, once running; under mu
	members []*device   // a modem pool's modems
}

func newDevice(a *Agent, dc DeviceConfig) (*device, error) {
	d := &device{a: a, cfg: dc, queue: jobqueue.New[*job](), state: agentapi.DeviceAbsent, since: a.clock.Now()}
	if _, listen := dc.Listen(); listen || dc.Kind == KindLoopback || dc.Kind == KindTransmitter {
		return d, nil
	}
	if dc.Kind == KindModem {
		m, err := newModemState(dc)
		if err != nil {
			return nil, fmt.Errorf("device %s: %w", dc.ID, err)
		}
		d.modem = m
	}
	l, err := serialport.New(dc.Line(), a.log.With("device", dc.ID), d.onLineState)
	if err != nil {
		return nil, fmt.Errorf("device %s: %w", dc.ID, err)
	}
	d.line = l
	return d, nil
}

// onLineState maps the line's state to the device's.
func (d *device) onLineState(s serialport.State, err error) {
	st := map[serialport.State]string{
		serialport.StateAbsent:       agentapi.DeviceAbsent,
		serialport.StateInitialising: agentapi.DeviceInitialising,
		serialport.StateReady:        agentapi.DeviceReady,
		serialport.StateFailing:      agentapi.DeviceFailing,
		serialport.StateClosed:       agentapi.DeviceAbsent,
	}[s]
	d.setState(st, err)
}

func (d *device) setState(st string, err error) {
	d.mu.Lock()
	changed := st != d.state
	if changed {
		d.state, d.since = st, d.a.clock.Now()
	}
	if err != nil {
		d.lastErr = truncate(err.Error(), agentapi.MaxNote)
	}
	d.mu.Unlock()
	if changed {
		d.a.poke()
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func (d *device) status() agentapi.DeviceStatus {
	if d.cfg.Kind == KindModemPool {
		return d.poolStatus()
	}
	d.mu.Lock()
	st := agentapi.DeviceStatus{ID: d.cfg.ID, Kind: d.cfg.Kind, State: d.state, Since: d.since, Error: d.lastErr,
		Queue: d.queue.Len(), Done: d.done.Load(), Failed: d.failed.Load()}
	tx := d.tx
	d.mu.Unlock()
	if tx != nil {
		st.AirTime = tx.airTime()
		if st.AirTime.LastError != "" && st.State == agentapi.DeviceReady {
			st.State, st.Error = agentapi.DeviceFailing, st.AirTime.LastError
		}
	}
	if d.modem != nil {
		d.modemHealthOf(&st)
		if d.cfg.Pool != "" {
			st.Queue = 0 // its jobs wait in the pool's queue
		}
	}
	return st
}

// run drives the device until ctx ends.
func (d *device) run(ctx context.Context) {
	if d.cfg.Kind == KindModemPool {
		return // its modems run
	}
	if addr, ok := d.cfg.Listen(); ok {
		d.listen(ctx, addr)
		return
	}
	if d.cfg.Kind == KindLoopback {
		d.a.log.Warn("loopback device: jobs given to it are reported done and go nowhere", "device", d.cfg.ID)
		d.setState(agentapi.DeviceReady, nil)
		d.runJobs(ctx, func(context.Context, *job) outcome {
			return outcome{Outcome: agentapi.OutcomeSent, Code: "loopback", Note: "loopback device: not transmitted"}
		})
		d.setState(agentapi.DeviceAbsent, nil)
		return
	}
	if d.cfg.Kind == KindESPALine {
		d.runESPA(ctx)
		return
	}
	if d.cfg.Kind == KindTransmitter {
		d.runTransmitter(ctx)
		return
	}
	var s serialport.Session
	switch d.cfg.Kind {
	case KindPagingTerminal:
		s = d.tapClientSession
	case KindESPASystem:
		s = d.espaSystemSession
	case KindTAPLine:
		s = func(ctx context.Context, rw io.ReadWriter, ready func()) error {
			ready()
			return d.serveTAP(ctx, rw)
		}
	case KindModem:
		s = d.modemSession
	}
	d.line.Run(ctx, s)
}

// runJobs gives the device its jobs, up to MaxInFlight at a time, until
// ctx ends or exec reports that the line failed. Each batch is marked in
// flight in the spool before the first byte goes out; the results of a
// batch are committed with the start of the next (one fdatasync for both),
// or alone when nothing else waits.
func (d *device) runJobs(ctx context.Context, exec func(context.Context, *job) outcome) error {
	var done []storage.FinishedJob // results not yet committed
	for {
		batch := d.take(ctx, len(done) == 0)
		if ctx.Err() != nil {
			d.pushBack(batch) // taken as ctx ended (Pop prefers a job): not started
			d.commit(ctx, done)
			return ctx.Err()
		}
		if len(batch) == 0 {
			d.commit(ctx, done)
			done = nil
			continue
		}
		if err := d.a.spool.Advance(ctx, done, keysOf(batch)); err != nil {
			d.commit(ctx, done)
			done = nil
			if !errors.Is(err, paging.ErrNotFound) {
				d.pushBack(batch)
				return fmt.Errorf("spool: %w", err)
			}
			// A job the spool no longer holds (finished meanwhile) must not
			// run: start them one by one and drop those.
			if batch = d.startEach(ctx, batch); len(batch) == 0 {
				continue
			}
		} else {
			d.committed(done)
			done = nil
		}
		var lineErr error
		for i, j := range batch {
			if p, ok := d.queue.Head(); ok && i > 0 && p > j.prio {
				// A more urgent job arrived: it goes next.
				d.unstart(batch[i:])
				break
			}
			o := exec(ctx, j)
			if o.Err != nil {
				if o.NotSent {
					d.unstart(batch[i:])
				} else {
					j.resent = true // in flight when the line failed
					d.unstart(batch[i+1:])
					d.pushBack([]*job{j})
				}
				lineErr = o.Err
				break
			}
			f, err := d.finished(j, o)
			if err != nil {
				d.a.log.Error("result not encoded", "job", j.key, "err", err)
				continue
			}
			done = append(done, f)
		}
		if lineErr != nil {
			d.commit(ctx, done)
			return lineErr
		}
	}
}

// take returns the next jobs, up to MaxInFlight, most urgent first; it
// waits for one only if wait is set.
func (d *device) take(ctx context.Context, wait bool) []*job {
	var batch []*job
	if wait {
		first, err := d.queue.Pop(ctx)
		if err != nil {
			return nil
		}
		batch = append(batch, first)
	}
	for len(batch) < d.cfg.MaxInFlight {
		j, ok := d.queue.TryPop()
		if !ok {
			break
		}
		batch = append(batch, j)
	}
	return batch
}

// startEach marks jobs in flight one at a time and returns those the
// spool still holds.
func (d *device) startEach(ctx context.Context, batch []*job) []*job {
	var out []*job
	for _, j := range batch {
		err := d.a.spool.StartJobs(ctx, []paging.ID{j.key})
		switch {
		case err == nil:
			out = append(out, j)
		case errors.Is(err, paging.ErrNotFound):
			d.a.log.Error("job no longer in the spool; not run", "device", d.cfg.ID, "job", j.key)
		default:
			d.pushBack([]*job{j})
		}
	}
	return out
}

// finished records o as j's result.
func (d *device) finished(j *job, o outcome) (storage.FinishedJob, error) {
	if o.Outcome == agentapi.OutcomeSent {
		d.done.Add(1)
	} else {
		d.failed.Add(1)
	}
	note := o.Note
	if j.resent {
		note = truncate("outcome unknown, re-sent; "+note, agentapi.MaxNote)
	}
	if j.body.Bypass {
		// The agent's own job: the gateway never gave it and waits for no
		// result; the page's Inbound told it of the bypass.
		d.a.log.Info("bypassed page done on the paging terminal", "device", d.cfg.ID, "job", j.key,
			"outcome", o.Outcome, "code", o.Code, "note", note)
		return storage.FinishedJob{Key: j.key}, nil
	}
	it, err := d.a.resultItem(j.key, d.cfg.ID, j.prio, agentapi.Result{Outcome: o.Outcome, Code: o.Code,
		Note: note, Attempt: max(j.body.Attempt, 1), Resent: j.resent})
	return storage.FinishedJob{Key: j.key, Result: it}, err
}

// commit stores results; it keeps trying while the disk refuses, since
// the device has done the jobs: if the agent stops first, they are still
// marked in flight and run again as unknown.
func (d *device) commit(ctx context.Context, finished []storage.FinishedJob) {
	if len(finished) == 0 {
		return
	}
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		err := d.a.spool.FinishJobs(context.WithoutCancel(ctx), finished)
		if err == nil {
			break
		}
		d.a.log.Error("spool: results not stored; retrying", "device", d.cfg.ID, "jobs", len(finished), "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
	d.committed(finished)
}

// committed schedules committed results for the gateway.
func (d *device) committed(finished []storage.FinishedJob) {
	if len(finished) == 0 {
		return
	}
	items := make([]storage.SpoolItem, 0, len(finished))
	for _, f := range finished {
		if f.Result.Key != (paging.ID{}) { // none for the agent's own jobs
			items = append(items, f.Result)
		}
	}
	// No status for this: results are the bulk of the traffic, and the
	// status follows when the gateway has them all (sender.acked) and on
	// its 15 s tick.
	d.a.out.add(items)
}

// unstart hands jobs that never reached the device back to the queue and
// clears their in-flight mark.
func (d *device) unstart(js []*job) {
	if len(js) == 0 {
		return
	}
	// Best effort: if this fails the jobs stay marked in flight and a
	// crash now would re-send them as unknown, which is safe.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.a.spool.UnstartJobs(ctx, keysOf(js)); err != nil {
		d.a.log.Error("spool: in-flight mark not cleared", "device", d.cfg.ID, "err", err)
	}
	d.pushBack(js)
}

// pushBack puts jobs back at the front of their tiers, in their order.
func (d *device) pushBack(js []*job) {
	for i := len(js) - 1; i >= 0; i-- {
		d.queue.PushFront(js[i].prio, js[i])
	}
}

func keysOf(js []*job) []paging.ID {
	ks := make([]paging.ID, len(js))
	for i, j := range js {
		ks[i] = j.key
	}
	return ks
}

var errLineQuiet = errors.New("device does not answer")
