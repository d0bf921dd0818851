package oncall

import (
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the tests run the same on a machine without zoneinfo
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustLocal(s string) LocalTime {
	lt, err := ParseLocalTime(s)
	if err != nil {
		panic(err)
	}
	return lt
}

func mustTOD(s string) TimeOfDay {
	t, err := ParseTimeOfDay(s)
	if err != nil {
		panic(err)
	}
	return t
}

func mustUTC(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// wall is the instant a local time in loc names, by the package's rule.
func wall(loc *time.Location, s string) time.Time {
	lt := mustLocal(s)
	return time.Unix(resolveMin(loc, lt.day(), lt.minute()), 0).In(loc)
}

const localFmt = "2006-01-02 15:04 MST"

func people(as []Assignment) []string {
	var ps []string
	for _, a := range as {
		ps = append(ps, a.Person)
	}
	return ps
}

func rotation(zone, start string, unit Unit, n int, ps ...string) *Schedule {
	return &Schedule{
		ID: "s1", RoleID: "cardiology", Name: "Cardiology", TimeZone: zone,
		Layers: []Layer{{Name: "main", Participants: ps, Start: mustLocal(start), Shift: Length{n, unit}}},
	}
}

func mustValid(t testing.TB, s *Schedule) *Schedule {
	t.Helper()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return s
}

func mustShifts(t testing.TB, s *Schedule, from, to time.Time) []Shift {
	t.Helper()
	sh, err := Shifts(s, from, to)
	if err != nil {
		t.Fatal(err)
	}
	return sh
}

// shiftOf returns the person's one shift in sh.
func shiftOf(t testing.TB, sh []Shift, person string) Shift {
	t.Helper()
	i := slices.IndexFunc(sh, func(s Shift) bool { return s.Person == person })
	if i < 0 {
		t.Fatalf("no shift of %s in %v", person, sh)
	}
	return sh[i]
}

func (s Shift) String() string {
	return s.Person + " " + s.Start.UTC().Format(time.RFC3339) + ".." + s.End.UTC().Format(time.RFC3339) + " (" + s.End.Sub(s.Start).String() + ")"
}

func dump(sh []Shift) string {
	var b strings.Builder
	for _, s := range sh {
		b.WriteString("\n\t" + s.String())
	}
	return b.String()
}
