package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/firmware-agent/espa"
	"pagebridge/gateway/paging"
	"pagebridge/storage"
)

// KindESPASystem is an ESPA 4.4.4 paging system the agent forwards pages
// to as the control station: a DECT messaging server, or the paging
// controller of another site. Its jobs are page jobs (tap.page: a call to
// the pager ID in Job.To with Job.Text), as a paging terminal's are; the
// paging system's call statuses come back as delivery reports.
const KindESPASystem = "espa-system"

// espaSystemPoll is how long an espa-system's line may stay quiet before
// it is polled for status: often enough for reports to come back
// promptly and for a dead line to show.
const espaSystemPoll = 2 * time.Second

// maxESPAReported bounds the calls an espa-system remembers for matching
// status reports: the newest job for each call address.
const maxESPAReported = 1024

// espaSent is a call the paging system took, for its status reports.
type espaSent struct {
	job     paging.ID
	prio    paging.Priority
	attempt int
	at      time.Time
}

// espaSystemSession drives an espa-system for as long as its line lasts:
// a first poll proves the paging system answers; then page jobs go out as
// calls, and between them the paging system is polled for status. A poll
// nobody answers ends the session: the line is reopened with backoff, and
// the device shows failing meanwhile.
func (d *device) espaSystemSession(ctx context.Context, rw io.ReadWriter, ready func()) error {
	oc, _ := d.cfg.espaConfig() // checked by Validate
	cs, err := espa.NewControlStation(rw, espa.ControlConfig{Address: oc.ControlAddress, Outstation: oc.Address,
		Dialect: oc.Dialect, Log: d.a.log.With("device", d.cfg.ID)})
	if err != nil {
		return err
	}
	sent := map[string]espaSent{} // by call address
	var mu sync.Mutex             // the line: one exchange at a time
	poll := func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		_, err := cs.Poll(ctx, func(b espa.Block) error { return d.espaReport(ctx, oc.Dialect, b, sent) })
		return err
	}
	if err := poll(ctx); err != nil {
		return fmt.Errorf("paging system does not answer a poll: %w", err)
	}
	ready()

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var pollErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(espaSystemPoll)
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
			if err := poll(sctx); err != nil && sctx.Err() == nil {
				pollErr = fmt.Errorf("paging system stopped answering polls: %w", err)
				cancel()
				return
			}
		}
	})
	err = d.runJobs(sctx, func(ctx context.Context, j *job) outcome {
		mu.Lock()
		defer mu.Unlock()
		return d.sendCall(ctx, cs, j, sent)
	})
	cancel()
	wg.Wait()
	if pollErr != nil && ctx.Err() == nil {
		return pollErr
	}
	return err
}

// sendCall sends one page job to the paging system as a call.
func (d *device) sendCall(ctx context.Context, cs *espa.ControlStation, j *job, sent map[string]espaSent) outcome {
	if j.body.Action != ActionTAPPage {
		return outcome{Outcome: agentapi.OutcomeFailPerm, Note: refusal(d, &j.body)}
	}
	c := espa.Call{Address: j.body.To, Text: j.body.Text.PHI(), Priority: espaPriority(j.prio)}
	err := cs.SendCall(ctx, c)
	switch {
	case err == nil:
		if len(sent) >= maxESPAReported {
			oldest := ""
			for a, s := range sent {
				if oldest == "" || s.at.Before(sent[oldest].at) {
					oldest = a
				}
			}
			delete(sent, oldest)
		}
		sent[c.Address] = espaSent{job: j.key, prio: j.prio, attempt: max(j.body.Attempt, 1), at: d.a.clock.Now()}
		return outcome{Outcome: agentapi.OutcomeSent, Code: "ACK"}
	case errors.Is(err, espa.ErrRefused):
		return outcome{Outcome: agentapi.OutcomeFailPerm, Code: "NAK", Note: "paging system refused the call (NAK to every try)"}
	case errors.Is(err, espa.ErrNotReady):
		// Nothing went out: the job waits for the line to come back.
		return outcome{Err: err, NotSent: true}
	case errors.Is(err, espa.ErrUnknown):
		// In flight: run again as "outcome unknown, re-sent".
		return outcome{Err: err}
	case errors.Is(err, espa.ErrMalformed) || errors.Is(err, espa.ErrInvalid) || errors.Is(err, espa.ErrTooLong):
		return outcome{Outcome: agentapi.OutcomeFailPerm, Note: truncate(err.Error(), agentapi.MaxNote)}
	}
	return outcome{Err: err}
}

// espaPriority is record 6 for a page's tier.
func espaPriority(p paging.Priority) espa.Priority {
	switch p {
	case paging.PriorityCritical:
		return espa.PriorityAlarm
	case paging.PriorityHigh:
		return espa.PriorityHigh
	}
	return espa.PriorityNormal
}

// espaReport takes a status block from the paging system: the call status
// of a call we sent becomes its job's delivery report, committed to the
// spool before the block is ACKed (a NAK makes the paging system send it
// again). Paged (3) and acknowledged (6) are delivered; absent (4) and
// fault (8) undelivered; busy, queued, terminated and speech say nothing
// yet. Statuses of calls this session did not send, and system statuses,
// are logged and ACKed.
func (d *device) espaReport(ctx context.Context, dialect espa.Dialect, b espa.Block, sent map[string]espaSent) error {
	st, err := espa.DecodeStatus(b, dialect)
	if err != nil {
		return nil // not a status block: nothing to take
	}
	if st.System != 0 {
		d.a.log.Info("ESPA paging system status", "device", d.cfg.ID, "status", st.System)
	}
	var o agentapi.Outcome
	switch st.Call {
	case espa.StatusPaged, espa.StatusAcknowledged:
		o = agentapi.OutcomeDelivered
	case espa.StatusAbsent, espa.StatusFault:
		o = agentapi.OutcomeUndelivered
	default:
		return nil
	}
	s, ok := sent[st.Address]
	if !ok {
		d.a.log.Info("ESPA call status for no call sent in this session", "device", d.cfg.ID, "address", st.Address, "status", st.Call)
		return nil
	}
	delete(sent, st.Address) // one report a call
	it, err := d.a.resultItem(s.job, d.cfg.ID, s.prio, agentapi.Result{Outcome: o, Code: st.Call.String(), Attempt: s.attempt})
	if err != nil {
		return nil
	}
	if _, err := d.a.spool.PutItems(ctx, []storage.SpoolItem{it}); err != nil {
		sent[st.Address] = s
		d.a.log.Error("spool: ESPA call status not stored", "device", d.cfg.ID, "err", err)
		return err
	}
	d.a.out.add([]storage.SpoolItem{it})
	return nil
}
