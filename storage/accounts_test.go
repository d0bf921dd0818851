package storage_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"pagebridge/gateway/paging"
	"pagebridge/storage"
	"pagebridge/storage/storagetest"
)

const testHash = "$argon2id$v=19$m=65536,t=1,p=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"

// accountStore opens a store on a clock at t0 with the staff and an
// account for each ("dr-lee" is an admin, the others clinicians).
func accountStore(t *testing.T) (*storagetest.Env, *storage.Store, *tclock) {
	t.Helper()
	e, s, clk := threadStore(t)
	for _, id := range staff {
		role := "clinician"
		if id == "dr-lee" {
			role = "admin"
		}
		if err := s.PutAccount(context.Background(), storage.Account{Username: id, PersonID: id, PasswordHash: testHash, Roles: []string{role}}, by); err != nil {
			t.Fatal(err)
		}
	}
	return e, s, clk
}

func newSession(user string, at time.Time) storage.Session {
	return storage.Session{ID: paging.NewID(at), Username: user, Person: user, Role: "clinician", Created: at, CSRF: "csrf-" + user}
}

// auditSince returns "action object detail" of the entries after seq.
func auditSince(t *testing.T, s *storage.Store, seq uint64) []string {
	t.Helper()
	es, err := s.AuditEntries(context.Background(), seq+1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Action+" "+e.Object+" "+e.Detail)
	}
	return out
}

func TestTOTPSealedAtRest(t *testing.T) {
	e, s, _ := accountStore(t)
	ctx := context.Background()
	const secret = "JBSWY3DPEHPK3PXPMARKERQ7"
	if err := s.SetTOTP(ctx, "dr-kim", secret, false, by); err != nil {
		t.Fatal(err)
	}
	got, err := s.AccountSecurity(ctx, "dr-kim")
	if err != nil || got.TOTPSecret != secret || got.TOTPConfirmed {
		t.Fatalf("after enrolment: %+v %v", got, err)
	}
	if err := s.SetTOTP(ctx, "dr-kim", secret, true, by); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.AccountSecurity(ctx, "dr-kim"); !got.TOTPConfirmed {
		t.Fatalf("not confirmed: %+v", got)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "sec", got)
	if strings.Contains(buf.String(), secret) {
		t.Errorf("log line holds the secret: %s", buf.String())
	}
	if err := s.SetTOTP(ctx, "nobody", secret, false, by); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("TOTP of an unknown account: %v", err)
	}
	for _, a := range auditSince(t, s, 0) {
		if strings.Contains(a, secret) {
			t.Errorf("audit entry holds the secret: %s", a)
		}
	}
	s.Close()
	b, err := os.ReadFile(e.Path)
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range rawForms(secret) {
		if bytes.Contains(b, f) {
			t.Errorf("the file holds the TOTP secret (%s)", name)
		}
	}
	// Removing it.
	s = e.Open(t)
	if err := s.SetTOTP(ctx, "dr-kim", "", false, by); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.AccountSecurity(ctx, "dr-kim"); got.TOTPSecret != "" || got.TOTPConfirmed {
		t.Errorf("after removal: %+v", got)
	}
}

func TestLockout(t *testing.T) {
	_, s, clk := accountStore(t)
	ctx := context.Background()
	now := clk.Now()
	for i := 1; i <= 2; i++ {
		sec, err := s.RecordSignInFailure(ctx, "dr-kim", "wrong password", now, 3, 15*time.Minute, by)
		if err != nil || sec.Failed != i || sec.Locked(now) {
			t.Fatalf("failure %d: %+v %v", i, sec, err)
		}
	}
	sec, err := s.RecordSignInFailure(ctx, "dr-kim", "wrong code", now, 3, 15*time.Minute, by)
	if err != nil || !sec.Locked(now) || !sec.Locked(now.Add(15*time.Minute-time.Nanosecond)) || sec.Locked(now.Add(15*time.Minute)) || sec.Failed != 0 {
		t.Fatalf("third failure: %+v %v", sec, err)
	}
	if got, _ := s.AccountSecurity(ctx, "dr-kim"); !got.Locked(now) {
		t.Errorf("lock not stored: %+v", got)
	}
	if err := s.UnlockAccount(ctx, "dr-kim", by); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.AccountSecurity(ctx, "dr-kim"); got.Locked(now) || got.Failed != 0 {
		t.Errorf("after unlock: %+v", got)
	}
	if _, err := s.RecordSignInFailure(ctx, "nobody", "wrong password", now, 3, time.Minute, by); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("unknown account: %v", err)
	}
	// A sign-in clears the count.
	if _, err := s.RecordSignInFailure(ctx, "dr-ng", "wrong password", now, 3, time.Minute, by); err != nil {
		t.Fatal(err)
	}
	var tok [32]byte
	tok[0] = 1
	if err := s.CreateSession(ctx, tok, newSession("dr-ng", now), 0, by); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.AccountSecurity(ctx, "dr-ng"); got.Failed != 0 || !got.LastSignIn.Equal(now) {
		t.Errorf("after sign-in: %+v", got)
	}
	want := []string{"account.signin-failed", "account.signin-failed", "account.locked", "account.unlock", "account.signin-failed", "session.start"}
	var got []string
	for _, a := range auditSince(t, s, 0) {
		if act, _, _ := strings.Cut(a, " "); strings.HasPrefix(act, "account.") && act != "account.create" || strings.HasPrefix(act, "session.") {
			got = append(got, act)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("audit: %v, want %v", got, want)
	}
}

