package engine

import (
	"slices"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/gateway/paging"
)

// ActionESPAStatus is the job that sends an ESPA 4.4.4 call status back to
// the control station of the line a page came in on.
const ActionESPAStatus = "espa.status"

// ESPA 4.4.4 call statuses (record 7) the engine reports.
const (
	ESPAPaged        = 3
	ESPAAcknowledged = 6
	ESPAFault        = 8
)

// ESPAReturn says where status goes back for a page that came in over
// ESPA 4.4.4: the agent and line (device) that received the call, and the
// call address. Sent lists the statuses already committed to the outbox:
// each goes once per page.
type ESPAReturn struct {
	Agent   string `json:"agent"`
	Line    string `json:"line"`
	Address string `json:"address"`
	Sent    []int  `json:"sent,omitempty"`
}

// espaReturnOf is the return path of a page from an agent's ESPA line, or
// nil.
func espaReturnOf(m *paging.Message) *ESPAReturn {
	s := m.Source
	if s.Protocol != paging.ProtocolESPA || s.Agent == "" || s.Line == "" {
		return nil
	}
	return &ESPAReturn{Agent: s.Agent, Line: s.Line, Address: m.PagerID}
}

// espaStatus adds to c the status jobs the route now calls for and has not
// sent: acknowledged (6) once someone acknowledged; fault (8) when it
// expired, or went to the fallback with nobody paged; paged (3) once a
// delivery reached someone. They commit with the change that moved the
// route, so a crash neither loses nor repeats one.
func (e *Engine) espaStatus(c *change) {
	r := c.r
	if r.ESPA == nil {
		return
	}
	paged := false
	for _, d := range r.Deliveries {
		if d.State == paging.StateSent || d.State == paging.StateDelivered || d.State == paging.StateRead || d.State == paging.StateAcknowledged {
			paged = true
		}
	}
	var due []int
	switch {
	case r.State == StateAcknowledged:
		due = []int{ESPAAcknowledged}
	case r.State == StateExpired, r.State == StateFallback && !paged:
		due = []int{ESPAFault}
	case paged:
		due = []int{ESPAPaged}
	}
	for _, st := range due {
		if slices.Contains(r.ESPA.Sent, st) {
			continue
		}
		it, err := e.opts.Jobs.NewJob(r.ESPA.Agent, &agentapi.Job{Device: r.ESPA.Line, Priority: r.Priority,
			Action: ActionESPAStatus, To: r.ESPA.Address, ESPAStatus: st})
		if err != nil {
			r.note(e.clock.Now(), r.Done, "ESPA status not sent back: "+err.Error())
			continue
		}
		c.rc.Outbox = append(c.rc.Outbox, it)
		r.ESPA.Sent = append(r.ESPA.Sent, st)
	}
}
