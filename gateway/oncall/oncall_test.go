package oncall

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"pagebridge/gateway/paging"
)

func TestWeeklyRotation(t *testing.T) {
	t.Parallel()
	loc := mustLoc(t, "Europe/Berlin")
	// 2026-01-05 is a Monday.
	s := mustValid(t, rotation("Europe/Berlin", "2026-01-05T08:00", UnitWeek, 1, "a", "b", "c"))
	cases := []struct{ local, want string }{
		{"2026-01-05T07:59", ""},
		{"2026-01-05T08:00", "a"},
		{"2026-01-11T23:59", "a"},
		{"2026-01-12T07:59", "a"},
		{"2026-01-12T08:00", "b"},
		{"2026-01-19T08:00", "c"},
		{"2026-01-26T08:00", "a"},
		// Week 11 (from 2026-03-23) is c's; it spans the spring change.
		{"2026-03-29T03:00", "c"},
		{"2026-03-30T07:59", "c"},
		{"2026-03-30T08:00", "a"},
		// Week 41 (from 2026-10-19) is c's; it spans the autumn change.
		{"2026-10-26T07:59", "c"},
		{"2026-10-26T08:00", "a"},
	}
	for _, c := range cases {
		got := people(OnCall(s, wall(loc, c.local)))
		if (c.want == "" && len(got) != 0) || (c.want != "" && (len(got) != 1 || got[0] != c.want)) {
			t.Errorf("%s: %v, want %q", c.local, got, c.want)
		}
	}
	for _, c := range []struct {
		local string
		want  time.Duration
	}{
		{"2026-03-25T12:00", 167 * time.Hour},
		{"2026-10-21T12:00", 169 * time.Hour},
		{"2026-06-10T12:00", 168 * time.Hour},
	} {
		as := OnCall(s, wall(loc, c.local))
		if len(as) != 1 || as[0].Until.Sub(as[0].Since) != c.want || as[0].Since.Weekday() != time.Monday || as[0].Since.Hour() != 8 {
			t.Errorf("%s: %v, want a Monday-08:00 shift of %v", c.local, as, c.want)
		}
	}
}

func TestMultiDayAndRepeatedParticipants(t *testing.T) {
	t.Parallel()
	loc := mustLoc(t, "America/New_York")
	// Two-day shifts; b appears twice, so b has two turns in four.
	s := mustValid(t, rotation("America/New_York", "2026-03-01T07:00", UnitDay, 2, "a", "b", "c", "b"))
	for _, c := range []struct{ local, want string }{
		{"2026-03-01T07:00", "a"},
		{"2026-03-03T06:59", "a"},
		{"2026-03-03T07:00", "b"},
		{"2026-03-05T07:00", "c"},
		{"2026-03-07T07:00", "b"},
		{"2026-03-08T12:00", "b"}, // across the spring change
		{"2026-03-09T07:00", "a"},
	} {
		if got := people(OnCall(s, wall(loc, c.local))); len(got) != 1 || got[0] != c.want {
			t.Errorf("%s: %v, want %s", c.local, got, c.want)
		}
	}
	as := OnCall(s, wall(loc, "2026-03-08T12:00"))
	if d := as[0].Until.Sub(as[0].Since); d != 47*time.Hour {
		t.Errorf("two-day shift across the change is %v, want 47h", d)
	}
}

// TestFarFromStart: the shift index is computed, not walked, so an instant
// decades after the start costs the same and lands on the right turn.
func TestFarFromStart(t *testing.T) {
	t.Parallel()
	loc := mustLoc(t, "Europe/Berlin")
	days := rotation("Europe/Berlin", "2000-01-01T08:00", UnitDay, 1, "a", "b", "c", "d", "e", "f", "g")
	hours := rotation("Europe/Berlin", "2000-01-01T08:00", UnitHour, 5, "a", "b", "c")
	at := wall(loc, "2090-07-04T09:00")
	// Days from 2000-01-01 to 2090-07-04, mod 7.
	n := int(mustLocal("2090-07-04T00:00").day() - mustLocal("2000-01-01T00:00").day())
	if got := people(OnCall(days, at)); len(got) != 1 || got[0] != days.Layers[0].Participants[n%7] {
		t.Errorf("day rotation in 2090: %v", got)
	}
	h := int(at.Sub(wall(loc, "2000-01-01T08:00")).Hours()) / 5
	if got := people(OnCall(hours, at)); len(got) != 1 || got[0] != hours.Layers[0].Participants[h%3] {
		t.Errorf("hour rotation in 2090: %v", got)
	}
}

