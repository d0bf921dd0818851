package ui

import (
	"context"
	"time"

	"pagebridge/gateway/paging"
)

// The dispatcher console, the hardware page and the profile reach the
// domain through three more ports, which the gateway implements.

// Answers a recipient gives to a page from its thread.
const (
	AnswerResponding = "responding"
	AnswerCannot     = "cannot"
)

// PageRequest is a page the dispatcher sends. To is "pager:<id>",
// "person:<id>", "role:<id>" or "group:<id>".
type PageRequest struct {
	To       string
	Priority paging.Priority
	Text     paging.PHI
}

// PagerOption is a pager ID as the console offers it.
type PagerOption struct {
	ID, Label, Target string
}

// DispatchTargets is what the console's forms offer.
type DispatchTargets struct {
	Pagers                []PagerOption
	People, Roles, Groups []Named
}

// PageSummary is a page as the console lists it. Nothing in it is PHI.
type PageSummary struct {
	ID       paging.ID       `json:"id"`
	PagerID  string          `json:"pager_id"`
	Label    string          `json:"label"`
	Target   string          `json:"target"`
	Priority paging.Priority `json:"priority"`
	Source   string          `json:"source"`
	State    string          `json:"state"`
	Start    time.Time       `json:"start"`
	Next     time.Time       `json:"next,omitzero"`
	// Reached, Acked and Responding count recipients.
	Reached    int    `json:"reached"`
	Responding int    `json:"responding"`
	AckedBy    string `json:"acked_by,omitempty"`
}

// Responder is one recipient of a page: how far it reached them and what
// they answered. Nothing in it is PHI.
type Responder struct {
	Person string `json:"person"`
	Name   string `json:"name"`
	Reason string `json:"reason,omitempty"`
	// Delivery is the delivery's state; Channels each attempt's channel
	// and state ("app delivered", "pager sent").
	Delivery paging.State `json:"delivery"`
	Channels []string     `json:"channels"`
	Acked    bool         `json:"acked"`
	// Answer is AnswerResponding, AnswerCannot or "".
	Answer   string    `json:"answer,omitempty"`
	AnswerAt time.Time `json:"answer_at,omitzero"`
}

// Roster is a page's recipients, live on the console.
type Roster struct {
	Page       PageSummary `json:"page"`
	Responders []Responder `json:"responders"`
}

// OnCallPerson is someone on call for a role at an instant.
type OnCallPerson struct {
	Person   string    `json:"person"`
	Name     string    `json:"name"`
	Reason   string    `json:"reason"`
	Since    time.Time `json:"since"`
	Until    time.Time `json:"until"`
	Presence string    `json:"presence"`
	Forward  string    `json:"forward_to,omitempty"`
}

// OnCallView is who is on call for a role now, and who takes over next.
type OnCallView struct {
	Role string         `json:"role"`
	Name string         `json:"name"`
	At   time.Time      `json:"at"`
	Now  []OnCallPerson `json:"now"`
	Next []OnCallPerson `json:"next"`
}

// Field is one label and value of a device's status; Group names the
// part of the status it belongs to ("Air time"), "" for none.
type Field struct {
	Group, Label, Value string
}

// HardwareDevice is a device of an agent as the hardware page shows it.
type HardwareDevice struct {
	Device
	// Signal is a modem's +CSQ rssi (0–31), -1 when unknown or not a
	// modem; Bars is it on a scale of 0–4.
	Signal                      int
	Bars                        int
	Registration, Operator, SIM string
	// Extra are the fields of the agent's device status this page has
	// no place for, as label and value.
	Extra []Field
}

// HardwareAgent is an agent with its devices.
type HardwareAgent struct {
	ID, State, Version string
	Updated            time.Time
	InFlight, Pending  int
	Devices            []HardwareDevice
}

// Dispatch is the dispatcher console's side of the domain. Errors:
// paging.ErrInvalid (its text is shown and holds no PHI),
// paging.ErrNotFound, ErrForbidden.
type Dispatch interface {
	Targets(ctx context.Context) (DispatchTargets, error)
	// Page accepts a page like any way in (stored, audited, routed by
	// the engine) and returns its ID.
	Page(ctx context.Context, as Caller, req PageRequest) (paging.ID, error)
	// Pages lists the pages still escalating (active) or at the
	// fallback, newest first, and the recent others up to limit.
	Pages(ctx context.Context, limit int) ([]PageSummary, error)
	Roster(ctx context.Context, page paging.ID) (Roster, error)
	OnCall(ctx context.Context, role string) (OnCallView, error)
	// Respond records a member's answer to a page thread's page;
	// "responding" also acknowledges the page if nobody has.
	Respond(ctx context.Context, as Caller, thread paging.ID, answer string) error
	// Answer returns the caller's answer to a page thread's page ("" if
	// none, or not a page thread).
	Answer(ctx context.Context, as Caller, thread paging.ID) (string, error)
	Hardware(ctx context.Context) ([]HardwareAgent, error)
}

// Presence states, as routing knows them.
var PresenceStates = []string{"available", "busy", "dnd", "off-duty"}

// ProfileView is a person's profile as the profile page shows it.
type ProfileView struct {
	Person, Name string
	// Presence is the stored state; Forward, Until and Note its forward.
	Presence  string
	Forward   string
	Until     time.Time
	Note      string
	Mute      bool
	NoVibrate bool
	HasPhoto  bool
	// People are whom one may forward to.
	People []Named
}

// ProfileUpdate is a change of presence and forwarding.
type ProfileUpdate struct {
	Presence, Forward, Note string
	Until                   time.Time
}

// Profiles is the profile's side of the domain. Errors as Dispatch's.
type Profiles interface {
	Profile(ctx context.Context, as Caller) (ProfileView, error)
	SetPresence(ctx context.Context, as Caller, u ProfileUpdate) error
	SetPreferences(ctx context.Context, as Caller, mute, noVibrate bool) error
	// SetPhoto stores a checked image (nil removes it); Photo reads one.
	SetPhoto(ctx context.Context, as Caller, contentType string, b []byte) error
	Photo(ctx context.Context, person string) (string, []byte, error)
	// SetPassword stores a new argon2id hash for username (clearing a
	// must-change flag).
	SetPassword(ctx context.Context, as Caller, username, hash string) error
	// MustChangePassword reports whether username must change their
	// password before anything else.
	MustChangePassword(ctx context.Context, username string) (bool, error)
}
