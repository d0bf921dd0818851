package ui

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"pagebridge/gateway/oncall"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/routing"
)

// memRecords are one kind of record in memory, checked by check and
// refused a delete by inUse.
type memRecords[T any] struct {
	m     *memAdmin
	items []T
	id    func(*T) string
	check func(*T) error
	inUse func(id string) error
}

func (r *memRecords[T]) List(context.Context) ([]T, error) {
	r.m.mu.Lock()
	defer r.m.mu.Unlock()
	return slices.Clone(r.items), nil
}

func (r *memRecords[T]) get(id string) (T, bool) {
	r.m.mu.Lock()
	defer r.m.mu.Unlock()
	return find(r.items, r.id, id)
}

func (r *memRecords[T]) Put(_ context.Context, v T, by paging.AuditEvent) error {
	if r.check != nil {
		if err := r.check(&v); err != nil {
			return err
		}
	}
	r.m.mu.Lock()
	defer r.m.mu.Unlock()
	r.m.writes = append(r.m.writes, by)
	for i := range r.items {
		if r.id(&r.items[i]) == r.id(&v) {
			r.items[i] = v
			return nil
		}
	}
	r.items = append(r.items, v)
	return nil
}

func (r *memRecords[T]) Delete(_ context.Context, key string, by paging.AuditEvent) error {
	if r.inUse != nil {
		if err := r.inUse(key); err != nil {
			return err
		}
	}
	r.m.mu.Lock()
	defer r.m.mu.Unlock()
	for i := range r.items {
		if r.id(&r.items[i]) == key {
			r.m.writes = append(r.m.writes, by)
			r.items = slices.Delete(r.items, i, i+1)
			return nil
		}
	}
	return fmt.Errorf("%s: %w", key, paging.ErrNotFound)
}

// memAdmin is the Admin port in memory. It checks records with the
// domain's own Validate, refuses a pager ID to an unknown person and the
// delete of a scheduled person; its import takes a file whose lines are
// "id,name,stage" (a header first), a line naming stage "bad" being a
// bad row.
type memAdmin struct {
	mu        sync.Mutex
	people    *memRecords[paging.Person]
	roles     *memRecords[paging.Role]
	groups    *memRecords[paging.Group]
	pagerIDs  *memRecords[paging.PagerID]
	schedules *memRecords[oncall.Schedule]
	policies  *memRecords[routing.Policy]
	templates *memRecords[Template]
	accounts  []NewAccount
	unlocked  []string
	audit     []AuditEntry
	writes    []paging.AuditEvent
	verified  *AuditState
}

func newMemAdmin() *memAdmin {
	m := &memAdmin{}
	m.people = &memRecords[paging.Person]{m: m, id: func(p *paging.Person) string { return p.ID }, check: (*paging.Person).Validate,
		items: []paging.Person{{ID: "ben", Name: "Ben Lee", Stage: paging.StagePager,
			Endpoints: []paging.Endpoint{{Channel: paging.ChannelPager, Address: "1002", Via: "agent/t1"}}},
			{ID: "amara", Name: "Amara Okafor", Stage: paging.StageApp, Roles: []string{"cardio"}}},
		inUse: func(id string) error {
			for _, s := range m.schedules.items {
				if slices.ContainsFunc(s.Layers, func(l oncall.Layer) bool { return slices.Contains(l.Participants, id) }) {
					return fmt.Errorf("person %s: %w by schedule %s", id, ErrInUse, s.ID)
				}
			}
			return nil
		}}
	m.roles = &memRecords[paging.Role]{m: m, id: func(r *paging.Role) string { return r.ID },
		items: []paging.Role{{ID: "cardio", Name: "Cardiology on call"}}}
	m.groups = &memRecords[paging.Group]{m: m, id: func(g *paging.Group) string { return g.ID }}
	m.pagerIDs = &memRecords[paging.PagerID]{m: m, id: func(p *paging.PagerID) string { return p.ID },
		check: func(p *paging.PagerID) error {
			if err := p.Validate(); err != nil {
				return err
			}
			if _, ok := m.people.get(p.Target.ID); p.Target.Kind == paging.TargetPerson && !ok {
				return fmt.Errorf("%w reference: person %s: not found", paging.ErrInvalid, p.Target.ID)
			}
			return nil
		}}
	m.schedules = &memRecords[oncall.Schedule]{m: m, id: func(s *oncall.Schedule) string { return s.ID }, check: (*oncall.Schedule).Validate,
		items: []oncall.Schedule{{ID: "cardio", RoleID: "cardio", Name: "Cardiology", TimeZone: "UTC",
			Layers: []oncall.Layer{{Name: "weekly", Participants: []string{"amara"}, Start: oncall.LocalTime{Year: 2026, Month: 1, Day: 5},
				Shift: oncall.Length{N: 1, Unit: oncall.UnitWeek}}}}}}
	m.policies = &memRecords[routing.Policy]{m: m, id: func(p *routing.Policy) string { return p.ID }, check: (*routing.Policy).Validate}
	m.templates = &memRecords[Template]{m: m, id: func(t *Template) string { return t.Name }, check: func(t *Template) error {
		if strings.Count(t.Text, "{") != strings.Count(t.Text, "}") {
			return fmt.Errorf("%w template %s: a placeholder is not closed", paging.ErrInvalid, t.Name)
		}
		return nil
	}}
	return m
}

