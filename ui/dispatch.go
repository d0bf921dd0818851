package ui

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"pagebridge/gateway/paging"
)

// The dispatcher console (operators and administrators): page a pager ID,
// a person, a role or a group; a code-team broadcast with its recipients
// live (delivered, acknowledged, responding); on-call lookup; the pages
// still escalating or at the fallback. And the answer a recipient gives
// from a page's thread ("Responding", "Can't respond").
//
// Live frames to the console (roles operator and admin), no PHI:
//
//	{"type":"page","page":…,"state":…,"event":…}   a page's route or answers changed
//	{"type":"hardware"}                            an agent's status changed (hardware page)

// dispatchRoles may use the console; hardwareRoles may see the hardware
// page.
var (
	dispatchRoles = []string{RoleOperator, RoleAdmin}
	hardwareRoles = []string{RoleAdmin, RoleIT, RoleOperator}
)

// MaxPageText bounds a page typed at the console (pagers and SMS carry
// far less; the thread keeps it all).
const MaxPageText = 1000

// Code calls the console's broadcast offers.
var codeCalls = []string{"Code Blue", "Code Red", "Rapid Response", "Trauma Team", "Stroke Alert"}

// roleGate refuses sessions whose role is not one of roles.
func (w *Web) roleGate(roles []string, why string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if s := sessionOf(c); !slices.Contains(roles, s.Role) {
			w.refuse(c, s, why)
		}
	}
}

// registerStaff mounts the console, the hardware page, the profile and
// the PWA's files; g requires a full session, any an enrol-only one too.
func (w *Web) registerStaff(r *gin.Engine, any, g *gin.RouterGroup) {
	w.registerPWA(r)
	if w.opts.Profiles != nil {
		w.registerProfile(r, any, g)
	}
	d := w.opts.Dispatch
	if d == nil {
		return
	}
	console := g.Group("/dispatch", w.roleGate(dispatchRoles, "operators and administrators only"))
	console.GET("", w.dispatchPage)
	console.POST("/page", w.dispatchSend)
	console.POST("/code", w.dispatchCode)
	console.GET("/pages.json", w.dispatchPages)
	console.GET("/pages/:id/roster.json", w.dispatchRoster)
	console.GET("/oncall.json", w.dispatchOnCall)
	g.POST("/threads/:id/respond", withThread(w.respond))
	g.GET("/threads/:id/answer.json", withThread(w.answerJSON))
	hwGate := w.roleGate(hardwareRoles, "administrators, IT and operators only")
	g.GET("/hardware", hwGate, w.hardwarePage)
	g.GET("/hardware.json", hwGate, w.hardwareJSON)
}

type dispatchData struct {
	DispatchTargets
	Pages []PageSummary
	Codes []string
	// Focus is the page whose roster the console opens with.
	Focus string
	// Form values to show again after an error.
	To, Priority, Text, CodeTo, Code, Location string
}

func (w *Web) dispatchPage(c *gin.Context) {
	d := dispatchData{Focus: c.Query("page"), Priority: "high", CodeTo: "group:code-team"}
	if _, err := paging.ParseID(d.Focus); err != nil {
		d.Focus = ""
	}
	w.showDispatch(c, http.StatusOK, "", d)
}

func (w *Web) showDispatch(c *gin.Context, status int, msg string, d dispatchData) {
	s := sessionOf(c)
	ctx := c.Request.Context()
	t, err := w.opts.Dispatch.Targets(ctx)
	if err != nil {
		w.fail(c, err)
		return
	}
	ps, err := w.opts.Dispatch.Pages(ctx, 50)
	if err != nil {
		w.fail(c, err)
		return
	}
	d.DispatchTargets, d.Pages, d.Codes = t, ps, codeCalls
	w.render(c, status, "dispatch.html", page{Title: "Dispatcher console", Page: "dispatch", Session: &s, Error: msg, Data: d})
}

// sendPage checks and sends a console page, answering errors with the
// console again.
func (w *Web) sendPage(c *gin.Context, d dispatchData, req PageRequest) {
	s := sessionOf(c)
	switch {
	case strings.TrimSpace(req.Text.Reveal()) == "":
		w.showDispatch(c, http.StatusBadRequest, "Write the page's text.", d)
		return
	case len(req.Text.Reveal()) > MaxPageText:
		w.showDispatch(c, http.StatusBadRequest, "The page is too long.", d)
		return
	}
	id, err := w.opts.Dispatch.Page(c.Request.Context(), callerOf(s), req)
	switch {
	case errors.Is(err, paging.ErrInvalid), errors.Is(err, paging.ErrNotFound):
		w.showDispatch(c, http.StatusBadRequest, userError(err), d)
		return
	case err != nil:
		w.fail(c, err)
		return
	}
	w.log.Info("console page sent", "page", id, "to", req.To, "priority", req.Priority, "session", s.ID)
	c.Redirect(http.StatusSeeOther, "/app/dispatch?page="+id.String())
}

func (w *Web) dispatchSend(c *gin.Context) {
	d := dispatchData{To: c.PostForm("to"), Priority: c.PostForm("priority"), Text: c.PostForm("text"), CodeTo: "group:code-team"}
	prio, err := paging.ParsePriority(d.Priority)
	if err != nil {
		w.showDispatch(c, http.StatusBadRequest, "Choose a priority.", d)
		return
	}
	if !validTo(d.To, true) {
		w.showDispatch(c, http.StatusBadRequest, "Choose whom to page.", d)
		return
	}
	w.sendPage(c, d, PageRequest{To: d.To, Priority: prio, Text: paging.NewPHI(d.Text)})
}

