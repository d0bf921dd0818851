package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"pagebridge/gateway/dircsv"
	"pagebridge/gateway/oncall"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/routing"
	"pagebridge/gateway/threads"
	"pagebridge/storage"
)

// Admin is the API's writes of configuration — the same validation,
// reference checks and refusals to delete what is still named elsewhere,
// the same CSV import and export — for the web app's administration
// pages, so the two faces cannot drift apart. Every write is audited by
// the store as by (its Detail says which face and call made it).
type Admin struct{ a *API }

// NewAdmin returns the API's configuration writes over st.
func NewAdmin(st *storage.Store) Admin { return Admin{a: &API{st: st}} }

// Records are one kind of record as the API keeps it.
type Records[T any] struct{ r records[T] }

// List returns every record of the kind.
func (rs Records[T]) List(ctx context.Context) ([]T, error) { return rs.r.list(ctx) }

// Put checks a record and writes it; an unknown reference (a group
// member, a pager ID's target, a schedule's role or person) is
// paging.ErrInvalid.
func (rs Records[T]) Put(ctx context.Context, v T, by paging.AuditEvent) error {
	return rs.r.save(ctx, v, by)
}

// Delete removes a record, refusing (storage.ErrInUse) one still named by
// a schedule, a role or a pager ID.
func (rs Records[T]) Delete(ctx context.Context, id string, by paging.AuditEvent) error {
	return rs.r.remove(ctx, id, by)
}

func (ad Admin) People() Records[paging.Person] { return Records[paging.Person]{ad.a.peopleRecords()} }
func (ad Admin) Roles() Records[paging.Role]    { return Records[paging.Role]{ad.a.roleRecords()} }
func (ad Admin) Groups() Records[paging.Group]  { return Records[paging.Group]{ad.a.groupRecords()} }
func (ad Admin) PagerIDs() Records[paging.PagerID] {
	return Records[paging.PagerID]{ad.a.pagerIDRecords()}
}
func (ad Admin) Schedules() Records[oncall.Schedule] {
	return Records[oncall.Schedule]{ad.a.scheduleRecords()}
}
func (ad Admin) Policies() Records[routing.Policy] {
	return Records[routing.Policy]{ad.a.policyRecords()}
}

// PutTemplate checks a template's placeholders (threads.ParseTemplate)
// and writes it.
func (ad Admin) PutTemplate(ctx context.Context, t storage.Template, by paging.AuditEvent) error {
	return ad.a.saveTemplate(ctx, t, by)
}

// saveTemplate is PUT /templates/{id} once the body is read.
func (a *API) saveTemplate(ctx context.Context, t storage.Template, by paging.AuditEvent) error {
	if _, err := threads.ParseTemplate(t.Text); err != nil {
		if te, ok := errors.AsType[*threads.TemplateError](err); ok {
			te.Template = clip(t.Name, storage.MaxTemplateNameLen)
		}
		return err
	}
	t.UpdatedBy = by.Actor
	return a.st.PutTemplate(ctx, t, by)
}

// CSV lists: what an import or export is of.
const (
	ListPeople   = "people"
	ListPagerIDs = "pagerids"
)

// Change is what an import does to one record of its file.
type Change struct {
	Line int    `json:"line"`
	ID   string `json:"id"`
	// What is "new", "changed" or "unchanged".
	What string `json:"what"`
}

// ImportResult is an import's outcome: every bad row (and nothing
// written), or what each row changes (written unless it was a dry run).
type ImportResult struct {
	Rows    []dircsv.RowError `json:"rows,omitempty"`
	Changes []Change          `json:"changes,omitempty"`
	// Imported is the number of records written (0 for a dry run).
	Imported int `json:"imported"`
}

// Import reads a CSV file of list (ListPeople or ListPagerIDs) and, with
// dryRun, only checks it (references against the stored directory
// included) and says what each row would change; otherwise it writes it
// in one commit, or nothing. A file with bad rows is not an error: its
// rows come back in Rows.
func (ad Admin) Import(ctx context.Context, list string, data []byte, dryRun bool, by paging.AuditEvent) (ImportResult, error) {
	return ad.a.importCSV(ctx, list, data, dryRun, by)
}

