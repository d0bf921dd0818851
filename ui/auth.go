package ui

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"pagebridge/gateway/paging"
)

// Sign-in errors. The messages are what the sign-in page shows: none says
// whether a username exists.
var (
	ErrBadCredentials = errors.New("wrong username, password or code")
	ErrCodeRequired   = errors.New("enter the 6-digit code from your authenticator app")
	ErrLocked         = errors.New("too many failed sign-ins: the account is locked for a while; ask IT to unlock it sooner")
	ErrThrottled      = errors.New("too many sign-in attempts: wait a minute and try again")
	// ErrSessionOver: no session, or it ended (signed out, idle, past its
	// lifetime, revoked).
	ErrSessionOver = errors.New("session over")
)

// Policy is the sign-in and session policy.
type Policy struct {
	// IdleTimeout ends a session nobody used for that long (default 15
	// min); Lifetime ends any session that old (default 12 h).
	IdleTimeout, Lifetime time.Duration
	// MFARoles must sign in with a second factor (admin and operator at
	// least); other roles use one if they enrolled.
	MFARoles []string
	// LockoutAfter failed sign-ins in a row lock an account for
	// LockoutFor (defaults 5 and 15 min).
	LockoutAfter int
	LockoutFor   time.Duration
	// AddressAttempts and AccountAttempts bound sign-in attempts per
	// client address and per username in RateWindow (defaults 20, 10,
	// 1 min), before any password is checked.
	AddressAttempts, AccountAttempts int
	RateWindow                       time.Duration
	// Issuer names the box in authenticator apps (default "Pagebridge").
	Issuer string
}

// DefaultPolicy is the policy's defaults.
func DefaultPolicy() Policy {
	return Policy{IdleTimeout: 15 * time.Minute, Lifetime: 12 * time.Hour, MFARoles: []string{RoleAdmin, RoleOperator},
		LockoutAfter: 5, LockoutFor: 15 * time.Minute, AddressAttempts: 20, AccountAttempts: 10, RateWindow: time.Minute,
		Issuer: "Pagebridge"}
}

func (p *Policy) fill() {
	d := DefaultPolicy()
	if p.IdleTimeout <= 0 {
		p.IdleTimeout = d.IdleTimeout
	}
	if p.Lifetime <= 0 {
		p.Lifetime = d.Lifetime
	}
	if p.MFARoles == nil {
		p.MFARoles = d.MFARoles
	}
	if p.LockoutAfter <= 0 {
		p.LockoutAfter = d.LockoutAfter
	}
	if p.LockoutFor <= 0 {
		p.LockoutFor = d.LockoutFor
	}
	if p.AddressAttempts <= 0 {
		p.AddressAttempts = d.AddressAttempts
	}
	if p.AccountAttempts <= 0 {
		p.AccountAttempts = d.AccountAttempts
	}
	if p.RateWindow <= 0 {
		p.RateWindow = d.RateWindow
	}
	if p.Issuer == "" {
		p.Issuer = d.Issuer
	}
}

// touchEvery is how stale a session's last-seen time may get before a
// request writes it again: the idle timeout is exact to this much, and a
// busy page does not write the store on every request.
const touchEvery = 15 * time.Second

// totpOpts are the TOTP parameters every authenticator app takes: 30 s
// steps, 6 digits, SHA-1, one step of clock skew either way.
var totpOpts = totp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// Auth signs people in and checks their sessions.
type Auth struct {
	acc   Accounts
	pol   Policy
	now   func() time.Time
	limit *limiter
	// dummyHash is compared when the username is unknown, so that a
	// wrong username takes as long as a wrong password.
	dummyHash string
}

// NewAuth returns the sign-in service over acc; now is the clock (nil:
// time.Now).
func NewAuth(acc Accounts, pol Policy, now func() time.Time) (*Auth, error) {
	pol.fill()
	if now == nil {
		now = time.Now
	}
	dummy, err := argon2id.CreateHash(randomToken(), argon2id.DefaultParams)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return &Auth{acc: acc, pol: pol, now: now, limit: newLimiter(), dummyHash: dummy}, nil
}

// Policy returns the policy in force, defaults filled in.
func (a *Auth) Policy() Policy { return a.pol }

// randomToken is 32 random bytes, base64url.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails on Linux
	return base64.RawURLEncoding.EncodeToString(b)
}

