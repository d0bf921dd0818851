package routing

import (
	"fmt"
	"slices"
	"time"

	"pagebridge/gateway/paging"
)

// Bounds every policy keeps.
const (
	MaxSteps   = 100
	MaxRepeat  = 20
	MaxTargets = 100 // per step
	// MaxSpan bounds the time from the page's arrival to the fallback:
	// every delay of every round, plus FallbackAfter.
	MaxSpan = 7 * 24 * time.Hour
	// DefaultFallbackAfter is FallbackAfter when a policy leaves it zero.
	DefaultFallbackAfter = 5 * time.Minute
)

// Policy is an escalation policy: steps run in order, the whole list
// Repeat more times, until someone acknowledges. Then the page goes to
// the fallback.
type Policy struct {
	ID    string `json:"id"`
	Name  string `json:"name,omitempty"`
	Steps []Step `json:"steps"`
	// Repeat is how many more times the whole list runs after the first
	// pass (0: once). A repeated round's first step waits its Delay after
	// the previous round's last step.
	Repeat int `json:"repeat,omitempty"`
	// FallbackAfter is how long after the last step of the last round
	// the page waits for an acknowledgement before it goes to the
	// fallback (the operators' console and its role). 0:
	// DefaultFallbackAfter.
	FallbackAfter time.Duration `json:"fallback_after,omitempty"`
	// Expire, if set, ends a page that nobody acknowledged this long after
	// it arrived: it stops escalating and leaves the operators' list, its
	// pending attempts expired. Critical pages never expire.
	Expire time.Duration `json:"expire,omitempty"`
	// Team: everyone reached keeps the page (a code team). The first
	// acknowledgement stops the escalation, as always, but not the other
	// people's deliveries, and each of them may acknowledge too; without
	// it, the first acknowledgement cancels everyone else's.
	Team bool `json:"team,omitempty"`
}

// Step is one step of a policy.
type Step struct {
	// Delay is the wait after the previous step fired; for the first step
	// of the first round, after the page arrived (usually 0).
	Delay time.Duration `json:"delay"`
	// Targets to page; empty: the page's own target.
	Targets []paging.Target `json:"targets,omitempty"`
	// Channels to use; empty: each person's stage defaults (see
	// [Channels]).
	Channels []paging.Channel `json:"channels,omitempty"`
}

// Validate checks a policy. Every error wraps paging.ErrInvalid.
func (p *Policy) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w policy %q: %s", paging.ErrInvalid, p.ID, fmt.Sprintf(format, a...))
	}
	switch {
	case p.ID == "":
		return bad("no id")
	case len(p.Steps) == 0:
		return bad("no steps")
	case len(p.Steps) > MaxSteps:
		return bad("%d steps, at most %d", len(p.Steps), MaxSteps)
	case p.Repeat < 0 || p.Repeat > MaxRepeat:
		return bad("repeat %d, want 0 to %d", p.Repeat, MaxRepeat)
	case p.FallbackAfter < 0 || p.FallbackAfter > MaxSpan:
		return bad("fallback after %v, want 0 to %v", p.FallbackAfter, MaxSpan)
	case p.Expire < 0 || p.Expire > MaxSpan:
		return bad("expire %v, want 0 (never) to %v", p.Expire, MaxSpan)
	}
	var round time.Duration
	for i, s := range p.Steps {
		if s.Delay < 0 || s.Delay > MaxSpan {
			return bad("step %d: delay %v, want 0 to %v", i+1, s.Delay, MaxSpan)
		}
		round += s.Delay // ≤ MaxSteps × MaxSpan: no overflow
		if len(s.Targets) > MaxTargets {
			return bad("step %d: %d targets, at most %d", i+1, len(s.Targets), MaxTargets)
		}
		for _, t := range s.Targets {
			switch t.Kind {
			case paging.TargetPerson, paging.TargetRole, paging.TargetGroup:
			default:
				return bad("step %d: target kind %q", i+1, t.Kind)
			}
			if t.ID == "" {
				return bad("step %d: %s target without id", i+1, t.Kind)
			}
		}
		for j, c := range s.Channels {
			if !c.Valid() {
				return bad("step %d: unknown channel %q", i+1, c)
			}
			if seen(s.Channels[:j], c) {
				return bad("step %d: channel %s twice", i+1, c)
			}
		}
	}
	if p.Repeat > 0 && round == 0 {
		return bad("repeat %d with no delay in the round: every round would fire at once", p.Repeat)
	}
	if span := time.Duration(p.Repeat+1)*round + p.fallbackAfter(); span > MaxSpan {
		return bad("spans %v, at most %v", span, MaxSpan)
	}
	return nil
}

