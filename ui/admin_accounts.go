package ui

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/gin-gonic/gin"

	"pagebridge/gateway/paging"
)

// Web accounts (with their sessions, folded in from the former sessions
// page) and the audit log.

// MinPassword is the shortest initial password an administrator may set.
const MinPassword = 12

type accountRow struct {
	Account
	Sessions []Session
	Locked   bool
	TOTP     bool
}

type accountsData struct {
	Accounts []accountRow
	People   []paging.Person
	Roles    []string
	// Form values to show again after an error.
	Username, Person, Role string
}

func (w *Web) accountsPage(c *gin.Context) {
	w.showAccounts(c, http.StatusOK, noticeOf(c), c.Query("error"), accountsData{})
}

func (w *Web) showAccounts(c *gin.Context, status int, notice, errMsg string, d accountsData) {
	ctx := c.Request.Context()
	accs, err := w.auth.acc.Usernames(ctx)
	if err != nil {
		w.fail(c, err)
		return
	}
	now := w.auth.now()
	for _, a := range accs {
		ss, err := w.auth.acc.SessionsOf(ctx, a.Username)
		if err != nil {
			w.fail(c, err)
			return
		}
		live := ss[:0]
		for _, x := range ss {
			if _, over := w.auth.expired(x, now); !over {
				live = append(live, x)
			}
		}
		row := accountRow{Account: a, Sessions: live, Locked: now.Before(a.LockedUntil)}
		if full, err := w.auth.acc.Account(ctx, a.Username); err == nil {
			row.TOTP = full.TOTPConfirmed
		}
		d.Accounts = append(d.Accounts, row)
	}
	if d.People, err = w.opts.Admin.People().List(ctx); err != nil {
		w.fail(c, err)
		return
	}
	d.Roles = Roles
	w.adminPage(c, status, "admin_accounts.html", "Accounts", notice, errMsg, d)
}

