package api_test

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"pagebridge/gateway/api"
)

// Malformed and oversize bodies over a real HTTP server: each gets its
// answer, the server keeps serving, nothing is stored.
func TestBadBodiesOverHTTP(t *testing.T) {
	r := newRig(t)
	srv := httptest.NewServer(r.router)
	defer srv.Close()
	send := func(method, path, ctype string, body io.Reader) (int, string) {
		t.Helper()
		hr, err := http.NewRequest(method, srv.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		hr.Header.Set("Authorization", "Bearer "+r.tok[api.RoleAdmin])
		if ctype != "" {
			hr.Header.Set("Content-Type", ctype)
		}
		res, err := srv.Client().Do(hr)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	big := strings.Repeat("x", api.MaxJSONBody)
	for _, c := range []struct {
		name, method, path, ctype string
		body                      io.Reader
		status                    int
	}{
		{"truncated JSON", "PUT", "/api/v1/people/x", "application/json", strings.NewReader(`{"name":"X","stage":`), 400},
		{"not JSON", "PUT", "/api/v1/people/x", "application/json", strings.NewReader("\x00\xff\xfe"), 400},
		{"array", "PUT", "/api/v1/people/x", "application/json", strings.NewReader(`[1,2]`), 400},
		{"unknown field", "PUT", "/api/v1/people/x", "application/json", strings.NewReader(`{"name":"X","stage":"app","ssn":"1"}`), 400},
		{"trailing data", "PUT", "/api/v1/people/x", "application/json", strings.NewReader(`{"name":"X","stage":"app"} {}`), 400},
		{"oversize JSON", "PUT", "/api/v1/people/x", "application/json", strings.NewReader(`{"name":"` + big + `","stage":"app"}`), 413},
		{"oversize JSON after a value", "PUT", "/api/v1/people/x", "application/json", strings.NewReader(`{"name":"X","stage":"app"}` + strings.Repeat(" ", api.MaxJSONBody)), 413},
		{"oversize CSV", "POST", "/api/v1/import/people", "text/csv", io.MultiReader(strings.NewReader("id,name,department,title,stage,roles,app,pager,pager_via,sms\n"),
			bytes.NewReader(bytes.Repeat([]byte("a,A,,,app,,,,,\n"), api.MaxCSVBody/14))), 413},
		{"CSV garbage", "POST", "/api/v1/import/people", "text/csv", strings.NewReader("\x00\x01,\"\n\"\"\"x"), 400},
		{"no content type", "POST", "/api/v1/import/pagerids", "", strings.NewReader("pager_id\n"), 415},
		{"bad ack body", "POST", "/api/v1/pages/01KB0000000000000000000000/ack", "application/json", strings.NewReader(`{"person":1}`), 400},
	} {
		status, body := send(c.method, c.path, c.ctype, c.body)
		if status != c.status || !strings.Contains(body, `"error":`) {
			t.Errorf("%s: %d %.200s, want %d with an error", c.name, status, body, c.status)
		}
		// Still serving, still answering correctly.
		if status, _ := send("GET", "/api/v1/roles", "", nil); status != 200 {
			t.Fatalf("after %s: GET /roles %d", c.name, status)
		}
	}
	if status, body := send("GET", "/api/v1/people", "", nil); status != 200 || strings.Contains(body, `"x"`) || strings.Contains(body, `"a"`) {
		t.Fatalf("a refused body was stored: %s", body)
	}
	if status, _ := send("PUT", "/api/v1/people/x", "application/json", strings.NewReader(`{"name":"X","stage":"app"}`)); status != 200 {
		t.Fatalf("a good write after the bad ones: %d", status)
	}
}

// Every route registered is documented in openapi.yaml with the same
// roles (x-roles) and the same roles that must act as a person
// (x-person), every documented operation is registered, and the document
// is served without a token.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	r := newRig(t)
	type op struct{ method, path, roles, person string }
	var documented []op
	pathRe := regexp.MustCompile(`^  (/\S*):$`)
	methodRe := regexp.MustCompile(`^    (get|put|post|delete|patch):$`)
	rolesRe := regexp.MustCompile(`^      x-roles: \[(.*)\]$`)
	personRe := regexp.MustCompile(`^      x-person: \[(.*)\]$`)
	var path string
	inPaths := false
	sc := bufio.NewScanner(bytes.NewReader(api.OpenAPI))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "paths:":
			inPaths = true
		case inPaths && line != "" && !strings.HasPrefix(line, " "):
			inPaths = false
		case !inPaths:
		case pathRe.MatchString(line):
			path = pathRe.FindStringSubmatch(line)[1]
		case methodRe.MatchString(line):
			documented = append(documented, op{method: strings.ToUpper(methodRe.FindStringSubmatch(line)[1]), path: path})
		case rolesRe.MatchString(line):
			documented[len(documented)-1].roles = rolesRe.FindStringSubmatch(line)[1]
		case personRe.MatchString(line):
			documented[len(documented)-1].person = personRe.FindStringSubmatch(line)[1]
		}
	}
	param := regexp.MustCompile(`:(\w+)`)
	var registered []op
	for _, rt := range r.api.Routes() {
		join := func(rs []api.Role) string {
			var out []string
			for _, ro := range rs {
				out = append(out, string(ro))
			}
			return strings.Join(out, ", ")
		}
		p := param.ReplaceAllString(strings.TrimPrefix(rt.Path, api.Prefix), "{$1}")
		registered = append(registered, op{method: rt.Method, path: p, roles: join(rt.Roles), person: join(rt.AsPerson)})
	}
	cmp := func(a, b op) int { return strings.Compare(a.method+a.path, b.method+b.path) }
	slices.SortFunc(documented, cmp)
	slices.SortFunc(registered, cmp)
	if !slices.Equal(documented, registered) {
		for _, d := range documented {
			if !slices.Contains(registered, d) {
				t.Errorf("documented, not registered (or other roles): %+v", d)
			}
		}
		for _, g := range registered {
			if !slices.Contains(documented, g) {
				t.Errorf("registered, not documented (or other roles): %+v", g)
			}
		}
	}
	res := r.do(req{method: "GET", path: "/api/v1/openapi.yaml"})
	if res.code != 200 || !bytes.Equal(res.body, api.OpenAPI) || !bytes.HasPrefix(res.body, []byte("openapi: 3.1.0\n")) {
		t.Fatalf("openapi.yaml: %d", res.code)
	}
}
