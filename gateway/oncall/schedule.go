package oncall

import (
	"fmt"
	"slices"
	"time"

	"pagebridge/gateway/paging"
)

// Limits that Validate enforces. They keep every computation bounded: the
// work of OnCall grows with layers, windows and overrides, the work of
// Shifts also with the number of shift boundaries in its range.
const (
	MaxLayers       = 32
	MaxParticipants = 512
	MaxWindows      = 32
	MaxOverrides    = 4096
	// MaxConcurrentOverrides bounds the overrides in force at any one
	// instant, and so the number of people on call at once.
	MaxConcurrentOverrides = 64
	// MaxShiftDays bounds a shift's length: N hours, days or weeks must
	// come to at most this many days.
	MaxShiftDays = 366
	// MinYear and MaxYear bound a layer's start.
	MinYear = 1900
	MaxYear = 9999
)

// Schedule says who is on call for a role, in one IANA time zone.
type Schedule struct {
	ID     string `json:"id"`
	RoleID string `json:"role_id"`
	Name   string `json:"name"`
	// TimeZone is the IANA name of the zone the layers' local times are
	// in, such as "Europe/Berlin". "Local" is refused: a schedule must not
	// change meaning with the machine's setting.
	TimeZone string `json:"time_zone"`
	// Layers are stacked: a later layer wins wherever it has someone on
	// call, and lower layers show through where it has nobody (before its
	// start, outside its windows).
	Layers []Layer `json:"layers,omitempty"`
	// Overrides win over every layer. Those in force at an instant apply
	// in list order, each to the result of the ones before it, so an
	// override appended later wins over an earlier one.
	Overrides []Override `json:"overrides,omitempty"`
}

// Layer is a rotation: participants take turns, one shift each.
type Layer struct {
	Name string `json:"name"`
	// Participants are person IDs in rotation order; a person may appear
	// more than once.
	Participants []string `json:"participants"`
	// Start is the local wall-clock time, in the schedule's zone, at which
	// participant 0's first shift begins. Before it the layer has nobody.
	Start LocalTime `json:"start"`
	// Shift is the length of one turn.
	Shift Length `json:"shift"`
	// Windows, if any, restrict the layer to weekly local-time windows;
	// outside them the layer has nobody and lower layers show through. The
	// rotation runs on regardless: a window does not pause it.
	Windows []Window `json:"windows,omitempty"`
}

// Unit is the unit of a shift's length.
type Unit string

const (
	// UnitHour shifts are fixed durations: N×60 minutes of real time from
	// the layer's start, whatever the wall clock does.
	UnitHour Unit = "hour"
	// UnitDay shifts hand off every N days at the start's wall-clock time.
	UnitDay Unit = "day"
	// UnitWeek shifts hand off every N weeks on the start's weekday, at
	// the start's wall-clock time.
	UnitWeek Unit = "week"
)

// Length is the length of a shift: N units.
type Length struct {
	N    int  `json:"n"`
	Unit Unit `json:"unit"`
}

func (l Length) String() string { return fmt.Sprintf("%d %s", l.N, l.Unit) }

// days is the length in days rounded up, for the MaxShiftDays check; -1
// for an unknown unit.
func (l Length) days() int {
	switch l.Unit {
	case UnitHour:
		return (l.N + 23) / 24
	case UnitDay:
		return l.N
	case UnitWeek:
		return l.N * 7
	}
	return -1
}

func (l Length) validate() error {
	switch l.Unit {
	case UnitHour, UnitDay, UnitWeek:
	default:
		return fmt.Errorf("unit: %q is not hour, day or week", l.Unit)
	}
	if l.N <= 0 || l.N > MaxShiftDays*24 || l.days() > MaxShiftDays {
		return fmt.Errorf("n: %d %ss is not between 1 and %d days", l.N, l.Unit, MaxShiftDays)
	}
	return nil
}

// Window is a weekly local-time window: on each of Days, from Start to
// End. An End at or before Start runs past midnight into the next day
// (Fri 17:00-08:00 ends on Saturday); End "24:00" is the end of the day.
type Window struct {
	// Days the window starts on, as time.Weekday: 0 Sunday … 6 Saturday.
	Days  []time.Weekday `json:"days"`
	Start TimeOfDay      `json:"start"`
	End   TimeOfDay      `json:"end"`
}