// Len is the number of flat steps: len(Steps) × (Repeat+1). Flat step k
// is step k mod len(Steps) of round k / len(Steps).
func (p *Policy) Len() int {
	if len(p.Steps) == 0 || p.Repeat < 0 {
		return 0
	}
	return len(p.Steps) * (p.Repeat + 1)
}

// Step returns flat step k and its round (0 for the first pass). Out of
// range, it returns a zero Step and round -1. The slices are copies.
func (p *Policy) Step(k int) (Step, int) {
	n := len(p.Steps)
	if n == 0 || k < 0 || k/n > p.Repeat {
		return Step{}, -1
	}
	s := p.Steps[k%n]
	s.Targets, s.Channels = slices.Clone(s.Targets), slices.Clone(s.Channels)
	return s, k / n
}

// At returns when flat step k is due for a page that arrived at start:
// start plus every delay up to and including step k's. Times are
// cumulative from start, so a restart computes the same ones.
func (p *Policy) At(start time.Time, k int) time.Time {
	n := len(p.Steps)
	if n == 0 || k < 0 {
		return start
	}
	var round, upto time.Duration
	for i, s := range p.Steps {
		round += s.Delay
		if i <= k%n {
			upto += s.Delay
		}
	}
	return start.Add(time.Duration(k/n)*round + upto)
}

// FallbackAt is when a page that arrived at start and that nobody
// acknowledged goes to the fallback: FallbackAfter after the last step of
// the last round.
func (p *Policy) FallbackAt(start time.Time) time.Time {
	if p.Len() == 0 {
		return start
	}
	return p.At(start, p.Len()-1).Add(p.fallbackAfter())
}

func (p *Policy) fallbackAfter() time.Duration {
	if p.FallbackAfter == 0 {
		return DefaultFallbackAfter
	}
	return p.FallbackAfter
}

// Due says which flat steps are due at now for a page that arrived at
// start, given that steps 0..done have run (done = -1: none yet).
//
// due lists, in order, every step after done whose time (see [Policy.At])
// is ≤ now: after an outage that is several, and the engine should run
// them all at once (each pages more people or more channels), merging
// their recipients and routes so nobody gets the same channel twice. A
// step is never due before the one ahead of it.
//
// next is when the first step not returned is due, after now. exhausted
// reports that no step remains once due has run; next is then zero and
// the engine schedules the fallback at [Policy.FallbackAt].
//
// A policy that does not validate has nothing due and is exhausted, so
// the engine goes to the fallback rather than stall.
func (p *Policy) Due(start time.Time, done int, now time.Time) (due []int, next time.Time, exhausted bool) {
	if p.Validate() != nil {
		return nil, time.Time{}, true
	}
	total := p.Len()
	if done >= total-1 {
		return nil, time.Time{}, true
	}
	k := max(done, -1) + 1
	at := p.At(start, k)
	for !at.After(now) {
		due = append(due, k)
		k++
		if k == total {
			return due, time.Time{}, true
		}
		at = at.Add(p.Steps[k%len(p.Steps)].Delay)
	}
	return due, at, false
}
