package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// The first administrator of a new box comes from the command line: an
// account with a one-time password (and the person, when asked), which
// then signs in on the web app and must enrol a second factor before
// anything else.
func TestAccountCreate(t *testing.T) {
	root := t.TempDir()
	d := startDemo(t, root)
	code, out := cli(t, "account", "create", "-data", root, "-username", "ida.lead", "-role", "admin", "-person", "it-lead", "-name", "Ida Lead")
	if code != 0 {
		t.Fatalf("account create: exit %d\n%s", code, out)
	}
	m := regexp.MustCompile(`one-time password: (\S+)`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "enrols a TOTP") {
		t.Fatalf("account create printed no password or no TOTP notice:\n%s", out)
	}
	password := m[1]
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-username", "ida.lead", "-role", "admin", "-person", "it-lead"}, "already"},
		{[]string{"-username", "x", "-role", "janitor", "-person", "it-lead"}, "janitor"},
		{[]string{"-username", "y", "-role", "clinician", "-person", "nobody"}, "not in the directory"},
		{[]string{"-username", "z", "-role", "clinician"}, "required"},
	} {
		code, out := cli(t, append([]string{"account", "create", "-data", root}, c.args...)...)
		if code == 0 || !strings.Contains(out, c.want) {
			t.Errorf("%v: exit %d, want a failure saying %q:\n%s", c.args, code, c.want, out)
		}
	}

	// The person is in the directory.
	hc := httpClient(t, root, 2)
	req, _ := http.NewRequest(http.MethodGet, d.url("/api/v1/people/it-lead"), nil)
	req.Header.Set("Authorization", "Bearer "+demoToken(t, root))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Ida Lead") {
		t.Fatalf("GET person: %d %s", resp.StatusCode, body)
	}

	// Signing in with the one-time password leads to the second factor's
	// enrolment, nothing else.
	jar, _ := cookiejar.New(nil)
	hc.Jar = jar
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err = hc.Get(d.url("/app/signin"))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
	if csrf == nil {
		t.Fatalf("sign-in page has no CSRF token:\n%s", page)
	}
	form := url.Values{"username": {"ida.lead"}, "password": {password}, "csrf": {string(csrf[1])}}
	req, _ = http.NewRequest(http.MethodPost, d.url("/app/signin"), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://"+d.addr)
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || strings.HasPrefix(loc, "/app/signin") {
		t.Fatalf("sign-in with the one-time password: %d to %q, want a session", resp.StatusCode, loc)
	}
	// That session reaches no inbox: it must enrol (and change the
	// password) first.
	resp, err = hc.Get(d.url("/app/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc == "" || strings.HasPrefix(loc, "/app/signin") {
		t.Fatalf("the inbox with a first session: %d to %q, want a redirect to the enrolment", resp.StatusCode, loc)
	}
}
