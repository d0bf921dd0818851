package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"pagebridge/gateway/oncall"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/routing"
	"pagebridge/storage"
)

// directory is an immutable snapshot of everything resolution reads, so a
// page resolves from memory: people, groups, roles, their schedules,
// presence and policies. It implements routing.Directory.
type directory struct {
	version   uint64
	people    map[string]paging.Person
	groups    map[string]paging.Group
	roles     map[string]paging.Role
	schedules map[string][]*oncall.Schedule // by role
	presence  map[string]routing.Presence
	policies  map[string]*routing.Policy
}

// directoryCache reloads the snapshot when the store's directory version
// moves.
type directoryCache struct {
	st  *storage.Store
	mu  sync.Mutex
	cur *directory
}

func newDirectoryCache(st *storage.Store) *directoryCache { return &directoryCache{st: st} }

func (c *directoryCache) get(ctx context.Context) (*directory, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.st.DirectoryVersion()
	if c.cur != nil && c.cur.version == v {
		return c.cur, nil
	}
	d, err := loadDirectory(ctx, c.st, v)
	if err != nil {
		return nil, err
	}
	c.cur = d
	return d, nil
}

func loadDirectory(ctx context.Context, st *storage.Store, version uint64) (*directory, error) {
	d := &directory{version: version, people: map[string]paging.Person{}, groups: map[string]paging.Group{},
		roles: map[string]paging.Role{}, schedules: map[string][]*oncall.Schedule{},
		presence: map[string]routing.Presence{}, policies: map[string]*routing.Policy{}}
	people, err := st.People(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range people {
		d.people[p.ID] = p
	}
	groups, err := st.Groups(ctx)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		d.groups[g.ID] = g
	}
	roles, err := st.Roles(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range roles {
		d.roles[r.ID] = r
	}
	scheds, err := storage.Records[oncall.Schedule](ctx, st, storage.KindSchedule)
	if err != nil {
		return nil, err
	}
	for i := range scheds {
		s := &scheds[i]
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("schedule %s: %w", s.ID, err)
		}
		d.schedules[s.RoleID] = append(d.schedules[s.RoleID], s)
	}
	pres, err := storage.Records[routing.Presence](ctx, st, storage.KindPresence)
	if err != nil {
		return nil, err
	}
	for _, p := range pres {
		d.presence[p.Person] = p
	}
	pols, err := storage.Records[routing.Policy](ctx, st, storage.KindPolicy)
	if err != nil {
		return nil, err
	}
	for i := range pols {
		d.policies[pols[i].ID] = &pols[i]
	}
	return d, nil
}

// Person implements routing.Directory.
func (d *directory) Person(id string) (paging.Person, bool) {
	p, ok := d.people[id]
	return p, ok
}

// Group implements routing.Directory.
func (d *directory) Group(id string) (paging.Group, bool) {
	g, ok := d.groups[id]
	return g, ok
}

// OnCall implements routing.Directory: everyone on call for role at t
// across its schedules, in schedule order.
func (d *directory) OnCall(role string, t time.Time) ([]routing.Assignment, error) {
	if _, ok := d.roles[role]; !ok {
		return nil, fmt.Errorf("role %s: %w", role, paging.ErrNotFound)
	}
	var out []routing.Assignment
	for _, s := range d.schedules[role] {
		for _, a := range oncall.OnCall(s, t) {
			out = append(out, routing.Assignment{Person: a.Person, Reason: a.Reason})
		}
	}
	return out, nil
}

// Presence implements routing.Directory.
func (d *directory) Presence(person string, _ time.Time) (routing.Presence, bool) {
	p, ok := d.presence[person]
	return p, ok
}

// builtinPolicy pages every stage channel of the target at once, then
// goes to the fallback.
var builtinPolicy = routing.Policy{ID: "built-in", Steps: []routing.Step{{}}}

// policyFor picks the policy of a pager ID, else of its role, else the
// default.
func (d *directory) policyFor(pid *paging.PagerID, def string) *routing.Policy {
	if pid.Policy != "" {
		return d.policy(pid.Policy)
	}
	if pid.Target.Kind == paging.TargetRole {
		if r, ok := d.roles[pid.Target.ID]; ok && r.Policy != "" {
			return d.policy(r.Policy)
		}
	}
	return d.policy(def)
}

// policy returns the policy id names; the built-in one for "" or a
// policy that no longer exists (a page must not stall on a missing one).
func (d *directory) policy(id string) *routing.Policy {
	if p, ok := d.policies[id]; ok {
		return p
	}
	return &builtinPolicy
}
