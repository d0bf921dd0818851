package oncall

import (
	"testing"
	"time"
)

// TestResolve pins the package's wall-time rule: a repeated time is its
// first occurrence, a skipped time is the first instant after the gap.
func TestResolve(t *testing.T) {
	t.Parallel()
	cases := []struct {
		zone, wall, want string // want in UTC
	}{
		// Europe/Berlin, 2026-03-29: 02:00 CET -> 03:00 CEST at 01:00Z.
		{"Europe/Berlin", "2026-03-29T01:59", "2026-03-29T00:59:00Z"},
		{"Europe/Berlin", "2026-03-29T02:00", "2026-03-29T01:00:00Z"}, // skipped: 03:00 CEST
		{"Europe/Berlin", "2026-03-29T02:30", "2026-03-29T01:00:00Z"}, // skipped: 03:00 CEST
		{"Europe/Berlin", "2026-03-29T02:59", "2026-03-29T01:00:00Z"}, // skipped: 03:00 CEST
		{"Europe/Berlin", "2026-03-29T03:00", "2026-03-29T01:00:00Z"},
		{"Europe/Berlin", "2026-03-29T03:01", "2026-03-29T01:01:00Z"},
		// Europe/Berlin, 2026-10-25: 03:00 CEST -> 02:00 CET at 01:00Z.
		{"Europe/Berlin", "2026-10-25T01:59", "2026-10-24T23:59:00Z"},
		{"Europe/Berlin", "2026-10-25T02:00", "2026-10-25T00:00:00Z"}, // twice: first, CEST
		{"Europe/Berlin", "2026-10-25T02:30", "2026-10-25T00:30:00Z"}, // twice: first, CEST
		{"Europe/Berlin", "2026-10-25T02:59", "2026-10-25T00:59:00Z"}, // twice: first, CEST
		{"Europe/Berlin", "2026-10-25T03:00", "2026-10-25T02:00:00Z"},
		// America/New_York, 2026-03-08: 02:00 EST -> 03:00 EDT at 07:00Z.
		{"America/New_York", "2026-03-08T01:59", "2026-03-08T06:59:00Z"},
		{"America/New_York", "2026-03-08T02:00", "2026-03-08T07:00:00Z"}, // skipped: 03:00 EDT
		{"America/New_York", "2026-03-08T02:30", "2026-03-08T07:00:00Z"}, // skipped (time.Date says 01:30 EST)
		{"America/New_York", "2026-03-08T03:00", "2026-03-08T07:00:00Z"},
		// America/New_York, 2026-11-01: 02:00 EDT -> 01:00 EST at 06:00Z.
		{"America/New_York", "2026-11-01T00:59", "2026-11-01T04:59:00Z"},
		{"America/New_York", "2026-11-01T01:00", "2026-11-01T05:00:00Z"}, // twice: first, EDT
		{"America/New_York", "2026-11-01T01:30", "2026-11-01T05:30:00Z"}, // twice: first, EDT
		{"America/New_York", "2026-11-01T02:00", "2026-11-01T07:00:00Z"}, // once, EST
		{"America/New_York", "2026-11-01T02:30", "2026-11-01T07:30:00Z"},
		// Lord Howe moves its clock by 30 minutes.
		{"Australia/Lord_Howe", "2026-10-04T02:15", "2026-10-03T15:30:00Z"}, // skipped: 02:30 +11
		{"Australia/Lord_Howe", "2026-04-05T01:45", "2026-04-04T14:45:00Z"}, // twice: first, +11
		// Samoa skipped 2011-12-30 altogether (-10 -> +14).
		{"Pacific/Apia", "2011-12-29T23:59", "2011-12-30T09:59:00Z"},
		{"Pacific/Apia", "2011-12-30T12:00", "2011-12-30T10:00:00Z"}, // skipped: 12-31 00:00 +14
		{"Pacific/Apia", "2011-12-31T00:00", "2011-12-30T10:00:00Z"},
		// São Paulo used to spring forward at midnight: 00:00 -> 01:00.
		{"America/Sao_Paulo", "2018-11-04T00:00", "2018-11-04T03:00:00Z"},
		{"America/Sao_Paulo", "2018-11-04T00:30", "2018-11-04T03:00:00Z"},
		// and fall back at midnight: 23:00-23:59 of the 16th twice.
		{"America/Sao_Paulo", "2019-02-16T23:30", "2019-02-17T01:30:00Z"}, // first, -02
		{"America/Sao_Paulo", "2019-02-17T00:00", "2019-02-17T03:00:00Z"},
		// Dublin's "daylight saving" is negative in tzdata (winter GMT is the DST).
		{"Europe/Dublin", "2026-03-29T01:30", "2026-03-29T01:00:00Z"}, // skipped: 02:00 IST
		{"Europe/Dublin", "2026-10-25T01:30", "2026-10-25T00:30:00Z"}, // twice: first, IST
		{"UTC", "2026-03-29T02:30", "2026-03-29T02:30:00Z"},
	}
	for _, c := range cases {
		loc := mustLoc(t, c.zone)
		got := wall(loc, c.wall)
		if want := mustUTC(c.want); !got.Equal(want) {
			t.Errorf("%s %s = %s (%s), want %s (%s)", c.zone, c.wall,
				got.UTC().Format(time.RFC3339), got.Format(localFmt), c.want, want.In(loc).Format(localFmt))
		}
	}
}

