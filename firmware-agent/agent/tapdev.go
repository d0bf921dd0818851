package agent

import (
	"context"
	"errors"
	"io"
	"strconv"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/firmware-agent/tap"
)

// tapClientSession drives a paging terminal: log on, then send the
// device's jobs as TAP pages, logging on again when the terminal ends the
// session.
func (d *device) tapClientSession(ctx context.Context, rw io.ReadWriter, ready func()) error {
	c := tap.NewClient(rw, tap.ClientConfig{Password: d.cfg.Password})
	if err := c.Logon(ctx); err != nil {
		return err
	}
	ready()
	return d.runJobs(ctx, func(ctx context.Context, j *job) outcome {
		if !c.LoggedOn() {
			if err := c.Logon(ctx); err != nil {
				return outcome{Err: err, NotSent: true}
			}
		}
		return tapOutcome(c.Send(ctx, tap.Page{ID: j.body.To, Text: j.body.Text.PHI()}))
	})
}

// tapOutcome maps what Send returned to a job's outcome.
func tapOutcome(r tap.Reply, err error) outcome {
	if err == nil {
		o := outcome{Outcome: agentapi.OutcomeSent, Code: strconv.Itoa(r.Code())}
		switch {
		case r.Truncated():
			o.Note = "terminal truncated the message"
		case r.Deferred():
			o.Note = "terminal holds the page for deferred delivery"
		}
		return o
	}
	var se *tap.SendError
	if !errors.As(err, &se) {
		return outcome{Err: err, NotSent: true}
	}
	code := ""
	if c := se.Reply.Code(); c > 0 {
		code = strconv.Itoa(c)
	}
	switch {
	case errors.Is(err, tap.ErrPermanent):
		return outcome{Outcome: agentapi.OutcomeFailPerm, Code: code, Note: truncate(se.Err.Error(), agentapi.MaxNote)}
	case errors.Is(err, tap.ErrUnknown):
		// In flight: the line is in doubt, the session ends, and the job
		// is run again as "outcome unknown, re-sent".
		return outcome{Err: err}
	case errors.Is(err, tap.ErrNAK):
		return outcome{Outcome: agentapi.OutcomeFailTemp, Code: code, Note: "terminal answered NAK to every send"}
	default:
		// Not accepted and not in doubt (disconnected, line failed before
		// the last block, stopping): the job runs again after the line
		// comes back.
		return outcome{Err: err, NotSent: true}
	}
}
