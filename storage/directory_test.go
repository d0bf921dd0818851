package storage_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"pagebridge/gateway/paging"
	"pagebridge/storage"
	"pagebridge/storage/storagetest"
)

func TestDirectory(t *testing.T) {
	e := storagetest.New(t)
	s := e.Open(t)
	ctx := context.Background()
	admin := paging.AuditEvent{Actor: "admin", Source: "10.0.0.5"}

	lee := paging.Person{ID: "dr-lee", Name: "Dr Lee", Department: "Cardiology", Stage: paging.StageBoth,
		Roles: []string{"cardiology-oncall"},
		Endpoints: []paging.Endpoint{{Channel: paging.ChannelPager, Address: "1002", Via: "terminal-1"},
			{Channel: paging.ChannelSMS, Address: "+15551230001"}}}
	steps := []struct {
		name string
		do   func() error
		want error
	}{
		{"invalid person", func() error { return s.PutPerson(ctx, paging.Person{ID: "x", Name: "X", Stage: "nope"}, admin) }, paging.ErrInvalid},
		{"person with bad SMS", func() error {
			p := lee
			p.Endpoints = []paging.Endpoint{{Channel: paging.ChannelSMS, Address: "555"}}
			return s.PutPerson(ctx, p, admin)
		}, paging.ErrInvalid},
		{"pager id to missing person", func() error {
			return s.PutPagerID(ctx, paging.PagerID{ID: "1002", Target: paging.Target{Kind: paging.TargetPerson, ID: "dr-lee"}}, admin)
		}, paging.ErrNotFound},
		{"person", func() error { return s.PutPerson(ctx, lee, admin) }, nil},
		{"person again", func() error { return s.PutPerson(ctx, lee, admin) }, nil},
		{"role without name", func() error { return s.PutRole(ctx, paging.Role{ID: "r"}, admin) }, paging.ErrInvalid},
		{"role", func() error {
			return s.PutRole(ctx, paging.Role{ID: "cardiology-oncall", Name: "Cardiology on call"}, admin)
		}, nil},
		{"group with missing member", func() error {
			return s.PutGroup(ctx, paging.Group{ID: "code", Name: "Code team", Members: []string{"dr-lee", "ghost"}}, admin)
		}, paging.ErrNotFound},
		{"group", func() error {
			return s.PutGroup(ctx, paging.Group{ID: "code", Name: "Code team", Members: []string{"dr-lee"}}, admin)
		}, nil},
		{"pager id to person", func() error {
			return s.PutPagerID(ctx, paging.PagerID{ID: "1002", Target: paging.Target{Kind: paging.TargetPerson, ID: "dr-lee"}}, admin)
		}, nil},
		{"pager id to role", func() error {
			return s.PutPagerID(ctx, paging.PagerID{ID: "2000", Target: paging.Target{Kind: paging.TargetRole, ID: "cardiology-oncall"}, Priority: paging.PriorityHigh}, admin)
		}, nil},
		{"pager id to missing group", func() error {
			return s.PutPagerID(ctx, paging.PagerID{ID: "9999", Target: paging.Target{Kind: paging.TargetGroup, ID: "nope"}}, admin)
		}, paging.ErrNotFound},
		{"invalid pager id", func() error {
			return s.PutPagerID(ctx, paging.PagerID{ID: "", Target: paging.Target{Kind: paging.TargetPerson, ID: "dr-lee"}}, admin)
		}, paging.ErrInvalid},
		{"delete person in use", func() error { return s.DeletePerson(ctx, "dr-lee", admin) }, storage.ErrInUse},
		{"delete role in use", func() error { return s.DeleteRole(ctx, "cardiology-oncall", admin) }, storage.ErrInUse},
		{"delete unknown", func() error { return s.DeletePagerID(ctx, "0000", admin) }, paging.ErrNotFound},
	}
	for _, st := range steps {
		err := st.do()
		if st.want == nil && err != nil || st.want != nil && !errors.Is(err, st.want) {
			t.Errorf("%s: err = %v, want %v", st.name, err, st.want)
		}
	}

	s = reopen(t, e, s)
	if p, err := s.Person(ctx, "dr-lee"); err != nil || p.Name != lee.Name || len(p.Endpoints) != 2 || p.Stage != paging.StageBoth {
		t.Errorf("person: %+v, %v", p, err)
	}
	if p, err := s.PagerID(ctx, "2000"); err != nil || p.Target.ID != "cardiology-oncall" || p.Priority != paging.PriorityHigh {
		t.Errorf("pager id: %+v, %v", p, err)
	}
	if g, err := s.Group(ctx, "code"); err != nil || !slices.Equal(g.Members, []string{"dr-lee"}) {
		t.Errorf("group: %+v, %v", g, err)
	}
	if r, err := s.Role(ctx, "cardiology-oncall"); err != nil || r.Name != "Cardiology on call" {
		t.Errorf("role: %+v, %v", r, err)
	}
	if _, err := s.Person(ctx, "nobody"); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("unknown person: %v", err)
	}
	people, _ := s.People(ctx)
	pids, _ := s.PagerIDs(ctx)
	roles, _ := s.Roles(ctx)
	groups, _ := s.Groups(ctx)
	if len(people) != 1 || len(pids) != 2 || pids[0].ID != "1002" || len(roles) != 1 || len(groups) != 1 {
		t.Errorf("lists: %d people, %v pager ids, %d roles, %d groups", len(people), pids, len(roles), len(groups))
	}

	// Deleting in order of dependence.
	for _, del := range []func() error{
		func() error { return s.DeletePagerID(ctx, "1002", admin) },
		func() error { return s.DeleteGroup(ctx, "code", admin) },
		func() error { return s.DeletePerson(ctx, "dr-lee", admin) },
	} {
		if err := del(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Person(ctx, "dr-lee"); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("deleted person: %v", err)
	}

	// Every write, and only writes, left an audit entry with the actor.
	entries, err := s.AuditEntries(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, en := range entries {
		got = append(got, en.Action+" "+en.Object)
		if en.Actor != "admin" || en.Source != "10.0.0.5" {
			t.Errorf("entry %d: actor %q source %q", en.Seq, en.Actor, en.Source)
		}
	}
	want := []string{
		"person.create person/dr-lee", "person.update person/dr-lee", "role.create role/cardiology-oncall",
		"group.create group/code", "pagerid.create pagerid/1002", "pagerid.create pagerid/2000",
		"pagerid.delete pagerid/1002", "group.delete group/code", "person.delete person/dr-lee",
	}
	if !slices.Equal(got, want) {
		t.Errorf("audit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	verify(t, s)
}

func TestAccounts(t *testing.T) {
	s := storagetest.MustOpen(t)
	ctx := context.Background()
	hash := "$argon2id$v=19$m=65536,t=1,p=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"
	if err := s.PutAccount(ctx, storage.Account{Username: "admin", PersonID: "admin", PasswordHash: hash}, by); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("account for a missing person: %v", err)
	}
	for _, a := range []storage.Account{
		{Username: "", PasswordHash: hash},
		{Username: "with space", PasswordHash: hash},
		{Username: "nohash"},
	} {
		if err := s.PutAccount(ctx, a, by); !errors.Is(err, paging.ErrInvalid) {
			t.Errorf("PutAccount(%q): %v, want ErrInvalid", a.Username, err)
		}
	}
	if err := s.PutPerson(ctx, paging.Person{ID: "admin", Name: "Administrator", Stage: paging.StageApp}, by); err != nil {
		t.Fatal(err)
	}
	want := storage.Account{Username: "admin", PersonID: "admin", PasswordHash: hash, Roles: []string{"admin"}, MustChangePassword: true}
	if err := s.PutAccount(ctx, want, by); err != nil {
		t.Fatal(err)
	}
	got, err := s.Account(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if got.PasswordHash != hash || !got.MustChangePassword || !slices.Equal(got.Roles, want.Roles) || got.Created.IsZero() {
		t.Errorf("account: %+v", got)
	}
	if _, err := s.Account(ctx, "nobody"); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("unknown account: %v", err)
	}
	if err := s.DeletePerson(ctx, "admin", by); !errors.Is(err, storage.ErrInUse) {
		t.Errorf("delete a person with an account: %v, want ErrInUse", err)
	}
	all, _ := s.Accounts(ctx)
	if len(all) != 1 {
		t.Errorf("%d accounts", len(all))
	}
	// The hash never reaches a log line.
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "account", got)
	if strings.Contains(buf.String(), "argon2id") {
		t.Errorf("log line holds the hash: %s", buf.String())
	}
	if err := s.DeleteAccount(ctx, "admin", by); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Account(ctx, "admin"); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("deleted account: %v", err)
	}
}
