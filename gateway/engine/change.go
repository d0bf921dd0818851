package engine

import (
	"context"
	"strings"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/gateway/agentbus"
	"pagebridge/gateway/paging"
	"pagebridge/storage"
)

// change gathers one step's writes for one commit.
type change struct {
	r  *Route
	rc storage.RouteChange
	// step: the change runs policy steps (or the fallback), so it opens
	// or extends the page's thread. Acks and job results never do: an
	// acknowledged page's thread, swept away later, must not come back.
	step bool
	// event is what Options.Observe hears of the change; zero: EventStep
	// for a step, else EventUpdated.
	event Event
}

func (e *Engine) newChange(r *Route, routed bool) *change {
	return &change{r: r, rc: storage.RouteChange{Message: r.Message, Routed: routed}}
}

// audit records what the step did. The entries of one change are packed
// into as few audit entries as their details fit (maxDetail each): one
// for a typical step instead of one per attempt.
func (c *change) audit(r *Route, action, detail string) {
	ev := &c.rc.Audit
	if n := len(*ev); n > 0 {
		last := &(*ev)[n-1]
		if len(last.Detail)+len(action)+len(detail)+4 <= maxDetail {
			last.Detail += "; " + strings.TrimPrefix(action, "page.") + ": " + detail
			return
		}
	}
	*ev = append(*ev, paging.AuditEvent{Actor: "system:engine", Action: action,
		Object: "message/" + r.Message.String(), Detail: detail})
}

// maxDetail keeps packed audit details within what the store keeps.
const maxDetail = 1000

// job adds a job for agent as attempt a, whose ID becomes the job's key.
func (c *change) job(jobs Jobs, agent string, a *paging.Attempt, j *agentapi.Job) error {
	it, err := jobs.NewJob(agent, j)
	if err != nil {
		return err
	}
	a.ID = it.ID
	c.rc.Outbox = append(c.rc.Outbox, it)
	c.rc.Attempts = append(c.rc.Attempts, it.ID)
	return nil
}

func (c *change) cancelTimer(r *Route) {
	if r.Timer != (paging.ID{}) {
		c.rc.Cancel = append(c.rc.Cancel, r.Timer)
		r.Timer, r.Next = paging.ID{}, time.Time{}
	}
}

func (c *change) setTimer(r *Route, kind string, due time.Time) {
	t := paging.Timer{ID: paging.NewID(due), Due: due, Kind: kind, Ref: "message/" + r.Message.String()}
	r.Timer, r.Next = t.ID, due
	c.rc.Timers = append(c.rc.Timers, t)
}

// commit writes the change and hands its jobs to the publisher.
func (e *Engine) commit(ctx context.Context, c *change) error {
	c.rc.Route = c.r
	e.espaStatus(c)
	if c.step && e.opts.PageThread != nil {
		if nt, ok := e.opts.PageThread(*c.r); ok {
			c.rc.Thread = &nt
		}
	}
	if err := e.st.ApplyRoute(ctx, c.rc); err != nil {
		return err
	}
	if len(c.rc.Outbox) > 0 {
		e.opts.Jobs.Committed(c.rc.Outbox...)
	}
	ev := c.event
	switch {
	case ev != "":
	case c.step:
		ev = EventStep
	default:
		ev = EventUpdated
	}
	e.observe(*c.r, ev)
	return nil
}

// observe tells Options.Observe of a committed change.
func (e *Engine) observe(r Route, ev Event) {
	if e.opts.Observe != nil {
		e.opts.Observe(r, ev)
	}
}

// OutboxJobs builds jobs as the bus bridge does and leaves their
// publication to the outbox scan of whatever bridge runs on the store: for
// tools and benchmarks that route pages without a live bus.
type OutboxJobs struct{ Clock paging.Clock }

// NewJob implements Jobs.
func (o OutboxJobs) NewJob(agent string, job *agentapi.Job) (paging.OutboxItem, error) {
	return agentbus.JobItem(o.Clock.Now(), agent, job)
}

// Committed implements Jobs: nothing to hand over.
func (OutboxJobs) Committed(...paging.OutboxItem) {}
