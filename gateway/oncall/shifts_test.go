package oncall

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"pagebridge/gateway/paging"
)

// TestShiftsNoGapsNoOverlaps: a single-layer rotation over most of a year,
// across both changes, tiles the range exactly, hands off at the local
// hand-off time (or the first instant after it, in the gap), and only the
// shifts that contain a change are longer or shorter.
func TestShiftsNoGapsNoOverlaps(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, zone, start string
		unit              Unit
		n                 int
		handoff           string // local "15:04" of every hand-off but the spring one
		usual             time.Duration
		odd               []time.Duration // the lengths other than usual, in order
	}{
		{"Berlin daily 08:00", "Europe/Berlin", "2025-12-01T08:00", UnitDay, 1, "08:00", 24 * time.Hour, []time.Duration{23 * time.Hour, 25 * time.Hour}},
		{"Berlin daily 02:30", "Europe/Berlin", "2025-12-01T02:30", UnitDay, 1, "02:30", 24 * time.Hour,
			[]time.Duration{23*time.Hour + 30*time.Minute, 23*time.Hour + 30*time.Minute, 25 * time.Hour}},
		{"Berlin weekly Monday 08:00", "Europe/Berlin", "2025-12-01T08:00", UnitWeek, 1, "08:00", 168 * time.Hour, []time.Duration{167 * time.Hour, 169 * time.Hour}},
		{"New York daily 08:00", "America/New_York", "2025-12-01T08:00", UnitDay, 1, "08:00", 24 * time.Hour, []time.Duration{23 * time.Hour, 25 * time.Hour}},
		{"New York daily 02:30", "America/New_York", "2025-12-01T02:30", UnitDay, 1, "02:30", 24 * time.Hour,
			[]time.Duration{23*time.Hour + 30*time.Minute, 23*time.Hour + 30*time.Minute, 25 * time.Hour}},
		{"New York 3-day 19:00", "America/New_York", "2025-12-01T19:00", UnitDay, 3, "19:00", 72 * time.Hour, []time.Duration{71 * time.Hour, 73 * time.Hour}},
		{"New York 12h", "America/New_York", "2025-12-01T08:00", UnitHour, 12, "", 12 * time.Hour, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			loc := mustLoc(t, c.zone)
			s := mustValid(t, rotation(c.zone, c.start, c.unit, c.n, "a", "b", "c"))
			from, to := mustUTC("2026-01-01T00:00:00Z"), mustUTC("2026-12-31T00:00:00Z")
			sh := mustShifts(t, s, from, to)
			if len(sh) < 50 || !sh[0].Start.Equal(from) || !sh[len(sh)-1].End.Equal(to) {
				t.Fatalf("%d shifts from %v to %v", len(sh), sh[0], sh[len(sh)-1])
			}
			var odd []time.Duration
			for i, x := range sh {
				if x.Start.Location().String() != c.zone || x.End.Location().String() != c.zone {
					t.Fatalf("%v not in the schedule's zone", x)
				}
				if i > 0 {
					prev := sh[i-1]
					if !prev.End.Equal(x.Start) {
						t.Fatalf("gap or overlap between %v and %v", prev, x)
					}
					if prev.Person == x.Person {
						t.Fatalf("%v and %v not merged", prev, x)
					}
					if at := x.Start.In(loc).Format("15:04"); c.handoff != "" && at != c.handoff {
						spring := x.Start.In(loc).Format("15:04") == "03:00" && c.handoff == "02:30"
						if !spring {
							t.Errorf("hand-off at %s, want %s: %v", x.Start.In(loc).Format(localFmt), c.handoff, x)
						}
					}
				}
				if i > 0 && i < len(sh)-1 && x.End.Sub(x.Start) != c.usual {
					odd = append(odd, x.End.Sub(x.Start))
				}
				if want := `schedule "Cardiology": layer "main", shift of ` + x.Person; x.Reason != want {
					t.Fatalf("reason %q, want %q", x.Reason, want)
				}
			}
			if !slices.Equal(odd, c.odd) {
				t.Errorf("lengths other than %v: %v, want %v", c.usual, odd, c.odd)
			}
		})
	}
}

