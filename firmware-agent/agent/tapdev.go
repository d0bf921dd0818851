package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/firmware-agent/tap"
	"pagebridge/gateway/paging"
)

// tapClientSession drives a paging terminal: log on, then send the
// device's jobs as TAP pages, critical first, logging on again when the
// terminal ends the session. A text longer than the terminal's max_text
// goes as several pages ending " (i/n)", or truncated.
func (d *device) tapClientSession(ctx context.Context, rw io.ReadWriter, ready func()) error {
	c := tap.NewClient(rw, tap.ClientConfig{Password: d.cfg.Password, NoLogon: d.cfg.NoLogon, NoChecksum: d.cfg.NoChecksum,
		BareLF: d.cfg.BareLF, ReplyWait: d.cfg.ReplyWait.Duration, MaxPagesPerSession: d.cfg.MaxPagesPerSession})
	mode := tap.FitSplit
	if d.cfg.LongText != "" {
		mode, _ = tap.ParseFitMode(d.cfg.LongText) // checked by Validate
	}
	if err := c.Logon(ctx); err != nil {
		return err
	}
	ready()
	return d.runJobs(ctx, func(ctx context.Context, j *job) outcome {
		parts := tap.Fit(string(j.body.Text), d.cfg.MaxText, mode)
		var o outcome
		for i, part := range parts {
			if !c.LoggedOn() {
				if err := c.Logon(ctx); err != nil {
					// Parts before this one went out: the job was in
					// flight, and running it again sends them again.
					return outcome{Err: err, NotSent: i == 0}
				}
			}
			o = tapOutcome(c.Send(ctx, tap.Page{ID: j.body.To, Text: paging.NewPHI(part)}))
			if o.Err != nil || o.Outcome != agentapi.OutcomeSent {
				if i > 0 {
					o.NotSent = false
					o.Note = truncate(fmt.Sprintf("part %d of %d: %s", i+1, len(parts), o.Note), agentapi.MaxNote)
				}
				return o
			}
		}
		if len(parts) > 1 {
			o.Note = fmt.Sprintf("sent as %d pages of at most %d characters", len(parts), d.cfg.MaxText)
		} else if mode == tap.FitTruncate && len(parts[0]) < len(tap.Printable(string(j.body.Text))) {
			o.Note = fmt.Sprintf("truncated to %d characters", d.cfg.MaxText)
		}
		return o
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
