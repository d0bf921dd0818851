package oncall

import (
	"math"
	"slices"
	"time"
)

const (
	never   = math.MinInt64 // "no such instant, before"
	forever = math.MaxInt64 // "no such instant, after"
)

// layerCalc evaluates one layer in its schedule's zone. Instants are Unix
// seconds: every boundary a layer has is a whole second (local times are
// whole minutes, zone offsets whole seconds), so an instant t lies at or
// after a boundary b exactly when t's whole seconds do.
type layerCalc struct {
	l    *Layer
	loc  *time.Location
	day0 int64 // the start's local date, days from 1970-01-01
	min0 int64 // the start's minute of the day
	b0   int64 // the start's instant
	hour int64 // UnitHour: the shift length in seconds
	days int64 // UnitDay, UnitWeek: the shift length in days
}

// layerOK runs the checks of Validate that keep the arithmetic below from
// misbehaving (division by zero, overflow, unbounded window instances). It
// skips those that only guard meaning, such as windows covering the week.
func layerOK(l *Layer) bool {
	if len(l.Participants) == 0 || l.Start.validate() != nil || l.Shift.validate() != nil || len(l.Windows) > MaxWindows {
		return false
	}
	for _, w := range l.Windows {
		if w.validate() != nil {
			return false
		}
	}
	for _, p := range l.Participants {
		if p == "" {
			return false
		}
	}
	return true
}

// newLayerCalc prepares a layer that passed layerOK.
func newLayerCalc(l *Layer, loc *time.Location) layerCalc {
	c := layerCalc{l: l, loc: loc, day0: l.Start.day(), min0: l.Start.minute()}
	switch l.Shift.Unit {
	case UnitHour:
		c.hour = int64(l.Shift.N) * 3600
	case UnitDay:
		c.days = int64(l.Shift.N)
	case UnitWeek:
		c.days = int64(l.Shift.N) * 7
	}
	c.b0 = resolveMin(loc, c.day0, c.min0)
	return c
}

// boundary is the instant shift k begins (k >= 0).
func (c *layerCalc) boundary(k int64) int64 {
	if c.hour > 0 {
		return c.b0 + k*c.hour
	}
	if k == 0 {
		return c.b0
	}
	return resolveMin(c.loc, c.day0+k*c.days, c.min0)
}

// shiftAt returns the shift that t lies in and its bounds, or false before
// the layer's start. The index comes from arithmetic, not from walking the
// shifts: duration division for hours; for days and weeks, the civil-day
// distance from the start to t's local date, corrected by at most a step
// or two where t's local time is before the hand-off time (or a DST
// transition moved the hand-off).
func (c *layerCalc) shiftAt(t int64) (k, start, end int64, ok bool) {
	if t < c.b0 {
		return 0, 0, 0, false
	}
	if c.hour > 0 {
		k = (t - c.b0) / c.hour
		start = c.b0 + k*c.hour
		return k, start, start + c.hour, true
	}
	k = max(floorDiv(localDay(c.loc, t)-c.day0, c.days), 0)
	start = c.boundary(k)
	for i := 0; t < start && k > 0 && i < 4; i++ {
		k--
		start = c.boundary(k)
	}
	end = c.boundary(k + 1)
	for i := 0; t >= end && i < 4; i++ {
		k++
		start, end = end, c.boundary(k+1)
	}
	if t < start || t >= end {
		return 0, 0, 0, false // not reached: boundaries are a day or more apart
	}
	return k, start, end, true
}

