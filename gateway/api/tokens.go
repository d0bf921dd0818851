package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/gin-gonic/gin"

	"pagebridge/gateway/paging"
	"pagebridge/storage"
)

// Role is what a token may do (see the route table).
type Role string

const (
	// RoleAdmin may call every endpoint; secure threads too, but only as
	// its person and only those it is a member of, as anyone.
	RoleAdmin Role = "admin"
	// RoleIT manages the directory, schedules, policies and message
	// templates, and reads hardware health and pages.
	RoleIT Role = "it"
	// RoleOperator (switchboard, console) lists, reads and acknowledges
	// pages, reads the directory and on-call, and sets anyone's presence.
	// With a person, it uses secure threads as that person and may send
	// critical messages.
	RoleOperator Role = "operator"
	// RoleClinician reads the directory and on-call, sets their own
	// presence, acknowledges pages delivered to them, and uses secure
	// threads as their person (critical messages excepted). A clinician
	// token always acts as a person.
	RoleClinician Role = "clinician"
)

// Roles lists every role.
var Roles = []Role{RoleAdmin, RoleIT, RoleOperator, RoleClinician}

// Valid reports whether r is a defined role.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// Scope names a group of routes; a token with scopes may call only the
// routes of those scopes (and still only those its role allows).
type Scope string

const (
	ScopeDirectoryRead  Scope = "directory:read"
	ScopeDirectoryWrite Scope = "directory:write" // people, roles, groups, pager IDs, CSV import
	ScopeOnCallRead     Scope = "oncall:read"     // schedules, shifts, who is on call
	ScopeOnCallWrite    Scope = "oncall:write"
	ScopePoliciesRead   Scope = "policies:read"
	ScopePoliciesWrite  Scope = "policies:write"
	ScopePresenceRead   Scope = "presence:read"
	ScopePresenceWrite  Scope = "presence:write"
	ScopePagesRead      Scope = "pages:read"
	ScopePagesAck       Scope = "pages:ack"
	ScopeTokens         Scope = "tokens"
	ScopeCalendar       Scope = "calendar" // managing calendar feeds
	ScopeHardwareRead   Scope = "hardware:read"
	ScopeExport         Scope = "directory:export"
	ScopeThreadsRead    Scope = "threads:read"    // the inbox, a thread (its texts), templates
	ScopeThreadsWrite   Scope = "threads:write"   // compose, reply, add colleagues, receipts
	ScopeTemplatesWrite Scope = "templates:write" // create, replace and delete templates
)

// Scopes lists every scope.
var Scopes = []Scope{ScopeDirectoryRead, ScopeDirectoryWrite, ScopeOnCallRead, ScopeOnCallWrite, ScopePoliciesRead,
	ScopePoliciesWrite, ScopePresenceRead, ScopePresenceWrite, ScopePagesRead, ScopePagesAck, ScopeTokens,
	ScopeCalendar, ScopeHardwareRead, ScopeExport, ScopeThreadsRead, ScopeThreadsWrite, ScopeTemplatesWrite}

// TokenKind tells API tokens from calendar feed tokens: neither works as
// the other.
type TokenKind string

const (
	KindAPI      TokenKind = "api"
	KindCalendar TokenKind = "calendar"
)

// Token prefixes: an API token is "pbt_<id>_<secret>", a calendar feed's
// "pbc_<id>_<secret>", the secret 64 hex digits (32 random bytes).
const (
	prefixAPI      = "pbt"
	prefixCalendar = "pbc"
	secretBytes    = 32
)

