package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"pagebridge/gateway/engine"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/threads"
	"pagebridge/storage"
)

// Prefix is where Register mounts the API.
const Prefix = "/api/v1"

// Limits on request bodies.
const (
	MaxJSONBody = 1 << 20 // a schedule at its limits is about 600 KB
	MaxCSVBody  = 8 << 20 // 50,000 rows of about 150 bytes
)

// Pages is what the API needs of the delivery engine; *engine.Engine
// implements it.
type Pages interface {
	Routes(ctx context.Context, limit int, fn func(engine.Route) error) error
	Route(ctx context.Context, msg paging.ID) (engine.Route, error)
	Acknowledge(ctx context.Context, msg paging.ID, person string, channel paging.Channel) (engine.Route, error)
}

var _ Pages = (*engine.Engine)(nil)

// Deps are what the API works with.
type Deps struct {
	Store *storage.Store
	// Engine serves the pages endpoints; nil answers them 503.
	Engine Pages
	// Clock decides token expiry, the calendar feeds' range and the
	// default instant of on-call queries. Default: the system clock.
	Clock  paging.Clock
	Logger *slog.Logger
	// Agents, if set, serves GET /api/v1/agents (hardware health, no PHI)
	// behind the API's authorisation: the value is encoded as JSON. Leave
	// it nil while the gateway serves that path itself.
	Agents func(ctx context.Context) any
	// FeedPast and FeedAhead bound a calendar feed around now (defaults
	// 30 and 90 days).
	FeedPast, FeedAhead time.Duration
	// Threads serves the secure-threads endpoints (inbox, threads,
	// messages, colleagues, receipts); nil answers them 503. Templates
	// are served from Store and work without it. Leave its Access hook
	// nil: the API lets members only into a thread (see the package doc).
	Threads *threads.Service
	// FilesBody bounds the body of a message that carries files (default
	// DefaultFilesBody).
	FilesBody int64
}

// API is the gateway's JSON API.
type API struct {
	st        *storage.Store
	pages     Pages
	clock     paging.Clock
	log       *slog.Logger
	agents    func(ctx context.Context) any
	threads   *threads.Service
	feedPast  time.Duration
	feedAhead time.Duration
	filesBody int64
	routes    []*route
}

// New returns the API; Register mounts it.
func New(deps Deps) *API {
	a := &API{st: deps.Store, pages: deps.Engine, clock: deps.Clock, log: deps.Logger, agents: deps.Agents,
		threads: deps.Threads, feedPast: deps.FeedPast, feedAhead: deps.FeedAhead, filesBody: deps.FilesBody}
	if a.filesBody <= 0 {
		a.filesBody = DefaultFilesBody
	}
	if a.clock == nil {
		a.clock = paging.SystemClock{}
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.log = a.log.With("component", "api")
	if a.feedPast <= 0 {
		a.feedPast = 30 * 24 * time.Hour
	}
	if a.feedAhead <= 0 {
		a.feedAhead = 90 * 24 * time.Hour
	}
	a.routes = a.table()
	return a
}

// Register mounts every route under Prefix on r.
func (a *API) Register(r gin.IRouter) {
	g := r.Group(Prefix)
	for _, rt := range a.routes {
		g.Handle(rt.Method, rt.Path, a.serve(rt))
	}
}

// Route is one endpoint and who may call it.
type Route struct {
	Method string
	// Path is the gin pattern, Prefix included ("/api/v1/people/:id").
	Path string
	// Roles that may call it; nil for the two public endpoints (the
	// OpenAPI document, and calendar feeds, which carry their own token).
	Roles []Role
	// Scope a narrowed token must hold.
	Scope Scope
	// AsPerson are the roles whose token must act as a person to call
	// it: the call is made as that person (their inbox, their threads).
	// A token of such a role that acts as nobody is refused (403).
	AsPerson []Role
}

// Routes lists every endpoint Register mounts, with the roles allowed.
func (a *API) Routes() []Route {
	out := make([]Route, len(a.routes))
	for i, rt := range a.routes {
		out[i] = Route{Method: rt.Method, Path: Prefix + rt.Path, Roles: slices.Clone(rt.Roles), Scope: rt.Scope,
			AsPerson: slices.Clone(rt.AsPerson)}
	}
	return out
}

// route is an entry of the route table.
type route struct {
	Method string
	Path   string // under Prefix
	Roles  []Role // nil: public
	Scope  Scope
	// AsPerson: roles that must act as a person here (see Route).
	AsPerson []Role
	// Object is the audit entry's object, ":name" taking the path
	// parameter's value; a handler may set call.object instead (the
	// calendar feed, whose parameter is a secret).
	Object string
	handle func(c *gin.Context, k *call) (reply, error)
}

// call is one request on its way through: who makes it and what the
// audit entry will say.
type call struct {
	tok    *TokenRecord // nil on public routes
	actor  string
	object string
	source string
	action string
}

// by is the audit event for a store write made by this call: the store
// fills in its action and object.
func (k *call) by() paging.AuditEvent {
	return paging.AuditEvent{Actor: k.actor, Source: k.source, Detail: k.action}
}

// reply is a response, written only once the call is audited.
type reply struct {
	status      int
	contentType string
	body        []byte
	header      map[string]string
}

func jsonReply(status int, v any) (reply, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return reply{}, fmt.Errorf("encode reply: %w", err)
	}
	return reply{status: status, contentType: "application/json; charset=utf-8", body: b}, nil
}

