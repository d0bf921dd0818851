package wctp

import (
	"fmt"
	"log/slog"
	"strings"

	"pagebridge/gateway/paging"
)

// WCTP status codes this package sends and recognises. The numbering is the
// protocol's (WCTP 1.0–1.3 use one table): 2xx success, 3xx protocol
// violations, 4xx content errors, 5xx permanent and 6xx temporary failures.
const (
	CodeSuccess               = 200 // accepted (stored durably)
	CodeOperationNotSupported = 300 // a WCTP operation this server does not offer
	CodeCannotParse           = 301 // not well-formed XML, or not UTF-8
	CodeValidation            = 302 // well-formed, but not a valid WCTP submit
	CodeVersion               = 303 // wctpVersion not supported
	CodeInvalidSenderID       = 401 // unknown senderID
	CodeInvalidSecurityCode   = 402 // wrong securityCode (or miscInfo password)
	CodeInvalidRecipientID    = 403 // unknown recipientID
	CodeMessageTooLong        = 411 // text longer than the configured maximum
	CodeMCRNotSupported       = 419 // wctp-MCR payload (multiple choice response)
	CodeBinaryNotSupported    = 430 // wctp-TransparentData payload
	CodeInvalidPoller         = 432 // poll: unknown pollerID or wrong securityCode
	CodeMessageExpired        = 501 // status: nobody acknowledged the page before it expired
	CodeUnknownMessage        = 504 // query: no such message of this sender
	CodeInternalError         = 604 // temporary: the page was not stored, retry
)

// codeText is the errorText or successText sent for each code. Texts are
// fixed so that nothing a sender sent (and so no PHI) is ever echoed.
var codeText = map[int]string{
	CodeSuccess:               "Message accepted",
	CodeOperationNotSupported: "Operation not supported",
	CodeCannotParse:           "Cannot parse input",
	CodeValidation:            "XML validation error",
	CodeVersion:               "Version not supported",
	CodeInvalidSenderID:       "Invalid senderID",
	CodeInvalidSecurityCode:   "Invalid securityCode",
	CodeInvalidRecipientID:    "Invalid recipientID",
	CodeMessageTooLong:        "Message exceeds allowable length",
	CodeMCRNotSupported:       "MCRs not supported",
	CodeBinaryNotSupported:    "Binary messages not supported",
	CodeInvalidPoller:         "Invalid pollerID or securityCode",
	CodeMessageExpired:        "Message expired",
	CodeUnknownMessage:        "Unknown message reference",
	CodeInternalError:         "Internal server error, try again later",
}

// CodeText returns the fixed text this package sends with code, or "" for a
// code it never sends.
func CodeText(code int) string { return codeText[code] }

// Version is a wctpVersion this package accepts.
type Version struct {
	// Token is the wctpVersion attribute value as this package writes it.
	Token string
	// DTD is the system identifier written in the reply's DOCTYPE. It is
	// never fetched, by this package or by encoding/xml.
	DTD string
}

// Versions are the accepted wctpVersion values, compared ignoring ASCII case
// after trimming spaces. Replies carry the request's version, so a 1.1
// sender gets a 1.1 document back; the elements a submit's reply uses are
// the same in every version. "1.0" is the bare form some WCTP 1.0-era
// senders wrote instead of "wctp-dtd-v1r0".
var Versions = []Version{
	{"wctp-dtd-v1r3", "http://dtd.wctp.org/wctp-dtd-v1r3.dtd"},
	{"wctp-dtd-v1r2", "http://dtd.wctp.org/wctp-dtd-v1r2.dtd"},
	{"wctp-dtd-v1r1", "http://dtd.wctp.org/wctp-dtd-v1r1.dtd"},
	{"wctp-dtd-v1r0", "http://wctp.arch.com/DTD/wctpv1-0.dtd"},
	{"1.0", "http://wctp.arch.com/DTD/wctpv1-0.dtd"},
}

// DefaultVersion is what Encode writes when a request names no version, and
// what a reply carries when the request's version is unknown.
const DefaultVersion = "wctp-dtd-v1r3"

// lookupVersion returns the accepted version matching s.
func lookupVersion(s string) (Version, bool) {
	s = strings.TrimSpace(s)
	for _, v := range Versions {
		if asciiEqualFold(s, v.Token) {
			return v, true
		}
	}
	return Version{}, false
}

