package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"pagebridge/gateway/paging"
)

// memStaff is Dispatch and Profiles in memory.
type memStaff struct {
	mu       sync.Mutex
	pages    []PageRequest
	answers  map[paging.ID]map[string]string
	must     map[string]bool
	hashes   map[string]string
	photos   map[string][]byte
	presence map[string]ProfileUpdate
}

func newMemStaff() *memStaff {
	return &memStaff{answers: map[paging.ID]map[string]string{}, must: map[string]bool{}, hashes: map[string]string{},
		photos: map[string][]byte{}, presence: map[string]ProfileUpdate{}}
}

func (m *memStaff) Targets(context.Context) (DispatchTargets, error) {
	return DispatchTargets{Pagers: []PagerOption{{ID: "9999", Label: "Code blue", Target: "group:code-team"}},
		Groups: []Named{{ID: "code-team", Name: "Code blue team"}}, Roles: []Named{{ID: "cardiology", Name: "Cardiology"}}}, nil
}

func (m *memStaff) Page(_ context.Context, _ Caller, req PageRequest) (paging.ID, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pages = append(m.pages, req)
	return paging.NewID(time.Now()), nil
}

func (m *memStaff) Pages(context.Context, int) ([]PageSummary, error) { return nil, nil }
func (m *memStaff) Roster(_ context.Context, page paging.ID) (Roster, error) {
	return Roster{Page: PageSummary{ID: page}}, nil
}
func (m *memStaff) OnCall(_ context.Context, role string) (OnCallView, error) {
	return OnCallView{Role: role}, nil
}

func (m *memStaff) Respond(_ context.Context, as Caller, thread paging.ID, answer string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.answers[thread] == nil {
		m.answers[thread] = map[string]string{}
	}
	m.answers[thread][as.Person] = answer
	return nil
}

func (m *memStaff) Answer(_ context.Context, as Caller, thread paging.ID) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.answers[thread][as.Person], nil
}

func (m *memStaff) Hardware(context.Context) ([]HardwareAgent, error) {
	return []HardwareAgent{{ID: "agent-1", State: "online", Devices: []HardwareDevice{{Device: Device{ID: "modem-1", Kind: "modem", State: "ready"},
		Signal: 20, Bars: 4, Extra: []Field{{Group: "Air time", Label: "Used (s)", Value: "12.5"}}}}}}, nil
}

func (m *memStaff) Profile(_ context.Context, as Caller) (ProfileView, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.presence[as.Person]
	return ProfileView{Person: as.Person, Name: "Dr " + as.Person, Presence: p.Presence, Forward: p.Forward, Note: p.Note,
		HasPhoto: m.photos[as.Person] != nil}, nil
}

func (m *memStaff) SetPresence(_ context.Context, as Caller, u ProfileUpdate) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.presence[as.Person] = u
	return nil
}

func (m *memStaff) SetPreferences(context.Context, Caller, bool, bool) error { return nil }

func (m *memStaff) SetPhoto(_ context.Context, as Caller, _ string, b []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.photos[as.Person] = b
	return nil
}

func (m *memStaff) Photo(_ context.Context, person string) (string, []byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b := m.photos[person]; b != nil {
		return "image/png", b, nil
	}
	return "", nil, paging.ErrNotFound
}

func (m *memStaff) SetPassword(_ context.Context, _ Caller, username, hash string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hashes[username], m.must[username] = hash, false
	return nil
}

func (m *memStaff) MustChangePassword(_ context.Context, username string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.must[username], nil
}

func newStaffRig(t *testing.T) (*rig, *memStaff) {
	staff := newMemStaff()
	// The dispatcher signs in without a second factor here.
	r := newRigWith(t, func(o *WebOptions) { o.Dispatch, o.Profiles = staff, staff }, func(p *Policy) { p.MFARoles = []string{RoleAdmin} })
	return r, staff
}

