package ui

import (
	"bytes"
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"html/template"
	"image/png"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/pquerna/otp"

	"pagebridge/gateway/paging"
)

//go:embed templates/app/*.html
var appTemplateFS embed.FS

// Cookies. The __Host- prefix makes browsers refuse them unless Secure,
// Path=/ and without Domain: no other host or path can set or shadow them.
const (
	sessionCookie = "__Host-pb_session"
	// signinCookie carries the sign-in form's CSRF token (double submit):
	// there is no session yet to hold one.
	signinCookie = "__Host-pb_signin"
	csrfField    = "csrf"
	csrfHeader   = "X-CSRF-Token"
)

// Context keys of the session middleware.
const (
	keySession = "pb.session"
	keyToken   = "pb.token"
)

// WebOptions configure the web app.
type WebOptions struct {
	Auth      *Auth
	Messaging Messaging
	// Admin serves the administration pages; nil answers them 503.
	Admin Admin
	// Dispatch (the dispatcher console and the hardware page) and
	// Profiles (the profile page) are left out when nil.
	Dispatch Dispatch
	Profiles Profiles
	// Files (attachments and search) is left out when nil.
	Files  Files
	Logger *slog.Logger
	// MaxUpload bounds a state-changing request's body, a message's
	// files together (default DefaultMaxUpload).
	MaxUpload int64
	// SweepEvery is how often the sessions of open pages are checked, and
	// those over signed out (default 15 s); PruneEvery how often ended
	// sessions nobody comes back to are removed (default 5 min).
	SweepEvery, PruneEvery time.Duration
}

// Web is the staff web app under /app/: sign-in, the inbox, threads,
// compose, and the live updates of its hub.
type Web struct {
	auth  *Auth
	msg   Messaging
	files Files
	log   *slog.Logger
	hub   *hub
	opts  WebOptions
	pages map[string]*template.Template
}

// NewWeb returns the web app; Register mounts it, Run runs its hub.
func NewWeb(opts WebOptions) (*Web, error) {
	if opts.Auth == nil || opts.Messaging == nil {
		return nil, errors.New("web: auth and messaging required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.SweepEvery <= 0 {
		opts.SweepEvery = 15 * time.Second
	}
	if opts.PruneEvery <= 0 {
		opts.PruneEvery = 5 * time.Minute
	}
	log := opts.Logger.With("component", "web")
	w := &Web{auth: opts.Auth, msg: opts.Messaging, files: opts.Files, log: log, hub: newHub(opts.Messaging, log), opts: opts,
		pages: map[string]*template.Template{}}
	layout := template.Must(template.New("layout.html").Funcs(templateFuncs).ParseFS(appTemplateFS, "templates/app/layout.html"))
	names, err := fs.Glob(appTemplateFS, "templates/app/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		base := n[strings.LastIndex(n, "/")+1:]
		if base == "layout.html" {
			continue
		}
		w.pages[base] = template.Must(template.Must(layout.Clone()).ParseFS(appTemplateFS, n))
	}
	return w, nil
}

var templateFuncs = template.FuncMap{
	"clock": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Local().Format("15:04:05")
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
}

// Run sweeps open pages' sessions and dispatches live updates until ctx
// ends; it signs out nothing on the way out, it only closes the sockets.
func (w *Web) Run(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.hub.run(ctx)
	}()
	sweep := time.NewTicker(w.opts.SweepEvery)
	prune := time.NewTicker(w.opts.PruneEvery)
	defer sweep.Stop()
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			<-done
			return
		case <-sweep.C:
			w.sweep(ctx)
		case <-prune.C:
			ended, err := w.auth.Prune(ctx)
			if err != nil && ctx.Err() == nil {
				w.log.Warn("session prune", "err", err)
			}
			w.endPages(ended, "session ended")
		}
	}
}

// ThreadChanged tells the open pages of a thread's members that it
// changed: a new message (message set), members, a page's route. With
// receiptsOnly, only receipts or a delivery moved. members nil: the hub
// asks Messaging.Members. It never blocks.
func (w *Web) ThreadChanged(thread paging.ID, members []string, message paging.ID, by, change string, receiptsOnly bool) {
	w.hub.publish(notice{thread: thread, members: members, message: message, by: by, change: change, receipts: receiptsOnly})
}

// FramesSent counts the frames handed to open pages since start.
func (w *Web) FramesSent() uint64 { return w.hub.sent.Load() }