func (m *memAdmin) People() Records[paging.Person]      { return m.people }
func (m *memAdmin) Roles() Records[paging.Role]         { return m.roles }
func (m *memAdmin) Groups() Records[paging.Group]       { return m.groups }
func (m *memAdmin) PagerIDs() Records[paging.PagerID]   { return m.pagerIDs }
func (m *memAdmin) Schedules() Records[oncall.Schedule] { return m.schedules }
func (m *memAdmin) Policies() Records[routing.Policy]   { return m.policies }
func (m *memAdmin) Templates() Records[Template]        { return m.templates }

func (m *memAdmin) person(id string) (paging.Person, bool) { return m.people.get(id) }

func (m *memAdmin) Import(_ context.Context, list string, data []byte, dryRun bool, by paging.AuditEvent) (ImportReport, error) {
	if list != ListPeople {
		return ImportReport{}, fmt.Errorf("%w: no import of %s here", paging.ErrInvalid, list)
	}
	var rep ImportReport
	var people []paging.Person
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n")[1:] {
		f := strings.Split(strings.TrimSpace(line), ",")
		if len(f) != 3 || f[2] == "bad" {
			rep.Rows = append(rep.Rows, ImportRow{Line: i + 2, ID: f[0], Reason: "unknown migration stage"})
			continue
		}
		what := "new"
		if _, ok := m.person(f[0]); ok {
			what = "changed"
		}
		rep.Changes = append(rep.Changes, ImportChange{Line: i + 2, ID: f[0], What: what})
		people = append(people, paging.Person{ID: f[0], Name: f[1], Stage: paging.Stage(f[2])})
	}
	if len(rep.Rows) > 0 {
		rep.Changes = nil
		return rep, nil
	}
	if !dryRun {
		for _, p := range people {
			if err := m.people.Put(context.Background(), p, by); err != nil {
				return rep, err
			}
		}
		rep.Imported, rep.Changes = len(people), nil
	}
	return rep, nil
}

func (m *memAdmin) Export(context.Context, string) ([]byte, error) {
	return []byte("id,name,stage\r\n"), nil
}

func (m *memAdmin) CreateAccount(_ context.Context, a NewAccount, by paging.AuditEvent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes = append(m.writes, by)
	m.accounts = append(m.accounts, a)
	return nil
}

func (m *memAdmin) UnlockAccount(_ context.Context, username string, by paging.AuditEvent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes = append(m.writes, by)
	m.unlocked = append(m.unlocked, username)
	return nil
}

func (m *memAdmin) AuditEntries(_ context.Context, from uint64, limit int) ([]AuditEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []AuditEntry
	for _, e := range m.audit {
		if e.Seq >= from && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *memAdmin) AuditBounds(context.Context) (uint64, uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.audit) == 0 {
		return 0, 0, nil
	}
	return m.audit[0].Seq, m.audit[len(m.audit)-1].Seq, nil
}