func tokenHash(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// mfaRequired reports whether role must sign in with a second factor.
func (a *Auth) mfaRequired(role string) bool { return slices.Contains(a.pol.MFARoles, role) }

// SignIn checks a username, password and (when the account has or needs
// a second factor) TOTP code from source, and opens a session: it
// returns the session's token, for the cookie. A role that needs a
// second factor the account has not enrolled gets an enrol-only session.
func (a *Auth) SignIn(ctx context.Context, username, password, code, source string) (string, Session, error) {
	now := a.now()
	by := paging.AuditEvent{Actor: "web:anonymous", Source: source}
	if len(username) > 64 || len(password) > 1024 {
		return "", Session{}, ErrBadCredentials
	}
	if !a.limit.allow("addr:"+source, a.pol.AddressAttempts, a.pol.RateWindow, now) ||
		!a.limit.allow("user:"+username, a.pol.AccountAttempts, a.pol.RateWindow, now) {
		ev := by
		ev.Action, ev.Object, ev.Detail = "web.signin-throttled", "account/"+username, "too many attempts from this address or for this account"
		if err := a.acc.Audit(ctx, now, ev); err != nil {
			return "", Session{}, err
		}
		return "", Session{}, ErrThrottled
	}
	acc, err := a.acc.Account(ctx, username)
	switch {
	case errors.Is(err, paging.ErrNotFound):
		argon2id.ComparePasswordAndHash(password, a.dummyHash)
		ev := by
		ev.Action, ev.Object, ev.Detail = "web.signin-failed", "account/"+username, "no such account"
		if err := a.acc.Audit(ctx, now, ev); err != nil {
			return "", Session{}, err
		}
		return "", Session{}, ErrBadCredentials
	case err != nil:
		return "", Session{}, err
	}
	if now.Before(acc.LockedUntil) {
		ev := by
		ev.Action, ev.Object, ev.Detail = "web.signin-refused", "account/"+username, "account locked until "+acc.LockedUntil.UTC().Format(time.RFC3339)
		if err := a.acc.Audit(ctx, now, ev); err != nil {
			return "", Session{}, err
		}
		return "", Session{}, ErrLocked
	}
	ok, err := argon2id.ComparePasswordAndHash(password, acc.PasswordHash)
	if err != nil || !ok {
		return "", Session{}, a.failed(ctx, acc, "wrong password", now, by)
	}
	sess := Session{ID: paging.NewID(now), Username: acc.Username, Person: acc.Person, Role: acc.Role,
		Created: now, LastSeen: now, CSRF: randomToken(), Source: source}
	var step int64
	switch {
	case acc.TOTPSecret != "" && acc.TOTPConfirmed:
		if code == "" {
			return "", Session{}, ErrCodeRequired
		}
		if step = codeStep(acc.TOTPSecret, code, now); step == 0 {
			return "", Session{}, a.failed(ctx, acc, "wrong code", now, by)
		}
		sess.MFA = true
	case a.mfaRequired(acc.Role):
		sess.Enrol = true
	}
	token := randomToken()
	err = a.acc.CreateSession(ctx, tokenHash(token), sess, step, by)
	if errors.Is(err, ErrTOTPReused) {
		return "", Session{}, a.failed(ctx, acc, "code used before", now, by)
	}
	if err != nil {
		return "", Session{}, err
	}
	return token, sess, nil
}

// failed records a failed sign-in and says what the user sees.
func (a *Auth) failed(ctx context.Context, acc Account, reason string, now time.Time, by paging.AuditEvent) error {
	until, err := a.acc.RecordSignInFailure(ctx, acc.Username, reason, now, a.pol.LockoutAfter, a.pol.LockoutFor, by)
	switch {
	case err != nil:
		return err
	case now.Before(until):
		return ErrLocked
	}
	return ErrBadCredentials
}

// codeStep returns the time step (Unix time / 30) whose code code is,
// within one step of now, or 0 if it is none of them.
func codeStep(secret, code string, now time.Time) int64 {
	if len(code) != 6 {
		return 0
	}
	var found int64
	for skew := int64(-1); skew <= 1; skew++ {
		t := now.Add(time.Duration(skew) * 30 * time.Second)
		want, err := totp.GenerateCodeCustom(secret, t, totpOpts)
		if err != nil {
			return 0
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			found = t.Unix() / 30
		}
	}
	return found
}

// Check returns the session of token if it is still good, ending it (and
// saying so with ErrSessionOver) if it idled out or outlived its
// lifetime. With touch, the use counts as activity.
func (a *Auth) Check(ctx context.Context, token string, touch bool) (Session, error) {
	if token == "" {
		return Session{}, ErrSessionOver
	}
	return a.checkHash(ctx, tokenHash(token), touch)
}

func (a *Auth) checkHash(ctx context.Context, h [32]byte, touch bool) (Session, error) {
	s, err := a.acc.Session(ctx, h)
	if errors.Is(err, paging.ErrNotFound) {
		return Session{}, ErrSessionOver
	}
	if err != nil {
		return Session{}, err
	}
	now := a.now()
	if reason, over := a.expired(s, now); over {
		if _, err := a.acc.EndSession(ctx, h, reason, paging.AuditEvent{Actor: "system:web", Source: s.Source}); err != nil && !errors.Is(err, paging.ErrNotFound) {
			return Session{}, err
		}
		return Session{}, ErrSessionOver
	}
	if touch && now.Sub(s.LastSeen) >= touchEvery {
		if err := a.acc.TouchSession(ctx, h, now); errors.Is(err, paging.ErrNotFound) {
			return Session{}, ErrSessionOver
		} else if err != nil {
			return Session{}, err
		}
		s.LastSeen = now
	}
	return s, nil
}

// expired says whether s is over at now, and why.
func (a *Auth) expired(s Session, now time.Time) (string, bool) {
	switch {
	case now.Sub(s.Created) >= a.pol.Lifetime:
		return fmt.Sprintf("session lifetime (%s) reached", a.pol.Lifetime), true
	case now.Sub(s.LastSeen) >= a.pol.IdleTimeout:
		return fmt.Sprintf("idle timeout (%s)", a.pol.IdleTimeout), true
	}
	return "", false
}

// Prune ends every session that is over and returns them.
func (a *Auth) Prune(ctx context.Context) ([]Session, error) {
	now := a.now()
	return a.acc.PruneSessions(ctx, func(s Session) (string, bool) { return a.expired(s, now) }, paging.AuditEvent{Actor: "system:web"})
}

// SignOut ends the session of token.
func (a *Auth) SignOut(ctx context.Context, token string, s Session) error {
	_, err := a.acc.EndSession(ctx, tokenHash(token), "signed out", actorOf(s))
	if errors.Is(err, paging.ErrNotFound) {
		return nil
	}
	return err
}

// SignOutEverywhere ends every session of s's user and returns them.
func (a *Auth) SignOutEverywhere(ctx context.Context, s Session) ([]Session, error) {
	return a.acc.EndSessionsOf(ctx, s.Username, "signed out everywhere", actorOf(s))
}

// PasswordChanged ends every session of s's user, s's own included, and
// opens a new one for the browser that changed the password: whoever
// signed in with the old password is signed out everywhere. The new
// session keeps s's second factor and its creation time (a password
// change does not extend the absolute lifetime). It returns the new
// session's token and the sessions it ended.
func (a *Auth) PasswordChanged(ctx context.Context, s Session) (string, Session, []Session, error) {
	ended, err := a.acc.EndSessionsOf(ctx, s.Username, "password changed", actorOf(s))
	if err != nil {
		return "", Session{}, nil, err
	}
	now := a.now()
	ns := Session{ID: paging.NewID(now), Username: s.Username, Person: s.Person, Role: s.Role, MFA: s.MFA, Enrol: s.Enrol,
		Created: s.Created, LastSeen: now, CSRF: randomToken(), Source: s.Source}
	nt := randomToken()
	if err := a.acc.CreateSession(ctx, tokenHash(nt), ns, 0, actorOf(s)); err != nil {
		return "", Session{}, ended, err
	}
	return nt, ns, ended, nil
}

// Revoke ends every session of username on an administrator's order (a
// lost phone) and returns them.
func (a *Auth) Revoke(ctx context.Context, admin Session, username string) ([]Session, error) {
	if admin.Role != RoleAdmin {
		return nil, fmt.Errorf("%w: only administrators revoke sessions", ErrForbidden)
	}
	return a.acc.EndSessionsOf(ctx, username, "revoked by administrator "+admin.Username, actorOf(admin))
}

// actorOf is the audit actor of what a session does.
func actorOf(s Session) paging.AuditEvent {
	actor := "web:" + s.ID.String()
	if s.Person != "" {
		actor += " person:" + s.Person
	}
	return paging.AuditEvent{Actor: actor, Source: s.Source}
}

// Enrolment is a second factor being enrolled.
type Enrolment struct {
	// Secret is the base32 secret, for typing in; URL the otpauth:// URL
	// the QR code carries.
	Secret, URL string
}

// StartEnrol returns the account's enrolment in progress, or starts one
// with a new secret. An account whose second factor is confirmed cannot
// enrol again here (an administrator resets it).
func (a *Auth) StartEnrol(ctx context.Context, s Session) (Enrolment, error) {
	acc, err := a.acc.Account(ctx, s.Username)
	if err != nil {
		return Enrolment{}, err
	}
	if acc.TOTPConfirmed {
		return Enrolment{}, fmt.Errorf("%w: a second factor is enrolled already", ErrForbidden)
	}
	if acc.TOTPSecret != "" {
		return a.enrolment(acc.Username, acc.TOTPSecret), nil
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: a.pol.Issuer, AccountName: acc.Username, Period: 30,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return Enrolment{}, fmt.Errorf("new TOTP secret: %w", err)
	}
	if err := a.acc.SetTOTP(ctx, acc.Username, key.Secret(), false, actorOf(s)); err != nil {
		return Enrolment{}, err
	}
	return a.enrolment(acc.Username, key.Secret()), nil
}

// enrolment is the key URI authenticator apps take (Google
// Authenticator's otpauth:// format), as totp.Generate writes it.
func (a *Auth) enrolment(username, secret string) Enrolment {
	q := url.Values{}
	q.Set("secret", secret)
	q.Set("issuer", a.pol.Issuer)
	q.Set("algorithm", "SHA1")
	q.Set("digits", "6")
	q.Set("period", "30")
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + a.pol.Issuer + ":" + username, RawQuery: q.Encode()}
	return Enrolment{Secret: secret, URL: u.String()}
}