// TokenRecord is a token as stored, less its secret's hash, which never
// leaves this package.
type TokenRecord struct {
	ID   string    `json:"id"`
	Kind TokenKind `json:"kind"`
	Name string    `json:"name"`
	// Role of an API token; empty for a calendar feed.
	Role Role `json:"role,omitempty"`
	// Person is who an API token acts as (required for clinicians); for
	// a calendar feed, the person who owns it (if its creator had one).
	Person string `json:"person,omitempty"`
	// Scopes, if any, narrow what the role allows.
	Scopes []Scope `json:"scopes,omitempty"`
	// Feed is what a calendar feed shows.
	Feed *Feed `json:"feed,omitempty"`
	// CreatedBy is the actor that made it.
	CreatedBy string    `json:"created_by,omitempty"`
	Created   time.Time `json:"created"`
	// Expires, if set, is when it stops working.
	Expires time.Time `json:"expires,omitzero"`
	// Revoked, if set, is when it was revoked.
	Revoked time.Time `json:"revoked,omitzero"`
}

// Feed is the subject of a calendar feed: a role's on-call, or a person's.
type Feed struct {
	Kind paging.TargetKind `json:"kind"` // person or role
	ID   string            `json:"id"`
}

// LogValue names the token without anything secret (there is nothing
// secret in a TokenRecord, but keep it short).
func (t TokenRecord) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", t.ID), slog.String("kind", string(t.Kind)), slog.String("role", string(t.Role)))
}

// storedToken is the record with its secret's hash.
//
// The secret is 32 bytes from crypto/rand: 256 bits that cannot be
// guessed or found in a dictionary, so a fast hash is as strong as a slow
// one here. Slow password hashes (argon2id, as accounts use) exist to
// protect low-entropy secrets, and would cost every API call tens of
// milliseconds of CPU for nothing.
type storedToken struct {
	TokenRecord
	Hash string `json:"hash"` // hex SHA-256 of the secret's bytes
}

func (t *TokenRecord) actor() string {
	a := "token:" + t.ID
	if t.Person != "" {
		a += " person:" + t.Person
	}
	return a
}

func (t *TokenRecord) active(now time.Time) (bool, string) {
	switch {
	case !t.Revoked.IsZero():
		return false, "token revoked"
	case !t.Expires.IsZero() && !now.Before(t.Expires):
		return false, "token expired"
	}
	return true, ""
}

func hashSecret(secret []byte) string {
	h := sha256.Sum256(secret)
	return hex.EncodeToString(h[:])
}

// parseToken splits "<prefix>_<id>_<hex secret>".
func parseToken(s, prefix string) (id string, secret []byte, ok bool) {
	rest, ok := strings.CutPrefix(s, prefix+"_")
	if !ok || len(s) > 200 {
		return "", nil, false
	}
	id, hexSecret, ok := strings.Cut(rest, "_")
	if !ok || id == "" {
		return "", nil, false
	}
	secret, err := hex.DecodeString(hexSecret)
	if err != nil || len(secret) != secretBytes {
		return id, nil, false
	}
	return id, secret, true
}

// tokenSpec is what a new token is made of.
type tokenSpec struct {
	Kind   TokenKind
	Name   string
	Role   Role
	Person string
	Scopes []Scope
	Feed   *Feed
	TTL    time.Duration
}

// CreateToken makes an API token, stores its hash and returns the token
// text ("pbt_<id>_<secret>"), which exists nowhere else: show it once.
// role is one of Roles; person, required for a clinician, must be in the
// directory; ttl 0 never expires. The write is audited as by. It is for
// bootstrapping the first admin token from the command line; the API's
// POST /api/v1/tokens also takes scopes.
func CreateToken(ctx context.Context, st *storage.Store, name, role, person string, ttl time.Duration, by paging.AuditEvent) (secret string, rec TokenRecord, err error) {
	return createToken(ctx, st, time.Now(), tokenSpec{Kind: KindAPI, Name: name, Role: Role(role), Person: person, TTL: ttl}, by)
}

