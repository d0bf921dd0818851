package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"pagebridge/gateway/paging"
)

// Import is a set of directory records written together: a spreadsheet's
// worth of people and pager IDs, or a whole hospital for the demo and the
// benchmark.
type Import struct {
	People   []paging.Person
	Roles    []paging.Role
	Groups   []paging.Group
	PagerIDs []paging.PagerID
	// Records are schedules, policies, presence (validated by the caller,
	// whose types they are).
	Records []ImportRecord
	// DryRun checks everything an import checks, references against the
	// stored directory included, and writes nothing: ImportDirectory
	// returns the *ImportError it would, or nil.
	DryRun bool
}

// errDryRun rolls back a dry run's transaction.
var errDryRun = errors.New("import: dry run")

// ImportRecord is one configuration record of an import.
type ImportRecord struct {
	Kind  RecordKind
	ID    string
	Value any
}

// ImportError lists every record of an import that is wrong, by its
// position in its list; nothing was written.
type ImportError struct {
	Problems []ImportProblem
}

// ImportProblem is one bad record: List is "people", "roles", "groups",
// "pagerids" or "records", Index its position there.
type ImportProblem struct {
	List  string
	Index int
	ID    string
	Err   error
}

func (e *ImportError) Error() string {
	if len(e.Problems) == 1 {
		p := e.Problems[0]
		return fmt.Sprintf("import: %s %d (%s): %v", p.List, p.Index+1, p.ID, p.Err)
	}
	return fmt.Sprintf("import: %d bad records, the first %s %d (%s): %v", len(e.Problems), e.Problems[0].List, e.Problems[0].Index+1, e.Problems[0].ID, e.Problems[0].Err)
}

// Unwrap lets errors.Is see paging.ErrInvalid or paging.ErrNotFound.
func (e *ImportError) Unwrap() []error {
	out := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p.Err
	}
	return out
}

// ImportDirectory writes every record of im in one commit, or none: each
// record is validated, duplicates within the import are refused, and
// every reference (group members, pager ID targets) must name a record
// already stored or in the import. Every problem is reported
// (*ImportError), not only the first. Existing records with the same IDs
// are replaced; each write is audited as by.
func (s *Store) ImportDirectory(ctx context.Context, im Import, by paging.AuditEvent) error {
	var problems []ImportProblem
	bad := func(list string, i int, id string, err error) {
		problems = append(problems, ImportProblem{List: list, Index: i, ID: id, Err: err})
	}
	type put struct {
		kind   string
		bucket []byte
		id     string
		value  []byte
	}
	var puts []put
	add := func(list, kind string, bucket []byte, i int, id string, v any, seen map[string]bool) {
		if seen[id] {
			bad(list, i, id, fmt.Errorf("%w: %s %q appears twice in the import", paging.ErrInvalid, kind, id))
			return
		}
		seen[id] = true
		raw, err := json.Marshal(v)
		if err != nil {
			bad(list, i, id, err)
			return
		}
		puts = append(puts, put{kind, bucket, id, raw})
	}
	people, roles, groups := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for i, p := range im.People {
		if err := p.Validate(); err != nil {
			bad("people", i, p.ID, err)
			continue
		}
		add("people", "person", bucketPeople, i, p.ID, p, people)
	}
	for i, r := range im.Roles {
		if err := validateRole(&r); err != nil {
			bad("roles", i, r.ID, err)
			continue
		}
		add("roles", "role", bucketRoles, i, r.ID, r, roles)
	}
	for i, g := range im.Groups {
		if err := validateGroup(&g); err != nil {
			bad("groups", i, g.ID, err)
			continue
		}
		add("groups", "group", bucketGroups, i, g.ID, g, groups)
	}
	pagerIDs := map[string]bool{}
	stored := map[string]*paging.PagerID{}
	for i, p := range im.PagerIDs {
		if err := p.Validate(); err != nil {
			bad("pagerids", i, p.ID, err)
			continue
		}
		rt, err := roundTrip(p)
		if err != nil {
			bad("pagerids", i, p.ID, err)
			continue
		}
		stored[p.ID] = &rt
		add("pagerids", "pagerid", bucketPagerIDs, i, p.ID, p, pagerIDs)
	}
	records := map[RecordKind]map[string]bool{}
	for i, r := range im.Records {
		b, err := r.Kind.bucket()
		if err == nil && r.ID == "" {
			err = fmt.Errorf("%w: no id", paging.ErrInvalid)
		}
		if err != nil {
			bad("records", i, r.ID, err)
			continue
		}
		if records[r.Kind] == nil {
			records[r.Kind] = map[string]bool{}
		}
		add("records", string(r.Kind), b, i, r.ID, r.Value, records[r.Kind])
	}
	at := s.now()
	drafts := make([]auditDraft, len(puts))
	for i, p := range puts {
		drafts[i] = draftAudit(at, paging.AuditEvent{Actor: by.Actor, Source: by.Source, Action: p.kind + ".import",
			Object: p.kind + "/" + p.id, Detail: by.Detail})
	}
	err := s.do(ctx, func(tx *txn) error {
		// References, against what is stored and what comes with it.
		var refs []ImportProblem
		has := func(bucket []byte, in map[string]bool, id string) bool { return in[id] || exists(tx, bucket, id) }
		for i, g := range im.Groups {
			for _, m := range g.Members {
				if !has(bucketPeople, people, m) {
					refs = append(refs, ImportProblem{List: "groups", Index: i, ID: g.ID, Err: fmt.Errorf("member %s: person %w", m, paging.ErrNotFound)})
				}
			}
		}
		for i, p := range im.PagerIDs {
			in := map[paging.TargetKind]map[string]bool{paging.TargetPerson: people, paging.TargetRole: roles, paging.TargetGroup: groups}[p.Target.Kind]
			if p.Validate() == nil && !has(targetBucket(p.Target.Kind), in, p.Target.ID) {
				refs = append(refs, ImportProblem{List: "pagerids", Index: i, ID: p.ID, Err: fmt.Errorf("target %s: %w", p.Target, paging.ErrNotFound)})
			}
		}
		if len(problems)+len(refs) > 0 {
			return &ImportError{Problems: append(append([]ImportProblem(nil), problems...), refs...)}
		}
		if im.DryRun {
			return errDryRun
		}
		for i, p := range puts {
			if err := tx.Bucket(p.bucket).Put([]byte(p.id), p.value); err != nil {
				return err
			}
			if err := tx.appendAudit(drafts[i]); err != nil {
				return err
			}
		}
		for id, p := range stored {
			tx.notePagerID(id, p)
		}
		tx.OnCommit(func() { s.dirVersion.Add(1) })
		return nil
	})
	if errors.Is(err, errDryRun) {
		return nil
	}
	if err != nil {
		var ie *ImportError
		if errors.As(err, &ie) {
			return ie
		}
		return fmt.Errorf("import: %w", err)
	}
	return nil
}