func TestConsoleAndHardwareByRole(t *testing.T) {
	r, _ := newStaffRig(t)
	for _, c := range []struct {
		user, password, path string
		want                 int
	}{
		{"amara", "correct horse battery", "/app/dispatch", http.StatusForbidden},
		{"amara", "correct horse battery", "/app/hardware", http.StatusForbidden},
		{"amara", "correct horse battery", "/app/dispatch/pages.json", http.StatusForbidden},
		{"amara", "correct horse battery", "/app/profile", http.StatusOK},
		{"disp", "dispatcher pass", "/app/dispatch", http.StatusOK},
		{"disp", "dispatcher pass", "/app/hardware", http.StatusOK},
		{"disp", "dispatcher pass", "/app/hardware.json", http.StatusOK},
		{"disp", "dispatcher pass", "/app/dispatch/oncall.json?role=cardiology", http.StatusOK},
	} {
		b := r.browser()
		b.signin(c.user, c.password, "")
		if got := b.do(http.MethodGet, c.path, nil); got.status != c.want {
			t.Errorf("%s GET %s: %d, want %d", c.user, c.path, got.status, c.want)
		}
	}
	b := r.browser()
	b.signin("disp", "dispatcher pass", "")
	hw := b.do(http.MethodGet, "/app/hardware", nil)
	for _, want := range []string{`data-device="modem-1"`, `class="bars b4"`, `<dt class="group">Air time</dt><dt>Used (s)</dt><dd>12.5</dd>`} {
		if !strings.Contains(hw.body, want) {
			t.Errorf("hardware page lacks %q", want)
		}
	}
}

func TestCodeCall(t *testing.T) {
	r, staff := newStaffRig(t)
	b := r.browser()
	b.signin("disp", "dispatcher pass", "")
	csrf := b.csrf()
	ok := url.Values{"csrf": {csrf}, "code": {"Code Blue"}, "location": {"4W Rm 412"}, "to": {"group:code-team"}}
	for _, c := range []struct {
		name string
		form func(url.Values)
		want int
	}{
		{"no CSRF token", func(v url.Values) { v.Del("csrf") }, http.StatusForbidden},
		{"no location", func(v url.Values) { v.Set("location", " ") }, http.StatusBadRequest},
		{"to a person", func(v url.Values) { v.Set("to", "person:amara") }, http.StatusBadRequest},
		{"unknown call", func(v url.Values) { v.Set("code", "Code Purple<script>") }, http.StatusBadRequest},
		{"bad target", func(v url.Values) { v.Set("to", "code-team") }, http.StatusBadRequest},
		{"the call", func(url.Values) {}, http.StatusSeeOther},
	} {
		v := url.Values{}
		for k, x := range ok {
			v[k] = append([]string(nil), x...)
		}
		c.form(v)
		got := b.do(http.MethodPost, "/app/dispatch/code", v)
		if got.status != c.want {
			t.Errorf("%s: %d, want %d", c.name, got.status, c.want)
		}
		if c.want == http.StatusSeeOther && !strings.HasPrefix(got.header.Get("Location"), "/app/dispatch?page=") {
			t.Errorf("%s: to %q", c.name, got.header.Get("Location"))
		}
	}
	if len(staff.pages) != 1 {
		t.Fatalf("pages sent: %+v", staff.pages)
	}
	if p := staff.pages[0]; p.To != "group:code-team" || p.Priority != paging.PriorityCritical || p.Text.Reveal() != "Code Blue 4W Rm 412" {
		t.Errorf("the call went as %+v %q", p, p.Text.Reveal())
	}
	// A plain page with its priority; an empty one is refused.
	if got := b.do(http.MethodPost, "/app/dispatch/page", url.Values{"csrf": {csrf}, "to": {"pager:9999"}, "priority": {"high"}, "text": {"call 4412"}}); got.status != http.StatusSeeOther {
		t.Errorf("page: %d", got.status)
	}
	if got := b.do(http.MethodPost, "/app/dispatch/page", url.Values{"csrf": {csrf}, "to": {"pager:9999"}, "priority": {"high"}, "text": {""}}); got.status != http.StatusBadRequest {
		t.Errorf("empty page: %d", got.status)
	}
	if len(staff.pages) != 2 || staff.pages[1].Priority != paging.PriorityHigh || staff.pages[1].To != "pager:9999" {
		t.Errorf("pages sent: %+v", staff.pages)
	}
}