func createToken(ctx context.Context, st *storage.Store, now time.Time, spec tokenSpec, by paging.AuditEvent) (string, TokenRecord, error) {
	if err := validateSpec(ctx, st, &spec); err != nil {
		return "", TokenRecord{}, err
	}
	raw := make([]byte, secretBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", TokenRecord{}, fmt.Errorf("token secret: %w", err)
	}
	rec := TokenRecord{ID: paging.NewID(now).String(), Kind: spec.Kind, Name: spec.Name, Role: spec.Role, Person: spec.Person,
		Scopes: spec.Scopes, Feed: spec.Feed, CreatedBy: by.Actor, Created: now.UTC()}
	if spec.TTL > 0 {
		rec.Expires = now.Add(spec.TTL).UTC()
	}
	if err := st.PutRecord(ctx, storage.KindToken, rec.ID, storedToken{TokenRecord: rec, Hash: hashSecret(raw)}, by); err != nil {
		return "", TokenRecord{}, err
	}
	prefix := prefixAPI
	if spec.Kind == KindCalendar {
		prefix = prefixCalendar
	}
	return prefix + "_" + rec.ID + "_" + hex.EncodeToString(raw), rec, nil
}

// MaxTokenName bounds a token's name.
const MaxTokenName = 100

func validateSpec(ctx context.Context, st *storage.Store, s *tokenSpec) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w token: %s", paging.ErrInvalid, fmt.Sprintf(format, a...))
	}
	s.Name = strings.TrimSpace(s.Name)
	switch {
	case s.Name == "" || len(s.Name) > MaxTokenName:
		return bad("name must be 1 to %d bytes", MaxTokenName)
	case strings.ContainsFunc(s.Name, unicode.IsControl):
		return bad("name has control characters")
	case s.TTL < 0:
		return bad("ttl is negative")
	}
	switch s.Kind {
	case KindAPI:
		if !s.Role.Valid() {
			return bad("role %q is not admin, it, operator or clinician", s.Role)
		}
		if s.Role == RoleClinician && s.Person == "" {
			return bad("a clinician token needs the person it acts as")
		}
		for i, sc := range s.Scopes {
			if !slices.Contains(Scopes, sc) {
				return bad("unknown scope %q", sc)
			}
			if slices.Contains(s.Scopes[:i], sc) {
				return bad("scope %s twice", sc)
			}
		}
	case KindCalendar:
		if s.Feed == nil {
			return bad("a calendar feed needs a role or a person")
		}
	default:
		return bad("kind %q", s.Kind)
	}
	if s.Person != "" {
		if _, err := st.Person(ctx, s.Person); err != nil {
			return refErr(err)
		}
	}
	return nil
}

// refErr makes a referenced record that does not exist a bad request
// rather than a 404 of the URL.
func refErr(err error) error {
	if errors.Is(err, paging.ErrNotFound) {
		return fmt.Errorf("%w reference: %v", paging.ErrInvalid, err)
	}
	return err
}

// authenticate checks an Authorization header. A nil record with a reason
// is a refusal (401); an error is the store's.
func (a *API) authenticate(ctx context.Context, header string) (*TokenRecord, string, error) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(header), " ")
	if header == "" {
		return nil, "no token (Authorization: Bearer pbt_...)", nil
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, "not a bearer token", nil
	}
	rec, why, err := a.lookup(ctx, strings.TrimSpace(tok), prefixAPI, KindAPI)
	return rec, why, err
}

// lookup finds and checks a token of kind; the reason says why not,
// without the secret.
func (a *API) lookup(ctx context.Context, tok, prefix string, kind TokenKind) (*TokenRecord, string, error) {
	id, secret, ok := parseToken(tok, prefix)
	if !ok {
		return nil, "malformed token", nil
	}
	var st storedToken
	err := a.st.GetRecord(ctx, storage.KindToken, id, &st)
	if errors.Is(err, paging.ErrNotFound) {
		// Spend what a real comparison would.
		subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(strings.Repeat("0", 64)))
		return nil, "unknown token " + id, nil
	}
	if err != nil {
		return nil, "", err
	}
	if subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(st.Hash)) != 1 || st.Kind != kind {
		return nil, "wrong secret for token " + id, nil
	}
	if ok, why := st.active(a.clock.Now()); !ok {
		return nil, why + ": " + id, nil
	}
	return &st.TokenRecord, "", nil
}

