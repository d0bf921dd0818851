package main

// Administration in a real browser against `pagebridge demo`: moving a
// nurse from the pager to the app stage sends the next page to her pager
// ID to the app (the engine's route says so, and the page is in her
// inbox); a CSV import with a bad line shows it and imports nothing
// until the file is fixed; an account made here must change its initial
// password at the first sign-in.

import (
	"context"
	"encoding/json"
	"net/http"
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

// routeByRef finds a page's route by its sender reference.
func routeByRef(t *testing.T, hc *http.Client, d *daemon, token, ref string) (engine.Route, bool) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, d.url("/api/v1/pages?limit=100"), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Pages []engine.Route }
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("pages: HTTP %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	for _, r := range body.Pages {
		if r.SenderRef == ref {
			return r, true
		}
	}
	return engine.Route{}, false
}

// channelsOf lists the channels a route tried for a person.
func channelsOf(r engine.Route, person string) []paging.Channel {
	var out []paging.Channel
	for _, d := range r.Deliveries {
		if d.PersonID != person {
			continue
		}
		for _, a := range d.Attempts {
			if !slices.Contains(out, a.Channel) {
				out = append(out, a.Channel)
			}
		}
	}
	return out
}

// apiStatus is the status of a GET on the JSON API.
func apiStatus(t *testing.T, hc *http.Client, d *daemon, token, path string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, d.url(path), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestWebAdminInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	browser := newChromium(t)
	root := t.TempDir()
	d := startDemo(t, root)
	hc := httpClient(t, root, 2)
	apiToken := demoToken(t, root)
	logins := demoLoginsOf(t, root)
	sender := demoSender(t, root)
	submit := func(ref string) engine.Route {
		t.Helper()
		resp, err := wctp.Submit(context.Background(), hc, d.url("/wctp"), page(sender, ref, "1002", "Room 12 needs you ("+ref+")"))
		if err != nil || !resp.Success {
			t.Fatalf("WCTP submit %s: %+v %v", ref, resp, err)
		}
		var r engine.Route
		waitUntil(t, 30*time.Second, "the route of "+ref+" reaching Ben", func() bool {
			var ok bool
			r, ok = routeByRef(t, hc, d, apiToken, ref)
			return ok && len(channelsOf(r, "ben.lee")) > 0
		})
		return r
	}

	// Ben Lee (pager 1002) is at the pager stage: a page rings his pager.
	if got := channelsOf(submit("adm-before"), "ben.lee"); !slices.Equal(got, []paging.Channel{paging.ChannelPager}) {
		t.Fatalf("before the move, the page went to %v", got)
	}

	admin := newTab(t, browser)
	code, err := totp.GenerateCode(logins.TOTP["admin"], time.Now())
	if err != nil {
		t.Fatal(err)
	}
	admin.signIn(d, "admin", logins.Password, code)
	admin.run("move Ben to the app stage",
		chromedp.Navigate(d.url("/app/admin/people?q=ben")),
		waitVisible(`tr[data-id="ben.lee"] button[value="app"]`),
		click(`tr[data-id="ben.lee"] button[value="app"]`),
		waitVisible(".notice"),
		waitVisible(`tr[data-id="ben.lee"] button.current[value="app"]`),
	)
	if notice := eval[string](admin, `document.querySelector('.notice').textContent`); !strings.Contains(notice, "Ben Lee RN moved from pager to app stage.") {
		t.Errorf("the move said %q", notice)
	}

	// Ben, signed in, sees the next page to 1002 in his app inbox; the
	// engine routed it to the app and not to the pager.
	ben := newTab(t, browser)
	ben.signIn(d, "ben.lee", logins.Password, "")
	after := submit("adm-after")
	if got := channelsOf(after, "ben.lee"); !slices.Equal(got, []paging.Channel{paging.ChannelApp}) {
		t.Fatalf("after the move, the page went to %v", got)
	}
	ben.run("the page in Ben's inbox", waitVisible(`#inbox li[data-id="`+after.Message.String()+`"]`))
	waitUntil(t, 30*time.Second, "Ben's app attempt delivered", func() bool {
		return appAttempt(route(t, hc, d, apiToken, after.Message.String()), "ben.lee") == paging.StateDelivered
	})

	// A CSV import with one bad line: the error is shown with its line and
	// nothing is imported until the file is fixed.
	dir := t.TempDir()
	const head = "pager_id,target_kind,target_id,priority,policy,label\n"
	bad, good := filepath.Join(dir, "bad.csv"), filepath.Join(dir, "good.csv")
	if err := os.WriteFile(bad, []byte(head+"5001,person,ben.lee,normal,,Ben 2\n5002,person,nobody.here,normal,,Ghost\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, []byte(head+"5001,person,ben.lee,normal,,Ben 2\n5002,role,cardiology-oncall,high,,Cardiology 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	admin.run("import the bad file",
		chromedp.Navigate(d.url("/app/admin/import")),
		waitVisible("#list"),
		setValue("#list", "pagerids"),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{bad}),
		click("#check"),
		waitVisible(`#import-errors tr[data-line="3"]`),
	)
	reason := eval[string](admin, `document.querySelector('#import-errors tr[data-line="3"]').textContent`)
	if !strings.Contains(reason, "5002") || !strings.Contains(reason, "nobody.here") {
		t.Errorf("the bad line shows %q", reason)
	}
	if eval[bool](admin, `!!document.getElementById('apply')`) {
		t.Error("a file with a bad line can be applied")
	}
	for _, id := range []string{"5001", "5002"} {
		if st := apiStatus(t, hc, d, apiToken, "/api/v1/pagerids/"+id); st != http.StatusNotFound {
			t.Fatalf("pager ID %s after the bad file: HTTP %d", id, st)
		}
	}
	admin.run("check the fixed file",
		setValue("#list", "pagerids"),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{good}),
		click("#check"),
		waitVisible("#apply"),
	)
	if changes := eval[int](admin, `document.querySelectorAll('#import-changes tr.change-new').length`); changes != 2 {
		t.Errorf("the preview shows %d new pager IDs, want 2", changes)
	}
	if st := apiStatus(t, hc, d, apiToken, "/api/v1/pagerids/5001"); st != http.StatusNotFound {
		t.Fatalf("the preview wrote pager ID 5001: HTTP %d", st)
	}
	admin.run("apply it", click("#apply"), waitVisible("#imported"))
	for _, id := range []string{"5001", "5002"} {
		if st := apiStatus(t, hc, d, apiToken, "/api/v1/pagerids/"+id); st != http.StatusOK {
			t.Fatalf("pager ID %s after the apply: HTTP %d", id, st)
		}
	}

	// An account made for a person signs in with its initial password
	// and must choose its own first.
	admin.run("create an account",
		chromedp.Navigate(d.url("/app/admin/accounts")),
		waitVisible("#new-account"),
		sendKeys("#new-username", "noah.web"),
		setValue("#new-person", "noah.fischer"),
		setValue("#new-role", "clinician"),
		sendKeys("#new-password", "initial password 42"),
		click("#create-account"),
		waitVisible(`tr[data-user="noah.web"]`),
	)
	noah := newTab(t, browser)
	noah.run("first sign-in",
		chromedp.Navigate(d.url("/app/signin")),
		waitVisible("#username"),
		sendKeys("#username", "noah.web"),
		sendKeys("#password", "initial password 42"),
		click("#signin"),
		waitVisible("#must-change"),
	)

	// Every change is in the audit log, which verifies.
	admin.run("the audit log",
		chromedp.Navigate(d.url("/app/admin/audit?object=pagerid/500")),
		waitVisible("#audit"),
		click("#verify-now"),
		waitVisible("#verify .notice"),
	)
	admin.run("filter", chromedp.Navigate(d.url("/app/admin/audit?object=pagerid/500")), waitVisible("#audit"))
	imports := eval[int](admin, `Array.from(document.querySelectorAll('#audit tr[data-seq]')).filter(r => r.textContent.includes('pagerid.import')).length`)
	if imports != 2 {
		t.Errorf("%d pagerid.import entries in the audit log, want 2", imports)
	}
}
