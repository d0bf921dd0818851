package storage

// Web sign-in (schema 7): what an account needs beyond its record in
// accounts (username, person, role, password hash), and the sessions of
// the web app.
//
// Layout:
//
//	account.security  username → security record (JSON; the TOTP secret
//	                  sealed): second factor, failed sign-ins, lockout
//	sessions          SHA-256 of the session token → session record (JSON)
//	sessions.user     len(username) (2, BE) ‖ username ‖ session ID →
//	                  SHA-256 of the token: a user's sessions, for "sign
//	                  out everywhere" and an administrator's revocation
//
// No secret is stored in the clear: passwords as argon2id hashes (made by
// the caller), TOTP secrets sealed like PHI (bound to their username),
// session tokens only as their SHA-256. A session's CSRF token is kept as
// it is: it is worth nothing without the session's cookie, whose token is
// not kept.
//
// Every change is audited (account.password, account.totp,
// account.signin-failed, account.locked, account.unlock, session.start,
// session.end), with usernames and session IDs, never a secret. Touching a
// session (its last-seen time) is not audited: it happens on every
// request.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	bolt "go.etcd.io/bbolt"

	"pagebridge/gateway/paging"
)

// Buckets of web sign-in (schema 7).
var (
	bucketAccountSecurity = []byte("account.security")
	bucketSessions        = []byte("sessions")
	bucketSessionsUser    = []byte("sessions.user")
)

// migrateV7 adds the buckets of web sign-in. Existing accounts start with
// no second factor and no failures.
func migrateV7(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketAccountSecurity, bucketSessions, bucketSessionsUser} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("bucket %s: %w", name, err)
		}
	}
	return nil
}

// fieldTOTP names the TOTP secret in sealed values.
const fieldTOTP = "totp"

// Errors of sign-in.
var (
	// ErrTOTPReused means the TOTP code's time step was used to sign in
	// before (or an earlier one): a code is good once.
	ErrTOTPReused = errors.New("TOTP code already used")
	// ErrSessionExists means a session with that token hash or ID is
	// stored already.
	ErrSessionExists = errors.New("session exists already")
)

// AccountSecurity is an account's sign-in state.
type AccountSecurity struct {
	Username string
	// TOTPSecret is the base32 TOTP secret, "" if none is set. It is
	// never logged (LogValue).
	TOTPSecret string
	// TOTPConfirmed: the user proved the secret with a code (enrolment
	// done); an unconfirmed secret is one being enrolled.
	TOTPConfirmed bool
	// TOTPLastStep is the time step (Unix time / period) of the last code
	// that signed in; a code of that step or an earlier one is refused.
	TOTPLastStep int64
	// Failed counts failed sign-ins since the last success or lockout.
	Failed      int
	LastFailure time.Time
	// LockedUntil: no sign-in before it.
	LockedUntil time.Time
	LastSignIn  time.Time
}

// LogValue leaves out the TOTP secret.
func (a AccountSecurity) LogValue() slog.Value {
	return slog.GroupValue(slog.String("username", a.Username), slog.Bool("totp", a.TOTPSecret != ""),
		slog.Int("failed", a.Failed), slog.Time("locked_until", a.LockedUntil))
}

// Locked reports whether sign-in is refused at now.
func (a AccountSecurity) Locked(now time.Time) bool { return now.Before(a.LockedUntil) }

// securityRecord is AccountSecurity as stored.
type securityRecord struct {
	TOTP          []byte    `json:"totp,omitempty"` // sealed
	TOTPConfirmed bool      `json:"totp_confirmed,omitempty"`
	TOTPLastStep  int64     `json:"totp_last_step,omitempty"`
	Failed        int       `json:"failed,omitempty"`
	LastFailure   time.Time `json:"last_failure,omitzero"`
	LockedUntil   time.Time `json:"locked_until,omitzero"`
	LastSignIn    time.Time `json:"last_sign_in,omitzero"`
}