// ConfirmEnrol checks a code against the enrolment in progress; right, it
// confirms the second factor, ends the enrolling session and opens a full
// one (a new token: the privilege changed), whose token it returns.
func (a *Auth) ConfirmEnrol(ctx context.Context, token string, s Session, code string) (string, Session, error) {
	acc, err := a.acc.Account(ctx, s.Username)
	if err != nil {
		return "", Session{}, err
	}
	if acc.TOTPConfirmed || acc.TOTPSecret == "" {
		return "", Session{}, fmt.Errorf("%w: no enrolment in progress", paging.ErrInvalid)
	}
	now := a.now()
	step := codeStep(acc.TOTPSecret, code, now)
	if step == 0 {
		return "", Session{}, fmt.Errorf("%w: that code is not right; check the phone's clock and try the next one", paging.ErrInvalid)
	}
	if err := a.acc.SetTOTP(ctx, acc.Username, acc.TOTPSecret, true, actorOf(s)); err != nil {
		return "", Session{}, err
	}
	if _, err := a.acc.EndSession(ctx, tokenHash(token), "second factor enrolled; a new session follows", actorOf(s)); err != nil && !errors.Is(err, paging.ErrNotFound) {
		return "", Session{}, err
	}
	ns := Session{ID: paging.NewID(now), Username: s.Username, Person: s.Person, Role: s.Role, MFA: true,
		Created: now, LastSeen: now, CSRF: randomToken(), Source: s.Source}
	nt := randomToken()
	if err := a.acc.CreateSession(ctx, tokenHash(nt), ns, step, actorOf(s)); err != nil {
		return "", Session{}, err
	}
	return nt, ns, nil
}

// limiter counts attempts per key in fixed windows, in memory: a restart
// forgets them (the lockout, which is stored, does not).
type limiter struct {
	mu      sync.Mutex
	windows map[string]*window
}

type window struct {
	start time.Time
	n     int
}

// maxLimiterKeys bounds the limiter's memory: beyond it, expired windows
// are dropped, and if that is not enough every window is.
const maxLimiterKeys = 10000

func newLimiter() *limiter { return &limiter{windows: map[string]*window{}} }

// allow counts an attempt for key and reports whether it is within max per
// per.
func (l *limiter) allow(key string, max int, per time.Duration, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.windows[key]
	if w == nil || now.Sub(w.start) >= per {
		if len(l.windows) >= maxLimiterKeys {
			for k, o := range l.windows {
				if now.Sub(o.start) >= per {
					delete(l.windows, k)
				}
			}
			if len(l.windows) >= maxLimiterKeys {
				clear(l.windows)
			}
		}
		w = &window{start: now}
		l.windows[key] = w
	}
	w.n++
	return w.n <= max
}
