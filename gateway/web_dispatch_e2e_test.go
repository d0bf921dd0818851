package main

// The dispatcher console, the hardware page, the profile and the PWA in a
// real browser (Debian's chromium, headless) against `pagebridge demo`:
// a code call's recipients answer from their threads and the console
// shows them live, carried by WebSocket frames with no PHI; the service
// worker registers and its cache holds the shell and nothing else; with
// PAGEBRIDGE_SCREENSHOTS=1 the test writes the README's screenshots to
// docs/screenshots.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"pagebridge/gateway/engine"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/wctp"
)

// evalAwait evaluates an expression whose value is a promise.
func evalAwait[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// screenshots is where the test writes its screenshots, "" unless
// PAGEBRIDGE_SCREENSHOTS=1.
func screenshots(t *testing.T) string {
	if os.Getenv("PAGEBRIDGE_SCREENSHOTS") != "1" {
		return ""
	}
	dir := filepath.Join("..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// shoot takes the page at path in tab at desktop (1280×800) and phone
// (390×844, mobile, touch) sizes, once ready (waitFor visible), and
// writes name-desktop.png and name-phone.png into dir; it leaves the tab
// at desktop size.
func shoot(tb *tab, d *daemon, dir, name, path, waitFor string) {
	tb.t.Helper()
	if dir == "" {
		return
	}
	for _, size := range []struct {
		suffix string
		act    chromedp.Action[chromedp.Void]
	}{
		{"phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)},
		{"desktop", chromedp.EmulateViewport(1280, 800)},
	} {
		tb.run("screenshot "+name+" "+size.suffix, size.act, chromedp.Navigate(d.url(path)), waitVisible(waitFor), waitVisible("#live.on"))
		ctx, cancel := context.WithTimeout(tb.ctx, time.Minute)
		// Fonts and the socket's first fetches settle.
		err := chromedp.Do(ctx, chromedp.Sleep(300*time.Millisecond))
		var png []byte
		if err == nil {
			png, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
		}
		cancel()
		if err != nil {
			tb.t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+"-"+size.suffix+".png"), png, 0o644); err != nil {
			tb.t.Fatal(err)
		}
	}
}

func TestDispatchConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	browser := newChromium(t)
	root := t.TempDir()
	d := startDemo(t, root)
	hc := httpClient(t, root, 2)
	apiToken := demoToken(t, root)
	logins := demoLoginsOf(t, root)
	shots := screenshots(t)

	operator := newTab(t, browser)
	code, err := totp.GenerateCode(logins.TOTP["operator"], time.Now())
	if err != nil {
		t.Fatal(err)
	}
	operator.signIn(d, "operator", logins.Password, code)
	amara := newTab(t, browser)
	amara.signIn(d, "amara.okafor", logins.Password, "")
	sofia := newTab(t, browser)
	sofia.signIn(d, "sofia.reyes", logins.Password, "")

	// Dr Okafor's open inbox: notification permission is not granted in
	// this browser, so the page shows a banner; vibration is recorded.
	eval[bool](amara, `window.pbVibes = []; navigator.vibrate = p => { window.pbVibes.push(p); return true; }; true`)

	// The code call: critical, to the code team, from the console.
	operator.run("code call",
		chromedp.Navigate(d.url("/app/dispatch")),
		waitVisible("#code-form"),
		setValue("#code", "Code Blue"),
		sendKeys("#location", "4W Rm 412"),
		setValue("#code-to", "group:code-team"),
		click("#code-send"),
		waitVisible("#roster li.responder"),
	)
	pageID := eval[string](operator, `document.getElementById('roster-card').dataset.page`)
	title := eval[string](operator, `document.getElementById('roster-title').textContent`)
	if !strings.HasPrefix(title, "Critical") {
		t.Errorf("roster title %q", title)
	}
	r := route(t, hc, d, apiToken, pageID)
	if r.Priority != paging.PriorityCritical || r.PagerID != "9999" || r.Target.ID != "code-team" || r.State != engine.StateActive {
		t.Fatalf("the code call's route: priority %s pager %s target %s state %s", r.Priority, r.PagerID, r.Target, r.State)
	}
	operator.reset()
	eval[string](operator, `window.pbMarker = 'no reload'`)

	// Her page told her: a critical banner with the thread's label and no
	// text, and the long critical vibration.
	amara.run("the critical banner", waitVisible(`#toasts a.toast.prio-critical[href="/app/threads/`+pageID+`"]`))
	banner := eval[string](amara, `document.querySelector('#toasts a.toast').textContent`)
	if !strings.HasPrefix(banner, "Critical page") || !strings.Contains(banner, "9999") || strings.Contains(banner, "4W Rm 412") {
		t.Errorf("banner %q", banner)
	}
	if vibes := eval[[][]int](amara, `window.pbVibes`); len(vibes) != 1 || len(vibes[0]) != 7 {
		t.Errorf("vibration patterns %v, want the critical one", vibes)
	}

	// Dr Okafor opens the page from her inbox and is responding: the
	// console shows it without a reload.
	amara.run("the code call in her inbox, then responding",
		waitVisible(`#inbox li[data-id="`+pageID+`"]`),
		click(`#inbox li[data-id="`+pageID+`"] a`),
		waitVisible("#responding"),
		click("#responding"),
		waitVisible("#responding.chosen"),
	)
	operator.run("responding, live", waitVisible(`#roster li.responder.responding[data-person="amara.okafor"]`))
	// Dr Reyes cannot come.
	sofia.run("the code call in her inbox, then can't respond",
		waitVisible(`#inbox li[data-id="`+pageID+`"]`),
		click(`#inbox li[data-id="`+pageID+`"] a`),
		waitVisible("#cannot"),
		click("#cannot"),
		waitVisible("#cannot.chosen"),
	)
	operator.run("can't respond, live", waitVisible(`#roster li.responder.cannot[data-person="sofia.reyes"]`))
	if m := eval[string](operator, `window.pbMarker`); m != "no reload" {
		t.Fatalf("the console reloaded (marker %q)", m)
	}
	tally := eval[string](operator, `['n-reached','n-acked','n-responding','n-cannot'].map(id => document.getElementById(id).textContent).join(' ')`)
	if tally != "3 1 1 1" {
		t.Errorf("tally reached/acked/responding/cannot = %s, want 3 1 1 1", tally)
	}
	frames, requests := operator.seen()
	var carried int
	for _, f := range frames {
		if strings.Contains(f, `"type":"page"`) && strings.Contains(f, pageID) {
			carried++
		}
		if strings.Contains(f, "4W Rm 412") || strings.Contains(f, "Code Blue") {
			t.Errorf("a frame carries the page's text: %s", f)
		}
	}
	if carried < 2 {
		t.Errorf("%d page frames for %s, want one per answer at least: %q", carried, pageID, frames)
	}
	for _, u := range requests {
		if strings.Contains(u, "/app/dispatch?") || strings.HasSuffix(u, "/app/dispatch") {
			t.Errorf("the console reloaded: %s", u)
		}
	}
	// Responding acknowledged the page: the escalation stopped.
	r = route(t, hc, d, apiToken, pageID)
	if r.State != engine.StateAcknowledged || r.Acked == nil || r.Acked.Person != "amara.okafor" || !r.Next.IsZero() {
		t.Errorf("route after responding: state %s acked %+v next %v", r.State, r.Acked, r.Next)
	}

	// On-call lookup: cardiology has someone on call now and next.
	operator.run("on call",
		setValue("#oncall-role", "cardiology-oncall"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('oncall-role').dispatchEvent(new Event('change'))`),
		waitVisible("#oncall-now li b"),
		waitVisible("#oncall-next li b"),
	)

	// The pages list has it, acknowledged.
	operator.run("the list", waitVisible(`#pages tr[data-id="`+pageID+`"] .state.acknowledged`))

	// The hardware page: the demo's agent and its modem with signal bars,
	// then live: the agent's next status reaches the page as a frame.
	operator.reset()
	operator.run("hardware",
		chromedp.Navigate(d.url("/app/hardware")),
		waitVisible(`[data-agent="demo-agent"] .state.online`),
		waitVisible(`[data-device="modem-1"] .bars`),
		waitVisible(`[data-device="terminal-1"]`),
		waitVisible("#live.on"),
	)
	eval[string](operator, `window.pbMarker = 'no reload'`)
	doneExpr := `Array.from(document.querySelectorAll('[data-device="terminal-1"] dt')).find(e => e.textContent === 'Done / failed').nextElementSibling.textContent`
	doneBefore := eval[string](operator, doneExpr)
	// A page to a pager-stage nurse goes out on the paging terminal: the
	// agent reports the job done in its next status.
	sender := demoSender(t, root)
	resp, err := wctp.Submit(context.Background(), hc, d.url("/wctp"), page(sender, "hw-1", "1002", "Room 12 call bell"))
	if err != nil || !resp.Success {
		t.Fatalf("WCTP submit: %+v %v", resp, err)
	}
	waitUntil(t, time.Minute, "a hardware frame", func() bool {
		frames, _ := operator.seen()
		return slices.Contains(frames, `{"type":"hardware"}`)
	})
	waitUntil(t, time.Minute, "the terminal's count of pages done, live", func() bool {
		return eval[string](operator, doneExpr) != doneBefore
	})
	if m := eval[string](operator, `window.pbMarker`); m != "no reload" {
		t.Fatalf("the hardware page reloaded (marker %q)", m)
	}

	// The service worker: registered, in control, and its cache holds
	// the app shell only, after the thread and the inbox were loaded.
	amara.run("inbox again", chromedp.Navigate(d.url("/app/")), waitVisible("#live.on"))
	if !evalAwait[bool](amara, `navigator.serviceWorker.ready.then(r => !!r.active)`) {
		t.Fatal("no active service worker")
	}
	amara.run("a thread and the inbox's JSON under the worker",
		chromedp.Navigate(d.url("/app/threads/"+pageID)), waitVisible("#messages li"), waitVisible("#live.on"),
		chromedp.Evaluate[chromedp.Void](`fetch('/app/inbox.json')`, chromedp.EvalAwaitPromise),
		chromedp.Navigate(d.url("/app/")), waitVisible("#inbox"))
	if !evalAwait[bool](amara, `Promise.resolve(!!navigator.serviceWorker.controller)`) {
		t.Error("the service worker does not control the app")
	}
	cached := evalAwait[[]string](amara, `(async () => {
		const out = [];
		for (const k of await caches.keys()) {
			const c = await caches.open(k);
			for (const r of await c.keys()) { out.push(k + ' ' + new URL(r.url).pathname); }
		}
		return out;
	})()`)
	for _, want := range []string{"pagebridge-shell-v1 /static/app.css", "pagebridge-shell-v1 /static/app.js", "pagebridge-shell-v1 /app/offline"} {
		if !slices.Contains(cached, want) {
			t.Errorf("the shell cache lacks %s: %q", want, cached)
		}
	}
	for _, c := range cached {
		_, path, _ := strings.Cut(c, " ")
		if !strings.HasPrefix(path, "/static/") && path != "/app/offline" {
			t.Errorf("the service worker cached %s", c)
		}
	}

	// The profile: presence busy with a note; the console's on-call list
	// shows it.
	amara.run("presence",
		chromedp.Navigate(d.url("/app/profile")),
		waitVisible("#presence-form"),
		click(`input[name=presence][value=busy]`),
		sendKeys("#note", "In cath lab until 3"),
		click("#presence-save"),
		waitVisible(".notice"),
	)
	if p := eval[string](amara, `document.querySelector('.profile-head .presence').textContent`); p != "busy" {
		t.Errorf("presence after saving: %q", p)
	}

	if shots != "" {
		// A reply in the thread, so it shows a conversation.
		amara.run("reply", chromedp.Navigate(d.url("/app/threads/"+pageID)), waitVisible("#reply-text"),
			sendKeys("#reply-text", "On my way, 2 min."), click("#reply"), waitVisible("#messages li:nth-child(2)"))
		// Two more pages to her pager, so her inbox shows a few.
		for i, text := range []string{"Bed 14 chest pain, please come", "ED: troponin back, please call 4412"} {
			resp, err := wctp.Submit(context.Background(), hc, d.url("/wctp"), page(sender, fmt.Sprintf("shot-%d", i), "1001", text))
			if err != nil || !resp.Success {
				t.Fatalf("WCTP submit: %+v %v", resp, err)
			}
		}
		shoot(amara, d, shots, "inbox", "/app/", "#inbox li:nth-child(4)")
		shoot(amara, d, shots, "thread", "/app/threads/"+pageID, "#messages li")
		shoot(operator, d, shots, "dispatch", "/app/dispatch?page="+pageID, "#roster li.responder")
		shoot(operator, d, shots, "hardware", "/app/hardware", `[data-device="modem-1"] .bars`)
		shoot(amara, d, shots, "profile", "/app/profile", "#presence-form")
		t.Logf("screenshots in %s", shots)
	}
}