// tokenRequest is the body of POST /tokens.
type tokenRequest struct {
	Name   string  `json:"name"`
	Role   Role    `json:"role"`
	Person string  `json:"person,omitempty"`
	Scopes []Scope `json:"scopes,omitempty"`
	// TTL is a Go duration ("720h"); empty: never expires.
	TTL string `json:"ttl,omitempty"`
}

type tokenCreated struct {
	Token string      `json:"token"`
	Info  TokenRecord `json:"record"`
}

func parseTTL(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%w token: ttl %q is not a positive duration such as 720h", paging.ErrInvalid, s)
	}
	return d, nil
}

func (a *API) createTokenHandler(c *gin.Context, k *call) (reply, error) {
	var req tokenRequest
	if err := decode(c, &req, false); err != nil {
		return reply{}, err
	}
	ttl, err := parseTTL(req.TTL)
	if err != nil {
		return reply{}, err
	}
	secret, rec, err := createToken(c.Request.Context(), a.st, a.clock.Now(),
		tokenSpec{Kind: KindAPI, Name: req.Name, Role: req.Role, Person: req.Person, Scopes: req.Scopes, TTL: ttl}, k.by())
	if err != nil {
		return reply{}, err
	}
	k.object = "token/" + rec.ID
	return jsonReply(http.StatusCreated, tokenCreated{Token: secret, Info: rec})
}

// tokens lists the records of kind that keep returns true for.
func (a *API) tokens(ctx context.Context, kind TokenKind, keep func(*TokenRecord) bool) ([]TokenRecord, error) {
	all, err := storage.Records[storedToken](ctx, a.st, storage.KindToken)
	if err != nil {
		return nil, err
	}
	out := []TokenRecord{}
	for i := range all {
		if t := &all[i].TokenRecord; t.Kind == kind && (keep == nil || keep(t)) {
			out = append(out, *t)
		}
	}
	return out, nil
}

func (a *API) listTokens(c *gin.Context, k *call) (reply, error) {
	list, err := a.tokens(c.Request.Context(), KindAPI, nil)
	if err != nil {
		return reply{}, err
	}
	return jsonReply(http.StatusOK, map[string]any{"tokens": list})
}

// token reads one token of kind; another kind is not found.
func (a *API) token(ctx context.Context, id string, kind TokenKind) (storedToken, error) {
	var st storedToken
	if err := a.st.GetRecord(ctx, storage.KindToken, id, &st); err != nil {
		return st, err
	}
	if st.Kind != kind {
		return st, fmt.Errorf("token %s: %w", id, paging.ErrNotFound)
	}
	return st, nil
}

func (a *API) getToken(c *gin.Context, k *call) (reply, error) {
	st, err := a.token(c.Request.Context(), c.Param("id"), KindAPI)
	if err != nil {
		return reply{}, err
	}
	return jsonReply(http.StatusOK, st.TokenRecord)
}

// revoke marks a token revoked (kept, for the record); revoking one
// already revoked changes nothing.
func (a *API) revoke(ctx context.Context, st storedToken, by paging.AuditEvent) (TokenRecord, error) {
	if !st.Revoked.IsZero() {
		return st.TokenRecord, nil
	}
	st.Revoked = a.clock.Now().UTC()
	if err := a.st.PutRecord(ctx, storage.KindToken, st.ID, st, by); err != nil {
		return TokenRecord{}, err
	}
	return st.TokenRecord, nil
}

func (a *API) revokeToken(c *gin.Context, k *call) (reply, error) {
	ctx := c.Request.Context()
	st, err := a.token(ctx, c.Param("id"), KindAPI)
	if err != nil {
		return reply{}, err
	}
	rec, err := a.revoke(ctx, st, k.by())
	if err != nil {
		return reply{}, err
	}
	return jsonReply(http.StatusOK, rec)
}
