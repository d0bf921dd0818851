package wctp

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"pagebridge/gateway/paging"
)

// BenchmarkParse parses the testdata SubmitRequest (a real sender's
// ~700-byte document: XML declaration, DOCTYPE, indentation, an entity in
// the text).
func BenchmarkParse(b *testing.B) {
	body, err := os.ReadFile("testdata/submitrequest-v1r3.xml")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := Parse(body); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandler runs ServeHTTP end to end on the testdata SubmitRequest
// with in-memory fakes and the gateway's kind of logger (text, to
// io.Discard): what the handler costs per accepted page, without TLS, HTTP
// framing or the store. The request and response writer are reused so that
// allocs/op counts the handler's allocations only.
func BenchmarkHandler(b *testing.B) {
	body, err := os.ReadFile("testdata/submitrequest-v1r3.xml")
	if err != nil {
		b.Fatal(err)
	}
	cfg := testConfig()
	cfg.NewID = nil // the real one
	h, err := NewHandler(cfg, discardAccepter{}, &fakeDirectory{ids: map[string]paging.PagerID{
		"4711": {ID: "4711", Target: paging.Target{Kind: paging.TargetRole, ID: "4w-charge"}},
	}}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	rb := &rewindBody{}
	r := httptest.NewRequest(http.MethodPost, "/wctp", nil)
	r.Header.Set("Content-Type", "text/xml; charset=utf-8")
	r.RemoteAddr = "192.0.2.10:50123"
	r.ContentLength = int64(len(body))
	r.Body = rb
	w := &discardWriter{hdr: http.Header{}}

	serve := func() {
		rb.Reset(body)
		clear(w.hdr)
		w.status, w.n = 0, 0
		h.ServeHTTP(w, r)
		if w.status != http.StatusOK || w.n < 200 {
			b.Fatalf("status %d, %d bytes", w.status, w.n)
		}
	}
	serve()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		serve()
	}
}

// discardAccepter validates like a store and keeps nothing.
type discardAccepter struct{}

func (discardAccepter) Accept(ctx context.Context, m *paging.Message, by paging.AuditEvent) error {
	return m.Validate()
}

// rewindBody is a request body that can be read again.
type rewindBody struct{ bytes.Reader }

func (*rewindBody) Close() error { return nil }

// discardWriter is a ResponseWriter that keeps only the status and length.
type discardWriter struct {
	hdr    http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.hdr }
func (w *discardWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}
