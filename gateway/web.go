package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"pagebridge/gateway/engine"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/routing"
	"pagebridge/gateway/threads"
	"pagebridge/storage"
	"pagebridge/ui"
)

// The web app's ports, implemented over the store, the engine and the
// threads service; and the observers that feed its live updates.

// newWeb builds the web app from the [web] config.
func (m *Main) newWeb() (*ui.Web, error) {
	wc := m.cfg.Web
	auth, err := ui.NewAuth(webAccounts{m.store}, ui.Policy{
		IdleTimeout: wc.IdleTimeout.Duration, Lifetime: wc.SessionLifetime.Duration, MFARoles: wc.MFARoles,
		LockoutAfter: wc.LockoutAfter, LockoutFor: wc.LockoutDuration.Duration,
		AddressAttempts: wc.AttemptsPerAddress, AccountAttempts: wc.AttemptsPerAccount,
	}, nil)
	if err != nil {
		return nil, err
	}
	w, err := ui.NewWeb(ui.WebOptions{Auth: auth, Messaging: webMessaging{m}, Dispatch: webDispatch{m}, Profiles: webProfiles{m}, Files: webFiles{webMessaging{m}},
		Admin:     newWebAdmin(m.store),
		MaxUpload: m.cfg.Threads.AttachmentMaxSize + 64<<10, Logger: m.log})
	if err != nil {
		return nil, err
	}
	if m.bus != nil {
		// The hardware page hears of every agent status.
		m.bus.OnStatus(func(string) { w.HardwareChanged() })
	}
	return w, nil
}

// routeChanged is the engine's observer: the open pages of the page's
// thread hear of it (the hub looks its members up).
func (m *Main) routeChanged(r engine.Route, ev engine.Event) {
	if m.web == nil {
		return
	}
	m.web.PageChanged(r.Message, r.State, string(ev))
	switch ev {
	case engine.EventStep:
		m.web.ThreadChanged(r.Message, nil, r.Message, "", string(ev), false)
	case engine.EventResult, engine.EventDelivered:
		m.web.ThreadChanged(r.Message, nil, paging.ID{}, "", string(ev), true)
	default:
		m.web.ThreadChanged(r.Message, nil, paging.ID{}, "", string(ev), false)
	}
}

// threadChanged is the threads service's observer.
func (m *Main) threadChanged(c threads.Change) {
	if m.web == nil {
		return
	}
	m.web.ThreadChanged(c.Thread, c.Members, c.Message, c.By, string(c.Kind), c.Kind == threads.ChangeReceipt)
}

// webAccounts is ui.Accounts over the store: an account's record and its
// sign-in state, and sessions.
type webAccounts struct{ st *storage.Store }

var _ ui.Accounts = webAccounts{}

// webRole is the account's web role: the first of its roles that is one.
func webRole(a storage.Account) string {
	for _, r := range a.Roles {
		if slices.Contains(ui.Roles, r) {
			return r
		}
	}
	return ""
}

func (w webAccounts) Account(ctx context.Context, username string) (ui.Account, error) {
	a, err := w.st.Account(ctx, username)
	if err != nil {
		return ui.Account{}, err
	}
	sec, err := w.st.AccountSecurity(ctx, username)
	if err != nil {
		return ui.Account{}, err
	}
	out := ui.Account{Username: a.Username, Person: a.PersonID, Role: webRole(a), PasswordHash: a.PasswordHash,
		TOTPSecret: sec.TOTPSecret, TOTPConfirmed: sec.TOTPConfirmed, LockedUntil: sec.LockedUntil}
	if out.Role == "" || out.Person == "" {
		// Not a web account (a service account): it cannot sign in here.
		return ui.Account{}, fmt.Errorf("account %s has no web role or person: %w", username, paging.ErrNotFound)
	}
	return out, nil
}

func (w webAccounts) Usernames(ctx context.Context) ([]ui.Account, error) {
	as, err := w.st.Accounts(ctx)
	if err != nil {
		return nil, err
	}
	var out []ui.Account
	for _, a := range as {
		sec, err := w.st.AccountSecurity(ctx, a.Username)
		if err != nil {
			return nil, err
		}
		out = append(out, ui.Account{Username: a.Username, Person: a.PersonID, Role: webRole(a), LockedUntil: sec.LockedUntil})
	}
	return out, nil
}

func (w webAccounts) SetTOTP(ctx context.Context, username, secret string, confirmed bool, by paging.AuditEvent) error {
	return w.st.SetTOTP(ctx, username, secret, confirmed, by)
}

func (w webAccounts) RecordSignInFailure(ctx context.Context, username, reason string, at time.Time, maxFailures int, lockFor time.Duration, by paging.AuditEvent) (time.Time, error) {
	sec, err := w.st.RecordSignInFailure(ctx, username, reason, at, maxFailures, lockFor, by)
	return sec.LockedUntil, err
}