func TestSessions(t *testing.T) {
	_, s, clk := accountStore(t)
	ctx := context.Background()
	now := clk.Now()
	hash := func(tok string) [32]byte { return storage.TokenHash(tok) }
	a1, a2, b1 := newSession("dr-kim", now), newSession("dr-kim", now.Add(time.Second)), newSession("dr-ng", now)
	for tok, sess := range map[string]storage.Session{"tok-a1": a1, "tok-a2": a2, "tok-b1": b1} {
		if err := s.CreateSession(ctx, hash(tok), sess, 0, by); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateSession(ctx, hash("tok-a1"), newSession("dr-kim", now), 0, by); !errors.Is(err, storage.ErrSessionExists) {
		t.Errorf("same token again: %v", err)
	}
	bad := newSession("dr-kim", now)
	bad.CSRF = ""
	if err := s.CreateSession(ctx, hash("x"), bad, 0, by); !errors.Is(err, paging.ErrInvalid) {
		t.Errorf("no CSRF token: %v", err)
	}
	if err := s.CreateSession(ctx, hash("y"), newSession("nobody", now), 0, by); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("unknown account: %v", err)
	}
	got, err := s.Session(ctx, hash("tok-a1"))
	if err != nil || got.ID != a1.ID || got.CSRF != a1.CSRF || !got.LastSeen.Equal(now) {
		t.Fatalf("session: %+v %v", got, err)
	}
	if _, err := s.Session(ctx, hash("tok-a1x")); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("unknown token: %v", err)
	}
	if err := s.TouchSession(ctx, hash("tok-a1"), now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchSession(ctx, hash("tok-a1"), now); err != nil { // never back
		t.Fatal(err)
	}
	if got, _ := s.Session(ctx, hash("tok-a1")); !got.LastSeen.Equal(now.Add(time.Minute)) {
		t.Errorf("last seen %v", got.LastSeen)
	}
	if all, _ := s.SessionsOf(ctx, "dr-kim"); len(all) != 2 || all[0].ID != a1.ID || all[1].ID != a2.ID {
		t.Errorf("sessions of dr-kim: %+v", all)
	}
	// Sign out one, then everywhere.
	seq := s.AuditHead().Seq
	if ended, err := s.EndSession(ctx, hash("tok-a1"), "signed out", by); err != nil || ended.ID != a1.ID {
		t.Fatalf("end: %+v %v", ended, err)
	}
	if _, err := s.EndSession(ctx, hash("tok-a1"), "signed out", by); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("ended twice: %v", err)
	}
	if err := s.TouchSession(ctx, hash("tok-a1"), now); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("touch an ended session: %v", err)
	}
	ended, err := s.EndSessionsOf(ctx, "dr-kim", "revoked by dr-lee", by)
	if err != nil || len(ended) != 1 || ended[0].ID != a2.ID {
		t.Fatalf("end all: %+v %v", ended, err)
	}
	if _, err := s.Session(ctx, hash("tok-a2")); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("revoked session still there: %v", err)
	}
	if _, err := s.Session(ctx, hash("tok-b1")); err != nil {
		t.Errorf("another user's session went too: %v", err)
	}
	want := []string{
		"session.end session/" + a1.ID.String() + " dr-kim: signed out",
		"session.end session/" + a2.ID.String() + " dr-kim: revoked by dr-lee",
	}
	if got := auditSince(t, s, seq); !slices.Equal(got, want) {
		t.Errorf("audit:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Pruning takes what the rule says is over, audited with its reason.
	pruned, err := s.PruneSessions(ctx, func(s storage.Session) (string, bool) { return "idle timeout", s.Username == "dr-ng" }, by)
	if err != nil || len(pruned) != 1 || pruned[0].ID != b1.ID {
		t.Fatalf("prune: %+v %v", pruned, err)
	}
	if all, _ := s.SessionsOf(ctx, "dr-ng"); len(all) != 0 {
		t.Errorf("after prune: %+v", all)
	}
	// No token and no CSRF token reaches the audit chain.
	for _, a := range auditSince(t, s, 0) {
		if strings.Contains(a, "tok-") || strings.Contains(a, "csrf-") {
			t.Errorf("audit entry holds a secret: %s", a)
		}
	}
}

func TestTOTPStepOnce(t *testing.T) {
	_, s, clk := accountStore(t)
	ctx := context.Background()
	now := clk.Now()
	if err := s.CreateSession(ctx, storage.TokenHash("a"), newSession("dr-kim", now), 1000, by); err != nil {
		t.Fatal(err)
	}
	for _, step := range []int64{1000, 999} {
		if err := s.CreateSession(ctx, storage.TokenHash("b"), newSession("dr-kim", now), step, by); !errors.Is(err, storage.ErrTOTPReused) {
			t.Errorf("step %d again: %v, want ErrTOTPReused", step, err)
		}
	}
	if _, err := s.Session(ctx, storage.TokenHash("b")); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("a refused session was stored: %v", err)
	}
	if err := s.CreateSession(ctx, storage.TokenHash("b"), newSession("dr-kim", now), 1001, by); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.AccountSecurity(ctx, "dr-kim"); got.TOTPLastStep != 1001 {
		t.Errorf("last step %d", got.TOTPLastStep)
	}
}

