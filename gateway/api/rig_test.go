package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"pagebridge/gateway/api"
	"pagebridge/gateway/engine"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/threads"
	"pagebridge/storage"
	"pagebridge/storage/storagetest"
)

// clock is a test's controlled clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// syncBuffer collects log output from handlers on several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// rig is a real store, engine and threads service behind the API on a
// gin router, with a token of each role. The clinician token acts as
// "lee", a person in the directory; "kim" is another. The other roles'
// tokens act as nobody.
type rig struct {
	t      *testing.T
	st     *storage.Store
	clock  *clock
	eng    *engine.Engine
	thr    *threads.Service
	api    *api.API
	router *gin.Engine
	logs   *syncBuffer
	tok    map[api.Role]string
	tokID  map[api.Role]string
}

var seed = paging.AuditEvent{Actor: "test-setup"}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{t: t, clock: &clock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}, logs: &syncBuffer{},
		tok: map[api.Role]string{}, tokID: map[api.Role]string{}}
	r.st = storagetest.MustOpen(t, func(o *storage.Options) { o.Now = r.clock.Now })
	eng, err := engine.New(engine.Options{Store: r.st, Jobs: engine.OutboxJobs{Clock: r.clock}, Clock: r.clock,
		AgentOf: func(dev string) (string, bool) { return "agent-1", dev != "" }})
	if err != nil {
		t.Fatal(err)
	}
	r.eng = eng
	// As the gateway wires it: the engine's directory, no access hook.
	r.thr, err = threads.New(threads.Options{Store: r.st, Directory: eng, Clock: r.clock})
	if err != nil {
		t.Fatal(err)
	}
	r.api = api.New(api.Deps{Store: r.st, Engine: eng, Clock: r.clock, Threads: r.thr,
		Logger: slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Agents: func(context.Context) any { return map[string]any{"agents": []string{}} }})
	gin.SetMode(gin.TestMode)
	r.router = gin.New()
	r.api.Register(r.router)

	ctx := context.Background()
	for _, id := range []string{"lee", "kim"} {
		p := paging.Person{ID: id, Name: "Dr " + id, Stage: paging.StageApp, Endpoints: []paging.Endpoint{{Channel: paging.ChannelApp, Address: id}}}
		if err := r.st.PutPerson(ctx, p, seed); err != nil {
			t.Fatal(err)
		}
	}
	for _, role := range api.Roles {
		person := ""
		if role == api.RoleClinician {
			person = "lee"
		}
		secret, rec, err := api.CreateToken(ctx, r.st, "test "+string(role), string(role), person, 0, seed)
		if err != nil {
			t.Fatal(err)
		}
		r.tok[role], r.tokID[role] = secret, rec.ID
	}
	return r
}

// req is one request to the rig.
type req struct {
	method, path string
	token        string
	// body: a string or []byte is sent as is, anything else as JSON.
	body        any
	contentType string
}

type resp struct {
	code   int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (r resp) errorText(t *testing.T) string {
	t.Helper()
	var e struct{ Error string }
	r.json(t, &e)
	return e.Error
}

func (r *rig) do(q req) resp {
	r.t.Helper()
	var body io.Reader
	switch b := q.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			r.t.Fatal(err)
		}
		body = bytes.NewReader(raw)
		if q.contentType == "" {
			q.contentType = "application/json"
		}
	}
	hr := httptest.NewRequest(q.method, q.path, body)
	if q.token != "" {
		hr.Header.Set("Authorization", "Bearer "+q.token)
	}
	if q.contentType != "" {
		hr.Header.Set("Content-Type", q.contentType)
	}
	w := httptest.NewRecorder()
	r.router.ServeHTTP(w, hr)
	return resp{code: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

// as sends method path with role's token and wants status.
func (r *rig) as(role api.Role, method, path string, body any, status int) resp {
	r.t.Helper()
	res := r.do(req{method: method, path: path, token: r.tok[role], body: body})
	if res.code != status {
		r.t.Fatalf("%s %s as %s: status %d, want %d: %s", method, path, role, res.code, status, res.body)
	}
	return res
}

// audit returns every audit entry so far.
func (r *rig) audit() []storage.AuditEntry {
	r.t.Helper()
	es, err := r.st.AuditEntries(context.Background(), 0, 1<<20)
	if err != nil {
		r.t.Fatal(err)
	}
	return es
}

// page accepts a page to pagerID and lets the engine route it.
func (r *rig) page(pagerID, text string) paging.ID {
	r.t.Helper()
	m := &paging.Message{ID: paging.NewID(r.clock.Now()), Source: paging.Source{Protocol: paging.ProtocolWCTP, Line: "4W nurse call"},
		PagerID: pagerID, Priority: paging.PriorityHigh, Text: paging.NewPHI(text), Received: r.clock.Now()}
	if err := r.st.Accept(context.Background(), m, paging.AuditEvent{Actor: "wctp:test"}); err != nil {
		r.t.Fatal(err)
	}
	r.tick()
	return m.ID
}

func (r *rig) tick() {
	r.t.Helper()
	if err := r.eng.Tick(context.Background()); err != nil {
		r.t.Fatal(err)
	}
}