func toStorageSession(s ui.Session) storage.Session {
	return storage.Session{ID: s.ID, Username: s.Username, Person: s.Person, Role: s.Role, MFA: s.MFA, Enrol: s.Enrol,
		Created: s.Created, LastSeen: s.LastSeen, CSRF: s.CSRF, Source: s.Source}
}

func toUISession(s storage.Session) ui.Session {
	return ui.Session{ID: s.ID, Username: s.Username, Person: s.Person, Role: s.Role, MFA: s.MFA, Enrol: s.Enrol,
		Created: s.Created, LastSeen: s.LastSeen, CSRF: s.CSRF, Source: s.Source}
}

func toUISessions(ss []storage.Session, err error) ([]ui.Session, error) {
	out := make([]ui.Session, len(ss))
	for i, s := range ss {
		out[i] = toUISession(s)
	}
	return out, err
}

func (w webAccounts) CreateSession(ctx context.Context, h [32]byte, s ui.Session, step int64, by paging.AuditEvent) error {
	err := w.st.CreateSession(ctx, h, toStorageSession(s), step, by)
	if errors.Is(err, storage.ErrTOTPReused) {
		return fmt.Errorf("%w (%v)", ui.ErrTOTPReused, err)
	}
	return err
}

func (w webAccounts) Session(ctx context.Context, h [32]byte) (ui.Session, error) {
	s, err := w.st.Session(ctx, h)
	return toUISession(s), err
}

func (w webAccounts) TouchSession(ctx context.Context, h [32]byte, at time.Time) error {
	return w.st.TouchSession(ctx, h, at)
}

func (w webAccounts) EndSession(ctx context.Context, h [32]byte, reason string, by paging.AuditEvent) (ui.Session, error) {
	s, err := w.st.EndSession(ctx, h, reason, by)
	return toUISession(s), err
}

func (w webAccounts) EndSessionsOf(ctx context.Context, username, reason string, by paging.AuditEvent) ([]ui.Session, error) {
	return toUISessions(w.st.EndSessionsOf(ctx, username, reason, by))
}

func (w webAccounts) SessionsOf(ctx context.Context, username string) ([]ui.Session, error) {
	return toUISessions(w.st.SessionsOf(ctx, username))
}

func (w webAccounts) PruneSessions(ctx context.Context, expired func(ui.Session) (string, bool), by paging.AuditEvent) ([]ui.Session, error) {
	return toUISessions(w.st.PruneSessions(ctx, func(s storage.Session) (string, bool) { return expired(toUISession(s)) }, by))
}

func (w webAccounts) Audit(ctx context.Context, at time.Time, ev paging.AuditEvent) error {
	return w.st.Audit(ctx, at, ev)
}

// webMessaging is ui.Messaging over the threads service (staff threads,
// reads, receipts) and the engine (a page's route: its deliveries, its
// acknowledgement, its app delivery).
type webMessaging struct{ m *Main }

var _ ui.Messaging = webMessaging{}

func caller(c ui.Caller) threads.Caller {
	return threads.Caller{Person: c.Person, Actor: c.Actor, Source: c.Source}
}

// webErr maps the services' refusals to the port's.
func webErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, threads.ErrForbidden), errors.Is(err, storage.ErrNotMember):
		return fmt.Errorf("%w: %v", ui.ErrForbidden, err)
	case errors.Is(err, threads.ErrNobody):
		return fmt.Errorf("%w: nobody could be reached now (nobody on call, or everyone held back)", paging.ErrInvalid)
	}
	return err
}

