package routing

import (
	"fmt"
	"time"

	"pagebridge/gateway/paging"
)

// fakeDir is a Directory over maps. OnCall for a role not in oncall is an
// error wrapping paging.ErrNotFound.
type fakeDir struct {
	people   map[string]paging.Person
	groups   map[string]paging.Group
	oncall   map[string][]Assignment
	presence map[string]Presence
	// calls counts directory reads, to show Resolve stays bounded.
	calls int
}

var _ Directory = (*fakeDir)(nil)

func newFakeDir(ids ...string) *fakeDir {
	d := &fakeDir{people: map[string]paging.Person{}, groups: map[string]paging.Group{},
		oncall: map[string][]Assignment{}, presence: map[string]Presence{}}
	for _, id := range ids {
		d.people[id] = paging.Person{ID: id, Name: id, Stage: paging.StageApp,
			Endpoints: []paging.Endpoint{{Channel: paging.ChannelApp, Address: id}}}
	}
	return d
}

func (d *fakeDir) Person(id string) (paging.Person, bool) {
	d.calls++
	p, ok := d.people[id]
	return p, ok
}

func (d *fakeDir) Group(id string) (paging.Group, bool) {
	d.calls++
	g, ok := d.groups[id]
	return g, ok
}

func (d *fakeDir) OnCall(role string, t time.Time) ([]Assignment, error) {
	d.calls++
	as, ok := d.oncall[role]
	if !ok {
		return nil, fmt.Errorf("role %s: %w", role, paging.ErrNotFound)
	}
	return as, nil
}

func (d *fakeDir) Presence(person string, t time.Time) (Presence, bool) {
	d.calls++
	p, ok := d.presence[person]
	return p, ok
}

// set records presence for person and returns d, for chaining in tables.
func (d *fakeDir) set(person string, state PresenceState, forward string) *fakeDir {
	d.presence[person] = Presence{Person: person, State: state, ForwardTo: forward}
	return d
}