// runs calls fn with the runs of the layer's windows — maximal stretches
// of window time, as instants [a, b) — made of the window instances that
// start on local days d0 to d1, in order, until fn returns false.
//
// Instances are merged into runs in wall time, each run's ends are
// resolved with the package's DST rule, and runs that meet once resolved
// (across a gap) are merged again. Runs that end in wall time before
// lazyBefore (minutes from 1970-01-01 local) are not resolved, except the
// last of them: the caller needs no more than that one's end.
func (c *layerCalc) runs(d0, d1, lazyBefore int64, fn func(a, b int64) bool) {
	var (
		inst         [MaxWindows][2]int64
		wa, wb       int64 // open run in wall minutes
		haveW        bool
		pa, pb       int64 // last run ending before lazyBefore, unresolved
		haveP        bool
		ia, ib       int64 // open run in instants
		haveI, done  bool
		windows      = c.l.Windows
		resolveWallM = func(m int64) int64 { return resolve(c.loc, m*60) }
	)
	pushI := func(a, b int64) {
		if done {
			return
		}
		if haveI && a <= ib {
			ib = max(ib, b)
			return
		}
		if haveI && !fn(ia, ib) {
			done = true
			return
		}
		ia, ib, haveI = a, b, true
	}
	flushP := func() {
		if haveP {
			haveP = false
			pushI(resolveWallM(pa), resolveWallM(pb))
		}
	}
	closeW := func(a, b int64) {
		if b < lazyBefore {
			pa, pb, haveP = a, b, true
			return
		}
		flushP()
		pushI(resolveWallM(a), resolveWallM(b))
	}
	for d := d0; d <= d1 && !done; d++ {
		wd := weekday(d)
		n := 0
		for _, w := range windows {
			if !slices.Contains(w.Days, wd) {
				continue
			}
			a := d*minPerDay + int64(w.Start)
			iv := [2]int64{a, a + w.span()}
			j := n
			for j > 0 && inst[j-1][0] > a {
				inst[j] = inst[j-1]
				j--
			}
			inst[j] = iv
			n++
		}
		for _, iv := range inst[:n] {
			if haveW && iv[0] <= wb {
				wb = max(wb, iv[1])
				continue
			}
			if haveW {
				closeW(wa, wb)
			}
			wa, wb, haveW = iv[0], iv[1], true
		}
	}
	if haveW {
		closeW(wa, wb)
	}
	flushP()
	if haveI && !done {
		fn(ia, ib)
	}
}

// winState is where an instant t stands with respect to a layer's windows.
type winState struct {
	in         bool
	start, end int64 // the run t is in, when in
	prevEnd    int64 // when not in: the end of the last run before t, or never
	nextStart  int64 // when not in: the start of the next run after t, or forever
}

// windowAt searches the runs around t. Validate refuses windows that cover
// the whole week, so every run is shorter than a week and lies within the
// 9 local days either side of t's; and every week has a run, so the run
// before t and the run after t are found in that span too.
func (c *layerCalc) windowAt(t int64) winState {
	dt := localDay(c.loc, t)
	st := winState{prevEnd: never, nextStart: forever}
	c.runs(dt-9, dt+9, (dt-2)*minPerDay, func(a, b int64) bool {
		switch {
		case b <= t:
			st.prevEnd = b
			return true
		case a <= t:
			st.in, st.start, st.end = true, a, b
		default:
			st.nextStart = a
		}
		return false
	})
	return st
}

// layerState is a layer at an instant t.
type layerState struct {
	active bool
	person string
	// When active: the shift, clipped to the window run.
	since, until int64
	// When not active: when the layer last went quiet before t (never if
	// it has not had anyone on call before t) and when it next has someone
	// (forever if that was not found). Filled only when asked for.
	quietSince, nextOn int64
}

// at evaluates the layer at t. With bounds false, an inactive layer's
// quietSince and nextOn may be left out (they cost a window search).
func (c *layerCalc) at(t int64, bounds bool) layerState {
	if t < c.b0 {
		st := layerState{quietSince: never, nextOn: forever}
		if bounds {
			st.nextOn = c.b0
			if len(c.l.Windows) > 0 {
				if ws := c.windowAt(c.b0); !ws.in {
					st.nextOn = ws.nextStart
				}
			}
		}
		return st
	}
	ws := winState{start: never, end: forever}
	if len(c.l.Windows) > 0 {
		ws = c.windowAt(t)
		if !ws.in {
			st := layerState{quietSince: never, nextOn: ws.nextStart}
			if ws.prevEnd > c.b0 {
				st.quietSince = ws.prevEnd
			}
			return st
		}
	}
	k, s, e, ok := c.shiftAt(t)
	if !ok {
		return layerState{quietSince: never, nextOn: forever}
	}
	ps := c.l.Participants
	return layerState{
		active: true,
		person: ps[k%int64(len(ps))],
		since:  max(s, ws.start),
		until:  min(e, ws.end),
	}
}
