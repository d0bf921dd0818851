// Package agentapi holds the wire types of the bus between the gateway and
// its agents. Both daemons import it, so a change here is a change of the
// protocol: bump Version when a payload changes incompatibly.
//
// Every payload travels in an [Envelope] that names its version and carries
// an idempotency key, so receivers can deduplicate what MQTT's
// at-least-once delivery repeats.
//
// # Caveats
//
//   - Topics are versioned with the same number; a gateway and an agent of
//     different Version do not hear each other, by design.
package agentapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Version of the wire format and topic tree.
const Version = 1

// TopicRoot is the prefix of every topic.
const TopicRoot = "pagebridge/v1"

// MaxPayload bounds an envelope on the wire; larger ones are refused.
const MaxPayload = 256 << 10

// StatusTopic is where an agent publishes its retained status and LWT.
func StatusTopic(agentID string) string { return TopicRoot + "/agent/" + agentID + "/status" }

// Errors from Decode.
var (
	ErrTooLarge  = errors.New("payload too large")
	ErrVersion   = errors.New("unknown wire version")
	ErrMalformed = errors.New("malformed payload")
)

// Envelope wraps every bus payload.
type Envelope struct {
	V int `json:"v"`
	// Key is the idempotency key (a ULID): the receiver acts once per key.
	Key  string          `json:"key"`
	Sent time.Time       `json:"sent"`
	Kind string          `json:"kind"`
	Body json.RawMessage `json:"body"`
}

// Decode parses and validates an envelope from the wire.
func Decode(b []byte) (Envelope, error) {
	var e Envelope
	if len(b) > MaxPayload {
		return e, fmt.Errorf("%w: %d bytes (max %d)", ErrTooLarge, len(b), MaxPayload)
	}
	// encoding/json would quietly turn invalid UTF-8 into U+FFFD; a peer
	// sending it has a bug worth hearing about.
	if !utf8.Valid(b) {
		return e, fmt.Errorf("%w: payload is not UTF-8", ErrMalformed)
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return e, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	switch {
	case e.V != Version:
		return e, fmt.Errorf("%w %d (this side speaks %d)", ErrVersion, e.V, Version)
	case len(e.Key) != 26:
		return e, fmt.Errorf("%w: idempotency key must be a 26-character ULID", ErrMalformed)
	case e.Kind == "":
		return e, fmt.Errorf("%w: no kind", ErrMalformed)
	}
	return e, nil
}

// AgentStatus is an agent's retained status.
type AgentStatus struct {
	Agent   string `json:"agent"`
	State   string `json:"state"` // "online", or "offline" (the LWT)
	Version string `json:"version"`
	// Session is new each time the agent process starts: the gateway
	// re-sends unacknowledged jobs to a new session at once.
	Session string `json:"session,omitempty"`
	// Pending counts results and received pages in the agent's spool that
	// the gateway has not acknowledged yet.
	Pending int `json:"pending"`
	// Bypassed counts pages the agent passed straight to a paging
	// terminal while the gateway was unreachable, since it started.
	Bypassed uint64         `json:"bypassed,omitempty"`
	Devices  []DeviceStatus `json:"devices,omitempty"`
}

// DeviceStatus is one device's health as the agent sees it.
type DeviceStatus struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// State is DeviceOpen, DeviceInitialising, DeviceReady, DeviceFailing
	// or DeviceAbsent.
	State string    `json:"state"`
	Since time.Time `json:"since"`
	// Error is the last error, without PHI.
	Error string `json:"error,omitempty"`
	// Queue is the number of jobs waiting for the device.
	Queue int `json:"queue"`
	// Done and Failed count jobs since the agent started.
	Done   uint64 `json:"done"`
	Failed uint64 `json:"failed"`
	// A modem's health: signal (+CSQ rssi 0–31, 99 unknown),
	// registration (home, roaming, searching, denied, none), operator and
	// SIM state.
	Signal       int    `json:"signal,omitempty"`
	Registration string `json:"registration,omitempty"`
	Operator     string `json:"operator,omitempty"`
	SIM          string `json:"sim,omitempty"`
	// AirTime is a transmitter's queue and air-time use; nil for other
	// kinds.
	AirTime *AirTime `json:"air_time,omitempty"`
}

// AirTime is a transmitter's air-time scheduler as the agent sees it.
// Durations are in seconds.
type AirTime struct {
	QueuedNormal   int  `json:"queued_normal"`
	QueuedHigh     int  `json:"queued_high"`
	QueuedCritical int  `json:"queued_critical"`
	Transmitting   bool `json:"transmitting"`
	// Used is the keyed time in the duty window ending now (Window; with
	// no duty limit, the last hour); Headroom what routine traffic may
	// still use in it, CriticalHeadroom what critical pages may (0 with
	// no limit).
	Used             float64 `json:"used_s"`
	Window           float64 `json:"window_s"`
	DutyLimit        float64 `json:"duty_limit,omitempty"`
	Headroom         float64 `json:"headroom_s"`
	CriticalHeadroom float64 `json:"critical_headroom_s"`
	// WorstCriticalWait is the computed bound on a critical page's wait
	// from queueing until fully on air; MaxCriticalWait the longest seen.
	WorstCriticalWait float64 `json:"worst_critical_wait_s"`
	MaxCriticalWait   float64 `json:"max_critical_wait_s"`
	Transmissions     uint64  `json:"transmissions"`
	LastError         string  `json:"last_error,omitempty"`
}
