package api_test

import (
	"slices"
	"strings"
	"testing"

	"pagebridge/gateway/api"
)

const peopleCSV = "id,name,department,title,stage,roles,app,pager,pager_via,sms\r\n"

func (r *rig) postCSV(role api.Role, path, body string) resp {
	r.t.Helper()
	return r.do(req{method: "POST", path: path, token: r.tok[role], body: body, contentType: "text/csv; charset=utf-8"})
}

type report struct {
	Error    string
	Imported int
	Rows     []struct {
		Line   int
		ID     string
		Reason string
	}
}

// A file with several bad rows: every one reported with its line,
// nothing written, good rows included.
func TestImportReportsEveryBadRow(t *testing.T) {
	r := newRig(t)
	res := r.postCSV(api.RoleIT, "/api/v1/import/people", peopleCSV+
		"ann,Ann,ICU,,app,,ann,,,\r\n"+ // 2 good
		"bob,Bob,ICU,,paper,,,,,\r\n"+ // 3 stage
		"cat,Cat,ICU,,app,,,,,12345\r\n"+ // 4 E.164
		"dan,Dan\r\n"+ // 5 columns
		"eve,Eve,ICU,,pager,,,4001,t1,\r\n") // 6 good
	var rep report
	res.json(t, &rep)
	if res.code != 400 || rep.Imported != 0 || !strings.Contains(rep.Error, "3 bad rows; nothing was imported") {
		t.Fatalf("%d %s", res.code, res.body)
	}
	var lines []int
	for _, row := range rep.Rows {
		lines = append(lines, row.Line)
	}
	if !slices.Equal(lines, []int{3, 4, 5}) || !strings.Contains(rep.Rows[0].Reason, "stage") ||
		!strings.Contains(rep.Rows[1].Reason, "E.164") || !strings.Contains(rep.Rows[2].Reason, "column count") {
		t.Fatalf("rows %+v", rep.Rows)
	}
	for _, id := range []string{"ann", "eve"} {
		r.as(api.RoleIT, "GET", "/api/v1/people/"+id, nil, 404)
	}

	// Problems only the store sees (a target not in the directory) come
	// back by line too, and nothing is written.
	res = r.postCSV(api.RoleAdmin, "/api/v1/import/pagerids", "pager_id,target_kind,target_id,priority,policy,label\n"+
		"1001,person,lee,,,\n"+
		"1002,person,ghost,,,\n"+
		"1003,role,nowhere,high,,\n")
	res.json(t, &rep)
	if res.code != 400 || len(rep.Rows) != 2 || rep.Rows[0].Line != 3 || rep.Rows[1].Line != 4 ||
		!strings.Contains(rep.Rows[0].Reason, "ghost") || rep.Rows[1].ID != "1003" {
		t.Fatalf("%d %s", res.code, res.body)
	}
	r.as(api.RoleIT, "GET", "/api/v1/pagerids/1001", nil, 404)

	// The header is checked, and the body must be CSV.
	res = r.postCSV(api.RoleAdmin, "/api/v1/import/people", "id,name\nlee,Lee\n")
	if res.code != 400 || !strings.Contains(string(res.body), "missing column") {
		t.Fatalf("bad header: %d %s", res.code, res.body)
	}
	if res := r.do(req{method: "POST", path: "/api/v1/import/people", token: r.tok[api.RoleAdmin], body: `{"people":[]}`,
		contentType: "application/json"}); res.code != 415 {
		t.Fatalf("JSON to the CSV import: %d %s", res.code, res.body)
	}
	// Operators read the directory but do not import it.
	if res := r.postCSV(api.RoleOperator, "/api/v1/import/people", peopleCSV); res.code != 403 {
		t.Fatalf("operator import: %d", res.code)
	}
}

// Export, import into another gateway, export again: the same files and
// the same records.
func TestExportImportRoundTrip(t *testing.T) {
	a := newRig(t)
	if res := a.postCSV(api.RoleIT, "/api/v1/import/people", "\uFEFF"+peopleCSV+
		"ann,\"Ann, RN\",ICU,Charge nurse,both,icu;rapid,ann,4001;4002,terminal-1,+4915112345678\r\n"+
		"bob,=Bob,,,pager,,,5001,agent-2/terminal-9,\r\n"+
		"cat,Cat,ICU,,app,,cat;cat-tablet,,,+4930123456;+4930654321\r\n"); res.code != 200 {
		t.Fatalf("import people: %d %s", res.code, res.body)
	}
	a.as(api.RoleAdmin, "PUT", "/api/v1/roles/icu", `{"name":"ICU on call"}`, 200)
	if res := a.postCSV(api.RoleIT, "/api/v1/import/pagerids", "pager_id,target_kind,target_id,priority,policy,label\n"+
		"4001,person,ann,critical,,Ann's pager\n7000,role,icu,high,,\"ICU, on call\"\n"); res.code != 200 {
		t.Fatalf("import pager ids: %d %s", res.code, res.body)
	}
	people := a.as(api.RoleIT, "GET", "/api/v1/export/people.csv", nil, 200)
	ids := a.as(api.RoleIT, "GET", "/api/v1/export/pagerids.csv", nil, 200)
	if ct := people.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") ||
		!strings.Contains(people.header.Get("Content-Disposition"), "people.csv") {
		t.Fatalf("export headers %v", people.header)
	}
	if !strings.Contains(string(people.body), "'=Bob") {
		t.Errorf("a formula is not escaped in the export:\n%s", people.body)
	}

	b := newRig(t)
	b.as(api.RoleAdmin, "PUT", "/api/v1/roles/icu", `{"name":"ICU on call"}`, 200)
	for _, f := range []struct{ path, body string }{{"/api/v1/import/people", string(people.body)}, {"/api/v1/import/pagerids", string(ids.body)}} {
		if res := b.postCSV(api.RoleAdmin, f.path, f.body); res.code != 200 {
			t.Fatalf("re-import %s: %d %s", f.path, res.code, res.body)
		}
	}
	for _, p := range []string{"/api/v1/export/people.csv", "/api/v1/export/pagerids.csv"} {
		if x, y := a.as(api.RoleIT, "GET", p, nil, 200).body, b.as(api.RoleIT, "GET", p, nil, 200).body; string(x) != string(y) {
			t.Errorf("%s differs after a round trip:\n%s\n%s", p, x, y)
		}
	}
	for _, p := range []string{"/api/v1/people/ann", "/api/v1/people/bob", "/api/v1/people/cat", "/api/v1/pagerids/7000"} {
		if x, y := a.as(api.RoleIT, "GET", p, nil, 200).body, b.as(api.RoleIT, "GET", p, nil, 200).body; !jsonEqual(t, x, y) {
			t.Errorf("%s differs:\n%s\n%s", p, x, y)
		}
	}
}