// Session is a signed-in browser.
type Session struct {
	// ID names the session in the audit chain and in lists; it is not the
	// token, which is never stored.
	ID       paging.ID `json:"id"`
	Username string    `json:"username"`
	Person   string    `json:"person,omitempty"`
	Role     string    `json:"role"`
	// MFA: signed in with a second factor.
	MFA bool `json:"mfa,omitempty"`
	// Enrol: the account must enrol a second factor before anything else;
	// this session may do only that.
	Enrol    bool      `json:"enrol,omitempty"`
	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"last_seen"`
	// CSRF is the token every state-changing request of the session
	// carries.
	CSRF string `json:"csrf"`
	// Source is the client's address at sign-in.
	Source string `json:"source,omitempty"`
}

// LogValue leaves out the CSRF token.
func (s Session) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", s.ID.String()), slog.String("username", s.Username), slog.String("role", s.Role))
}

// TokenHash is how a session token is stored: its SHA-256.
func TokenHash(token string) [32]byte { return sha256.Sum256([]byte(token)) }

func userSessionPrefix(username string) []byte {
	k := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(username)+16), uint16(len(username)))
	return append(k, username...)
}

func userSessionKey(username string, id paging.ID) []byte {
	return append(userSessionPrefix(username), id[:]...)
}

func objectAccount(username string) string { return "account/" + username }
func objectSession(id paging.ID) string    { return "session/" + id.String() }

// getSecurity reads username's security record; a missing one is the
// zero record. The account itself must exist (paging.ErrNotFound).
func getSecurity(tx *bolt.Tx, username string) (*securityRecord, error) {
	if tx.Bucket(bucketAccounts).Get([]byte(username)) == nil {
		return nil, fmt.Errorf("account %s: %w", username, paging.ErrNotFound)
	}
	var r securityRecord
	if v := tx.Bucket(bucketAccountSecurity).Get([]byte(username)); v != nil {
		if err := json.Unmarshal(v, &r); err != nil {
			return nil, fmt.Errorf("%w: account security %s: %v", ErrCorrupt, username, err)
		}
	}
	return &r, nil
}

func (t *txn) putSecurity(username string, r *securityRecord) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return t.Bucket(bucketAccountSecurity).Put([]byte(username), v)
}

// AccountSecurity returns username's sign-in state, its TOTP secret
// opened. paging.ErrNotFound if there is no such account.
func (s *Store) AccountSecurity(ctx context.Context, username string) (AccountSecurity, error) {
	out := AccountSecurity{Username: username}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		r, err := getSecurity(tx, username)
		if err != nil {
			return err
		}
		if len(r.TOTP) > 0 {
			secret, err := s.sealer.open(bucketAccountSecurity, []byte(username), fieldTOTP, r.TOTP)
			if err != nil {
				return err
			}
			out.TOTPSecret = string(secret)
		}
		out.TOTPConfirmed, out.TOTPLastStep = r.TOTPConfirmed, r.TOTPLastStep
		out.Failed, out.LastFailure, out.LockedUntil, out.LastSignIn = r.Failed, r.LastFailure, r.LockedUntil, r.LastSignIn
		return nil
	})
	if err != nil {
		return AccountSecurity{}, fmt.Errorf("account security %s: %w", username, err)
	}
	return out, nil
}

// updateSecurity runs fn on username's security record in one commit and
// stores it, with the audit entry fn fills in (no entry if it leaves the
// action empty).
func (s *Store) updateSecurity(ctx context.Context, username string, fn func(t *txn, r *securityRecord, ev *paging.AuditEvent) error) error {
	at := s.now()
	return s.do(ctx, func(t *txn) error {
		r, err := getSecurity(t.Tx, username)
		if err != nil {
			return err
		}
		ev := paging.AuditEvent{Object: objectAccount(username)}
		if err := fn(t, r, &ev); err != nil {
			return err
		}
		if err := t.putSecurity(username, r); err != nil {
			return err
		}
		if ev.Action == "" {
			return nil
		}
		return t.appendAudit(draftAudit(at, ev))
	})
}

// SetPassword replaces username's password hash (an encoded argon2id hash,
// never the password) and clears MustChangePassword, audited as
// "account.password". paging.ErrNotFound if there is no such account.
func (s *Store) SetPassword(ctx context.Context, username, hash string, by paging.AuditEvent) error {
	if hash == "" {
		return fmt.Errorf("set password of %s: %w: no hash", username, paging.ErrInvalid)
	}
	by.Action, by.Object, by.Detail = "account.password", objectAccount(username), "password changed"
	d := draftAudit(s.now(), by)
	err := s.do(ctx, func(t *txn) error {
		b := t.Bucket(bucketAccounts)
		v := b.Get([]byte(username))
		if v == nil {
			return paging.ErrNotFound
		}
		var a Account
		if err := json.Unmarshal(v, &a); err != nil {
			return fmt.Errorf("%w: account %s: %v", ErrCorrupt, username, err)
		}
		a.PasswordHash, a.MustChangePassword = hash, false
		nv, err := json.Marshal(&a)
		if err != nil {
			return err
		}
		if err := b.Put([]byte(username), nv); err != nil {
			return err
		}
		return t.appendAudit(d)
	})
	if err != nil {
		return fmt.Errorf("set password of %s: %w", username, err)
	}
	return nil
}

// SetTOTP stores username's TOTP secret, sealed: confirmed false while the
// user enrols (an enrolment started again replaces it), true once they
// proved it with a code. An empty secret removes the second factor.
// Audited as "account.totp" (enrolment started, confirmed, or removed).
func (s *Store) SetTOTP(ctx context.Context, username, secret string, confirmed bool, by paging.AuditEvent) error {
	var sealedTOTP sealed
	if secret != "" {
		var err error
		if sealedTOTP, err = s.sealer.seal(bucketAccountSecurity, []byte(username), fieldTOTP, []byte(secret)); err != nil {
			return fmt.Errorf("set TOTP of %s: %w", username, err)
		}
	}
	err := s.updateSecurity(ctx, username, func(t *txn, r *securityRecord, ev *paging.AuditEvent) error {
		*ev = by
		ev.Action, ev.Object = "account.totp", objectAccount(username)
		switch {
		case secret == "":
			r.TOTP, r.TOTPConfirmed, r.TOTPLastStep = nil, false, 0
			ev.Detail = "second factor removed"
			return nil
		case confirmed:
			ev.Detail = "second factor confirmed"
		default:
			ev.Detail = "second factor enrolment started"
		}
		if err := t.s.sealer.store(t, sealedTOTP.dek); err != nil {
			return err
		}
		r.TOTP, r.TOTPConfirmed = sealedTOTP.value, confirmed
		return nil
	})
	if err != nil {
		return fmt.Errorf("set TOTP of %s: %w", username, err)
	}
	return nil
}

// RecordSignInFailure counts a failed sign-in of username at at, audited
// as "account.signin-failed" with reason (no secret: "wrong password",
// "wrong code"). The failure that makes maxFailures locks the account
// until at+lockFor ("account.locked") and starts the count again. It
// returns the state after. paging.ErrNotFound if there is no such account.
func (s *Store) RecordSignInFailure(ctx context.Context, username, reason string, at time.Time, maxFailures int, lockFor time.Duration, by paging.AuditEvent) (AccountSecurity, error) {
	var out AccountSecurity
	err := s.updateSecurity(ctx, username, func(t *txn, r *securityRecord, ev *paging.AuditEvent) error {
		r.Failed++
		r.LastFailure = at.UTC()
		*ev = by
		ev.Action, ev.Object = "account.signin-failed", objectAccount(username)
		ev.Detail = fmt.Sprintf("%s (%d in a row)", reason, r.Failed)
		if maxFailures > 0 && r.Failed >= maxFailures {
			r.LockedUntil, r.Failed = at.Add(lockFor).UTC(), 0
			ev.Action = "account.locked"
			ev.Detail = fmt.Sprintf("%s; locked until %s after %d failed sign-ins", reason, r.LockedUntil.Format(time.RFC3339), maxFailures)
		}
		out = AccountSecurity{Username: username, TOTPConfirmed: r.TOTPConfirmed, TOTPLastStep: r.TOTPLastStep,
			Failed: r.Failed, LastFailure: r.LastFailure, LockedUntil: r.LockedUntil, LastSignIn: r.LastSignIn}
		return nil
	})
	if err != nil {
		return AccountSecurity{}, fmt.Errorf("record sign-in failure of %s: %w", username, err)
	}
	return out, nil
}

// UnlockAccount lifts a lockout and clears the failure count, audited as
// "account.unlock".
func (s *Store) UnlockAccount(ctx context.Context, username string, by paging.AuditEvent) error {
	err := s.updateSecurity(ctx, username, func(t *txn, r *securityRecord, ev *paging.AuditEvent) error {
		r.Failed, r.LockedUntil = 0, time.Time{}
		*ev = by
		ev.Action, ev.Object, ev.Detail = "account.unlock", objectAccount(username), "lockout lifted"
		return nil
	})
	if err != nil {
		return fmt.Errorf("unlock %s: %w", username, err)
	}
	return nil
}

// CreateSession stores a session under the hash of its token, in the
// commit that records the sign-in: the account's failure count goes back
// to zero, its last sign-in is the session's creation, and totpStep (if
// above 0, the time step of the code used) becomes the last step used —
// ErrTOTPReused if it is not later than the one before. Audited as
// "session.start". paging.ErrNotFound if the account does not exist.
func (s *Store) CreateSession(ctx context.Context, tokenHash [32]byte, sess Session, totpStep int64, by paging.AuditEvent) error {
	switch {
	case sess.ID == (paging.ID{}) || sess.Username == "" || sess.Role == "" || sess.CSRF == "":
		return fmt.Errorf("create session: %w: id, username, role and CSRF token required", paging.ErrInvalid)
	case sess.Created.IsZero():
		return fmt.Errorf("create session: %w: no creation time", paging.ErrInvalid)
	}
	sess.Created, sess.LastSeen = sess.Created.UTC(), sess.Created.UTC()
	v, err := json.Marshal(&sess)
	if err != nil {
		return err
	}
	by.Action, by.Object = "session.start", objectSession(sess.ID)
	by.Detail = fmt.Sprintf("%s signed in as %s", sess.Username, sess.Role)
	switch {
	case sess.Enrol:
		by.Detail += ", to enrol a second factor only"
	case sess.MFA:
		by.Detail += " with a second factor"
	}
	d := draftAudit(s.now(), by)
	err = s.do(ctx, func(t *txn) error {
		r, err := getSecurity(t.Tx, sess.Username)
		if err != nil {
			return err
		}
		if totpStep > 0 {
			if totpStep <= r.TOTPLastStep {
				return ErrTOTPReused
			}
			r.TOTPLastStep = totpStep
		}
		sb := t.Bucket(bucketSessions)
		ub := t.Bucket(bucketSessionsUser)
		uk := userSessionKey(sess.Username, sess.ID)
		if sb.Get(tokenHash[:]) != nil || ub.Get(uk) != nil {
			return ErrSessionExists
		}
		r.Failed, r.LastSignIn = 0, sess.Created
		if err := t.putSecurity(sess.Username, r); err != nil {
			return err
		}
		if err := sb.Put(tokenHash[:], v); err != nil {
			return err
		}
		if err := ub.Put(uk, tokenHash[:]); err != nil {
			return err
		}
		return t.appendAudit(d)
	})
	if err != nil {
		return fmt.Errorf("create session for %s: %w", sess.Username, err)
	}
	return nil
}

func decodeSession(v []byte) (Session, error) {
	var s Session
	if err := json.Unmarshal(v, &s); err != nil {
		return s, fmt.Errorf("%w: session: %v", ErrCorrupt, err)
	}
	return s, nil
}

// Session returns the session stored under tokenHash; paging.ErrNotFound
// if there is none (never was, or ended). Whether it has expired is the
// caller's to decide (idle timeout, lifetime).
func (s *Store) Session(ctx context.Context, tokenHash [32]byte) (Session, error) {
	var out Session
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSessions).Get(tokenHash[:])
		if v == nil {
			return paging.ErrNotFound
		}
		var err error
		out, err = decodeSession(v)
		return err
	})
	if err != nil {
		return Session{}, fmt.Errorf("session: %w", err)
	}
	return out, nil
}

// TouchSession moves a session's last-seen time forward to at (never
// back). It is not audited. paging.ErrNotFound if the session ended.
func (s *Store) TouchSession(ctx context.Context, tokenHash [32]byte, at time.Time) error {
	at = at.UTC()
	err := s.do(ctx, func(t *txn) error {
		b := t.Bucket(bucketSessions)
		v := b.Get(tokenHash[:])
		if v == nil {
			return paging.ErrNotFound
		}
		sess, err := decodeSession(v)
		if err != nil {
			return err
		}
		if !at.After(sess.LastSeen) {
			return nil
		}
		sess.LastSeen = at
		nv, err := json.Marshal(&sess)
		if err != nil {
			return err
		}
		return b.Put(tokenHash[:], nv)
	})
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// endSession deletes one session in t and audits it.
func (t *txn) endSession(hash []byte, sess Session, reason string, at time.Time, by paging.AuditEvent) error {
	if err := t.Bucket(bucketSessions).Delete(hash); err != nil {
		return err
	}
	if err := t.Bucket(bucketSessionsUser).Delete(userSessionKey(sess.Username, sess.ID)); err != nil {
		return err
	}
	by.Action, by.Object = "session.end", objectSession(sess.ID)
	by.Detail = fmt.Sprintf("%s: %s", sess.Username, reason)
	return t.appendAudit(draftAudit(at, by))
}

// EndSession deletes the session stored under tokenHash, audited as
// "session.end" with reason ("signed out", "idle timeout", ...), and
// returns it. paging.ErrNotFound if it had ended already.
func (s *Store) EndSession(ctx context.Context, tokenHash [32]byte, reason string, by paging.AuditEvent) (Session, error) {
	at := s.now()
	var out Session
	err := s.do(ctx, func(t *txn) error {
		v := t.Bucket(bucketSessions).Get(tokenHash[:])
		if v == nil {
			return paging.ErrNotFound
		}
		var err error
		if out, err = decodeSession(v); err != nil {
			return err
		}
		return t.endSession(tokenHash[:], out, reason, at, by)
	})
	if err != nil {
		return Session{}, fmt.Errorf("end session: %w", err)
	}
	return out, nil
}

// EndSessionsOf deletes every session of username, each audited as
// "session.end" with reason, and returns them (none is not an error: a
// user with no session, or an unknown one).
func (s *Store) EndSessionsOf(ctx context.Context, username, reason string, by paging.AuditEvent) ([]Session, error) {
	at := s.now()
	var out []Session
	err := s.do(ctx, func(t *txn) error {
		out = out[:0]
		for _, h := range userSessionHashes(t.Tx, username) {
			v := t.Bucket(bucketSessions).Get(h)
			if v == nil {
				continue
			}
			sess, err := decodeSession(v)
			if err != nil {
				return err
			}
			if err := t.endSession(h, sess, reason, at, by); err != nil {
				return err
			}
			out = append(out, sess)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("end sessions of %s: %w", username, err)
	}
	return out, nil
}

// userSessionHashes returns the token hashes of username's sessions,
// oldest first, copied out of tx.
func userSessionHashes(tx *bolt.Tx, username string) [][]byte {
	prefix := userSessionPrefix(username)
	var out [][]byte
	c := tx.Bucket(bucketSessionsUser).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		out = append(out, append([]byte(nil), v...))
	}
	return out
}

// SessionsOf returns username's sessions, oldest first.
func (s *Store) SessionsOf(ctx context.Context, username string) ([]Session, error) {
	var out []Session
	err := s.view(ctx, func(tx *bolt.Tx) error {
		for _, h := range userSessionHashes(tx, username) {
			sv := tx.Bucket(bucketSessions).Get(h)
			if sv == nil {
				continue
			}
			sess, err := decodeSession(sv)
			if err != nil {
				return err
			}
			out = append(out, sess)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sessions of %s: %w", username, err)
	}
	return out, nil
}

// PruneSessions ends every session that expired(s) says is over (idle too
// long, or past its lifetime), each audited as "session.end" with the
// reason expired returns, and returns them. Expired sessions are also
// refused when used; this takes away those nobody comes back to.
func (s *Store) PruneSessions(ctx context.Context, expired func(Session) (reason string, over bool), by paging.AuditEvent) ([]Session, error) {
	type victim struct {
		hash   []byte
		reason string
	}
	var victims []victim
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
			sess, err := decodeSession(v)
			if err != nil {
				return err
			}
			if reason, over := expired(sess); over {
				victims = append(victims, victim{append([]byte(nil), k...), reason})
			}
			return nil
		})
	})
	if err != nil || len(victims) == 0 {
		return nil, err
	}
	at := s.now()
	var out []Session
	err = s.do(ctx, func(t *txn) error {
		out = out[:0]
		for _, vc := range victims {
			v := t.Bucket(bucketSessions).Get(vc.hash)
			if v == nil {
				continue // ended meanwhile
			}
			sess, err := decodeSession(v)
			if err != nil {
				return err
			}
			if _, over := expired(sess); !over {
				continue // used meanwhile
			}
			if err := t.endSession(vc.hash, sess, vc.reason, at, by); err != nil {
				return err
			}
			out = append(out, sess)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("prune sessions: %w", err)
	}
	return out, nil
}
