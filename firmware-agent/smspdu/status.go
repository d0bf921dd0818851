package smspdu

import "fmt"

// Outcome is what a status report's TP-ST says about the message, by the
// ranges of 3GPP TS 23.040 9.2.3.15.
type Outcome uint8

const (
	// OutcomeUnknown: a value the standard reserves (0x03–0x0F, bit 7
	// set) or leaves to each service centre (0x10–0x1F, "completed" in a
	// way it does not define); the message's state stays as it was.
	OutcomeUnknown Outcome = iota
	// OutcomeDelivered: 0x00 received by the handset, 0x01 forwarded to
	// it without confirmation, 0x02 replaced by the service centre.
	OutcomeDelivered
	// OutcomePending: 0x20–0x3F, a temporary error; the service centre
	// is still trying, and another report follows.
	OutcomePending
	// OutcomeFailedPermanent: 0x40–0x5F, a permanent error; the service
	// centre gave up (validity period expired, unknown number, …).
	OutcomeFailedPermanent
	// OutcomeFailedTemporary: 0x60–0x7F, a temporary error after which
	// the service centre makes no more attempts; sending again may work.
	OutcomeFailedTemporary
)

var outcomeNames = [...]string{"unknown", "delivered", "pending", "failed_perm", "failed_temp"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// Final reports whether no further report will come for the message:
// delivered or failed.
func (o Outcome) Final() bool {
	return o == OutcomeDelivered || o == OutcomeFailedPermanent || o == OutcomeFailedTemporary
}

// Classify maps TP-ST to its Outcome. Inside the error ranges, values the
// standard reserves or leaves to the service centre take their range's
// meaning. In the "completed" range only the three defined values count
// as delivered: a report must not end an escalation on a value nobody
// defined.
func Classify(st byte) Outcome {
	switch {
	case st&0x80 != 0:
		return OutcomeUnknown
	case st <= 0x02:
		return OutcomeDelivered
	case st < 0x20:
		return OutcomeUnknown
	case st < 0x40:
		return OutcomePending
	case st < 0x60:
		return OutcomeFailedPermanent
	default:
		return OutcomeFailedTemporary
	}
}

var statusNames = map[byte]string{
	0x00: "received by the SME",
	0x01: "forwarded to the SME, delivery not confirmed",
	0x02: "replaced by the SC",
	0x20: "congestion",
	0x21: "SME busy",
	0x22: "no response from SME",
	0x23: "service rejected",
	0x24: "quality of service not available",
	0x25: "error in SME",
	0x40: "remote procedure error",
	0x41: "incompatible destination",
	0x42: "connection rejected by SME",
	0x43: "not obtainable",
	0x44: "quality of service not available",
	0x45: "no interworking available",
	0x46: "validity period expired",
	0x47: "deleted by originating SME",
	0x48: "deleted by SC administration",
	0x49: "message does not exist",
	0x60: "congestion",
	0x61: "SME busy",
	0x62: "no response from SME",
	0x63: "service rejected",
	0x64: "quality of service not available",
	0x65: "error in SME",
}

// StatusText describes TP-ST for people and logs, e.g. "0x46 validity
// period expired (failed_perm)".
func StatusText(st byte) string {
	name, ok := statusNames[st]
	if !ok {
		switch {
		case st&0x80 != 0:
			name = "reserved"
		case st&0x1f >= 0x10:
			name = "specific to the SC"
		default:
			name = "reserved"
		}
	}
	return fmt.Sprintf("0x%02X %s (%v)", st, name, Classify(st))
}