func TestSetPassword(t *testing.T) {
	_, s, _ := accountStore(t)
	ctx := context.Background()
	a, _ := s.Account(ctx, "dr-kim")
	a.MustChangePassword = true
	if err := s.PutAccount(ctx, a, by); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(ctx, "dr-kim", "$argon2id$new", by); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.Account(ctx, "dr-kim"); a.PasswordHash != "$argon2id$new" || a.MustChangePassword {
		t.Errorf("after: %+v", a)
	}
	if err := s.SetPassword(ctx, "nobody", "$argon2id$new", by); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("unknown account: %v", err)
	}
	if err := s.SetPassword(ctx, "dr-kim", "", by); !errors.Is(err, paging.ErrInvalid) {
		t.Errorf("empty hash: %v", err)
	}
}

// The live view's reads: an inbox entry with its unread count, and
// receipts without texts.
func TestInboxEntryAndReceipts(t *testing.T) {
	_, s, _ := threadStore(t)
	ctx := context.Background()
	th, first := direct(t, s, "dr-lee", []string{"dr-kim"}, "subject", "first")
	post(t, s, th.ID, "dr-lee", "second")
	e, err := s.InboxEntryOf(ctx, th.ID, "dr-kim")
	if err != nil || e.Unread != 2 || e.ID != th.ID {
		t.Fatalf("entry: %+v %v", e, err)
	}
	if _, err := s.InboxEntryOf(ctx, th.ID, "dr-ng"); !errors.Is(err, storage.ErrNotMember) {
		t.Errorf("not a member: %v", err)
	}
	if err := s.MarkReceipt(ctx, th.ID, first, "dr-kim", paging.StateDelivered, paging.ChannelApp, time.Time{}, by); err != nil {
		t.Fatal(err)
	}
	rs, err := s.ThreadReceipts(ctx, th.ID)
	if err != nil || len(rs) != 2 || rs[0].Message != first || len(rs[0].Receipts) != 1 || rs[0].Receipts[0].State != paging.StateDelivered {
		t.Fatalf("receipts: %+v %v", rs, err)
	}
	if _, err := s.ThreadReceipts(ctx, paging.NewID(time.Now())); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("unknown thread: %v", err)
	}
}
