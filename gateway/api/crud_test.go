package api_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"pagebridge/gateway/api"
)

// Each kind of record: put, read back the same, listed, deleted, gone.
// In dependency order, and deleted in reverse.
func TestCRUDRoundTrips(t *testing.T) {
	r := newRig(t)
	type kind struct {
		path, list string
		body       string
	}
	kinds := []kind{
		{"/api/v1/roles/cardiology", "/api/v1/roles", `{"id":"cardiology","name":"Cardiology on call","policy":"critical"}`},
		{"/api/v1/people/ray", "/api/v1/people", `{"id":"ray","name":"Dr Ray","department":"Cardiology","stage":"both","roles":["cardiology"],` +
			`"endpoints":[{"channel":"app","address":"ray"},{"channel":"pager","address":"1003","via":"terminal-1"},{"channel":"sms","address":"+4915112345678"}]}`},
		{"/api/v1/groups/team", "/api/v1/groups", `{"id":"team","name":"Team","members":["ray","lee"]}`},
		{"/api/v1/pagerids/2000", "/api/v1/pagerids", `{"id":"2000","target":{"kind":"role","id":"cardiology"},"priority":"high","label":"Cardiology"}`},
		{"/api/v1/policies/critical", "/api/v1/policies", `{"id":"critical","steps":[{"delay":0,"channels":["app"]},{"delay":120000000000,"targets":[{"kind":"group","id":"team"}]}],"repeat":1}`},
		{"/api/v1/schedules/cardio", "/api/v1/schedules", `{"id":"cardio","role_id":"cardiology","name":"Cardiology","time_zone":"Europe/Berlin",` +
			`"layers":[{"name":"days","participants":["ray","lee"],"start":"2026-11-01T08:00","shift":{"n":1,"unit":"day"}}],` +
			`"overrides":[{"id":"o1","start":"2026-11-28T08:00:00Z","end":"2026-11-28T20:00:00Z","kind":"replace","person":"kim","replaces":"ray"}]}`},
		{"/api/v1/presence/ray", "/api/v1/presence", `{"person":"ray","state":"dnd","forward_to":"kim","note":"in theatre"}`},
	}
	for _, k := range kinds {
		put := r.as(api.RoleAdmin, "PUT", k.path, k.body, 200)
		get := r.as(api.RoleIT, "GET", k.path, nil, 200)
		if !jsonEqual(t, put.body, get.body) {
			t.Errorf("%s: read back\n %s\nput\n %s", k.path, get.body, put.body)
		}
		if !strings.Contains(string(r.as(api.RoleAdmin, "GET", k.list, nil, 200).body), `"`+k.path[strings.LastIndex(k.path, "/")+1:]+`"`) {
			t.Errorf("%s not listed", k.path)
		}
	}
	// The presence read shows what applies now.
	var pv struct{ State, Effective string }
	r.as(api.RoleClinician, "GET", "/api/v1/presence/ray", nil, 200).json(t, &pv)
	if pv.State != "dnd" || pv.Effective != "dnd" {
		t.Errorf("presence %+v", pv)
	}
	// Things still in use are refused.
	for _, p := range []string{"/api/v1/people/ray", "/api/v1/roles/cardiology", "/api/v1/policies/critical"} {
		if res := r.do(req{method: "DELETE", path: p, token: r.tok[api.RoleAdmin]}); res.code != 409 {
			t.Errorf("DELETE %s while in use: %d %s", p, res.code, res.body)
		}
	}
	// The role lets go of its policy, which goes before it.
	r.as(api.RoleAdmin, "PUT", "/api/v1/roles/cardiology", `{"name":"Cardiology on call"}`, 200)
	for i := len(kinds) - 1; i >= 0; i-- {
		k := kinds[i]
		r.as(api.RoleAdmin, "DELETE", k.path, nil, 204)
		if !strings.Contains(k.path, "presence") {
			r.as(api.RoleIT, "GET", k.path, nil, 404)
		}
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return bytes.Equal(ja, jb)
}

// Invalid records are 400 with a message that says what is wrong, and
// nothing is stored.
func TestValidationErrors(t *testing.T) {
	r := newRig(t)
	r.as(api.RoleAdmin, "PUT", "/api/v1/roles/icu", `{"name":"ICU"}`, 200)
	for _, c := range []struct {
		name, method, path, body string
		status                   int
		says                     string
	}{
		{"bad stage", "PUT", "/api/v1/people/x", `{"name":"X","stage":"paper"}`, 400, `unknown migration stage "paper"`},
		{"bad E.164", "PUT", "/api/v1/people/x", `{"name":"X","stage":"app","endpoints":[{"channel":"sms","address":"0151"}]}`, 400, "not E.164"},
		{"ids differ", "PUT", "/api/v1/people/x", `{"id":"y","name":"X","stage":"app"}`, 400, `the body's id "y" is not the path's "x"`},
		{"unknown field", "PUT", "/api/v1/people/x", `{"name":"X","stage":"app","age":40}`, 400, `unknown field "age"`},
		{"not JSON", "PUT", "/api/v1/people/x", `{"name":`, 400, "body:"},
		{"two values", "PUT", "/api/v1/roles/x", `{"name":"X"}{"name":"Y"}`, 400, "more than one JSON value"},
		{"empty body", "PUT", "/api/v1/roles/x", ``, 400, "empty"},
		{"no name", "PUT", "/api/v1/roles/x", `{}`, 400, "id and name are required"},
		{"group member missing", "PUT", "/api/v1/groups/g", `{"name":"G","members":["nobody"]}`, 400, "nobody"},
		{"target missing", "PUT", "/api/v1/pagerids/1", `{"target":{"kind":"person","id":"nobody"},"priority":"normal"}`, 400, "not found"},
		{"target kind", "PUT", "/api/v1/pagerids/1", `{"target":{"kind":"ward","id":"x"},"priority":"normal"}`, 400, `unknown target kind "ward"`},
		{"bad priority", "PUT", "/api/v1/pagerids/1", `{"target":{"kind":"person","id":"lee"},"priority":"urgent"}`, 400, "urgent"},
		{"policy without steps", "PUT", "/api/v1/policies/p", `{"steps":[]}`, 400, "no steps"},
		{"policy repeat", "PUT", "/api/v1/policies/p", `{"steps":[{"delay":0}],"repeat":3}`, 400, "no delay in the round"},
		{"schedule zone", "PUT", "/api/v1/schedules/s", `{"role_id":"icu","name":"S","time_zone":"Mars/Olympus"}`, 400, "time_zone"},
		{"schedule shift", "PUT", "/api/v1/schedules/s", `{"role_id":"icu","name":"S","time_zone":"UTC","layers":[{"name":"l","participants":["lee"],"start":"2026-01-01T08:00","shift":{"n":0,"unit":"day"}}]}`, 400, "layers[0].shift"},
		{"schedule role", "PUT", "/api/v1/schedules/s", `{"role_id":"nope","name":"S","time_zone":"UTC"}`, 400, "role nope"},
		{"schedule person", "PUT", "/api/v1/schedules/s", `{"role_id":"icu","name":"S","time_zone":"UTC","layers":[{"name":"l","participants":["ghost"],"start":"2026-01-01T08:00","shift":{"n":1,"unit":"day"}}]}`, 400, "not in the directory: ghost"},
		{"presence state", "PUT", "/api/v1/presence/lee", `{"state":"away"}`, 400, `state "away"`},
		{"presence forward", "PUT", "/api/v1/presence/lee", `{"state":"off-duty","forward_to":"ghost"}`, 400, "ghost"},
		{"presence past", "PUT", "/api/v1/presence/lee", `{"state":"dnd","until":"2020-01-01T00:00:00Z"}`, 400, "until"},
		{"presence person", "PUT", "/api/v1/presence/ghost", `{"state":"dnd"}`, 404, "not found"},
		{"oncall at", "GET", "/api/v1/oncall/icu?at=tomorrow", ``, 400, "RFC 3339"},
		{"pages limit", "GET", "/api/v1/pages?limit=100000", ``, 400, "limit"},
		{"page id", "GET", "/api/v1/pages/123", ``, 400, "not a message ID"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := r.do(req{method: c.method, path: c.path, token: r.tok[api.RoleAdmin], body: c.body, contentType: "application/json"})
			if res.code != c.status || !strings.Contains(res.errorText(t), c.says) {
				t.Fatalf("%d %s, want %d saying %q", res.code, res.body, c.status, c.says)
			}
		})
	}
	for _, p := range []string{"/api/v1/people/x", "/api/v1/groups/g", "/api/v1/pagerids/1", "/api/v1/policies/p", "/api/v1/schedules/s", "/api/v1/presence/lee"} {
		if res := r.do(req{method: "GET", path: p, token: r.tok[api.RoleAdmin]}); res.code != 404 && !(p == "/api/v1/presence/lee" && strings.Contains(string(res.body), `"effective":"available"`)) {
			t.Errorf("%s stored after a refused write: %d %s", p, res.code, res.body)
		}
	}
}