func TestRespondAndConsoleFrames(t *testing.T) {
	r, staff := newStaffRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	thread := r.msg.addThread("page to 9999", "Code Blue 4W Rm 412", "amara")
	amara := r.browser()
	amara.signin("amara", "correct horse battery", "")
	disp := r.browser()
	disp.signin("disp", "dispatcher pass", "")
	ac, _, err := amara.socket(ctx, r.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer ac.CloseNow()
	dc, _, err := disp.socket(ctx, r.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer dc.CloseNow()
	frame(t, ctx, ac) // hello
	frame(t, ctx, dc)

	csrf := amara.csrf()
	if got := amara.do(http.MethodPost, "/app/threads/"+thread.String()+"/respond", url.Values{"csrf": {csrf}, "answer": {"maybe"}}); got.status != http.StatusBadRequest {
		t.Errorf("answer maybe: %d", got.status)
	}
	if got := amara.do(http.MethodPost, "/app/threads/"+thread.String()+"/respond", url.Values{"csrf": {csrf}, "answer": {AnswerResponding}}); got.status != http.StatusSeeOther {
		t.Errorf("responding: %d", got.status)
	}
	if staff.answers[thread]["amara"] != AnswerResponding {
		t.Errorf("answers %+v", staff.answers)
	}
	got := amara.do(http.MethodGet, "/app/threads/"+thread.String()+"/answer.json", nil)
	if got.status != http.StatusOK || !strings.Contains(got.body, `"answer":"responding"`) {
		t.Errorf("answer.json: %d %s", got.status, got.body)
	}

	// A page's change goes to the consoles (operators, admins) only; the
	// clinician's next frame is her thread's, queued after it.
	r.web.PageChanged(thread, "acknowledged", "response")
	r.web.ThreadChanged(thread, []string{"amara"}, paging.ID{}, "", "receipt", true)
	f := frame(t, ctx, dc)
	if f["type"] != "page" || f["page"] != thread.String() || f["state"] != "acknowledged" {
		t.Errorf("console frame %v", f)
	}
	if f := frame(t, ctx, ac); f["type"] != "receipts" {
		t.Errorf("clinician's next frame %v, want her thread's receipts (no console frame)", f)
	}
	r.web.HardwareChanged()
	if f := frame(t, ctx, dc); f["type"] != "hardware" {
		t.Errorf("console frame %v, want hardware", f)
	}
}

func TestMustChangePassword(t *testing.T) {
	r, staff := newStaffRig(t)
	staff.must["amara"] = true
	other := r.browser() // her phone, signed in with the old password
	other.signin("amara", "correct horse battery", "")
	b := r.browser()
	b.signin("amara", "correct horse battery", "")
	// Everything else sends her to the password form, or is refused.
	if got := b.do(http.MethodGet, "/app/", nil); got.status != http.StatusSeeOther || got.header.Get("Location") != "/app/profile/password" {
		t.Fatalf("inbox: %d to %q", got.status, got.header.Get("Location"))
	}
	form := b.do(http.MethodGet, "/app/profile/password", nil)
	m := csrfInput.FindStringSubmatch(form.body)
	if form.status != http.StatusOK || m == nil || !strings.Contains(form.body, `id="must-change"`) {
		t.Fatalf("password form: %d\n%s", form.status, form.body)
	}
	csrf := m[1]
	if got := b.do(http.MethodGet, "/app/inbox.json", nil); got.status != http.StatusForbidden {
		t.Errorf("inbox.json: %d", got.status)
	}
	if got := b.do(http.MethodPost, "/app/compose", url.Values{"csrf": {csrf}, "to": {"person:x"}, "text": {"hi"}}); got.status != http.StatusForbidden {
		t.Errorf("compose: %d", got.status)
	}
	for _, c := range []struct {
		name, current, next, again string
		want                       int
	}{
		{"short", "correct horse battery", "short", "short", http.StatusBadRequest},
		{"differ", "correct horse battery", "a new long password", "another long one!", http.StatusBadRequest},
		{"same", "correct horse battery", "correct horse battery", "correct horse battery", http.StatusBadRequest},
		{"wrong current", "wrong", "a new long password", "a new long password", http.StatusUnauthorized},
		{"changed", "correct horse battery", "a new long password", "a new long password", http.StatusSeeOther},
	} {
		got := b.do(http.MethodPost, "/app/profile/password", url.Values{"csrf": {csrf}, "current": {c.current}, "new": {c.next}, "again": {c.again}})
		if got.status != c.want {
			t.Errorf("%s: %d, want %d", c.name, got.status, c.want)
		}
	}
	ok, err := argon2id.ComparePasswordAndHash("a new long password", staff.hashes["amara"])
	if err != nil || !ok {
		t.Fatalf("stored hash does not verify the new password: %v", err)
	}
	if got := b.do(http.MethodGet, "/app/", nil); got.status != http.StatusOK {
		t.Errorf("inbox after the change: %d", got.status)
	}
	// The change signed out the session opened with the old password.
	if got := other.do(http.MethodGet, "/app/", nil); got.status != http.StatusSeeOther || !strings.HasPrefix(got.header.Get("Location"), "/app/signin") {
		t.Errorf("the other session after the change: %d to %q, want the sign-in page", got.status, got.header.Get("Location"))
	}
}

// multipartPhoto is a photo upload form.
func multipartPhoto(t *testing.T, csrf, name string, data []byte) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf", csrf)
	fw, err := mw.CreateFormFile("photo", name)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	return &buf, mw.FormDataContentType()
}

func TestPhotoUpload(t *testing.T) {
	r, staff := newStaffRig(t)
	b := r.browser()
	b.signin("amara", "correct horse battery", "")
	csrf := b.csrf()
	var pngBuf bytes.Buffer
	png.Encode(&pngBuf, image.NewRGBA(image.Rect(0, 0, 32, 32)))
	for _, c := range []struct {
		name string
		data []byte
		want int
	}{
		{"svg.png", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), http.StatusUnsupportedMediaType},
		{"big.png", append(pngBuf.Bytes(), make([]byte, MaxPhotoBytes+70<<10)...), http.StatusRequestEntityTooLarge},
		{"me.png", pngBuf.Bytes(), http.StatusSeeOther},
	} {
		body, typ := multipartPhoto(t, csrf, c.name, c.data)
		if got := b.send(http.MethodPost, "/app/profile/photo", body, "Content-Type", typ); got.status != c.want {
			t.Errorf("%s: %d, want %d (%s)", c.name, got.status, c.want, got.body)
		}
	}
	if !bytes.Equal(staff.photos["amara"], pngBuf.Bytes()) {
		t.Fatalf("stored photo %d bytes", len(staff.photos["amara"]))
	}
	got := r.browser().do(http.MethodGet, "/app/people/amara/photo", nil)
	if got.status != http.StatusSeeOther {
		t.Errorf("photo without a session: %d", got.status)
	}
	got = b.do(http.MethodGet, "/app/people/amara/photo", nil)
	if got.status != http.StatusOK || got.header.Get("Content-Type") != "image/png" || got.header.Get("X-Content-Type-Options") != "nosniff" || got.body != pngBuf.String() {
		t.Errorf("photo: %d %s", got.status, got.header)
	}
}