func (m *memAdmin) VerifyAudit(context.Context) (AuditState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.verified = &AuditState{OK: true, Entries: uint64(len(m.audit)), First: 1, Last: uint64(len(m.audit)), HeadHash: "ab12"}
	return *m.verified, nil
}

func (m *memAdmin) LastVerify(context.Context) (AuditState, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.verified == nil {
		return AuditState{}, false, nil
	}
	return *m.verified, true, nil
}

// adminRig is the web app's rig with an Admin port and an administrator
// and an IT account signed in.
func adminRig(t *testing.T) (*rig, *memAdmin, *browser) {
	t.Helper()
	r := newRig(t)
	ad := newMemAdmin()
	r.web.opts.Admin = ad
	b := r.browser()
	if resp := b.signin("root", "admin password 1", r.code(r.clk.Now())); resp.status != http.StatusSeeOther {
		t.Fatalf("admin sign-in: %d", resp.status)
	}
	return r, ad, b
}

// adminPaths are every administration route, parameters filled in.
func adminPaths(t *testing.T, r *rig) (gets, posts []string) {
	t.Helper()
	for _, rt := range New(Options{Web: r.web}).Routes() {
		if !strings.HasPrefix(rt.Path, "/app/admin") {
			continue
		}
		p := regexp.MustCompile(`:[a-z]+`).ReplaceAllString(rt.Path, "ben")
		switch rt.Method {
		case http.MethodGet:
			gets = append(gets, p)
		case http.MethodPost:
			posts = append(posts, p)
		}
	}
	if len(gets) < 10 || len(posts) < 20 {
		t.Fatalf("only %d GET and %d POST admin routes found", len(gets), len(posts))
	}
	return gets, posts
}

// A clinician and an operator get 403 on every administration page and
// change, audited; IT gets the directory but not accounts or the audit
// log; nothing is written by a refused request.
func TestAdminRoleChecks(t *testing.T) {
	r, ad, _ := adminRig(t)
	gets, posts := adminPaths(t, r)
	r.acc.add(t, "itguy", RoleIT, "it password 123", "")
	r.acc.add(t, "op", RoleOperator, "operator pass 1", totpSecret)
	for _, who := range []struct{ user, password, code string }{{"amara", "correct horse battery", ""}, {"op", "operator pass 1", r.code(r.clk.Now())}} {
		b := r.browser()
		b.signin(who.user, who.password, who.code)
		csrf := b.csrf()
		for _, p := range gets {
			if resp := b.do(http.MethodGet, p, nil); resp.status != http.StatusForbidden {
				t.Errorf("%s GET %s: %d, want 403", who.user, p, resp.status)
			}
		}
		for _, p := range posts {
			form := url.Values{"csrf": {csrf}, "id": {"x"}, "name": {"X"}, "stage": {"app"}, "username": {"amara"}}
			if resp := b.do(http.MethodPost, p, form); resp.status != http.StatusForbidden {
				t.Errorf("%s POST %s: %d, want 403", who.user, p, resp.status)
			}
		}
	}
	if len(ad.writes) != 0 {
		t.Fatalf("refused requests wrote %d changes", len(ad.writes))
	}
	refused := 0
	for _, a := range r.acc.actions() {
		if a == "web.refused" {
			refused++
		}
	}
	if refused != 2*(len(gets)+len(posts)) {
		t.Errorf("%d refusals audited, want %d", refused, 2*(len(gets)+len(posts)))
	}
	it := r.browser()
	it.signin("itguy", "it password 123", "")
	for path, want := range map[string]int{"/app/admin/people": 200, "/app/admin/oncall": 200, "/app/admin/policies": 200,
		"/app/admin/templates": 200, "/app/admin/pagerids": 200, "/app/admin/accounts": 403, "/app/admin/audit": 403} {
		if resp := it.do(http.MethodGet, path, nil); resp.status != want {
			t.Errorf("IT GET %s: %d, want %d", path, resp.status, want)
		}
	}
}

