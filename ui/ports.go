package ui

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"pagebridge/gateway/paging"
)

// The web app reaches the domain through two ports, which the gateway
// implements over its store, routing engine and threads service: ui
// imports no storage and no engine.

// Errors the ports return (wrapped), besides paging.ErrNotFound and
// paging.ErrInvalid.
var (
	// ErrForbidden: the caller may not do this (not a member of the
	// thread, or not of a role that may).
	ErrForbidden = errors.New("forbidden")
	// ErrTOTPReused: the TOTP code's time step signed in before.
	ErrTOTPReused = errors.New("TOTP code already used")
)

// Web roles, as accounts and API tokens name them.
const (
	RoleAdmin     = "admin"
	RoleIT        = "it"
	RoleOperator  = "operator" // the dispatchers at the switchboard
	RoleClinician = "clinician"
)

// Roles lists every web role.
var Roles = []string{RoleAdmin, RoleIT, RoleOperator, RoleClinician}

// Account is a web account as sign-in needs it.
type Account struct {
	Username string
	// Person is the directory person the account acts as.
	Person string
	Role   string
	// PasswordHash is an encoded argon2id hash.
	PasswordHash string
	// TOTPSecret is the second factor's secret ("" for none); confirmed
	// once the user proved it with a code.
	TOTPSecret    string
	TOTPConfirmed bool
	LockedUntil   time.Time
}

// LogValue leaves the secrets out.
func (a Account) LogValue() slog.Value {
	return slog.GroupValue(slog.String("username", a.Username), slog.String("role", a.Role))
}

// Session is a signed-in browser, stored by the hash of its token.
type Session struct {
	ID       paging.ID
	Username string
	Person   string
	Role     string
	MFA      bool
	// Enrol: may only enrol a second factor (required for the role, not
	// enrolled yet).
	Enrol    bool
	Created  time.Time
	LastSeen time.Time
	CSRF     string
	Source   string
}

// LogValue leaves the CSRF token out.
func (s Session) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", s.ID.String()), slog.String("username", s.Username))
}

// Accounts is the sign-in store. Errors: paging.ErrNotFound for an
// unknown account or session; ErrTOTPReused from CreateSession.
type Accounts interface {
	Account(ctx context.Context, username string) (Account, error)
	// Usernames lists every account, for the administrator's page.
	Usernames(ctx context.Context) ([]Account, error)
	SetTOTP(ctx context.Context, username, secret string, confirmed bool, by paging.AuditEvent) error
	// RecordSignInFailure counts a failure; the one that makes
	// maxFailures locks the account until at+lockFor. It returns when
	// the account is locked until (zero: not locked).
	RecordSignInFailure(ctx context.Context, username, reason string, at time.Time, maxFailures int, lockFor time.Duration, by paging.AuditEvent) (time.Time, error)
	CreateSession(ctx context.Context, tokenHash [32]byte, s Session, totpStep int64, by paging.AuditEvent) error
	Session(ctx context.Context, tokenHash [32]byte) (Session, error)
	TouchSession(ctx context.Context, tokenHash [32]byte, at time.Time) error
	EndSession(ctx context.Context, tokenHash [32]byte, reason string, by paging.AuditEvent) (Session, error)
	EndSessionsOf(ctx context.Context, username, reason string, by paging.AuditEvent) ([]Session, error)
	SessionsOf(ctx context.Context, username string) ([]Session, error)
	PruneSessions(ctx context.Context, expired func(Session) (string, bool), by paging.AuditEvent) ([]Session, error)
	// Audit records what has no store write of its own (a sign-in by an
	// unknown username, a throttled attempt).
	Audit(ctx context.Context, at time.Time, ev paging.AuditEvent) error
}

// Caller is who acts in a messaging call.
type Caller struct {
	Person string
	// Actor is the audit actor ("web:<session> person:<id>").
	Actor  string
	Source string
}

// InboxEntry is one thread of an inbox. Nothing in it is PHI.
type InboxEntry struct {
	ID           paging.ID       `json:"id"`
	Kind         string          `json:"kind"`
	Label        string          `json:"label"`
	Priority     paging.Priority `json:"priority"`
	Unread       int             `json:"unread"`
	LastActivity time.Time       `json:"last_activity"`
	// State is a page's routing state (active, acknowledged, fallback,
	// expired); empty for staff threads.
	State string `json:"state,omitempty"`
}

// StateTime is when a receipt reached a state.
type StateTime struct {
	State paging.State `json:"state"`
	At    time.Time    `json:"at"`
}