// TestDSTNights: daily rotations that hand off at 08:00 and in the small
// hours, on the nights the clocks change in Berlin and New York. Each
// rotation starts the day before the change, with participants named by
// the day their shift starts (p28 takes the shift that starts on the
// 28th). Probes give the instant in UTC and how the zone shows it, so the
// table documents itself and the test checks the documentation.
func TestDSTNights(t *testing.T) {
	t.Parallel()
	type probe struct {
		utc, local, want string
	}
	cases := []struct {
		name, zone, start string
		ps                []string
		probes            []probe
		lengths           map[string]time.Duration // shift lengths
	}{
		{
			name: "Berlin spring, 08:00", zone: "Europe/Berlin", start: "2026-03-28T08:00",
			ps: []string{"p28", "p29", "p30"},
			probes: []probe{
				{"2026-03-28T06:59:00Z", "2026-03-28 07:59 CET", ""}, // before the start
				{"2026-03-28T07:00:00Z", "2026-03-28 08:00 CET", "p28"},
				{"2026-03-29T00:59:00Z", "2026-03-29 01:59 CET", "p28"},
				{"2026-03-29T01:00:00Z", "2026-03-29 03:00 CEST", "p28"}, // the instant "02:00" and "02:30" would be
				{"2026-03-29T05:59:00Z", "2026-03-29 07:59 CEST", "p28"},
				{"2026-03-29T06:00:00Z", "2026-03-29 08:00 CEST", "p29"},
			},
			lengths: map[string]time.Duration{"p28": 23 * time.Hour, "p29": 24 * time.Hour},
		},
		{
			name: "Berlin spring, 02:30", zone: "Europe/Berlin", start: "2026-03-28T02:30",
			ps: []string{"p28", "p29", "p30"},
			probes: []probe{
				{"2026-03-29T00:59:00Z", "2026-03-29 01:59 CET", "p28"},
				{"2026-03-29T00:59:59Z", "2026-03-29 01:59 CET", "p28"},
				{"2026-03-29T01:00:00Z", "2026-03-29 03:00 CEST", "p29"}, // 02:30 does not exist: hand-off at 03:00
				{"2026-03-29T05:59:00Z", "2026-03-29 07:59 CEST", "p29"},
				{"2026-03-29T06:00:00Z", "2026-03-29 08:00 CEST", "p29"},
				{"2026-03-30T00:29:00Z", "2026-03-30 02:29 CEST", "p29"},
				{"2026-03-30T00:30:00Z", "2026-03-30 02:30 CEST", "p30"},
			},
			lengths: map[string]time.Duration{"p28": 23*time.Hour + 30*time.Minute, "p29": 23*time.Hour + 30*time.Minute},
		},
		{
			name: "Berlin autumn, 08:00", zone: "Europe/Berlin", start: "2026-10-24T08:00",
			ps: []string{"p24", "p25", "p26"},
			probes: []probe{
				{"2026-10-24T23:59:00Z", "2026-10-25 01:59 CEST", "p24"},
				{"2026-10-25T00:00:00Z", "2026-10-25 02:00 CEST", "p24"},
				{"2026-10-25T00:30:00Z", "2026-10-25 02:30 CEST", "p24"},
				{"2026-10-25T01:00:00Z", "2026-10-25 02:00 CET", "p24"},
				{"2026-10-25T01:30:00Z", "2026-10-25 02:30 CET", "p24"},
				{"2026-10-25T02:00:00Z", "2026-10-25 03:00 CET", "p24"},
				{"2026-10-25T06:59:00Z", "2026-10-25 07:59 CET", "p24"},
				{"2026-10-25T07:00:00Z", "2026-10-25 08:00 CET", "p25"},
			},
			lengths: map[string]time.Duration{"p24": 25 * time.Hour, "p25": 24 * time.Hour},
		},
		{
			name: "Berlin autumn, 02:30", zone: "Europe/Berlin", start: "2026-10-24T02:30",
			ps: []string{"p24", "p25", "p26"},
			probes: []probe{
				{"2026-10-24T23:59:00Z", "2026-10-25 01:59 CEST", "p24"},
				{"2026-10-25T00:00:00Z", "2026-10-25 02:00 CEST", "p24"}, // a page at 02:00, first time round
				{"2026-10-25T00:29:59Z", "2026-10-25 02:29 CEST", "p24"},
				{"2026-10-25T00:30:00Z", "2026-10-25 02:30 CEST", "p25"}, // hand-off at the first 02:30
				{"2026-10-25T01:00:00Z", "2026-10-25 02:00 CET", "p25"},  // a page at 02:00, second time round
				{"2026-10-25T01:30:00Z", "2026-10-25 02:30 CET", "p25"},  // no second hand-off
				{"2026-10-25T02:00:00Z", "2026-10-25 03:00 CET", "p25"},
				{"2026-10-25T06:59:00Z", "2026-10-25 07:59 CET", "p25"},
				{"2026-10-25T07:00:00Z", "2026-10-25 08:00 CET", "p25"},
				{"2026-10-26T01:30:00Z", "2026-10-26 02:30 CET", "p26"},
			},
			lengths: map[string]time.Duration{"p24": 24 * time.Hour, "p25": 25 * time.Hour},
		},
		{
			name: "New York spring, 08:00", zone: "America/New_York", start: "2026-03-07T08:00",
			ps: []string{"p07", "p08", "p09"},
			probes: []probe{
				{"2026-03-08T06:59:00Z", "2026-03-08 01:59 EST", "p07"},
				{"2026-03-08T07:00:00Z", "2026-03-08 03:00 EDT", "p07"}, // the instant "02:00" would be
				{"2026-03-08T11:59:00Z", "2026-03-08 07:59 EDT", "p07"},
				{"2026-03-08T12:00:00Z", "2026-03-08 08:00 EDT", "p08"},
			},
			lengths: map[string]time.Duration{"p07": 23 * time.Hour, "p08": 24 * time.Hour},
		},
		{
			name: "New York spring, 02:30", zone: "America/New_York", start: "2026-03-07T02:30",
			ps: []string{"p07", "p08", "p09"},
			probes: []probe{
				{"2026-03-08T06:59:00Z", "2026-03-08 01:59 EST", "p07"},
				{"2026-03-08T07:00:00Z", "2026-03-08 03:00 EDT", "p08"}, // 02:30 does not exist: hand-off at 03:00
				{"2026-03-08T11:59:00Z", "2026-03-08 07:59 EDT", "p08"},
				{"2026-03-08T12:00:00Z", "2026-03-08 08:00 EDT", "p08"},
			},
			lengths: map[string]time.Duration{"p07": 23*time.Hour + 30*time.Minute, "p08": 23*time.Hour + 30*time.Minute},
		},
		{
			name: "New York autumn, 08:00", zone: "America/New_York", start: "2026-10-31T08:00",
			ps: []string{"p31", "p01", "p02"},
			probes: []probe{
				{"2026-11-01T05:59:00Z", "2026-11-01 01:59 EDT", "p31"},
				{"2026-11-01T06:59:00Z", "2026-11-01 01:59 EST", "p31"},
				{"2026-11-01T07:00:00Z", "2026-11-01 02:00 EST", "p31"},
				{"2026-11-01T07:30:00Z", "2026-11-01 02:30 EST", "p31"},
				{"2026-11-01T08:00:00Z", "2026-11-01 03:00 EST", "p31"},
				{"2026-11-01T12:59:00Z", "2026-11-01 07:59 EST", "p31"},
				{"2026-11-01T13:00:00Z", "2026-11-01 08:00 EST", "p01"},
			},
			lengths: map[string]time.Duration{"p31": 25 * time.Hour, "p01": 24 * time.Hour},
		},
		{
			name: "New York autumn, 02:30", zone: "America/New_York", start: "2026-10-31T02:30",
			ps: []string{"p31", "p01", "p02"},
			probes: []probe{
				{"2026-11-01T05:59:00Z", "2026-11-01 01:59 EDT", "p31"},
				{"2026-11-01T06:59:00Z", "2026-11-01 01:59 EST", "p31"},
				{"2026-11-01T07:00:00Z", "2026-11-01 02:00 EST", "p31"},
				{"2026-11-01T07:30:00Z", "2026-11-01 02:30 EST", "p01"},
				{"2026-11-01T08:00:00Z", "2026-11-01 03:00 EST", "p01"},
				{"2026-11-01T13:00:00Z", "2026-11-01 08:00 EST", "p01"},
			},
			lengths: map[string]time.Duration{"p31": 25 * time.Hour, "p01": 24 * time.Hour},
		},
		{
			// In New York the repeated hour is 01:00-01:59.
			name: "New York autumn, 01:30", zone: "America/New_York", start: "2026-10-31T01:30",
			ps: []string{"p31", "p01", "p02"},
			probes: []probe{
				{"2026-11-01T05:29:00Z", "2026-11-01 01:29 EDT", "p31"},
				{"2026-11-01T05:30:00Z", "2026-11-01 01:30 EDT", "p01"}, // the first 01:30
				{"2026-11-01T06:15:00Z", "2026-11-01 01:15 EST", "p01"}, // 01:15 again: still p01
				{"2026-11-01T06:30:00Z", "2026-11-01 01:30 EST", "p01"}, // no second hand-off
				{"2026-11-01T07:00:00Z", "2026-11-01 02:00 EST", "p01"},
			},
			lengths: map[string]time.Duration{"p31": 24 * time.Hour, "p01": 25 * time.Hour},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			loc := mustLoc(t, c.zone)
			s := mustValid(t, rotation(c.zone, c.start, UnitDay, 1, c.ps...))
			for _, p := range c.probes {
				at := mustUTC(p.utc)
				if got := at.In(loc).Format(localFmt); got != p.local {
					t.Fatalf("table error: %s is %s, not %s", p.utc, got, p.local)
				}
				as := OnCall(s, at)
				if p.want == "" {
					if len(as) != 0 {
						t.Errorf("%s: on call %v, want nobody", p.local, as)
					}
					continue
				}
				if len(as) != 1 || as[0].Person != p.want {
					t.Errorf("%s: on call %v, want %s", p.local, as, p.want)
					continue
				}
				a := as[0]
				if at.Before(a.Since) || !at.Before(a.Until) {
					t.Errorf("%s: %v does not hold the instant", p.local, a)
				}
				if want, ok := c.lengths[a.Person]; ok && a.Until.Sub(a.Since) != want {
					t.Errorf("%s: %s's shift %s..%s is %v, want %v", p.local, a.Person,
						a.Since.Format(localFmt), a.Until.Format(localFmt), a.Until.Sub(a.Since), want)
				}
			}
			start := wall(loc, c.start)
			sh := mustShifts(t, s, start, start.Add(96*time.Hour))
			for person, want := range c.lengths {
				if got := shiftOf(t, sh, person); got.End.Sub(got.Start) != want {
					t.Errorf("Shifts: %v, want %v", got, want)
				}
			}
		})
	}
}

