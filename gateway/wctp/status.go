package wctp

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"pagebridge/gateway/paging"
)

// Tracker is the port behind the operations that ask about pages already
// accepted: wctp-ClientQuery and wctp-PollForMessages. The gateway
// implements it over its store, routes and threads; the handler does the
// protocol and the authentication, and hands it only authenticated
// parties. Its errors: ErrUnknownMessage for a page the party may not
// see (unknown, another party's, another recipient's, or older than what
// is kept); an error wrapping paging.ErrTemporary, or any other, is
// answered 604 (try again). Errors must not carry message text.
type Tracker interface {
	// Track records a page the handler has just accepted, so that its
	// party can ask about it.
	Track(ctx context.Context, p Tracked) error
	// Query returns the status of the page tracking (our message ID) that
	// party submitted to recipient, and the replies to it so far when
	// the submit allowed them.
	Query(ctx context.Context, c Caller, tracking, recipient string) (Report, error)
	// Poll first records what the enterprise sender confirmed of earlier
	// polls (received), then returns up to max items it has not
	// confirmed: status notifications it asked for and replies. An item
	// returned and not confirmed is returned again by a later poll, with
	// the same sequence number.
	Poll(ctx context.Context, c Caller, received []Received, max int) ([]Item, error)
}

// ErrUnknownMessage: the page asked about is not one the party may see.
var ErrUnknownMessage = errors.New("wctp: unknown message reference")

// Party is an authenticated sender: an enterprise Sender, or with Client
// set a transient Client. Their IDs are separate name spaces.
type Party struct {
	Client bool
	ID     string
}

// Actor is the party as the audit chain names it.
func (p Party) Actor() string { return "wctp:" + p.ID }

// Caller is a party with where its request came from, for the audit
// chain.
type Caller struct {
	Party
	Remote string
}

// TrackedAccepter is an accepter that stores a page and its Tracked
// bookkeeping in one commit; the handler prefers it over Accept followed
// by Tracker.Track, which costs a second commit per page.
type TrackedAccepter interface {
	AcceptTracked(ctx context.Context, m *paging.Message, by paging.AuditEvent, t Tracked) error
}

// Tracked is what Track records of an accepted page.
type Tracked struct {
	Party
	// Message is our ID for the page (a client's trackingNumber).
	Message paging.ID
	// Ref is the sender's messageID ("" for a client).
	Ref       string
	Recipient string
	Received  time.Time
	// AllowResponse: replies may be handed to the party.
	AllowResponse bool
	// NotifyQueued, NotifyDelivered, NotifyRead: notifyWhen* of the
	// submit (the StatusInfo an enterprise sender's polls carry).
	NotifyQueued, NotifyDelivered, NotifyRead bool
}

// State is how far a page has come, as WCTP can say it.
type State int

const (
	// StateQueued: accepted and stored; nobody has been shown it yet.
	StateQueued State = iota + 1
	// StateDelivered: a device reported it delivered.
	StateDelivered
	// StateRead: someone it reached has read it.
	StateRead
	// StateAcknowledged: someone acknowledged it (on any channel).
	StateAcknowledged
	// StateExpired: nobody acknowledged it before its policy's expiry.
	StateExpired
)

var stateNames = [...]string{StateQueued: "QUEUED", StateDelivered: "DELIVERED", StateRead: "READ",
	StateAcknowledged: "ACKNOWLEDGED", StateExpired: "EXPIRED"}

func (s State) String() string {
	if s < StateQueued || s > StateExpired {
		return fmt.Sprintf("State(%d)", int(s))
	}
	return stateNames[s]
}

// Rank orders states by progress: acknowledged and expired are both final.
func (s State) Rank() int {
	if s == StateExpired {
		return int(StateAcknowledged)
	}
	return int(s)
}

// Status is a page's state and when it got there.
type Status struct {
	State State
	At    time.Time
}

// Reply is a reply to a page: a message someone it reached wrote in its
// thread. Text is PHI.
type Reply struct {
	// ID identifies the reply (its thread message's ID).
	ID string
	// From is the person who wrote it (staff, not PHI).
	From string
	At   time.Time
	Text paging.PHI
}

// Report is what Query returns.
type Report struct {
	Received time.Time
	Status   Status
	Replies  []Reply
}

// Received is one wctp-MessageReceived of a poll: the sender took the
// message sequenceNo of an earlier poll (OK, wctp-Success) or could not
// (wctp-Failure).
type Received struct {
	Seq string
	OK  bool
}

