package routing

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"pagebridge/gateway/paging"
)

// MaxForwards is the longest chain of forwards Resolve follows: a person
// forwarding to a colleague who forwards on counts two.
const MaxForwards = 5

// Directory is what Resolve reads. The engine implements it over the
// store and the on-call schedules.
//
// Person, Group and Presence report whether the record exists; they have
// no way to report a failed read, so an implementation must not answer
// "not found" for a store error (load what Resolve may need first, or fail
// the whole resolution outside Resolve).
type Directory interface {
	Person(id string) (paging.Person, bool)
	Group(id string) (paging.Group, bool)
	// OnCall returns who is on call for role at t, each with a short
	// non-PHI reason (`on call by schedule "Cardiology" (layer nights)`),
	// in a stable order (the order Resolve keeps). Nobody on call is an
	// empty result, not an error; an unknown role is an error wrapping
	// paging.ErrNotFound.
	OnCall(role string, t time.Time) ([]Assignment, error)
	// Presence returns the person's presence record; false means none,
	// which counts as available with no forward.
	Presence(person string, t time.Time) (Presence, bool)
}

// Assignment is one person on call for a role, and why.
type Assignment struct {
	Person string `json:"person"`
	Reason string `json:"reason,omitempty"`
}

// Recipient is one person a page resolved to.
type Recipient struct {
	Person string `json:"person"`
	// Reason is the whole chain from the target to this person, non-PHI:
	// `role cardiology → on call by schedule "Cardiology" (layer nights) →
	// forwarded from dr-lee (off duty)`. It goes on the delivery.
	Reason string `json:"reason"`
	// ForwardedFrom is the person the page was for when a forward brought
	// it here; senders see it ("forwarded from dr-lee: off duty").
	ForwardedFrom string `json:"forwarded_from,omitempty"`
	// Held means the page must not be delivered to Person; HeldReason
	// says why (do not disturb and the page is not critical, off duty
	// with no forward, a forward loop, an unknown person). The engine
	// records it and does not count it as reached.
	Held       bool   `json:"held,omitempty"`
	HeldReason string `json:"held_reason,omitempty"`
}

// Resolve returns the people target reaches at now for a page of
// priority prio, after presence and forwarding, without duplicates, in a
// deterministic order.
//
// A role with nobody on call and a group without members resolve to an
// empty result and no error: the caller escalates or falls back. Held
// recipients are part of the result; see [Deliverable].
//
// Errors: a target that is malformed or of unknown kind, or prio that is
// not a tier, wraps paging.ErrInvalid; an unknown person or group target
// wraps paging.ErrNotFound; an OnCall error is returned wrapped. On error
// the result is nil.
func Resolve(dir Directory, target paging.Target, prio paging.Priority, now time.Time) ([]Recipient, error) {
	if !prio.Valid() {
		return nil, fmt.Errorf("resolve %s: %w %v", target, paging.ErrInvalid, prio)
	}
	r := resolver{dir: dir, critical: prio == paging.PriorityCritical, now: now, index: map[string]int{}}
	if err := r.target(target); err != nil {
		return nil, err
	}
	return r.out, nil
}

// ResolveAll resolves several targets (an escalation step's) into one
// deduplicated list, in target order. Unlike Resolve it does not stop at
// a target that fails: it returns everyone the other targets reached
// together with the errors joined, and the caller should page those
// recipients and report the error.
func ResolveAll(dir Directory, targets []paging.Target, prio paging.Priority, now time.Time) ([]Recipient, error) {
	if !prio.Valid() {
		return nil, fmt.Errorf("resolve: %w %v", paging.ErrInvalid, prio)
	}
	r := resolver{dir: dir, critical: prio == paging.PriorityCritical, now: now, index: map[string]int{}}
	var errs []error
	for _, t := range targets {
		if err := r.target(t); err != nil {
			errs = append(errs, err)
		}
	}
	return r.out, errors.Join(errs...)
}

// Deliverable returns the recipients that are not held, in order. An
// empty result for a non-empty target means nobody can be paged now: the
// engine should move on (next step, fallback) rather than wait.
func Deliverable(rs []Recipient) []Recipient {
	var out []Recipient
	for _, r := range rs {
		if !r.Held {
			out = append(out, r)
		}
	}
	return out
}

type resolver struct {
	dir      Directory
	critical bool
	now      time.Time
	out      []Recipient
	index    map[string]int // person → position in out
}

func (r *resolver) target(t paging.Target) error {
	if t.ID == "" {
		return fmt.Errorf("resolve %s: %w target without id", t, paging.ErrInvalid)
	}
	switch t.Kind {
	case paging.TargetPerson:
		if _, ok := r.dir.Person(t.ID); !ok {
			return fmt.Errorf("resolve %s: person %w", t, paging.ErrNotFound)
		}
		r.person(t.ID, "person "+t.ID)
	case paging.TargetRole:
		as, err := r.dir.OnCall(t.ID, r.now)
		if err != nil {
			return fmt.Errorf("resolve %s: on call: %w", t, err)
		}
		for _, a := range as {
			why := a.Reason
			if why == "" {
				why = "on call"
			}
			r.member(a.Person, "role "+t.ID+" → "+why)
		}
	case paging.TargetGroup:
		g, ok := r.dir.Group(t.ID)
		if !ok {
			return fmt.Errorf("resolve %s: group %w", t, paging.ErrNotFound)
		}
		for _, m := range g.Members {
			r.member(m, "group "+t.ID+" → member")
		}
	default:
		return fmt.Errorf("resolve %s: %w target kind %q", t, paging.ErrInvalid, t.Kind)
	}
	return nil
}

