package ui

import (
	"context"
	"errors"
	"time"

	"pagebridge/gateway/oncall"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/routing"
)

// ErrInUse: a delete refused because the record is still named elsewhere
// (a person by a schedule, a policy by a role or pager ID); the port
// wraps it with what names it.
var ErrInUse = errors.New("still in use")

// CSV lists the administration imports and exports.
const (
	ListPeople   = "people"
	ListPagerIDs = "pagerids"
)

// ImportRow is a bad row of an imported file.
type ImportRow struct {
	Line   int
	ID     string
	Reason string
}

// ImportChange is what a good row of a file does to the directory: "new",
// "changed" or "unchanged".
type ImportChange struct {
	Line int
	ID   string
	What string
}

// ImportReport is an import's outcome: bad rows (nothing written), or
// what every row changes; Imported counts the records written (0 for a
// dry run).
type ImportReport struct {
	Rows     []ImportRow
	Changes  []ImportChange
	Imported int
}

// NewAccount is a web account an administrator creates.
type NewAccount struct {
	Username, Person, Role string
	// PasswordHash is the initial password's argon2id hash; the user must
	// change it at the first sign-in.
	PasswordHash string
}

// AuditEntry is one entry of the audit chain (no PHI is ever written
// there).
type AuditEntry struct {
	Seq                                   uint64
	Time                                  time.Time
	Actor, Action, Object, Source, Detail string
}

// AuditState is what a verification of the whole chain found.
type AuditState struct {
	// OK: every entry's link, hash and MAC and the signed head check.
	OK bool
	// Problem is the first place that failed (when not OK).
	Problem      string
	First, Last  uint64
	Entries      uint64
	HeadHash     string
	PrunedBefore uint64
	Checked      time.Time
}

// Records are one kind of configuration record. Put checks a record as
// the JSON API does and writes it, audited as by; Delete refuses
// (ErrInUse) a record still named elsewhere.
type Records[T any] interface {
	List(ctx context.Context) ([]T, error)
	Put(ctx context.Context, v T, by paging.AuditEvent) error
	Delete(ctx context.Context, id string, by paging.AuditEvent) error
}

// Admin is the administration side of the web app: the directory, on
// call, escalation policies, templates, accounts and the audit log. The
// gateway implements it with the JSON API's own checks, so a record the
// API would refuse is refused here too. Every write is audited by the
// store as by. Errors: paging.ErrNotFound, paging.ErrInvalid (its text is
// shown to the administrator and holds no PHI), ErrInUse.
type Admin interface {
	People() Records[paging.Person]
	Roles() Records[paging.Role]
	Groups() Records[paging.Group]
	PagerIDs() Records[paging.PagerID]
	Schedules() Records[oncall.Schedule]
	Policies() Records[routing.Policy]
	// Templates' Put checks the placeholders as the API does.
	Templates() Records[Template]
	// Import checks (dryRun) or writes a CSV file of list.
	Import(ctx context.Context, list string, csv []byte, dryRun bool, by paging.AuditEvent) (ImportReport, error)
	Export(ctx context.Context, list string) ([]byte, error)

	// CreateAccount makes a web account; an existing username is
	// paging.ErrInvalid.
	CreateAccount(ctx context.Context, a NewAccount, by paging.AuditEvent) error
	UnlockAccount(ctx context.Context, username string, by paging.AuditEvent) error

	// AuditEntries returns up to limit entries from seq from on, in
	// order; AuditBounds the first and last seq kept (0, 0: none).
	AuditEntries(ctx context.Context, from uint64, limit int) ([]AuditEntry, error)
	AuditBounds(ctx context.Context) (first, last uint64, err error)
	// VerifyAudit checks the whole chain; LastVerify returns what the
	// last check found (false: none since the gateway started).
	VerifyAudit(ctx context.Context) (AuditState, error)
	LastVerify(ctx context.Context) (AuditState, bool, error)
}