// weekdayDaytime is a 24/7 weekly layer under a weekday daytime layer.
func weekdayDaytime() *Schedule {
	return &Schedule{
		ID: "s1", RoleID: "cardiology", Name: "Cardiology", TimeZone: "Europe/Berlin",
		Layers: []Layer{
			{Name: "24/7", Participants: []string{"w1", "w2"}, Start: mustLocal("2026-01-05T08:00"), Shift: Length{1, UnitWeek}},
			{Name: "daytime", Participants: []string{"d1", "d2", "d3"}, Start: mustLocal("2026-01-05T00:00"), Shift: Length{1, UnitDay},
				Windows: []Window{{Days: []time.Weekday{1, 2, 3, 4, 5}, Start: mustTOD("08:00"), End: mustTOD("17:00")}}},
		},
	}
}

func TestLayers(t *testing.T) {
	t.Parallel()
	loc := mustLoc(t, "Europe/Berlin")
	s := mustValid(t, weekdayDaytime())
	cases := []struct {
		local, want, reason string
		since, until        string
	}{
		// Tuesday 2026-01-13 is day 8 of the daytime rotation: d3's (8 mod 3 = 2).
		{"2026-01-13T07:59", "w2", `layer "24/7"`, "2026-01-12T17:00", "2026-01-13T08:00"},
		{"2026-01-13T08:00", "d3", `layer "daytime"`, "2026-01-13T08:00", "2026-01-13T17:00"},
		{"2026-01-13T16:59", "d3", `layer "daytime"`, "2026-01-13T08:00", "2026-01-13T17:00"},
		{"2026-01-13T17:00", "w2", `layer "24/7"`, "2026-01-13T17:00", "2026-01-14T08:00"},
		// Friday evening to Monday morning: the weekly layer, whose week
		// (and so its shift) ends Monday 08:00, when daytime starts too.
		{"2026-01-16T17:00", "w2", `layer "24/7"`, "2026-01-16T17:00", "2026-01-19T08:00"},
		{"2026-01-17T10:00", "w2", `layer "24/7"`, "2026-01-16T17:00", "2026-01-19T08:00"},
		{"2026-01-19T08:00", "d3", `layer "daytime"`, "2026-01-19T08:00", "2026-01-19T17:00"},
		{"2026-01-19T17:00", "w1", `layer "24/7"`, "2026-01-19T17:00", "2026-01-20T08:00"},
	}
	for _, c := range cases {
		as := OnCall(s, wall(loc, c.local))
		if len(as) != 1 || as[0].Person != c.want || !strings.Contains(as[0].Reason, c.reason) {
			t.Errorf("%s: %v, want %s by %s", c.local, as, c.want, c.reason)
			continue
		}
		if !as[0].Since.Equal(wall(loc, c.since)) || !as[0].Until.Equal(wall(loc, c.until)) {
			t.Errorf("%s: %s..%s, want %s..%s", c.local, as[0].Since.Format(localFmt), as[0].Until.Format(localFmt), c.since, c.until)
		}
	}
	if got := OnCall(s, wall(loc, "2026-01-13T10:00"))[0].Reason; got != `schedule "Cardiology": layer "daytime", shift of d3` {
		t.Errorf("reason %q", got)
	}
}

func TestBeforeStart(t *testing.T) {
	t.Parallel()
	loc := mustLoc(t, "Europe/Berlin")
	s := weekdayDaytime()
	s.Layers[1].Start = mustLocal("2026-02-02T00:00") // daytime layer starts later
	mustValid(t, s)
	for _, c := range []struct{ local, want string }{
		{"2026-01-05T07:59", ""},   // before every layer
		{"2026-01-05T08:00", "w1"}, // the base layer's first instant
		{"2026-01-27T10:00", "w2"}, // weekday daytime, but the daytime layer has not started
		{"2026-02-02T10:00", "d1"}, // it has
	} {
		got := people(OnCall(s, wall(loc, c.local)))
		if (c.want == "" && len(got) != 0) || (c.want != "" && (len(got) != 1 || got[0] != c.want)) {
			t.Errorf("%s: %v, want %q", c.local, got, c.want)
		}
	}
	// Before the daytime layer starts, the base's turn is bounded by it.
	as := OnCall(s, wall(loc, "2026-01-30T20:00"))
	if len(as) != 1 || !as[0].Until.Equal(wall(loc, "2026-02-02T08:00")) {
		t.Errorf("base turn before the upper layer starts: %v, want until 2026-02-02 08:00", as)
	}
}

