package paging

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Protocol names the way a page came in.
type Protocol string

const (
	ProtocolWCTP Protocol = "wctp"
	ProtocolSNPP Protocol = "snpp"
	ProtocolTAP  Protocol = "tap"
	ProtocolESPA Protocol = "espa"
	ProtocolAPI  Protocol = "api"
	ProtocolWeb  Protocol = "web"
	// ProtocolSystem: the gateway's own alerts (an agent down, a disk
	// nearly full), routed like any page.
	ProtocolSystem Protocol = "system"
)

// Source says where a page came from, in words staff recognise
// ("4W nurse call, TAP line 2"). None of it is PHI.
type Source struct {
	Protocol Protocol `json:"protocol"`
	// Line is the configured name of the line or listener ("TAP line 2",
	// "wctp").
	Line string `json:"line,omitempty"`
	// Sender is the authenticated sender: a WCTP senderID, an SNPP login,
	// a user name.
	Sender string `json:"sender,omitempty"`
	// Address is the remote network address or serial port.
	Address string `json:"address,omitempty"`
	// Agent is the agent whose line (Line, its device ID) received the
	// page, for what goes back on that line (ESPA call status).
	Agent string `json:"agent,omitempty"`
}

func (s Source) String() string {
	out := string(s.Protocol)
	if s.Line != "" {
		out += " " + s.Line
	}
	if s.Sender != "" {
		out += " from " + s.Sender
	}
	return out
}

// Message is one page as received: the unit of durable accept.
type Message struct {
	ID     ID     `json:"id"`
	Source Source `json:"source"`
	// PagerID is the legacy pager ID (or WCTP recipientID, SNPP pager ID)
	// the sender addressed.
	PagerID  string   `json:"pager_id"`
	Priority Priority `json:"priority"`
	// Text is the page's content: PHI until proven otherwise.
	Text PHI `json:"-"`
	// SenderRef is the sender's own reference for the page (WCTP
	// messageID), kept for status queries. Not PHI.
	SenderRef string    `json:"sender_ref,omitempty"`
	Received  time.Time `json:"received"`
	// DeliverAt, when after Received, holds the page until then (SNPP
	// HOLD): its escalation starts at DeliverAt.
	DeliverAt time.Time `json:"deliver_at,omitzero"`
	// Bypassed lists the pagers an agent sent the page to itself, through
	// their paging terminals, while the gateway was unreachable (Via as
	// the directory gave it). The engine does not send it there again.
	Bypassed []Endpoint `json:"bypassed,omitempty"`
}

// Limits on message fields that every way in enforces.
const (
	MaxPagerIDLen   = 64
	MaxSenderRefLen = 128
	// MaxTextLen is the hard ceiling; each way in may configure less.
	MaxTextLen = 64 << 10
)

// ErrInvalid is wrapped by every validation error of the domain.
var ErrInvalid = errors.New("invalid")

// Validate checks what every way in must guarantee before a message is
// accepted.
func (m *Message) Validate() error {
	switch {
	case m.ID == (ID{}):
		return fmt.Errorf("%w message: no id", ErrInvalid)
	case m.Source.Protocol == "":
		return fmt.Errorf("%w message: no source protocol", ErrInvalid)
	case m.PagerID == "":
		return fmt.Errorf("%w message: no pager id", ErrInvalid)
	case len(m.PagerID) > MaxPagerIDLen:
		return fmt.Errorf("%w message: pager id longer than %d bytes", ErrInvalid, MaxPagerIDLen)
	case len(m.SenderRef) > MaxSenderRefLen:
		return fmt.Errorf("%w message: sender reference longer than %d bytes", ErrInvalid, MaxSenderRefLen)
	case !m.Priority.Valid():
		return fmt.Errorf("%w message: %v", ErrInvalid, m.Priority)
	case m.Text.Len() > MaxTextLen:
		return fmt.Errorf("%w message: text longer than %d bytes", ErrInvalid, MaxTextLen)
	case !utf8.ValidString(m.Text.Reveal()):
		return fmt.Errorf("%w message: text is not valid UTF-8", ErrInvalid)
	case m.Received.IsZero():
		return fmt.Errorf("%w message: no received time", ErrInvalid)
	case len(m.Bypassed) > 64:
		return fmt.Errorf("%w message: more than 64 bypassed pagers", ErrInvalid)
	}
	for _, e := range m.Bypassed {
		if e.Channel != ChannelPager {
			return fmt.Errorf("%w message: a bypass goes to pagers only", ErrInvalid)
		}
		if err := e.Validate(); err != nil {
			return fmt.Errorf("message: bypassed: %w", err)
		}
	}
	return nil
}
