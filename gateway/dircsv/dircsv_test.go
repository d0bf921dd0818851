package dircsv

import (
	"bytes"
	"errors"
	"go/build"
	"reflect"
	"strings"
	"testing"

	"pagebridge/gateway/paging"
)

const peopleHeader = "id,name,department,title,stage,roles,app,pager,pager_via,sms\r\n"

func TestParsePeople(t *testing.T) {
	in := "\uFEFF" + peopleHeader +
		"lee,Dr Lee,Cardiology,Attending,app,cardiology;icu,lee,1002,terminal-1,+4915112345678\r\n" +
		"\r\n" +
		",,,,,,,,,\r\n" + // an empty spreadsheet row
		" kim , Nurse Kim ,4W,,BOTH,,,2001;2002,t1;t2,\n" +
		"ray,Ray,,,pager,,,3001,terminal-1,\r\n"
	rows, err := ParsePeople(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Row[paging.Person]{
		{Line: 2, Record: paging.Person{ID: "lee", Name: "Dr Lee", Department: "Cardiology", Title: "Attending", Stage: paging.StageApp,
			Roles: []string{"cardiology", "icu"}, Endpoints: []paging.Endpoint{
				{Channel: paging.ChannelApp, Address: "lee"},
				{Channel: paging.ChannelPager, Address: "1002", Via: "terminal-1"},
				{Channel: paging.ChannelSMS, Address: "+4915112345678"}}}},
		{Line: 5, Record: paging.Person{ID: "kim", Name: "Nurse Kim", Department: "4W", Stage: paging.StageBoth, Endpoints: []paging.Endpoint{
			{Channel: paging.ChannelPager, Address: "2001", Via: "t1"},
			{Channel: paging.ChannelPager, Address: "2002", Via: "t2"}}}},
		{Line: 6, Record: paging.Person{ID: "ray", Name: "Ray", Stage: paging.StagePager, Endpoints: []paging.Endpoint{
			{Channel: paging.ChannelPager, Address: "3001", Via: "terminal-1"}}}},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("got  %+v\nwant %+v", rows, want)
	}
}

// Every bad row is reported, with its line and a reason that names the
// problem; the good rows come back all the same.
func TestParsePeopleBadRows(t *testing.T) {
	in := peopleHeader +
		"ok,OK,,,app,,,,,\r\n" + // 2
		"a,A,,,paper,,,,,\r\n" + // 3 bad stage
		"b,B,,,app,,,,,0151 123\r\n" + // 4 bad E.164
		"c,C,,,app\r\n" + // 5 column count
		"d,D,,,pager,,,1002,,\r\n" + // 6 pager without via
		",E,,,app,,,,,\r\n" + // 7 no id
		"ok,Again,,,app,,,,,\r\n" + // 8 duplicate
		"f,F\"x,,,app,,,,,\r\n" + // 9 bare quote
		"g,G,,,app,,,1;2,a;b;c,\r\n" + // 10 via count
		"h,M\xfcller,,,app,,,,,\r\n" + // 11 Latin-1
		"i,I,,,app,,,,,+49151123456789012\r\n" // 12 too long
	rows, err := ParsePeople(strings.NewReader(in))
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, paging.ErrInvalid) {
		t.Fatalf("err %v", err)
	}
	if len(rows) != 1 || rows[0].Record.ID != "ok" {
		t.Fatalf("good rows: %+v", rows)
	}
	want := []struct {
		line   int
		reason string
	}{
		{3, `stage "paper" is not pager, both or app`},
		{4, `sms "0151 123" is not an E.164 number`},
		{5, "wrong column count: 5, the header has 10"},
		{6, "needs pager_via"},
		{7, "id is empty"},
		{8, "duplicate: ok is also on line 2"},
		{9, `bare "`},
		{10, "pager_via names 3 terminals for 2 pagers"},
		{11, "not UTF-8"},
		{12, "E.164"},
	}
	if len(e.Rows) != len(want) {
		t.Fatalf("%d bad rows, want %d: %+v", len(e.Rows), len(want), e.Rows)
	}
	for i, w := range want {
		if g := e.Rows[i]; g.Line != w.line || !strings.Contains(g.Reason, w.reason) {
			t.Errorf("row %d: got line %d %q, want line %d containing %q", i, g.Line, g.Reason, w.line, w.reason)
		}
	}
}

// Malformed files as a whole: a clear error, never a panic.
func TestMalformedFiles(t *testing.T) {
	for _, c := range []struct {
		name, in, reason string
		line             int
	}{
		{"empty", "", "empty file", 1},
		{"only a BOM", "\uFEFF", "empty file", 1},
		{"no header", "lee,Dr Lee,,,app,,,,,\r\n", `unknown column "lee"`, 1},
		{"missing column", "id,name,department,title,stage,roles,app,pager,pager_via\r\n", "missing column sms", 1},
		{"column twice", "id,id,name,department,title,stage,roles,app,pager,pager_via,sms\r\n", "column twice: id", 1},
		{"header quote error", "id,\"name\r\n", "header:", 1},
		{"unterminated quote", peopleHeader + "a,\"A,,,app,,,,,\r\nb,B,,,app,,,,,\r\n", "runs on to line 3", 2},
		{"tab in a cell", peopleHeader + "a,A\tB,,,app,,,,,\r\n", "control character", 2},
		{"line break in a quoted cell", peopleHeader + "a,\"A\r\nB\",,,app,,,,,\r\n", "control character", 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParsePeople(strings.NewReader(c.in))
			var e *Error
			if !errors.As(err, &e) || len(e.Rows) == 0 {
				t.Fatalf("err %v", err)
			}
			if e.Rows[0].Line != c.line || !strings.Contains(e.Rows[0].Reason, c.reason) {
				t.Fatalf("got %+v, want line %d containing %q", e.Rows[0], c.line, c.reason)
			}
		})
	}
}