// Every change needs the session's CSRF token.
func TestAdminCSRF(t *testing.T) {
	r, ad, b := adminRig(t)
	_, posts := adminPaths(t, r)
	for _, p := range posts {
		if resp := b.do(http.MethodPost, p, url.Values{"id": {"x"}, "name": {"X"}, "stage": {"app"}}); resp.status != http.StatusForbidden {
			t.Errorf("POST %s without a CSRF token: %d", p, resp.status)
		}
		if resp := b.do(http.MethodPost, p, url.Values{"csrf": {"forged"}, "id": {"x"}}); resp.status != http.StatusForbidden {
			t.Errorf("POST %s with a wrong CSRF token: %d", p, resp.status)
		}
	}
	if len(ad.writes) != 0 {
		t.Fatalf("requests without the token wrote %d changes", len(ad.writes))
	}
}

func location(t *testing.T, resp response) (string, url.Values) {
	t.Helper()
	if resp.status != http.StatusSeeOther {
		t.Fatalf("status %d, want a redirect:\n%s", resp.status, resp.body)
	}
	u, err := url.Parse(resp.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u.Path, u.Query()
}

// People: create, a validation error shown with the form, the stage
// moved (an app endpoint added), a delete refused while scheduled; every
// change written with the session as actor and the request audited.
func TestAdminPeople(t *testing.T) {
	r, ad, b := adminRig(t)
	csrf := b.csrf()
	bad := b.do(http.MethodPost, "/app/admin/people/new", url.Values{"csrf": {csrf}, "id": {"kim"}, "name": {"Dr Kim"}, "stage": {"paper"}})
	if bad.status != http.StatusBadRequest || !strings.Contains(bad.body, "unknown migration stage") || !strings.Contains(bad.body, `value="Dr Kim"`) {
		t.Fatalf("bad stage: %d\n%s", bad.status, bad.body)
	}
	smsBad := b.do(http.MethodPost, "/app/admin/people/new", url.Values{"csrf": {csrf}, "id": {"kim"}, "name": {"Dr Kim"}, "stage": {"pager"}, "sms": {"12345"}})
	if smsBad.status != http.StatusBadRequest || !strings.Contains(smsBad.body, `role="alert"`) {
		t.Fatalf("SMS number not in E.164: %d\n%s", smsBad.status, smsBad.body)
	}
	path, _ := location(t, b.do(http.MethodPost, "/app/admin/people/new", url.Values{"csrf": {csrf}, "id": {"kim"}, "name": {"Dr Kim"},
		"stage": {"pager"}, "pager": {"4001"}, "pager_via": {"agent/t1"}, "roles": {"cardio"}, "sms": {"+15555550100"}}))
	if path != "/app/admin/people/kim" {
		t.Fatalf("created, sent to %s", path)
	}
	kim, ok := ad.person("kim")
	if !ok || kim.Stage != paging.StagePager || len(kim.Endpoints) != 2 || kim.Endpoints[0].Via != "agent/t1" || !slices.Equal(kim.Roles, []string{"cardio"}) {
		t.Fatalf("kim: %+v", kim)
	}
	list := b.do(http.MethodGet, "/app/admin/people?q=kim", nil)
	if list.status != 200 || !strings.Contains(list.body, `data-id="kim"`) || strings.Contains(list.body, `data-id="ben"`) {
		t.Fatalf("search: %d\n%s", list.status, list.body)
	}
	// Ben moves from pager to app: an app endpoint is added.
	_, q := location(t, b.do(http.MethodPost, "/app/admin/people/ben/stage", url.Values{"csrf": {csrf}, "stage": {"app"}}))
	ben, _ := ad.person("ben")
	if ben.Stage != paging.StageApp || !slices.Contains(ben.Endpoints, paging.Endpoint{Channel: paging.ChannelApp, Address: "ben"}) ||
		!strings.Contains(q.Get("done"), "moved from pager to app") {
		t.Fatalf("after the move: %+v, notice %q", ben, q.Get("done"))
	}
	// Amara has no pager: she cannot go back to the pager stage.
	_, q = location(t, b.do(http.MethodPost, "/app/admin/people/amara/stage", url.Values{"csrf": {csrf}, "stage": {"pager"}}))
	if a, _ := ad.person("amara"); a.Stage != paging.StageApp || !strings.Contains(q.Get("error"), "no pager endpoint") {
		t.Fatalf("amara to pager without one: %+v, %q", a, q.Get("error"))
	}
	// Amara is on a schedule: not deleted, and told why.
	_, q = location(t, b.do(http.MethodPost, "/app/admin/people/amara/delete", url.Values{"csrf": {csrf}}))
	if _, ok := ad.person("amara"); !ok || !strings.Contains(q.Get("error"), "schedule cardio") {
		t.Fatalf("delete of a scheduled person: %q", q.Get("error"))
	}
	for _, w := range ad.writes {
		if !strings.HasPrefix(w.Actor, "web:") || !strings.HasSuffix(w.Actor, "person:root") || !strings.HasPrefix(w.Detail, "web POST /app/admin/") {
			t.Errorf("change written as %+v", w)
		}
	}
	var audited []string
	for _, e := range r.acc.audit {
		if strings.HasPrefix(e.Action, "web.POST /app/admin/") {
			audited = append(audited, e.Action+" "+e.Detail)
		}
	}
	want := []string{"web.POST /app/admin/people/:id status 400", "web.POST /app/admin/people/:id status 400", "web.POST /app/admin/people/:id status 303",
		"web.POST /app/admin/people/:id/stage status 303", "web.POST /app/admin/people/:id/stage status 303", "web.POST /app/admin/people/:id/delete status 303"}
	if !slices.Equal(audited, want) {
		t.Errorf("audited %q\nwant %q", audited, want)
	}
}

// The CSV import: a bad line is shown with its line and nothing is
// written; the fixed file is previewed, then applied.
func TestAdminImport(t *testing.T) {
	_, ad, b := adminRig(t)
	csrf := b.csrf()
	bad := b.do(http.MethodPost, "/app/admin/import", url.Values{"csrf": {csrf}, "list": {"people"},
		"file_text": {"id,name,stage\nzoe,Zoe,app\nyan,Yan,bad\n"}})
	if bad.status != http.StatusBadRequest || !strings.Contains(bad.body, `<tr data-line="3"><td>3</td><td>yan</td><td>unknown migration stage</td>`) ||
		strings.Contains(bad.body, `id="apply"`) {
		t.Fatalf("bad file: %d\n%s", bad.status, bad.body)
	}
	if _, ok := ad.person("zoe"); ok {
		t.Fatal("a file with a bad row wrote its good row")
	}
	good := "id,name,stage\nzoe,Zoe,app\nben,Ben Lee,both\n"
	check := b.do(http.MethodPost, "/app/admin/import", url.Values{"csrf": {csrf}, "list": {"people"}, "file_text": {good}})
	if check.status != 200 || !strings.Contains(check.body, "1 new, 1 changed, 0 unchanged") || !strings.Contains(check.body, `id="apply"`) {
		t.Fatalf("check: %d\n%s", check.status, check.body)
	}
	if _, ok := ad.person("zoe"); ok {
		t.Fatal("the check wrote the file")
	}
	applied := b.do(http.MethodPost, "/app/admin/import", url.Values{"csrf": {csrf}, "list": {"people"}, "apply": {"1"}, "file_text": {good}})
	if applied.status != 200 || !strings.Contains(applied.body, "Imported 2 record(s).") {
		t.Fatalf("apply: %d\n%s", applied.status, applied.body)
	}
	if z, ok := ad.person("zoe"); !ok || z.Stage != paging.StageApp {
		t.Fatalf("zoe after apply: %+v", z)
	}
}

// Accounts: a new account (password rules checked), unlock, and the
// second factor reset, which ends the user's sessions.
func TestAdminAccounts(t *testing.T) {
	r, ad, b := adminRig(t)
	csrf := b.csrf()
	short := b.do(http.MethodPost, "/app/admin/accounts", url.Values{"csrf": {csrf}, "username": {"kim"}, "person": {"kim"}, "role": {"clinician"}, "password": {"short"}})
	if short.status != http.StatusBadRequest || !strings.Contains(short.body, "at least 12 characters") {
		t.Fatalf("short password: %d", short.status)
	}
	location(t, b.do(http.MethodPost, "/app/admin/accounts", url.Values{"csrf": {csrf}, "username": {"kim"}, "person": {"ben"},
		"role": {"clinician"}, "password": {"a long initial password"}}))
	if len(ad.accounts) != 1 || ad.accounts[0].Person != "ben" || !strings.HasPrefix(ad.accounts[0].PasswordHash, "$argon2id$") {
		t.Fatalf("accounts: %+v", ad.accounts)
	}
	location(t, b.do(http.MethodPost, "/app/admin/accounts/amara/unlock", url.Values{"csrf": {csrf}}))
	if !slices.Equal(ad.unlocked, []string{"amara"}) {
		t.Fatalf("unlocked %q", ad.unlocked)
	}
	phone := r.browser()
	phone.signin("amara", "correct horse battery", "")
	r.acc.mu.Lock()
	r.acc.accounts["amara"].TOTPSecret, r.acc.accounts["amara"].TOTPConfirmed = totpSecret, true
	r.acc.mu.Unlock()
	_, q := location(t, b.do(http.MethodPost, "/app/admin/accounts/amara/totp", url.Values{"csrf": {csrf}}))
	if !strings.Contains(q.Get("done"), "1 session(s) ended") {
		t.Fatalf("reset: %q", q.Get("done"))
	}
	if a, _ := r.acc.Account(context.Background(), "amara"); a.TOTPSecret != "" || a.TOTPConfirmed {
		t.Fatalf("second factor still there: %+v", a)
	}
	if resp := phone.do(http.MethodGet, "/app/", nil); resp.status != http.StatusSeeOther {
		t.Fatalf("her session survived the reset: %d", resp.status)
	}
	page := b.do(http.MethodGet, "/app/admin/accounts", nil)
	if page.status != 200 || !strings.Contains(page.body, `data-user="amara"`) {
		t.Fatalf("accounts page: %d", page.status)
	}
}

// The audit log: filters, pages of 100 newest first, the CSV of the
// filtered view, the verification shown.
func TestAdminAudit(t *testing.T) {
	_, ad, b := adminRig(t)
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.Local)
	for i := range 250 {
		action := "person.update"
		if i%2 == 1 {
			action = "thread.read"
		}
		ad.audit = append(ad.audit, AuditEntry{Seq: uint64(i + 1), Time: t0.Add(time.Duration(i) * time.Minute), Actor: "token:t1",
			Action: action, Object: fmt.Sprintf("person/p%d", i)})
	}
	page := b.do(http.MethodGet, "/app/admin/audit?action=person.update", nil)
	seqs := regexp.MustCompile(`data-seq="(\d+)"`).FindAllStringSubmatch(page.body, -1)
	if page.status != 200 || len(seqs) != 100 || seqs[0][1] != "249" || seqs[99][1] != "51" {
		t.Fatalf("first page: %d, %d entries", page.status, len(seqs))
	}
	older := regexp.MustCompile(`href="([^"]+)" id="older"`).FindStringSubmatch(page.body)
	if older == nil {
		t.Fatal("no link to older entries")
	}
	next := b.do(http.MethodGet, strings.ReplaceAll(older[1], "&amp;", "&"), nil)
	seqs = regexp.MustCompile(`data-seq="(\d+)"`).FindAllStringSubmatch(next.body, -1)
	if len(seqs) != 25 || seqs[0][1] != "49" || strings.Contains(next.body, `id="older"`) {
		t.Fatalf("second page: %d entries from %v", len(seqs), seqs[:1])
	}
	// 09:00 to 09:10 are entries 61 to 70 (objects p60 to p69); p65 and
	// p66 are two of them.
	ranged := b.do(http.MethodGet, "/app/admin/audit?from=2026-03-01T09:00&to=2026-03-01T09:10&object=P6&actor=token", nil)
	seqs = regexp.MustCompile(`data-seq="(\d+)"`).FindAllStringSubmatch(ranged.body, -1)
	if len(seqs) != 10 || seqs[0][1] != "70" || seqs[9][1] != "61" {
		t.Fatalf("time range and object: %v", seqs)
	}
	csv := b.do(http.MethodGet, "/app/admin/audit.csv?action=thread.read&from=2026-03-01T08:00&to=2026-03-01T08:06", nil)
	if csv.status != 200 || !strings.HasPrefix(csv.body, "seq,time,actor,action,object,source,detail\n2,") ||
		!strings.Contains(csv.body, ",token:t1,thread.read,person/p5,,\n") {
		t.Fatalf("CSV: %d\n%s", csv.status, csv.body)
	}
	if n := strings.Count(csv.body, "\n"); n != 4 {
		t.Fatalf("CSV has %d lines, want a header and 3 entries:\n%s", n, csv.body)
	}
	_, q := location(t, b.do(http.MethodPost, "/app/admin/audit/verify", url.Values{"csrf": {b.csrf()}}))
	if q.Get("done") != "The audit chain verified." {
		t.Fatalf("verify: %q", q.Get("done"))
	}
	if p := b.do(http.MethodGet, "/app/admin/audit", nil); !strings.Contains(p.body, "250 entries, seq 1 to 250") {
		t.Fatalf("verification not shown:\n%s", p.body)
	}
}

