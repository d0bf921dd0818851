package oncall

import (
	"fmt"
	"testing"
	"time"
)

// benchSchedules: n schedules of 3 layers (a 24/7 weekly rotation, a
// nightly layer with windows, a weekday daytime layer), 8 participants
// each, and 5 overrides spread around the instant each is asked about.
func benchSchedules(b *testing.B, n int) ([]*Schedule, []time.Time) {
	zones := []string{"Europe/Berlin", "America/New_York", "Europe/London", "America/Chicago", "Australia/Sydney", "Asia/Kolkata"}
	every := []time.Weekday{0, 1, 2, 3, 4, 5, 6}
	base := mustUTC("2026-01-01T00:00:00Z")
	var ss []*Schedule
	var ats []time.Time
	for i := range n {
		ps := func(prefix string) []string {
			var out []string
			for j := range 8 {
				out = append(out, fmt.Sprintf("%s%d-%d", prefix, i, j))
			}
			return out
		}
		at := base.Add(time.Duration(i*7919) * time.Minute) // spread over the year, both DST changes included
		s := &Schedule{
			ID: fmt.Sprint("s", i), RoleID: "r", Name: "Bench", TimeZone: zones[i%len(zones)],
			Layers: []Layer{
				{Name: "24/7", Participants: ps("w"), Start: mustLocal("2025-06-02T08:00"), Shift: Length{1, UnitWeek}},
				{Name: "nights", Participants: ps("n"), Start: mustLocal("2025-06-02T20:00"), Shift: Length{1, UnitDay},
					Windows: []Window{{Days: every, Start: mustTOD("20:00"), End: mustTOD("08:00")}}},
				{Name: "daytime", Participants: ps("d"), Start: mustLocal("2025-06-02T00:00"), Shift: Length{1, UnitDay},
					Windows: []Window{{Days: []time.Weekday{1, 2, 3, 4, 5}, Start: mustTOD("08:00"), End: mustTOD("17:00")}}},
			},
		}
		kinds := []OverrideKind{OverrideAdd, OverrideReplace, OverrideRemove, OverrideReplace, OverrideAdd}
		for j, k := range kinds {
			o := Override{ID: fmt.Sprint("o", j), Kind: k, Start: at.Add(time.Duration(j-2) * 5 * time.Hour), End: at.Add(time.Duration(j-1) * 5 * time.Hour)}
			switch k {
			case OverrideAdd:
				o.Person = "x"
			case OverrideReplace:
				o.Person, o.Replaces = "y", s.Layers[j%3].Participants[j]
				if j == 3 {
					o.Replaces = ""
				}
			case OverrideRemove:
				o.Replaces = s.Layers[0].Participants[1]
			}
			s.Overrides = append(s.Overrides, o)
		}
		if err := s.Validate(); err != nil {
			b.Fatal(err)
		}
		ss = append(ss, s)
		ats = append(ats, at)
	}
	return ss, ats
}

// BenchmarkOnCall: one op is one OnCall for each of 1,000 schedules.
func BenchmarkOnCall(b *testing.B) {
	ss, ats := benchSchedules(b, 1000)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for i, s := range ss {
			n += len(OnCall(s, ats[i]))
		}
	}
	if n == 0 {
		b.Fatal("nobody on call anywhere")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ss)), "ns/call")
}

// BenchmarkShifts: a month of one schedule, as for "next hand-offs" or a
// calendar feed.
func BenchmarkShifts(b *testing.B) {
	ss, ats := benchSchedules(b, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Shifts(ss[0], ats[0], ats[0].Add(30*24*time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
}
