package paging

import (
	"fmt"
	"regexp"
	"strconv"
)

// Stage is a person's migration stage: how pages for them are delivered
// while the hospital moves from pagers to the app.
type Stage string

const (
	// StagePager: still carries a pager; pages are re-transmitted to it.
	StagePager Stage = "pager"
	// StageBoth: pilot; pages go to the app and the pager.
	StageBoth Stage = "both"
	// StageApp: pager handed back; secure thread in the app, SMS or pager
	// only as escalation fallback.
	StageApp Stage = "app"
)

// Valid reports whether s is a defined stage.
func (s Stage) Valid() bool { return s == StagePager || s == StageBoth || s == StageApp }

// Channel is a way to reach a person.
type Channel string

const (
	ChannelApp   Channel = "app"
	ChannelPager Channel = "pager"
	ChannelSMS   Channel = "sms"
)

// Valid reports whether c is a defined channel.
func (c Channel) Valid() bool { return c == ChannelApp || c == ChannelPager || c == ChannelSMS }

// Endpoint is one address on one channel.
type Endpoint struct {
	Channel Channel `json:"channel"`
	// Address: the user ID for app, the terminal pager ID or capcode for
	// pager, an E.164 number for SMS.
	Address string `json:"address"`
	// Via names the paging terminal or transmitter that carries a pager
	// endpoint; empty for other channels.
	Via string `json:"via,omitempty"`
	// POCSAG, set for a pager on a transmitter the agent drives (Via names
	// the transmitter), says how the pager is coded; Address is then its
	// capcode.
	POCSAG POCSAG `json:"pocsag,omitzero"`
}

// POCSAG is how a pager on one of our transmitters is coded: bit rate,
// function bits (its programming decides: by convention 0 numeric, 3
// alphanumeric), how text is coded, and whether the capcode is a group's.
type POCSAG struct {
	Rate     int        `json:"rate"`     // 512, 1200 or 2400 bit/s
	Function int        `json:"function"` // 0–3
	Kind     POCSAGKind `json:"kind"`
	// Group: the capcode is shared by a group of pagers; identical pages
	// queued for it go on air once.
	Group bool `json:"group,omitempty"`
}

// POCSAGKind is how a POCSAG page codes its text.
type POCSAGKind string

// POCSAG kinds: an alert with no text, digits, or text.
const (
	POCSAGTone    POCSAGKind = "tone"
	POCSAGNumeric POCSAGKind = "numeric"
	POCSAGAlpha   POCSAGKind = "alpha"
)

// MaxCapcode is the largest POCSAG capcode (21 bits).
const MaxCapcode = 1<<21 - 1

// Validate checks the coding's ranges.
func (c POCSAG) Validate() error {
	switch {
	case c.Rate != 512 && c.Rate != 1200 && c.Rate != 2400:
		return fmt.Errorf("%w endpoint: POCSAG rate %d is not 512, 1200 or 2400", ErrInvalid, c.Rate)
	case c.Function < 0 || c.Function > 3:
		return fmt.Errorf("%w endpoint: POCSAG function %d is not 0 to 3", ErrInvalid, c.Function)
	case c.Kind != POCSAGTone && c.Kind != POCSAGNumeric && c.Kind != POCSAGAlpha:
		return fmt.Errorf("%w endpoint: POCSAG kind %q is not tone, numeric or alpha", ErrInvalid, c.Kind)
	}
	return nil
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// Validate checks the endpoint's address for its channel.
func (e Endpoint) Validate() error {
	if e.POCSAG != (POCSAG{}) && e.Channel != ChannelPager {
		return fmt.Errorf("%w endpoint: POCSAG coding on a %s endpoint", ErrInvalid, e.Channel)
	}
	switch e.Channel {
	case ChannelApp:
		if e.Address == "" {
			return fmt.Errorf("%w endpoint: app endpoint without user", ErrInvalid)
		}
	case ChannelPager:
		if e.Address == "" || e.Via == "" {
			return fmt.Errorf("%w endpoint: pager endpoint needs an address and the terminal that carries it", ErrInvalid)
		}
		if e.POCSAG == (POCSAG{}) {
			return nil
		}
		if n, err := strconv.ParseUint(e.Address, 10, 32); err != nil || n > MaxCapcode {
			return fmt.Errorf("%w endpoint: POCSAG capcode %q is not 0 to %d", ErrInvalid, e.Address, MaxCapcode)
		}
		return e.POCSAG.Validate()
	case ChannelSMS:
		if !e164.MatchString(e.Address) {
			return fmt.Errorf("%w endpoint: SMS number %q is not E.164 (+ and 7 to 15 digits)", ErrInvalid, e.Address)
		}
	default:
		return fmt.Errorf("%w endpoint: unknown channel %q", ErrInvalid, e.Channel)
	}
	return nil
}

// Person is a member of staff. Staff details are not PHI.
type Person struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Department string     `json:"department,omitempty"`
	Title      string     `json:"title,omitempty"`
	Stage      Stage      `json:"stage"`
	Roles      []string   `json:"roles,omitempty"`
	Endpoints  []Endpoint `json:"endpoints,omitempty"`
}