func TestShiftsMerge(t *testing.T) {
	t.Parallel()
	loc := mustLoc(t, "Europe/Berlin")
	t.Run("a person twice in a row", func(t *testing.T) {
		t.Parallel()
		s := mustValid(t, rotation("Europe/Berlin", "2026-03-01T08:00", UnitDay, 1, "a", "a", "b"))
		sh := mustShifts(t, s, wall(loc, "2026-03-01T08:00"), wall(loc, "2026-03-07T08:00"))
		want := []string{"a 48h0m0s", "b 24h0m0s", "a 48h0m0s", "b 24h0m0s"}
		var got []string
		for _, x := range sh {
			got = append(got, x.Person+" "+x.End.Sub(x.Start).String())
		}
		if !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
	t.Run("across layers and an override", func(t *testing.T) {
		t.Parallel()
		s := weekdayDaytime()
		// w2 has the week of 2026-01-12; d2 and d3 daytime; make d3 w2.
		s.Layers[1].Participants = []string{"d1", "d2", "w2"}
		s.Overrides = []Override{{ID: "o1", Kind: OverrideAdd, Person: "w2", Start: wall(loc, "2026-01-13T16:00"), End: wall(loc, "2026-01-13T20:00")}}
		mustValid(t, s)
		sh := mustShifts(t, s, wall(loc, "2026-01-13T00:00"), wall(loc, "2026-01-14T00:00"))
		if len(sh) != 1 || sh[0].Person != "w2" {
			t.Fatalf("got %s, want w2 all day", dump(sh))
		}
		want := `schedule "Cardiology": layer "24/7", shift of w2; schedule "Cardiology": layer "daytime", shift of w2; ` +
			`schedule "Cardiology": override o1: w2 added until 2026-01-13 20:00 CET`
		if sh[0].Reason != want {
			t.Errorf("reason\n %q\nwant\n %q", sh[0].Reason, want)
		}
	})
	t.Run("two people at once", func(t *testing.T) {
		t.Parallel()
		s := rotation("Europe/Berlin", "2026-03-01T08:00", UnitDay, 1, "a", "b")
		s.Overrides = []Override{{ID: "o1", Kind: OverrideAdd, Person: "kim", Start: wall(loc, "2026-03-01T10:00"), End: wall(loc, "2026-03-02T10:00")}}
		mustValid(t, s)
		sh := mustShifts(t, s, wall(loc, "2026-03-01T08:00"), wall(loc, "2026-03-03T08:00"))
		var got []string
		for _, x := range sh {
			got = append(got, x.Person+" "+x.Start.In(loc).Format("02 15:04")+"-"+x.End.In(loc).Format("02 15:04"))
		}
		want := []string{"a 01 08:00-02 08:00", "kim 01 10:00-02 10:00", "b 02 08:00-03 08:00"}
		if !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
}

func TestShiftsRange(t *testing.T) {
	t.Parallel()
	s := mustValid(t, rotation("Europe/Berlin", "2026-01-01T08:00", UnitHour, 1, "a", "b"))
	from := mustUTC("2026-01-01T00:00:00Z")
	if _, err := Shifts(s, from, from.Add(MaxRange+time.Second)); !errors.Is(err, paging.ErrInvalid) {
		t.Errorf("range over %v: %v, want ErrInvalid", MaxRange, err)
	}
	sh, err := Shifts(s, from, from.Add(MaxRange))
	if err != nil || len(sh) != 400*24-7 { // nobody until the layer starts at 08:00 CET (07:00Z), then hourly
		t.Errorf("%v over MaxRange: %d shifts, %v", MaxRange, len(sh), err)
	}
	for _, r := range [][2]time.Time{{from, from}, {from, from.Add(-time.Hour)}} {
		if sh, err := Shifts(s, r[0], r[1]); err != nil || len(sh) != 0 {
			t.Errorf("empty range %v: %v, %v", r, sh, err)
		}
	}
	// Before the layer starts there is nobody.
	if sh := mustShifts(t, s, from.Add(-48*time.Hour), from); len(sh) != 0 {
		t.Errorf("before the start: %s", dump(sh))
	}
	// Far ranges are clipped to the supported years, without overflow.
	if sh, err := Shifts(s, time.Date(9999, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(10001, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil || len(sh) == 0 ||
		!sh[len(sh)-1].End.Equal(maxInstant) {
		t.Errorf("at the end of year 9999: %d shifts, %v", len(sh), err)
	}
	bad := rotation("Europe/Berlin", "2026-01-01T08:00", UnitHour, 0, "a")
	if _, err := Shifts(bad, from, from.Add(time.Hour)); !errors.Is(err, paging.ErrInvalid) || !strings.Contains(err.Error(), "shift") {
		t.Errorf("invalid schedule: %v", err)
	}
}

// TestShiftsAgreeWithOnCall on a schedule with layers, windows and every
// kind of override: at the edges and middle of every shift, OnCall names
// its person; at every edge, OnCall names exactly the people of the shifts
// that hold it.
func TestShiftsAgreeWithOnCall(t *testing.T) {
	t.Parallel()
	loc := mustLoc(t, "Europe/Berlin")
	s := weekdayDaytime()
	s.Layers = append(s.Layers, Layer{Name: "nights", Participants: []string{"n1", "n2"}, Start: mustLocal("2026-03-02T20:00"), Shift: Length{12, UnitHour},
		Windows: []Window{{Days: []time.Weekday{1, 3, 5}, Start: mustTOD("20:00"), End: mustTOD("02:30")}}})
	ov := func(id string, kind OverrideKind, person, replaces, from, to string) Override {
		return Override{ID: id, Kind: kind, Person: person, Replaces: replaces, Start: wall(loc, from), End: wall(loc, to)}
	}
	s.Overrides = []Override{
		ov("o1", OverrideAdd, "kim", "", "2026-03-27T12:00", "2026-03-29T12:00"),
		ov("o2", OverrideReplace, "lee", "w1", "2026-03-20T00:00", "2026-04-10T00:00"),
		ov("o3", OverrideRemove, "", "n1", "2026-03-25T00:00", "2026-03-31T00:00"),
		ov("o4", OverrideReplace, "max", "", "2026-04-01T10:00", "2026-04-01T11:30"),
		ov("o5", OverrideReplace, "kim", "lee", "2026-03-30T00:00", "2026-04-02T00:00"),
	}
	mustValid(t, s)
	from, to := wall(loc, "2026-03-01T00:00"), wall(loc, "2026-05-01T00:00")
	sh := mustShifts(t, s, from, to)
	checkAgree(t, s, sh, from, to)
}

// checkAgree is the property FuzzOnCall checks too.
func checkAgree(t *testing.T, s *Schedule, sh []Shift, from, to time.Time) {
	t.Helper()
	edges := []time.Time{from}
	for _, x := range sh {
		if !x.End.After(x.Start) || x.Start.Before(from) || x.End.After(to) {
			t.Fatalf("shift %v outside %v..%v or empty", x, from, to)
		}
		for _, at := range []time.Time{x.Start, x.Start.Add(x.End.Sub(x.Start) / 2), x.End.Add(-time.Nanosecond)} {
			if !slices.Contains(people(OnCall(s, at)), x.Person) {
				t.Fatalf("%v: OnCall at %v says %v", x, at, OnCall(s, at))
			}
		}
		edges = append(edges, x.Start, x.End)
	}
	for _, at := range edges {
		if !at.Before(to) {
			continue
		}
		var want []string
		for _, x := range sh {
			if !at.Before(x.Start) && at.Before(x.End) {
				want = append(want, x.Person)
			}
		}
		as := OnCall(s, at)
		checkBounds(t, s, at, as)
		got := people(as)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("at %v: OnCall %v, Shifts %v", at, got, want)
		}
	}
}

// checkBounds: each assignment's reason holds throughout [Since, Until),
// as Assignment promises; checked at both ends and the middle.
func checkBounds(t *testing.T, s *Schedule, at time.Time, as []Assignment) {
	t.Helper()
	for _, a := range as {
		if at.Before(a.Since) || !at.Before(a.Until) {
			t.Fatalf("at %v: %+v does not hold the instant", at, a)
		}
		for _, u := range []time.Time{a.Since, a.Since.Add(a.Until.Sub(a.Since) / 2), a.Until.Add(-time.Nanosecond)} {
			if !containsReason(OnCall(s, u), a) {
				t.Fatalf("at %v: %+v, but at %v: %+v", at, a, u, OnCall(s, u))
			}
		}
	}
}

func containsReason(as []Assignment, a Assignment) bool {
	return slices.ContainsFunc(as, func(b Assignment) bool { return b.Person == a.Person && b.Reason == a.Reason })
}