func TestParsePagerIDs(t *testing.T) {
	in := "Pager_ID,Target_Kind,Target_ID,Priority,Policy,Label\n" +
		"1002,person,lee,,,Dr Lee\n" +
		"2000,ROLE,cardiology,high,critical,\"Cardiology, on call\"\n" +
		"3000,ward,4w,normal,,\n" +
		"4000,group,team,urgent,,\n" +
		",person,lee,,,\n" +
		"5000,person,,,,\n" +
		"1002,group,team,,,\n" +
		strings.Repeat("9", 65) + ",person,lee,,,\n"
	rows, err := ParsePagerIDs(strings.NewReader(in))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err %v", err)
	}
	want := []paging.PagerID{
		{ID: "1002", Target: paging.Target{Kind: paging.TargetPerson, ID: "lee"}, Label: "Dr Lee"},
		{ID: "2000", Target: paging.Target{Kind: paging.TargetRole, ID: "cardiology"}, Priority: paging.PriorityHigh, Policy: "critical", Label: "Cardiology, on call"},
	}
	if len(rows) != 2 || rows[0].Record != want[0] || rows[1].Record != want[1] || rows[1].Line != 3 {
		t.Fatalf("rows %+v", rows)
	}
	reasons := []string{`target_kind "ward" is not person, role or group`, `priority "urgent" is not normal, high or critical`,
		"pager_id is empty", "target_id is empty", "duplicate: 1002 is also on line 2", "longer than 64 bytes"}
	if len(e.Rows) != len(reasons) {
		t.Fatalf("bad rows %+v", e.Rows)
	}
	for i, r := range reasons {
		if e.Rows[i].Line != i+4 || !strings.Contains(e.Rows[i].Reason, r) {
			t.Errorf("row %d: %+v, want line %d containing %q", i, e.Rows[i], i+4, r)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	people := []paging.Person{
		{ID: "lee", Name: "Dr Lee, \"Heart\"", Department: "=cmd|' /C calc'!A0", Title: "-1", Stage: paging.StageApp, Roles: []string{"a", "b"},
			Endpoints: []paging.Endpoint{{Channel: paging.ChannelApp, Address: "lee"}, {Channel: paging.ChannelApp, Address: "lee-2"},
				{Channel: paging.ChannelPager, Address: "1002", Via: "t1"}, {Channel: paging.ChannelPager, Address: "1003", Via: "t2"},
				{Channel: paging.ChannelSMS, Address: "+4915112345678"}}},
		{ID: "'quoted", Name: "''", Stage: paging.StagePager, Endpoints: []paging.Endpoint{
			{Channel: paging.ChannelPager, Address: "1", Via: "t"}, {Channel: paging.ChannelPager, Address: "2", Via: "t"}}},
		{ID: "müller", Name: "Jörg Müller", Stage: paging.StageBoth},
	}
	var b bytes.Buffer
	if err := FormatPeople(&b, people); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "'=cmd") || !strings.Contains(b.String(), ",'-1,") {
		t.Errorf("formulas not escaped:\n%s", b.String())
	}
	rows, err := ParsePeople(&b)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		if !reflect.DeepEqual(r.Record, people[i]) {
			t.Errorf("person %d:\n got  %+v\n want %+v", i, r.Record, people[i])
		}
	}

	ids := []paging.PagerID{
		{ID: "1002", Target: paging.Target{Kind: paging.TargetPerson, ID: "lee"}, Priority: paging.PriorityCritical, Policy: "p", Label: "+4W, bed 1"},
		{ID: "2000", Target: paging.Target{Kind: paging.TargetGroup, ID: "g"}},
	}
	b.Reset()
	if err := FormatPagerIDs(&b, ids); err != nil {
		t.Fatal(err)
	}
	prow, err := ParsePagerIDs(&b)
	if err != nil || len(prow) != 2 || prow[0].Record != ids[0] || prow[1].Record != ids[1] {
		t.Fatalf("pager ids %+v %v", prow, err)
	}
}

// Format refuses what would not read back the same.
func TestFormatRefuses(t *testing.T) {
	for _, p := range []paging.Person{
		{ID: "a", Name: "A", Stage: paging.StageApp, Roles: []string{"x;y"}},
		{ID: "a", Name: "A\nB", Stage: paging.StageApp},
		{ID: "a", Name: "A", Stage: paging.StageApp, Endpoints: []paging.Endpoint{{Channel: "fax", Address: "1"}}},
	} {
		if err := FormatPeople(&bytes.Buffer{}, []paging.Person{p}); !errors.Is(err, paging.ErrInvalid) {
			t.Errorf("%+v: err %v", p, err)
		}
	}
}

// TestPure: the package reads and writes CSV, and nothing else.
func TestPure(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if strings.Contains(imp, ".") || strings.HasPrefix(imp, "pagebridge/") && imp != "pagebridge/gateway/paging" ||
			imp == "os" || imp == "net" || strings.HasPrefix(imp, "net/") {
			t.Errorf("dircsv imports %s", imp)
		}
	}
}