// routeState is a page thread's route, if it has one.
func (w webMessaging) route(ctx context.Context, t storage.Thread) (*engine.Route, error) {
	if t.Kind != storage.ThreadPage {
		return nil, nil
	}
	r, err := w.m.engine.Route(ctx, t.ID)
	if errors.Is(err, paging.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

func (w webMessaging) entry(ctx context.Context, e storage.InboxEntry) (ui.InboxEntry, error) {
	out := ui.InboxEntry{ID: e.ID, Kind: string(e.Kind), Label: e.Label, Priority: e.Priority, Unread: e.Unread, LastActivity: e.LastActivity}
	r, err := w.route(ctx, e.Thread)
	if r != nil {
		out.State = r.State
	}
	return out, err
}

func (w webMessaging) Inbox(ctx context.Context, person string, limit int) ([]ui.InboxEntry, error) {
	es, err := w.m.threads.Inbox(ctx, person, limit, storage.InboxCursor{})
	if err != nil {
		return nil, err
	}
	out := make([]ui.InboxEntry, 0, len(es))
	for _, e := range es {
		ue, err := w.entry(ctx, e)
		if err != nil {
			return nil, err
		}
		out = append(out, ue)
	}
	return out, nil
}

func (w webMessaging) InboxEntry(ctx context.Context, person string, thread paging.ID) (ui.InboxEntry, error) {
	e, err := w.m.store.InboxEntryOf(ctx, thread, person)
	if err != nil {
		return ui.InboxEntry{}, webErr(err)
	}
	return w.entry(ctx, e)
}

func (w webMessaging) Members(ctx context.Context, thread paging.ID) ([]string, error) {
	t, err := w.m.store.Thread(ctx, thread)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(t.Members))
	for i, mb := range t.Members {
		out[i] = mb.Person
	}
	return out, nil
}

// names resolves person IDs to names through the engine's directory.
type names struct{ dir routing.Directory }

func (w webMessaging) names(ctx context.Context) names {
	dir, err := w.m.engine.Directory(ctx)
	if err != nil {
		return names{}
	}
	return names{dir}
}

func (n names) of(person string) string {
	if n.dir != nil {
		if p, ok := n.dir.Person(person); ok && p.Name != "" {
			return p.Name
		}
	}
	return person
}

// textReceipts are a text message's receipts as the web shows them.
func textReceipts(n names, rs []storage.Receipt) []ui.Receipt {
	out := make([]ui.Receipt, 0, len(rs))
	for _, r := range rs {
		ur := ui.Receipt{Person: r.Person, Name: n.of(r.Person), Channel: r.Channel, State: r.State}
		for _, st := range []ui.StateTime{{State: paging.StateSent, At: r.Sent}, {State: paging.StateDelivered, At: r.Delivered},
			{State: paging.StateRead, At: r.Read}, {State: paging.StateAcknowledged, At: r.Acknowledged}} {
			if !st.At.IsZero() {
				ur.Times = append(ur.Times, st)
			}
		}
		out = append(out, ur)
	}
	return out
}

// pageReceipts are a page's receipts: one per attempt of each delivery,
// with its state and when it got there.
func pageReceipts(n names, r *engine.Route) []ui.Receipt {
	var out []ui.Receipt
	for _, d := range r.Deliveries {
		for _, a := range d.Attempts {
			out = append(out, ui.Receipt{Person: d.PersonID, Name: n.of(d.PersonID), Channel: a.Channel, State: a.State,
				Times: []ui.StateTime{{State: a.State, At: a.Updated}}, Note: a.Note})
		}
	}
	return out
}

// pageState fills a thread's page fields from its route.
func pageState(r *engine.Route, person string, member bool) (state, ackedBy string, canAck bool) {
	if r == nil {
		return "", "", false
	}
	if r.Acked != nil {
		ackedBy = r.Acked.Person
	}
	canAck = member && (r.State == engine.StateActive || r.State == engine.StateFallback)
	return r.State, ackedBy, canAck
}

func (w webMessaging) Thread(ctx context.Context, as ui.Caller, thread paging.ID) (ui.ThreadView, error) {
	v, err := w.m.threads.Read(ctx, caller(as), thread, paging.ChannelApp)
	if err != nil {
		return ui.ThreadView{}, webErr(err)
	}
	r, err := w.route(ctx, v.Thread)
	if err != nil {
		return ui.ThreadView{}, err
	}
	if r != nil && v.IsMember(as.Person) {
		// Opening the page's thread is receiving it, whether or not a
		// socket carried its event before.
		if _, err := w.m.engine.AppDelivered(ctx, thread, as.Person); err != nil {
			return ui.ThreadView{}, err
		}
		if nr, err := w.route(ctx, v.Thread); err == nil && nr != nil {
			r = nr
		}
	}
	n := w.names(ctx)
	out := ui.ThreadView{ID: v.ID, Kind: string(v.Kind), Label: v.Label, Priority: v.Priority, Subject: v.Subject}
	out.State, out.AckedBy, out.CanAck = pageState(r, as.Person, v.IsMember(as.Person))
	if r != nil && r.Acked != nil {
		out.AckedBy, out.AckedAt = n.of(r.Acked.Person), r.Acked.At
	}
	for _, mb := range v.Members {
		out.Members = append(out.Members, ui.Member{Person: mb.Person, Name: n.of(mb.Person), Note: mb.Note})
	}
	for _, msg := range v.Messages {
		um := ui.Message{ID: msg.ID, Author: msg.Author, AuthorName: n.of(msg.Author), At: msg.At, Text: msg.Text}
		um.Attachments = attachments(thread, msg)
		if msg.Kind == storage.PostPage {
			um.Page, um.AuthorName = true, "page"
			if r != nil {
				um.AuthorName = "page from " + r.Source + " to pager " + r.PagerID
				um.Receipts = pageReceipts(n, r)
			}
		} else {
			um.Receipts = textReceipts(n, msg.Receipts)
		}
		out.Messages = append(out.Messages, um)
	}
	return out, nil
}

// member reads a thread and checks that as is a member.
func (w webMessaging) member(ctx context.Context, as ui.Caller, thread paging.ID) (storage.Thread, error) {
	t, err := w.m.store.Thread(ctx, thread)
	if err != nil {
		return t, err
	}
	if !t.IsMember(as.Person) {
		return t, fmt.Errorf("%w: %s is not a member of thread %s", ui.ErrForbidden, as.Person, thread)
	}
	return t, nil
}

func (w webMessaging) Receipts(ctx context.Context, as ui.Caller, thread paging.ID) (ui.ThreadReceipts, error) {
	t, err := w.member(ctx, as, thread)
	if err != nil {
		return ui.ThreadReceipts{}, err
	}
	r, err := w.route(ctx, t)
	if err != nil {
		return ui.ThreadReceipts{}, err
	}
	mrs, err := w.m.store.ThreadReceipts(ctx, thread)
	if err != nil {
		return ui.ThreadReceipts{}, err
	}
	n := w.names(ctx)
	var out ui.ThreadReceipts
	out.State, out.AckedBy, out.CanAck = pageState(r, as.Person, true)
	if out.AckedBy != "" {
		out.AckedBy = n.of(out.AckedBy)
	}
	for _, mr := range mrs {
		um := ui.MessageReceipts{Message: mr.Message, Receipts: textReceipts(n, mr.Receipts)}
		if mr.Kind == storage.PostPage {
			um.Receipts = nil
			if r != nil {
				um.Receipts = pageReceipts(n, r)
			}
		}
		out.Messages = append(out.Messages, um)
	}
	return out, nil
}

func (w webMessaging) Compose(ctx context.Context, as ui.Caller, d ui.Draft) (paging.ID, error) {
	c, err := w.m.threads.Compose(ctx, caller(as), threads.Draft{To: d.To, Priority: d.Priority, Subject: d.Subject,
		Content: threads.Content{Text: d.Text, Files: files(d.Files)}})
	if err != nil {
		return paging.ID{}, webErr(err)
	}
	return c.Thread.ID, nil
}

func (w webMessaging) Reply(ctx context.Context, as ui.Caller, thread paging.ID, text paging.PHI) error {
	_, err := w.m.threads.Reply(ctx, caller(as), thread, threads.Content{Text: text})
	return webErr(err)
}

// isPage reports whether message is the page of page thread t.
func isPage(t storage.Thread, message paging.ID) bool {
	return t.Kind == storage.ThreadPage && message == t.ID
}

func (w webMessaging) Acknowledge(ctx context.Context, as ui.Caller, thread, message paging.ID) error {
	t, err := w.member(ctx, as, thread)
	if err != nil {
		return err
	}
	if isPage(t, message) {
		_, err := w.m.engine.Acknowledge(ctx, message, as.Person, paging.ChannelApp)
		return err
	}
	return webErr(w.m.threads.Receipt(ctx, caller(as), thread, message, paging.StateAcknowledged, paging.ChannelApp))
}

func (w webMessaging) Received(ctx context.Context, as ui.Caller, thread, message paging.ID) error {
	t, err := w.member(ctx, as, thread)
	if err != nil {
		return err
	}
	if isPage(t, message) {
		_, err := w.m.engine.AppDelivered(ctx, message, as.Person)
		return err
	}
	return webErr(w.m.threads.Receipt(ctx, caller(as), thread, message, paging.StateDelivered, paging.ChannelApp))
}

func (w webMessaging) Directory(ctx context.Context) (ui.Directory, error) {
	var out ui.Directory
	people, err := w.m.store.People(ctx)
	if err != nil {
		return out, err
	}
	for _, p := range people {
		out.People = append(out.People, ui.Named{ID: p.ID, Name: p.Name})
	}
	roles, err := w.m.store.Roles(ctx)
	if err != nil {
		return out, err
	}
	for _, r := range roles {
		out.Roles = append(out.Roles, ui.Named{ID: r.ID, Name: r.Name})
	}
	groups, err := w.m.store.Groups(ctx)
	if err != nil {
		return out, err
	}
	for _, g := range groups {
		out.Groups = append(out.Groups, ui.Named{ID: g.ID, Name: g.Name})
	}
	tpls, err := w.m.store.Templates(ctx)
	if err != nil {
		return out, err
	}
	for _, t := range tpls {
		out.Templates = append(out.Templates, ui.Template{Name: t.Name, Text: t.Text, Description: t.Description})
	}
	return out, nil
}
