package paging

import (
	"context"
	"errors"
	"time"
)

// Errors the ports return. Implementations wrap them so that callers can
// use errors.Is.
var (
	// ErrNotFound: the thing asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrTemporary: the operation did not happen and may succeed if tried
	// again later (disk full or failing, store closed for shutdown). A way
	// in answers with its protocol's temporary failure, never "accepted".
	ErrTemporary = errors.New("temporarily unavailable")
)

// Clock tells the time. Tests inject a fake one.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// ClockFunc adapts a function to Clock.
type ClockFunc func() time.Time

// Now calls f.
func (f ClockFunc) Now() time.Time { return f() }

// Accepter makes a received page durable.
//
// Accept returns nil only after the message, and the audit entry recording
// its receipt, are committed to stable storage: only then may the protocol
// say "accepted". An error wrapping ErrTemporary means nothing was stored
// and the sender should retry; any other error means the message itself was
// refused (ErrInvalid).
type Accepter interface {
	Accept(ctx context.Context, m *Message, by AuditEvent) error
}

// Directory resolves legacy pager IDs and reads staff records.
//
// Lookups return an error wrapping ErrNotFound for an unknown ID.
type Directory interface {
	PagerID(ctx context.Context, id string) (PagerID, error)
	Person(ctx context.Context, id string) (Person, error)
	Role(ctx context.Context, id string) (Role, error)
	Group(ctx context.Context, id string) (Group, error)
}

// AuditEvent is who did what to which object, from where. Every create,
// read of PHI, change, transmission and deletion produces one.
type AuditEvent struct {
	// Actor is a user ID or a named integration ("wctp:nurse-call-4w").
	Actor string `json:"actor"`
	// Action is a dotted verb: "message.accept", "message.read",
	// "person.update", "audit.verify".
	Action string `json:"action"`
	// Object is what was acted on: "message/01J…", "person/dr-lee".
	Object string `json:"object"`
	// Source is the remote address or local line.
	Source string `json:"source,omitempty"`
	// Detail is a short non-PHI note.
	Detail string `json:"detail,omitempty"`
}

// Auditor appends to the tamper-evident audit log.
//
// Audit returns nil once the entry is committed; an error wrapping
// ErrTemporary means it was not, and the action it records must not be
// reported as done.
type Auditor interface {
	Audit(ctx context.Context, at time.Time, ev AuditEvent) error
}

// Timer is a piece of future work the engine must not forget across a
// restart: an escalation step, a retry, an expiry.
type Timer struct {
	ID  ID        `json:"id"`
	Due time.Time `json:"due"`
	// Kind names the work ("escalate", "retry", "expire").
	Kind string `json:"kind"`
	// Ref is the object the work is for ("delivery/01J…").
	Ref string `json:"ref"`
}

// Timers stores future work indexed by due time.
//
// Due returns up to limit timers with Due ≤ now, earliest first. Done
// removes a timer; removing one that does not exist is not an error.
type Timers interface {
	Schedule(ctx context.Context, t Timer) error
	Due(ctx context.Context, now time.Time, limit int) ([]Timer, error)
	Done(ctx context.Context, id ID) error
}

// Store is everything the gateway keeps. storage.Store implements it.
type Store interface {
	Accepter
	Auditor
	Directory
	Timers
	Outbox
	// Message returns a stored message, recording the read of its PHI in
	// the audit log on behalf of by. ErrNotFound if there is none.
	Message(ctx context.Context, id ID, by AuditEvent) (*Message, error)
}

// OutboxItem is a job waiting to leave the gateway (a bus publish to an
// agent, a notification). Payload may hold PHI: the store seals it.
type OutboxItem struct {
	ID       ID        `json:"id"`
	Due      time.Time `json:"due"`
	Priority Priority  `json:"priority"`
	// Topic says where the item goes ("agent/modem-1/sms").
	Topic   string `json:"topic"`
	Payload PHI    `json:"-"`
	// Tries counts failed sends so far.
	Tries int `json:"tries"`
}

// Outbox holds jobs until their sender confirms them.
//
// Due returns up to limit items with Due ≤ now, critical first, then
// earliest. Retry moves an item to a new due time and counts the try.
// Done removes an item; removing one that does not exist is not an error.
type Outbox interface {
	Enqueue(ctx context.Context, it OutboxItem) error
	DueOutbox(ctx context.Context, now time.Time, limit int) ([]OutboxItem, error)
	Retry(ctx context.Context, id ID, due time.Time) error
	Sent(ctx context.Context, id ID) error
}
