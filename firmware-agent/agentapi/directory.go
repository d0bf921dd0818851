package agentapi

import (
	"fmt"
	"slices"
	"strings"

	"pagebridge/gateway/paging"
)

// KindDirectory: gateway → agents, retained on DirectoryTopic: the pager
// IDs senders may page, and what an agent needs to page them itself while
// the gateway is away (bypass).
const KindDirectory = "directory"

// DirectoryTopic carries the gateway's Directory, retained, for every agent.
func DirectoryTopic() string { return TopicRoot + "/directory" }

// MaxDirectoryPagers bounds a Directory: with short pager IDs it stays
// well inside MaxPayload.
const MaxDirectoryPagers = 20000

// Directory is the gateway's word on which pager IDs exist. An agent
// answers a TAP page to an ID not in it with 511 (unknown ID) rather than
// take a page nobody will get; an agent that has never received a
// Directory takes every ID.
type Directory struct {
	// Version is the gateway's directory version the list was made from;
	// with Made it tells the agent's log which list it holds.
	Version uint64           `json:"version"`
	Made    string           `json:"made"` // RFC 3339
	Pagers  []DirectoryPager `json:"pagers"`
	// PHIOnPager: the hospital's policy lets message text go to pagers;
	// otherwise a bypassed page carries a notice without patient data, as
	// the gateway's would. PagerMaxLen bounds what goes to a pager (0: no
	// limit).
	PHIOnPager  bool `json:"phi_on_pager,omitempty"`
	PagerMaxLen int  `json:"pager_max_len,omitempty"`
}

// DirectoryPager is one legacy pager ID.
type DirectoryPager struct {
	ID string `json:"id"`
	// Priority is the ID's default tier for pages from protocols without
	// a priority field (TAP).
	Priority paging.Priority `json:"priority,omitempty"`
	// Bypass lists the pagers a page to this ID went to when the list was
	// made, for people at the pager or both migration stage: the agent
	// sends there itself while the gateway is unreachable. A role is
	// resolved through its on-call schedule at that moment; the gateway
	// publishes again when that changes.
	Bypass []BypassTarget `json:"bypass,omitempty"`
}

// BypassTarget is one pager reached through a paging terminal, or a
// transmitter the agent drives (POCSAG set).
type BypassTarget struct {
	// Via is "agent/device", or a bare device ID.
	Via string `json:"via"`
	// To is the pager ID or capcode the terminal knows, or the capcode on
	// a transmitter.
	To string `json:"to"`
	// POCSAG is the pager's coding on a transmitter; zero for a paging
	// terminal's pager.
	POCSAG POCSAG `json:"pocsag,omitzero"`
}

// Validate checks a directory as received.
func (d *Directory) Validate() error {
	if d.PagerMaxLen < 0 {
		return fmt.Errorf("%w: directory: negative pager_max_len", ErrMalformed)
	}
	if len(d.Pagers) > MaxDirectoryPagers {
		return fmt.Errorf("%w: directory: more than %d pager IDs", ErrMalformed, MaxDirectoryPagers)
	}
	if !slices.IsSortedFunc(d.Pagers, func(a, b DirectoryPager) int { return strings.Compare(a.ID, b.ID) }) {
		return fmt.Errorf("%w: directory: pager IDs not sorted", ErrMalformed)
	}
	for i, p := range d.Pagers {
		switch {
		case p.ID == "" || len(p.ID) > paging.MaxPagerIDLen:
			return fmt.Errorf("%w: directory: bad pager id", ErrMalformed)
		case i > 0 && d.Pagers[i-1].ID == p.ID:
			return fmt.Errorf("%w: directory: pager id %q twice", ErrMalformed, p.ID)
		case !p.Priority.Valid():
			return fmt.Errorf("%w: directory: pager id %q: bad priority", ErrMalformed, p.ID)
		case len(p.Bypass) > 64:
			return fmt.Errorf("%w: directory: pager id %q: too many bypass targets", ErrMalformed, p.ID)
		}
		for _, t := range p.Bypass {
			if err := t.validate(); err != nil {
				return fmt.Errorf("%w: directory: pager id %q: %v", ErrMalformed, p.ID, err)
			}
		}
	}
	return nil
}

func (t BypassTarget) validate() error {
	a, dev, ok := splitVia(t.Via)
	switch {
	case ok && !ValidID(a), !ValidID(dev):
		return fmt.Errorf("bad bypass terminal %q", t.Via)
	case t.To == "" || len(t.To) > paging.MaxPagerIDLen:
		return fmt.Errorf("bad bypass pager %q", t.To)
	}
	if t.POCSAG != (POCSAG{}) {
		return t.POCSAG.Validate()
	}
	return nil
}

// Device returns the device of Via on agent: ok is false when Via names
// another agent's device.
func (t BypassTarget) Device(agent string) (device string, ok bool) {
	a, dev, qualified := splitVia(t.Via)
	if qualified && a != agent {
		return "", false
	}
	return dev, true
}

func splitVia(via string) (agent, device string, qualified bool) {
	if a, d, ok := strings.Cut(via, "/"); ok {
		return a, d, true
	}
	return "", via, false
}

// Lookup finds a pager ID in a valid (sorted) directory.
func (d *Directory) Lookup(id string) (DirectoryPager, bool) {
	i, ok := slices.BinarySearchFunc(d.Pagers, id, func(p DirectoryPager, id string) int { return strings.Compare(p.ID, id) })
	if !ok {
		return DirectoryPager{}, false
	}
	return d.Pagers[i], true
}
