package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"pagebridge/gateway/paging"
)

// Buckets of the routing engine (schema 4).
var (
	bucketSchedules     = []byte("schedules")      // on-call schedules by ID (JSON)
	bucketPolicies      = []byte("policies")       // escalation policies by ID (JSON)
	bucketPresence      = []byte("presence")       // presence and forwarding by person ID (JSON)
	bucketTokens        = []byte("tokens")         // API tokens by ID (JSON, the secret hashed)
	bucketAgents        = []byte("agents")         // agents the gateway has seen, by ID (JSON)
	bucketRoutes        = []byte("routes")         // the engine's record of each page, by message ID (JSON, no PHI)
	bucketRoutePending  = []byte("route.pending")  // message IDs accepted and not yet routed → nothing
	bucketRouteAttempts = []byte("route.attempts") // attempt (job) ID → message ID
)

// migrateV4 adds the routing buckets. Messages accepted before it are not
// queued for routing: they were never routed before, and paging people now
// for pages of days ago would be worse than not.
func migrateV4(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketSchedules, bucketPolicies, bucketPresence, bucketTokens,
		bucketRoutes, bucketRoutePending, bucketRouteAttempts} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("bucket %s: %w", name, err)
		}
	}
	return nil
}

// migrateV5 adds the agents the gateway has seen.
func migrateV5(tx *bolt.Tx) error {
	if _, err := tx.CreateBucketIfNotExists(bucketAgents); err != nil {
		return fmt.Errorf("bucket %s: %w", bucketAgents, err)
	}
	return nil
}

// RecordKind names a kind of configuration record kept as JSON by ID.
type RecordKind string

const (
	KindSchedule RecordKind = "schedule"
	KindPolicy   RecordKind = "policy"
	KindPresence RecordKind = "presence"
	KindToken    RecordKind = "token"
	// KindAgent: an agent the gateway has seen, so that one that never
	// comes back after a restart of either is missed, not forgotten.
	KindAgent RecordKind = "agent"
)

func (k RecordKind) bucket() ([]byte, error) {
	switch k {
	case KindSchedule:
		return bucketSchedules, nil
	case KindPolicy:
		return bucketPolicies, nil
	case KindPresence:
		return bucketPresence, nil
	case KindToken:
		return bucketTokens, nil
	case KindAgent:
		return bucketAgents, nil
	}
	return nil, fmt.Errorf("%w record kind %q", paging.ErrInvalid, k)
}

// PutRecord creates or replaces record id of kind (v encoded as JSON; the
// caller has validated it) and audits the write for by. Records hold no
// PHI.
func (s *Store) PutRecord(ctx context.Context, kind RecordKind, id string, v any, by paging.AuditEvent) error {
	b, err := kind.bucket()
	if err != nil {
		return err
	}
	if id == "" {
		return fmt.Errorf("put %s: %w: no id", kind, paging.ErrInvalid)
	}
	return s.putRecord(ctx, string(kind), b, id, v, by, nil, nil)
}

// DeleteRecord removes record id of kind; paging.ErrNotFound if absent.
func (s *Store) DeleteRecord(ctx context.Context, kind RecordKind, id string, by paging.AuditEvent) error {
	b, err := kind.bucket()
	if err != nil {
		return err
	}
	return s.deleteRecord(ctx, string(kind), b, id, by, nil, nil)
}

// GetRecord decodes record id of kind into v; paging.ErrNotFound if absent.
func (s *Store) GetRecord(ctx context.Context, kind RecordKind, id string, v any) error {
	b, err := kind.bucket()
	if err != nil {
		return err
	}
	return s.getRecord(ctx, string(kind), b, id, v)
}

// Records returns every record of kind, in ID order.
func Records[T any](ctx context.Context, s *Store, kind RecordKind) ([]T, error) {
	b, err := kind.bucket()
	if err != nil {
		return nil, err
	}
	return list[T](ctx, s, string(kind), b)
}

// DirectoryVersion changes whenever a directory or configuration record
// (people, roles, groups, pager IDs, accounts, schedules, policies,
// presence, tokens) is written: a cache of them is stale when it differs.
func (s *Store) DirectoryVersion() uint64 { return s.dirVersion.Load() }

