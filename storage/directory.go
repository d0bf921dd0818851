package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode"

	bolt "go.etcd.io/bbolt"

	"pagebridge/gateway/paging"
)

// Staff records are not PHI: they are stored as plain JSON, keyed by ID.
// Every write appends an audit entry for the actor in by, in the same
// transaction: "<kind>.create", "<kind>.update" or "<kind>.delete", Object
// "<kind>/<id>".

// Account is a local sign-in account.
type Account struct {
	Username string `json:"username"`
	// PersonID links the account to a directory person; may be empty for
	// service accounts.
	PersonID string `json:"person_id,omitempty"`
	// PasswordHash is an encoded password hash (argon2id); never the
	// password.
	PasswordHash       string    `json:"password_hash"`
	Roles              []string  `json:"roles,omitempty"`
	MustChangePassword bool      `json:"must_change_password,omitempty"`
	Created            time.Time `json:"created"`
}

// LogValue leaves out the password hash.
func (a Account) LogValue() slog.Value {
	return slog.GroupValue(slog.String("username", a.Username), slog.String("person", a.PersonID),
		slog.Any("roles", a.Roles))
}

// MaxUsernameLen bounds Account.Username.
const MaxUsernameLen = 64

func (a *Account) validate() error {
	switch {
	case a.Username == "" || len(a.Username) > MaxUsernameLen:
		return fmt.Errorf("%w account: username must be 1 to %d bytes", paging.ErrInvalid, MaxUsernameLen)
	case strings.IndexFunc(a.Username, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0:
		return fmt.Errorf("%w account %q: username has spaces or control characters", paging.ErrInvalid, a.Username)
	case a.PasswordHash == "":
		return fmt.Errorf("%w account %s: no password hash", paging.ErrInvalid, a.Username)
	}
	return nil
}

// The domain has Validate for Person and PagerID; roles and groups are
// checked here.
func validateRole(r *paging.Role) error {
	if r.ID == "" || r.Name == "" {
		return fmt.Errorf("%w role: id and name are required", paging.ErrInvalid)
	}
	return nil
}

func validateGroup(g *paging.Group) error {
	if g.ID == "" || g.Name == "" {
		return fmt.Errorf("%w group: id and name are required", paging.ErrInvalid)
	}
	return nil
}

// putRecord stores v under id in bucket and audits the create or update.
// check, if set, runs first inside the transaction (referential checks);
// done, if set, runs last, once the write and its audit entry are in the
// transaction (to note changes for after the commit).
func (s *Store) putRecord(ctx context.Context, kind string, bucket []byte, id string, v any, by paging.AuditEvent, check func(tx *txn) error, done func(tx *txn)) error {
	val, err := json.Marshal(v)
	if err != nil {
		return err
	}
	at := s.now()
	by.Object = kind + "/" + id
	by.Action = kind + ".create"
	created := draftAudit(at, by)
	by.Action = kind + ".update"
	updated := draftAudit(at, by)
	err = s.do(ctx, func(tx *txn) error {
		if check != nil {
			if err := check(tx); err != nil {
				return err
			}
		}
		b := tx.Bucket(bucket)
		d := created
		if b.Get([]byte(id)) != nil {
			d = updated
		}
		if err := b.Put([]byte(id), val); err != nil {
			return err
		}
		return tx.audited(d, done)
	})
	if err != nil {
		return fmt.Errorf("put %s %s: %w", kind, id, err)
	}
	return nil
}

// audited appends a directory write's audit entry and hands the
// transaction to done (the pager-ID index records its change there).
func (t *txn) audited(d auditDraft, done func(tx *txn)) error {
	if err := t.appendAudit(d); err != nil {
		return err
	}
	t.OnCommit(func() { t.s.dirVersion.Add(1) })
	if done != nil {
		done(t)
	}
	return nil
}

// deleteRecord removes id from bucket and audits it. paging.ErrNotFound if
// it does not exist; check may refuse (ErrInUse); done is as for putRecord.
func (s *Store) deleteRecord(ctx context.Context, kind string, bucket []byte, id string, by paging.AuditEvent, check func(tx *txn) error, done func(tx *txn)) error {
	by.Action, by.Object = kind+".delete", kind+"/"+id
	d := draftAudit(s.now(), by)
	err := s.do(ctx, func(tx *txn) error {
		b := tx.Bucket(bucket)
		if b.Get([]byte(id)) == nil {
			return paging.ErrNotFound
		}
		if check != nil {
			if err := check(tx); err != nil {
				return err
			}
		}
		if err := b.Delete([]byte(id)); err != nil {
			return err
		}
		return tx.audited(d, done)
	})
	if err != nil {
		return fmt.Errorf("delete %s %s: %w", kind, id, err)
	}
	return nil
}

// getRecord reads id from bucket into v; paging.ErrNotFound if absent.
func (s *Store) getRecord(ctx context.Context, kind string, bucket []byte, id string, v any) error {
	if err := s.getJSON(ctx, bucket, []byte(id), v); err != nil {
		return fmt.Errorf("%s %s: %w", kind, id, err)
	}
	return nil
}

// getJSON decodes the value at key in bucket into v; paging.ErrNotFound if
// absent.
func (s *Store) getJSON(ctx context.Context, bucket, key []byte, v any) error {
	return s.view(ctx, func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucket).Get(key)
		if raw == nil {
			return paging.ErrNotFound
		}
		if err := json.Unmarshal(raw, v); err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		return nil
	})
}

