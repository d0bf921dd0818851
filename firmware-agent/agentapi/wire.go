package agentapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"pagebridge/gateway/paging"
)

// Kinds of envelope.
const (
	KindJob     = "job"     // gateway → agent: work for one device
	KindResult  = "result"  // agent → gateway: what became of a job
	KindInbound = "inbound" // agent → gateway: a page received on a line
	KindAck     = "ack"     // either way: the receiver committed these keys
	KindStatus  = "status"  // agent → gateway, retained: agent and device health
)

// Topics, all under TopicRoot and the agent's ID.
func JobTopic(agentID, deviceID string) string {
	return TopicRoot + "/agent/" + agentID + "/device/" + deviceID + "/job"
}
func ResultTopic(agentID string) string  { return TopicRoot + "/agent/" + agentID + "/result" }
func InboundTopic(agentID string) string { return TopicRoot + "/agent/" + agentID + "/inbound" }

// AckToAgentTopic carries the gateway's acks of results and inbound items;
// AckToGatewayTopic the agent's acks of jobs.
func AckToAgentTopic(agentID string) string { return TopicRoot + "/agent/" + agentID + "/ack/to-agent" }
func AckToGatewayTopic(agentID string) string {
	return TopicRoot + "/agent/" + agentID + "/ack/to-gateway"
}