// RouteChange is one step of the routing engine, committed at once: the
// page's route record, the jobs it sends, the timers it sets and clears,
// and the audit entries of what it did. A crash leaves either all of it or
// none, so a step never runs twice and never half.
type RouteChange struct {
	Message paging.ID
	// Route, if set, is stored (as JSON) as the page's route record.
	Route any
	// Routed takes the page off the list of pages waiting to be routed.
	Routed bool
	// Attempts are job IDs to index to the page, for their results.
	Attempts []paging.ID
	Outbox   []paging.OutboxItem
	Timers   []paging.Timer
	// Cancel lists timers to remove.
	Cancel []paging.ID
	Audit  []paging.AuditEvent
	// Thread, if set, opens the page's thread or adds the members it
	// names, in the same commit: a page reached on the app is in a thread.
	Thread *NewThread
}

// ApplyRoute commits c in one transaction.
func (s *Store) ApplyRoute(ctx context.Context, c RouteChange) error {
	if c.Message == (paging.ID{}) {
		return fmt.Errorf("apply route: %w: no message", paging.ErrInvalid)
	}
	var route []byte
	if c.Route != nil {
		var err error
		if route, err = json.Marshal(c.Route); err != nil {
			return fmt.Errorf("apply route %s: %w", c.Message, err)
		}
	}
	outbox := make([]outboxPut, len(c.Outbox))
	for i, it := range c.Outbox {
		p, err := s.prepareOutbox(it)
		if err != nil {
			return fmt.Errorf("apply route %s: %w", c.Message, err)
		}
		outbox[i] = p
	}
	timers := make([]timerPut, len(c.Timers))
	for i, t := range c.Timers {
		p, err := prepareTimer(t)
		if err != nil {
			return fmt.Errorf("apply route %s: %w", c.Message, err)
		}
		timers[i] = p
	}
	now := s.now()
	audit := make([]auditDraft, len(c.Audit))
	for i, ev := range c.Audit {
		audit[i] = draftAudit(now, ev)
	}
	var thread *threadPut
	if c.Thread != nil {
		var err error
		if thread, err = s.prepareThread(*c.Thread, paging.AuditEvent{Actor: "system:engine"}); err != nil {
			return fmt.Errorf("apply route %s: %w", c.Message, err)
		}
	}
	key := c.Message.Bytes()
	err := s.do(ctx, func(tx *txn) error {
		if route != nil {
			if err := tx.Bucket(bucketRoutes).Put(key, route); err != nil {
				return err
			}
		}
		if c.Routed {
			if err := tx.Bucket(bucketRoutePending).Delete(key); err != nil {
				return err
			}
		}
		for _, a := range c.Attempts {
			if err := tx.Bucket(bucketRouteAttempts).Put(a.Bytes(), key); err != nil {
				return err
			}
		}
		for _, p := range outbox {
			if err := p.write(tx); err != nil {
				return err
			}
		}
		for _, id := range c.Cancel {
			if err := deleteTimer(tx.Tx, id); err != nil {
				return err
			}
		}
		for _, p := range timers {
			if err := p.write(tx); err != nil {
				return err
			}
		}
		for _, d := range audit {
			if err := tx.appendAudit(d); err != nil {
				return err
			}
		}
		if thread != nil {
			if _, err := thread.apply(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("apply route %s: %w", c.Message, err)
	}
	return nil
}

// PendingRoutes returns up to limit pages accepted and not yet routed,
// oldest first.
func (s *Store) PendingRoutes(ctx context.Context, limit int) ([]paging.ID, error) {
	var out []paging.ID
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRoutePending).Cursor()
		for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
			if len(k) != len(paging.ID{}) {
				return fmt.Errorf("%w: pending route key %x", ErrCorrupt, k)
			}
			out = append(out, paging.ID(k))
		}
		return nil
	})
	return out, err
}

// Route decodes the route record of message id into v; paging.ErrNotFound
// if the page has none yet.
func (s *Store) Route(ctx context.Context, id paging.ID, v any) error {
	if err := s.getJSON(ctx, bucketRoutes, id.Bytes(), v); err != nil {
		return fmt.Errorf("route %s: %w", id, err)
	}
	return nil
}

