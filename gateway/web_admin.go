package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"pagebridge/gateway/api"
	"pagebridge/gateway/oncall"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/routing"
	"pagebridge/storage"
	"pagebridge/ui"
)

// webAdmin is ui.Admin over the JSON API's own configuration writes
// (api.Admin: the same checks, the same refusals) and the store.
type webAdmin struct {
	st *storage.Store
	ad api.Admin
	// last is the last verification of the audit chain.
	last *lastVerify
}

type lastVerify struct {
	mu    sync.Mutex
	state *ui.AuditState
}

var _ ui.Admin = webAdmin{}

func newWebAdmin(st *storage.Store) webAdmin {
	return webAdmin{st: st, ad: api.NewAdmin(st), last: &lastVerify{}}
}

// adminErr maps the store's refusal of a delete to the port's.
func adminErr(err error) error {
	if errors.Is(err, storage.ErrInUse) {
		return fmt.Errorf("%w: %v", ui.ErrInUse, err)
	}
	return err
}

// records are api.Records with the store's refusal of a delete mapped
// to the port's.
type records[T any] struct{ api.Records[T] }

func (r records[T]) Delete(ctx context.Context, id string, by paging.AuditEvent) error {
	return adminErr(r.Records.Delete(ctx, id, by))
}

func (w webAdmin) People() ui.Records[paging.Person] { return records[paging.Person]{w.ad.People()} }
func (w webAdmin) Roles() ui.Records[paging.Role]    { return records[paging.Role]{w.ad.Roles()} }
func (w webAdmin) Groups() ui.Records[paging.Group]  { return records[paging.Group]{w.ad.Groups()} }
func (w webAdmin) PagerIDs() ui.Records[paging.PagerID] {
	return records[paging.PagerID]{w.ad.PagerIDs()}
}
func (w webAdmin) Schedules() ui.Records[oncall.Schedule] {
	return records[oncall.Schedule]{w.ad.Schedules()}
}
func (w webAdmin) Policies() ui.Records[routing.Policy] {
	return records[routing.Policy]{w.ad.Policies()}
}
func (w webAdmin) Templates() ui.Records[ui.Template] { return webTemplates(w) }

func (w webAdmin) Import(ctx context.Context, list string, data []byte, dryRun bool, by paging.AuditEvent) (ui.ImportReport, error) {
	res, err := w.ad.Import(ctx, list, data, dryRun, by)
	if err != nil {
		return ui.ImportReport{}, err
	}
	out := ui.ImportReport{Imported: res.Imported}
	for _, r := range res.Rows {
		out.Rows = append(out.Rows, ui.ImportRow{Line: r.Line, ID: r.ID, Reason: r.Reason})
	}
	for _, c := range res.Changes {
		out.Changes = append(out.Changes, ui.ImportChange{Line: c.Line, ID: c.ID, What: c.What})
	}
	return out, nil
}

func (w webAdmin) Export(ctx context.Context, list string) ([]byte, error) {
	return w.ad.Export(ctx, list)
}

// webTemplates are the store's templates, written with the API's
// placeholder check.
type webTemplates webAdmin

func (w webTemplates) List(ctx context.Context) ([]ui.Template, error) {
	ts, err := w.st.Templates(ctx)
	out := make([]ui.Template, len(ts))
	for i, t := range ts {
		out[i] = ui.Template{Name: t.Name, Text: t.Text, Description: t.Description}
	}
	return out, err
}
func (w webTemplates) Put(ctx context.Context, t ui.Template, by paging.AuditEvent) error {
	return w.ad.PutTemplate(ctx, storage.Template{Name: t.Name, Text: t.Text, Description: t.Description}, by)
}
func (w webTemplates) Delete(ctx context.Context, name string, by paging.AuditEvent) error {
	return w.st.DeleteTemplate(ctx, name, by)
}

// CreateAccount stores a new account whose password must be changed at
// the first sign-in. The person must exist.
func (w webAdmin) CreateAccount(ctx context.Context, a ui.NewAccount, by paging.AuditEvent) error {
	if _, err := w.st.Account(ctx, a.Username); err == nil {
		return fmt.Errorf("%w: there is already an account %s", paging.ErrInvalid, a.Username)
	} else if !errors.Is(err, paging.ErrNotFound) {
		return err
	}
	if _, err := w.st.Person(ctx, a.Person); err != nil {
		if errors.Is(err, paging.ErrNotFound) {
			return fmt.Errorf("%w: person %s is not in the directory", paging.ErrInvalid, a.Person)
		}
		return err
	}
	return w.st.PutAccount(ctx, storage.Account{Username: a.Username, PersonID: a.Person, PasswordHash: a.PasswordHash,
		Roles: []string{a.Role}, MustChangePassword: true}, by)
}

func (w webAdmin) UnlockAccount(ctx context.Context, username string, by paging.AuditEvent) error {
	return w.st.UnlockAccount(ctx, username, by)
}

func (w webAdmin) AuditEntries(ctx context.Context, from uint64, limit int) ([]ui.AuditEntry, error) {
	es, err := w.st.AuditEntries(ctx, from, limit)
	if err != nil {
		return nil, err
	}
	out := make([]ui.AuditEntry, len(es))
	for i, e := range es {
		at, _ := e.At()
		out[i] = ui.AuditEntry{Seq: e.Seq, Time: at, Actor: e.Actor, Action: e.Action, Object: e.Object, Source: e.Source, Detail: e.Detail}
	}
	return out, nil
}

// AuditBounds: the first entry kept (the chain may be pruned) and the
// head.
func (w webAdmin) AuditBounds(ctx context.Context) (first, last uint64, err error) {
	last = w.st.AuditHead().Seq
	if last == 0 {
		return 0, 0, nil
	}
	es, err := w.st.AuditEntries(ctx, 0, 1)
	if err != nil || len(es) == 0 {
		return 0, 0, err
	}
	return es[0].Seq, last, nil
}

func (w webAdmin) VerifyAudit(ctx context.Context) (ui.AuditState, error) {
	r, err := w.st.VerifyAudit(ctx)
	st := ui.AuditState{Checked: time.Now()}
	if ae, ok := errors.AsType[*storage.AuditError](err); ok {
		st.Problem = ae.Error()
	} else if err != nil {
		return st, err
	} else {
		st.OK, st.Entries, st.First, st.Last, st.HeadHash = true, r.Entries, r.First, r.Head.Seq, r.Head.Hash
		if r.Anchor != nil {
			st.PrunedBefore = r.Anchor.First
		}
	}
	w.last.mu.Lock()
	w.last.state = &st
	w.last.mu.Unlock()
	return st, nil
}

func (w webAdmin) LastVerify(context.Context) (ui.AuditState, bool, error) {
	w.last.mu.Lock()
	defer w.last.mu.Unlock()
	if w.last.state == nil {
		return ui.AuditState{}, false, nil
	}
	return *w.last.state, true, nil
}