// span is the window's length in minutes (1 to 1440).
func (w Window) span() int64 {
	if w.End > w.Start {
		return int64(w.End - w.Start)
	}
	return int64(w.End + minPerDay - w.Start)
}

func (w Window) validate() error {
	if len(w.Days) == 0 {
		return fmt.Errorf("days: none")
	}
	for _, d := range w.Days {
		if d < time.Sunday || d > time.Saturday {
			return fmt.Errorf("days: %d is not 0 (Sunday) to 6 (Saturday)", d)
		}
	}
	if w.Start < 0 || w.Start >= minPerDay {
		return fmt.Errorf("start: %v is not 00:00 to 23:59", w.Start)
	}
	if w.End <= 0 || w.End > minPerDay {
		return fmt.Errorf("end: %v is not 00:01 to 24:00", w.End)
	}
	if w.Start == w.End {
		return fmt.Errorf("start and end are both %v; a whole day is 00:00-24:00", w.Start)
	}
	return nil
}

// coversWeek reports whether the windows together cover every minute of
// the week. Such windows mean "always": Validate refuses them (drop the
// windows instead), which keeps every window run shorter than a week and
// so the window search bounded.
func coversWeek(ws []Window) bool {
	const week = 7 * minPerDay
	type iv struct{ a, b int64 }
	var ivs []iv
	for _, w := range ws {
		for _, d := range w.Days {
			a := int64(d)*minPerDay + int64(w.Start)
			b := a + w.span()
			if b > week {
				ivs = append(ivs, iv{a, week}, iv{0, b - week})
			} else {
				ivs = append(ivs, iv{a, b})
			}
		}
	}
	slices.SortFunc(ivs, func(x, y iv) int { return int(x.a - y.a) })
	var covered int64
	for _, v := range ivs {
		if v.a > covered {
			return false
		}
		covered = max(covered, v.b)
	}
	return covered >= week
}

// OverrideKind says what an override does.
type OverrideKind string

const (
	// OverrideAdd puts Person on call as well.
	OverrideAdd OverrideKind = "add"
	// OverrideReplace puts Person on call instead of Replaces, while
	// Replaces would be on call; with Replaces empty, Person is the only
	// one on call, whether or not anybody else would be.
	OverrideReplace OverrideKind = "replace"
	// OverrideRemove takes Replaces off call.
	OverrideRemove OverrideKind = "remove"
)

// Override changes who is on call between two instants, over every layer.
type Override struct {
	ID string `json:"id"`
	// Start and End are absolute instants; the override is in force from
	// Start up to but not including End.
	Start    time.Time    `json:"start"`
	End      time.Time    `json:"end"`
	Kind     OverrideKind `json:"kind"`
	Person   string       `json:"person,omitempty"`
	Replaces string       `json:"replaces,omitempty"`
}

// valid is the part of Override.validate that OnCall and Shifts check
// themselves, so that an unvalidated override is ignored rather than
// misread.
func (o *Override) valid() bool {
	if !o.End.After(o.Start) {
		return false
	}
	switch o.Kind {
	case OverrideAdd:
		return o.Person != ""
	case OverrideReplace:
		return o.Person != "" && o.Person != o.Replaces
	case OverrideRemove:
		return o.Replaces != ""
	}
	return false
}

func (o *Override) validate() error {
	if o.ID == "" {
		return fmt.Errorf("id: empty")
	}
	if o.Start.IsZero() || o.End.IsZero() {
		return fmt.Errorf("start and end are required")
	}
	if !o.End.After(o.Start) {
		return fmt.Errorf("end %v is not after start %v", o.End, o.Start)
	}
	switch o.Kind {
	case OverrideAdd:
		if o.Person == "" {
			return fmt.Errorf("person: empty (an add override names who is added)")
		}
		if o.Replaces != "" {
			return fmt.Errorf("replaces: an add override replaces nobody")
		}
	case OverrideReplace:
		if o.Person == "" {
			return fmt.Errorf("person: empty (a replace override names who takes over)")
		}
		if o.Person == o.Replaces {
			return fmt.Errorf("replaces: %s would replace themselves", o.Person)
		}
	case OverrideRemove:
		if o.Replaces == "" {
			return fmt.Errorf("replaces: empty (a remove override names who is taken off call)")
		}
		if o.Person != "" {
			return fmt.Errorf("person: a remove override adds nobody")
		}
	default:
		return fmt.Errorf("kind: %q is not add, replace or remove", o.Kind)
	}
	return nil
}