// TestHourShiftsAcrossDST: hour shifts are fixed durations, so a 12-hour
// rotation that starts at 08:00 CET hands off at 09:00 and 21:00 CEST.
func TestHourShiftsAcrossDST(t *testing.T) {
	t.Parallel()
	loc := mustLoc(t, "Europe/Berlin")
	s := mustValid(t, rotation("Europe/Berlin", "2026-03-27T08:00", UnitHour, 12, "day", "night"))
	cases := []struct{ local, want string }{
		{"2026-03-27T08:00", "day"},
		{"2026-03-27T19:59", "day"},
		{"2026-03-27T20:00", "night"},
		{"2026-03-28T20:00", "night"},
		{"2026-03-29T08:00", "night"}, // 07:00 CET: the clock moved, the shift did not
		{"2026-03-29T08:59", "night"},
		{"2026-03-29T09:00", "day"},
		{"2026-03-29T20:59", "day"},
		{"2026-03-29T21:00", "night"},
	}
	for _, c := range cases {
		if got := people(OnCall(s, wall(loc, c.local))); len(got) != 1 || got[0] != c.want {
			t.Errorf("%s: %v, want %s", c.local, got, c.want)
		}
	}
	for _, sh := range mustShifts(t, s, wall(loc, "2026-03-27T08:00"), wall(loc, "2026-04-02T09:00")) {
		if sh.End.Sub(sh.Start) != 12*time.Hour {
			t.Errorf("hour shift %v is not 12h", sh)
		}
	}
}