func (w *Web) endPages(sessions []Session, reason string) {
	ids := make([]paging.ID, len(sessions))
	for i, s := range sessions {
		ids[i] = s.ID
	}
	w.hub.endSessions(ids, reason)
}

// Register mounts the app on r.
func (w *Web) Register(r *gin.Engine) {
	r.GET("/app", func(c *gin.Context) { c.Redirect(http.StatusSeeOther, "/app/") })
	r.GET("/app/signin", w.signinPage)
	r.POST("/app/signin", w.signin)
	any := r.Group("/app", w.session(true))
	any.POST("/signout", w.signout)
	any.GET("/mfa", w.enrolPage)
	any.GET("/mfa/qr.png", w.enrolQR)
	any.POST("/mfa", w.enrolConfirm)
	g := r.Group("/app", w.session(false))
	g.POST("/signout-everywhere", w.signoutEverywhere)
	g.GET("/", w.inboxPage)
	g.GET("/inbox.json", w.inboxJSON)
	g.GET("/ws", w.socket)
	g.GET("/threads/:id", withThread(w.threadPage))
	g.GET("/threads/:id/view.json", withThread(w.threadJSON))
	g.GET("/threads/:id/receipts.json", withThread(w.receiptsJSON))
	g.POST("/threads/:id/reply", withThread(w.postReply))
	g.POST("/threads/:id/ack", withThread(w.ack))
	g.GET("/compose", w.composePage)
	g.POST("/compose", w.compose)
	w.registerAdmin(g)
	w.registerStaff(r, any, g)
	w.registerFiles(r, g)
}

// page is what every template gets.
type page struct {
	Title   string
	Page    string
	Session *Session
	Thread  string
	Error   string
	Notice  string
	Data    any
}

func (w *Web) render(c *gin.Context, status int, name string, p page) {
	t := w.pages[name]
	if t == nil {
		c.String(http.StatusInternalServerError, "no template %s\n", name)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		w.log.Error("render", "template", name, "err", err)
		c.String(http.StatusInternalServerError, "page failed\n")
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// setCookie sets a __Host- cookie: Secure, HttpOnly, SameSite=Strict,
// Path=/; maxAge < 0 deletes it, 0 makes it last while the browser runs.
func setCookie(c *gin.Context, name, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

// sameOrigin refuses a state-changing request another site made: its
// Origin (or, without one, Sec-Fetch-Site) must be this host's. Browsers
// send "Origin: null" for a form post under Referrer-Policy: no-referrer,
// which every page here has: then Sec-Fetch-Site decides.
func sameOrigin(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		return err == nil && u.Host == r.Host
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return true
	}
	return false
}

// csrfOK compares the request's CSRF token (form field or header) with
// want, in constant time.
func csrfOK(c *gin.Context, want string) bool {
	got := c.GetHeader(csrfHeader)
	if got == "" {
		got = c.PostForm(csrfField)
	}
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

// session requires a live session (sending a page's browser to sign-in
// otherwise) and, for state-changing requests, its CSRF token and a
// same-origin request. allowEnrol lets an enrol-only session through.
func (w *Web) session(allowEnrol bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		token, _ := c.Cookie(sessionCookie)
		s, err := w.auth.Check(c.Request.Context(), token, true)
		if err != nil {
			if !errors.Is(err, ErrSessionOver) {
				w.log.Error("session check", "err", err)
				c.AbortWithStatus(http.StatusServiceUnavailable)
				return
			}
			setCookie(c, sessionCookie, "", -1)
			if c.Request.Method == http.MethodGet && !strings.HasSuffix(c.Request.URL.Path, ".json") && !strings.HasSuffix(c.Request.URL.Path, "/ws") {
				c.Redirect(http.StatusSeeOther, "/app/signin?ended=expired")
				c.Abort()
				return
			}
			c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "signed out"})
			return
		}
		if !w.limitBody(c) {
			return
		}
		if unsafeMethod(c.Request.Method) && (!sameOrigin(c.Request) || !csrfOK(c, s.CSRF)) {
			w.refuse(c, s, "CSRF token missing or wrong, or a request from another site")
			return
		}
		if s.Enrol && !allowEnrol {
			c.Redirect(http.StatusSeeOther, "/app/mfa")
			c.Abort()
			return
		}
		if !allowEnrol && w.mustChangePassword(c, s) {
			return
		}
		c.Set(keySession, s)
		c.Set(keyToken, token)
		c.Next()
	}
}