func TestOverrides(t *testing.T) {
	t.Parallel()
	loc := mustLoc(t, "Europe/Berlin")
	at := func(s string) time.Time { return wall(loc, s) }
	base := func(ovs ...Override) *Schedule {
		s := rotation("Europe/Berlin", "2026-03-01T08:00", UnitDay, 1, "a", "b")
		for i := range ovs {
			ovs[i].ID = "ov" + string(rune('1'+i))
		}
		s.Overrides = ovs
		return mustValid(t, s)
	}
	// 2026-03-02 is b's day (08:00 to 08:00).
	ov := func(kind OverrideKind, person, replaces, from, to string) Override {
		return Override{Kind: kind, Person: person, Replaces: replaces, Start: at(from), End: at(to)}
	}
	cases := []struct {
		name   string
		s      *Schedule
		at     string
		want   []string
		reason string // of the last assignment
		since  string
		until  string
	}{
		{"none", base(), "2026-03-02T12:00", []string{"b"}, `layer "main", shift of b`, "2026-03-02T08:00", "2026-03-03T08:00"},
		{"add", base(ov(OverrideAdd, "kim", "", "2026-03-02T10:00", "2026-03-02T14:00")),
			"2026-03-02T12:00", []string{"b", "kim"}, "override ov1: kim added until 2026-03-02 14:00 CET", "2026-03-02T10:00", "2026-03-02T14:00"},
		{"add, before it", base(ov(OverrideAdd, "kim", "", "2026-03-02T10:00", "2026-03-02T14:00")),
			"2026-03-02T09:59", []string{"b"}, `shift of b`, "2026-03-02T08:00", "2026-03-03T08:00"},
		{"add, at its end", base(ov(OverrideAdd, "kim", "", "2026-03-02T10:00", "2026-03-02T14:00")),
			"2026-03-02T14:00", []string{"b"}, `shift of b`, "2026-03-02T08:00", "2026-03-03T08:00"},
		{"replace one", base(ov(OverrideReplace, "kim", "b", "2026-03-02T10:00", "2026-03-02T14:00")),
			"2026-03-02T12:00", []string{"kim"}, "override ov1: kim replaces b until", "2026-03-02T10:00", "2026-03-02T14:00"},
		{"replace one bounds the layer's turn", base(ov(OverrideReplace, "kim", "b", "2026-03-02T10:00", "2026-03-02T14:00")),
			"2026-03-02T09:00", []string{"b"}, `shift of b`, "2026-03-02T08:00", "2026-03-02T10:00"},
		{"replace one ends with the replaced one's shift", base(ov(OverrideReplace, "kim", "b", "2026-03-03T06:00", "2026-03-03T10:00")),
			"2026-03-03T07:00", []string{"kim"}, "kim replaces b", "2026-03-03T06:00", "2026-03-03T08:00"},
		{"replace one, not on call: nothing", base(ov(OverrideReplace, "kim", "a", "2026-03-02T10:00", "2026-03-02T14:00")),
			"2026-03-02T12:00", []string{"b"}, `shift of b`, "2026-03-02T08:00", "2026-03-03T08:00"},
		{"replace one, the replaced one's next turn", base(ov(OverrideReplace, "kim", "a", "2026-03-02T10:00", "2026-03-03T14:00")),
			"2026-03-03T12:00", []string{"kim"}, "kim replaces a", "2026-03-03T08:00", "2026-03-03T14:00"},
		{"replace all", base(
			ov(OverrideAdd, "x", "", "2026-03-02T10:00", "2026-03-02T14:00"),
			ov(OverrideReplace, "kim", "", "2026-03-02T11:00", "2026-03-02T13:00")),
			"2026-03-02T12:00", []string{"kim"}, "override ov2: kim replaces everyone until 2026-03-02 13:00 CET", "2026-03-02T11:00", "2026-03-02T13:00"},
		{"replace all, then an add later in the list", base(
			ov(OverrideReplace, "kim", "", "2026-03-02T11:00", "2026-03-02T13:00"),
			ov(OverrideAdd, "x", "", "2026-03-02T10:00", "2026-03-02T14:00")),
			"2026-03-02T12:00", []string{"kim", "x"}, "override ov2: x added", "2026-03-02T11:00", "2026-03-02T13:00"},
		{"replace all when no layer has anyone", base(ov(OverrideReplace, "kim", "", "2026-02-27T10:00", "2026-02-27T14:00")),
			"2026-02-27T12:00", []string{"kim"}, "kim replaces everyone", "2026-02-27T10:00", "2026-02-27T14:00"},
		{"remove", base(ov(OverrideRemove, "", "b", "2026-03-02T10:00", "2026-03-02T14:00")),
			"2026-03-02T12:00", nil, "", "", ""},
		{"remove, then add", base(
			ov(OverrideRemove, "", "b", "2026-03-02T10:00", "2026-03-02T14:00"),
			ov(OverrideAdd, "kim", "", "2026-03-02T10:00", "2026-03-02T14:00")),
			"2026-03-02T12:00", []string{"kim"}, "kim added", "2026-03-02T10:00", "2026-03-02T14:00"},
		{"remove bounds the turn after it", base(ov(OverrideRemove, "", "b", "2026-03-02T10:00", "2026-03-02T14:00")),
			"2026-03-02T15:00", []string{"b"}, "shift of b", "2026-03-02T14:00", "2026-03-03T08:00"},
		{"add someone already on call", base(ov(OverrideAdd, "b", "", "2026-03-02T10:00", "2026-03-02T14:00")),
			"2026-03-02T12:00", []string{"b"}, "override ov1: b added", "2026-03-02T10:00", "2026-03-02T14:00"},
		{"chain: kim replaces b, lee replaces kim", base(
			ov(OverrideReplace, "kim", "b", "2026-03-02T10:00", "2026-03-02T14:00"),
			ov(OverrideReplace, "lee", "kim", "2026-03-02T11:00", "2026-03-02T13:00")),
			"2026-03-02T12:00", []string{"lee"}, "lee replaces kim", "2026-03-02T11:00", "2026-03-02T13:00"},
	}
	for _, c := range cases {
		as := OnCall(c.s, at(c.at))
		if got := people(as); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, as, c.want)
			continue
		}
		if len(as) == 0 {
			continue
		}
		a := as[len(as)-1]
		if !strings.Contains(a.Reason, c.reason) {
			t.Errorf("%s: reason %q, want %q in it", c.name, a.Reason, c.reason)
		}
		if !a.Since.Equal(at(c.since)) || !a.Until.Equal(at(c.until)) {
			t.Errorf("%s: %s..%s, want %s..%s", c.name, a.Since.Format(localFmt), a.Until.Format(localFmt), c.since, c.until)
		}
	}
}