// RouteOfAttempt returns the message an attempt (job) belongs to;
// paging.ErrNotFound if none.
func (s *Store) RouteOfAttempt(ctx context.Context, attempt paging.ID) (paging.ID, error) {
	var id paging.ID
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketRouteAttempts).Get(attempt.Bytes())
		if len(v) != len(id) {
			return paging.ErrNotFound
		}
		id = paging.ID(v)
		return nil
	})
	return id, err
}

// MessageToRoute returns a stored message for the routing engine to
// deliver. Unlike Message it records no read: what the engine does with
// the text (each transmission) is audited through ApplyRoute.
func (s *Store) MessageToRoute(ctx context.Context, id paging.ID) (*paging.Message, error) {
	return s.messageUnaudited(ctx, id, true)
}

// MessageHead is MessageToRoute without the text, which stays sealed: the
// engine needs it only where policy lets it go on a pager or SMS.
func (s *Store) MessageHead(ctx context.Context, id paging.ID) (*paging.Message, error) {
	return s.messageUnaudited(ctx, id, false)
}

func (s *Store) messageUnaudited(ctx context.Context, id paging.ID, withText bool) (*paging.Message, error) {
	var m *paging.Message
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMessages).Get(id.Bytes())
		if v == nil {
			return paging.ErrNotFound
		}
		var err error
		m, err = s.decodeMessageText(id.Bytes(), v, withText)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("message %s: %w", id, err)
	}
	return m, nil
}

// Routes calls fn with the route records of the newest pages first, up to
// limit, stopping early if fn returns an error.
func (s *Store) Routes(ctx context.Context, limit int, fn func(id paging.ID, route json.RawMessage) error) error {
	return s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRoutes).Cursor()
		n := 0
		for k, v := c.Last(); k != nil && n < limit; k, v = c.Prev() {
			if len(k) != len(paging.ID{}) {
				return fmt.Errorf("%w: route key %x", ErrCorrupt, k)
			}
			if err := fn(paging.ID(k), json.RawMessage(v)); err != nil {
				return err
			}
			n++
		}
		return nil
	})
}

// SweepPages deletes the stored pages (their sealed text with them)
// received before cutoff whose routing is settled (settled says so: the
// page acknowledged, expired or a duplicate, or never routed), in commits
// of up to 256, each audited with the count and the first and last page
// deleted. Pages still escalating or on the operators' list are kept,
// whatever their age. Routes stay: they hold no PHI and are the record of
// who was paged and why. It returns how many pages it deleted.
func (s *Store) SweepPages(ctx context.Context, cutoff time.Time, settled func(ctx context.Context, id paging.ID) (bool, error), by paging.AuditEvent) (int, error) {
	total := 0
	var after paging.ID
	for {
		var batch []paging.ID
		var last paging.ID
		err := s.view(ctx, func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketMessages).Cursor()
			k, _ := seekAfter(c, after)
			for ; k != nil && len(batch) < 256; k, _ = c.Next() {
				if len(k) != len(paging.ID{}) {
					return fmt.Errorf("%w: message key %x", ErrCorrupt, k)
				}
				id := paging.ID(k)
				if !time.UnixMilli(int64(id.Time())).Before(cutoff) {
					break
				}
				last = id
				batch = append(batch, id)
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("sweep pages: %w", err)
		}
		if len(batch) == 0 {
			return total, nil
		}
		after = last
		var gone []paging.ID
		for _, id := range batch {
			ok, err := settled(ctx, id)
			if err != nil {
				return total, fmt.Errorf("sweep pages: %w", err)
			}
			if ok {
				gone = append(gone, id)
			}
		}
		if len(gone) == 0 {
			continue
		}
		ev := by
		ev.Action, ev.Object = "message.retention", "messages"
		ev.Detail = fmt.Sprintf("%d pages received before %s deleted, %s to %s", len(gone), cutoff.UTC().Format(time.RFC3339), gone[0], gone[len(gone)-1])
		d := draftAudit(s.now(), ev)
		err = s.do(ctx, func(tx *txn) error {
			b := tx.Bucket(bucketMessages)
			for _, id := range gone {
				if err := b.Delete(id.Bytes()); err != nil {
					return err
				}
				if err := tx.Bucket(bucketRoutePending).Delete(id.Bytes()); err != nil {
					return err
				}
			}
			return tx.appendAudit(d)
		})
		if err != nil {
			return total, fmt.Errorf("sweep pages: %w", err)
		}
		total += len(gone)
	}
}