func TestPWAFiles(t *testing.T) {
	r, _ := newStaffRig(t)
	b := r.browser() // no session: the shell is public and carries nothing
	sw := b.do(http.MethodGet, "/app/sw.js", nil)
	if sw.status != http.StatusOK || !strings.HasPrefix(sw.header.Get("Content-Type"), "text/javascript") || !strings.Contains(sw.body, "'"+ShellCache+"'") {
		t.Errorf("sw.js: %d %s", sw.status, sw.header.Get("Content-Type"))
	}
	csp := sw.header.Get("Content-Security-Policy")
	for _, want := range []string{"worker-src 'self'", "manifest-src 'self'", "script-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %s", csp, want)
		}
	}
	mf := b.do(http.MethodGet, "/app/manifest.webmanifest", nil)
	var m struct {
		StartURL string `json:"start_url"`
		Scope    string `json:"scope"`
		Icons    []struct{ Src, Sizes string }
	}
	if err := json.Unmarshal([]byte(mf.body), &m); err != nil || mf.header.Get("Content-Type") != "application/manifest+json" {
		t.Fatalf("manifest: %v %s", err, mf.header.Get("Content-Type"))
	}
	if m.StartURL != "/app/" || m.Scope != "/app/" || len(m.Icons) == 0 {
		t.Errorf("manifest %+v", m)
	}
	for _, ic := range m.Icons {
		got := b.do(http.MethodGet, ic.Src, nil)
		cfg, err := png.DecodeConfig(strings.NewReader(got.body))
		if err != nil || fmt.Sprintf("%dx%d", cfg.Width, cfg.Height) != ic.Sizes {
			t.Errorf("icon %s: %v %dx%d", ic.Src, err, cfg.Width, cfg.Height)
		}
	}
	// Everything the worker keeps is served without a session.
	for _, path := range []string{"/app/offline", "/static/pwa.js", "/static/dispatch.js", "/static/staff.css"} {
		if got := b.do(http.MethodGet, path, nil); got.status != http.StatusOK {
			t.Errorf("%s: %d", path, got.status)
		}
	}
}