// Item is one message of a poll's response: a status notification
// (Reply nil) or a reply.
type Item struct {
	Seq string
	// Message is our ID of the page; Ref the sender's messageID of it.
	Message   paging.ID
	Ref       string
	Recipient string
	Received  time.Time
	Status    Status
	Reply     *Reply
}

// Defaults and limits of the query operations.
const (
	// DefaultPollBatch is how many messages a poll returns when it does
	// not name maxMessagesInBatch; MaxPollBatch the most it may ask for.
	DefaultPollBatch = 10
	MaxPollBatch     = 100
	// DefaultResponder names this server in wctp-VersionResponse.
	DefaultResponder = "Pagebridge"
)

// ClientQuery is a wctp-ClientQuery: a transient client asks about the
// page it submitted with trackingNumber. The DTD gives it no password:
// Pagebridge requires the client's password in a miscInfo attribute, as
// in the submit's wctp-ClientOriginator.
type ClientQuery struct {
	SenderID, Password, RecipientID, TrackingNumber string
}

// PollForMessages is a wctp-PollForMessages from an enterprise sender.
type PollForMessages struct {
	PollerID, SecurityCode string
	// MaxMessages is maxMessagesInBatch; 0 when absent.
	MaxMessages int
	Received    []Received
}

// Request is one parsed WCTP operation: Op names it, and the field of
// that operation is set (VersionQuery carries nothing but the version).
type Request struct {
	Op      string
	Version string
	Submit  SubmitRequest
	Query   ClientQuery
	Poll    PollForMessages
}

// ParseRequest parses a WCTP document holding one of the operations the
// handler answers: the submits (as Parse), wctp-ClientQuery,
// wctp-PollForMessages and wctp-VersionQuery. Its refusals are Parse's.
func ParseRequest(body []byte) (Request, error) {
	d := getDoc()
	defer d.release()
	root, err := d.parse(body)
	if err != nil {
		return Request{}, err
	}
	p, op, perr := operation(root)
	if perr != nil {
		return Request{}, perr
	}
	r := Request{Op: op.name, Version: p.v.Token}
	switch op.name {
	case opSubmitRequest:
		r.Submit, perr = p.submitRequest(op)
	case opSubmitClientMessage:
		p.client = true
		r.Submit, perr = p.submitClientMessage(op)
	case opClientQuery:
		p.op = op.name
		r.Query, perr = p.clientQuery(op)
	case opPollForMessages:
		p.op = op.name
		r.Poll, perr = p.pollForMessages(op)
	case opVersionQuery:
		p.op = op.name
		perr = p.versionQuery(op)
	default:
		perr = p.otherOperation(op)
	}
	if perr != nil {
		return Request{}, perr
	}
	return r, nil
}

// maxTracking bounds a trackingNumber and a sequenceNo: ours are 26
// characters.
const maxTracking = 64

func (p parser) clientQuery(op *node) (ClientQuery, *Error) {
	var q ClientQuery
	if err := p.empty(op); err != nil {
		return q, err
	}
	var err *Error
	if q.SenderID, err = p.attr(op, "senderID", true); err != nil {
		return q, err
	}
	if q.RecipientID, err = p.attr(op, "recipientID", true); err != nil {
		return q, err
	}
	if q.TrackingNumber, err = p.attr(op, "trackingNumber", true); err != nil {
		return q, err
	}
	if q.TrackingNumber == "" || len(q.TrackingNumber) > maxTracking {
		return q, p.invalid(fmt.Sprintf("trackingNumber must be 1 to %d bytes", maxTracking))
	}
	if q.Password, err = p.attr(op, "miscInfo", false); err != nil {
		return q, err
	}
	return q, nil
}

func (p parser) pollForMessages(op *node) (PollForMessages, *Error) {
	var q PollForMessages
	var err *Error
	if op.hasText() {
		return q, p.invalid(op.name + " holds text")
	}
	if q.PollerID, err = p.attr(op, "pollerID", true); err != nil {
		return q, err
	}
	if q.SecurityCode, err = p.attr(op, "securityCode", false); err != nil {
		return q, err
	}
	if v, ok := op.attr("maxMessagesInBatch"); ok {
		n, perr := strconv.Atoi(strings.TrimSpace(v))
		if perr != nil || n < 1 {
			return q, p.invalid("maxMessagesInBatch is not a positive number")
		}
		q.MaxMessages = min(n, MaxPollBatch)
	}
	for _, c := range op.children {
		if c.name != "wctp-MessageReceived" {
			return q, p.invalid("unexpected element in " + op.name)
		}
		seq, err := p.attr(c, "sequenceNo", true)
		if err != nil {
			return q, err
		}
		if seq = strings.TrimSpace(seq); seq == "" || len(seq) > maxTracking {
			return q, p.invalid(fmt.Sprintf("sequenceNo must be 1 to %d bytes", maxTracking))
		}
		if c.hasText() || len(c.children) != 1 {
			return q, p.invalid("wctp-MessageReceived must hold wctp-Success or wctp-Failure")
		}
		res := c.children[0]
		if res.name != "wctp-Success" && res.name != "wctp-Failure" || len(res.children) > 0 {
			return q, p.invalid("wctp-MessageReceived must hold wctp-Success or wctp-Failure")
		}
		q.Received = append(q.Received, Received{Seq: seq, OK: res.name == "wctp-Success"})
	}
	return q, nil
}