// On call: the week's shifts from the on-call code, an override added
// in the schedule's zone and shown, a bad one refused with the reason.
func TestAdminOnCall(t *testing.T) {
	_, ad, b := adminRig(t)
	page := b.do(http.MethodGet, "/app/admin/oncall?role=cardio&start=2026-03-02", nil)
	if page.status != 200 || !strings.Contains(page.body, `data-date="2026-03-02"`) || strings.Count(page.body, "00:00–24:00 Amara Okafor") != 7 {
		t.Fatalf("week: %d\n%s", page.status, page.body)
	}
	csrf := b.csrf()
	_, q := location(t, b.do(http.MethodPost, "/app/admin/schedules/cardio/overrides", url.Values{"csrf": {csrf}, "person": {"ben"},
		"replaces": {"amara"}, "from": {"2026-03-03T08:00"}, "until": {"2026-03-03T20:00"}, "back_start": {"2026-03-02"}, "back_view": {"week"}}))
	if q.Get("done") != "Override added." {
		t.Fatalf("override: %v", q)
	}
	if s := ad.schedules.items[0]; len(s.Overrides) != 1 || s.Overrides[0].Kind != oncall.OverrideReplace || !s.Overrides[0].Start.Equal(time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC)) {
		t.Fatalf("schedule after the override: %+v", s.Overrides)
	}
	page = b.do(http.MethodGet, "/app/admin/oncall?role=cardio&start=2026-03-02", nil)
	if !strings.Contains(page.body, "08:00–20:00 Ben Lee") || !strings.Contains(page.body, "00:00–08:00 Amara Okafor") {
		t.Fatalf("the override is not on the calendar:\n%s", page.body)
	}
	_, q = location(t, b.do(http.MethodPost, "/app/admin/schedules/cardio/overrides", url.Values{"csrf": {csrf}, "person": {"ben"},
		"from": {"2026-03-04T08:00"}, "until": {"2026-03-04T07:00"}}))
	if !strings.HasPrefix(q.Get("error"), "Override not added:") || len(ad.schedules.items[0].Overrides) != 1 {
		t.Fatalf("an override ending before it starts: %q", q.Get("error"))
	}
	// A rotation saved from the schedule's form keeps its overrides; the
	// new-schedule form does not replace a schedule of the same ID.
	_, q = location(t, b.do(http.MethodPost, "/app/admin/schedules", url.Values{"csrf": {csrf}, "id": {"cardio"}, "role": {"cardio"},
		"name": {"Cardiology"}, "time_zone": {"UTC"}, "layer_name": {"weekly", ""}, "layer_participants": {"amara, ben", ""},
		"layer_start": {"2026-01-05T08:00", ""}, "layer_n": {"1", "1"}, "layer_unit": {"week", "week"}, "layer_windows": {"", ""}}))
	if s := ad.schedules.items[0]; q.Get("done") != "Saved schedule cardio." || len(s.Overrides) != 1 || !slices.Equal(s.Layers[0].Participants, []string{"amara", "ben"}) ||
		len(s.Layers) != 1 {
		t.Fatalf("rotation saved: %v %+v", q, s)
	}
	_, q = location(t, b.do(http.MethodPost, "/app/admin/schedules", url.Values{"csrf": {csrf}, "new": {"1"}, "id": {"cardio"}, "role": {"cardio"},
		"time_zone": {"UTC"}, "layer_name": {"x"}, "layer_participants": {"ben"}, "layer_start": {"2026-01-05T08:00"}, "layer_n": {"1"},
		"layer_unit": {"day"}, "layer_windows": {""}}))
	if !strings.Contains(q.Get("error"), "already a schedule cardio") || len(ad.schedules.items[0].Layers[0].Participants) != 2 {
		t.Fatalf("a new schedule over an old one: %v", q)
	}
	month := b.do(http.MethodGet, "/app/admin/oncall?role=cardio&view=month&start=2026-03-10", nil)
	if month.status != 200 || strings.Count(month.body, "data-date=") != 42 {
		t.Fatalf("March 2026 starts on a Sunday and needs 6 weeks: %d cells", strings.Count(month.body, "data-date="))
	}
}

