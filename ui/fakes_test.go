package ui

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"pagebridge/gateway/paging"
)

// testClock is moved by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// memAccounts is the Accounts port in memory, with the store's rules
// (lockout at N, a TOTP step once, sessions by token hash).
type memAccounts struct {
	mu       sync.Mutex
	accounts map[string]*memAccount
	sessions map[[32]byte]Session
	audit    []paging.AuditEvent
}

type memAccount struct {
	Account
	failed   int
	lastStep int64
}

func newMemAccounts() *memAccounts {
	return &memAccounts{accounts: map[string]*memAccount{}, sessions: map[[32]byte]Session{}}
}

// testParams keep argon2id fast in tests.
var testParams = &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func (m *memAccounts) add(t *testing.T, username, role, password, totpSecret string) {
	t.Helper()
	h, err := argon2id.CreateHash(password, testParams)
	if err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.accounts[username] = &memAccount{Account: Account{Username: username, Person: username, Role: role, PasswordHash: h,
		TOTPSecret: totpSecret, TOTPConfirmed: totpSecret != ""}}
}

func (m *memAccounts) actions() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, e := range m.audit {
		out = append(out, e.Action)
	}
	return out
}

func (m *memAccounts) Account(_ context.Context, username string) (Account, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accounts[username]
	if !ok {
		return Account{}, fmt.Errorf("account %s: %w", username, paging.ErrNotFound)
	}
	return a.Account, nil
}

func (m *memAccounts) Usernames(context.Context) ([]Account, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Account
	for _, a := range m.accounts {
		out = append(out, a.Account)
	}
	slices.SortFunc(out, func(a, b Account) int { return compareStrings(a.Username, b.Username) })
	return out, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (m *memAccounts) SetTOTP(_ context.Context, username, secret string, confirmed bool, by paging.AuditEvent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accounts[username]
	if !ok {
		return paging.ErrNotFound
	}
	a.TOTPSecret, a.TOTPConfirmed = secret, confirmed
	by.Action = "account.totp"
	m.audit = append(m.audit, by)
	return nil
}

func (m *memAccounts) RecordSignInFailure(_ context.Context, username, reason string, at time.Time, max int, lockFor time.Duration, by paging.AuditEvent) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accounts[username]
	if !ok {
		return time.Time{}, paging.ErrNotFound
	}
	a.failed++
	by.Action, by.Detail = "account.signin-failed", reason
	if a.failed >= max {
		a.LockedUntil, a.failed = at.Add(lockFor), 0
		by.Action = "account.locked"
	}
	m.audit = append(m.audit, by)
	return a.LockedUntil, nil
}

func (m *memAccounts) CreateSession(_ context.Context, h [32]byte, s Session, step int64, by paging.AuditEvent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accounts[s.Username]
	if !ok {
		return paging.ErrNotFound
	}
	if step > 0 {
		if step <= a.lastStep {
			return ErrTOTPReused
		}
		a.lastStep = step
	}
	a.failed = 0
	m.sessions[h] = s
	by.Action = "session.start"
	m.audit = append(m.audit, by)
	return nil
}

func (m *memAccounts) Session(_ context.Context, h [32]byte) (Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[h]
	if !ok {
		return Session{}, paging.ErrNotFound
	}
	return s, nil
}

func (m *memAccounts) TouchSession(_ context.Context, h [32]byte, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[h]
	if !ok {
		return paging.ErrNotFound
	}
	if at.After(s.LastSeen) {
		s.LastSeen = at
		m.sessions[h] = s
	}
	return nil
}

func (m *memAccounts) EndSession(_ context.Context, h [32]byte, reason string, by paging.AuditEvent) (Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[h]
	if !ok {
		return Session{}, paging.ErrNotFound
	}
	delete(m.sessions, h)
	by.Action, by.Detail = "session.end", reason
	m.audit = append(m.audit, by)
	return s, nil
}

func (m *memAccounts) EndSessionsOf(_ context.Context, username, reason string, by paging.AuditEvent) ([]Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Session
	for h, s := range m.sessions {
		if s.Username == username {
			delete(m.sessions, h)
			out = append(out, s)
			ev := by
			ev.Action, ev.Detail = "session.end", reason
			m.audit = append(m.audit, ev)
		}
	}
	return out, nil
}

func (m *memAccounts) SessionsOf(_ context.Context, username string) ([]Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Session
	for _, s := range m.sessions {
		if s.Username == username {
			out = append(out, s)
		}
	}
	return out, nil
}

func (m *memAccounts) PruneSessions(_ context.Context, expired func(Session) (string, bool), by paging.AuditEvent) ([]Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Session
	for h, s := range m.sessions {
		if reason, over := expired(s); over {
			delete(m.sessions, h)
			out = append(out, s)
			ev := by
			ev.Action, ev.Detail = "session.end", reason
			m.audit = append(m.audit, ev)
		}
	}
	return out, nil
}

