package paging

import (
	"fmt"
	"time"
)

// State is where a delivery or one of its attempts stands.
//
//	queued → sent → delivered → read → acknowledged
//	   └─► failed_temp (retry: back to queued) | failed_perm | expired | cancelled
//
// Acknowledged, failed_perm, expired and cancelled are final.
type State string

const (
	StateQueued       State = "queued"
	StateSent         State = "sent"
	StateDelivered    State = "delivered"
	StateRead         State = "read"
	StateAcknowledged State = "acknowledged"
	StateFailedTemp   State = "failed_temp"
	StateFailedPerm   State = "failed_perm"
	StateExpired      State = "expired"
	StateCancelled    State = "cancelled"
)

// States lists every state, in lifecycle order.
var States = []State{
	StateQueued, StateSent, StateDelivered, StateRead, StateAcknowledged,
	StateFailedTemp, StateFailedPerm, StateExpired, StateCancelled,
}

// transitions is the whole state machine: every legal move. Progress may
// skip steps a channel cannot report (a pager never says "read"; an SMS
// reply acknowledges without a delivery report), but never goes back,
// except failed_temp → queued, which is the retry.
var transitions = map[State][]State{
	StateQueued:     {StateSent, StateFailedTemp, StateFailedPerm, StateExpired, StateCancelled},
	StateSent:       {StateDelivered, StateRead, StateAcknowledged, StateFailedTemp, StateFailedPerm, StateExpired, StateCancelled},
	StateDelivered:  {StateRead, StateAcknowledged, StateExpired, StateCancelled},
	StateRead:       {StateAcknowledged, StateExpired, StateCancelled},
	StateFailedTemp: {StateQueued, StateFailedPerm, StateExpired, StateCancelled},
}

// Valid reports whether s is a defined state.
func (s State) Valid() bool {
	for _, v := range States {
		if s == v {
			return true
		}
	}
	return false
}

// Final reports whether no transition leaves s.
func (s State) Final() bool { return s.Valid() && len(transitions[s]) == 0 }

// CanTransition reports whether the state machine allows s → to.
func (s State) CanTransition(to State) bool {
	for _, v := range transitions[s] {
		if v == to {
			return true
		}
	}
	return false
}

// TransitionError is returned for a move the state machine does not allow.
type TransitionError struct {
	From, To State
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("illegal delivery transition %s → %s", e.From, e.To)
}

// Attempt is one try to reach a recipient on one channel.
type Attempt struct {
	ID         ID        `json:"id"`
	DeliveryID ID        `json:"delivery_id"`
	Channel    Channel   `json:"channel"`
	Endpoint   Endpoint  `json:"endpoint"`
	State      State     `json:"state"`
	Updated    time.Time `json:"updated"`
	// Note is a non-PHI reason from the device or protocol ("TAP 213
	// truncated", "+CMS ERROR 500").
	Note string `json:"note,omitempty"`
}

// Transition moves the attempt to state to at time at, or returns a
// *TransitionError and leaves it unchanged.
func (a *Attempt) Transition(to State, at time.Time, note string) error {
	if !a.State.CanTransition(to) {
		return &TransitionError{From: a.State, To: to}
	}
	a.State, a.Updated, a.Note = to, at, note
	return nil
}

// Delivery is the progress of one message to one recipient, across every
// channel tried.
type Delivery struct {
	ID        ID     `json:"id"`
	MessageID ID     `json:"message_id"`
	PersonID  string `json:"person_id"`
	// Reason records why this person was chosen: "pager id 1002 → person",
	// "role cardiology: on call by schedule", "forwarded from dr-lee".
	Reason   string    `json:"reason"`
	State    State     `json:"state"`
	Updated  time.Time `json:"updated"`
	Attempts []Attempt `json:"attempts,omitempty"`
}

// Transition moves the delivery to state to at time at, or returns a
// *TransitionError and leaves it unchanged.
func (d *Delivery) Transition(to State, at time.Time) error {
	if !d.State.CanTransition(to) {
		return &TransitionError{From: d.State, To: to}
	}
	d.State, d.Updated = to, at
	return nil
}

// Acknowledge marks the delivery acknowledged and cancels every attempt
// still pending on other channels. It returns the attempts it cancelled.
func (d *Delivery) Acknowledge(via ID, at time.Time) ([]ID, error) {
	if err := d.Transition(StateAcknowledged, at); err != nil {
		return nil, err
	}
	var cancelled []ID
	for i := range d.Attempts {
		a := &d.Attempts[i]
		if a.ID == via {
			if a.State.CanTransition(StateAcknowledged) {
				a.State, a.Updated = StateAcknowledged, at
			}
			continue
		}
		if a.State.CanTransition(StateCancelled) {
			a.State, a.Updated, a.Note = StateCancelled, at, "acknowledged on another channel"
			cancelled = append(cancelled, a.ID)
		}
	}
	return cancelled, nil
}
