package routing

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"pagebridge/gateway/paging"
)

const minute = time.Minute

// timeline is "app → repeat after 2 min → pager → SMS → next person →
// group", run twice. Flat step times from arrival, in minutes:
//
//	round 0: 0 2 4 7 12 17
//	round 1: 17 19 21 24 29 34; fallback at 39
func timeline() *Policy {
	return &Policy{ID: "cardiac", Name: "Cardiac arrest", Repeat: 1, Steps: []Step{
		{Delay: 0, Channels: []paging.Channel{paging.ChannelApp}},
		{Delay: 2 * minute, Channels: []paging.Channel{paging.ChannelApp}},
		{Delay: 2 * minute, Channels: []paging.Channel{paging.ChannelPager}},
		{Delay: 3 * minute, Channels: []paging.Channel{paging.ChannelSMS}},
		{Delay: 5 * minute, Targets: []paging.Target{person("dr-kim")}},
		{Delay: 5 * minute, Targets: []paging.Target{group("rapid")}, Channels: []paging.Channel{paging.ChannelApp, paging.ChannelPager}},
	}}
}

func TestPolicyTimeline(t *testing.T) {
	p := timeline()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	at := func(m float64) time.Time { return t0.Add(time.Duration(m * float64(minute))) }
	cases := []struct {
		name      string
		done      int
		now       time.Time
		due       []int
		next      time.Time
		exhausted bool
	}{
		{"page arrives", -1, t0, []int{0}, at(2), false},
		{"clock behind the arrival", -1, at(-1), nil, t0, false},
		{"just before the repeat", 0, at(2).Add(-time.Nanosecond), nil, at(2), false},
		{"repeat due", 0, at(2), []int{1}, at(4), false},
		{"pager due", 1, at(4), []int{2}, at(7), false},
		{"timer fired late", 2, at(7.5), []int{3}, at(12), false},
		{"outage: overdue steps caught up in order", 0, at(13), []int{1, 2, 3, 4}, at(17), false},
		{"round boundary: last step and next round's first at once", 4, at(17), []int{5, 6}, at(19), false},
		{"second round", 6, at(20), []int{7}, at(21), false},
		{"last step: exhausted", 10, at(34), []int{11}, time.Time{}, true},
		{"all run", 11, at(34), nil, time.Time{}, true},
		{"all run, long after", 11, at(600), nil, time.Time{}, true},
		{"down the whole time", -1, at(120), []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, time.Time{}, true},
		{"done beyond the end", 40, at(1), nil, time.Time{}, true},
		{"done below -1 counts as -1", -7, t0, []int{0}, at(2), false},
		{"done huge", math.MaxInt, t0, nil, time.Time{}, true},
	}
	for _, c := range cases {
		due, next, ex := p.Due(t0, c.done, c.now)
		if !reflect.DeepEqual(due, c.due) || !next.Equal(c.next) || ex != c.exhausted {
			t.Errorf("%s: Due = %v, %v, %v; want %v, %v, %v", c.name, due, next.Sub(t0), ex, c.due, c.next.Sub(t0), c.exhausted)
		}
	}
	if got := p.FallbackAt(t0); !got.Equal(at(39)) {
		t.Errorf("FallbackAt = %v after arrival, want 39m", got.Sub(t0))
	}
	p.FallbackAfter = 10 * minute
	if got := p.FallbackAt(t0); !got.Equal(at(44)) {
		t.Errorf("FallbackAt = %v after arrival, want 44m", got.Sub(t0))
	}
}

