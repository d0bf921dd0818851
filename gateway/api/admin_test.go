package api_test

import (
	"context"
	"errors"
	"testing"

	"pagebridge/gateway/api"
	"pagebridge/gateway/paging"
	"pagebridge/storage/storagetest"
)

// The web app's import: a dry run says what each row changes and writes
// nothing; a bad row (a target not in the directory) comes back with its
// line; the same file applied writes it.
func TestAdminImportDryRun(t *testing.T) {
	st := storagetest.MustOpen(t)
	ctx := context.Background()
	by := paging.AuditEvent{Actor: "test"}
	ad := api.NewAdmin(st)
	if err := ad.People().Put(ctx, paging.Person{ID: "ann", Name: "Ann", Stage: paging.StagePager}, by); err != nil {
		t.Fatal(err)
	}
	const head = "pager_id,target_kind,target_id,priority,policy,label\r\n"
	bad := head + "4001,person,ann,normal,,Ann\r\n4002,person,ghost,normal,,Ghost\r\n"
	res, err := ad.Import(ctx, api.ListPagerIDs, []byte(bad), true, by)
	if err != nil || len(res.Rows) != 1 || res.Rows[0].Line != 3 || res.Rows[0].ID != "4002" {
		t.Fatalf("dry run of a file with a bad row: %+v %v", res, err)
	}
	good := head + "4001,person,ann,normal,,Ann\r\n"
	if err := ad.PagerIDs().Put(ctx, paging.PagerID{ID: "4001", Target: paging.Target{Kind: paging.TargetPerson, ID: "ann"}, Label: "old"}, by); err != nil {
		t.Fatal(err)
	}
	res, err = ad.Import(ctx, api.ListPagerIDs, []byte(good+"4003,person,ann,high,,Ann 2\r\n"), true, by)
	if err != nil || len(res.Rows) != 0 || len(res.Changes) != 2 || res.Changes[0].What != "changed" || res.Changes[1].What != "new" || res.Imported != 0 {
		t.Fatalf("dry run: %+v %v", res, err)
	}
	if _, err := st.PagerID(ctx, "4003"); !errors.Is(err, paging.ErrNotFound) {
		t.Fatalf("the dry run wrote 4003: %v", err)
	}
	res, err = ad.Import(ctx, api.ListPagerIDs, []byte(good+"4003,person,ann,high,,Ann 2\r\n"), false, by)
	if err != nil || res.Imported != 2 {
		t.Fatalf("apply: %+v %v", res, err)
	}
	if p, err := st.PagerID(ctx, "4003"); err != nil || p.Priority != paging.PriorityHigh {
		t.Fatalf("4003 after apply: %+v %v", p, err)
	}
	// Unknown lists and references are invalid, as in the API.
	if _, err := ad.Import(ctx, "tokens", nil, true, by); !errors.Is(err, paging.ErrInvalid) {
		t.Fatalf("import of tokens: %v", err)
	}
	if err := ad.PagerIDs().Put(ctx, paging.PagerID{ID: "4009", Target: paging.Target{Kind: paging.TargetGroup, ID: "none"}}, by); !errors.Is(err, paging.ErrInvalid) {
		t.Fatalf("pager ID to an unknown group: %v", err)
	}
}
