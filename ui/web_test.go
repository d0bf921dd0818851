package ui

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

const totpSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

// rig is the web app over in-memory ports, on a hand-moved clock.
type rig struct {
	t    *testing.T
	clk  *testClock
	acc  *memAccounts
	msg  *memMessaging
	auth *Auth
	web  *Web
	srv  *httptest.Server
}

func newRig(t *testing.T, mods ...func(*Policy)) *rig {
	t.Helper()
	return newRigWith(t, nil, mods...)
}

// newRigWith is newRig with the web app's options changed by web (the
// console's and profile's ports).
func newRigWith(t *testing.T, web func(*WebOptions), mods ...func(*Policy)) *rig {
	t.Helper()
	r := &rig{t: t, clk: &testClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}, acc: newMemAccounts(), msg: newMemMessaging()}
	pol := Policy{LockoutAfter: 3, LockoutFor: 15 * time.Minute}
	for _, m := range mods {
		m(&pol)
	}
	var err error
	if r.auth, err = NewAuth(r.acc, pol, r.clk.Now); err != nil {
		t.Fatal(err)
	}
	wo := WebOptions{Auth: r.auth, Messaging: r.msg}
	if web != nil {
		web(&wo)
	}
	if r.web, err = NewWeb(wo); err != nil {
		t.Fatal(err)
	}
	r.acc.add(t, "amara", RoleClinician, "correct horse battery", "")
	r.acc.add(t, "root", RoleAdmin, "admin password 1", totpSecret)
	r.acc.add(t, "disp", RoleOperator, "dispatcher pass", "")
	r.srv = httptest.NewServer(New(Options{Web: r.web}))
	t.Cleanup(r.srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.web.hub.run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

// browser keeps cookies by hand: the __Host- cookies are Secure, which a
// cookie jar would not send over the test server's plain HTTP.
type browser struct {
	r       *rig
	cookies map[string]string
	origin  string
}

func (r *rig) browser() *browser {
	return &browser{r: r, cookies: map[string]string{}, origin: r.srv.URL}
}

type response struct {
	status  int
	body    string
	header  http.Header
	cookies []*http.Cookie
}

func (b *browser) do(method, path string, form url.Values, hdr ...string) response {
	b.r.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
		hdr = append([]string{"Content-Type", "application/x-www-form-urlencoded"}, hdr...)
	}
	return b.send(method, path, body, hdr...)
}