// member resolves a person named by a role or group, who may not exist:
// an unknown person is held, not an error, so the others are still paged.
func (r *resolver) member(id, base string) {
	if _, ok := r.dir.Person(id); id == "" || !ok {
		r.add(Recipient{Person: id, Reason: base, Held: true, HeldReason: "unknown person " + quote(id)})
		return
	}
	r.person(id, base)
}

// add appends rc unless its person is there already. The first reason
// wins, except that a deliverable entry replaces a held one in place. It
// returns rc's position in out if rc was stored, or -1.
func (r *resolver) add(rc Recipient) int {
	if i, ok := r.index[rc.Person]; ok {
		if r.out[i].Held && !rc.Held {
			r.out[i] = rc
			return i
		}
		return -1
	}
	r.index[rc.Person] = len(r.out)
	r.out = append(r.out, rc)
	return len(r.out) - 1
}

type node struct {
	id   string
	pres Presence // effective at now
}

// person follows start's forwards and adds whoever receives. See the
// package doc for the rules.
func (r *resolver) person(start, base string) {
	chain := []node{{id: start, pres: r.presence(start)}}
	var broken string // why the chain of forwards failed, if it did
	for {
		cur := chain[len(chain)-1]
		next := cur.pres.ForwardTo
		if next == "" {
			break
		}
		if i := indexOf(chain, next); i >= 0 {
			ids := make([]string, 0, len(chain)+1)
			for _, n := range chain[i:] {
				ids = append(ids, n.id)
			}
			broken = "forward loop " + strings.Join(append(ids, next), " → ")
			break
		}
		if len(chain) > MaxForwards {
			broken = fmt.Sprintf("more than %d forwards", MaxForwards)
			break
		}
		if _, ok := r.dir.Person(next); !ok {
			broken = cur.id + " forwards to unknown person " + quote(next)
			break
		}
		chain = append(chain, node{id: next, pres: r.presence(next)})
	}
	last := chain[len(chain)-1]
	deadEnd := broken
	if deadEnd == "" && !last.pres.Receives(r.critical) {
		deadEnd = last.id + " " + stateOnly(last.pres)
		if last.pres.State == PresenceDND {
			deadEnd += ", page not critical"
		}
		deadEnd += ", no forward"
		if last.pres.Note != "" {
			deadEnd += " (" + last.pres.Note + ")"
		}
	}

	if r.critical {
		// Everyone on the chain who can take it gets it.
		reached, stored := false, -1
		for i, n := range chain {
			if n.pres.Receives(true) {
				rc := r.recipient(chain, i, base)
				if n.pres.State == PresenceDND {
					rc.Reason += " → do not disturb, critical page breaks through"
				}
				reached = true
				if at := r.add(rc); at >= 0 {
					stored = at
				}
			}
		}
		switch {
		case !reached:
			r.add(Recipient{Person: start, Reason: base, Held: true, HeldReason: deadEnd})
		case deadEnd != "" && stored >= 0:
			r.out[stored].Reason += " (forward chain ended: " + deadEnd + ")"
		}
		return
	}

	if deadEnd == "" {
		r.add(r.recipient(chain, len(chain)-1, base))
		return
	}
	// The forward failed: a forward must never make a page less reachable,
	// so page the first person on the chain who can take it themselves.
	for i, n := range chain {
		if n.pres.Receives(false) {
			rc := r.recipient(chain, i, base)
			rc.Reason += " → forward failed (" + deadEnd + "), paged " + n.id + " directly"
			r.add(rc)
			return
		}
	}
	r.add(Recipient{Person: start, Reason: base, Held: true, HeldReason: deadEnd})
}

// recipient is chain[i] reached through the forwards before it.
func (r *resolver) recipient(chain []node, i int, base string) Recipient {
	var b strings.Builder
	b.WriteString(base)
	for _, n := range chain[:i] {
		b.WriteString(" → forwarded from " + n.id + " (" + n.pres.words() + ")")
	}
	rc := Recipient{Person: chain[i].id, Reason: b.String()}
	if i > 0 {
		rc.ForwardedFrom = chain[0].id
	}
	if !chain[i].pres.State.Valid() {
		rc.Reason += " → " + chain[i].pres.words()
	}
	return rc
}

func (r *resolver) presence(id string) Presence {
	p, ok := r.dir.Presence(id, r.now)
	if !ok {
		return Presence{Person: id, State: PresenceAvailable}
	}
	return p.Effective(r.now)
}

func stateOnly(p Presence) string {
	switch p.State {
	case PresenceOffDuty:
		return "off duty"
	case PresenceDND:
		return "do not disturb"
	}
	return string(p.State)
}

func indexOf(chain []node, id string) int {
	for i, n := range chain {
		if n.id == id {
			return i
		}
	}
	return -1
}
