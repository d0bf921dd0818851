package agentapi

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func jobs(t testing.TB, n, textLen int) [][]byte {
	t.Helper()
	var out [][]byte
	for i := range n {
		raw, err := Encode(key(), at, &Job{Device: "term-1", Action: "tap.page", To: fmt.Sprint(1000 + i), Text: Text(strings.Repeat("x", textLen)), Attempt: 1})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, raw)
	}
	return out
}

func TestPackUnpack(t *testing.T) {
	for _, c := range []struct {
		name            string
		n, textLen      int
		wantMsgs        int
		wantFirstIsLone bool
	}{
		{"one goes alone", 1, 10, 1, true},
		{"a few in one batch", 7, 10, 1, false},
		{"split at MaxBatch", MaxBatch*2 + 1, 10, 3, false},
		{"split by size", 200, MaxText, 0, false}, // however many MaxPayload takes
	} {
		t.Run(c.name, func(t *testing.T) {
			in := jobs(t, c.n, c.textLen)
			msgs, err := Pack(at, in)
			if err != nil {
				t.Fatal(err)
			}
			if c.wantMsgs > 0 && len(msgs) != c.wantMsgs {
				t.Fatalf("%d messages, want %d", len(msgs), c.wantMsgs)
			}
			if c.wantFirstIsLone && string(msgs[0]) != string(in[0]) {
				t.Fatalf("a lone envelope must go unchanged")
			}
			var got [][]byte
			for _, m := range msgs {
				if len(m) > MaxPayload {
					t.Fatalf("message of %d bytes", len(m))
				}
				items, err := Unpack(m)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, items...)
			}
			if len(got) != len(in) {
				t.Fatalf("%d items back, want %d", len(got), len(in))
			}
			for i := range in {
				var j Job
				if _, err := Open(got[i], &j); err != nil || string(got[i]) != string(in[i]) {
					t.Fatalf("item %d: %v\n%s\n%s", i, err, got[i], in[i])
				}
			}
		})
	}
}

func TestPackLeavesOutBadItems(t *testing.T) {
	good := jobs(t, 2, 5)
	big := []byte(`"` + strings.Repeat("A", MaxPayload) + `"`)
	// Nearly MaxPayload: no batch can hold it, so it goes alone.
	alone := []byte(`"` + strings.Repeat("A", MaxPayload-2) + `"`)
	msgs, err := Pack(at, [][]byte{good[0], big, []byte("{not json"), alone, good[1]})
	if !errors.Is(err, ErrTooLarge) || !errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v", err)
	}
	if len(msgs) != 3 || string(msgs[0]) != string(good[0]) || string(msgs[1]) != string(alone) || string(msgs[2]) != string(good[1]) {
		t.Fatalf("%d messages", len(msgs))
	}
}

// TestBadBatches: a malformed batch is refused whole; a bad item inside a
// good batch is refused alone when opened.
func TestBadBatches(t *testing.T) {
	good := string(jobs(t, 1, 5)[0])
	batch := func(items ...string) []byte {
		return envelope(KindBatch, key().String(), `{"items":[`+strings.Join(items, ",")+`]}`)
	}
	for name, raw := range map[string][]byte{
		"no items":          batch(),
		"too many items":    batch(strings.Split(strings.Repeat(good+"\x00", MaxBatch+1), "\x00")[:MaxBatch+1]...),
		"items not a list":  envelope(KindBatch, key().String(), `{"items":{}}`),
		"unknown field":     envelope(KindBatch, key().String(), `{"items":[`+good+`],"more":1}`),
		"bad batch key":     envelope(KindBatch, "nope", `{"items":[`+good+`]}`),
		"kind in any case":  []byte(strings.Replace(string(batch()), `"kind"`, `"KIND"`, 1)),
		"not UTF-8 in item": batch(strings.Replace(good, `"x`, "\"\xff", 1)),
	} {
		if _, err := Unpack(raw); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	// Items are opened one by one; the bad ones fail, the good one opens.
	items, err := Unpack(batch(good, `{"v":1}`, string(batch(good)), `17`))
	if err != nil || len(items) != 4 {
		t.Fatalf("%v %d", err, len(items))
	}
	for i, it := range items {
		var j Job
		_, err := Open(it, &j)
		if (err == nil) != (i == 0) {
			t.Errorf("item %d: err = %v", i, err)
		}
	}
	// Not a batch: handed back as it is, for Open to judge.
	for _, raw := range [][]byte{nil, []byte("garbage"), []byte(good), envelope(KindJob, key().String(), `{"items":[]}`)} {
		if items, err := Unpack(raw); err != nil || len(items) != 1 || string(items[0]) != string(raw) {
			t.Errorf("%q: %v %q", raw, err, items)
		}
	}
}

func FuzzUnpack(f *testing.F) {
	msgs, _ := Pack(at, jobs(f, 3, 5))
	f.Add(msgs[0])
	f.Add(jobs(f, 1, 5)[0])
	f.Fuzz(func(t *testing.T, b []byte) {
		items, err := Unpack(b)
		if err != nil {
			return
		}
		if len(items) < 1 || len(items) > MaxBatch {
			t.Fatalf("%d items", len(items))
		}
		if len(items) < 2 {
			return
		}
		// The items of a batch pack again into a batch that unpacks to the
		// same items (when they still fit one payload: the original may
		// have left out fields and been shorter).
		again, err := Pack(at, items)
		if err != nil {
			t.Fatal(err)
		}
		if len(again) != 1 {
			return
		}
		back, err := Unpack(again[0])
		if err != nil || len(back) != len(items) {
			t.Fatalf("repacked: %v, %d items of %d", err, len(back), len(items))
		}
		for i := range items {
			if string(back[i]) != string(items[i]) {
				t.Fatalf("item %d: %q became %q", i, items[i], back[i])
			}
		}
	})
}
