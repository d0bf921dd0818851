package routing

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"pagebridge/gateway/paging"
)

var t0 = time.Date(2026, 11, 27, 3, 14, 0, 0, time.UTC)

const (
	normal   = paging.PriorityNormal
	high     = paging.PriorityHigh
	critical = paging.PriorityCritical
)

func person(id string) paging.Target { return paging.Target{Kind: paging.TargetPerson, ID: id} }
func role(id string) paging.Target   { return paging.Target{Kind: paging.TargetRole, ID: id} }
func group(id string) paging.Target  { return paging.Target{Kind: paging.TargetGroup, ID: id} }

const cardioNights = `on call by schedule "Cardiology" (layer nights)`

// staff is the directory most cases start from: five doctors, one role,
// one group, everyone available.
func staff() *fakeDir {
	d := newFakeDir("dr-lee", "dr-kim", "dr-ng", "dr-ode", "dr-ruiz")
	d.oncall["cardiology"] = []Assignment{{"dr-lee", cardioNights}, {"dr-ng", `on call by schedule "Cardiology" (layer backup)`}}
	d.oncall["neuro"] = nil
	d.groups["rapid"] = paging.Group{ID: "rapid", Members: []string{"dr-lee", "dr-kim", "dr-ng", "dr-lee", "ghost"}}
	d.groups["empty"] = paging.Group{ID: "empty"}
	return d
}

// got is a recipient reduced to what a table states; Reason is compared
// only when the case gives one.
type got struct {
	Person, From string
	Held         bool
}