// Policies and templates: a step's form read back, the API's placeholder
// check's refusal shown.
func TestAdminPoliciesAndTemplates(t *testing.T) {
	_, ad, b := adminRig(t)
	csrf := b.csrf()
	location(t, b.do(http.MethodPost, "/app/admin/policies", url.Values{"csrf": {csrf}, "id": {"std"}, "name": {"Standard"},
		"repeat": {"1"}, "fallback_after": {"5m"}, "delay": {"0s", "5m", ""}, "targets": {"", "role:cardio", ""},
		"channel_1": {"sms", "pager"}, "team": {"1"}}))
	want := routing.Policy{ID: "std", Name: "Standard", Repeat: 1, FallbackAfter: 5 * time.Minute, Team: true, Steps: []routing.Step{{},
		{Delay: 5 * time.Minute, Targets: []paging.Target{{Kind: paging.TargetRole, ID: "cardio"}}, Channels: []paging.Channel{paging.ChannelSMS, paging.ChannelPager}}}}
	if got := fmt.Sprint(ad.policies.items); got != fmt.Sprint([]routing.Policy{want}) {
		t.Fatalf("policy %s\nwant %s", got, fmt.Sprint(want))
	}
	bad := b.do(http.MethodPost, "/app/admin/policies", url.Values{"csrf": {csrf}, "id": {"x"}, "delay": {"soon"}})
	if bad.status != http.StatusBadRequest || !strings.Contains(bad.body, "is not a duration") {
		t.Fatalf("bad delay: %d", bad.status)
	}
	tpl := b.do(http.MethodPost, "/app/admin/templates", url.Values{"csrf": {csrf}, "name": {"callback"}, "text": {"Call {ext"}})
	if tpl.status != http.StatusBadRequest || !strings.Contains(tpl.body, "a placeholder is not closed") {
		t.Fatalf("bad template: %d", tpl.status)
	}
	location(t, b.do(http.MethodPost, "/app/admin/templates", url.Values{"csrf": {csrf}, "new": {"1"}, "name": {"callback"}, "text": {"Call {ext}"}}))
	// The add form does not replace a template of the same name.
	again := b.do(http.MethodPost, "/app/admin/templates", url.Values{"csrf": {csrf}, "new": {"1"}, "name": {"callback"}, "text": {"Other"}})
	if again.status != http.StatusBadRequest || !strings.Contains(again.body, "callback is taken") {
		t.Fatalf("a second template named callback: %d", again.status)
	}
	location(t, b.do(http.MethodPost, "/app/admin/templates", url.Values{"csrf": {csrf}, "name": {"callback"}, "text": {"Call {ext} now"}}))
	if len(ad.templates.items) != 1 || ad.templates.items[0].Text != "Call {ext} now" {
		t.Fatalf("templates: %+v", ad.templates.items)
	}
}
