package oncall

import (
	"strconv"
	"strings"
	"time"
)

// Assignment is one person on call at an instant, and why.
type Assignment struct {
	Person string `json:"person"`
	// Reason is a short explanation without PHI, for logs and the UI:
	//	schedule "Cardiology": layer "nights", shift of dr-lee
	//	schedule "Cardiology": override ov-7: dr-kim replaces dr-lee until 2026-03-29 09:00 CEST
	Reason string `json:"reason"`
	// Since and Until bound the stretch around the instant asked about
	// during which Person is on call for this same Reason. The person may
	// be on call before or after it for another reason (the next shift
	// is theirs too, an override follows on); Shifts has the merged
	// intervals and the real hand-offs.
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
}

// Supported instants: OnCall answers nobody outside them and Shifts clips
// its range to them, which keeps all arithmetic far from overflow.
var (
	minInstant = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxInstant = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// OnCall returns who is on call for s at instant t: the person of the top
// layer that has someone then, changed by the overrides in force (see
// Schedule and Override). Nobody on call is an empty result, which the
// caller must treat as such (fall back, escalate), never as an error.
//
// s should have passed Validate. An invalid schedule yields nobody rather
// than a guess from its valid parts. The work is O(layers + overrides) for
// each person on call (at most 1 + MaxConcurrentOverrides), with a bounded
// search of the weekly windows around t. Since and Until are in the
// schedule's zone.
func OnCall(s *Schedule, t time.Time) []Assignment {
	sc, ok := compile(s)
	if !ok || t.Before(minInstant) || !t.Before(maxInstant) {
		return nil
	}
	var buf [8]entry
	set, lsince, luntil := sc.eval(t, true, nil, buf[:0])
	if len(set) == 0 {
		return nil
	}
	out := make([]Assignment, 0, len(set))
	for _, e := range set {
		since, until := sc.bounds(e, t, lsince, luntil)
		out = append(out, Assignment{Person: e.person, Reason: sc.reason(e), Since: since, Until: until})
	}
	return out
}

// sched is a schedule checked and ready to evaluate.
type sched struct {
	s     *Schedule
	loc   *time.Location
	calcs []layerCalc // built on first use, calcs[i].l == nil until then
	// replacers indexes the replace overrides that name whom they replace,
	// by who takes over; built on first use by related.
	replacers map[string][]string
}

// compile runs the checks that keep evaluation from misbehaving; the rest
// of Validate (ids, names, duplicates) does not affect it.
func compile(s *Schedule) (*sched, bool) {
	if s == nil || len(s.Layers) > MaxLayers || len(s.Overrides) > MaxOverrides {
		return nil, false
	}
	loc, err := location(s.TimeZone)
	if err != nil {
		return nil, false
	}
	for i := range s.Layers {
		if !layerOK(&s.Layers[i]) {
			return nil, false
		}
	}
	for i := range s.Overrides {
		if !s.Overrides[i].valid() {
			return nil, false
		}
	}
	return &sched{s: s, loc: loc, calcs: make([]layerCalc, len(s.Layers))}, true
}

func (sc *sched) calc(i int) *layerCalc {
	c := &sc.calcs[i]
	if c.l == nil {
		*c = newLayerCalc(&sc.s.Layers[i], sc.loc)
	}
	return c
}

// entry is one person in the on-call set while it is being worked out.
type entry struct {
	person string
	// src is what put the person there: layer i as -(i+1), or the index
	// of an override.
	src int
}

func layerSrc(i int) int { return -(i + 1) }

// eval works out the on-call set at t: the top layer with someone on call,
// then the overrides in force, in list order. active, if not nil, lists
// the overrides in force at t (Shifts keeps that list as it sweeps).
//
// With bounds, it also returns the stretch [lsince, luntil) around t over
// which the layers' result (who the top layer's person is, or that no
// layer has anyone) stays the same.
func (sc *sched) eval(t time.Time, bounds bool, active []int, set []entry) (_ []entry, lsince, luntil int64) {
	tsec := t.Unix()
	lsince, luntil = never, forever
	for i := len(sc.s.Layers) - 1; i >= 0; i-- {
		st := sc.calc(i).at(tsec, bounds)
		if st.active {
			set = append(set, entry{person: st.person, src: layerSrc(i)})
			lsince, luntil = max(lsince, st.since), min(luntil, st.until)
			break
		}
		// A higher layer with nobody at t bounds the lower layer's turn:
		// it takes over again at nextOn and last let go at quietSince.
		lsince, luntil = max(lsince, st.quietSince), min(luntil, st.nextOn)
	}
	ovs := sc.s.Overrides
	apply := func(i int) {
		o := &ovs[i]
		switch o.Kind {
		case OverrideAdd:
			set = put(set, entry{person: o.Person, src: i})
		case OverrideReplace:
			if o.Replaces == "" {
				set = append(set[:0], entry{person: o.Person, src: i})
			} else if j := find(set, o.Replaces); j >= 0 {
				set = put(remove(set, j), entry{person: o.Person, src: i})
			}
		case OverrideRemove:
			if j := find(set, o.Replaces); j >= 0 {
				set = remove(set, j)
			}
		}
	}
	if active != nil {
		for _, i := range active {
			apply(i)
		}
	} else {
		for i := range ovs {
			if inForce(&ovs[i], t) {
				apply(i)
			}
		}
	}
	return set, lsince, luntil
}

func inForce(o *Override, t time.Time) bool { return !t.Before(o.Start) && t.Before(o.End) }

func find(set []entry, person string) int {
	for i := range set {
		if set[i].person == person {
			return i
		}
	}
	return -1
}

// put sets e's person's entry: an override that names someone already on
// call becomes the reason they are on call.
func put(set []entry, e entry) []entry {
	if j := find(set, e.person); j >= 0 {
		set[j] = e
		return set
	}
	return append(set, e)
}

func remove(set []entry, j int) []entry { return append(set[:j], set[j+1:]...) }

// bounds returns the stretch around t over which e stays what it is. It
// is sound rather than tight: nothing that could change e happens inside.
//
// What can change e's person P's entry: an override that names P (as
// Person or Replaces) or replaces everyone; through "R replaced by P", the
// same for R, and so on (the closure of P under replace overrides); and,
// when the entry comes from the layers or such an R exists, a change of
// the layers' result. Between consecutive starts and ends of those
// overrides and within the layers' stretch, none of them changes, so the
// entry does not either.
func (sc *sched) bounds(e entry, t time.Time, lsince, luntil int64) (since, until time.Time) {
	ovs := sc.s.Overrides
	rel := sc.related(e.person)
	since, until = minInstant, maxInstant
	if e.src < 0 || rel.size() > 1 {
		since, until = time.Unix(lsince, 0), time.Unix(luntil, 0)
		if lsince == never {
			since = minInstant
		}
		if luntil == forever {
			until = maxInstant
		}
	}
	for i := range ovs {
		o := &ovs[i]
		if !(o.Kind == OverrideReplace && o.Replaces == "") && !rel.has(o.Person) && !rel.has(o.Replaces) {
			continue
		}
		for _, b := range [2]time.Time{o.Start, o.End} {
			if b.After(t) {
				if b.Before(until) {
					until = b
				}
			} else if b.After(since) {
				since = b
			}
		}
	}
	return since.In(sc.loc), until.In(sc.loc)
}

// relSet is a set of people: one, or a map when there are more.
type relSet struct {
	one string
	m   map[string]bool
}

func (r relSet) has(p string) bool {
	if r.m != nil {
		return r.m[p]
	}
	return p != "" && p == r.one
}

func (r relSet) size() int {
	if r.m != nil {
		return len(r.m)
	}
	return 1
}

// related is person's closure under replace overrides: the person, the
// people they replace anywhere in the schedule, the people those replace,
// and so on. It is O(overrides) however the overrides chain: a scan when
// no override has the person replace someone (the usual case, no
// allocation), else a breadth-first walk over an index of the replace
// overrides by who takes over.
func (sc *sched) related(person string) relSet {
	replaces := false
	for i := range sc.s.Overrides {
		if o := &sc.s.Overrides[i]; o.Kind == OverrideReplace && o.Replaces != "" && o.Person == person {
			replaces = true
			break
		}
	}
	if !replaces {
		return relSet{one: person}
	}
	if sc.replacers == nil {
		sc.replacers = map[string][]string{}
		for i := range sc.s.Overrides {
			if o := &sc.s.Overrides[i]; o.Kind == OverrideReplace && o.Replaces != "" {
				sc.replacers[o.Person] = append(sc.replacers[o.Person], o.Replaces)
			}
		}
	}
	rel := map[string]bool{person: true}
	queue := []string{person}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, r := range sc.replacers[p] {
			if !rel[r] {
				rel[r] = true
				queue = append(queue, r)
			}
		}
	}
	return relSet{m: rel}
}

// reason renders why e's person is on call.
func (sc *sched) reason(e entry) string {
	var b strings.Builder
	b.WriteString("schedule ")
	b.WriteString(strconv.Quote(sc.s.Name))
	b.WriteString(": ")
	if e.src < 0 {
		i := -e.src - 1
		b.WriteString("layer ")
		if n := sc.s.Layers[i].Name; n != "" {
			b.WriteString(strconv.Quote(n))
		} else {
			b.WriteString(strconv.Itoa(i + 1))
		}
		b.WriteString(", shift of ")
		b.WriteString(e.person)
		return b.String()
	}
	o := &sc.s.Overrides[e.src]
	b.WriteString("override ")
	if o.ID != "" {
		b.WriteString(o.ID)
		b.WriteString(": ")
	}
	b.WriteString(o.Person)
	switch {
	case o.Kind == OverrideAdd:
		b.WriteString(" added")
	case o.Replaces == "":
		b.WriteString(" replaces everyone")
	default:
		b.WriteString(" replaces ")
		b.WriteString(o.Replaces)
	}
	b.WriteString(" until ")
	b.WriteString(o.End.In(sc.loc).Format("2006-01-02 15:04 MST"))
	return b.String()
}
