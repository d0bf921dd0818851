package engine

import (
	"time"

	"pagebridge/gateway/paging"
	"pagebridge/gateway/routing"
)

// Route states.
const (
	// StateActive: steps of the policy run until someone acknowledges.
	StateActive = "active"
	// StateAcknowledged: someone acknowledged; nothing more is sent.
	StateAcknowledged = "acknowledged"
	// StateFallback: the policy ran out with nobody acknowledging; the
	// page is on the operators' console and went to the fallback role. It
	// stays there until someone acknowledges.
	StateFallback = "fallback"
	// StateDuplicate: the same page reached the gateway again within the
	// duplicate window (DuplicateOf); it is not sent again.
	StateDuplicate = "duplicate"
	// StateExpired: nobody acknowledged within the policy's Expire (never
	// for a critical page); nothing more is sent.
	StateExpired = "expired"
)

// Route is the engine's record of one page: where it went, why, on which
// channels, and how far its escalation has come. It holds no PHI (people
// and reasons are staff data; the text stays sealed with the message).
type Route struct {
	Message paging.ID `json:"message"`
	PagerID string    `json:"pager_id"`
	Label   string    `json:"label,omitempty"`
	// SenderRef is the sender's own reference (a WCTP messageID), for
	// status queries.
	SenderRef string          `json:"sender_ref,omitempty"`
	Target    paging.Target   `json:"target"`
	Priority  paging.Priority `json:"priority"`
	// Source says where the page came from, in words staff recognise.
	Source string `json:"source"`
	// Policy is the escalation policy as it was when the page arrived: an
	// edit while the page escalates does not re-map its steps.
	Policy routing.Policy `json:"policy"`
	Start  time.Time      `json:"start"`
	// Done is the last flat step of the policy that ran (-1: none).
	Done int `json:"done"`
	// Timer is the pending timer (the next step, or the fallback).
	Timer paging.ID `json:"timer,omitzero"`
	// Next is when that timer is due.
	Next time.Time `json:"next,omitzero"`
	// Expiry is the timer that ends the page unacknowledged (policy
	// Expire), if any.
	Expiry paging.ID `json:"expiry,omitzero"`
	State  string    `json:"state"`
	// DuplicateOf is the page this one repeats (StateDuplicate).
	DuplicateOf paging.ID `json:"duplicate_of,omitzero"`
	// Acked says who acknowledged, when, and on which channel.
	Acked *Ack `json:"acked,omitempty"`
	// Deliveries, one per person reached, in the order they were reached.
	Deliveries []paging.Delivery `json:"deliveries"`
	// ESPA is where call statuses go back, for a page that came in on an
	// agent's ESPA 4.4.4 line.
	ESPA *ESPAReturn `json:"espa,omitempty"`
	// Notes record what could not be done and why (nobody on call, a
	// channel skipped, a person held back), with the step.
	Notes []Note `json:"notes,omitempty"`
}

// Ack is an acknowledgement.
type Ack struct {
	Person  string         `json:"person"`
	Channel paging.Channel `json:"channel"`
	At      time.Time      `json:"at"`
}

// Note is something the engine could not do, and why; no PHI.
type Note struct {
	At   time.Time `json:"at"`
	Step int       `json:"step"` // flat step; -2 for the fallback
	Text string    `json:"text"`
}

// stepFallback marks notes and audit entries of the fallback.
const stepFallback = -2

func (r *Route) delivery(person string) *paging.Delivery {
	for i := range r.Deliveries {
		if r.Deliveries[i].PersonID == person {
			return &r.Deliveries[i]
		}
	}
	return nil
}

// attempt finds an attempt by ID.
func (r *Route) attempt(id paging.ID) (*paging.Delivery, *paging.Attempt) {
	for i := range r.Deliveries {
		d := &r.Deliveries[i]
		for j := range d.Attempts {
			if d.Attempts[j].ID == id {
				return d, &d.Attempts[j]
			}
		}
	}
	return nil, nil
}
