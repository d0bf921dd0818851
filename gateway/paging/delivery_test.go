package paging

import (
	"errors"
	"testing"
	"time"
)

// TestTransitionsExhaustive checks every (from, to) pair of states against
// the lifecycle written out here independently of the table in delivery.go.
func TestTransitionsExhaustive(t *testing.T) {
	legal := map[[2]State]bool{}
	allow := func(from State, to ...State) {
		for _, s := range to {
			legal[[2]State{from, s}] = true
		}
	}
	abandon := []State{StateExpired, StateCancelled}
	allow(StateQueued, StateSent, StateFailedTemp, StateFailedPerm)
	allow(StateQueued, abandon...)
	allow(StateSent, StateDelivered, StateRead, StateAcknowledged, StateFailedTemp, StateFailedPerm)
	allow(StateSent, abandon...)
	allow(StateDelivered, StateRead, StateAcknowledged)
	allow(StateDelivered, abandon...)
	allow(StateRead, StateAcknowledged)
	allow(StateRead, abandon...)
	allow(StateFailedTemp, StateQueued, StateFailedPerm)
	allow(StateFailedTemp, abandon...)

	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	all := append([]State{"", "bogus"}, States...)
	for _, from := range all {
		for _, to := range all {
			want := legal[[2]State{from, to}]
			if got := from.CanTransition(to); got != want {
				t.Errorf("%q → %q: CanTransition = %v, want %v", from, to, got, want)
			}
			a := Attempt{State: from}
			err := a.Transition(to, at, "note")
			if want {
				if err != nil || a.State != to || !a.Updated.Equal(at) {
					t.Errorf("attempt %q → %q: err %v, state %q", from, to, err, a.State)
				}
				continue
			}
			var te *TransitionError
			if !errors.As(err, &te) || te.From != from || te.To != to {
				t.Errorf("attempt %q → %q: err = %v, want *TransitionError", from, to, err)
			}
			if a.State != from || !a.Updated.IsZero() || a.Note != "" {
				t.Errorf("attempt %q → %q: illegal transition changed the attempt: %+v", from, to, a)
			}
			d := Delivery{State: from}
			if err := d.Transition(to, at); !errors.As(err, &te) || d.State != from {
				t.Errorf("delivery %q → %q: err = %v, state %q", from, to, err, d.State)
			}
		}
	}
}

func TestFinalStates(t *testing.T) {
	final := map[State]bool{StateAcknowledged: true, StateFailedPerm: true, StateExpired: true, StateCancelled: true}
	for _, s := range States {
		if s.Final() != final[s] {
			t.Errorf("%s.Final() = %v", s, s.Final())
		}
	}
	if State("bogus").Final() || State("bogus").Valid() {
		t.Error("an undefined state is neither valid nor final")
	}
}

func TestAcknowledgeCancelsOtherChannels(t *testing.T) {
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	app, pager, sms, failed := NewID(at), NewID(at), NewID(at), NewID(at)
	d := Delivery{State: StateSent, Attempts: []Attempt{
		{ID: app, Channel: ChannelApp, State: StateRead},
		{ID: pager, Channel: ChannelPager, State: StateSent},
		{ID: sms, Channel: ChannelSMS, State: StateQueued},
		{ID: failed, Channel: ChannelSMS, State: StateFailedPerm},
	}}
	cancelled, err := d.Acknowledge(app, at)
	if err != nil {
		t.Fatal(err)
	}
	if d.State != StateAcknowledged {
		t.Fatalf("delivery state %s", d.State)
	}
	want := []State{StateAcknowledged, StateCancelled, StateCancelled, StateFailedPerm}
	for i, a := range d.Attempts {
		if a.State != want[i] {
			t.Errorf("attempt %d (%s): %s, want %s", i, a.Channel, a.State, want[i])
		}
	}
	if len(cancelled) != 2 || cancelled[0] != pager || cancelled[1] != sms {
		t.Errorf("cancelled %v", cancelled)
	}
	if _, err := d.Acknowledge(app, at); err == nil {
		t.Error("a second acknowledgement must be refused")
	}
}
