package dircsv

import (
	"bytes"
	"reflect"
	"testing"

	"pagebridge/gateway/paging"
)

// FuzzParse: any input parses without a panic, every bad row has a line
// and a reason, and the good rows written out read back the same.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		peopleHeader + "lee,Dr Lee,Cardiology,Attending,app,cardiology;icu,lee,1002,terminal-1,+4915112345678\r\n",
		"\uFEFF" + peopleHeader + "kim,Kim,,,both,,,1;2,t1;t2,\n,,,,,,,,,\n",
		peopleHeader + "a,\"A\"\"B\",,,app,,,,,\r\nb,'=x,,,pager,,,1,t,\r\n",
		peopleHeader + "a,\"A,,,app\r\n",
		pocsagHeader + "tx,Tx,,,pager,,,1234567;42;1002,tx-1;tx-1;term-1,1200/3/alpha;512/0/numeric/group;-,\r\n",
		"pager_id,target_kind,target_id,priority,policy,label\n1002,person,lee,high,,Dr Lee\n2000,role,x,,p,'-\n",
		"pager_id,target_kind,target_id,priority,policy,label\n1,ward,x,,,\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Past a few KB an input adds nothing a shorter one does not, and
		// minimising a long one can outlast a short fuzz run.
		if len(data) > 4<<10 {
			return
		}
		people, err := ParsePeople(bytes.NewReader(data))
		checkRows(t, err)
		if len(people) > 0 {
			var b bytes.Buffer
			list := make([]paging.Person, len(people))
			for i, r := range people {
				list[i] = r.Record
			}
			if err := FormatPeople(&b, list); err != nil {
				t.Fatalf("format of parsed people: %v", err)
			}
			again, err := ParsePeople(bytes.NewReader(b.Bytes()))
			if err != nil || len(again) != len(list) {
				t.Fatalf("reparse: %v (%d of %d)\n%q", err, len(again), len(list), b.String())
			}
			for i := range again {
				if !reflect.DeepEqual(again[i].Record, list[i]) {
					t.Fatalf("round trip:\n got  %+v\n want %+v", again[i].Record, list[i])
				}
			}
		}
		ids, err := ParsePagerIDs(bytes.NewReader(data))
		checkRows(t, err)
		if len(ids) > 0 {
			var b bytes.Buffer
			list := make([]paging.PagerID, len(ids))
			for i, r := range ids {
				list[i] = r.Record
			}
			if err := FormatPagerIDs(&b, list); err != nil {
				t.Fatalf("format of parsed pager ids: %v", err)
			}
			again, err := ParsePagerIDs(bytes.NewReader(b.Bytes()))
			if err != nil || len(again) != len(list) {
				t.Fatalf("reparse: %v\n%q", err, b.String())
			}
			for i := range again {
				if again[i].Record != list[i] {
					t.Fatalf("round trip:\n got  %+v\n want %+v", again[i].Record, list[i])
				}
			}
		}
	})
}

func checkRows(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	e, ok := err.(*Error)
	if !ok || len(e.Rows) == 0 {
		t.Fatalf("error %v is not a row error", err)
	}
	for _, r := range e.Rows {
		if r.Line < 1 || r.Reason == "" {
			t.Fatalf("row error without line or reason: %+v", r)
		}
	}
}
