package main

import (
	"context"
	"errors"
	"testing"

	"pagebridge/gateway/oncall"
	"pagebridge/gateway/paging"
	"pagebridge/storage/storagetest"
	"pagebridge/ui"
)

// The administration port over a real store: the API's refusals come
// back as the port's errors, accounts are made to change their password,
// the audit chain's bounds and verification.
func TestWebAdminPort(t *testing.T) {
	st := storagetest.MustOpen(t)
	ctx := context.Background()
	by := paging.AuditEvent{Actor: "web:test person:admin"}
	ad := newWebAdmin(st)
	if _, ok, _ := ad.LastVerify(ctx); ok {
		t.Fatal("verified before anyone verified")
	}
	if err := ad.People().Put(ctx, paging.Person{ID: "ann", Name: "Ann", Stage: paging.StagePager}, by); err != nil {
		t.Fatal(err)
	}
	if err := ad.Roles().Put(ctx, paging.Role{ID: "icu", Name: "ICU on call"}, by); err != nil {
		t.Fatal(err)
	}
	s := oncall.Schedule{ID: "icu", RoleID: "icu", Name: "ICU", TimeZone: "UTC", Layers: []oncall.Layer{{Name: "all",
		Participants: []string{"ann"}, Start: oncall.LocalTime{Year: 2026, Month: 1, Day: 5}, Shift: oncall.Length{N: 1, Unit: oncall.UnitWeek}}}}
	if err := ad.Schedules().Put(ctx, s, by); err != nil {
		t.Fatal(err)
	}
	s.Layers[0].Participants = []string{"ghost"}
	if err := ad.Schedules().Put(ctx, s, by); !errors.Is(err, paging.ErrInvalid) {
		t.Fatalf("a schedule naming nobody: %v", err)
	}
	if err := ad.People().Delete(ctx, "ann", by); !errors.Is(err, ui.ErrInUse) {
		t.Fatalf("delete of a scheduled person: %v, want ui.ErrInUse", err)
	}
	if err := ad.Templates().Put(ctx, ui.Template{Name: "cb", Text: "Call {ext"}, by); !errors.Is(err, paging.ErrInvalid) {
		t.Fatalf("a template with an open placeholder: %v", err)
	}
	if err := ad.CreateAccount(ctx, ui.NewAccount{Username: "ann", Person: "nobody", Role: ui.RoleClinician, PasswordHash: "$argon2id$x"}, by); !errors.Is(err, paging.ErrInvalid) {
		t.Fatalf("an account for nobody: %v", err)
	}
	if err := ad.CreateAccount(ctx, ui.NewAccount{Username: "ann", Person: "ann", Role: ui.RoleClinician, PasswordHash: "$argon2id$x"}, by); err != nil {
		t.Fatal(err)
	}
	if a, err := st.Account(ctx, "ann"); err != nil || !a.MustChangePassword || len(a.Roles) != 1 || a.Roles[0] != ui.RoleClinician {
		t.Fatalf("account: %+v %v", a, err)
	}
	if err := ad.CreateAccount(ctx, ui.NewAccount{Username: "ann", Person: "ann", Role: ui.RoleAdmin, PasswordHash: "$argon2id$y"}, by); !errors.Is(err, paging.ErrInvalid) {
		t.Fatalf("the same username again: %v", err)
	}
	// Four writes: the person, the role, the schedule, the account; the
	// refused ones wrote nothing.
	first, last, err := ad.AuditBounds(ctx)
	if err != nil || first != 1 || last != st.AuditHead().Seq || last != 4 {
		t.Fatalf("bounds %d..%d %v (head %d)", first, last, err, st.AuditHead().Seq)
	}
	es, err := ad.AuditEntries(ctx, last, 10)
	if err != nil || len(es) != 1 || es[0].Action != "account.create" || es[0].Actor != by.Actor || es[0].Time.IsZero() {
		t.Fatalf("last entry: %+v %v", es, err)
	}
	v, err := ad.VerifyAudit(ctx)
	if err != nil || !v.OK || v.Last != last || v.Entries != last {
		t.Fatalf("verify: %+v %v", v, err)
	}
	if got, ok, _ := ad.LastVerify(ctx); !ok || got != v {
		t.Fatalf("last verify %+v, want %+v", got, v)
	}
}
