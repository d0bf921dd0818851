package storage_test

import (
	"context"
	"errors"
	"testing"

	"pagebridge/gateway/paging"
	"pagebridge/storage"
	"pagebridge/storage/storagetest"
)

func TestImportDirectory(t *testing.T) {
	s := storagetest.MustOpen(t)
	ctx := context.Background()
	app := func(id string) []paging.Endpoint { return []paging.Endpoint{{Channel: paging.ChannelApp, Address: id}} }
	good := storage.Import{
		People:   []paging.Person{{ID: "lee", Name: "Dr Lee", Stage: paging.StageApp, Endpoints: app("lee")}, {ID: "kim", Name: "Dr Kim", Stage: paging.StagePager}},
		Roles:    []paging.Role{{ID: "cardiology", Name: "Cardiology on call"}},
		Groups:   []paging.Group{{ID: "team", Name: "Team", Members: []string{"lee", "kim"}}},
		PagerIDs: []paging.PagerID{{ID: "1002", Target: paging.Target{Kind: paging.TargetPerson, ID: "lee"}}, {ID: "2000", Target: paging.Target{Kind: paging.TargetRole, ID: "cardiology"}}},
		Records:  []storage.ImportRecord{{Kind: storage.KindPolicy, ID: "p1", Value: map[string]any{"id": "p1"}}},
	}
	// Every bad row is reported, and nothing of the import is written.
	bad := good
	bad.People = append([]paging.Person{}, good.People...)
	bad.People = append(bad.People, paging.Person{ID: "x", Name: "", Stage: paging.StageApp}, paging.Person{ID: "lee", Name: "again", Stage: paging.StageApp})
	bad.PagerIDs = append([]paging.PagerID{}, good.PagerIDs...)
	bad.PagerIDs = append(bad.PagerIDs, paging.PagerID{ID: "1003", Target: paging.Target{Kind: paging.TargetPerson, ID: "nobody"}})
	bad.Groups = []paging.Group{{ID: "team", Name: "Team", Members: []string{"lee", "ghost"}}}
	err := s.ImportDirectory(ctx, bad, by)
	var ie *storage.ImportError
	if !errors.As(err, &ie) || len(ie.Problems) != 4 {
		t.Fatalf("err = %v; want 4 problems (no name, lee twice, ghost member, pager ID to nobody)", err)
	}
	if !errors.Is(err, paging.ErrInvalid) || !errors.Is(err, paging.ErrNotFound) {
		t.Fatalf("errors.Is does not see the causes: %v", err)
	}
	if people, _ := s.People(ctx); len(people) != 0 {
		t.Fatalf("a failed import wrote %d people", len(people))
	}
	v := s.DirectoryVersion()
	if err := s.ImportDirectory(ctx, good, by); err != nil {
		t.Fatal(err)
	}
	if s.DirectoryVersion() == v {
		t.Fatal("directory version unchanged by an import")
	}
	if p, err := s.PagerID(ctx, "2000"); err != nil || p.Target.ID != "cardiology" {
		t.Fatalf("pager ID after import: %+v %v", p, err)
	}
	if g, err := s.Group(ctx, "team"); err != nil || len(g.Members) != 2 {
		t.Fatalf("group after import: %+v %v", g, err)
	}
	if rep := verify(t, s); rep.Entries != 7 {
		t.Fatalf("audit entries %d, want one per record (7)", rep.Entries)
	}
}

// A dry run reports what the import would and writes nothing, not even an
// audit entry.
func TestImportDirectoryDryRun(t *testing.T) {
	s := storagetest.MustOpen(t)
	ctx := context.Background()
	if err := s.PutPerson(ctx, paging.Person{ID: "lee", Name: "Dr Lee", Stage: paging.StagePager}, by); err != nil {
		t.Fatal(err)
	}
	before := verify(t, s).Entries
	v := s.DirectoryVersion()
	good := storage.Import{DryRun: true, PagerIDs: []paging.PagerID{{ID: "1002", Target: paging.Target{Kind: paging.TargetPerson, ID: "lee"}}}}
	if err := s.ImportDirectory(ctx, good, by); err != nil {
		t.Fatalf("dry run of a good import: %v", err)
	}
	bad := storage.Import{DryRun: true, PagerIDs: []paging.PagerID{{ID: "1003", Target: paging.Target{Kind: paging.TargetPerson, ID: "nobody"}}}}
	var ie *storage.ImportError
	if err := s.ImportDirectory(ctx, bad, by); !errors.As(err, &ie) || len(ie.Problems) != 1 || ie.Problems[0].Index != 0 {
		t.Fatalf("dry run of a bad import: %v; want the pager ID to nobody", err)
	}
	if _, err := s.PagerID(ctx, "1002"); !errors.Is(err, paging.ErrNotFound) {
		t.Fatalf("a dry run wrote pager ID 1002: %v", err)
	}
	if after := verify(t, s).Entries; after != before || s.DirectoryVersion() != v {
		t.Fatalf("a dry run audited %d entries or moved the directory version", after-before)
	}
}
