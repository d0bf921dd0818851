package threads_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"pagebridge/gateway/paging"
	"pagebridge/gateway/threads"
	"pagebridge/storage"
)

// pngOf is a small valid PNG.
func pngOf(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// The type comes from the bytes: a name or a claim changes nothing.
func TestAttachmentPolicy(t *testing.T) {
	p := threads.AttachmentPolicy{MaxSize: 1000, Types: threads.DefaultAttachmentPolicy.Types}
	img := pngOf(t)
	cases := []struct {
		name     string
		file     threads.File
		wantType string
		wantName string
		wantErr  error
	}{
		{"png", threads.File{Name: "wound.png", Data: img}, "image/png", "wound.png", nil},
		{"png named pdf", threads.File{Name: "report.pdf", Data: img}, "image/png", "report.pdf", nil},
		{"pdf", threads.File{Name: "labs.pdf", Data: []byte("%PDF-1.7\n...")}, "application/pdf", "labs.pdf", nil},
		{"text", threads.File{Name: "notes.txt", Data: []byte("plain words")}, "text/plain", "notes.txt", nil},
		{"path in name", threads.File{Name: `C:\Users\x\Desktop\a.png`, Data: img}, "image/png", "a.png", nil},
		{"unix path", threads.File{Name: "../../etc/a.png", Data: img}, "image/png", "a.png", nil},
		{"control characters", threads.File{Name: "a\r\nb.png", Data: img}, "image/png", "ab.png", nil},
		{"no name", threads.File{Data: img}, "image/png", "file", nil},
		{"right-to-left override", threads.File{Name: "x\u202egnp.pdf", Data: img}, "image/png", "xgnp.pdf", nil},
		{"html named png", threads.File{Name: "x.png", Data: []byte("<html><script>alert(1)</script>")}, "", "", threads.ErrFileType},
		{"svg", threads.File{Name: "x.svg", Data: []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`)}, "", "", threads.ErrFileType},
		{"binary", threads.File{Name: "x.png", Data: []byte{0, 1, 2, 3, 0xff, 0xfe}}, "", "", threads.ErrFileType},
		{"zip", threads.File{Name: "x.docx", Data: []byte("PK\x03\x04rest")}, "", "", threads.ErrFileType},
		{"too large", threads.File{Name: "big.txt", Data: []byte(strings.Repeat("a", 1001))}, "", "", threads.ErrFileTooLarge},
		{"empty", threads.File{Name: "e.txt"}, "", "", paging.ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := p.Check([]threads.File{c.file})
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) || !errors.Is(err, paging.ErrInvalid) {
					t.Fatalf("error %v, want %v", err, c.wantErr)
				}
				if strings.Contains(err.Error(), c.file.Name) && c.file.Name != "" {
					t.Errorf("the error repeats the file name: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got[0].Type != c.wantType || got[0].Name.Reveal() != c.wantName {
				t.Errorf("stored as %q named %q, want %q %q", got[0].Type, got[0].Name.Reveal(), c.wantType, c.wantName)
			}
		})
	}
	if _, err := p.Check(make([]threads.File, 5)); !errors.Is(err, paging.ErrInvalid) {
		t.Errorf("five files: %v", err)
	}
	for typ, inline := range map[string]bool{"image/png": true, "image/jpeg": true, "image/webp": true, "image/svg+xml": false, "application/pdf": false, "text/plain": false} {
		if threads.InlineImage(typ) != inline {
			t.Errorf("InlineImage(%s) = %v", typ, !inline)
		}
	}
}

// A reply may be only a file; members download it, others may not, even
// with an access hook that lets them read the thread.
func TestAttachmentsInThread(t *testing.T) {
	r := newRig(t, func(o *threads.Options) {
		o.Access = func(_ context.Context, as threads.Caller, _ storage.Thread, _ threads.Action) bool {
			return as.Person == "op-1"
		}
	})
	ctx := context.Background()
	c := r.compose("dr-lee", person("dr-kim"), "photo follows")
	img := pngOf(t)
	msg, err := r.svc.Reply(ctx, as("dr-kim"), c.Thread.ID, threads.Content{Files: []threads.File{{Name: "wound.png", Data: img}}})
	if err != nil {
		t.Fatal(err)
	}
	a, data, err := r.svc.Attachment(ctx, as("dr-lee"), c.Thread.ID, msg, 0)
	if err != nil || !bytes.Equal(data, img) || a.Type != "image/png" || a.Name.Reveal() != "wound.png" {
		t.Fatalf("member's download: %+v, %d bytes, %v", a, len(data), err)
	}
	for _, who := range []string{"dr-ng", "op-1"} {
		if _, _, err := r.svc.Attachment(ctx, as(who), c.Thread.ID, msg, 0); !errors.Is(err, threads.ErrForbidden) {
			t.Errorf("%s: %v", who, err)
		}
	}
	// An SVG without an XML declaration sniffs as plain text: stored and
	// served as that, never as an image.
	svg, err := r.svc.Reply(ctx, as("dr-kim"), c.Thread.ID, threads.Content{Files: []threads.File{{Name: "x.svg", Data: []byte("<svg onload=alert(1)></svg>")}}})
	if err != nil {
		t.Fatal(err)
	}
	if a, _, err := r.svc.Attachment(ctx, as("dr-lee"), c.Thread.ID, svg, 0); err != nil || a.Type != "text/plain" || threads.InlineImage(a.Type) {
		t.Errorf("svg stored as %q (%v)", a.Type, err)
	}
	if got := r.audit("thread.attachment.read"); len(got) != 2 {
		t.Errorf("attachment reads audited: %v", got)
	}
}

// A search finds a caller's own threads only, is audited without the
// query, and refuses queries too short or too long.
func TestSearchOwnThreads(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	mine := r.compose("dr-lee", person("dr-kim"), "Potassium 6.9 in bed 12, Mrs Dupré")
	r.compose("dr-ng", person("op-1"), "potassium again in bed 12 — not dr-kim's thread")
	if _, err := r.svc.Reply(ctx, as("dr-kim"), mine.Thread.ID, threads.Content{Text: paging.NewPHI("seen"),
		Files: []threads.File{{Name: "ecg-potassium.png", Data: pngOf(t)}}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		query string
		hits  int
	}{
		{"potassium", 2}, // the message and the attachment's name
		{"POTASSIUM   bed", 1},
		{"dupre", 1}, // accents folded
		{"bed 13", 0},
		{"not dr-kim", 0}, // in a thread she is not in
	}
	for _, c := range cases {
		q, err := threads.ParseQuery(c.query)
		if err != nil {
			t.Fatal(err)
		}
		hits, rep, err := r.svc.Search(ctx, as("dr-kim"), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != c.hits || rep.Threads != 1 {
			t.Errorf("%q: %d hits in %d threads, want %d in 1", c.query, len(hits), rep.Threads, c.hits)
		}
		for _, h := range hits {
			if h.Thread.ID != mine.Thread.ID {
				t.Errorf("%q: hit in thread %s, not hers", c.query, h.Thread.ID)
			}
		}
	}
	for _, bad := range []string{"", " x ", strings.Repeat("a", threads.MaxQueryLen+1), "\xff\xfe"} {
		if _, err := threads.ParseQuery(bad); !errors.Is(err, paging.ErrInvalid) {
			t.Errorf("query %.10q: %v", bad, err)
		}
	}
	es, err := r.st.AuditEntries(ctx, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if e.Action == "thread.search" {
			n++
			if strings.Contains(strings.ToLower(e.Detail), "potassium") || strings.Contains(e.Detail, "bed") {
				t.Errorf("search audit holds the query: %+v", e)
			}
			if strings.HasSuffix(e.Detail, "1 found") || (strings.Contains(e.Detail, " 1 found:") && !strings.Contains(e.Detail, mine.Thread.ID.String())) {
				t.Errorf("search audit does not name what it found: %+v", e)
			}
		}
	}
	if n != len(cases) {
		t.Errorf("%d searches audited, want %d", n, len(cases))
	}
}

// A query that parses matches its own text; none panics.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"potassium bed 12", "Dupré", "  x  y ", "\xff", strings.Repeat("ab ", 20), "İstanbul ß ﬁ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := threads.ParseQuery(s)
		if err != nil {
			if !errors.Is(err, paging.ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if !q.Match(s) {
			t.Fatalf("query %q does not match its own text", s)
		}
	})
}

// Whatever name and bytes come, Check stores a clean name and an allowed
// type, or refuses with ErrInvalid.
func FuzzAttachmentCheck(f *testing.F) {
	f.Add("a.png", []byte("\x89PNG\r\n\x1a\n"))
	f.Add(`C:\x\..\y.txt`, []byte("text"))
	f.Add("\x00\n/", []byte("%PDF-"))
	f.Add(strings.Repeat("é", 200), []byte("GIF89a"))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		p := threads.DefaultAttachmentPolicy
		got, err := p.Check([]threads.File{{Name: name, Data: data}})
		if err != nil {
			if !errors.Is(err, paging.ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		n := got[0].Name.Reveal()
		if n == "" || len(n) > storage.MaxAttachmentNameLen || !utf8.ValidString(n) || strings.ContainsAny(n, "/\\\x00\n\r\x7f") {
			t.Fatalf("name %q stored from %q", n, name)
		}
		if !slices.Contains(p.Types, got[0].Type) {
			t.Fatalf("type %q stored", got[0].Type)
		}
	})
}
