package ui

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestProbesAndHeaders(t *testing.T) {
	var storeErr error
	r := New(Options{
		Ready:   []Check{{Name: "store", Check: func(context.Context) error { return storeErr }}},
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "pagebridge_up 1\n") }),
		Status: func(context.Context) Status {
			return Status{Hostname: "<script>alert(1)</script>", Version: "v1", Started: time.Unix(0, 0), Pages: 7}
		},
		Version: "v1",
	})
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w
	}
	for _, c := range []struct {
		path   string
		status int
		body   string
	}{
		{"/healthz", 200, "ok"},
		{"/readyz", 200, "ready"},
		{"/metrics", 200, "pagebridge_up 1"},
		{"/static/pagebridge.css", 200, "--ok"},
		{"/nope", 404, ""},
	} {
		w := get(c.path)
		if w.Code != c.status || !strings.Contains(w.Body.String(), c.body) {
			t.Errorf("%s: %d %q", c.path, w.Code, w.Body.String())
		}
		h := w.Header()
		if !strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") || h.Get("X-Frame-Options") != "DENY" ||
			h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: security headers missing: %v", c.path, h)
		}
	}
	storeErr = errors.New("last commit failed")
	if w := get("/readyz"); w.Code != 503 || !strings.Contains(w.Body.String(), "store: last commit failed") {
		t.Errorf("readyz with a failing store: %d %s", w.Code, w.Body.String())
	}
	w := get("/")
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, "Not ready") || !strings.Contains(body, "<dd>7</dd>") {
		t.Errorf("status page: %d\n%s", w.Code, body)
	}
	if strings.Contains(body, "<script>alert") || !strings.Contains(body, "&lt;script&gt;") {
		t.Error("status page did not escape its input")
	}
	if strings.Contains(body, "<script") {
		t.Error("status page carries inline script")
	}
}

// TestSharedHeaderValuesStayIntact: the header values are shared slices; an
// Add on one response must not leak into the next.
func TestSharedHeaderValuesStayIntact(t *testing.T) {
	r := New(Options{})
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
	w.Header().Add("Cache-Control", "private")
	w2 := httptest.NewRecorder()
	r.ServeHTTP(w2, httptest.NewRequest("GET", "/healthz", nil))
	if got := w2.Header().Values("Cache-Control"); len(got) != 1 || got[0] != "no-store" {
		t.Fatalf("an Add on one response changed the next: %v", got)
	}
}
