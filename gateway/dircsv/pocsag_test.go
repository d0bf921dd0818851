package dircsv

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"pagebridge/gateway/paging"
)

const pocsagHeader = "id,name,department,title,stage,roles,app,pager,pager_via,pager_pocsag,sms\r\n"

// Pagers on transmitters carry their coding in pager_pocsag: one for all
// of a person's pagers, or one per pager with - for a pager on a paging
// terminal; an export reads back the same, and a file without the column
// still reads (TestParsePeople).
func TestPOCSAGPagers(t *testing.T) {
	in := pocsagHeader +
		"ana,Ana,,,pager,,,1234567;1234568,tx-1,1200/3/ALPHA,\r\n" +
		"ben,Ben,,,both,,ben,42;1002,tx-1;term-1,512/0/numeric/group;-,\r\n" +
		"cy,Cy,,,pager,,,1003,term-1,,\r\n"
	rows, err := ParsePeople(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	alpha := paging.POCSAG{Rate: 1200, Function: 3, Kind: paging.POCSAGAlpha}
	want := []paging.Person{
		{ID: "ana", Name: "Ana", Stage: paging.StagePager, Endpoints: []paging.Endpoint{
			{Channel: paging.ChannelPager, Address: "1234567", Via: "tx-1", POCSAG: alpha},
			{Channel: paging.ChannelPager, Address: "1234568", Via: "tx-1", POCSAG: alpha}}},
		{ID: "ben", Name: "Ben", Stage: paging.StageBoth, Endpoints: []paging.Endpoint{
			{Channel: paging.ChannelApp, Address: "ben"},
			{Channel: paging.ChannelPager, Address: "42", Via: "tx-1", POCSAG: paging.POCSAG{Rate: 512, Kind: paging.POCSAGNumeric, Group: true}},
			{Channel: paging.ChannelPager, Address: "1002", Via: "term-1"}}},
		{ID: "cy", Name: "Cy", Stage: paging.StagePager, Endpoints: []paging.Endpoint{
			{Channel: paging.ChannelPager, Address: "1003", Via: "term-1"}}},
	}
	var got []paging.Person
	for _, r := range rows {
		got = append(got, r.Record)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	var b bytes.Buffer
	if err := FormatPeople(&b, want); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "1234567;1234568,tx-1,1200/3/alpha,") || !strings.Contains(b.String(), "512/0/numeric/group;-") ||
		!strings.Contains(b.String(), "1003,term-1,,") {
		t.Errorf("export:\n%s", b.String())
	}
	back, err := ParsePeople(&b)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range back {
		if !reflect.DeepEqual(r.Record, want[i]) {
			t.Errorf("round trip %d: %+v, want %+v", i, r.Record, want[i])
		}
	}
}

func TestPOCSAGPagersMalformed(t *testing.T) {
	cases := []struct{ row, reason string }{
		{"a,A,,,pager,,,1234,tx-1,1200/3,\r\n", "is not rate/function/kind"},
		{"a,A,,,pager,,,1234,tx-1,fast/3/alpha,\r\n", "is not rate/function/kind"},
		{"a,A,,,pager,,,1234,tx-1,1200/3/alpha/loud,\r\n", "is not rate/function/kind"},
		{"a,A,,,pager,,,1234,tx-1,9600/3/alpha,\r\n", "rate 9600"},
		{"a,A,,,pager,,,1234,tx-1,1200/7/alpha,\r\n", "function 7"},
		{"a,A,,,pager,,,1234,tx-1,1200/3/flex,\r\n", "kind \"flex\""},
		{"a,A,,,pager,,,1;2;3,tx-1,1200/3/alpha;-,\r\n", "2 codings for 3 pagers"},
		{"a,A,,,app,,,,,1200/3/alpha,\r\n", "pager_pocsag is set but pager is empty"},
		{"a,A,,,pager,,,bleep,tx-1,1200/3/alpha,\r\n", "capcode \"bleep\""},
		{"a,A,,,pager,,,2097152,tx-1,1200/3/alpha,\r\n", "capcode \"2097152\""},
	}
	for _, c := range cases {
		_, err := ParsePeople(strings.NewReader(pocsagHeader + c.row))
		var e *Error
		if !errors.As(err, &e) || len(e.Rows) != 1 || !strings.Contains(e.Rows[0].Reason, c.reason) {
			t.Errorf("%q: %v, want a row error with %q", c.row, err, c.reason)
		}
	}
}