func TestResolve(t *testing.T) {
	chain := func(d *fakeDir, n int) *fakeDir { // p0 → p1 → … → pn, all off duty but pn
		for i := 0; i <= n; i++ {
			id := fmt.Sprintf("p%d", i)
			d.people[id] = paging.Person{ID: id, Name: id, Stage: paging.StageApp}
			if i < n {
				d.set(id, PresenceOffDuty, fmt.Sprintf("p%d", i+1))
			}
		}
		return d
	}
	cases := []struct {
		name    string
		dir     *fakeDir
		target  paging.Target
		prio    paging.Priority
		want    []got
		reasons []string // the full Reason of each recipient, when given
		held    []string // HeldReason of each recipient, when given
	}{
		{name: "person available", dir: staff(), target: person("dr-lee"), prio: normal,
			want: []got{{"dr-lee", "", false}}, reasons: []string{"person dr-lee"}},
		{name: "role through the schedule", dir: staff(), target: role("cardiology"), prio: normal,
			want:    []got{{"dr-lee", "", false}, {"dr-ng", "", false}},
			reasons: []string{"role cardiology → " + cardioNights, `role cardiology → on call by schedule "Cardiology" (layer backup)`}},
		{name: "role nobody on call", dir: staff(), target: role("neuro"), prio: critical, want: nil},
		{name: "busy receives", dir: staff().set("dr-lee", PresenceBusy, ""), target: person("dr-lee"), prio: normal,
			want: []got{{"dr-lee", "", false}}},
		{name: "dnd critical breaks through", dir: staff().set("dr-lee", PresenceDND, ""), target: person("dr-lee"), prio: critical,
			want: []got{{"dr-lee", "", false}}, reasons: []string{"person dr-lee → do not disturb, critical page breaks through"}},
		{name: "dnd normal is held", dir: staff().set("dr-lee", PresenceDND, ""), target: person("dr-lee"), prio: normal,
			want: []got{{"dr-lee", "", true}}, held: []string{"dr-lee do not disturb, page not critical, no forward"}},
		{name: "dnd high is held", dir: staff().set("dr-lee", PresenceDND, ""), target: person("dr-lee"), prio: high,
			want: []got{{"dr-lee", "", true}}},
		{name: "dnd normal follows forward", dir: staff().set("dr-lee", PresenceDND, "dr-kim"), target: person("dr-lee"), prio: normal,
			want: []got{{"dr-kim", "dr-lee", false}}, reasons: []string{"person dr-lee → forwarded from dr-lee (do not disturb)"}},
		{name: "dnd critical reaches both", dir: staff().set("dr-lee", PresenceDND, "dr-kim"), target: person("dr-lee"), prio: critical,
			want: []got{{"dr-lee", "", false}, {"dr-kim", "dr-lee", false}}},
		{name: "off duty forwarded through the role", dir: staff().set("dr-lee", PresenceOffDuty, "dr-kim"), target: role("cardiology"), prio: high,
			want:    []got{{"dr-kim", "dr-lee", false}, {"dr-ng", "", false}},
			reasons: []string{"role cardiology → " + cardioNights + " → forwarded from dr-lee (off duty)", ""}},
		{name: "off duty forwarded, critical", dir: staff().set("dr-lee", PresenceOffDuty, "dr-kim"), target: person("dr-lee"), prio: critical,
			want: []got{{"dr-kim", "dr-lee", false}}},
		{name: "off duty no forward", dir: staff().set("dr-lee", PresenceOffDuty, ""), target: person("dr-lee"), prio: critical,
			want: []got{{"dr-lee", "", true}}, held: []string{"dr-lee off duty, no forward"}},
		{name: "busy with forward hands over", dir: staff().set("dr-lee", PresenceBusy, "dr-kim"), target: person("dr-lee"), prio: normal,
			want: []got{{"dr-kim", "dr-lee", false}}},
		{name: "busy with forward, critical reaches both", dir: staff().set("dr-lee", PresenceBusy, "dr-kim"), target: person("dr-lee"), prio: critical,
			want: []got{{"dr-lee", "", false}, {"dr-kim", "dr-lee", false}}},
		{name: "two hops", dir: staff().set("dr-lee", PresenceOffDuty, "dr-kim").set("dr-kim", PresenceDND, "dr-ng"), target: person("dr-lee"), prio: normal,
			want:    []got{{"dr-ng", "dr-lee", false}},
			reasons: []string{"person dr-lee → forwarded from dr-lee (off duty) → forwarded from dr-kim (do not disturb)"}},
		{name: "loop", dir: staff().set("dr-lee", PresenceOffDuty, "dr-kim").set("dr-kim", PresenceOffDuty, "dr-lee"), target: person("dr-lee"), prio: normal,
			want: []got{{"dr-lee", "", true}}, held: []string{"forward loop dr-lee → dr-kim → dr-lee"}},
		{name: "loop, critical", dir: staff().set("dr-lee", PresenceOffDuty, "dr-kim").set("dr-kim", PresenceOffDuty, "dr-lee"), target: person("dr-lee"), prio: critical,
			want: []got{{"dr-lee", "", true}}},
		{name: "loop into the middle", dir: staff().set("dr-lee", PresenceOffDuty, "dr-kim").set("dr-kim", PresenceOffDuty, "dr-ng").set("dr-ng", PresenceOffDuty, "dr-kim"),
			target: person("dr-lee"), prio: normal,
			want: []got{{"dr-lee", "", true}}, held: []string{"forward loop dr-kim → dr-ng → dr-kim"}},
		{name: "forward to self", dir: staff().set("dr-lee", PresenceOffDuty, "dr-lee"), target: person("dr-lee"), prio: normal,
			want: []got{{"dr-lee", "", true}}, held: []string{"forward loop dr-lee → dr-lee"}},
		{name: "loop through a busy person falls back to them", dir: staff().set("dr-lee", PresenceBusy, "dr-kim").set("dr-kim", PresenceOffDuty, "dr-lee"),
			target: person("dr-lee"), prio: normal, want: []got{{"dr-lee", "", false}},
			reasons: []string{"person dr-lee → forward failed (forward loop dr-lee → dr-kim → dr-lee), paged dr-lee directly"}},
		{name: "dead end", dir: staff().set("dr-lee", PresenceOffDuty, "dr-kim").set("dr-kim", PresenceOffDuty, ""), target: person("dr-lee"), prio: critical,
			want: []got{{"dr-lee", "", true}}, held: []string{"dr-kim off duty, no forward"}},
		{name: "dead end in dnd", dir: staff().set("dr-lee", PresenceOffDuty, "dr-kim").set("dr-kim", PresenceDND, ""), target: person("dr-lee"), prio: normal,
			want: []got{{"dr-lee", "", true}}, held: []string{"dr-kim do not disturb, page not critical, no forward"}},
		{name: "dead end, busy forwarder paged directly", dir: staff().set("dr-lee", PresenceBusy, "dr-kim").set("dr-kim", PresenceOffDuty, ""), target: person("dr-lee"), prio: normal,
			want: []got{{"dr-lee", "", false}}},
		{name: "dead end, critical, forwarder told", dir: staff().set("dr-lee", PresenceBusy, "dr-kim").set("dr-kim", PresenceOffDuty, ""), target: person("dr-lee"), prio: critical,
			want:    []got{{"dr-lee", "", false}},
			reasons: []string{"person dr-lee (forward chain ended: dr-kim off duty, no forward)"}},
		{name: "forward to unknown person", dir: staff().set("dr-lee", PresenceOffDuty, "dr-who"), target: person("dr-lee"), prio: critical,
			want: []got{{"dr-lee", "", true}}, held: []string{`dr-lee forwards to unknown person "dr-who"`}},
		{name: "five forwards are followed", dir: chain(staff(), 5), target: person("p0"), prio: normal,
			want: []got{{"p5", "p0", false}}},
		{name: "six forwards are too many", dir: chain(staff(), 6), target: person("p0"), prio: critical,
			want: []got{{"p0", "", true}}, held: []string{"more than 5 forwards"}},
		{name: "expired presence counts as available", dir: func() *fakeDir {
			d := staff()
			d.presence["dr-lee"] = Presence{State: PresenceOffDuty, ForwardTo: "dr-kim", Until: t0, Note: "nights"}
			return d
		}(), target: person("dr-lee"), prio: normal, want: []got{{"dr-lee", "", false}}, reasons: []string{"person dr-lee"}},
		{name: "note shown", dir: func() *fakeDir {
			d := staff()
			d.presence["dr-lee"] = Presence{State: PresenceBusy, ForwardTo: "dr-kim", Until: t0.Add(time.Second), Note: "in theatre until 14:00"}
			return d
		}(), target: person("dr-lee"), prio: normal, want: []got{{"dr-kim", "dr-lee", false}},
			reasons: []string{"person dr-lee → forwarded from dr-lee (busy, in theatre until 14:00)"}},
		{name: "unknown presence state receives", dir: staff().set("dr-lee", "asleep", ""), target: person("dr-lee"), prio: normal,
			want: []got{{"dr-lee", "", false}}, reasons: []string{`person dr-lee → presence "asleep" unknown, treated as available`}},
		{name: "group expands and dedupes", dir: staff().set("dr-lee", PresenceOffDuty, "dr-kim"), target: group("rapid"), prio: high,
			want:    []got{{"dr-kim", "dr-lee", false}, {"dr-ng", "", false}, {"ghost", "", true}},
			reasons: []string{"group rapid → member → forwarded from dr-lee (off duty)", "group rapid → member", "group rapid → member"},
			held:    []string{"", "", `unknown person "ghost"`}},
		{name: "group without members", dir: staff(), target: group("empty"), prio: critical, want: nil},
		{name: "unknown on-call person is held, others paged", dir: func() *fakeDir {
			d := staff()
			d.oncall["cardiology"] = []Assignment{{Person: "dr-gone"}, {Person: "dr-ng"}}
			return d
		}(), target: role("cardiology"), prio: normal, want: []got{{"dr-gone", "", true}, {"dr-ng", "", false}},
			reasons: []string{"role cardiology → on call", "role cardiology → on call"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs, err := Resolve(c.dir, c.target, c.prio, t0)
			if err != nil {
				t.Fatal(err)
			}
			var g []got
			for _, r := range rs {
				g = append(g, got{r.Person, r.ForwardedFrom, r.Held})
				if r.Held != (r.HeldReason != "") {
					t.Errorf("%s: held %v with reason %q", r.Person, r.Held, r.HeldReason)
				}
				if r.Reason == "" {
					t.Errorf("%s: no reason", r.Person)
				}
			}
			if !reflect.DeepEqual(g, c.want) {
				t.Fatalf("got  %+v\nwant %+v", g, c.want)
			}
			for i, want := range c.reasons {
				if want != "" && rs[i].Reason != want {
					t.Errorf("reason %d:\n got %q\nwant %q", i, rs[i].Reason, want)
				}
			}
			for i, want := range c.held {
				if want != "" && rs[i].HeldReason != want {
					t.Errorf("held reason %d:\n got %q\nwant %q", i, rs[i].HeldReason, want)
				}
			}
			again, _ := Resolve(c.dir, c.target, c.prio, t0)
			if !reflect.DeepEqual(rs, again) {
				t.Error("not deterministic")
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	cases := []struct {
		target paging.Target
		prio   paging.Priority
		want   error
	}{
		{person("dr-who"), normal, paging.ErrNotFound},
		{group("nobody"), normal, paging.ErrNotFound},
		{role("dermatology"), critical, paging.ErrNotFound}, // the directory's error, wrapped
		{paging.Target{Kind: "ward", ID: "4W"}, normal, paging.ErrInvalid},
		{person(""), normal, paging.ErrInvalid},
		{person("dr-lee"), paging.Priority(3), paging.ErrInvalid},
	}
	for _, c := range cases {
		rs, err := Resolve(staff(), c.target, c.prio, t0)
		if !errors.Is(err, c.want) || rs != nil {
			t.Errorf("%s %v: %v, %v; want %v", c.target, c.prio, rs, err, c.want)
		}
	}
}

func TestResolveAll(t *testing.T) {
	d := staff().set("dr-ng", PresenceOffDuty, "dr-ode")
	rs, err := ResolveAll(d, []paging.Target{role("cardiology"), group("nobody"), person("dr-ode"), group("rapid")}, high, t0)
	if !errors.Is(err, paging.ErrNotFound) || !strings.Contains(err.Error(), "group:nobody") {
		t.Errorf("error %v, want the unknown group", err)
	}
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.Person)
	}
	// dr-ode first through dr-ng's forward; not again as a person target.
	want := []string{"dr-lee", "dr-ode", "dr-kim", "ghost"}
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("got %v, want %v", ids, want)
	}
	if rs[1].ForwardedFrom != "dr-ng" {
		t.Errorf("first reason must win: %+v", rs[1])
	}
	if n := len(Deliverable(rs)); n != 3 {
		t.Errorf("deliverable %d, want 3", n)
	}
}

// A person held through one target and reached through another is
// reached: the deliverable entry replaces the held one in place.
func TestResolveAllHeldThenReached(t *testing.T) {
	d := staff()
	d.oncall["cardiology"] = []Assignment{{Person: "dr-gone"}}
	d.people["dr-gone"] = paging.Person{ID: "dr-gone"}
	// The directory answers "unknown" for dr-gone's first read (as the
	// role's member) and "known" after (as the person target).
	flip := &flipDir{fakeDir: d, hide: "dr-gone"}
	rs, err := ResolveAll(flip, []paging.Target{role("cardiology"), person("dr-gone")}, normal, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Held || rs[0].Reason != "person dr-gone" {
		t.Errorf("got %+v", rs)
	}
}

// flipDir answers "not found" for the first read of one person.
type flipDir struct {
	*fakeDir
	hide  string
	reads int
}

func (f *flipDir) Person(id string) (paging.Person, bool) {
	if id == f.hide {
		f.reads++
		if f.reads == 1 {
			return paging.Person{}, false
		}
	}
	return f.fakeDir.Person(id)
}

func BenchmarkResolve(b *testing.B) {
	d := newFakeDir()
	var members []string
	for i := range 20 {
		id := fmt.Sprintf("nurse-%02d", i)
		members = append(members, id)
		d.people[id] = paging.Person{ID: id, Name: id, Stage: paging.StageBoth}
	}
	d.groups["icu"] = paging.Group{ID: "icu", Members: members}
	d.set("nurse-03", PresenceOffDuty, "nurse-04").set("nurse-07", PresenceDND, "")
	for _, id := range []string{"dr-a", "dr-b", "dr-c", "dr-d"} {
		d.people[id] = paging.Person{ID: id, Name: id, Stage: paging.StageApp}
	}
	d.oncall["cardiology"] = []Assignment{{"dr-a", cardioNights}, {"dr-b", cardioNights}, {"dr-c", cardioNights}}
	d.set("dr-b", PresenceOffDuty, "dr-d")
	for _, c := range []struct {
		name   string
		target paging.Target
		want   int
	}{{"role-3-on-call", role("cardiology"), 3}, {"group-20", group("icu"), 19}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rs, err := Resolve(d, c.target, high, t0)
				if err != nil || len(rs) != c.want {
					b.Fatalf("%d recipients, %v", len(rs), err)
				}
			}
		})
	}
}