// list decodes every record of bucket, in key order.
func list[T any](ctx context.Context, s *Store, kind string, bucket []byte) ([]T, error) {
	var out []T
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			var t T
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("%w: %s %s: %v", ErrCorrupt, kind, k, err)
			}
			out = append(out, t)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", kind, err)
	}
	return out, nil
}

func exists(tx *txn, bucket []byte, id string) bool {
	return tx.Bucket(bucket).Get([]byte(id)) != nil
}

// PutPerson creates or replaces a person after p.Validate().
func (s *Store) PutPerson(ctx context.Context, p paging.Person, by paging.AuditEvent) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("put person: %w", err)
	}
	return s.putRecord(ctx, "person", bucketPeople, p.ID, p, by, nil, nil)
}

// PutRole creates or replaces a role (ID and name required).
func (s *Store) PutRole(ctx context.Context, r paging.Role, by paging.AuditEvent) error {
	if err := validateRole(&r); err != nil {
		return fmt.Errorf("put role: %w", err)
	}
	return s.putRecord(ctx, "role", bucketRoles, r.ID, r, by, nil, nil)
}

// PutGroup creates or replaces a group. Every member must be a stored
// person (paging.ErrNotFound otherwise).
func (s *Store) PutGroup(ctx context.Context, g paging.Group, by paging.AuditEvent) error {
	if err := validateGroup(&g); err != nil {
		return fmt.Errorf("put group: %w", err)
	}
	return s.putRecord(ctx, "group", bucketGroups, g.ID, g, by, func(tx *txn) error {
		for _, m := range g.Members {
			if !exists(tx, bucketPeople, m) {
				return fmt.Errorf("member %s: person %w", m, paging.ErrNotFound)
			}
		}
		return nil
	}, nil)
}

// PutPagerID creates or replaces a legacy pager ID mapping after
// p.Validate(). Its target must exist (paging.ErrNotFound otherwise),
// checked in the same transaction as the write. PagerID and PagerIDs show
// the change once PutPagerID has returned nil.
func (s *Store) PutPagerID(ctx context.Context, p paging.PagerID, by paging.AuditEvent) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("put pager id: %w", err)
	}
	// The index holds the record as a read of the file would decode it
	// (JSON replaces invalid UTF-8, say), not p as given.
	stored, err := roundTrip(p)
	if err != nil {
		return fmt.Errorf("put pager id: %w", err)
	}
	return s.putRecord(ctx, "pagerid", bucketPagerIDs, p.ID, p, by, func(tx *txn) error {
		if !exists(tx, targetBucket(p.Target.Kind), p.Target.ID) {
			return fmt.Errorf("target %s: %w", p.Target, paging.ErrNotFound)
		}
		return nil
	}, func(tx *txn) { tx.notePagerID(p.ID, &stored) })
}

// roundTrip returns v as storing it as JSON and reading it back gives it.
func roundTrip[T any](v T) (T, error) {
	var out T
	raw, err := json.Marshal(v)
	if err != nil {
		return out, err
	}
	err = json.Unmarshal(raw, &out)
	return out, err
}

func targetBucket(k paging.TargetKind) []byte {
	switch k {
	case paging.TargetRole:
		return bucketRoles
	case paging.TargetGroup:
		return bucketGroups
	default:
		return bucketPeople
	}
}

// PutAccount creates or replaces a local account. Created defaults to now;
// PersonID, if set, must be a stored person.
func (s *Store) PutAccount(ctx context.Context, a Account, by paging.AuditEvent) error {
	if err := a.validate(); err != nil {
		return fmt.Errorf("put account: %w", err)
	}
	if a.Created.IsZero() {
		a.Created = s.now()
	}
	a.Created = a.Created.UTC()
	return s.putRecord(ctx, "account", bucketAccounts, a.Username, a, by, func(tx *txn) error {
		if a.PersonID != "" && !exists(tx, bucketPeople, a.PersonID) {
			return fmt.Errorf("person %s: %w", a.PersonID, paging.ErrNotFound)
		}
		return nil
	}, nil)
}