// Validate checks the whole schedule. Its errors wrap paging.ErrInvalid and
// name the field at fault, as in "layers[1].shift.n".
func (s *Schedule) Validate() error {
	bad := func(field string, err error) error {
		return fmt.Errorf("%w schedule %q: %s: %v", paging.ErrInvalid, s.ID, field, err)
	}
	if s == nil {
		return fmt.Errorf("%w schedule: none", paging.ErrInvalid)
	}
	if s.ID == "" {
		return fmt.Errorf("%w schedule: id: empty", paging.ErrInvalid)
	}
	if s.RoleID == "" {
		return bad("role_id", fmt.Errorf("empty"))
	}
	if s.Name == "" {
		return bad("name", fmt.Errorf("empty"))
	}
	if _, err := location(s.TimeZone); err != nil {
		return fmt.Errorf("schedule %q: time_zone: %w", s.ID, err)
	}
	if len(s.Layers) > MaxLayers {
		return bad("layers", fmt.Errorf("%d layers, at most %d", len(s.Layers), MaxLayers))
	}
	for i := range s.Layers {
		l := &s.Layers[i]
		f := fmt.Sprintf("layers[%d]", i)
		if len(l.Participants) == 0 || len(l.Participants) > MaxParticipants {
			return bad(f+".participants", fmt.Errorf("%d participants, need 1 to %d", len(l.Participants), MaxParticipants))
		}
		for j, p := range l.Participants {
			if p == "" {
				return bad(fmt.Sprintf("%s.participants[%d]", f, j), fmt.Errorf("empty person id"))
			}
		}
		if err := l.Start.validate(); err != nil {
			return bad(f+".start", err)
		}
		if err := l.Shift.validate(); err != nil {
			return bad(f+".shift", err)
		}
		if len(l.Windows) > MaxWindows {
			return bad(f+".windows", fmt.Errorf("%d windows, at most %d", len(l.Windows), MaxWindows))
		}
		for j, w := range l.Windows {
			if err := w.validate(); err != nil {
				return bad(fmt.Sprintf("%s.windows[%d]", f, j), err)
			}
		}
		if len(l.Windows) > 0 && coversWeek(l.Windows) {
			return bad(f+".windows", fmt.Errorf("they cover the whole week; a layer without windows is always on"))
		}
	}
	if len(s.Overrides) > MaxOverrides {
		return bad("overrides", fmt.Errorf("%d overrides, at most %d", len(s.Overrides), MaxOverrides))
	}
	ids := make(map[string]bool, len(s.Overrides))
	for i := range s.Overrides {
		o := &s.Overrides[i]
		if err := o.validate(); err != nil {
			return bad(fmt.Sprintf("overrides[%d]", i), err)
		}
		if ids[o.ID] {
			return bad(fmt.Sprintf("overrides[%d].id", i), fmt.Errorf("%q used twice", o.ID))
		}
		ids[o.ID] = true
	}
	if at, ok := concurrent(s.Overrides); !ok {
		return bad("overrides", fmt.Errorf("more than %d in force at once (at %s)", MaxConcurrentOverrides, at.UTC().Format(time.RFC3339)))
	}
	return nil
}

// concurrent checks MaxConcurrentOverrides with a sweep over the
// overrides' starts and ends; an end and a start at the same instant do
// not overlap.
func concurrent(ovs []Override) (time.Time, bool) {
	if len(ovs) <= MaxConcurrentOverrides {
		return time.Time{}, true
	}
	type edge struct {
		at    time.Time
		delta int
	}
	edges := make([]edge, 0, 2*len(ovs))
	for i := range ovs {
		edges = append(edges, edge{ovs[i].Start, 1}, edge{ovs[i].End, -1})
	}
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.delta - b.delta // ends first
	})
	n := 0
	for _, e := range edges {
		if n += e.delta; n > MaxConcurrentOverrides {
			return e.at, false
		}
	}
	return time.Time{}, true
}

