package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"pagebridge/gateway/api"
)

// examplePath fills a route pattern's parameters: the clinician's own
// person for :person, so that only the role table decides.
func examplePath(pattern string) string {
	parts := strings.Split(pattern, "/")
	for i, p := range parts {
		switch p {
		case ":person":
			parts[i] = "lee"
		case ":feed":
			parts[i] = "x.ics"
		default:
			if strings.HasPrefix(p, ":") {
				parts[i] = "nope"
			}
		}
	}
	return strings.Join(parts, "/")
}

// Every route registered is in the table, and the table is enforced for
// every role: 403 for a role it does not list, anything but 401 and 403
// for one it does, unless the route needs the role's token to act as a
// person and it acts as nobody (403 saying so; the same role's token with
// a person gets through); 401 for a missing, malformed, unknown, wrong,
// revoked or expired token on every route that is not public.
func TestAuthMatrix(t *testing.T) {
	r := newRig(t)
	table := r.api.Routes()
	var registered, listed []string
	for _, ri := range r.router.Routes() {
		registered = append(registered, ri.Method+" "+ri.Path)
	}
	for _, rt := range table {
		listed = append(listed, rt.Method+" "+rt.Path)
		if rt.Roles != nil && !slices.Contains(rt.Roles, api.RoleAdmin) {
			t.Errorf("%s %s: admin may do everything, but not this", rt.Method, rt.Path)
		}
	}
	slices.Sort(registered)
	slices.Sort(listed)
	if !slices.Equal(registered, listed) {
		t.Fatalf("registered routes are not the table:\n registered %q\n table      %q", registered, listed)
	}

	// A revoked and an expired admin token.
	var created struct {
		Token  string
		Record api.TokenRecord
	}
	r.as(api.RoleAdmin, "POST", "/api/v1/tokens", map[string]any{"name": "to revoke", "role": "admin"}, 201).json(t, &created)
	revoked := created.Token
	r.as(api.RoleAdmin, "DELETE", "/api/v1/tokens/"+created.Record.ID, nil, 200)
	r.as(api.RoleAdmin, "POST", "/api/v1/tokens", map[string]any{"name": "short", "role": "admin", "ttl": "1h"}, 201).json(t, &created)
	expired := created.Token
	// Tokens that act as a person, for the routes that need one.
	withPerson := map[api.Role]string{api.RoleClinician: r.tok[api.RoleClinician]}
	for _, role := range []api.Role{api.RoleAdmin, api.RoleIT, api.RoleOperator} {
		r.as(api.RoleAdmin, "POST", "/api/v1/tokens", map[string]any{"name": "as kim", "role": role, "person": "kim"}, 201).json(t, &created)
		withPerson[role] = created.Token
	}
	r.do(req{method: "GET", path: "/api/v1/people", token: expired}) // works now...
	r.clock.add(2 * time.Hour)                                       // ...not any more
	wrongSecret := r.tok[api.RoleAdmin][:len(r.tok[api.RoleAdmin])-4] + "0000"
	if wrongSecret == r.tok[api.RoleAdmin] {
		wrongSecret = r.tok[api.RoleAdmin][:len(r.tok[api.RoleAdmin])-4] + "1111"
	}
	bad := map[string]string{
		"no token":     "",
		"malformed":    "hello",
		"unknown id":   "pbt_01KB0000000000000000000000_" + strings.Repeat("ab", 32),
		"wrong secret": wrongSecret,
		"revoked":      revoked,
		"expired":      expired,
	}

	for _, rt := range table {
		path := examplePath(rt.Path)
		if rt.Roles == nil {
			if res := r.do(req{method: rt.Method, path: path}); res.code == 401 || res.code == 403 {
				t.Errorf("public %s %s: %d", rt.Method, rt.Path, res.code)
			}
			continue
		}
		for name, tok := range bad {
			res := r.do(req{method: rt.Method, path: path, token: tok})
			if res.code != http.StatusUnauthorized || res.header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s with %s token: %d %s", rt.Method, rt.Path, name, res.code, res.body)
			}
		}
		if res := r.do(req{method: rt.Method, path: path, token: "x"}); res.code != 401 {
			t.Errorf("%s %s, Authorization: Bearer x: %d", rt.Method, rt.Path, res.code)
		}
		for _, role := range api.Roles {
			res := r.do(req{method: rt.Method, path: path, token: r.tok[role]})
			allowed := slices.Contains(rt.Roles, role)
			needsPerson := slices.Contains(rt.AsPerson, role)
			switch {
			case allowed && needsPerson && role != api.RoleClinician:
				// The rig's token acts as nobody.
				if res.code != 403 || !strings.Contains(res.errorText(t), "acts as nobody") {
					t.Errorf("%s %s as %s without a person: %d %s", rt.Method, rt.Path, role, res.code, res.body)
				}
			case allowed && (res.code == 401 || res.code == 403):
				t.Errorf("%s %s as %s (allowed): %d %s", rt.Method, rt.Path, role, res.code, res.body)
			case !allowed && res.code != 403:
				t.Errorf("%s %s as %s (not allowed): %d %s", rt.Method, rt.Path, role, res.code, res.body)
			}
			if allowed {
				if res := r.do(req{method: rt.Method, path: path, token: withPerson[role]}); res.code == 401 || res.code == 403 {
					t.Errorf("%s %s as %s with a person (allowed): %d %s", rt.Method, rt.Path, role, res.code, res.body)
				}
			}
		}
		if len(rt.AsPerson) > 0 && !slices.ContainsFunc(rt.AsPerson, func(ro api.Role) bool { return slices.Contains(rt.Roles, ro) }) {
			t.Errorf("%s %s: AsPerson %v names none of its roles", rt.Method, rt.Path, rt.AsPerson)
		}
	}
}