// Clinicians set their own presence only; operators anyone's.
func TestPresencePermissions(t *testing.T) {
	r := newRig(t)
	r.as(api.RoleClinician, "PUT", "/api/v1/presence/lee", `{"state":"busy","note":"clinic"}`, 200)
	r.as(api.RoleClinician, "PUT", "/api/v1/presence/kim", `{"state":"off-duty"}`, 403)
	r.as(api.RoleClinician, "DELETE", "/api/v1/presence/kim", nil, 403)
	until := r.clock.Now().Add(time.Hour).Format(time.RFC3339)
	r.as(api.RoleOperator, "PUT", "/api/v1/presence/kim", `{"state":"off-duty","forward_to":"lee","until":"`+until+`"}`, 200)
	r.clock.add(2 * time.Hour)
	var pv struct{ State, Effective string }
	r.as(api.RoleClinician, "GET", "/api/v1/presence/kim", nil, 200).json(t, &pv)
	if pv.State != "off-duty" || pv.Effective != "available" {
		t.Fatalf("after until: %+v", pv)
	}
	r.as(api.RoleClinician, "DELETE", "/api/v1/presence/lee", nil, 204)
	r.as(api.RoleIT, "PUT", "/api/v1/presence/lee", `{"state":"busy"}`, 403)
}