func (a *API) importCSV(ctx context.Context, list string, data []byte, dryRun bool, by paging.AuditEvent) (ImportResult, error) {
	im := storage.Import{DryRun: dryRun}
	var (
		lines []int
		ids   []string
		err   error
	)
	switch list {
	case ListPeople:
		var rows []dircsv.Row[paging.Person]
		if rows, err = dircsv.ParsePeople(bytes.NewReader(data)); err == nil {
			im.People, lines, ids = collect(rows, func(p *paging.Person) string { return p.ID })
		}
	case ListPagerIDs:
		var rows []dircsv.Row[paging.PagerID]
		if rows, err = dircsv.ParsePagerIDs(bytes.NewReader(data)); err == nil {
			im.PagerIDs, lines, ids = collect(rows, func(p *paging.PagerID) string { return p.ID })
		}
	default:
		return ImportResult{}, fmt.Errorf("%w: no CSV import of %q", paging.ErrInvalid, list)
	}
	if ce, ok := errors.AsType[*dircsv.Error](err); ok {
		return ImportResult{Rows: sortedRows(ce.Rows)}, nil
	}
	if err != nil {
		return ImportResult{}, err
	}
	var changes []Change
	if dryRun {
		// What each row does, against what is stored before the check.
		if changes, err = a.changes(ctx, im, lines, ids); err != nil {
			return ImportResult{}, err
		}
	}
	err = a.st.ImportDirectory(ctx, im, by)
	if ie, ok := errors.AsType[*storage.ImportError](err); ok {
		rows := make([]dircsv.RowError, 0, len(ie.Problems))
		for _, p := range ie.Problems {
			r := dircsv.RowError{ID: p.ID, Reason: p.Err.Error()}
			if p.List == list && p.Index >= 0 && p.Index < len(lines) {
				r.Line = lines[p.Index]
			}
			rows = append(rows, r)
		}
		return ImportResult{Rows: sortedRows(rows)}, nil
	}
	if err != nil {
		return ImportResult{}, err
	}
	if dryRun {
		return ImportResult{Changes: changes}, nil
	}
	return ImportResult{Imported: len(lines)}, nil
}

// collect splits a file's rows into records, lines and IDs.
func collect[T any](rows []dircsv.Row[T], id func(*T) string) (recs []T, lines []int, ids []string) {
	for i := range rows {
		recs, lines, ids = append(recs, rows[i].Record), append(lines, rows[i].Line), append(ids, id(&rows[i].Record))
	}
	return recs, lines, ids
}

func sortedRows(rows []dircsv.RowError) []dircsv.RowError {
	slices.SortStableFunc(rows, func(a, b dircsv.RowError) int { return a.Line - b.Line })
	return rows
}

// changes compares each record of im with the stored one of its ID.
func (a *API) changes(ctx context.Context, im storage.Import, lines []int, ids []string) ([]Change, error) {
	out := make([]Change, len(lines))
	for i := range lines {
		var (
			stored any
			err    error
			rec    any
		)
		if im.People != nil {
			rec = im.People[i]
			stored, err = a.st.Person(ctx, ids[i])
		} else {
			rec = im.PagerIDs[i]
			stored, err = a.st.PagerID(ctx, ids[i])
		}
		out[i] = Change{Line: lines[i], ID: ids[i], What: "new"}
		switch {
		case errors.Is(err, paging.ErrNotFound):
		case err != nil:
			return nil, err
		default:
			out[i].What = "changed"
			if same(stored, rec) {
				out[i].What = "unchanged"
			}
		}
	}
	return out, nil
}

// same compares two records as stored (their JSON).
func same(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// Export writes list (ListPeople or ListPagerIDs) as the CSV file Import
// reads.
func (ad Admin) Export(ctx context.Context, list string) ([]byte, error) {
	return ad.a.exportCSV(ctx, list)
}

func (a *API) exportCSV(ctx context.Context, list string) ([]byte, error) {
	var b bytes.Buffer
	switch list {
	case ListPeople:
		people, err := a.st.People(ctx)
		if err != nil {
			return nil, err
		}
		if err := dircsv.FormatPeople(&b, people); err != nil {
			return nil, fmt.Errorf("%w: %v", errExport, err)
		}
	case ListPagerIDs:
		ids, err := a.st.PagerIDs(ctx)
		if err != nil {
			return nil, err
		}
		if err := dircsv.FormatPagerIDs(&b, ids); err != nil {
			return nil, fmt.Errorf("%w: %v", errExport, err)
		}
	default:
		return nil, fmt.Errorf("%w: no CSV export of %q", paging.ErrInvalid, list)
	}
	return b.Bytes(), nil
}
