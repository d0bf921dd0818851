package api_test

import (
	"strings"
	"testing"

	"pagebridge/gateway/api"
)

type feed struct {
	URL    string
	Token  string
	Record api.TokenRecord
}

// A role's feed and a person's are valid VCALENDARs without a header,
// stop when revoked, and are nobody else's to see or revoke.
func TestCalendarFeeds(t *testing.T) {
	r := newRig(t)
	r.as(api.RoleAdmin, "PUT", "/api/v1/roles/cardiology", `{"name":"Cardiology"}`, 200)
	r.as(api.RoleAdmin, "PUT", "/api/v1/roles/icu", `{"name":"ICU"}`, 200)
	r.as(api.RoleIT, "PUT", "/api/v1/schedules/cardio", `{"role_id":"cardiology","name":"Cardiology","time_zone":"Europe/Berlin",`+
		`"layers":[{"name":"weeks","participants":["lee","kim"],"start":"2026-11-02T08:00","shift":{"n":1,"unit":"week"}}]}`, 200)
	r.as(api.RoleIT, "PUT", "/api/v1/schedules/icu", `{"role_id":"icu","name":"ICU nights","time_zone":"UTC",`+
		`"layers":[{"name":"nights","participants":["kim"],"start":"2026-11-01T20:00","shift":{"n":1,"unit":"day"},"windows":[{"days":[1,2,3,4,5],"start":"20:00","end":"08:00"}]}]}`, 200)

	var role, own feed
	r.as(api.RoleIT, "POST", "/api/v1/calendar-feeds", `{"role":"cardiology"}`, 201).json(t, &role)
	r.as(api.RoleClinician, "POST", "/api/v1/calendar-feeds", `{"person":"lee","ttl":"8760h"}`, 201).json(t, &own)
	r.as(api.RoleClinician, "POST", "/api/v1/calendar-feeds", `{"person":"kim"}`, 403)
	r.as(api.RoleClinician, "POST", "/api/v1/calendar-feeds", `{"role":"nope"}`, 400)
	r.as(api.RoleClinician, "POST", "/api/v1/calendar-feeds", `{"role":"icu","person":"lee"}`, 400)
	if !strings.HasPrefix(role.URL, "/api/v1/calendar/pbc_") || !strings.HasSuffix(role.URL, ".ics") {
		t.Fatalf("feed URL %q", role.URL)
	}

	for _, c := range []struct {
		name, url string
		has       []string
	}{
		{"role", role.URL, []string{"X-WR-CALNAME:Cardiology", "SUMMARY:On call: Cardiology (Dr lee)", "SUMMARY:On call: Cardiology (Dr kim)"}},
		{"person", own.URL, []string{"X-WR-CALNAME:Cardiology", "SUMMARY:On call: Cardiology\r\n"}},
	} {
		res := r.do(req{method: "GET", path: c.url})
		body := string(res.body)
		if res.code != 200 || !strings.HasPrefix(res.header.Get("Content-Type"), "text/calendar") {
			t.Fatalf("%s feed: %d %s", c.name, res.code, body)
		}
		if !strings.HasPrefix(body, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n") || !strings.HasSuffix(body, "END:VCALENDAR\r\n") ||
			strings.Count(body, "BEGIN:VEVENT") != strings.Count(body, "END:VEVENT") || strings.Count(body, "BEGIN:VEVENT") < 8 {
			t.Fatalf("%s feed is not a VCALENDAR of shifts:\n%s", c.name, body)
		}
		for _, h := range c.has {
			if !strings.Contains(body, h) {
				t.Errorf("%s feed lacks %q", c.name, h)
			}
		}
		if c.name == "person" && strings.Contains(body, "ICU") {
			t.Errorf("lee's feed shows kim's ICU nights")
		}
		uids := map[string]bool{}
		for _, l := range strings.Split(body, "\r\n") {
			if u, ok := strings.CutPrefix(l, "UID:"); ok {
				if uids[u] {
					t.Errorf("%s feed: UID %s twice", c.name, u)
				}
				uids[u] = true
			}
		}
	}

	// Feed tokens are not API tokens, nor the reverse.
	if res := r.do(req{method: "GET", path: "/api/v1/people", token: own.Token}); res.code != 401 {
		t.Errorf("a feed token as a bearer token: %d", res.code)
	}
	if res := r.do(req{method: "GET", path: "/api/v1/calendar/" + r.tok[api.RoleAdmin] + ".ics"}); res.code != 404 {
		t.Errorf("an API token as a feed: %d", res.code)
	}

	// Others do not see or revoke lee's feed; lee does.
	var listed struct{ Feeds []api.TokenRecord }
	r.as(api.RoleOperator, "GET", "/api/v1/calendar-feeds", nil, 200).json(t, &listed)
	if len(listed.Feeds) != 0 {
		t.Errorf("the operator sees others' feeds: %+v", listed)
	}
	r.as(api.RoleAdmin, "GET", "/api/v1/calendar-feeds", nil, 200).json(t, &listed)
	if len(listed.Feeds) != 2 || strings.Contains(string(r.as(api.RoleAdmin, "GET", "/api/v1/calendar-feeds", nil, 200).body), "hash") {
		t.Errorf("admin's list: %+v", listed)
	}
	r.as(api.RoleOperator, "DELETE", "/api/v1/calendar-feeds/"+own.Record.ID, nil, 404)
	r.as(api.RoleClinician, "DELETE", "/api/v1/calendar-feeds/"+own.Record.ID, nil, 200)
	if res := r.do(req{method: "GET", path: own.URL}); res.code != 404 {
		t.Fatalf("a revoked feed: %d", res.code)
	}
	r.as(api.RoleAdmin, "DELETE", "/api/v1/calendar-feeds/"+role.Record.ID, nil, 200)
	if res := r.do(req{method: "GET", path: role.URL}); res.code != 404 {
		t.Fatalf("a revoked feed: %d", res.code)
	}

	// Fetches are audited by the feed's ID; the secret in the URL is in
	// no audit entry and no log line.
	var fetched bool
	for _, e := range r.audit() {
		if e.Action == "api.GET /api/v1/calendar/:feed" && e.Actor == "feed:"+role.Record.ID && e.Object == "calendar/role/cardiology" {
			fetched = true
		}
	}
	if !fetched {
		t.Errorf("feed fetch not audited")
	}
	assertNoSecrets(t, r, role.Token, own.Token)
}
