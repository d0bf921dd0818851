package wctp

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"pagebridge/gateway/paging"
)

// fakeAccepter stores accepted messages in memory.
type fakeAccepter struct {
	mu    sync.Mutex
	calls int
	msgs  []paging.Message
	evs   []paging.AuditEvent
	// err, if set, is returned instead of storing.
	err error
	// before, if set, runs at the start of every Accept.
	before func()
}

var _ paging.Accepter = (*fakeAccepter)(nil)

func (f *fakeAccepter) Accept(ctx context.Context, m *paging.Message, by paging.AuditEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.before != nil {
		f.before()
	}
	if f.err != nil {
		return f.err
	}
	if err := m.Validate(); err != nil {
		return err
	}
	f.msgs = append(f.msgs, *m)
	f.evs = append(f.evs, by)
	return nil
}

func (f *fakeAccepter) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeAccepter) Messages() ([]paging.Message, []paging.AuditEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]paging.Message(nil), f.msgs...), append([]paging.AuditEvent(nil), f.evs...)
}

// fakeDirectory knows a fixed set of pager IDs.
type fakeDirectory struct {
	ids map[string]paging.PagerID
	// err, if set, is returned by every lookup.
	err error
}

var _ paging.Directory = (*fakeDirectory)(nil)

func (d *fakeDirectory) PagerID(ctx context.Context, id string) (paging.PagerID, error) {
	if d.err != nil {
		return paging.PagerID{}, d.err
	}
	p, ok := d.ids[id]
	if !ok {
		return paging.PagerID{}, fmt.Errorf("pager id %q: %w", id, paging.ErrNotFound)
	}
	return p, nil
}

func (d *fakeDirectory) Person(ctx context.Context, id string) (paging.Person, error) {
	return paging.Person{}, fmt.Errorf("person %q: %w", id, paging.ErrNotFound)
}

func (d *fakeDirectory) Role(ctx context.Context, id string) (paging.Role, error) {
	return paging.Role{}, fmt.Errorf("role %q: %w", id, paging.ErrNotFound)
}

func (d *fakeDirectory) Group(ctx context.Context, id string) (paging.Group, error) {
	return paging.Group{}, fmt.Errorf("group %q: %w", id, paging.ErrNotFound)
}

// Test fixtures.
var (
	testNow = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	// phiMarker appears in every test page's text; it must never appear in
	// a reply or a log line.
	phiMarker = "PATIENT-SMITH"
)

// fixedID makes deterministic IDs: t's milliseconds and a fixed entropy.
func fixedID(t time.Time) paging.ID {
	var id paging.ID
	if err := id.SetTime(uint64(t.UnixMilli())); err != nil {
		panic(err)
	}
	if err := id.SetEntropy([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}); err != nil {
		panic(err)
	}
	return id
}

func testConfig() Config {
	return Config{
		Senders: []Sender{
			{ID: "nursecall-4w", SecurityCode: "s3cret-4w", Line: "4W nurse call"},
			{ID: "myLoginName", SecurityCode: "mySecretPassword"},
		},
		Clients: []Client{{ID: "answering-svc", Password: "client-pw"}},
		NewID:   fixedID,
	}
}

// env is a handler wired to fakes, with its log captured.
type env struct {
	h   *Handler
	acc *fakeAccepter
	dir *fakeDirectory
	tr  *fakeTracker
	log *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t *testing.T, edit func(*Config)) *env {
	t.Helper()
	cfg := testConfig()
	tr := newFakeTracker()
	cfg.Tracker = tr
	if edit != nil {
		edit(&cfg)
	}
	e := &env{
		tr:  tr,
		acc: &fakeAccepter{},
		dir: &fakeDirectory{ids: map[string]paging.PagerID{
			"4711":       {ID: "4711", Target: paging.Target{Kind: paging.TargetRole, ID: "4w-charge"}},
			"8005551212": {ID: "8005551212", Target: paging.Target{Kind: paging.TargetPerson, ID: "dr-lee"}},
		}},
		log: &syncBuffer{},
	}
	log := slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h, err := NewHandler(cfg, e.acc, e.dir, paging.ClockFunc(func() time.Time { return testNow }), log)
	if err != nil {
		t.Fatalf("NewHandler: %v", err)
	}
	e.h = h
	t.Cleanup(func() {
		if strings.Contains(e.log.String(), phiMarker) || strings.Contains(e.log.String(), "PATIENT-JONES") {
			t.Errorf("log carries page text:\n%s", e.log)
		}
		for _, secret := range []string{"s3cret-4w", "mySecretPassword", "client-pw"} {
			if strings.Contains(e.log.String(), secret) {
				t.Errorf("log carries a secret:\n%s", e.log)
			}
		}
	})
	return e
}

// post sends body to the handler as a WCTP request.
func (e *env) post(t *testing.T, body string) *httptest.ResponseRecorder {
	t.Helper()
	return e.do(t, http.MethodPost, "text/xml; charset=utf-8", body)
}

func (e *env) do(t *testing.T, method, contentType, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, "/wctp", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	if strings.Contains(w.Body.String(), phiMarker) {
		t.Errorf("reply echoes page text:\n%s", w.Body)
	}
	return w
}

// wctpReply checks that w is a WCTP document in HTTP 200 and parses it.
func wctpReply(t *testing.T, w *httptest.ResponseRecorder) Response {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("HTTP status = %d, want 200; body %q", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "text/xml; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	body := w.Body.String()
	if !strings.HasPrefix(body, `<?xml version="1.0" encoding="UTF-8"?>`+"\n<!DOCTYPE wctp-Operation SYSTEM ") {
		t.Errorf("reply lacks the XML declaration and DOCTYPE:\n%s", body)
	}
	resp, err := ParseResponse(w.Body.Bytes())
	if err != nil {
		t.Fatalf("ParseResponse: %v\n%s", err, body)
	}
	if want := CodeText(resp.Code); resp.Text != want {
		t.Errorf("text = %q, want %q", resp.Text, want)
	}
	return resp
}

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// replace replaces old, which must occur in s, by new.
func replace(t testing.TB, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("replace: %q not in test input", old)
	}
	return strings.Replace(s, old, new, 1)
}

// swap exchanges a and b, which must both occur in s.
func swap(t testing.TB, s, a, b string) string {
	t.Helper()
	s = replace(t, s, a, "\x00swap\x00")
	s = replace(t, s, b, a)
	return replace(t, s, "\x00swap\x00", b)
}
