package routing

import "time"

// PresenceState is what a person has said about being reachable.
type PresenceState string

const (
	// PresenceAvailable: receives every page.
	PresenceAvailable PresenceState = "available"
	// PresenceBusy: receives every page; senders see the note.
	PresenceBusy PresenceState = "busy"
	// PresenceOffDuty: receives nothing; an active forward is followed.
	PresenceOffDuty PresenceState = "off-duty"
	// PresenceDND: do not disturb. Receives critical pages only; a
	// non-critical page follows an active forward or is held back.
	PresenceDND PresenceState = "dnd"
)

// Valid reports whether s is a defined presence state.
func (s PresenceState) Valid() bool {
	switch s {
	case PresenceAvailable, PresenceBusy, PresenceOffDuty, PresenceDND:
		return true
	}
	return false
}

// Presence is a person's presence and forwarding. Nothing in it is PHI.
type Presence struct {
	Person string        `json:"person"`
	State  PresenceState `json:"state"`
	// ForwardTo is a colleague's person ID that receives this person's
	// pages (see the package doc for exactly when). Optional.
	ForwardTo string `json:"forward_to,omitempty"`
	// Until is when State and ForwardTo stop applying; from then on the
	// person counts as available with no forward. Zero: until changed.
	Until time.Time `json:"until,omitzero"`
	// Note is shown to senders ("in theatre until 14:00"). Never PHI.
	Note string `json:"note,omitempty"`
}

// Effective returns the presence that applies at now: a record whose
// Until has passed (Until ≤ now) counts as available with no forward and
// no note.
func (p Presence) Effective(now time.Time) Presence {
	if !p.Until.IsZero() && !now.Before(p.Until) {
		return Presence{Person: p.Person, State: PresenceAvailable}
	}
	return p
}

// Receives reports whether a person in this presence is paged themselves
// for a page of priority critical (true) or lower (false). A state that is
// not one of the four defined ones receives: a bad presence record must
// not silence pages.
func (p Presence) Receives(critical bool) bool {
	switch p.State {
	case PresenceOffDuty:
		return false
	case PresenceDND:
		return critical
	}
	return true
}

// words describes the state for a reason shown to senders.
func (p Presence) words() string {
	var w string
	switch p.State {
	case PresenceAvailable:
		w = "forward set"
	case PresenceBusy:
		w = "busy"
	case PresenceOffDuty:
		w = "off duty"
	case PresenceDND:
		w = "do not disturb"
	default:
		w = "presence " + quote(string(p.State)) + " unknown, treated as available"
	}
	if p.Note != "" {
		w += ", " + p.Note
	}
	return w
}

func quote(s string) string { return `"` + s + `"` }
