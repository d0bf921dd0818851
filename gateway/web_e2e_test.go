package main

// The web app in a real browser: Debian's chromium, headless, driven over
// the DevTools protocol (chromedp) against `pagebridge demo` on loopback.
// Sign-in with a TOTP code the test computes; a WCTP page reaching a
// clinician's open inbox over the WebSocket; acknowledging it in the
// browser stopping its escalation; message text with markup shown as text
// and running nothing; an administrator's revocation signing the
// clinician's open page out at once.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"pagebridge/gateway/engine"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/wctp"
)

const chromiumPath = "/usr/bin/chromium"

// newChromium starts a headless chromium of this test (its own profile
// directory; certificate errors ignored for the demo's self-signed
// certificate on loopback, in this browser only) and returns its context.
func newChromium(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		peerMissing(t, "chromium not found at "+chromiumPath+" (Debian package chromium): install it to run the browser tests")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("ignore-certificate-errors", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// tab is one user's browser context (own cookies and storage) with what
// its network saw.
type tab struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	frames   []string // WebSocket frames received
	requests []string // URLs requested
}

func newTab(t *testing.T, browser context.Context) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tb := &tab{t: t, ctx: ctx}
	err := chromedp.Listen(ctx, func(ev any) {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		switch e := ev.(type) {
		case *network.EventWebSocketFrameReceived:
			tb.frames = append(tb.frames, string(e.Response.PayloadData))
		case *network.EventRequestWillBeSent:
			tb.requests = append(tb.requests, e.Request.URL)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	tb.run("enable network events", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{})
		return err
	}))
	return tb
}

