package threads_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"pagebridge/gateway/paging"
	"pagebridge/gateway/routing"
	"pagebridge/gateway/threads"
	"pagebridge/storage"
	"pagebridge/storage/storagetest"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// clock is moved by hand; the store and the service share it.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// dir is a routing.Directory over maps: the directory as Compose sees
// it.
type dir struct {
	people   map[string]paging.Person
	groups   map[string]paging.Group
	oncall   map[string][]routing.Assignment
	presence map[string]routing.Presence
}

var _ routing.Directory = (*dir)(nil)

func (d *dir) Person(id string) (paging.Person, bool) { p, ok := d.people[id]; return p, ok }
func (d *dir) Group(id string) (paging.Group, bool)   { g, ok := d.groups[id]; return g, ok }
func (d *dir) Presence(id string, _ time.Time) (routing.Presence, bool) {
	p, ok := d.presence[id]
	return p, ok
}
func (d *dir) OnCall(role string, _ time.Time) ([]routing.Assignment, error) {
	as, ok := d.oncall[role]
	if !ok {
		return nil, fmt.Errorf("role %s: %w", role, paging.ErrNotFound)
	}
	return as, nil
}

// rig is a store with a small hospital, and the service over it.
type rig struct {
	t   *testing.T
	env *storagetest.Env
	st  *storage.Store
	clk *clock
	dir *dir
	svc *threads.Service
}

var staff = []string{"dr-lee", "dr-kim", "dr-ng", "nurse-ana", "op-1"}

func newRig(t *testing.T, mods ...func(*threads.Options)) *rig {
	t.Helper()
	r := &rig{t: t, env: storagetest.New(t), clk: &clock{t: t0}, dir: &dir{
		people: map[string]paging.Person{}, groups: map[string]paging.Group{},
		oncall:   map[string][]routing.Assignment{"cardiology": {{Person: "dr-ng", Reason: `on call by schedule "Cardiology"`}}, "empty": nil},
		presence: map[string]routing.Presence{"nurse-ana": {Person: "nurse-ana", State: routing.PresenceDND}},
	}}
	r.st = r.env.Open(t, func(o *storage.Options) { o.Now = r.clk.Now })
	ctx := context.Background()
	for _, id := range staff {
		p := paging.Person{ID: id, Name: "Name of " + id, Stage: paging.StageApp,
			Endpoints: []paging.Endpoint{{Channel: paging.ChannelApp, Address: id}}}
		if err := r.st.PutPerson(ctx, p, admin); err != nil {
			t.Fatal(err)
		}
		r.dir.people[id] = p
	}
	icu := paging.Group{ID: "icu", Name: "ICU nights", Members: []string{"dr-kim", "dr-ng", "dr-lee"}}
	if err := r.st.PutGroup(ctx, icu, admin); err != nil {
		t.Fatal(err)
	}
	r.dir.groups["icu"] = icu
	opts := threads.Options{Store: r.st, Directory: threads.Fixed(r.dir), Clock: r.clk}
	for _, m := range mods {
		m(&opts)
	}
	svc, err := threads.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	r.svc = svc
	return r
}

var admin = paging.AuditEvent{Actor: "test-admin"}

func as(person string) threads.Caller {
	return threads.Caller{Person: person, Actor: "person:" + person, Source: "192.0.2.7"}
}

func text(s string) threads.Content { return threads.Content{Text: paging.NewPHI(s)} }

// compose sends a message to a target, failing the test on error.
func (r *rig) compose(from string, to paging.Target, s string) threads.Composed {
	r.t.Helper()
	c, err := r.svc.Compose(context.Background(), as(from), threads.Draft{To: to, Priority: paging.PriorityHigh, Content: text(s)})
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

// inbox returns "label unread" for each of person's threads, in order.
func (r *rig) inbox(person string) []string {
	r.t.Helper()
	es, err := r.svc.Inbox(context.Background(), person, 0, storage.InboxCursor{})
	if err != nil {
		r.t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, fmt.Sprintf("%s %d", e.Label, e.Unread))
	}
	return out
}

// audit returns the audit entries with action, as "actor object".
func (r *rig) audit(action string) []string {
	r.t.Helper()
	es, err := r.st.AuditEntries(context.Background(), 0, 1<<20)
	if err != nil {
		r.t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if e.Action == action {
			out = append(out, e.Actor+" "+e.Object)
		}
	}
	return out
}

func (r *rig) auditAll() []storage.AuditEntry {
	r.t.Helper()
	es, err := r.st.AuditEntries(context.Background(), 0, 1<<20)
	if err != nil {
		r.t.Fatal(err)
	}
	return es
}

func person(id string) paging.Target { return paging.Target{Kind: paging.TargetPerson, ID: id} }

func wantList(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}