// TestWindowsAcrossDST: windows are local times with the same rule.
func TestWindowsAcrossDST(t *testing.T) {
	t.Parallel()
	loc := mustLoc(t, "Europe/Berlin")
	every := []time.Weekday{0, 1, 2, 3, 4, 5, 6}
	cases := []struct {
		name, start, end string
		night            string // the date of the evening before
		want             time.Duration
	}{
		{"ordinary night", "22:00", "06:00", "2026-03-21", 8 * time.Hour},
		{"spring night", "22:00", "06:00", "2026-03-28", 7 * time.Hour},
		{"autumn night", "22:00", "06:00", "2026-10-24", 9 * time.Hour},
		{"to 02:30, ordinary", "22:00", "02:30", "2026-10-17", 4*time.Hour + 30*time.Minute},
		{"to 02:30, autumn: the first 02:30", "22:00", "02:30", "2026-10-24", 4*time.Hour + 30*time.Minute},
		{"to 02:30, spring: 03:00 CEST", "22:00", "02:30", "2026-03-28", 4 * time.Hour},
		{"from 02:30, spring: 03:00 CEST", "02:30", "06:00", "2026-03-28", 3 * time.Hour},
		{"from 02:30, autumn: the first 02:30", "02:30", "06:00", "2026-10-24", 4*time.Hour + 30*time.Minute},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := rotation("Europe/Berlin", "2026-01-01T00:00", UnitWeek, 52, "nurse")
			s.Layers[0].Windows = []Window{{Days: every, Start: mustTOD(c.start), End: mustTOD(c.end)}}
			mustValid(t, s)
			from := wall(loc, c.night+"T12:00")
			sh := mustShifts(t, s, from, from.Add(24*time.Hour))
			if len(sh) != 1 || sh[0].End.Sub(sh[0].Start) != c.want {
				t.Fatalf("shifts %s, want one of %v", dump(sh), c.want)
			}
			// OnCall agrees at the window's edges.
			if as := OnCall(s, sh[0].Start); len(as) != 1 || !as[0].Since.Equal(sh[0].Start) || !as[0].Until.Equal(sh[0].End) {
				t.Errorf("OnCall at the start: %v, want the window %v", as, sh[0])
			}
			if as := OnCall(s, sh[0].End); len(as) != 0 {
				t.Errorf("OnCall at the end: %v, want nobody", as)
			}
			if as := OnCall(s, sh[0].Start.Add(-time.Nanosecond)); len(as) != 0 {
				t.Errorf("OnCall before the start: %v, want nobody", as)
			}
		})
	}
}
