package ui

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"pagebridge/gateway/paging"
)

// memFiles is the Files port over memMessaging's threads.
type memFiles struct {
	msg *memMessaging

	mu       sync.Mutex
	data     map[string][]byte // URL → bytes
	searches int
}

func (f *memFiles) ReplyWithFiles(_ context.Context, as Caller, id paging.ID, text paging.PHI, us []Upload) error {
	f.msg.mu.Lock()
	defer f.msg.mu.Unlock()
	t, err := f.msg.thread(as, id)
	if err != nil {
		return err
	}
	m := Message{ID: paging.NewID(time.Now()), Author: as.Person, AuthorName: as.Person, At: time.Now(), Text: text}
	f.mu.Lock()
	defer f.mu.Unlock()
	for n, u := range us {
		if strings.HasSuffix(u.Name, ".exe") {
			return fmt.Errorf("%w attachment: type not allowed", paging.ErrInvalid)
		}
		typ := http.DetectContentType(u.Data)
		typ, _, _ = strings.Cut(typ, ";")
		a := Attachment{Thread: id, Message: m.ID, N: n, Name: paging.NewPHI(u.Name), Type: typ, Size: int64(len(u.Data)), Inline: typ == "image/png"}
		f.data[a.URL()] = u.Data
		m.Attachments = append(m.Attachments, a)
	}
	t.view.Messages = append(t.view.Messages, m)
	return nil
}

func (f *memFiles) Attachment(_ context.Context, as Caller, id, msg paging.ID, n int) (Attachment, []byte, error) {
	f.msg.mu.Lock()
	defer f.msg.mu.Unlock()
	t, err := f.msg.thread(as, id)
	if err != nil {
		return Attachment{}, nil, err
	}
	for _, m := range t.view.Messages {
		if m.ID == msg && n < len(m.Attachments) {
			a := m.Attachments[n]
			f.mu.Lock()
			defer f.mu.Unlock()
			return a, f.data[a.URL()], nil
		}
	}
	return Attachment{}, nil, paging.ErrNotFound
}

func (f *memFiles) Search(_ context.Context, as Caller, query string) (SearchResult, error) {
	f.mu.Lock()
	f.searches++
	f.mu.Unlock()
	if len(query) < 2 {
		return SearchResult{}, fmt.Errorf("%w search: at least 2 letters", paging.ErrInvalid)
	}
	f.msg.mu.Lock()
	defer f.msg.mu.Unlock()
	var out SearchResult
	for id, t := range f.msg.threads {
		if !slices.Contains(t.members, as.Person) {
			continue
		}
		out.Threads++
		for _, m := range t.view.Messages {
			out.Messages++
			if strings.Contains(m.Text.Reveal(), query) {
				out.Hits = append(out.Hits, SearchHit{Thread: id, Label: t.view.Label, Message: m.ID, At: m.At, AuthorName: m.AuthorName, Text: m.Text})
			}
		}
	}
	return out, nil
}

// newFilesRig is a rig whose web app has the Files port.
func newFilesRig(t *testing.T) (*rig, *memFiles) {
	t.Helper()
	r := newRig(t)
	f := &memFiles{msg: r.msg, data: map[string][]byte{}}
	r.web.files = f
	r.srv.Close()
	r.srv = httptest.NewServer(New(Options{Web: r.web}))
	t.Cleanup(r.srv.Close)
	return r, f
}

// part is a multipart form's field or file.
type part struct{ name, filename, value string }

// post sends a multipart form as b's page would.
func (b *browser) post(path string, parts ...part) response {
	b.r.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p.filename != "" {
			w, err = mw.CreateFormFile(p.name, p.filename)
		} else {
			w, err = mw.CreateFormField(p.name)
		}
		if err != nil {
			b.r.t.Fatal(err)
		}
		io.WriteString(w, p.value)
	}
	mw.Close()
	return b.send(http.MethodPost, path, &body, "Content-Type", mw.FormDataContentType())
}