// refuse answers 403 and audits the refusal.
func (w *Web) refuse(c *gin.Context, s Session, why string) {
	ev := actorOf(s)
	ev.Action, ev.Object, ev.Detail = "web.refused", "web"+c.FullPath(), why
	if err := w.auth.acc.Audit(c.Request.Context(), time.Time{}, ev); err != nil {
		w.log.Warn("audit a refusal", "err", err)
	}
	w.log.Warn("web request refused", "path", c.FullPath(), "why", why, "session", s.ID)
	c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": why})
}

func sessionOf(c *gin.Context) Session { return c.MustGet(keySession).(Session) }

// callerOf is a session as the messaging port's caller.
func callerOf(s Session) Caller {
	ev := actorOf(s)
	return Caller{Person: s.Person, Actor: ev.Actor, Source: s.Source}
}

// Sign-in.

// signinNotices are the messages the sign-in page shows for ?ended=.
var signinNotices = map[string]string{
	"expired":  "Your session ended (idle timeout or lifetime). Please sign in again.",
	"signout":  "You are signed out.",
	"revoked":  "You were signed out: your sessions were ended.",
	"everyone": "You are signed out on every device.",
}

func (w *Web) signinPage(c *gin.Context) {
	w.showSignin(c, http.StatusOK, "", c.Query("username"))
}

func (w *Web) showSignin(c *gin.Context, status int, msg, username string) {
	token := randomToken()
	setCookie(c, signinCookie, token, 600)
	w.render(c, status, "signin.html", page{Title: "Sign in", Page: "signin", Error: msg,
		Notice: signinNotices[c.Query("ended")], Data: map[string]string{"CSRF": token, "Username": username}})
}

func (w *Web) signin(c *gin.Context) {
	want, _ := c.Cookie(signinCookie)
	if !sameOrigin(c.Request) || !csrfOK(c, want) {
		w.showSignin(c, http.StatusForbidden, "The sign-in form expired; please try again.", "")
		return
	}
	username := strings.TrimSpace(c.PostForm("username"))
	token, s, err := w.auth.SignIn(c.Request.Context(), username, c.PostForm("password"), strings.TrimSpace(c.PostForm("code")), c.RemoteIP())
	switch {
	case errors.Is(err, ErrBadCredentials), errors.Is(err, ErrCodeRequired), errors.Is(err, ErrLocked):
		w.showSignin(c, http.StatusUnauthorized, err.Error(), username)
		return
	case errors.Is(err, ErrThrottled):
		w.showSignin(c, http.StatusTooManyRequests, err.Error(), username)
		return
	case err != nil:
		w.log.Error("sign-in", "err", err)
		w.showSignin(c, http.StatusServiceUnavailable, "Sign-in is not available right now.", username)
		return
	}
	setCookie(c, signinCookie, "", -1)
	setCookie(c, sessionCookie, token, 0)
	if s.Enrol {
		c.Redirect(http.StatusSeeOther, "/app/mfa")
		return
	}
	c.Redirect(http.StatusSeeOther, "/app/")
}

func (w *Web) signout(c *gin.Context) {
	s := sessionOf(c)
	if err := w.auth.SignOut(c.Request.Context(), c.GetString(keyToken), s); err != nil {
		w.log.Error("sign out", "err", err)
		c.AbortWithStatus(http.StatusServiceUnavailable)
		return
	}
	w.endPages([]Session{s}, "signed out")
	setCookie(c, sessionCookie, "", -1)
	c.Redirect(http.StatusSeeOther, "/app/signin?ended=signout")
}

func (w *Web) signoutEverywhere(c *gin.Context) {
	ended, err := w.auth.SignOutEverywhere(c.Request.Context(), sessionOf(c))
	if err != nil {
		w.log.Error("sign out everywhere", "err", err)
		c.AbortWithStatus(http.StatusServiceUnavailable)
		return
	}
	w.endPages(ended, "signed out everywhere")
	setCookie(c, sessionCookie, "", -1)
	c.Redirect(http.StatusSeeOther, "/app/signin?ended=everyone")
}

// Second factor enrolment.

func (w *Web) enrolPage(c *gin.Context) {
	s := sessionOf(c)
	e, err := w.auth.StartEnrol(c.Request.Context(), s)
	if errors.Is(err, ErrForbidden) {
		c.Redirect(http.StatusSeeOther, "/app/")
		return
	}
	if err != nil {
		w.fail(c, err)
		return
	}
	w.render(c, http.StatusOK, "enrol.html", page{Title: "Second factor", Page: "enrol", Session: &s,
		Data: map[string]any{"Secret": e.Secret, "Required": w.auth.mfaRequired(s.Role)}})
}