// dispatchCode is the code-team broadcast: "Code Blue 4W Rm 412" to a
// group or a role, critical.
func (w *Web) dispatchCode(c *gin.Context) {
	d := dispatchData{CodeTo: c.PostForm("to"), Code: c.PostForm("code"), Location: strings.TrimSpace(c.PostForm("location")), Priority: "high"}
	switch {
	case !slices.Contains(codeCalls, d.Code):
		w.showDispatch(c, http.StatusBadRequest, "Choose the call.", d)
		return
	case d.Location == "":
		w.showDispatch(c, http.StatusBadRequest, "Say where (ward and room).", d)
		return
	case !validTo(d.CodeTo, false) || strings.HasPrefix(d.CodeTo, "person:"):
		w.showDispatch(c, http.StatusBadRequest, "A code call goes to a group or a role.", d)
		return
	}
	w.sendPage(c, d, PageRequest{To: d.CodeTo, Priority: paging.PriorityCritical, Text: paging.NewPHI(d.Code + " " + d.Location)})
}

// validTo checks a console target's form ("kind:id").
func validTo(to string, pagerOK bool) bool {
	kind, id, ok := strings.Cut(to, ":")
	if !ok || id == "" || len(id) > 256 {
		return false
	}
	switch kind {
	case "person", "role", "group":
		return true
	case "pager":
		return pagerOK
	}
	return false
}

func (w *Web) dispatchPages(c *gin.Context) {
	ps, err := w.opts.Dispatch.Pages(c.Request.Context(), 50)
	if err != nil {
		w.fail(c, err)
		return
	}
	if ps == nil {
		ps = []PageSummary{}
	}
	c.JSON(http.StatusOK, gin.H{"pages": ps})
}

func (w *Web) dispatchRoster(c *gin.Context) {
	id, err := paging.ParseID(c.Param("id"))
	if err != nil {
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error": "not found"})
		return
	}
	r, err := w.opts.Dispatch.Roster(c.Request.Context(), id)
	if err != nil {
		w.fail(c, err)
		return
	}
	if r.Responders == nil {
		r.Responders = []Responder{}
	}
	c.JSON(http.StatusOK, r)
}

func (w *Web) dispatchOnCall(c *gin.Context) {
	role := c.Query("role")
	if role == "" || len(role) > 256 {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "choose a role"})
		return
	}
	v, err := w.opts.Dispatch.OnCall(c.Request.Context(), role)
	if err != nil {
		w.fail(c, err)
		return
	}
	if v.Now == nil {
		v.Now = []OnCallPerson{}
	}
	if v.Next == nil {
		v.Next = []OnCallPerson{}
	}
	c.JSON(http.StatusOK, v)
}

// respond records the caller's answer to a page thread's page.
func (w *Web) respond(c *gin.Context, s Session, id paging.ID) {
	answer := c.PostForm("answer")
	if answer != AnswerResponding && answer != AnswerCannot {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "answer responding or cannot"})
		return
	}
	if err := w.opts.Dispatch.Respond(c.Request.Context(), callerOf(s), id, answer); err != nil {
		w.fail(c, err)
		return
	}
	if c.GetHeader(csrfHeader) != "" {
		c.JSON(http.StatusOK, gin.H{"answer": answer})
		return
	}
	c.Redirect(http.StatusSeeOther, "/app/threads/"+id.String())
}

func (w *Web) answerJSON(c *gin.Context, s Session, id paging.ID) {
	a, err := w.opts.Dispatch.Answer(c.Request.Context(), callerOf(s), id)
	if err != nil {
		w.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"answer": a})
}

// PageChanged tells the open consoles that a page's route or answers
// changed (state and event only: no PHI). It never blocks.
func (w *Web) PageChanged(page paging.ID, state, event string) {
	if !w.hub.anyRole(dispatchRoles) {
		return // no console open: nothing to queue (a console opened later reads it all)
	}
	frame, _ := json.Marshal(map[string]string{"type": "page", "page": page.String(), "state": state, "event": event})
	w.hub.publish(notice{frame: frame, roles: dispatchRoles})
}

// HardwareChanged tells the open hardware pages that an agent's status
// changed. It never blocks.
func (w *Web) HardwareChanged() {
	w.hub.publish(notice{frame: hardwareFrame, roles: hardwareRoles})
}

var hardwareFrame = []byte(`{"type":"hardware"}`)

// anyRole reports whether a page of a session of one of roles is open
// (the pages of one session share its role: one look per session).
func (h *hub) anyRole(roles []string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, set := range h.bySession {
		for c := range set {
			if slices.Contains(roles, c.sess.Role) {
				return true
			}
			break
		}
	}
	return false
}

// toRoles hands a notice's frame to every open page of a session whose
// role is one of its roles.
func (h *hub) toRoles(n notice) {
	for _, c := range h.all() {
		if slices.Contains(n.roles, c.sess.Role) {
			h.deliver(c, n.frame)
		}
	}
}

// Hardware status.

func (w *Web) hardwarePage(c *gin.Context) {
	s := sessionOf(c)
	as, err := w.opts.Dispatch.Hardware(c.Request.Context())
	if err != nil {
		w.fail(c, err)
		return
	}
	w.render(c, http.StatusOK, "hardware.html", page{Title: "Hardware", Page: "hardware", Session: &s, Data: as})
}

// hardwareJSON is the hardware page's content for a live refresh.
func (w *Web) hardwareJSON(c *gin.Context) {
	as, err := w.opts.Dispatch.Hardware(c.Request.Context())
	if err != nil {
		w.fail(c, err)
		return
	}
	if as == nil {
		as = []HardwareAgent{}
	}
	c.JSON(http.StatusOK, gin.H{"agents": as})
}
