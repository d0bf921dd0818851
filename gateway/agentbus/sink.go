package agentbus

import (
	"context"
	"fmt"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/gateway/paging"
	"pagebridge/storage"
)

// StoreSink stores what agents report in the gateway's store: inbound
// pages as messages under the agent's idempotency key (a page delivered
// twice is stored once), results by job.
type StoreSink struct {
	Store *storage.Store
	// Prepare, if set, may adjust each inbound page before it is stored
	// (its tier, by the gateway's rules).
	Prepare func(ctx context.Context, m *paging.Message)
	// OnAccepted, if set, is called after each inbound page is stored.
	OnAccepted func(m *paging.Message)
	// OnResult, if set, is called after each result is recorded (the
	// delivery engine updates the page's attempt).
	OnResult func(ctx context.Context, job paging.ID, r *agentapi.Result)
	// OnSMS handles a text message a modem received; nil drops it (with
	// a log line). It must be idempotent by key.
	OnSMS func(ctx context.Context, agent string, key paging.ID, m *agentapi.SMS) error
}

// SMS hands a received text message to OnSMS.
func (s StoreSink) SMS(ctx context.Context, agent string, key paging.ID, m *agentapi.SMS) error {
	if s.OnSMS == nil {
		return nil
	}
	return s.OnSMS(ctx, agent, key, m)
}

// Inbound accepts a page an agent's line received.
func (s StoreSink) Inbound(ctx context.Context, agent string, key paging.ID, in *agentapi.Inbound) error {
	msg := &paging.Message{
		ID:       key,
		Source:   paging.Source{Protocol: in.Protocol, Line: in.Line, Sender: "agent " + agent, Agent: agent},
		PagerID:  in.PagerID,
		Priority: in.Priority,
		Text:     in.Text.PHI(),
		Received: in.Received,
	}
	for _, t := range in.BypassedTo {
		e := paging.Endpoint{Channel: paging.ChannelPager, Address: t.To, Via: t.Via}
		if c := t.POCSAG; c != (agentapi.POCSAG{}) {
			e.POCSAG = paging.POCSAG{Rate: c.Rate, Function: c.Function, Kind: paging.POCSAGKind(c.Kind), Group: c.Group}
		}
		msg.Bypassed = append(msg.Bypassed, e)
	}
	if s.Prepare != nil {
		s.Prepare(ctx, msg)
	}
	ev := paging.AuditEvent{Actor: "agent:" + agent, Action: "message.accept", Object: "message/" + key.String(), Source: in.Line}
	if in.Bypassed {
		ev.Detail = fmt.Sprintf("bypassed by the agent to %d pager(s) through its paging terminal while the gateway was unreachable", len(in.BypassedTo))
	}
	if err := s.Store.Accept(ctx, msg, ev); err != nil {
		return err
	}
	if s.OnAccepted != nil {
		s.OnAccepted(msg)
	}
	return nil
}

// Result records what became of a job.
func (s StoreSink) Result(ctx context.Context, agent string, key paging.ID, r *agentapi.Result) error {
	job, err := paging.ParseID(r.Job)
	if err != nil {
		return fmt.Errorf("%w: result for job %q", agentapi.ErrMalformed, r.Job)
	}
	_, err = s.Store.RecordJobResult(ctx, storage.JobResult{Job: job, Agent: agent, Device: r.Device,
		Outcome: string(r.Outcome), Code: r.Code, Note: r.Note, At: r.At, Received: time.Now(), Attempt: r.Attempt, Resent: r.Resent})
	if err == nil && s.OnResult != nil {
		s.OnResult(ctx, job, r)
	}
	return err
}