// Receipt is how far a message came with one recipient on one channel:
// a text message's receipt, or one attempt of a page's delivery.
type Receipt struct {
	Person  string         `json:"person"`
	Name    string         `json:"name"`
	Channel paging.Channel `json:"channel"`
	State   paging.State   `json:"state"`
	// Times are the states reached, in order, with their times.
	Times []StateTime `json:"times"`
	Note  string      `json:"note,omitempty"`
}

// Message is a thread message as a member reads it.
type Message struct {
	ID         paging.ID  `json:"id"`
	Author     string     `json:"author,omitempty"`
	AuthorName string     `json:"author_name,omitempty"`
	At         time.Time  `json:"at"`
	Text       paging.PHI `json:"-"`
	// Page: the bridged page the thread is about (its source in
	// AuthorName).
	Page     bool      `json:"page,omitempty"`
	Receipts []Receipt `json:"receipts"`
	// Attachments are the message's files (attach.go).
	Attachments []Attachment `json:"attachments,omitempty"`
}

// Member is a person in a thread.
type Member struct {
	Person string `json:"person"`
	Name   string `json:"name"`
	Note   string `json:"note,omitempty"`
}

// ThreadView is a thread with its subject and messages, read by a member
// (an audited read that marks it read).
type ThreadView struct {
	ID       paging.ID       `json:"id"`
	Kind     string          `json:"kind"`
	Label    string          `json:"label"`
	Priority paging.Priority `json:"priority"`
	Subject  paging.PHI      `json:"-"`
	Members  []Member        `json:"members"`
	Messages []Message       `json:"-"`
	// State is a page's routing state; AckedBy and AckedAt who
	// acknowledged it and when.
	State   string    `json:"state,omitempty"`
	AckedBy string    `json:"acked_by,omitempty"`
	AckedAt time.Time `json:"acked_at,omitzero"`
	// CanAck: the caller may acknowledge the page now.
	CanAck bool `json:"can_ack"`
}

// MessageReceipts are one message's receipts (no text).
type MessageReceipts struct {
	Message  paging.ID `json:"message"`
	Receipts []Receipt `json:"receipts"`
}

// ThreadReceipts is what a live update of receipts carries: the page's
// state and every message's receipts, no PHI.
type ThreadReceipts struct {
	State    string            `json:"state,omitempty"`
	AckedBy  string            `json:"acked_by,omitempty"`
	CanAck   bool              `json:"can_ack"`
	Messages []MessageReceipts `json:"messages"`
}

// Draft is a message that opens a thread.
type Draft struct {
	To       paging.Target
	Priority paging.Priority
	Subject  paging.PHI
	Text     paging.PHI
	// Files are attached to the first message (the text may be empty
	// then); only with a Files port.
	Files []Upload
}

// Named is a person, role or group to address.
type Named struct {
	ID, Name string
}

// Template is a message template, offered in compose.
type Template struct {
	Name, Text, Description string
}

// Directory is what compose offers.
type Directory struct {
	People, Roles, Groups []Named
	Templates             []Template
}

// Messaging is the threads side of the web app. Errors: ErrForbidden for
// a caller who is not a member, paging.ErrNotFound, paging.ErrInvalid (its
// text is shown to the user and holds no PHI).
type Messaging interface {
	Inbox(ctx context.Context, person string, limit int) ([]InboxEntry, error)
	InboxEntry(ctx context.Context, person string, thread paging.ID) (InboxEntry, error)
	// Thread reads a thread as a member (audited; marks it read).
	Thread(ctx context.Context, as Caller, thread paging.ID) (ThreadView, error)
	// Receipts reads a thread's receipts and page state, no PHI (members
	// only; not audited).
	Receipts(ctx context.Context, as Caller, thread paging.ID) (ThreadReceipts, error)
	// Compose opens a thread and returns its ID.
	Compose(ctx context.Context, as Caller, d Draft) (paging.ID, error)
	Reply(ctx context.Context, as Caller, thread paging.ID, text paging.PHI) error
	// Acknowledge acknowledges a page thread's page, or a message of a
	// staff thread.
	Acknowledge(ctx context.Context, as Caller, thread, message paging.ID) error
	// Received reports that a live session of the caller received the
	// message: "delivered" on the app.
	Received(ctx context.Context, as Caller, thread, message paging.ID) error
	Directory(ctx context.Context) (Directory, error)
	// Members returns the people of a thread (for a change the engine
	// reported, which names only the page); paging.ErrNotFound if the
	// page has no thread.
	Members(ctx context.Context, thread paging.ID) ([]string, error)
}