func (m *memAccounts) Audit(_ context.Context, _ time.Time, ev paging.AuditEvent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.audit = append(m.audit, ev)
	return nil
}

// memMessaging is the Messaging port over one thread per ID in memory.
type memMessaging struct {
	mu       sync.Mutex
	threads  map[paging.ID]*memThread
	received []string // "person thread message"
	acked    []string
}

type memThread struct {
	view    ThreadView
	members []string
}

func newMemMessaging() *memMessaging { return &memMessaging{threads: map[paging.ID]*memThread{}} }

func (m *memMessaging) addThread(label string, text string, members ...string) paging.ID {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := paging.NewID(time.Now())
	m.threads[id] = &memThread{members: members, view: ThreadView{ID: id, Kind: "page", Label: label, Priority: paging.PriorityHigh,
		State: "active", CanAck: true,
		Messages: []Message{{ID: id, AuthorName: "4W nurse call", At: time.Now(), Text: paging.NewPHI(text), Page: true,
			Receipts: []Receipt{{Person: members[0], Name: members[0], Channel: paging.ChannelApp, State: paging.StateSent}}}}}}
	return id
}

func (m *memMessaging) thread(as Caller, id paging.ID) (*memThread, error) {
	t, ok := m.threads[id]
	if !ok {
		return nil, paging.ErrNotFound
	}
	if !slices.Contains(t.members, as.Person) {
		return nil, ErrForbidden
	}
	return t, nil
}

func (m *memMessaging) entry(t *memThread) InboxEntry {
	return InboxEntry{ID: t.view.ID, Kind: t.view.Kind, Label: t.view.Label, Priority: t.view.Priority, Unread: 1, State: t.view.State}
}

func (m *memMessaging) Inbox(_ context.Context, person string, _ int) ([]InboxEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []InboxEntry
	for _, t := range m.threads {
		if slices.Contains(t.members, person) {
			out = append(out, m.entry(t))
		}
	}
	return out, nil
}

func (m *memMessaging) InboxEntry(_ context.Context, person string, id paging.ID) (InboxEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, err := m.thread(Caller{Person: person}, id)
	if err != nil {
		return InboxEntry{}, err
	}
	return m.entry(t), nil
}

func (m *memMessaging) Thread(_ context.Context, as Caller, id paging.ID) (ThreadView, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, err := m.thread(as, id)
	if err != nil {
		return ThreadView{}, err
	}
	return t.view, nil
}

func (m *memMessaging) Receipts(_ context.Context, as Caller, id paging.ID) (ThreadReceipts, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, err := m.thread(as, id)
	if err != nil {
		return ThreadReceipts{}, err
	}
	return ThreadReceipts{State: t.view.State, CanAck: t.view.CanAck}, nil
}

func (m *memMessaging) Compose(_ context.Context, as Caller, d Draft) (paging.ID, error) {
	id := m.addThread("direct", d.Text.Reveal(), as.Person, d.To.ID)
	return id, nil
}

func (m *memMessaging) Reply(_ context.Context, as Caller, id paging.ID, text paging.PHI) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, err := m.thread(as, id)
	if err != nil {
		return err
	}
	t.view.Messages = append(t.view.Messages, Message{ID: paging.NewID(time.Now()), Author: as.Person, AuthorName: as.Person, At: time.Now(), Text: text})
	return nil
}

func (m *memMessaging) Acknowledge(_ context.Context, as Caller, id, msg paging.ID) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, err := m.thread(as, id)
	if err != nil {
		return err
	}
	t.view.State, t.view.CanAck, t.view.AckedBy = "acknowledged", false, as.Person
	m.acked = append(m.acked, as.Person+" "+id.String())
	return nil
}

func (m *memMessaging) Received(_ context.Context, as Caller, id, msg paging.ID) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.thread(as, id); err != nil {
		return err
	}
	m.received = append(m.received, as.Person+" "+id.String()+" "+msg.String())
	return nil
}

func (m *memMessaging) receivedList() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.received)
}

func (m *memMessaging) Members(_ context.Context, id paging.ID) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.threads[id]
	if !ok {
		return nil, paging.ErrNotFound
	}
	return slices.Clone(t.members), nil
}

func (m *memMessaging) Directory(context.Context) (Directory, error) {
	return Directory{People: []Named{{ID: "amara", Name: "Dr Amara"}}, Roles: []Named{{ID: "cardio", Name: "Cardiology"}},
		Templates: []Template{{Name: "call", Text: "Please call {caller}"}}}, nil
}
