package oncall

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"pagebridge/gateway/paging"
)

// MaxRange is the longest range Shifts accepts.
const MaxRange = 400 * 24 * time.Hour

// Shift is a stretch of time during which one person is on call.
type Shift struct {
	Person string    `json:"person"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	// Reason is why, as in Assignment; where the stretch joins several
	// (a layer's shift, then an override), their reasons in order,
	// separated by "; ".
	Reason string `json:"reason"`
}

// Shifts returns who is on call for s between from and to: the final
// intervals, after layers, windows and overrides, each person's adjacent
// intervals merged, ordered by start and then person. People on call at
// the same time (an add override) have overlapping shifts; a stretch with
// nobody on call has none. Intervals are cut at from and to, so a shift
// that began earlier starts at from. Times are in the schedule's zone.
//
// It validates s, and refuses a range longer than MaxRange (both with
// errors wrapping paging.ErrInvalid). An empty range gives no shifts.
func Shifts(s *Schedule, from, to time.Time) ([]Shift, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if to.Sub(from) > MaxRange {
		return nil, fmt.Errorf("%w shifts: range %s to %s is longer than %d days", paging.ErrInvalid,
			from.Format(time.RFC3339), to.Format(time.RFC3339), int(MaxRange/(24*time.Hour)))
	}
	from, to = from.Round(0), to.Round(0) // compare wall clocks only
	if from.Before(minInstant) {
		from = minInstant
	}
	if to.After(maxInstant) {
		to = maxInstant
	}
	if !to.After(from) {
		return nil, nil
	}
	sc, ok := compile(s)
	if !ok {
		return nil, fmt.Errorf("%w schedule %q: cannot be evaluated", paging.ErrInvalid, s.ID) // not reached after Validate
	}

	// Every instant at which the on-call set can change: layer starts,
	// hand-offs, window runs, override starts and ends. Between two of
	// them the set is constant.
	pts := []time.Time{from, to}
	add := func(sec int64) {
		if t := time.Unix(sec, 0); t.After(from) && t.Before(to) {
			pts = append(pts, t)
		}
	}
	fromSec, toSec := from.Unix(), to.Unix()
	for i := range s.Layers {
		c := sc.calc(i)
		add(c.b0)
		k := int64(0)
		if kf, _, _, ok := c.shiftAt(fromSec); ok {
			k = kf
		}
		for k++; ; k++ {
			b := c.boundary(k)
			if b > toSec {
				break
			}
			add(b)
		}
		if len(c.l.Windows) > 0 {
			c.runs(localDay(sc.loc, fromSec)-9, localDay(sc.loc, toSec)+9, never, func(a, b int64) bool {
				add(a)
				add(b)
				return true
			})
		}
	}
	// Overrides by start, for the sweep below.
	byStart := make([]int, 0, len(s.Overrides))
	for i := range s.Overrides {
		o := &s.Overrides[i]
		if o.End.After(from) && o.Start.Before(to) {
			byStart = append(byStart, i)
			if o.Start.After(from) {
				pts = append(pts, o.Start)
			}
			if o.End.Before(to) {
				pts = append(pts, o.End)
			}
		}
	}
	slices.SortFunc(byStart, func(a, b int) int { return s.Overrides[a].Start.Compare(s.Overrides[b].Start) })
	slices.SortFunc(pts, time.Time.Compare)
	pts = slices.CompactFunc(pts, time.Time.Equal)

	type open struct {
		Shift
		srcs []int
		seen bool
	}
	var (
		out    []Shift
		opens  = map[string]*open{}
		order  []string  // open people, in order of their opening
		active = []int{} // overrides in force, in list order; never nil (nil tells eval to scan)
		next   int       // into byStart
		set    []entry
	)
	emit := func(o *open) {
		reasons := make([]string, len(o.srcs))
		for i, src := range o.srcs {
			reasons[i] = sc.reason(entry{person: o.Person, src: src})
		}
		o.Reason = strings.Join(reasons, "; ")
		o.Start, o.End = o.Start.In(sc.loc), o.End.In(sc.loc)
		out = append(out, o.Shift)
	}
	for pi := 0; pi+1 < len(pts); pi++ {
		p, q := pts[pi], pts[pi+1]
		active = slices.DeleteFunc(active, func(i int) bool { return !s.Overrides[i].End.After(p) })
		for ; next < len(byStart) && !s.Overrides[byStart[next]].Start.After(p); next++ {
			if i := byStart[next]; s.Overrides[i].End.After(p) {
				j, _ := slices.BinarySearch(active, i)
				active = slices.Insert(active, j, i)
			}
		}
		set, _, _ = sc.eval(p, false, active, set[:0])
		for _, e := range set {
			o := opens[e.person]
			if o == nil {
				o = &open{Shift: Shift{Person: e.person, Start: p}}
				opens[e.person] = o
				order = append(order, e.person)
			}
			o.End, o.seen = q, true
			if !slices.Contains(o.srcs, e.src) {
				o.srcs = append(o.srcs, e.src)
			}
		}
		order = slices.DeleteFunc(order, func(person string) bool {
			o := opens[person]
			if o.seen {
				o.seen = false
				return false
			}
			emit(o)
			delete(opens, person)
			return true
		})
	}
	for _, person := range order {
		emit(opens[person])
	}
	slices.SortStableFunc(out, func(a, b Shift) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Person, b.Person))
	})
	return out, nil
}