// pointersTo returns what refers to target (pager IDs, and for a person
// groups and accounts), for refusing a delete.
func pointersTo(tx *bolt.Tx, kind paging.TargetKind, id string) ([]string, error) {
	var refs []string
	err := tx.Bucket(bucketPagerIDs).ForEach(func(k, v []byte) error {
		var p paging.PagerID
		if err := json.Unmarshal(v, &p); err != nil {
			return fmt.Errorf("%w: pager id %s: %v", ErrCorrupt, k, err)
		}
		if p.Target.Kind == kind && p.Target.ID == id {
			refs = append(refs, "pager id "+p.ID)
		}
		return nil
	})
	if err != nil || kind != paging.TargetPerson {
		return refs, err
	}
	err = tx.Bucket(bucketGroups).ForEach(func(k, v []byte) error {
		var g paging.Group
		if err := json.Unmarshal(v, &g); err != nil {
			return fmt.Errorf("%w: group %s: %v", ErrCorrupt, k, err)
		}
		if slices.Contains(g.Members, id) {
			refs = append(refs, "group "+g.ID)
		}
		return nil
	})
	if err != nil {
		return refs, err
	}
	err = tx.Bucket(bucketAccounts).ForEach(func(k, v []byte) error {
		var a Account
		if err := json.Unmarshal(v, &a); err != nil {
			return fmt.Errorf("%w: account %s: %v", ErrCorrupt, k, err)
		}
		if a.PersonID == id {
			refs = append(refs, "account "+a.Username)
		}
		return nil
	})
	return refs, err
}

func refuseIfPointedTo(kind paging.TargetKind, id string) func(tx *txn) error {
	return func(tx *txn) error {
		refs, err := pointersTo(tx.Tx, kind, id)
		if err != nil {
			return err
		}
		if len(refs) > 0 {
			return fmt.Errorf("%w by %s", ErrInUse, strings.Join(refs, ", "))
		}
		return nil
	}
}

// DeletePerson removes a person. ErrInUse while a pager ID, group or
// account points at them; paging.ErrNotFound if absent.
func (s *Store) DeletePerson(ctx context.Context, id string, by paging.AuditEvent) error {
	return s.deleteRecord(ctx, "person", bucketPeople, id, by, refuseIfPointedTo(paging.TargetPerson, id), nil)
}

// DeleteRole removes a role. ErrInUse while a pager ID points at it.
func (s *Store) DeleteRole(ctx context.Context, id string, by paging.AuditEvent) error {
	return s.deleteRecord(ctx, "role", bucketRoles, id, by, refuseIfPointedTo(paging.TargetRole, id), nil)
}

// DeleteGroup removes a group. ErrInUse while a pager ID points at it.
func (s *Store) DeleteGroup(ctx context.Context, id string, by paging.AuditEvent) error {
	return s.deleteRecord(ctx, "group", bucketGroups, id, by, refuseIfPointedTo(paging.TargetGroup, id), nil)
}

// DeletePagerID removes a pager ID mapping. PagerID and PagerIDs show the
// change once DeletePagerID has returned nil.
func (s *Store) DeletePagerID(ctx context.Context, id string, by paging.AuditEvent) error {
	return s.deleteRecord(ctx, "pagerid", bucketPagerIDs, id, by, nil,
		func(tx *txn) { tx.notePagerID(id, nil) })
}

// DeleteAccount removes a local account.
func (s *Store) DeleteAccount(ctx context.Context, username string, by paging.AuditEvent) error {
	return s.deleteRecord(ctx, "account", bucketAccounts, username, by, nil, nil)
}

// Person returns a person; paging.ErrNotFound if unknown.
func (s *Store) Person(ctx context.Context, id string) (paging.Person, error) {
	var p paging.Person
	err := s.getRecord(ctx, "person", bucketPeople, id, &p)
	return p, err
}

// Role returns a role; paging.ErrNotFound if unknown.
func (s *Store) Role(ctx context.Context, id string) (paging.Role, error) {
	var r paging.Role
	err := s.getRecord(ctx, "role", bucketRoles, id, &r)
	return r, err
}

// Group returns a group; paging.ErrNotFound if unknown.
func (s *Store) Group(ctx context.Context, id string) (paging.Group, error) {
	var g paging.Group
	err := s.getRecord(ctx, "group", bucketGroups, id, &g)
	return g, err
}

// Account returns a local account; paging.ErrNotFound if unknown.
func (s *Store) Account(ctx context.Context, username string) (Account, error) {
	var a Account
	err := s.getRecord(ctx, "account", bucketAccounts, username, &a)
	return a, err
}

// People returns every person, by ID.
func (s *Store) People(ctx context.Context) ([]paging.Person, error) {
	return list[paging.Person](ctx, s, "people", bucketPeople)
}

// Roles returns every role, by ID.
func (s *Store) Roles(ctx context.Context) ([]paging.Role, error) {
	return list[paging.Role](ctx, s, "roles", bucketRoles)
}

// Groups returns every group, by ID.
func (s *Store) Groups(ctx context.Context) ([]paging.Group, error) {
	return list[paging.Group](ctx, s, "groups", bucketGroups)
}

// Accounts returns every local account, by username.
func (s *Store) Accounts(ctx context.Context) ([]Account, error) {
	return list[Account](ctx, s, "accounts", bucketAccounts)
}