// IDs of agents and devices: what may appear in a topic level.
var idPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$`)

// ValidID reports whether s may name an agent or a device.
func ValidID(s string) bool { return idPattern.MatchString(s) }

// Limits on fields.
const (
	MaxText  = paging.MaxTextLen
	MaxNote  = 256
	MaxKeys  = 1024 // keys acknowledged in one ack
	maxField = 128
)

// Text is message text on the wire. It is PHI: every formatting path and
// slog redact it, but JSON carries it (as the plain string it is), since
// the bus is where it must go (over loopback, or TLS off loopback). It
// must not implement encoding.TextMarshaler, which JSON would prefer.
type Text string

func (t Text) String() string             { return paging.Redacted }
func (t Text) GoString() string           { return paging.Redacted }
func (t Text) Format(f fmt.State, _ rune) { fmt.Fprint(f, paging.Redacted) }
func (t Text) LogValue() slog.Value       { return slog.StringValue(paging.Redacted) }
func (t Text) PHI() paging.PHI            { return paging.NewPHI(string(t)) }
func TextOf(p paging.PHI) Text            { return Text(p.Reveal()) }

// Job is work for one device: a page to re-transmit, an SMS to send.
type Job struct {
	Device   string          `json:"device"`
	Priority paging.Priority `json:"priority"`
	// Action says what to do ("tap.page", "sms.send"); the device kind
	// decides which it accepts.
	Action string `json:"action"`
	// To is the pager ID, capcode or E.164 number.
	To   string `json:"to"`
	Text Text   `json:"text"`
	// Attempt counts sends of this job's key; > 1 is a re-send after a
	// crash or reconnect.
	Attempt int `json:"attempt"`
	// ESPAStatus is the ESPA 4.4.4 call status (record 7) an "espa.status"
	// job sends back to the control station of the line the page came in
	// on (Device), about the call address To: 3 paged, 6 acknowledged,
	// 8 fault (ESPA's 1–8). 0 for every other action.
	ESPAStatus int `json:"espa_status,omitempty"`
	// POCSAG is how a "pocsag.page" job for a transmitter is coded; To is
	// then the capcode (RIC, 0–2097151, in decimal).
	POCSAG *POCSAG `json:"pocsag,omitempty"`
	// Bypass marks a job the agent made itself, passing a page from one of
	// its lines straight to a paging terminal while the gateway was
	// unreachable: it never came from the gateway, so no result goes back
	// for it (the page's Inbound says it was bypassed).
	Bypass bool `json:"bypass,omitempty"`
}

// Outcome of a job on its device.
type Outcome string

const (
	OutcomeSent     Outcome = "sent"      // the device took it (TAP 211, +CMGS)
	OutcomeFailTemp Outcome = "fail-temp" // not done; try again later
	OutcomeFailPerm Outcome = "fail-perm" // not done; will never be (TAP RS, +CMS 304)
	// OutcomeUnknown: the job was in flight on the device when the agent
	// lost it (crash, timeout); it may or may not have gone out.
	OutcomeUnknown Outcome = "unknown"
	// OutcomeDelivered and OutcomeUndelivered are delivery reports that
	// follow a job's "sent" (an SMS status report): the network delivered
	// it to the handset, or gave up.
	OutcomeDelivered   Outcome = "delivered"
	OutcomeUndelivered Outcome = "undelivered"
)

// Report reports whether o is a delivery report rather than the job's
// own outcome.
func (o Outcome) Report() bool { return o == OutcomeDelivered || o == OutcomeUndelivered }

// Result reports what became of a job, by the job's idempotency key.
type Result struct {
	Job     string  `json:"job"`
	Device  string  `json:"device"`
	Outcome Outcome `json:"outcome"`
	// Code is the device's own code ("211", "+CMS ERROR: 500").
	Code string `json:"code,omitempty"`
	// Note is non-PHI detail.
	Note string    `json:"note,omitempty"`
	At   time.Time `json:"at"`
	// Attempt is the job's attempt this result is for (Job.Attempt).
	Attempt int `json:"attempt"`
	// Resent: an earlier run of this job on the device was in flight when
	// the agent lost it (a crash, the line failing mid-job), so its outcome
	// is unknown and the job was run again: the recipient may have it
	// twice.
	Resent bool `json:"resent,omitempty"`
}

// Inbound is a page received on one of the agent's lines.
type Inbound struct {
	Line     string          `json:"line"`
	Protocol paging.Protocol `json:"protocol"`
	PagerID  string          `json:"pager_id"`
	Priority paging.Priority `json:"priority"`
	Text     Text            `json:"text"`
	Received time.Time       `json:"received"`
	// Bypassed: the agent also sent it straight to a paging terminal
	// while the gateway was unreachable, to BypassedTo.
	Bypassed   bool           `json:"bypassed,omitempty"`
	BypassedTo []BypassTarget `json:"bypassed_to,omitempty"`
}

// Ack lists idempotency keys the sender of the ack has durably committed.
type Ack struct {
	Keys []string `json:"keys"`
}

// Device states.
const (
	DeviceOpen         = "open"
	DeviceInitialising = "initialising"
	DeviceReady        = "ready"
	DeviceFailing      = "failing"
	DeviceAbsent       = "absent"
)

var deviceStates = map[string]bool{DeviceOpen: true, DeviceInitialising: true, DeviceReady: true, DeviceFailing: true, DeviceAbsent: true}

// Validate checks a job as received.
func (j *Job) Validate() error {
	switch {
	case !ValidID(j.Device):
		return fmt.Errorf("%w: job: bad device id", ErrMalformed)
	case !j.Priority.Valid():
		return fmt.Errorf("%w: job: bad priority", ErrMalformed)
	case j.Action == "" || len(j.Action) > maxField:
		return fmt.Errorf("%w: job: no action", ErrMalformed)
	case j.To == "" || len(j.To) > paging.MaxPagerIDLen:
		return fmt.Errorf("%w: job: bad recipient", ErrMalformed)
	case len(j.Text) > MaxText || !utf8.ValidString(string(j.Text)):
		return fmt.Errorf("%w: job: text too long or not UTF-8", ErrMalformed)
	case j.Attempt < 1:
		return fmt.Errorf("%w: job: attempt must be at least 1", ErrMalformed)
	case j.ESPAStatus < 0 || j.ESPAStatus > 8:
		return fmt.Errorf("%w: job: ESPA status out of 0–8", ErrMalformed)
	}
	if j.POCSAG != nil {
		if err := j.POCSAG.Validate(); err != nil {
			return fmt.Errorf("%w: job: %v", ErrMalformed, err)
		}
	}
	return nil
}

// POCSAG is a pager's coding on a transmitter the agent drives: bit rate,
// function bits, how the text is coded, and whether the capcode is a
// group's (identical pages to it go on air once).
type POCSAG struct {
	Rate     int    `json:"rate"`     // 512, 1200 or 2400 bit/s
	Function int    `json:"function"` // 0–3
	Kind     string `json:"kind"`     // "tone", "numeric" or "alpha"
	Group    bool   `json:"group,omitempty"`
}

// Shape fits a notice to the pager's kind: no text for a tone pager; the
// digits, spaces and dashes for a numeric one, which becomes a tone page
// when none are left; the text as it is for alpha. It returns the coding
// to send with.
func (p POCSAG) Shape(text string) (POCSAG, string) {
	switch p.Kind {
	case "tone":
		return p, ""
	case "numeric":
		text = strings.TrimSpace(strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' || r == ' ' || r == '-' {
				return r
			}
			return -1
		}, text))
		if text == "" {
			p.Kind = "tone"
		}
	}
	return p, text
}

// Validate checks the fields' ranges.
func (p *POCSAG) Validate() error {
	switch {
	case p.Rate != 512 && p.Rate != 1200 && p.Rate != 2400:
		return fmt.Errorf("pocsag rate %d: 512, 1200 or 2400", p.Rate)
	case p.Function < 0 || p.Function > 3:
		return fmt.Errorf("pocsag function %d: 0 to 3", p.Function)
	case p.Kind != "tone" && p.Kind != "numeric" && p.Kind != "alpha":
		return fmt.Errorf("pocsag kind %q: tone, numeric or alpha", p.Kind)
	}
	return nil
}

// Validate checks a result as received.
func (r *Result) Validate() error {
	switch {
	case checkKey(r.Job) != nil:
		return fmt.Errorf("%w: result: job key must be a ULID", ErrMalformed)
	case !ValidID(r.Device):
		return fmt.Errorf("%w: result: bad device id", ErrMalformed)
	case r.Outcome != OutcomeSent && r.Outcome != OutcomeFailTemp && r.Outcome != OutcomeFailPerm && r.Outcome != OutcomeUnknown && !r.Outcome.Report():
		return fmt.Errorf("%w: result: unknown outcome %q", ErrMalformed, r.Outcome)
	case len(r.Code) > maxField || len(r.Note) > MaxNote:
		return fmt.Errorf("%w: result: code or note too long", ErrMalformed)
	case r.At.IsZero():
		return fmt.Errorf("%w: result: no time", ErrMalformed)
	case r.Attempt < 1:
		return fmt.Errorf("%w: result: attempt must be at least 1", ErrMalformed)
	}
	return nil
}

// Validate checks an inbound page as received.
func (in *Inbound) Validate() error {
	switch {
	case !ValidID(in.Line):
		return fmt.Errorf("%w: inbound: bad line id", ErrMalformed)
	case in.Protocol == "" || len(in.Protocol) > maxField:
		return fmt.Errorf("%w: inbound: no protocol", ErrMalformed)
	case in.PagerID == "" || len(in.PagerID) > paging.MaxPagerIDLen:
		return fmt.Errorf("%w: inbound: bad pager id", ErrMalformed)
	case !in.Priority.Valid():
		return fmt.Errorf("%w: inbound: bad priority", ErrMalformed)
	case len(in.Text) > MaxText || !utf8.ValidString(string(in.Text)):
		return fmt.Errorf("%w: inbound: text too long or not UTF-8", ErrMalformed)
	case in.Received.IsZero():
		return fmt.Errorf("%w: inbound: no received time", ErrMalformed)
	case len(in.BypassedTo) > 64:
		return fmt.Errorf("%w: inbound: too many bypass targets", ErrMalformed)
	}
	for _, t := range in.BypassedTo {
		if err := t.validate(); err != nil {
			return fmt.Errorf("%w: inbound: %v", ErrMalformed, err)
		}
	}
	return nil
}

// Validate checks an ack as received.
func (a *Ack) Validate() error {
	if len(a.Keys) == 0 || len(a.Keys) > MaxKeys {
		return fmt.Errorf("%w: ack: 1 to %d keys", ErrMalformed, MaxKeys)
	}
	for _, k := range a.Keys {
		if checkKey(k) != nil {
			return fmt.Errorf("%w: ack: key must be a ULID", ErrMalformed)
		}
	}
	return nil
}

// checkKey accepts a ULID other than the zero one, which the stores take
// for "no key".
func checkKey(k string) error {
	id, err := paging.ParseID(k)
	if err != nil {
		return err
	}
	if id == (paging.ID{}) {
		return errors.New("the zero ULID is not a key")
	}
	return nil
}

// Validate checks an agent status as received.
func (s *AgentStatus) Validate() error {
	if !ValidID(s.Agent) {
		return fmt.Errorf("%w: status: bad agent id", ErrMalformed)
	}
	if s.State != "online" && s.State != "offline" {
		return fmt.Errorf("%w: status: state must be online or offline", ErrMalformed)
	}
	for _, d := range s.Devices {
		if !ValidID(d.ID) || !deviceStates[d.State] || len(d.Error) > MaxNote {
			return fmt.Errorf("%w: status: bad device %q", ErrMalformed, d.ID)
		}
	}
	return nil
}

// Body is what an envelope may carry.
type Body interface {
	Validate() error
}

// kindOf maps a body to its envelope kind.
func kindOf(b Body) (string, error) {
	switch b.(type) {
	case *Job:
		return KindJob, nil
	case *Result:
		return KindResult, nil
	case *Inbound:
		return KindInbound, nil
	case *Ack:
		return KindAck, nil
	case *AgentStatus:
		return KindStatus, nil
	case *Batch:
		return KindBatch, nil
	case *Directory:
		return KindDirectory, nil
	case *SMS:
		return KindSMS, nil
	}
	return "", fmt.Errorf("agentapi: no envelope kind for %T", b)
}

// Encode wraps a valid body in an envelope with idempotency key key.
func Encode(key paging.ID, sent time.Time, b Body) ([]byte, error) {
	kind, err := kindOf(b)
	if err != nil {
		return nil, err
	}
	if err := b.Validate(); err != nil {
		return nil, err
	}
	// One pass: the body is marshalled in place, not into a RawMessage
	// the envelope would validate and compact again.
	out, err := json.Marshal(envelopeOf{V: Version, Key: key.String(), Sent: sent.UTC(), Kind: kind, Body: b})
	if err != nil {
		return nil, err
	}
	if len(out) > MaxPayload {
		return nil, fmt.Errorf("%w: %d bytes (max %d)", ErrTooLarge, len(out), MaxPayload)
	}
	return out, nil
}

// Open decodes an envelope and its body, which must be of the kind the
// envelope names and of the type dst points to, and valid. Unknown fields
// are refused: a peer speaking another dialect of the same version is a bug
// to hear about, not to guess around.
func Open(b []byte, dst Body) (Envelope, error) {
	want, err := kindOf(dst)
	if err != nil {
		return Envelope{}, err
	}
	// The common case in one pass: envelope and body decoded together,
	// unknown fields refused at both levels. Anything that does not pass
	// goes the long way, which says precisely what is wrong.
	if len(b) <= MaxPayload && utf8.Valid(b) {
		in := envelopeOf{Body: dst}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if dec.Decode(&in) == nil && !dec.More() && in.V == Version && in.Kind == want && checkKey(in.Key) == nil {
			return Envelope{V: in.V, Key: in.Key, Sent: in.Sent, Kind: in.Kind}, dst.Validate()
		}
	}
	return openSlow(b, dst, want)
}

// envelopeOf is an Envelope with its body in place, for one-pass encoding
// and decoding (Body holds a pointer to the body's struct).
type envelopeOf struct {
	V    int       `json:"v"`
	Key  string    `json:"key"`
	Sent time.Time `json:"sent"`
	Kind string    `json:"kind"`
	Body Body      `json:"body"`
}

// openSlow decodes the envelope, then the body, and names the first thing
// wrong.
func openSlow(b []byte, dst Body, want string) (Envelope, error) {
	e, err := Decode(b)
	if err != nil {
		return e, err
	}
	if e.Kind != want {
		return e, fmt.Errorf("%w: kind %q where %q was expected", ErrMalformed, e.Kind, want)
	}
	if err := checkKey(e.Key); err != nil {
		return e, fmt.Errorf("%w: idempotency key: %v", ErrMalformed, err)
	}
	dec := json.NewDecoder(bytes.NewReader(e.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return e, fmt.Errorf("%w: %s body: %v", ErrMalformed, e.Kind, err)
	}
	if dec.More() {
		return e, fmt.Errorf("%w: %s body: trailing data", ErrMalformed, e.Kind)
	}
	return e, dst.Validate()
}