// Validate checks a person record.
func (p *Person) Validate() error {
	if p.ID == "" || p.Name == "" {
		return fmt.Errorf("%w person: id and name are required", ErrInvalid)
	}
	if !p.Stage.Valid() {
		return fmt.Errorf("%w person %s: unknown migration stage %q", ErrInvalid, p.ID, p.Stage)
	}
	for _, e := range p.Endpoints {
		if err := e.Validate(); err != nil {
			return fmt.Errorf("person %s: %w", p.ID, err)
		}
	}
	return nil
}

// Role is a function staffed by whoever is on call for it ("cardiology
// on-call").
type Role struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Policy is the escalation policy for pages to the role (empty: the
	// configured default).
	Policy string `json:"policy,omitempty"`
}

// Group is a fixed set of people paged together.
type Group struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Members []string `json:"members"`
}

// TargetKind says what a legacy pager ID points at.
type TargetKind string

const (
	TargetPerson TargetKind = "person"
	TargetRole   TargetKind = "role"
	TargetGroup  TargetKind = "group"
)

// Target is a person, role or group by ID.
type Target struct {
	Kind TargetKind `json:"kind"`
	ID   string     `json:"id"`
}

func (t Target) String() string { return string(t.Kind) + ":" + t.ID }

// PagerID maps a legacy pager ID that senders still use to its target, and
// gives the priority a page to it gets when the protocol carries none.
type PagerID struct {
	ID     string `json:"id"`
	Target Target `json:"target"`
	// Priority is the default tier for pages to this ID from protocols
	// without a priority field (TAP).
	Priority Priority `json:"priority"`
	// Policy is the escalation policy for pages to this ID (empty: the
	// role's, else the configured default).
	Policy string `json:"policy,omitempty"`
	// Label names the ID for staff ("4W charge nurse"); not PHI.
	Label string `json:"label,omitempty"`
}

// Validate checks a pager ID mapping.
func (p *PagerID) Validate() error {
	if p.ID == "" || len(p.ID) > MaxPagerIDLen {
		return fmt.Errorf("%w pager id: must be 1 to %d bytes", ErrInvalid, MaxPagerIDLen)
	}
	switch p.Target.Kind {
	case TargetPerson, TargetRole, TargetGroup:
	default:
		return fmt.Errorf("%w pager id %s: unknown target kind %q", ErrInvalid, p.ID, p.Target.Kind)
	}
	if p.Target.ID == "" {
		return fmt.Errorf("%w pager id %s: no target", ErrInvalid, p.ID)
	}
	if !p.Priority.Valid() {
		return fmt.Errorf("%w pager id %s: %v", ErrInvalid, p.ID, p.Priority)
	}
	return nil
}
