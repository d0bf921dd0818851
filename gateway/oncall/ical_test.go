package oncall

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"pagebridge/gateway/paging"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestICalGolden: a role calendar for two days of the weekday/daytime
// schedule with an override, against testdata/cardiology.ics.
func TestICalGolden(t *testing.T) {
	t.Parallel()
	loc := mustLoc(t, "Europe/Berlin")
	s := weekdayDaytime()
	s.Overrides = []Override{{ID: "o1", Kind: OverrideReplace, Person: "kim", Replaces: "d3",
		Start: wall(loc, "2026-01-13T12:00"), End: wall(loc, "2026-01-13T14:00")}}
	mustValid(t, s)
	sh := mustShifts(t, s, wall(loc, "2026-01-13T00:00"), wall(loc, "2026-01-14T00:00"))
	cal := Calendar{
		ScheduleID: s.ID,
		Name:       "Cardiology, on call; 4 West",
		Stamp:      mustUTC("2026-01-12T09:30:00Z"),
		People:     map[string]string{"d3": "Dr. Müller", "kim": "Dr Kim", "w2": `Lee \ "Night"`},
	}
	var b bytes.Buffer
	if err := ICal(&b, cal, sh); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "cardiology.ics")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("ICal differs from %s (go test -run TestICalGolden -update to accept):\n%s", golden, b.String())
	}
	checkContentLines(t, b.Bytes())

	// A refresh made later gives the same UIDs.
	var again bytes.Buffer
	cal.Stamp = cal.Stamp.Add(time.Hour)
	if err := ICal(&again, cal, sh); err != nil {
		t.Fatal(err)
	}
	if uids(b.Bytes()) != uids(again.Bytes()) || strings.Count(uids(b.Bytes()), "@") != len(sh) {
		t.Errorf("UIDs change across refreshes or repeat:\n%s\n%s", uids(b.Bytes()), uids(again.Bytes()))
	}
}

func uids(ics []byte) string {
	var out []string
	for _, l := range strings.Split(unfold(string(ics)), "\r\n") {
		if strings.HasPrefix(l, "UID:") {
			out = append(out, l)
		}
	}
	return strings.Join(out, " ")
}

func unfold(s string) string { return strings.ReplaceAll(s, "\r\n ", "") }

// checkContentLines checks RFC 5545's line rules: CRLF only, at most 75
// octets, valid UTF-8 on every physical line.
func checkContentLines(t *testing.T, ics []byte) {
	t.Helper()
	s := string(ics)
	if !strings.HasSuffix(s, "\r\n") {
		t.Error("does not end in CRLF")
	}
	if strings.Count(s, "\n") != strings.Count(s, "\r\n") || strings.Count(s, "\r") != strings.Count(s, "\r\n") {
		t.Error("bare LF or CR")
	}
	for _, l := range strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n") {
		if len(l) > 75 {
			t.Errorf("line of %d octets: %q", len(l), l)
		}
		if !utf8.ValidString(l) {
			t.Errorf("line splits a UTF-8 sequence: %q", l)
		}
	}
}

func TestICalFolding(t *testing.T) {
	t.Parallel()
	sh := []Shift{{Person: "p", Start: mustUTC("2026-01-01T08:00:00Z"), End: mustUTC("2026-01-02T08:00:00Z")}}
	// Every alignment of 2-, 3- and 4-octet characters against the fold.
	for pad := range 5 {
		for _, r := range []string{"é", "心", "🫀"} {
			name := strings.Repeat("x", pad) + strings.Repeat(r+"·", 60)
			var b bytes.Buffer
			if err := ICal(&b, Calendar{ScheduleID: "s", Name: name, Stamp: sh[0].Start}, sh); err != nil {
				t.Fatal(err)
			}
			checkContentLines(t, b.Bytes())
			if !strings.Contains(unfold(b.String()), "\r\nSUMMARY:On call: "+name+"\r\n") {
				t.Errorf("pad %d %s: unfolded summary lost", pad, r)
			}
		}
	}
	// A line of exactly 75 octets is not folded; 76 is.
	for n, folded := range map[int]bool{75: false, 76: true} {
		var b bytes.Buffer
		writeFolded(&b, strings.Repeat("a", n))
		if got := strings.Contains(b.String(), "\r\n "); got != folded {
			t.Errorf("%d octets: folded %v", n, got)
		}
	}
}

func TestEscapeText(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`plain`:                  `plain`,
		`a,b;c\d`:                `a\,b\;c\\d`,
		"two\nlines":             `two\nlines`,
		"crlf\r\nline":           `crlf\nline`,
		"cr\rline":               `cr\nline`,
		"tab\tbell\a\x00del\x7f": "tab\tbelldel",
		"bad \xff utf8":          "bad \uFFFD utf8",
		`:colon" quote`:          `:colon" quote`,
	} {
		if got := escapeText(in); got != want {
			t.Errorf("escapeText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestICalRefuses(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	for _, cal := range []Calendar{{Name: "x", Stamp: time.Unix(1, 0)}, {ScheduleID: "s", Name: "x"}} {
		if err := ICal(&b, cal, nil); !errors.Is(err, paging.ErrInvalid) {
			t.Errorf("%+v: %v", cal, err)
		}
	}
	// Empty shifts are left out; an empty calendar is still a calendar.
	b.Reset()
	at := mustUTC("2026-01-01T00:00:00Z")
	if err := ICal(&b, Calendar{ScheduleID: "s", Name: "x", Stamp: at}, []Shift{{Person: "p", Start: at, End: at}}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "VEVENT") || !strings.HasSuffix(b.String(), "END:VCALENDAR\r\n") {
		t.Errorf("calendar:\n%s", b.String())
	}
}