// enrolQR serves the enrolment's QR code as a PNG from this origin (the
// CSP allows images from 'self' only, no data: URIs).
func (w *Web) enrolQR(c *gin.Context) {
	s := sessionOf(c)
	e, err := w.auth.StartEnrol(c.Request.Context(), s)
	if err != nil {
		c.AbortWithStatus(http.StatusNotFound)
		return
	}
	key, err := otp.NewKeyFromURL(e.URL)
	if err != nil {
		w.fail(c, err)
		return
	}
	img, err := key.Image(256, 256)
	if err != nil {
		w.fail(c, err)
		return
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		w.fail(c, err)
		return
	}
	c.Data(http.StatusOK, "image/png", buf.Bytes())
}

func (w *Web) enrolConfirm(c *gin.Context) {
	s := sessionOf(c)
	token, ns, err := w.auth.ConfirmEnrol(c.Request.Context(), c.GetString(keyToken), s, strings.TrimSpace(c.PostForm("code")))
	if errors.Is(err, paging.ErrInvalid) {
		e, _ := w.auth.StartEnrol(c.Request.Context(), s)
		w.render(c, http.StatusBadRequest, "enrol.html", page{Title: "Second factor", Page: "enrol", Session: &s, Error: userError(err),
			Data: map[string]any{"Secret": e.Secret, "Required": w.auth.mfaRequired(s.Role)}})
		return
	}
	if err != nil {
		w.fail(c, err)
		return
	}
	w.endPages([]Session{s}, "second factor enrolled")
	w.log.Info("second factor enrolled", "session", ns.ID, "username", ns.Username)
	setCookie(c, sessionCookie, token, 0)
	c.Redirect(http.StatusSeeOther, "/app/")
}

// userError is an error's text for a page: the port's ErrInvalid texts
// hold no PHI; the prefix is dropped.
func userError(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, paging.ErrInvalid.Error()); i >= 0 {
		msg = strings.TrimLeft(msg[i+len(paging.ErrInvalid.Error()):], ": ")
	}
	return msg
}

// fail answers an error of the domain.
func (w *Web) fail(c *gin.Context, err error) {
	switch {
	case errors.Is(err, ErrForbidden):
		c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "not yours to see"})
	case errors.Is(err, paging.ErrNotFound):
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error": "not found"})
	case errors.Is(err, paging.ErrInvalid):
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": userError(err)})
	default:
		w.log.Error("web request", "path", c.FullPath(), "err", err)
		c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": "not available right now"})
	}
}

// Inbox and threads.

const inboxLimit = 100

func (w *Web) inboxPage(c *gin.Context) {
	s := sessionOf(c)
	es, err := w.msg.Inbox(c.Request.Context(), s.Person, inboxLimit)
	if err != nil {
		w.fail(c, err)
		return
	}
	w.render(c, http.StatusOK, "inbox.html", page{Title: "Inbox", Page: "inbox", Session: &s, Data: es})
}

func (w *Web) inboxJSON(c *gin.Context) {
	s := sessionOf(c)
	es, err := w.msg.Inbox(c.Request.Context(), s.Person, inboxLimit)
	if err != nil {
		w.fail(c, err)
		return
	}
	if es == nil {
		es = []InboxEntry{}
	}
	c.JSON(http.StatusOK, gin.H{"threads": es})
}

// withThread adapts a handler of /threads/:id: it gets the session and
// the thread's ID (an ID that is none is 404).
func withThread(fn func(c *gin.Context, s Session, id paging.ID)) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := paging.ParseID(c.Param("id"))
		if err != nil {
			c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error": "not found"})
			return
		}
		fn(c, sessionOf(c), id)
	}
}

// readThread reads a thread for s, answering the error itself.
func (w *Web) readThread(c *gin.Context, s Session, id paging.ID) (ThreadView, bool) {
	v, err := w.msg.Thread(c.Request.Context(), callerOf(s), id)
	if err != nil {
		w.fail(c, err)
		return v, false
	}
	return v, true
}

func (w *Web) threadPage(c *gin.Context, s Session, id paging.ID) {
	v, ok := w.readThread(c, s, id)
	if !ok {
		return
	}
	w.render(c, http.StatusOK, "thread.html", page{Title: v.Label, Page: "thread", Session: &s, Thread: id.String(), Data: v})
}

