package oncall

import (
	"fmt"
	"sync"
	"time"

	"pagebridge/gateway/paging"
)

// zones caches loaded locations by name. A *time.Location is immutable, and
// time.LoadLocation reads and parses the zone database on every call, which
// would dominate OnCall. Only names that loaded are cached, so the map holds
// at most the few hundred names of the zone database.
var zones sync.Map // string -> *time.Location

// location returns the IANA zone name. "Local" (the machine's zone, which
// a schedule must not depend on) and "" (which LoadLocation takes as UTC)
// are refused.
func location(name string) (*time.Location, error) {
	if v, ok := zones.Load(name); ok {
		return v.(*time.Location), nil
	}
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("%w time zone %q: an IANA zone name such as Europe/Berlin is required", paging.ErrInvalid, name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%w time zone %q: %v", paging.ErrInvalid, name, err)
	}
	zones.Store(name, loc)
	return loc, nil
}

const (
	secPerDay = 86400
	minPerDay = 1440
	// maxOffset is more than any UTC offset a zone has ever used (the
	// largest are about ±15 h of local mean time), so the instant whose
	// wall clock reads w always lies within maxOffset of w read as UTC.
	maxOffset = 26 * 3600
)

// floorDiv is a/b rounded towards minus infinity (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// floorMod is a - b*floorDiv(a, b).
func floorMod(a, b int64) int64 { return a - b*floorDiv(a, b) }

// daysFromCivil is the number of days from 1970-01-01 to y-m-d in the
// proleptic Gregorian calendar (H. Hinnant's days_from_civil).
func daysFromCivil(y int64, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := int64((m + 9) % 12)
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// weekday of a day count from 1970-01-01 (a Thursday).
func weekday(days int64) time.Weekday { return time.Weekday(floorMod(days+4, 7)) }

// localDay is the local calendar day (days from 1970-01-01) of the instant
// sec (Unix seconds) in loc.
func localDay(loc *time.Location, sec int64) int64 {
	_, off := time.Unix(sec, 0).In(loc).Zone()
	return floorDiv(sec+int64(off), secPerDay)
}

// resolve returns the instant (Unix seconds) at which the wall clock of loc
// reads wall, given as seconds from 1970-01-01T00:00 local. It implements
// the package's DST rule, which time.Date does not guarantee (and does not
// follow: in a gap it moves Berlin's 02:30 to 03:30 but New York's to 01:30):
//
//   - a wall time that occurs twice (fall back) resolves to its first
//     occurrence;
//   - a wall time that does not occur (spring forward) resolves to the
//     first instant after the gap, the transition itself.
//
// It walks the zone periods from wall-maxOffset onwards; the first period
// that contains wall-offset(period) holds the earliest occurrence. A
// transition at which the clock jumps over wall is the gap case.
func resolve(loc *time.Location, wall int64) int64 {
	p := wall - maxOffset
	for range 16 {
		t := time.Unix(p, 0).In(loc)
		_, off := t.Zone()
		start, end := t.ZoneBounds()
		u := wall - int64(off)
		if (start.IsZero() || u >= start.Unix()) && (end.IsZero() || u < end.Unix()) {
			return u
		}
		if end.IsZero() {
			break
		}
		e := end.Unix()
		_, next := end.Zone()
		if e+int64(off) <= wall && wall < e+int64(next) {
			return e
		}
		if e > wall+maxOffset {
			break
		}
		p = e
	}
	// Not reached with real zone data; fall back to what time.Date does.
	_, off := time.Unix(wall, 0).In(loc).Zone()
	return wall - int64(off)
}

// resolveMin is resolve for a day count and a minute of that day (which
// may be 1440 or more: it then falls on a later day).
func resolveMin(loc *time.Location, day int64, minute int64) int64 {
	return resolve(loc, day*secPerDay+minute*60)
}