// run runs actions within a minute, failing the test on error.
func (tb *tab) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		// Where the page stood, for the failure's message.
		sctx, scancel := context.WithTimeout(tb.ctx, 5*time.Second)
		defer scancel()
		where, _ := chromedp.Run(sctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText.slice(0, 2000)`))
		tb.t.Fatalf("%s: %v\npage at %s", what, err, where)
	}
}

// reset forgets the frames and requests seen so far.
func (tb *tab) reset() {
	tb.mu.Lock()
	tb.frames, tb.requests = nil, nil
	tb.mu.Unlock()
}

func (tb *tab) seen() (frames, requests []string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.frames...), append([]string(nil), tb.requests...)
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// signIn fills the sign-in form and waits for the inbox.
func (tb *tab) signIn(d *daemon, user, password, code string) {
	tb.t.Helper()
	tb.run("sign in as "+user,
		chromedp.Navigate(d.url("/app/signin")),
		waitVisible("#username"),
		sendKeys("#username", user),
		sendKeys("#password", password),
		sendKeys("#code", code),
		click("#signin"),
		waitVisible("#inbox"),
		waitVisible("#live.on"),
	)
}

// The query actions, by CSS selector.
func waitVisible(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(sel))
}
func click(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }
func sendKeys(sel, v string) chromedp.Action[chromedp.Void] {
	return chromedp.SendKeys(chromedp.CSS(sel), v)
}
func setValue(sel, v string) chromedp.Action[chromedp.Void] {
	return chromedp.SetValue(chromedp.CSS(sel), v)
}

// demoLoginsOf reads the demo's password and TOTP secrets.
func demoLoginsOf(t *testing.T, root string) demoLogins {
	t.Helper()
	pw, err := os.ReadFile(filepath.Join(root, demoPasswordFile))
	if err != nil {
		t.Fatal(err)
	}
	out := demoLogins{Password: string(pw)}
	b, err := os.ReadFile(filepath.Join(root, demoTOTPFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &out.TOTP); err != nil {
		t.Fatal(err)
	}
	return out
}

// route reads a page's route through the JSON API.
func route(t *testing.T, hc *http.Client, d *daemon, token string, id string) engine.Route {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, d.url("/api/v1/pages/"+id), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r engine.Route
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("route of %s: HTTP %d", id, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return r
}

func appAttempt(r engine.Route, person string) paging.State {
	for _, d := range r.Deliveries {
		if d.PersonID != person {
			continue
		}
		for _, a := range d.Attempts {
			if a.Channel == paging.ChannelApp {
				return a.State
			}
		}
	}
	return ""
}

func TestWebAppInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	browser := newChromium(t)
	root := t.TempDir()
	d := startDemo(t, root)
	hc := httpClient(t, root, 2)
	apiToken := demoToken(t, root)
	logins := demoLoginsOf(t, root)

	// Sign-in with TOTP: the administrator's code, computed here.
	admin := newTab(t, browser)
	code, err := totp.GenerateCode(logins.TOTP["admin"], time.Now())
	if err != nil {
		t.Fatal(err)
	}
	admin.signIn(d, "admin", logins.Password, code)
	who := eval[string](admin, `document.querySelector('header .who .small').textContent`)
	if who != "admin · admin" {
		t.Errorf("signed in as %q", who)
	}

	// A WCTP page to Dr Okafor (pager 1001, app stage) appears in her open
	// inbox without a reload, carried by a WebSocket frame.
	amara := newTab(t, browser)
	amara.signIn(d, "amara.okafor", logins.Password, "")
	before := eval[int](amara, `window.pbMarker = 'no reload'; document.querySelectorAll('#inbox li').length`)
	amara.reset()
	sender := demoSender(t, root)
	resp, err := wctp.Submit(context.Background(), hc, d.url("/wctp"), page(sender, "web-1", "1001", "Bed 14 chest pain, please come"))
	if err != nil || !resp.Success {
		t.Fatalf("WCTP submit: %+v %v", resp, err)
	}
	amara.run("the page in the inbox", waitVisible(fmt.Sprintf("#inbox li:nth-child(%d)", before+1)))
	pageID := eval[string](amara, `document.querySelector('#inbox li').dataset.id`)
	marker := eval[string](amara, `window.pbMarker`)
	label := eval[string](amara, `document.querySelector('#inbox li .label').textContent`)
	if marker != "no reload" || !strings.Contains(label, "pager 1001") {
		t.Fatalf("inbox after the page: marker %q, label %q", marker, label)
	}
	frames, requests := amara.seen()
	var carried bool
	for _, f := range frames {
		carried = carried || strings.Contains(f, `"type":"thread"`) && strings.Contains(f, pageID)
	}
	if !carried {
		t.Errorf("no WebSocket frame carried thread %s: %q", pageID, frames)
	}
	for _, u := range requests {
		if strings.Contains(u, "/app/inbox.json") || strings.HasSuffix(u, "/app/") {
			t.Errorf("the page polled or reloaded: %s", u)
		}
	}
	// Her page reported it received: delivered on the app.
	waitUntil(t, 30*time.Second, "the app attempt delivered", func() bool {
		return appAttempt(route(t, hc, d, apiToken, pageID), "amara.okafor") == paging.StateDelivered
	})
	if r := route(t, hc, d, apiToken, pageID); r.State != engine.StateActive || r.Next.IsZero() {
		t.Fatalf("route before the ack: %+v", r)
	}

	// Acknowledging in the browser stops the escalation.
	amara.run("acknowledge",
		click(`#inbox li[data-id="`+pageID+`"] a`),
		waitVisible("#ack"),
		click("#ack"),
		waitVisible(`#state.acknowledged`),
	)
	r := route(t, hc, d, apiToken, pageID)
	if r.State != engine.StateAcknowledged || r.Acked == nil || r.Acked.Person != "amara.okafor" || r.Acked.Channel != paging.ChannelApp ||
		!r.Next.IsZero() || r.Timer != (paging.ID{}) {
		t.Fatalf("route after the ack: state %s acked %+v next %v timer %v", r.State, r.Acked, r.Next, r.Timer)
	}
	if !eval[bool](amara, `document.getElementById('ack-form').hidden`) {
		t.Error("the acknowledge button is still offered")
	}

	// Markup in a message is text: it is shown as written, runs nothing
	// and makes no element, in the server's page and in the live update.
	const evil = `<script>window.pwned='script'</script><img src=x onerror="window.pwned='img'"> BP 80/40`
	amara.run("back to the inbox", chromedp.Navigate(d.url("/app/")), waitVisible("#live.on"))
	before = eval[int](amara, `document.querySelectorAll('#inbox li').length`)
	admin.run("compose",
		chromedp.Navigate(d.url("/app/compose")),
		waitVisible("#to"),
		setValue("#to", "person:amara.okafor"),
		sendKeys("#text", evil),
		click("#send"),
		waitVisible("#messages"),
	)
	amara.run("the message in the inbox", waitVisible(fmt.Sprintf("#inbox li:nth-child(%d)", before+1)))
	amara.run("open it", click("#inbox li a"), waitVisible("#messages li .text"),
		waitVisible("#live.on"))
	checkInert := func(when string, n int) {
		t.Helper()
		type inert struct {
			Texts    []string `json:"texts"`
			Elements int      `json:"elements"`
			Pwned    string   `json:"pwned"`
		}
		got := eval[inert](amara, `({texts: Array.from(document.querySelectorAll('#messages li .text')).map(e => e.textContent),
			elements: document.querySelectorAll('#messages script, #messages img').length,
			pwned: String(window.pwned)})`)
		if got.Pwned != "undefined" || got.Elements != 0 || len(got.Texts) != n {
			t.Fatalf("%s: pwned %q, %d script/img elements, texts %q", when, got.Pwned, got.Elements, got.Texts)
		}
		for _, tx := range got.Texts {
			if tx != evil {
				t.Errorf("%s: text shown as %q", when, tx)
			}
		}
	}
	checkInert("server-rendered", 1)
	// The administrator replies with the same text: it arrives live.
	admin.run("reply",
		sendKeys("#reply-text", evil),
		click("#reply"),
		waitVisible("#messages li:nth-child(2)"),
	)
	amara.run("the reply, live", waitVisible("#messages li:nth-child(2) .text"))
	checkInert("rendered live", 2)

	// An administrator revokes her sessions: her open page goes to the
	// sign-in page at once and keeps nothing.
	amara.run("back to the inbox", chromedp.Navigate(d.url("/app/")), waitVisible("#live.on"))
	if eval[int](amara, `sessionStorage.length`) == 0 {
		t.Fatal("the inbox page cached nothing: the test of clearing it would prove nothing")
	}
	admin.run("revoke",
		chromedp.Navigate(d.url("/app/admin/sessions")),
		waitVisible(`tr[data-user="amara.okafor"] button.revoke`),
		click(`tr[data-user="amara.okafor"] button.revoke`),
		waitVisible(".notice"),
	)
	if notice := eval[string](admin, `document.querySelector('.notice').textContent`); notice != "Ended 1 session(s) of amara.okafor." {
		t.Errorf("revoke said %q", notice)
	}
	amara.run("signed out", waitVisible("#signin-form"))
	loc := eval[string](amara, `location.pathname + location.search`)
	stored := eval[int](amara, `sessionStorage.length`)
	if loc != "/app/signin?ended=revoked" || stored != 0 {
		t.Errorf("after revoke: at %s with %d items in sessionStorage", loc, stored)
	}
	// Her cookie opens nothing any more.
	amara.run("inbox after revoke", chromedp.Navigate(d.url("/app/")), waitVisible("#signin-form"))
}