// LocalTime is a wall-clock date and time to the minute, with no zone: the
// schedule's zone gives it meaning. Its text form is "2006-01-02T15:04".
type LocalTime struct {
	Year   int
	Month  time.Month
	Day    int
	Hour   int
	Minute int
}

const localLayout = "2006-01-02T15:04"

// ParseLocalTime parses "2006-01-02T15:04".
func ParseLocalTime(s string) (LocalTime, error) {
	t, err := time.Parse(localLayout, s)
	if err != nil {
		return LocalTime{}, fmt.Errorf("%w local time %q: want YYYY-MM-DDTHH:MM", paging.ErrInvalid, s)
	}
	return LocalTime{t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute()}, nil
}

// String formats the time as "2006-01-02T15:04".
func (lt LocalTime) String() string {
	return fmt.Sprintf("%04d-%02d-%02dT%02d:%02d", lt.Year, int(lt.Month), lt.Day, lt.Hour, lt.Minute)
}

// MarshalText implements encoding.TextMarshaler (and so JSON).
func (lt LocalTime) MarshalText() ([]byte, error) { return []byte(lt.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (and so JSON).
func (lt *LocalTime) UnmarshalText(b []byte) error {
	v, err := ParseLocalTime(string(b))
	if err != nil {
		return err
	}
	*lt = v
	return nil
}

func (lt LocalTime) validate() error {
	if lt.Year < MinYear || lt.Year > MaxYear {
		return fmt.Errorf("year %d is not %d to %d", lt.Year, MinYear, MaxYear)
	}
	if lt.Month < time.January || lt.Month > time.December || lt.Day < 1 ||
		lt.Day > time.Date(lt.Year, lt.Month+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return fmt.Errorf("%s is not a calendar date", lt)
	}
	if lt.Hour < 0 || lt.Hour > 23 || lt.Minute < 0 || lt.Minute > 59 {
		return fmt.Errorf("%s is not a time of day", lt)
	}
	return nil
}

// day is the date as days from 1970-01-01; minute the minute of the day.
func (lt LocalTime) day() int64    { return daysFromCivil(int64(lt.Year), int(lt.Month), lt.Day) }
func (lt LocalTime) minute() int64 { return int64(lt.Hour*60 + lt.Minute) }

// TimeOfDay is a local time of day in minutes after midnight, 0 to 1440.
// Its text form is "15:04"; "24:00" (1440) is the end of the day.
type TimeOfDay int

// ParseTimeOfDay parses "15:04" (00:00 to 24:00).
func ParseTimeOfDay(s string) (TimeOfDay, error) {
	var h, m int
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("%w time of day %q: want HH:MM", paging.ErrInvalid, s)
	}
	for i, c := range []byte(s) {
		if i == 2 {
			continue
		}
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w time of day %q: want HH:MM", paging.ErrInvalid, s)
		}
	}
	h = int(s[0]-'0')*10 + int(s[1]-'0')
	m = int(s[3]-'0')*10 + int(s[4]-'0')
	if m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("%w time of day %q: not 00:00 to 24:00", paging.ErrInvalid, s)
	}
	return TimeOfDay(h*60 + m), nil
}

// String formats the time as "15:04".
func (t TimeOfDay) String() string { return fmt.Sprintf("%02d:%02d", int(t)/60, int(t)%60) }

// MarshalText implements encoding.TextMarshaler (and so JSON).
func (t TimeOfDay) MarshalText() ([]byte, error) {
	if t < 0 || t > minPerDay {
		return nil, fmt.Errorf("%w time of day: %d minutes", paging.ErrInvalid, int(t))
	}
	return []byte(t.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler (and so JSON).
func (t *TimeOfDay) UnmarshalText(b []byte) error {
	v, err := ParseTimeOfDay(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}