func noContent() (reply, error) { return reply{status: http.StatusNoContent}, nil }

// Errors of the API's own, besides the domain's.
var (
	errForbidden   = errors.New("forbidden")
	errTooLarge    = errors.New("request body too large")
	errUnsupported = errors.New("unsupported media type")
)

// Log keys.
const (
	logRoute  = "route"
	logStatus = "status"
	logSource = "source"
	logActor  = "actor"
	logReason = "reason"
	logErr    = "err"
)

// serve runs one call: authenticate, authorise, handle, audit, and only
// then answer. A call whose audit entry cannot be written gets 503 and
// none of what it asked for.
func (a *API) serve(rt *route) gin.HandlerFunc {
	action := "api." + rt.Method + " " + Prefix + rt.Path
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		k := &call{actor: "anonymous", object: expand(rt.Object, c), source: c.RemoteIP(), action: action}
		if rt.Roles != nil {
			tok, why, err := a.authenticate(ctx, c.GetHeader("Authorization"))
			switch {
			case err != nil:
				a.finish(c, k, a.errorReply(k, err))
				return
			case tok == nil:
				a.refuse(c, k, http.StatusUnauthorized, why)
				return
			}
			k.tok, k.actor = tok, tok.actor()
			if !slices.Contains(rt.Roles, tok.Role) {
				a.refuse(c, k, http.StatusForbidden, fmt.Sprintf("role %s may not call this", tok.Role))
				return
			}
			if len(tok.Scopes) > 0 && !slices.Contains(tok.Scopes, rt.Scope) {
				a.refuse(c, k, http.StatusForbidden, fmt.Sprintf("token lacks scope %s", rt.Scope))
				return
			}
			if tok.Person == "" && slices.Contains(rt.AsPerson, tok.Role) {
				a.refuse(c, k, http.StatusForbidden, fmt.Sprintf("token %s acts as nobody, and this call is made as the "+
					"token's person: use a token created with a person", tok.ID))
				return
			}
		}
		rep, err := rt.handle(c, k)
		if err != nil {
			if errors.Is(err, errForbidden) {
				a.refuse(c, k, http.StatusForbidden, err.Error())
				return
			}
			rep = a.errorReply(k, err)
		}
		a.finish(c, k, rep)
	}
}

// refuse answers 401 or 403, audited and logged.
func (a *API) refuse(c *gin.Context, k *call, status int, why string) {
	a.log.Warn("API call refused", logRoute, k.action, logStatus, status, logActor, k.actor, logSource, k.source, logReason, why)
	rep, _ := jsonReply(status, errorBody{Error: why})
	if status == http.StatusUnauthorized {
		rep.header = map[string]string{"WWW-Authenticate": `Bearer realm="pagebridge"`}
	}
	a.finish(c, k, rep)
}