func (p parser) versionQuery(op *node) *Error {
	if err := p.empty(op); err != nil {
		return err
	}
	_, err := p.attr(op, "inquirer", true)
	return err
}

// authenticate checks a party's secret against creds. Digests are
// compared, so the time taken says nothing about the secret's length, and
// compared even for an unknown ID, so it says nothing about which exist.
func authenticate(creds map[string]credential, id, secret string) (credential, bool, bool) {
	cred, known := creds[id]
	given := sha256.Sum256([]byte(secret))
	return cred, known, subtle.ConstantTimeCompare(given[:], cred.digest[:]) == 1 && known
}

// startQuery logs a query operation and the party it names, and returns
// how to refuse it; false, once refused, when no Tracker is configured.
func (h *Handler) startQuery(w http.ResponseWriter, log *reqLog, v Version, op, party string) (func(code int, reason string), bool) {
	fail := func(code int, reason string) {
		h.fail(w, log, &Error{Code: code, Reason: reason, Op: op, Version: v})
	}
	log.add(slog.String(keyOp, op), slog.String(keySender, truncate(party, 64)))
	if h.tracker == nil {
		fail(CodeOperationNotSupported, "status queries and polls not configured")
		return fail, false
	}
	return fail, true
}

// query answers a wctp-ClientQuery.
func (h *Handler) query(ctx context.Context, w http.ResponseWriter, log *reqLog, remote string, v Version, q ClientQuery) {
	fail, ok := h.startQuery(w, log, v, opClientQuery, q.SenderID)
	if !ok {
		return
	}
	_, known, authed := authenticate(h.clients, q.SenderID, q.Password)
	switch {
	case !known:
		fail(CodeInvalidSenderID, "unknown client senderID")
		return
	case !authed:
		fail(CodeInvalidSecurityCode, "wrong password for client senderID")
		return
	}
	log.add(slog.String(keyPagerID, truncate(q.RecipientID, 64)), slog.String(keyID, truncate(q.TrackingNumber, maxTracking)))
	rep, err := h.tracker.Query(ctx, Caller{Party: Party{Client: true, ID: q.SenderID}, Remote: remote},
		q.TrackingNumber, q.RecipientID)
	switch {
	case errors.Is(err, ErrUnknownMessage):
		fail(CodeUnknownMessage, "no such message of this client")
		return
	case err != nil:
		log.add(slog.Any(keyErr, err))
		fail(CodeInternalError, "status query failed")
		return
	}
	h.write(w, log, CodeSuccess, clientQueryBody(v, q, rep))
	log.add(slog.String("state", rep.Status.State.String()), slog.Int("replies", len(rep.Replies)))
	log.write(slog.LevelDebug, "wctp client query answered")
}

// poll answers a wctp-PollForMessages.
func (h *Handler) poll(ctx context.Context, w http.ResponseWriter, log *reqLog, remote string, v Version, q PollForMessages) {
	fail, ok := h.startQuery(w, log, v, opPollForMessages, q.PollerID)
	if !ok {
		return
	}
	// One code for an unknown poller and a wrong securityCode, as the
	// protocol's 432 has it.
	if _, _, ok := authenticate(h.senders, q.PollerID, q.SecurityCode); !ok {
		fail(CodeInvalidPoller, "unknown pollerID or wrong securityCode")
		return
	}
	n := q.MaxMessages
	if n == 0 {
		n = DefaultPollBatch
	}
	items, err := h.tracker.Poll(ctx, Caller{Party: Party{ID: q.PollerID}, Remote: remote}, q.Received, n)
	if err != nil {
		log.add(slog.Any(keyErr, err))
		fail(CodeInternalError, "poll failed")
		return
	}
	h.write(w, log, CodeSuccess, pollResponseBody(v, q.PollerID, items))
	log.add(slog.Int("confirmed", len(q.Received)), slog.Int("messages", len(items)))
	log.write(slog.LevelDebug, "wctp poll answered")
}
