package api_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"pagebridge/gateway/api"
	"pagebridge/storage"
)

// Calls and refusals each leave one API entry with the token, the route
// pattern, the object, the client address and the status; writes also
// leave the store's entry for the same actor. No secret reaches the audit
// log or the logs.
func TestAuditEveryCall(t *testing.T) {
	r := newRig(t)
	before := len(r.audit())
	r.as(api.RoleOperator, "GET", "/api/v1/people/lee", nil, 200)
	r.as(api.RoleClinician, "PUT", "/api/v1/people/kim", map[string]any{"name": "x", "stage": "app"}, 403)
	r.do(req{method: "GET", path: "/api/v1/people"})
	r.do(req{method: "GET", path: "/api/v1/people", token: r.tok[api.RoleAdmin] + "0"})
	r.as(api.RoleAdmin, "PUT", "/api/v1/people/ray", map[string]any{"name": "Ray", "stage": "pager"}, 200)
	r.as(api.RoleIT, "GET", "/api/v1/roles/nope", nil, 404)

	got := r.audit()[before:]
	type entry struct{ actor, action, object, detail string }
	var es []entry
	for _, e := range got {
		if e.Source != "192.0.2.1" {
			t.Errorf("entry %+v: source %q, want the client's address", e, e.Source)
		}
		es = append(es, entry{e.Actor, e.Action, e.Object, e.Detail})
	}
	op, cl, ad, it := "token:"+r.tokID[api.RoleOperator], "token:"+r.tokID[api.RoleClinician]+" person:lee",
		"token:"+r.tokID[api.RoleAdmin], "token:"+r.tokID[api.RoleIT]
	want := []entry{
		{op, "api.GET /api/v1/people/:id", "person/lee", "status 200"},
		{cl, "api.PUT /api/v1/people/:id", "person/kim", "status 403: role clinician may not call this"},
		{"anonymous", "api.GET /api/v1/people", "people", "status 401: no token (Authorization: Bearer pbt_...)"},
		{"anonymous", "api.GET /api/v1/people", "people", "status 401: malformed token"},
		{ad, "person.create", "person/ray", "api.PUT /api/v1/people/:id"},
		{ad, "api.PUT /api/v1/people/:id", "person/ray", "status 200"},
		{it, "api.GET /api/v1/roles/:id", "role/nope", "status 404: role nope: not found"},
	}
	if !slices.Equal(es, want) {
		t.Fatalf("audit entries:\n got  %+v\n want %+v", es, want)
	}
	logs := r.logs.String()
	if !strings.Contains(logs, "API call refused") || !strings.Contains(logs, "status=403") {
		t.Errorf("refusals not logged:\n%s", logs)
	}
	assertNoSecrets(t, r)
}

// assertNoSecrets fails if any token's secret is in the audit log or the
// logs.
func assertNoSecrets(t *testing.T, r *rig, extra ...string) {
	t.Helper()
	all, _ := json.Marshal(r.audit())
	logs := r.logs.String()
	secrets := extra
	for _, tok := range r.tok {
		secrets = append(secrets, tok)
	}
	for _, s := range secrets {
		secret := s[strings.LastIndex(s, "_")+1:]
		if strings.Contains(string(all), secret) || strings.Contains(logs, secret) {
			t.Errorf("a token secret is in the audit log or the logs")
		}
	}
	// Stored records keep only hashes.
	recs, err := storage.Records[map[string]any](t.Context(), r.st, storage.KindToken)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(recs)
	for _, s := range secrets {
		if strings.Contains(string(raw), s[strings.LastIndex(s, "_")+1:]) {
			t.Errorf("a token secret is stored")
		}
	}
}

// With the store (and so the audit log) gone, calls get 503 and no data,
// refusals are still refused, and nothing panics.
func TestStoreGone(t *testing.T) {
	r := newRig(t)
	if err := r.st.Close(); err != nil {
		t.Fatal(err)
	}
	for _, q := range []req{
		{method: "GET", path: "/api/v1/people", token: r.tok[api.RoleAdmin]},
		{method: "GET", path: "/api/v1/openapi.yaml"},
	} {
		if res := r.do(q); res.code != 503 || !strings.Contains(string(res.body), `"error":`) {
			t.Errorf("%s %s: %d %s", q.method, q.path, res.code, res.body)
		}
	}
	if res := r.do(req{method: "GET", path: "/api/v1/people"}); res.code != 401 {
		t.Errorf("no token, store gone: %d", res.code)
	}
}