// messageJSON is a message as a page renders it: the one place its text
// leaves as data, to a member, after an audited read.
type messageJSON struct {
	Message
	Text string `json:"text"`
}

type threadJSON struct {
	ThreadView
	Subject  string        `json:"subject,omitempty"`
	Messages []messageJSON `json:"messages"`
}

func (w *Web) threadJSON(c *gin.Context, s Session, id paging.ID) {
	v, ok := w.readThread(c, s, id)
	if !ok {
		return
	}
	out := threadJSON{ThreadView: v, Subject: v.Subject.Reveal(), Messages: make([]messageJSON, len(v.Messages))}
	for i, m := range v.Messages {
		if m.Receipts == nil {
			m.Receipts = []Receipt{}
		}
		out.Messages[i] = messageJSON{Message: m, Text: m.Text.Reveal()}
	}
	c.JSON(http.StatusOK, out)
}

func (w *Web) receiptsJSON(c *gin.Context, s Session, id paging.ID) {
	r, err := w.msg.Receipts(c.Request.Context(), callerOf(s), id)
	if err != nil {
		w.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, r)
}

func (w *Web) ack(c *gin.Context, s Session, id paging.ID) {
	msg, err := paging.ParseID(c.PostForm("message"))
	if err != nil {
		msg = id // a page thread's page
	}
	if err := w.msg.Acknowledge(c.Request.Context(), callerOf(s), id, msg); err != nil {
		w.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/app/threads/"+id.String())
}

// Compose.

// criticalRoles may send critical messages (DESIGN: critical only for
// roles allowed to), as in the JSON API.
var criticalRoles = []string{RoleAdmin, RoleOperator}

type composeData struct {
	Directory
	Critical bool
	// Form values to show again after an error.
	To, Priority, Subject, Text string
}

func (w *Web) composePage(c *gin.Context) {
	w.showCompose(c, http.StatusOK, "", composeData{To: c.Query("to"), Priority: "normal"})
}

func (w *Web) showCompose(c *gin.Context, status int, msg string, d composeData) {
	s := sessionOf(c)
	dir, err := w.msg.Directory(c.Request.Context())
	if err != nil {
		w.fail(c, err)
		return
	}
	d.Directory = dir
	d.Critical = slices.Contains(criticalRoles, s.Role)
	w.render(c, status, "compose.html", page{Title: "New message", Page: "compose", Session: &s, Error: msg, Data: d})
}

func (w *Web) compose(c *gin.Context) {
	s := sessionOf(c)
	files, ok := w.uploads(c)
	if !ok {
		return
	}
	d := composeData{To: c.PostForm("to"), Priority: c.PostForm("priority"), Subject: c.PostForm("subject"), Text: c.PostForm("text")}
	kind, target, _ := strings.Cut(d.To, ":")
	prio, err := paging.ParsePriority(d.Priority)
	switch {
	case err != nil:
		w.showCompose(c, http.StatusBadRequest, "Choose a priority.", d)
		return
	case target == "" || (kind != string(paging.TargetPerson) && kind != string(paging.TargetRole) && kind != string(paging.TargetGroup)):
		w.showCompose(c, http.StatusBadRequest, "Choose whom to send it to.", d)
		return
	case strings.TrimSpace(d.Text) == "" && len(files) == 0:
		w.showCompose(c, http.StatusBadRequest, "Write a message.", d)
		return
	case len(files) > 0 && w.files == nil:
		w.showCompose(c, http.StatusBadRequest, "Attachments are not available here.", d)
		return
	case prio == paging.PriorityCritical && !slices.Contains(criticalRoles, s.Role):
		w.showCompose(c, http.StatusForbidden, "Only operators and administrators send critical messages.", d)
		return
	}
	id, err := w.msg.Compose(c.Request.Context(), callerOf(s), Draft{To: paging.Target{Kind: paging.TargetKind(kind), ID: target},
		Priority: prio, Subject: paging.NewPHI(d.Subject), Text: paging.NewPHI(d.Text), Files: files})
	switch {
	case errors.Is(err, paging.ErrInvalid), errors.Is(err, paging.ErrNotFound):
		w.showCompose(c, http.StatusBadRequest, userError(err), d)
		return
	case err != nil:
		w.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/app/threads/"+id.String())
}

// socket upgrades to the live-update WebSocket.
func (w *Web) socket(c *gin.Context) {
	s := sessionOf(c)
	w.serveSocket(c.Writer, c.Request, s, tokenHash(c.GetString(keyToken)))
}
