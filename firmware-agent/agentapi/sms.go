package agentapi

import (
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// KindSMS: agent → gateway, on SMSTopic: a text message a modem received.
const KindSMS = "sms"

// SMSTopic carries the SMS an agent's modems received.
func SMSTopic(agentID string) string { return TopicRoot + "/agent/" + agentID + "/sms" }

// SMS is a text message received by one of the agent's modems, whole
// (concatenated parts joined). Its text is PHI until proven otherwise.
type SMS struct {
	Device string `json:"device"`
	// From is the sender's number as the network gave it: "+E.164",
	// a national number, a short code or an alphanumeric name.
	From string `json:"from"`
	Text Text   `json:"text"`
	// Sent is the service centre's time stamp, if there was one.
	Sent     time.Time `json:"sent,omitzero"`
	Received time.Time `json:"received"`
}

// MaxSMSFrom bounds SMS.From (a GSM address holds at most 20 digits; an
// alphanumeric one 11 characters).
const MaxSMSFrom = 32

// Validate checks an SMS as received.
func (m *SMS) Validate() error {
	switch {
	case !ValidID(m.Device):
		return fmt.Errorf("%w: sms: bad device id", ErrMalformed)
	case m.From == "" || len(m.From) > MaxSMSFrom || !utf8.ValidString(m.From):
		return fmt.Errorf("%w: sms: bad sender number", ErrMalformed)
	case len(m.Text) > MaxText || !utf8.ValidString(string(m.Text)):
		return fmt.Errorf("%w: sms: text too long or not UTF-8", ErrMalformed)
	case m.Received.IsZero():
		return fmt.Errorf("%w: sms: no received time", ErrMalformed)
	}
	for _, r := range m.From {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: sms: control character in the sender number", ErrMalformed)
		}
	}
	return nil
}