// finish audits the call with its outcome and writes the reply.
func (a *API) finish(c *gin.Context, k *call, rep reply) {
	detail := fmt.Sprintf("status %d", rep.status)
	if rep.status >= 400 {
		var e errorBody
		if json.Unmarshal(rep.body, &e) == nil && e.Error != "" {
			detail += ": " + e.Error
		}
	}
	// The client may have gone: the entry is written all the same.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), 10*time.Second)
	defer cancel()
	err := a.st.Audit(ctx, time.Time{}, paging.AuditEvent{Actor: k.actor, Action: k.action, Object: k.object, Source: k.source, Detail: detail})
	if err != nil {
		a.log.Error("API call not audited; reply withheld", logRoute, k.action, logActor, k.actor, logErr, err)
		if rep.status < 400 {
			rep, _ = jsonReply(http.StatusServiceUnavailable, errorBody{Error: "the audit log is unavailable; try again"})
		}
	}
	for h, v := range rep.header {
		c.Header(h, v)
	}
	if len(rep.body) == 0 {
		c.Status(rep.status)
		c.Writer.WriteHeaderNow()
		return
	}
	c.Data(rep.status, rep.contentType, rep.body)
}

type errorBody struct {
	Error string `json:"error"`
}

// errorReply maps an error to its status. Messages of the domain's
// errors name records and fields, never PHI; anything unexpected is
// logged and answered without detail.
func (a *API) errorReply(k *call, err error) reply {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, errTooLarge):
		status = http.StatusRequestEntityTooLarge
	case errors.Is(err, errUnsupported):
		status = http.StatusUnsupportedMediaType
	case errors.Is(err, storage.ErrInUse), errors.Is(err, errExport):
		status = http.StatusConflict
	case errors.Is(err, paging.ErrInvalid):
		status = http.StatusBadRequest
	case errors.Is(err, paging.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, paging.ErrTemporary), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		status = http.StatusServiceUnavailable
	}
	msg := err.Error()
	switch status {
	case http.StatusInternalServerError:
		a.log.Error("API call failed", logRoute, k.action, logActor, k.actor, logErr, err)
		msg = "internal error"
	case http.StatusServiceUnavailable:
		a.log.Warn("API call failed temporarily", logRoute, k.action, logActor, k.actor, logErr, err)
	}
	rep, _ := jsonReply(status, errorBody{Error: msg})
	return rep
}

// expand fills ":name" segments of an object template with the path's
// parameters.
func expand(tmpl string, c *gin.Context) string {
	if !strings.Contains(tmpl, ":") {
		return tmpl
	}
	parts := strings.Split(tmpl, "/")
	for i, p := range parts {
		if name, ok := strings.CutPrefix(p, ":"); ok {
			parts[i] = c.Param(name)
		}
	}
	return strings.Join(parts, "/")
}

// decode reads a JSON body of at most MaxJSONBody into v: one value, no
// unknown fields, nothing after it. An empty body is ErrInvalid unless
// optional.
func decode(c *gin.Context, v any, optional bool) error {
	return decodeLimit(c, v, optional, MaxJSONBody)
}

// decodeLimit is decode with a body of at most limit bytes.
func decodeLimit(c *gin.Context, v any, optional bool, limit int64) error {
	body := http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return fmt.Errorf("%w: at most %d bytes", errTooLarge, limit)
	case errors.Is(err, io.EOF) && optional:
		return nil
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%w body: empty, a JSON object is expected", paging.ErrInvalid)
	case err != nil:
		return fmt.Errorf("%w body: %v", paging.ErrInvalid, err)
	}
	if err := dec.Decode(&json.RawMessage{}); !errors.Is(err, io.EOF) {
		if errors.As(err, &tooLarge) {
			return fmt.Errorf("%w: at most %d bytes", errTooLarge, limit)
		}
		return fmt.Errorf("%w body: more than one JSON value", paging.ErrInvalid)
	}
	return nil
}

// readCSV reads a text/csv body of at most MaxCSVBody.
func readCSV(c *gin.Context) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "text/csv" {
		return nil, fmt.Errorf("%w: send the file as text/csv", errUnsupported)
	}
	b, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxCSVBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, fmt.Errorf("%w: at most %d bytes", errTooLarge, MaxCSVBody)
	}
	if err != nil {
		return nil, fmt.Errorf("%w body: %v", paging.ErrInvalid, err)
	}
	return b, nil
}

// pathBodyID reconciles the ID in the path with the one in the body: an
// empty body ID takes the path's.
func pathBodyID(c *gin.Context, param string, id *string) error {
	p := c.Param(param)
	switch *id {
	case "":
		*id = p
	case p:
	default:
		return fmt.Errorf("%w: the body's id %q is not the path's %q", paging.ErrInvalid, *id, p)
	}
	return nil
}

func forbidden(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errForbidden, fmt.Sprintf(format, a...))
}
