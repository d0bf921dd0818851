package ui

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"pagebridge/gateway/oncall"
	"pagebridge/gateway/paging"
)

// Administration under /app/admin/: the directory (people with their
// migration stage, roles, groups, pager IDs, the CSV import), on call on
// a calendar, escalation policies, templates, web accounts and the audit
// log. Administrators may do everything; IT what the JSON API lets IT do
// (the directory, on call, policies, templates); nobody else anything.
// Every change goes through the Admin port, which writes it with the
// API's own checks and an audit entry of the store's; the request itself
// is audited here too (action "web.POST /app/admin/...", its status).

//go:embed templates/admin/*.html
var adminPartialFS embed.FS

// adminRoles may use the directory, on-call, policy and template pages;
// accounts and the audit log are for administrators alone.
var adminRoles = []string{RoleAdmin, RoleIT}

// maxUpload bounds a CSV file posted to the import (as the API's).
const maxUpload = 8 << 20

// registerAdmin mounts the administration pages on g (the session
// group) and parses the pages' shared navigation into them.
func (w *Web) registerAdmin(g *gin.RouterGroup) {
	for name, t := range w.pages {
		if strings.HasPrefix(name, "admin_") && t.Lookup("adminnav") == nil {
			w.pages[name] = template.Must(t.ParseFS(adminPartialFS, "templates/admin/*.html"))
		}
	}
	a := g.Group("/admin", w.adminAccess(adminRoles), w.auditAdmin)
	a.GET("/", func(c *gin.Context) { c.Redirect(http.StatusSeeOther, "/app/admin/people") })
	a.GET("/people", w.peoplePage)
	a.GET("/people/:id", w.personPage)
	a.POST("/people/:id", w.savePerson)
	a.POST("/people/:id/stage", w.moveStage)
	a.POST("/people/:id/delete", w.deletePerson)
	a.GET("/directory", w.directoryPage)
	a.POST("/roles", w.saveRole)
	a.POST("/roles/:id/delete", w.deleteRole)
	a.POST("/groups", w.saveGroup)
	a.POST("/groups/:id/delete", w.deleteGroup)
	a.GET("/pagerids", w.pagerIDsPage)
	a.POST("/pagerids", w.savePagerID)
	a.POST("/pagerids/:id/delete", w.deletePagerID)
	a.GET("/import", w.importPage)
	a.POST("/import", w.importFile)
	a.GET("/export/:list", w.export)
	a.GET("/oncall", w.onCallPage)
	a.POST("/schedules", w.saveSchedule)
	a.POST("/schedules/:id/overrides", w.addOverride)
	a.POST("/schedules/:id/overrides/:ov/delete", w.deleteOverride)
	a.POST("/schedules/:id/delete", w.deleteSchedule)
	a.GET("/policies", w.policiesPage)
	a.POST("/policies", w.savePolicy)
	a.POST("/policies/:id/delete", w.deletePolicy)
	a.GET("/templates", w.templatesPage)
	a.POST("/templates", w.saveTemplate)
	a.POST("/templates/:id/delete", w.deleteTemplate)

	only := a.Group("", w.adminAccess([]string{RoleAdmin}))
	only.GET("/accounts", w.accountsPage)
	only.POST("/accounts", w.createAccount)
	only.POST("/accounts/:user/unlock", w.unlockAccount)
	only.POST("/accounts/:user/totp", w.resetTOTP)
	only.POST("/accounts/:user/revoke", w.revokeAccount)
	only.GET("/sessions", func(c *gin.Context) { c.Redirect(http.StatusSeeOther, "/app/admin/accounts") })
	only.POST("/sessions/revoke", func(c *gin.Context) { w.revokeUser(c, c.PostForm("username")) })
	only.GET("/audit", w.auditPage)
	only.GET("/audit.csv", w.auditCSV)
	only.POST("/audit/verify", w.verifyAudit)
}

// adminAccess refuses (403, audited) a session whose role is not one of
// roles, and answers 503 when the gateway gave no Admin port.
func (w *Web) adminAccess(roles []string) gin.HandlerFunc {
	return func(c *gin.Context) {
		s := sessionOf(c)
		if !slices.Contains(roles, s.Role) {
			w.refuse(c, s, "not for the "+s.Role+" role")
			return
		}
		if w.opts.Admin == nil {
			c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": "administration is not available"})
			return
		}
		c.Next()
	}
}

// auditAdmin writes an entry for every change asked for (and every
// export), with its outcome, as the JSON API does for its calls: a change
// refused by validation is on record too.
func (w *Web) auditAdmin(c *gin.Context) {
	c.Next()
	if !unsafeMethod(c.Request.Method) && !strings.HasSuffix(c.Request.URL.Path, ".csv") && !strings.Contains(c.Request.URL.Path, "/export/") {
		return
	}
	ev := actorOf(sessionOf(c))
	ev.Action = "web." + c.Request.Method + " " + c.FullPath()
	ev.Object = strings.TrimPrefix(c.Request.URL.Path, "/app/")
	ev.Detail = fmt.Sprintf("status %d", c.Writer.Status())
	if err := w.auth.acc.Audit(c.Request.Context(), time.Time{}, ev); err != nil {
		w.log.Error("admin request not audited", "path", c.FullPath(), "err", err)
	}
}