// send sends a request with b's cookies (and, unless it is a GET, its
// Origin) and keeps the cookies the response sets.
func (b *browser) send(method, path string, body io.Reader, hdr ...string) response {
	b.r.t.Helper()
	req, err := http.NewRequest(method, b.r.srv.URL+path, body)
	if err != nil {
		b.r.t.Fatal(err)
	}
	if method != http.MethodGet && b.origin != "" {
		req.Header.Set("Origin", b.origin)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		b.r.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return response{status: resp.StatusCode, body: string(data), header: resp.Header, cookies: resp.Cookies()}
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signin fills the sign-in form and returns the response to its post.
func (b *browser) signin(user, password, code string) response {
	b.r.t.Helper()
	page := b.do(http.MethodGet, "/app/signin", nil)
	m := csrfInput.FindStringSubmatch(page.body)
	if m == nil {
		b.r.t.Fatalf("no CSRF field on the sign-in page:\n%s", page.body)
	}
	return b.do(http.MethodPost, "/app/signin", url.Values{"csrf": {m[1]}, "username": {user}, "password": {password}, "code": {code}})
}

// csrf is the session's CSRF token, as its pages carry it.
func (b *browser) csrf() string {
	b.r.t.Helper()
	page := b.do(http.MethodGet, "/app/", nil)
	m := csrfInput.FindStringSubmatch(page.body)
	if m == nil {
		b.r.t.Fatalf("no CSRF token on the inbox page (%d):\n%s", page.status, page.body)
	}
	return m[1]
}

func (r *rig) code(at time.Time) string {
	r.t.Helper()
	c, err := totp.GenerateCodeCustom(totpSecret, at, totpOpts)
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

func TestSecurityHeadersAndCookieFlags(t *testing.T) {
	r := newRig(t)
	b := r.browser()
	page := b.do(http.MethodGet, "/app/signin", nil)
	csp := page.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'",
		"base-uri 'none'", "form-action 'self'", "img-src 'self';"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "data:") {
		t.Errorf("CSP allows inline script, eval or data: %q", csp)
	}
	for _, h := range []string{"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Strict-Transport-Security", "Cache-Control"} {
		if page.header.Get(h) == "" {
			t.Errorf("no %s", h)
		}
	}
	if regexp.MustCompile(`<script>|<script [^>]*>[^<]|\sstyle=|\son[a-z]+=`).MatchString(page.body) {
		t.Errorf("the sign-in page has inline script, style or handlers:\n%s", page.body)
	}
	resp := b.signin("amara", "correct horse battery", "")
	if resp.status != http.StatusSeeOther || resp.header.Get("Location") != "/app/" {
		t.Fatalf("sign-in: %d %s\n%s", resp.status, resp.header.Get("Location"), resp.body)
	}
	var sess *http.Cookie
	for _, c := range resp.cookies {
		if c.Name == sessionCookie {
			sess = c
		}
	}
	if sess == nil {
		t.Fatal("no session cookie")
	}
	raw := strings.Join(resp.header.Values("Set-Cookie"), "\n")
	if !sess.Secure || !sess.HttpOnly || sess.SameSite != http.SameSiteStrictMode || sess.Path != "/" || sess.Domain != "" ||
		!strings.HasPrefix(sess.Name, "__Host-") || !strings.Contains(raw, "SameSite=Strict") {
		t.Errorf("session cookie flags: %+v\n%s", sess, raw)
	}
	if len(sess.Value) < 40 {
		t.Errorf("session token of %d characters", len(sess.Value))
	}
	// The store holds the token's hash, never the token.
	for h := range r.acc.sessions {
		if h != tokenHash(sess.Value) {
			t.Errorf("session stored under something else than the token's hash")
		}
	}
}

func TestCSRFRefused(t *testing.T) {
	r := newRig(t)
	id := r.msg.addThread("4W nurse call · pager 1001", "Bed 12", "amara")
	b := r.browser()
	b.signin("amara", "correct horse battery", "")
	token := b.csrf()
	reply := "/app/threads/" + id.String() + "/reply"
	for _, c := range []struct {
		name   string
		form   url.Values
		hdr    []string
		origin string
		status int
	}{
		{"no token", url.Values{"text": {"x"}}, nil, "", http.StatusForbidden},
		{"wrong token", url.Values{"text": {"x"}, "csrf": {token + "x"}}, nil, "", http.StatusForbidden},
		{"empty token", url.Values{"text": {"x"}, "csrf": {""}}, nil, "", http.StatusForbidden},
		{"right token, another site", url.Values{"text": {"x"}, "csrf": {token}}, nil, "https://evil.example", http.StatusForbidden},
		{"right token, cross-site fetch", url.Values{"text": {"x"}, "csrf": {token}}, []string{"Sec-Fetch-Site", "cross-site"}, "-", http.StatusForbidden},
		{"right token, Origin null from another site", url.Values{"text": {"x"}, "csrf": {token}}, []string{"Origin", "null", "Sec-Fetch-Site", "cross-site"}, "-", http.StatusForbidden},
		{"right token, Origin null from this site", url.Values{"text": {"null origin"}, "csrf": {token}}, []string{"Origin", "null", "Sec-Fetch-Site", "same-origin"}, "-", http.StatusSeeOther},
		{"right token in the header", url.Values{"text": {"by header"}}, []string{csrfHeader, token}, "", http.StatusSeeOther},
		{"right token in the form", url.Values{"text": {"by form"}, "csrf": {token}}, nil, "", http.StatusSeeOther},
	} {
		b.origin = r.srv.URL
		switch c.origin {
		case "-":
			b.origin = ""
		case "":
		default:
			b.origin = c.origin
		}
		if resp := b.do(http.MethodPost, reply, c.form, c.hdr...); resp.status != c.status {
			t.Errorf("%s: %d, want %d: %s", c.name, resp.status, c.status, resp.body)
		}
	}
	b.origin = r.srv.URL
	v, _ := r.msg.Thread(context.Background(), Caller{Person: "amara"}, id)
	var texts []string
	for _, m := range v.Messages {
		texts = append(texts, m.Text.Reveal())
	}
	if !slices.Equal(texts, []string{"Bed 12", "null origin", "by header", "by form"}) {
		t.Errorf("posted: %q", texts)
	}
	if !slices.Contains(r.acc.actions(), "web.refused") {
		t.Error("refusals are not audited")
	}
	// Sign-in's own form: without its cookie's token it is refused.
	other := r.browser()
	resp := other.do(http.MethodPost, "/app/signin", url.Values{"username": {"amara"}, "password": {"correct horse battery"}})
	if resp.status != http.StatusForbidden || other.cookies[sessionCookie] != "" {
		t.Errorf("sign-in without its CSRF token: %d", resp.status)
	}
}

func TestSignInWithTOTP(t *testing.T) {
	r := newRig(t)
	b := r.browser()
	if resp := b.signin("root", "admin password 1", ""); resp.status != http.StatusUnauthorized || !strings.Contains(resp.body, "6-digit code") {
		t.Fatalf("without a code: %d\n%s", resp.status, resp.body)
	}
	if resp := b.signin("root", "admin password 1", "000000"); resp.status != http.StatusUnauthorized || !strings.Contains(resp.body, "wrong username, password or code") {
		t.Fatalf("wrong code: %d", resp.status)
	}
	code := r.code(r.clk.Now())
	if resp := b.signin("root", "admin password 1", code); resp.status != http.StatusSeeOther || resp.header.Get("Location") != "/app/" {
		t.Fatalf("right code: %d %s", resp.status, resp.header.Get("Location"))
	}
	// The same code again, from another browser: refused.
	if resp := r.browser().signin("root", "admin password 1", code); resp.status != http.StatusUnauthorized {
		t.Errorf("a code used twice: %d", resp.status)
	}
	// The code of the next step signs in.
	if resp := r.browser().signin("root", "admin password 1", r.code(r.clk.Now().Add(30*time.Second))); resp.status != http.StatusSeeOther {
		t.Errorf("next code: %d", resp.status)
	}
	s, err := r.auth.Check(context.Background(), b.cookies[sessionCookie], false)
	if err != nil || !s.MFA || s.Role != RoleAdmin {
		t.Errorf("session: %+v %v", s, err)
	}
}

// A role that must use a second factor and has none enrols first: its
// session can do nothing else, and the confirmed enrolment opens a new
// one.
func TestEnrolBeforeAnythingElse(t *testing.T) {
	r := newRig(t)
	b := r.browser()
	resp := b.signin("disp", "dispatcher pass", "")
	if resp.status != http.StatusSeeOther || resp.header.Get("Location") != "/app/mfa" {
		t.Fatalf("sign-in: %d %s", resp.status, resp.header.Get("Location"))
	}
	old := b.cookies[sessionCookie]
	if resp := b.do(http.MethodGet, "/app/", nil); resp.status != http.StatusSeeOther || resp.header.Get("Location") != "/app/mfa" {
		t.Errorf("inbox of an enrolling session: %d %s", resp.status, resp.header.Get("Location"))
	}
	page := b.do(http.MethodGet, "/app/mfa", nil)
	secret := regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`).FindStringSubmatch(page.body)
	if secret == nil {
		t.Fatalf("no secret on the enrolment page:\n%s", page.body)
	}
	qr := b.do(http.MethodGet, "/app/mfa/qr.png", nil)
	if qr.status != http.StatusOK || qr.header.Get("Content-Type") != "image/png" || !strings.HasPrefix(qr.body, "\x89PNG") {
		t.Errorf("QR code: %d %s", qr.status, qr.header.Get("Content-Type"))
	}
	token := csrfInput.FindStringSubmatch(page.body)[1]
	if resp := b.do(http.MethodPost, "/app/mfa", url.Values{"csrf": {token}, "code": {"123456"}}); resp.status != http.StatusBadRequest {
		t.Errorf("wrong enrolment code: %d", resp.status)
	}
	code, _ := totp.GenerateCodeCustom(secret[1], r.clk.Now(), totpOpts)
	if resp := b.do(http.MethodPost, "/app/mfa", url.Values{"csrf": {token}, "code": {code}}); resp.status != http.StatusSeeOther || resp.header.Get("Location") != "/app/" {
		t.Fatalf("enrolment: %d %s", resp.status, resp.body)
	}
	if b.cookies[sessionCookie] == old {
		t.Error("the session token did not change with its privilege")
	}
	if _, err := r.auth.Check(context.Background(), old, false); !errors.Is(err, ErrSessionOver) {
		t.Errorf("the enrolling session lives on: %v", err)
	}
	if resp := b.do(http.MethodGet, "/app/", nil); resp.status != http.StatusOK {
		t.Errorf("inbox after enrolment: %d", resp.status)
	}
	// From now on the code is required.
	next, _ := totp.GenerateCodeCustom(secret[1], r.clk.Now().Add(30*time.Second), totpOpts)
	if resp := r.browser().signin("disp", "dispatcher pass", ""); resp.status != http.StatusUnauthorized {
		t.Errorf("no code after enrolment: %d", resp.status)
	}
	if resp := r.browser().signin("disp", "dispatcher pass", next); resp.status != http.StatusSeeOther || resp.header.Get("Location") != "/app/" {
		t.Errorf("with the code: %d %s", resp.status, resp.header.Get("Location"))
	}
}

func TestLockoutAndThrottle(t *testing.T) {
	r := newRig(t)
	for i := range 3 {
		if resp := r.browser().signin("amara", "wrong", ""); resp.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, resp.status)
		}
	}
	// Locked: the right password does not help until the lock ends.
	resp := r.browser().signin("amara", "correct horse battery", "")
	if resp.status != http.StatusUnauthorized || !strings.Contains(resp.body, "locked") {
		t.Fatalf("while locked: %d\n%s", resp.status, resp.body)
	}
	r.clk.add(15 * time.Minute)
	if resp := r.browser().signin("amara", "correct horse battery", ""); resp.status != http.StatusSeeOther {
		t.Fatalf("after the lock: %d", resp.status)
	}
	acts := r.acc.actions()
	if !slices.Contains(acts, "account.locked") || !slices.Contains(acts, "web.signin-refused") {
		t.Errorf("audit: %q", acts)
	}
	// An unknown user fails like a wrong password, and is audited.
	if resp := r.browser().signin("nobody", "x", ""); resp.status != http.StatusUnauthorized || !strings.Contains(resp.body, "wrong username, password or code") {
		t.Errorf("unknown user: %d", resp.status)
	}
	// Per address: the 21st attempt within a minute is throttled before
	// any password is checked.
	var last response
	for range 21 {
		last = r.browser().signin("nobody", "x", "")
	}
	if last.status != http.StatusTooManyRequests {
		t.Errorf("21st attempt from one address: %d", last.status)
	}
	r.clk.add(time.Minute)
	if resp := r.browser().signin("nobody", "x", ""); resp.status != http.StatusUnauthorized {
		t.Errorf("a minute later: %d", resp.status)
	}
}

func TestIdleAndAbsoluteExpiry(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	b := r.browser()
	b.signin("amara", "correct horse battery", "")
	token := b.cookies[sessionCookie]
	// Used every 10 minutes, the session lives past the idle timeout…
	for range 5 {
		r.clk.add(10 * time.Minute)
		if _, err := r.auth.Check(ctx, token, true); err != nil {
			t.Fatalf("used session at %v: %v", r.clk.Now(), err)
		}
	}
	// …but a check that is not use (an open page's sweep) does not
	// extend it: 15 minutes idle end it.
	r.clk.add(14 * time.Minute)
	if _, err := r.auth.Check(ctx, token, false); err != nil {
		t.Fatalf("14 min idle: %v", err)
	}
	r.clk.add(time.Minute)
	if _, err := r.auth.Check(ctx, token, false); !errors.Is(err, ErrSessionOver) {
		t.Fatalf("15 min idle: %v", err)
	}
	if resp := b.do(http.MethodGet, "/app/", nil); resp.status != http.StatusSeeOther || resp.header.Get("Location") != "/app/signin?ended=expired" {
		t.Errorf("page after idle: %d %s", resp.status, resp.header.Get("Location"))
	}
	if resp := b.do(http.MethodGet, "/app/inbox.json", nil); resp.status != http.StatusUnauthorized {
		t.Errorf("JSON after idle: %d", resp.status)
	}
	// Lifetime: a session used all day ends at 12 h whatever it does.
	b2 := r.browser()
	b2.signin("amara", "correct horse battery", "")
	token = b2.cookies[sessionCookie]
	for range 12*6 - 1 {
		r.clk.add(10 * time.Minute)
		if _, err := r.auth.Check(ctx, token, true); err != nil {
			t.Fatalf("at %v: %v", r.clk.Now(), err)
		}
	}
	r.clk.add(10 * time.Minute)
	if _, err := r.auth.Check(ctx, token, true); !errors.Is(err, ErrSessionOver) {
		t.Errorf("after 12 h: %v", err)
	}
	var reasons []string
	for _, e := range r.acc.audit {
		if e.Action == "session.end" {
			reasons = append(reasons, e.Detail)
		}
	}
	if !slices.Equal(reasons, []string{"idle timeout (15m0s)", "session lifetime (12h0m0s) reached"}) {
		t.Errorf("ends audited as %q", reasons)
	}
}

func TestSignOutAndRevoke(t *testing.T) {
	r := newRig(t)
	phone, desk := r.browser(), r.browser()
	phone.signin("amara", "correct horse battery", "")
	desk.signin("amara", "correct horse battery", "")
	// Sign out ends only this browser's session.
	if resp := desk.do(http.MethodPost, "/app/signout", url.Values{"csrf": {desk.csrf()}}); resp.status != http.StatusSeeOther {
		t.Fatalf("sign out: %d", resp.status)
	}
	if resp := desk.do(http.MethodGet, "/app/", nil); resp.status != http.StatusSeeOther {
		t.Errorf("signed-out browser: %d", resp.status)
	}
	if resp := phone.do(http.MethodGet, "/app/", nil); resp.status != http.StatusOK {
		t.Errorf("the other browser: %d", resp.status)
	}
	// A clinician may not revoke.
	if resp := phone.do(http.MethodPost, "/app/admin/sessions/revoke", url.Values{"csrf": {phone.csrf()}, "username": {"root"}}); resp.status != http.StatusForbidden {
		t.Errorf("clinician revokes: %d", resp.status)
	}
	r.web.opts.Admin = newMemAdmin()
	admin := r.browser()
	admin.signin("root", "admin password 1", r.code(r.clk.Now()))
	page := admin.do(http.MethodGet, "/app/admin/accounts", nil)
	if page.status != http.StatusOK || !strings.Contains(page.body, `data-user="amara"`) {
		t.Fatalf("accounts page: %d\n%s", page.status, page.body)
	}
	if resp := admin.do(http.MethodPost, "/app/admin/sessions/revoke", url.Values{"csrf": {admin.csrf()}, "username": {"amara"}}); resp.status != http.StatusSeeOther ||
		!strings.Contains(resp.header.Get("Location"), "Ended+1+session%28s%29+of+amara.") {
		t.Fatalf("revoke: %d %s", resp.status, resp.header.Get("Location"))
	}
	if resp := phone.do(http.MethodGet, "/app/", nil); resp.status != http.StatusSeeOther {
		t.Errorf("revoked browser: %d", resp.status)
	}
	if resp := admin.do(http.MethodGet, "/app/", nil); resp.status != http.StatusOK {
		t.Errorf("the admin's own session: %d", resp.status)
	}
	// Sign out everywhere.
	a2, a3 := r.browser(), r.browser()
	a2.signin("amara", "correct horse battery", "")
	a3.signin("amara", "correct horse battery", "")
	if resp := a2.do(http.MethodPost, "/app/signout-everywhere", url.Values{"csrf": {a2.csrf()}}); resp.status != http.StatusSeeOther {
		t.Fatalf("sign out everywhere: %d", resp.status)
	}
	for i, b := range []*browser{a2, a3} {
		if resp := b.do(http.MethodGet, "/app/", nil); resp.status != http.StatusSeeOther {
			t.Errorf("browser %d after sign out everywhere: %d", i, resp.status)
		}
	}
}

// Message text is inert: escaped in the page, and only data in JSON.
func TestMessageTextInert(t *testing.T) {
	r := newRig(t)
	const evil = `<script>window.pwned=1</script><img src=x onerror="window.pwned=2">`
	id := r.msg.addThread("4W <b>nurse</b> call", evil, "amara")
	b := r.browser()
	b.signin("amara", "correct horse battery", "")
	page := b.do(http.MethodGet, "/app/threads/"+id.String(), nil)
	if page.status != http.StatusOK {
		t.Fatalf("thread: %d", page.status)
	}
	if strings.Contains(page.body, "<script>window") || strings.Contains(page.body, "<img src=x") || strings.Contains(page.body, "<b>nurse") {
		t.Errorf("thread page carries the text as markup:\n%s", page.body)
	}
	if !strings.Contains(page.body, "&lt;script&gt;window.pwned=1&lt;/script&gt;") {
		t.Errorf("text not shown escaped:\n%s", page.body)
	}
	j := b.do(http.MethodGet, "/app/threads/"+id.String()+"/view.json", nil)
	if j.status != http.StatusOK || !strings.Contains(j.body, `\u003cscript\u003e`) {
		t.Errorf("view.json: %d %s", j.status, j.body)
	}
	// Someone else's thread: refused.
	other := r.msg.addThread("other", "secret", "root")
	if resp := b.do(http.MethodGet, "/app/threads/"+other.String(), nil); resp.status != http.StatusForbidden || strings.Contains(resp.body, "secret") {
		t.Errorf("another's thread: %d", resp.status)
	}
}