// createAccount makes a web account for a person with an initial
// password the user must change at the first sign-in.
func (w *Web) createAccount(c *gin.Context) {
	d := accountsData{Username: strings.TrimSpace(c.PostForm("username")), Person: c.PostForm("person"), Role: c.PostForm("role")}
	pw := c.PostForm("password")
	bad := func(msg string) { w.showAccounts(c, http.StatusBadRequest, "", msg, d) }
	switch {
	case d.Username == "" || len(d.Username) > 64 || strings.ContainsFunc(d.Username, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		bad("A username is 1 to 64 characters without spaces.")
		return
	case !slices.Contains(Roles, d.Role):
		bad("Choose a role.")
		return
	case d.Person == "":
		bad("Choose the person the account acts as.")
		return
	case len([]rune(pw)) < MinPassword || len(pw) > 1024:
		bad(fmt.Sprintf("The initial password needs at least %d characters.", MinPassword))
		return
	}
	if _, err := w.auth.acc.Account(c.Request.Context(), d.Username); err == nil {
		bad("There is already an account " + d.Username + ".")
		return
	}
	hash, err := argon2id.CreateHash(pw, argon2id.DefaultParams)
	if err != nil {
		w.fail(c, err)
		return
	}
	err = w.opts.Admin.CreateAccount(c.Request.Context(), NewAccount{Username: d.Username, Person: d.Person, Role: d.Role, PasswordHash: hash}, by(c))
	if status, msg, ok := w.changeFailed(err); ok {
		w.showAccounts(c, status, "", msg, d)
		return
	}
	if err != nil {
		w.fail(c, err)
		return
	}
	done(c, "/app/admin/accounts", fmt.Sprintf("Account %s created; the password must be changed at the first sign-in.", d.Username))
}

func (w *Web) unlockAccount(c *gin.Context) {
	user := c.Param("user")
	if err := w.opts.Admin.UnlockAccount(c.Request.Context(), user, by(c)); err != nil {
		w.fail(c, err)
		return
	}
	done(c, "/app/admin/accounts", "Unlocked "+user+".")
}

// resetTOTP removes an account's second factor: the user enrols again at
// the next sign-in (required for admin and operator roles). Their
// sessions end, since the factor they signed in with is gone.
func (w *Web) resetTOTP(c *gin.Context) {
	user := c.Param("user")
	ctx := c.Request.Context()
	if err := w.auth.acc.SetTOTP(ctx, user, "", false, by(c)); err != nil {
		w.fail(c, err)
		return
	}
	ended, err := w.auth.Revoke(ctx, sessionOf(c), user)
	if err != nil {
		w.fail(c, err)
		return
	}
	w.endPages(ended, "revoked")
	done(c, "/app/admin/accounts", fmt.Sprintf("Second factor of %s reset; %d session(s) ended.", user, len(ended)))
}

func (w *Web) revokeAccount(c *gin.Context) { w.revokeUser(c, c.Param("user")) }

// revokeUser ends every session of a user (a lost phone): their open
// pages go to the sign-in page at once.
func (w *Web) revokeUser(c *gin.Context, user string) {
	ended, err := w.auth.Revoke(c.Request.Context(), sessionOf(c), user)
	if err != nil {
		w.fail(c, err)
		return
	}
	w.endPages(ended, "revoked")
	done(c, "/app/admin/accounts", fmt.Sprintf("Ended %d session(s) of %s.", len(ended), user))
}

// The audit log: newest first, filtered by actor, action and object
// (substrings) and a time range, a page at a time; the same filter as
// CSV. The chain's verification is run on demand (it reads every entry)
// and its last result is shown.

// auditPageSize is the number of entries a page shows; auditScan how
// many are read at once while filtering; auditExportMax bounds a CSV.
const (
	auditPageSize  = 100
	auditScan      = 1000
	auditExportMax = 200_000
)

// AuditFilter selects audit entries.
type AuditFilter struct {
	Actor, Action, Object string
	From, To              time.Time
}

// Match reports whether e passes the filter.
func (f AuditFilter) Match(e AuditEntry) bool {
	has := func(field, want string) bool {
		return want == "" || strings.Contains(strings.ToLower(field), strings.ToLower(want))
	}
	return has(e.Actor, f.Actor) && has(e.Action, f.Action) && has(e.Object, f.Object) &&
		(f.From.IsZero() || !e.Time.Before(f.From)) && (f.To.IsZero() || e.Time.Before(f.To))
}

func auditFilterOf(c *gin.Context) (AuditFilter, string) {
	f := AuditFilter{Actor: strings.TrimSpace(c.Query("actor")), Action: strings.TrimSpace(c.Query("action")),
		Object: strings.TrimSpace(c.Query("object"))}
	for _, p := range []struct {
		name string
		to   *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := c.Query(p.name); v != "" {
			t, err := time.ParseInLocation("2006-01-02T15:04", v, time.Local)
			if err != nil {
				return f, fmt.Sprintf("%q is not a date and time.", v)
			}
			*p.to = t
		}
	}
	return f, ""
}

type auditData struct {
	Filter           AuditFilter
	Query            map[string]string
	Entries          []AuditEntry
	Older, Newer     string
	Verify           *AuditState
	CSV              string
	FromText, ToText string
}

// scanBack returns up to n entries matching f with seq < before, newest
// first, and the seq to go on from (0: no older entries).
func (w *Web) scanBack(c *gin.Context, f AuditFilter, before uint64, n int) ([]AuditEntry, uint64, error) {
	ctx := c.Request.Context()
	first, last, err := w.opts.Admin.AuditBounds(ctx)
	if err != nil || last == 0 {
		return nil, 0, err
	}
	if before == 0 || before > last+1 {
		before = last + 1
	}
	var out []AuditEntry
	for before > first {
		from := first
		if before-first > auditScan {
			from = before - auditScan
		}
		es, err := w.opts.Admin.AuditEntries(ctx, from, int(before-from))
		if err != nil {
			return nil, 0, err
		}
		for i := len(es) - 1; i >= 0; i-- {
			if es[i].Seq >= before || !f.Match(es[i]) {
				continue
			}
			if len(out) == n {
				return out, es[i].Seq + 1, nil
			}
			out = append(out, es[i])
		}
		before = from
	}
	return out, 0, nil
}

func (w *Web) auditPage(c *gin.Context) {
	f, bad := auditFilterOf(c)
	d := auditData{Filter: f, FromText: c.Query("from"), ToText: c.Query("to")}
	before, _ := strconv.ParseUint(c.Query("before"), 10, 64)
	if bad == "" {
		var older uint64
		var err error
		d.Entries, older, err = w.scanBack(c, f, before, auditPageSize)
		if err != nil {
			w.fail(c, err)
			return
		}
		q := c.Request.URL.Query()
		if older > 0 {
			q.Set("before", strconv.FormatUint(older, 10))
			d.Older = "/app/admin/audit?" + q.Encode()
		}
		if before > 0 {
			q.Del("before")
			d.Newer = "/app/admin/audit?" + q.Encode()
		}
		q.Del("before")
		d.CSV = "/app/admin/audit.csv?" + q.Encode()
	}
	if st, ok, err := w.opts.Admin.LastVerify(c.Request.Context()); err != nil {
		w.fail(c, err)
		return
	} else if ok {
		d.Verify = &st
	}
	status := http.StatusOK
	if bad != "" {
		status = http.StatusBadRequest
	}
	w.adminPage(c, status, "admin_audit.html", "Audit log", noticeOf(c), bad, d)
}

// auditCSV exports the filtered entries, oldest first.
func (w *Web) auditCSV(c *gin.Context) {
	f, bad := auditFilterOf(c)
	if bad != "" {
		w.fail(c, fmt.Errorf("%w: %s", paging.ErrInvalid, bad))
		return
	}
	ctx := c.Request.Context()
	first, last, err := w.opts.Admin.AuditBounds(ctx)
	if err != nil {
		w.fail(c, err)
		return
	}
	var sb strings.Builder
	cw := csv.NewWriter(&sb)
	_ = cw.Write([]string{"seq", "time", "actor", "action", "object", "source", "detail"})
	n := 0
	for from := first; last > 0 && from <= last && n < auditExportMax; {
		es, err := w.opts.Admin.AuditEntries(ctx, from, auditScan)
		if err != nil {
			w.fail(c, err)
			return
		}
		if len(es) == 0 {
			break
		}
		for _, e := range es {
			if f.Match(e) && n < auditExportMax {
				n++
				_ = cw.Write([]string{strconv.FormatUint(e.Seq, 10), e.Time.UTC().Format(time.RFC3339Nano), csvCell(e.Actor),
					csvCell(e.Action), csvCell(e.Object), csvCell(e.Source), csvCell(e.Detail)})
			}
		}
		from = es[len(es)-1].Seq + 1
	}
	cw.Flush()
	c.Header("Content-Disposition", `attachment; filename="audit.csv"`)
	c.Data(http.StatusOK, "text/csv; charset=utf-8", []byte(sb.String()))
}

// csvCell keeps a cell from being taken for a formula by a spreadsheet.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func (w *Web) verifyAudit(c *gin.Context) {
	st, err := w.opts.Admin.VerifyAudit(c.Request.Context())
	if err != nil {
		w.fail(c, err)
		return
	}
	msg := "The audit chain verified."
	if !st.OK {
		msg = "The audit chain did NOT verify: " + st.Problem
	}
	done(c, "/app/admin/audit", msg)
}