// SubmitRequest is one page submitted over WCTP: either a
// wctp-SubmitRequest from an enterprise sender or, with Client set, a
// wctp-SubmitClientMessage from a transient client.
//
// It formats with its secrets and text redacted (String, LogValue), so it
// is safe to log.
type SubmitRequest struct {
	// Client selects wctp-SubmitClientMessage (transient client) instead of
	// wctp-SubmitRequest (enterprise sender).
	Client bool
	// Version is the wctpVersion: one of Versions' tokens, or "" for
	// DefaultVersion when encoding. Parse returns the canonical token.
	Version string
	// SenderID is wctp-Originator senderID, or for a client
	// wctp-ClientOriginator senderID.
	SenderID string
	// SecurityCode is wctp-Originator securityCode, or for a client the
	// password carried in wctp-ClientOriginator miscInfo.
	SecurityCode string
	// MessageID is wctp-MessageControl messageID, the sender's reference.
	// Required for a SubmitRequest; a SubmitClientMessage has none.
	MessageID string
	// RecipientID is wctp-Recipient recipientID: the legacy pager ID.
	RecipientID string
	// DeliveryPriority is "HIGH", "NORMAL", "LOW", or "" when the sender
	// gave none (the DTD's default, NORMAL).
	DeliveryPriority string
	// Text is the wctp-Alphanumeric payload.
	Text paging.PHI

	// NoResponse is allowResponse="false": the sender wants no replies.
	// The DTD's default, and so the zero value, allows them.
	NoResponse bool
	// NotifyQueued, NotifyDelivered and NotifyRead are notifyWhenQueued,
	// notifyWhenDelivered and notifyWhenRead: the status notifications an
	// enterprise sender asks to poll for (wctp-StatusInfo).
	NotifyQueued, NotifyDelivered, NotifyRead bool
}

func (r SubmitRequest) hasFlags() bool {
	return r.NoResponse || r.NotifyQueued || r.NotifyDelivered || r.NotifyRead
}

// Operation returns the element name of the request's operation.
func (r SubmitRequest) Operation() string {
	if r.Client {
		return opSubmitClientMessage
	}
	return opSubmitRequest
}

// String describes the request without its security code or text.
func (r SubmitRequest) String() string {
	return fmt.Sprintf("%s{sender=%q recipient=%q messageID=%q priority=%q text=%d bytes}",
		r.Operation(), r.SenderID, r.RecipientID, r.MessageID, r.DeliveryPriority, r.Text.Len())
}

// GoString redacts like String.
func (r SubmitRequest) GoString() string {
	return fmt.Sprintf("wctp.SubmitRequest{Client:%t, Version:%q, SenderID:%q, SecurityCode:%s, MessageID:%q, RecipientID:%q, DeliveryPriority:%q, Text:%#v, NoResponse:%t, NotifyQueued:%t, NotifyDelivered:%t, NotifyRead:%t}",
		r.Client, r.Version, r.SenderID, paging.Redacted, r.MessageID, r.RecipientID, r.DeliveryPriority, r.Text,
		r.NoResponse, r.NotifyQueued, r.NotifyDelivered, r.NotifyRead)
}

// LogValue implements slog.LogValuer without the security code or text.
func (r SubmitRequest) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("op", r.Operation()),
		slog.String(keySender, r.SenderID),
		slog.String(keyPagerID, r.RecipientID),
		slog.String("message_id", r.MessageID),
		slog.String(keyPriority, r.DeliveryPriority),
		slog.Int(keyTextLen, r.Text.Len()),
	)
}

// priority maps deliveryPriority to a tier: HIGH is high; NORMAL, LOW and
// none are normal. Critical comes only from the Classify hook.
func (r SubmitRequest) priority() paging.Priority {
	if r.DeliveryPriority == "HIGH" {
		return paging.PriorityHigh
	}
	return paging.PriorityNormal
}

// Response is a server's answer to a submit, as Submit parses it.
type Response struct {
	// Success is true for wctp-Success or wctp-ClientSuccess, false for
	// wctp-Failure.
	Success bool
	// Code is the successCode or errorCode.
	Code int
	// Text is the successText or errorText.
	Text string
	// TrackingNumber is wctp-ClientSuccess trackingNumber (client
	// submissions only). Pagebridge uses the message's ID.
	TrackingNumber string
}

// Error is a refusal with a WCTP code. Parse returns it; the handler turns
// it into a wctp-Failure.
type Error struct {
	Code int
	// Reason is a short, fixed description for logs: never input text.
	Reason string
	// Client, Op and Version say how to wrap the failure, when the parser
	// got far enough to know: Op is the operation when it is not a submit
	// (its response holds the wctp-Failure), Client a client submit.
	Client  bool
	Op      string
	Version Version
}

func (e *Error) Error() string {
	return fmt.Sprintf("wctp %d %s: %s", e.Code, codeText[e.Code], e.Reason)
}

// Log keys.
const (
	keyComponent = "component"
	keyCode      = "wctp_code"
	keyStatus    = "http_status"
	keyReason    = "reason"
	keySender    = "sender"
	keyPagerID   = "pager_id"
	keyPriority  = "priority"
	keyTextLen   = "text_len"
	keyRemote    = "remote"
	keyID        = "id"
	keyOp        = "op"
	keyErr       = "err"
)