// A token with scopes may call only routes of those scopes, and still
// only what its role allows.
func TestScopesNarrow(t *testing.T) {
	r := newRig(t)
	var created struct{ Token string }
	r.as(api.RoleAdmin, "POST", "/api/v1/tokens", map[string]any{"name": "directory reader", "role": "it",
		"scopes": []string{"directory:read"}}, 201).json(t, &created)
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/api/v1/people", 200},
		{"GET", "/api/v1/people/lee", 200},
		{"PUT", "/api/v1/people/lee", 403},
		{"GET", "/api/v1/schedules", 403},
		{"GET", "/api/v1/tokens", 403},
	} {
		if res := r.do(req{method: c.method, path: c.path, token: created.Token}); res.code != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, res.code, c.want)
		}
	}
	for _, body := range []map[string]any{
		{"name": "x", "role": "it", "scopes": []string{"everything"}},
		{"name": "x", "role": "clinician"},
		{"name": "x", "role": "clinician", "person": "nobody"},
		{"name": "x", "role": "root"},
		{"name": "", "role": "it"},
		{"name": "x", "role": "it", "ttl": "forever"},
	} {
		if res := r.do(req{method: "POST", path: "/api/v1/tokens", token: r.tok[api.RoleAdmin], body: body}); res.code != 400 {
			t.Errorf("token %v: %d %s", body, res.code, res.body)
		}
	}
}

// Listing and reading tokens never shows a secret or its hash.
func TestTokensNeverShowSecrets(t *testing.T) {
	r := newRig(t)
	var created struct{ Token string }
	r.as(api.RoleAdmin, "POST", "/api/v1/tokens", map[string]any{"name": "cli", "role": "operator"}, 201).json(t, &created)
	secret := created.Token[strings.LastIndex(created.Token, "_")+1:]
	for _, path := range []string{"/api/v1/tokens", "/api/v1/tokens/" + r.tokID[api.RoleOperator]} {
		body := string(r.as(api.RoleAdmin, "GET", path, nil, 200).body)
		if strings.Contains(body, "hash") || strings.Contains(body, secret) {
			t.Errorf("%s shows a secret or hash: %s", path, body)
		}
	}
	// The new token works.
	if res := r.do(req{method: "GET", path: "/api/v1/pages", token: created.Token}); res.code != 200 {
		t.Fatalf("new token: %d %s", res.code, res.body)
	}
}