// A restart computes the same schedule: walking the policy one timer at a
// time, from any point, gives the times At gives.
func TestPolicyDueRestart(t *testing.T) {
	p := timeline()
	done, now := -1, t0
	var fired []time.Duration
	for {
		due, next, ex := p.Due(t0, done, now)
		for _, k := range due {
			fired = append(fired, p.At(t0, k).Sub(t0))
			done = k
		}
		if ex {
			break
		}
		// A new process: only done and next survive.
		now = next
	}
	want := []time.Duration{0, 2, 4, 7, 12, 17, 17, 19, 21, 24, 29, 34}
	for i := range want {
		want[i] *= minute
	}
	if !reflect.DeepEqual(fired, want) {
		t.Errorf("fired at %v, want %v", fired, want)
	}
}

func TestPolicyStep(t *testing.T) {
	p := timeline()
	cases := []struct {
		k, round int
		delay    time.Duration
		targets  int
	}{{0, 0, 0, 0}, {4, 0, 5 * minute, 1}, {6, 1, 0, 0}, {11, 1, 5 * minute, 1}, {12, -1, 0, 0}, {-1, -1, 0, 0}}
	for _, c := range cases {
		s, r := p.Step(c.k)
		if r != c.round || s.Delay != c.delay || len(s.Targets) != c.targets {
			t.Errorf("Step(%d) = %+v, %d", c.k, s, r)
		}
	}
	s, _ := p.Step(5)
	s.Targets[0].ID = "changed"
	if p.Steps[5].Targets[0].ID != "rapid" {
		t.Error("Step must return copies")
	}
	if p.Len() != 12 {
		t.Errorf("Len %d", p.Len())
	}
	if _, r := (&Policy{}).Step(0); r != -1 {
		t.Error("empty policy")
	}
}

func TestPolicyValidate(t *testing.T) {
	step := func(d time.Duration) Step { return Step{Delay: d} }
	many := func(n int, d time.Duration) []Step {
		s := make([]Step, n)
		for i := range s {
			s[i] = step(d)
		}
		return s
	}
	cases := []struct {
		name string
		p    Policy
		want string
	}{
		{"no id", Policy{Steps: many(1, 0)}, "no id"},
		{"no steps", Policy{ID: "x"}, "no steps"},
		{"too many steps", Policy{ID: "x", Steps: many(MaxSteps+1, 0)}, "101 steps"},
		{"negative delay", Policy{ID: "x", Steps: []Step{step(0), step(-time.Second)}}, "step 2: delay"},
		{"delay over a week", Policy{ID: "x", Steps: []Step{step(8 * 24 * time.Hour)}}, "step 1: delay"},
		{"negative repeat", Policy{ID: "x", Steps: many(1, minute), Repeat: -1}, "repeat -1"},
		{"repeat too big", Policy{ID: "x", Steps: many(1, minute), Repeat: MaxRepeat + 1}, "repeat 21"},
		{"repeat without time", Policy{ID: "x", Steps: many(3, 0), Repeat: 2}, "every round would fire at once"},
		{"span over a week", Policy{ID: "x", Steps: many(2, 5*24*time.Hour)}, "spans"},
		{"repeats span over a week", Policy{ID: "x", Steps: many(1, 9*time.Hour), Repeat: 20}, "spans"},
		{"fallback pushes span over", Policy{ID: "x", Steps: many(1, 6*24*time.Hour), FallbackAfter: 25 * time.Hour}, "spans"},
		{"negative fallback", Policy{ID: "x", Steps: many(1, 0), FallbackAfter: -1}, "fallback after"},
		{"bad target kind", Policy{ID: "x", Steps: []Step{{Targets: []paging.Target{{Kind: "ward", ID: "4W"}}}}}, `target kind "ward"`},
		{"target without id", Policy{ID: "x", Steps: []Step{{Targets: []paging.Target{{Kind: paging.TargetRole}}}}}, "role target without id"},
		{"too many targets", Policy{ID: "x", Steps: []Step{{Targets: make([]paging.Target, MaxTargets+1)}}}, "101 targets"},
		{"unknown channel", Policy{ID: "x", Steps: []Step{{Channels: []paging.Channel{"fax"}}}}, `unknown channel "fax"`},
		{"channel twice", Policy{ID: "x", Steps: []Step{{Channels: []paging.Channel{paging.ChannelSMS, paging.ChannelSMS}}}}, "channel sms twice"},
	}
	for _, c := range cases {
		err := c.p.Validate()
		if !errors.Is(err, paging.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrInvalid with %q", c.name, err, c.want)
		}
		// An invalid policy is exhausted at once: the engine falls back.
		if due, _, ex := c.p.Due(t0, -1, t0); due != nil || !ex {
			t.Errorf("%s: Due on an invalid policy = %v, %v", c.name, due, ex)
		}
	}
	good := []Policy{
		*timeline(),
		{ID: "one", Steps: many(1, 0)},
		{ID: "max", Steps: many(MaxSteps, 0)},
		{ID: "week", Steps: many(1, 7*24*time.Hour-DefaultFallbackAfter)},
		{ID: "repeats", Steps: many(1, 7*time.Hour), Repeat: MaxRepeat},
	}
	for _, p := range good {
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", p.ID, err)
		}
	}
}