// by is the audit event of a change s makes through the Admin port.
func by(c *gin.Context) paging.AuditEvent {
	ev := actorOf(sessionOf(c))
	ev.Detail = "web " + c.Request.Method + " " + c.FullPath()
	return ev
}

// adminPage renders an administration page.
func (w *Web) adminPage(c *gin.Context, status int, name, title, notice, errMsg string, data any) {
	s := sessionOf(c)
	w.render(c, status, name, page{Title: title, Page: "admin", Session: &s, Notice: notice, Error: errMsg, Data: data})
}

// changeFailed shows a change's refusal: the domain's text for a
// refusal (400 or 409), the generic failure otherwise. It reports
// whether err was one.
func (w *Web) changeFailed(err error) (status int, msg string, ok bool) {
	switch {
	case err == nil:
		return 0, "", false
	case errors.Is(err, paging.ErrInvalid):
		return http.StatusBadRequest, userError(err), true
	case errors.Is(err, paging.ErrNotFound):
		return http.StatusNotFound, userError(err), true
	case errors.Is(err, ErrInUse):
		return http.StatusConflict, userError(err), true
	}
	return 0, "", false
}

// done redirects to where a change was made, with a notice.
func done(c *gin.Context, to, notice string) {
	sep := "?"
	if strings.Contains(to, "?") {
		sep = "&"
	}
	c.Redirect(http.StatusSeeOther, to+sep+"done="+url.QueryEscape(notice))
}

// noticeOf is the notice a redirect carries.
func noticeOf(c *gin.Context) string { return c.Query("done") }

// words splits a list typed in a field: commas, spaces or new lines.
func words(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' || r == ';' })
}

// find returns the record whose id is id.
func find[T any](items []T, id func(*T) string, want string) (T, bool) {
	for i := range items {
		if id(&items[i]) == want {
			return items[i], true
		}
	}
	var zero T
	return zero, false
}

// put writes v through r; from an add form (which posts new=1) it
// refuses an ID already taken instead of replacing that record.
func put[T any](c *gin.Context, r Records[T], v T, id func(*T) string) error {
	if c.PostForm("new") == "1" {
		items, err := r.List(c.Request.Context())
		if err != nil {
			return err
		}
		if _, ok := find(items, id, id(&v)); ok {
			return fmt.Errorf("%w: %s is taken; edit it instead", paging.ErrInvalid, id(&v))
		}
	}
	return r.Put(c.Request.Context(), v, by(c))
}

// esc escapes a query value.
func esc(s string) string { return url.QueryEscape(s) }

// The administration pages' template functions.
func init() {
	templateFuncs["hasString"] = func(list []string, s string) bool { return slices.Contains(list, s) }
	templateFuncs["hasChannel"] = func(list []string, ch paging.Channel) bool { return slices.Contains(list, string(ch)) }
	templateFuncs["day"] = func(t time.Time) string { return t.Format("Mon 2 Jan") }
	templateFuncs["stamp"] = func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Local().Format("2006-01-02 15:04:05")
	}
}

// pagerFormData is one row of the pager IDs' table.
type pagerFormData struct {
	CSRF       string
	P          paging.PagerID
	Kinds      []paging.TargetKind
	Priorities []paging.Priority
	Policies   []string
}

func init() {
	templateFuncs["pagerRow"] = func(p page, v any) pagerFormData {
		d := p.Data.(pagerIDsData)
		out := pagerFormData{CSRF: p.Session.CSRF, Kinds: []paging.TargetKind{paging.TargetPerson, paging.TargetRole, paging.TargetGroup},
			Priorities: d.Priorities, Policies: d.Policies}
		if pid, ok := v.(paging.PagerID); ok {
			out.P = pid
		}
		return out
	}
}

// schedFormData is a schedule's rotations form (a new one when S is
// empty), with an empty row to add a rotation.
type schedFormData struct {
	CSRF   string
	S      oncall.Schedule
	Role   string
	Roles  []paging.Role
	Layers []layerForm
	Units  []oncall.Unit
}

func init() {
	templateFuncs["schedRow"] = func(p page, s any, layers []layerForm) schedFormData {
		d := p.Data.(onCallData)
		out := schedFormData{CSRF: p.Session.CSRF, Role: d.Role, Roles: d.Roles,
			Units: []oncall.Unit{oncall.UnitWeek, oncall.UnitDay, oncall.UnitHour}}
		if sc, ok := s.(oncall.Schedule); ok {
			out.S, out.Role = sc, sc.RoleID
		}
		out.Layers = append(slices.Clone(layers), layerForm{Unit: string(oncall.UnitWeek)})
		return out
	}
}
