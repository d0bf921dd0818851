package ui

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"pagebridge/gateway/oncall"
	"pagebridge/gateway/paging"
)

// A rotation's windows as its form writes them read back the same.
func TestWindowsRoundTrip(t *testing.T) {
	l := oncall.Layer{Windows: []oncall.Window{
		{Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}, Start: 8 * 60, End: 17 * 60},
		{Days: []time.Weekday{time.Saturday}, Start: 0, End: 24 * 60},
	}}
	text := layerFormOf(l).Windows
	if text != "mon,tue,wed,thu,fri 08:00-17:00; sat 00:00-24:00" {
		t.Fatalf("written as %q", text)
	}
	got, err := parseWindows(text)
	if err != nil || !slices.EqualFunc(got, l.Windows, func(a, b oncall.Window) bool {
		return slices.Equal(a.Days, b.Days) && a.Start == b.Start && a.End == b.End
	}) {
		t.Fatalf("read back %+v %v", got, err)
	}
	if ws, err := parseWindows("  ;  "); err != nil || len(ws) != 0 {
		t.Fatalf("no windows: %+v %v", ws, err)
	}
}

func TestWindowsMalformed(t *testing.T) {
	for _, in := range []string{
		"mon",                  // no span
		"mon 08:00",            // no end
		"monday 08:00-17:00",   // not a day
		"mon,,tue 08:00-17:00", // empty day
		"mon 8:00-17:00",       // not HH:MM
		"mon 08:00-17:0x",
		"mon 08:00-25:00",
		"mon\t08:00-17:00",
		"08:00-17:00",
	} {
		if ws, err := parseWindows(in); err == nil {
			t.Errorf("%q read as %+v", in, ws)
		} else if !errors.Is(err, paging.ErrInvalid) {
			t.Errorf("%q: %v does not wrap ErrInvalid", in, err)
		}
	}
}

// Whatever is typed, parseWindows answers windows or an ErrInvalid, and
// what it answers is written back to text that reads the same.
func FuzzParseWindows(f *testing.F) {
	for _, s := range []string{"mon,tue 08:00-17:00; sat 00:00-24:00", "sun 22:00-06:00", "mon", "x 1-2;;", "fri 08:00-17:00;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ws, err := parseWindows(s)
		if err != nil {
			if !errors.Is(err, paging.ErrInvalid) {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		text := layerFormOf(oncall.Layer{Windows: ws}).Windows
		again, err := parseWindows(text)
		if err != nil || len(again) != len(ws) {
			t.Fatalf("%q written as %q reads %+v %v", s, text, again, err)
		}
		if strings.Contains(text, "\n") {
			t.Fatalf("%q written on several lines", text)
		}
	})
}