func testPNG(t *testing.T) string {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 3, 3))); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// A reply with an image shows its preview; the file is served with its
// stored type, never sniffed, inline only for an image, in a sandbox;
// others get 403, and an upload too large is refused before it is read.
func TestAttachmentUploadAndDownload(t *testing.T) {
	r, f := newFilesRig(t)
	id := r.msg.addThread("4W · pager 1002", "Bed 12", "amara", "kim")
	r.acc.add(t, "kim", RoleClinician, "kim's password", "")
	r.acc.add(t, "other", RoleClinician, "other's password", "")
	amara := r.browser()
	amara.signin("amara", "correct horse battery", "")
	csrf := amara.csrf()
	img := testPNG(t)
	resp := amara.post("/app/threads/"+id.String()+"/reply", part{name: "csrf", value: csrf}, part{name: "text", value: "photo"},
		part{name: "file", filename: `C:\photos\wound <1>.png`, value: img}, part{name: "file", filename: "notes.txt", value: "plain notes <script>alert(1)</script>"})
	if resp.status != http.StatusSeeOther {
		t.Fatalf("reply with files: %d %s", resp.status, resp.body)
	}
	page := amara.do(http.MethodGet, "/app/threads/"+id.String(), nil)
	msgs := r.msg.threads[id].view.Messages
	atts := msgs[len(msgs)-1].Attachments
	if len(atts) != 2 {
		t.Fatalf("%d attachments stored", len(atts))
	}
	imgURL, txtURL := atts[0].URL(), atts[1].URL()
	if !strings.Contains(page.body, `<img class="preview" src="`+imgURL+`"`) || strings.Contains(page.body, `src="`+txtURL+`"`) {
		t.Errorf("the thread shows no preview of the image, or one of the text:\n%s", page.body)
	}
	if !strings.Contains(page.body, "wound &lt;1&gt;.png") {
		t.Error("the file name is not shown escaped")
	}

	kim := r.browser()
	kim.signin("kim", "kim's password", "")
	for _, c := range []struct {
		url, typ, disposition, body string
	}{
		{imgURL, "image/png", `inline; filename="C:\\photos\\wound <1>.png"`, img},
		{txtURL, "text/plain; charset=utf-8", `attachment; filename=notes.txt`, "plain notes <script>alert(1)</script>"},
	} {
		resp := kim.do(http.MethodGet, c.url, nil)
		h := resp.header
		if resp.status != http.StatusOK || resp.body != c.body {
			t.Errorf("%s: %d, %d bytes", c.url, resp.status, len(resp.body))
		}
		for k, want := range map[string]string{"Content-Type": c.typ, "Content-Disposition": c.disposition,
			"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox", "Cache-Control": "no-store"} {
			if got := h.Get(k); got != want {
				t.Errorf("%s: %s %q, want %q", c.url, k, got, want)
			}
		}
	}
	other := r.browser()
	other.signin("other", "other's password", "")
	if resp := other.do(http.MethodGet, imgURL, nil); resp.status != http.StatusForbidden || strings.Contains(resp.body, "PNG") {
		t.Errorf("a non-member's download: %d", resp.status)
	}
	if resp := amara.do(http.MethodGet, "/app/threads/"+id.String()+"/messages/nonsense/files/0", nil); resp.status != http.StatusNotFound {
		t.Errorf("a bad message ID: %d", resp.status)
	}

	// Too large: refused on its Content-Length, before the form is read.
	before := len(r.msg.threads[id].view.Messages)
	big := strings.Repeat("x", DefaultMaxUpload)
	resp = amara.post("/app/threads/"+id.String()+"/reply", part{name: "csrf", value: csrf}, part{name: "file", filename: "big.txt", value: big})
	if resp.status != http.StatusRequestEntityTooLarge {
		t.Errorf("too large: %d %s", resp.status, resp.body)
	}
	// A type the port refuses: the thread again, with why.
	resp = amara.post("/app/threads/"+id.String()+"/reply", part{name: "csrf", value: csrf}, part{name: "file", filename: "x.exe", value: "MZ"})
	if resp.status != http.StatusBadRequest || !strings.Contains(resp.body, "attachment: type not allowed") {
		t.Errorf("refused type: %d", resp.status)
	}
	// Without the CSRF token: refused, nothing posted.
	resp = amara.post("/app/threads/"+id.String()+"/reply", part{name: "file", filename: "a.png", value: img})
	if resp.status != http.StatusForbidden {
		t.Errorf("no CSRF token: %d", resp.status)
	}
	if after := len(r.msg.threads[id].view.Messages); after != before {
		t.Errorf("%d messages posted by refused uploads", after-before)
	}
	if n := len(f.data); n != 2 {
		t.Errorf("%d files stored, want 2", n)
	}
}

// Search is a POST (the query in no URL) and shows the port's hits, text
// escaped.
func TestSearchPage(t *testing.T) {
	r, f := newFilesRig(t)
	r.msg.addThread("mine", "potassium <b>6.9</b> bed 12", "amara")
	r.msg.addThread("not mine", "potassium elsewhere", "kim")
	amara := r.browser()
	amara.signin("amara", "correct horse battery", "")
	if resp := amara.do(http.MethodGet, "/app/search", nil); resp.status != http.StatusOK || !strings.Contains(resp.body, `id="search-form"`) {
		t.Fatalf("search page: %d", resp.status)
	}
	csrf := amara.csrf()
	resp := amara.do(http.MethodPost, "/app/search", url.Values{"csrf": {csrf}, "q": {"potassium"}})
	if resp.status != http.StatusOK || !strings.Contains(resp.body, "potassium &lt;b&gt;6.9&lt;/b&gt; bed 12") || strings.Contains(resp.body, "elsewhere") {
		t.Errorf("results: %d\n%s", resp.status, resp.body)
	}
	if !strings.Contains(resp.body, "1 found in 1 threads") {
		t.Error("no summary")
	}
	if resp := amara.do(http.MethodPost, "/app/search", url.Values{"csrf": {csrf}, "q": {"x"}}); resp.status != http.StatusBadRequest || !strings.Contains(resp.body, "at least 2 letters") {
		t.Errorf("short query: %d", resp.status)
	}
	if resp := amara.do(http.MethodPost, "/app/search", url.Values{"q": {"potassium"}}); resp.status != http.StatusForbidden {
		t.Errorf("search without CSRF token: %d", resp.status)
	}
	if f.searches != 2 {
		t.Errorf("%d searches reached the port, want 2", f.searches)
	}
}