// FuzzPolicyDue: Due never panics; the steps it returns are increasing,
// after done, within the policy and due by At; next is after now and is
// the time of the step after the last due, unless exhausted.
func FuzzPolicyDue(f *testing.F) {
	f.Add([]byte{0, 2, 2, 3, 5, 5}, uint8(1), -1, int64(0), int64(13*60))
	f.Add([]byte{0}, uint8(0), -1, int64(0), int64(0))
	f.Add([]byte{1, 1}, uint8(20), 5, int64(1e9), int64(-60))
	f.Add([]byte{0, 0, 0}, uint8(3), 2, int64(0), int64(1<<40))
	f.Add([]byte{255, 1}, uint8(1), 0, int64(-1e12), int64(7*24*3600))
	f.Fuzz(func(t *testing.T, delays []byte, repeat uint8, done int, startSec, nowSec int64) {
		// Delays in whole minutes, 255 standing for -1; repeat 0 to 23:
		// most policies are valid, some are not (negative, too long, too
		// many rounds).
		p := &Policy{ID: "fuzz", Repeat: int(repeat % 24)}
		for _, b := range delays {
			d := time.Duration(b) * minute
			if b == 255 {
				d = -minute
			}
			p.Steps = append(p.Steps, Step{Delay: d})
		}
		start := time.Unix(startSec, 0)
		now := start.Add(time.Duration(nowSec) * time.Second)
		due, next, ex := p.Due(start, done, now)
		valid := p.Validate() == nil
		if !valid && (due != nil || !ex) {
			t.Fatalf("invalid policy: %v, %v", due, ex)
		}
		prev := done
		for i, k := range due {
			if k <= prev || k >= p.Len() {
				t.Fatalf("due %v after done %d (len %d)", due, done, p.Len())
			}
			if first := max(done, -1) + 1; k != first+i {
				t.Fatalf("due %v after done %d skips a step", due, done)
			}
			if p.At(start, k).After(now) {
				t.Fatalf("step %d due at %v, after now %v", k, p.At(start, k), now)
			}
			if _, r := p.Step(k); r < 0 {
				t.Fatalf("Step(%d) out of range", k)
			}
			prev = k
		}
		if ex {
			if !next.IsZero() {
				t.Fatalf("exhausted with next %v", next)
			}
			if valid && done < p.Len()-1 && (len(due) == 0 || due[len(due)-1] != p.Len()-1) {
				t.Fatalf("exhausted at %v with done %d, len %d", due, done, p.Len())
			}
			return
		}
		if !next.After(now) {
			t.Fatalf("next %v not after now %v", next, now)
		}
		k := max(done, -1) + 1
		if len(due) > 0 {
			k = due[len(due)-1] + 1
		}
		if !next.Equal(p.At(start, k)) {
			t.Fatalf("next %v, step %d is at %v", next, k, p.At(start, k))
		}
	})
}