// TestOverridesWinOverLayers: an override acts on the result of all the
// layers, whichever layer supplied the person.
func TestOverridesWinOverLayers(t *testing.T) {
	t.Parallel()
	loc := mustLoc(t, "Europe/Berlin")
	s := weekdayDaytime()
	s.Overrides = []Override{
		{ID: "o1", Kind: OverrideReplace, Person: "kim", Replaces: "d3", Start: wall(loc, "2026-01-13T09:00"), End: wall(loc, "2026-01-13T18:00")},
	}
	mustValid(t, s)
	for _, c := range []struct{ local, want string }{
		{"2026-01-13T08:30", "d3"},
		{"2026-01-13T09:00", "kim"},
		{"2026-01-13T16:59", "kim"},
		{"2026-01-13T17:00", "w2"}, // d3 is no longer on call, so kim does not replace anyone
	} {
		if got := people(OnCall(s, wall(loc, c.local))); len(got) != 1 || got[0] != c.want {
			t.Errorf("%s: %v, want %s", c.local, got, c.want)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	good := func() *Schedule {
		s := weekdayDaytime()
		s.Overrides = []Override{{ID: "o1", Kind: OverrideAdd, Person: "kim", Start: mustUTC("2026-01-01T00:00:00Z"), End: mustUTC("2026-01-02T00:00:00Z")}}
		return s
	}
	mustValid(t, good())
	var none *Schedule
	if err := none.Validate(); !errors.Is(err, paging.ErrInvalid) {
		t.Errorf("nil schedule: %v", err)
	}
	if as := OnCall(nil, time.Unix(0, 0)); len(as) != 0 {
		t.Errorf("nil schedule: %v", as)
	}
	if _, err := Shifts(nil, time.Unix(0, 0), time.Unix(3600, 0)); !errors.Is(err, paging.ErrInvalid) {
		t.Errorf("nil schedule: %v", err)
	}
	// Many overrides, back to back (an end and a start at one instant do
	// not overlap), are fine.
	many := good()
	for i := range MaxOverrides - 1 {
		o := many.Overrides[0]
		o.ID = fmt.Sprint("b", i)
		o.Start, o.End = o.Start.Add(time.Duration(i+1)*24*time.Hour), o.End.Add(time.Duration(i+1)*24*time.Hour)
		many.Overrides = append(many.Overrides, o)
	}
	mustValid(t, many)
	cases := []struct {
		name  string
		edit  func(s *Schedule)
		field string
	}{
		{"no id", func(s *Schedule) { s.ID = "" }, "id"},
		{"no role", func(s *Schedule) { s.RoleID = "" }, "role_id"},
		{"no name", func(s *Schedule) { s.Name = "" }, "name"},
		{"no zone", func(s *Schedule) { s.TimeZone = "" }, "time_zone"},
		{"unknown zone", func(s *Schedule) { s.TimeZone = "Europe/Atlantis" }, "time_zone"},
		{"machine zone", func(s *Schedule) { s.TimeZone = "Local" }, "time_zone"},
		{"no participants", func(s *Schedule) { s.Layers[0].Participants = nil }, "layers[0].participants"},
		{"empty participant", func(s *Schedule) { s.Layers[1].Participants[1] = "" }, "layers[1].participants[1]"},
		{"n zero", func(s *Schedule) { s.Layers[0].Shift.N = 0 }, "layers[0].shift"},
		{"n negative", func(s *Schedule) { s.Layers[0].Shift.N = -1 }, "layers[0].shift"},
		{"n too long", func(s *Schedule) { s.Layers[0].Shift = Length{53, UnitWeek} }, "layers[0].shift"},
		{"hours too long", func(s *Schedule) { s.Layers[0].Shift = Length{24*366 + 1, UnitHour} }, "layers[0].shift"},
		{"bad unit", func(s *Schedule) { s.Layers[0].Shift.Unit = "month" }, "layers[0].shift"},
		{"bad start date", func(s *Schedule) { s.Layers[0].Start = LocalTime{2026, 2, 30, 8, 0} }, "layers[0].start"},
		{"bad start time", func(s *Schedule) { s.Layers[0].Start = LocalTime{2026, 2, 3, 24, 0} }, "layers[0].start"},
		{"start year", func(s *Schedule) { s.Layers[0].Start = LocalTime{1066, 10, 14, 9, 0} }, "layers[0].start"},
		{"window without days", func(s *Schedule) { s.Layers[1].Windows[0].Days = nil }, "layers[1].windows[0]"},
		{"window bad day", func(s *Schedule) { s.Layers[1].Windows[0].Days = []time.Weekday{7} }, "layers[1].windows[0]"},
		{"window empty", func(s *Schedule) { s.Layers[1].Windows[0].End = s.Layers[1].Windows[0].Start }, "layers[1].windows[0]"},
		{"window end", func(s *Schedule) { s.Layers[1].Windows[0].End = 1441 }, "layers[1].windows[0]"},
		{"window start", func(s *Schedule) { s.Layers[1].Windows[0].Start = 1440 }, "layers[1].windows[0]"},
		{"windows cover the week", func(s *Schedule) {
			s.Layers[1].Windows = []Window{
				{Days: []time.Weekday{0, 1, 2, 3, 4, 5, 6}, Start: mustTOD("08:00"), End: mustTOD("20:00")},
				{Days: []time.Weekday{0, 1, 2, 3, 4, 5, 6}, Start: mustTOD("20:00"), End: mustTOD("08:00")},
			}
		}, "layers[1].windows"},
		{"override end before start", func(s *Schedule) { o := &s.Overrides[0]; o.Start, o.End = o.End, o.Start }, "overrides[0]"},
		{"override end equals start", func(s *Schedule) { s.Overrides[0].End = s.Overrides[0].Start }, "overrides[0]"},
		{"override no times", func(s *Schedule) { s.Overrides[0].Start = time.Time{} }, "overrides[0]"},
		{"override kind", func(s *Schedule) { s.Overrides[0].Kind = "swap" }, "overrides[0]"},
		{"override add without person", func(s *Schedule) { s.Overrides[0].Person = "" }, "overrides[0]"},
		{"override replace without person", func(s *Schedule) { s.Overrides[0].Kind = OverrideReplace; s.Overrides[0].Person = "" }, "overrides[0]"},
		{"override replaces themselves", func(s *Schedule) {
			s.Overrides[0].Kind = OverrideReplace
			s.Overrides[0].Replaces = "kim"
		}, "overrides[0]"},
		{"override remove nobody", func(s *Schedule) { s.Overrides[0].Kind = OverrideRemove; s.Overrides[0].Person = "" }, "overrides[0]"},
		{"override no id", func(s *Schedule) { s.Overrides[0].ID = "" }, "overrides[0]"},
		{"override id twice", func(s *Schedule) { s.Overrides = append(s.Overrides, s.Overrides[0]) }, "overrides[1].id"},
		{"too many overrides at once", func(s *Schedule) {
			o := s.Overrides[0]
			for i := range MaxConcurrentOverrides {
				o.ID = string(rune('a' + i))
				s.Overrides = append(s.Overrides, o)
			}
		}, "in force at once"},
	}
	stillAnswers := map[string]bool{
		"no id": true, "no role": true, "no name": true, "windows cover the week": true,
		"override no times": true, "override no id": true, "override id twice": true, "too many overrides at once": true,
	}
	for _, c := range cases {
		s := good()
		c.edit(s)
		err := s.Validate()
		if !errors.Is(err, paging.ErrInvalid) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: %v, want an ErrInvalid naming %s", c.name, err, c.field)
		}
		// Whatever is wrong, OnCall and Shifts do not panic. Where the
		// fault could change who is on call, OnCall answers nobody rather
		// than guess; the faults that only concern storage or display
		// (ids, names, windows that cover the week) it evaluates anyway.
		as := OnCall(s, wall(mustLoc(t, "Europe/Berlin"), "2026-01-13T10:00"))
		if answers := stillAnswers[c.name]; answers != (len(as) > 0) {
			t.Errorf("%s: OnCall on the invalid schedule says %v", c.name, as)
		}
		if _, err := Shifts(s, mustUTC("2026-01-01T00:00:00Z"), mustUTC("2026-01-02T00:00:00Z")); err == nil {
			t.Errorf("%s: Shifts accepted the invalid schedule", c.name)
		}
	}
}

func TestJSON(t *testing.T) {
	t.Parallel()
	in := `{"id":"s1","role_id":"cardiology","name":"Cardiology","time_zone":"Europe/Berlin",` +
		`"layers":[{"name":"day","participants":["a","b"],"start":"2026-01-05T08:00","shift":{"n":1,"unit":"day"},` +
		`"windows":[{"days":[1,2,3,4,5],"start":"08:00","end":"24:00"}]}],` +
		`"overrides":[{"id":"o1","start":"2026-01-06T09:00:00+01:00","end":"2026-01-06T12:00:00+01:00","kind":"replace","person":"kim","replaces":"b"}]}`
	var s Schedule
	if err := json.Unmarshal([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	mustValid(t, &s)
	if s.Layers[0].Start != (LocalTime{2026, 1, 5, 8, 0}) || s.Layers[0].Windows[0].End != minPerDay {
		t.Errorf("decoded %+v", s.Layers[0])
	}
	out, err := json.Marshal(&s)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Errorf("round trip:\n got %s\nwant %s", out, in)
	}
	for _, bad := range []string{`"2026-1-5T08:00"`, `"2026-01-05 08:00"`, `"2026-01-05T08:00:00"`, `"2026-02-30T08:00"`} {
		var lt LocalTime
		if err := json.Unmarshal([]byte(bad), &lt); !errors.Is(err, paging.ErrInvalid) {
			t.Errorf("local time %s: %v", bad, err)
		}
	}
	for _, bad := range []string{`"8:00"`, `"24:01"`, `"12:60"`, `"ab:cd"`, `"25:00"`, `"08-00"`} {
		var tod TimeOfDay
		if err := json.Unmarshal([]byte(bad), &tod); !errors.Is(err, paging.ErrInvalid) {
			t.Errorf("time of day %s: %v", bad, err)
		}
	}
}
