package wctp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"pagebridge/gateway/paging"
)

// Defaults for Config's zero values.
const (
	DefaultMaxTextLen         = 4096
	DefaultMaxBodyBytes int64 = 256 << 10
	DefaultLine               = "wctp"
)

// Sender is an enterprise sender (wctp-SubmitRequest): it names itself in
// wctp-Originator senderID and proves it with securityCode.
type Sender struct {
	ID           string
	SecurityCode string
	// Line names the sender's pages' source ("nurse call 4W"); empty
	// means Config.Line.
	Line string
}

// Client is a transient client (wctp-SubmitClientMessage). The DTD gives
// wctp-ClientOriginator only senderID and miscInfo, so the client names
// itself in senderID and, as carriers such as American Messaging require,
// carries its password in miscInfo.
type Client struct {
	ID       string
	Password string
	// Line as for Sender.
	Line string
}

// Config configures a Handler. The zero value of each field means its
// default.
type Config struct {
	// Senders may use wctp-SubmitRequest.
	Senders []Sender
	// Clients may use wctp-SubmitClientMessage. Their IDs are a separate
	// name space from Senders'.
	Clients []Client
	// MaxTextLen is the longest page text accepted, in characters (Unicode
	// code points); longer is refused with CodeMessageTooLong. Default
	// DefaultMaxTextLen; at most paging.MaxTextLen. The text must also fit
	// paging.MaxTextLen bytes.
	MaxTextLen int
	// MaxBodyBytes is the largest request body read; larger is answered
	// with HTTP 413. Default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Line is the source line of pages from senders without their own.
	// Default DefaultLine.
	Line string

	// Classify, if set, returns the tier for a page after deliveryPriority
	// has been mapped (HIGH → high, anything else → normal): the hook for
	// keyword and per-pager-ID rules. m is a copy; an invalid result is
	// ignored. It must be safe for concurrent use.
	Classify func(m paging.Message) paging.Priority
	// OnResult, if set, is called once per request, for metrics: status is
	// the HTTP status sent, code the WCTP code (0 when the answer was not a
	// WCTP document: 405, 413, 415, 400). It must be fast and safe for
	// concurrent use.
	OnResult func(status, code int)
	// NewID makes message IDs (the tracking numbers of client messages).
	// Default paging.NewID; tests inject a deterministic one.
	NewID func(time.Time) paging.ID

	// Tracker, if set, records every accepted page and answers
	// wctp-ClientQuery and wctp-PollForMessages; without it they are
	// answered CodeOperationNotSupported.
	Tracker Tracker
	// Responder names this server in wctp-VersionResponse. Default
	// DefaultResponder.
	Responder string
	// Contact, if set, is sent in wctp-VersionResponse as
	// wctp-ContactInfo (who runs this server).
	Contact Contact
}

// Contact is wctp-ContactInfo: how to reach whoever runs the server.
type Contact struct {
	Email, Phone, WWW, Info string
}

type credential struct {
	digest [sha256.Size]byte
	line   string
}

// Handler is the WCTP endpoint: an http.Handler for POST /wctp. It is safe
// for concurrent use and holds no state between requests.
type Handler struct {
	senders  map[string]credential
	clients  map[string]credential
	maxText  int
	maxBody  int64
	line     string
	classify func(paging.Message) paging.Priority
	onResult func(status, code int)
	newID    func(time.Time) paging.ID
	tracker  Tracker
	// responder and contact answer wctp-VersionQuery.
	responder string
	contact   Contact

	acc   paging.Accepter
	dir   paging.Directory
	clock paging.Clock
	log   *slog.Logger
}

var _ http.Handler = (*Handler)(nil)

// NewHandler checks cfg and returns a Handler that accepts pages into acc,
// resolving recipients through dir.PagerID. clock defaults to the system
// clock and log to discarding.
func NewHandler(cfg Config, acc paging.Accepter, dir paging.Directory, clock paging.Clock, log *slog.Logger) (*Handler, error) {
	if acc == nil || dir == nil {
		return nil, errors.New("wctp: an Accepter and a Directory are required")
	}
	h := &Handler{
		senders:  make(map[string]credential, len(cfg.Senders)),
		clients:  make(map[string]credential, len(cfg.Clients)),
		maxText:  cfg.MaxTextLen,
		maxBody:  cfg.MaxBodyBytes,
		line:     cfg.Line,
		classify: cfg.Classify,
		onResult: cfg.OnResult,
		newID:    cfg.NewID,
		tracker:  cfg.Tracker,
		acc:      acc,
		dir:      dir,
		clock:    clock,
		log:      log,
	}
	switch {
	case h.maxText == 0:
		h.maxText = DefaultMaxTextLen
	case h.maxText < 0 || h.maxText > paging.MaxTextLen:
		return nil, fmt.Errorf("wctp: MaxTextLen %d out of range 1 to %d", h.maxText, paging.MaxTextLen)
	}
	switch {
	case h.maxBody == 0:
		h.maxBody = DefaultMaxBodyBytes
	case h.maxBody < 0:
		return nil, fmt.Errorf("wctp: negative MaxBodyBytes %d", h.maxBody)
	}
	if h.line == "" {
		h.line = DefaultLine
	}
	if h.newID == nil {
		h.newID = paging.NewID
	}
	h.responder, h.contact = cfg.Responder, cfg.Contact
	if h.responder == "" {
		h.responder = DefaultResponder
	}
	if h.clock == nil {
		h.clock = paging.SystemClock{}
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.log = h.log.With(keyComponent, "wctp")
	add := func(kind string, m map[string]credential, id, secret, line string) error {
		switch {
		case id == "":
			return fmt.Errorf("wctp: %s without an ID", kind)
		case secret == "":
			return fmt.Errorf("wctp: %s %q without a secret", kind, id)
		case m[id] != (credential{}):
			return fmt.Errorf("wctp: %s %q configured twice", kind, id)
		}
		m[id] = credential{digest: sha256.Sum256([]byte(secret)), line: line}
		return nil
	}
	for _, s := range cfg.Senders {
		if err := add("sender", h.senders, s.ID, s.SecurityCode, s.Line); err != nil {
			return nil, err
		}
	}
	for _, c := range cfg.Clients {
		if err := add("client", h.clients, c.ID, c.Password, c.Line); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// ServeHTTP answers one WCTP request. See the package documentation for
// the codes it sends.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := &reqLog{l: h.log, attrs: make([]slog.Attr, 0, 12)}
	log.add(slog.String(keyRemote, r.RemoteAddr))
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.plain(w, log, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	if !xmlContentType(r.Header.Get("Content-Type")) {
		h.plain(w, log, http.StatusUnsupportedMediaType, "content type is not text/xml")
		return
	}
	if r.ContentLength > h.maxBody {
		h.plain(w, log, http.StatusRequestEntityTooLarge, "body too large")
		return
	}
	// Sized from Content-Length (already checked against the limit), so
	// a normal page is read without regrowing the buffer.
	buf := getBody(r.ContentLength)
	defer putBody(buf)
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, h.maxBody))
	body := buf.Bytes()
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.plain(w, log, http.StatusRequestEntityTooLarge, "body too large")
			return
		}
		// The sender went away or was too slow for the server's
		// ReadTimeout.
		log.add(slog.Any(keyErr, err))
		h.plain(w, log, http.StatusBadRequest, "cannot read body")
		return
	}

	// What ParseRequest returns shares no memory with body.
	req, err := ParseRequest(body)
	if err != nil {
		var we *Error
		if !errors.As(err, &we) {
			we = &Error{Code: CodeInternalError, Reason: "parser: " + err.Error()}
		}
		h.fail(w, log, we)
		return
	}
	v, _ := lookupVersion(req.Version)
	switch req.Op {
	case opClientQuery:
		h.query(r.Context(), w, log, r.RemoteAddr, v, req.Query)
	case opPollForMessages:
		h.poll(r.Context(), w, log, r.RemoteAddr, v, req.Poll)
	case opVersionQuery:
		log.add(slog.String(keyOp, opVersionQuery))
		h.write(w, log, CodeSuccess, versionResponseBody(v, h.responder, h.contact, h.clock.Now()))
		log.write(slog.LevelDebug, "wctp version query answered")
	default:
		h.submit(r.Context(), w, log, r.RemoteAddr, req.Submit)
	}
}

// submit authenticates, checks and accepts a parsed request.
func (h *Handler) submit(ctx context.Context, w http.ResponseWriter, log *reqLog, remote string, req SubmitRequest) {
	v, _ := lookupVersion(req.Version)
	fail := func(code int, reason string) {
		h.fail(w, log, &Error{Code: code, Reason: reason, Client: req.Client, Version: v})
	}
	log.add(slog.String(keyOp, req.Operation()), slog.String(keySender, truncate(req.SenderID, 64)))

	creds, idName := h.senders, "senderID"
	if req.Client {
		creds, idName = h.clients, "client senderID"
	}
	cred, known, ok := authenticate(creds, req.SenderID, req.SecurityCode)
	switch {
	case !known:
		fail(CodeInvalidSenderID, "unknown "+idName)
		return
	case !ok:
		fail(CodeInvalidSecurityCode, "wrong security code for "+idName)
		return
	}

	text := req.Text.Reveal()
	if utf8.RuneCountInString(text) > h.maxText || len(text) > paging.MaxTextLen {
		fail(CodeMessageTooLong, fmt.Sprintf("text of %d bytes over the limit of %d characters", len(text), h.maxText))
		return
	}
	if req.RecipientID == "" || len(req.RecipientID) > paging.MaxPagerIDLen {
		fail(CodeInvalidRecipientID, "recipientID empty or too long")
		return
	}
	log.add(slog.String(keyPagerID, req.RecipientID))
	if _, err := h.dir.PagerID(ctx, req.RecipientID); err != nil {
		if errors.Is(err, paging.ErrNotFound) {
			fail(CodeInvalidRecipientID, "unknown recipientID")
			return
		}
		log.add(slog.Any(keyErr, err))
		fail(CodeInternalError, "directory lookup failed")
		return
	}

	now := h.clock.Now()
	line := cred.line
	if line == "" {
		line = h.line
	}
	m := paging.Message{
		ID: h.newID(now),
		Source: paging.Source{
			Protocol: paging.ProtocolWCTP,
			Line:     line,
			Sender:   req.SenderID,
			Address:  remote,
		},
		PagerID:   req.RecipientID,
		Priority:  req.priority(),
		Text:      req.Text,
		SenderRef: req.MessageID,
		Received:  now,
	}
	if h.classify != nil {
		if p := h.classify(m); p.Valid() {
			m.Priority = p
		}
	}
	id := m.ID.String()
	log.add(slog.String(keyID, id), slog.String(keyPriority, m.Priority.String()), slog.Int(keyTextLen, m.Text.Len()))
	if err := m.Validate(); err != nil {
		log.add(slog.Any(keyErr, err))
		fail(CodeValidation, "message invalid")
		return
	}
	ev := paging.AuditEvent{
		Actor:  "wctp:" + req.SenderID,
		Action: "message.accept",
		Object: "message/" + id,
		Source: remote,
	}
	var t *Tracked
	if h.tracker != nil {
		t = &Tracked{Party: Party{Client: req.Client, ID: req.SenderID}, Message: m.ID, Ref: req.MessageID,
			Recipient: req.RecipientID, Received: now, AllowResponse: !req.NoResponse,
			NotifyQueued: req.NotifyQueued, NotifyDelivered: req.NotifyDelivered, NotifyRead: req.NotifyRead}
	}
	ta, inOne := h.acc.(TrackedAccepter)
	var err error
	if t != nil && inOne {
		// The page and its bookkeeping in one commit: a sender that
		// hears 200 can always ask about the page.
		err = ta.AcceptTracked(ctx, &m, ev, *t)
	} else {
		err = h.acc.Accept(ctx, &m, ev)
	}
	if err != nil {
		log.add(slog.Any(keyErr, err))
		if errors.Is(err, paging.ErrInvalid) && !errors.Is(err, paging.ErrTemporary) {
			fail(CodeValidation, "message refused by the store")
			return
		}
		fail(CodeInternalError, "accept failed")
		return
	}
	if t != nil && !inOne {
		// After the accept, before the reply. A failure here loses the
		// page's status and replies, not the page, which is stored and
		// routed: the sender still hears 200, and the error is logged.
		if err := h.tracker.Track(ctx, *t); err != nil {
			h.log.LogAttrs(ctx, slog.LevelError, "wctp page accepted but not tracked: no status or replies for it",
				slog.String(keySender, req.SenderID), slog.String(keyID, id), slog.Any(keyErr, err))
		}
	}
	h.reply(w, log, v, req.Client, "", CodeSuccess, id)
	// Debug, not Info: the audit chain already records every accepted
	// page (who, when, from where), and a line per page at thousands of
	// pages a second would only trip journald's rate limit. Refusals stay
	// at Info and above.
	log.write(slog.LevelDebug, "wctp page accepted")
}

// fail answers with a wctp-Failure and logs why, without input text.
func (h *Handler) fail(w http.ResponseWriter, log *reqLog, e *Error) {
	if e.Version.Token == "" {
		e.Version, _ = lookupVersion(DefaultVersion)
	}
	log.add(slog.String(keyReason, e.Reason))
	h.reply(w, log, e.Version, e.Client, e.Op, e.Code, "")
	level := slog.LevelInfo
	if e.Code >= 600 {
		level = slog.LevelError
	}
	log.add(slog.Int(keyCode, e.Code))
	log.write(level, "wctp request refused")
}

// reply writes the answer to a submit, or a failure, with HTTP 200.
func (h *Handler) reply(w http.ResponseWriter, log *reqLog, v Version, client bool, op string, code int, tracking string) {
	h.write(w, log, code, replyBody(v, client, op, code, tracking))
}

// write sends a WCTP document with HTTP 200.
func (h *Handler) write(w http.ResponseWriter, log *reqLog, code int, body []byte) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/xml; charset=utf-8")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(body); err != nil {
		// After a successful submit this means the page is stored but
		// the sender may not know; it will retry and the page may arrive
		// twice. After a poll, what it carried is sent again by the next.
		log.add(slog.Any(keyErr, err))
		log.write(slog.LevelWarn, "wctp reply not sent")
	}
	if h.onResult != nil {
		h.onResult(http.StatusOK, code)
	}
}

// plain answers an HTTP-level refusal with a short text body.
func (h *Handler) plain(w http.ResponseWriter, log *reqLog, status int, msg string) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, msg+"\n")
	log.add(slog.Int(keyStatus, status), slog.String(keyReason, msg))
	log.write(slog.LevelInfo, "wctp request refused")
	if h.onResult != nil {
		h.onResult(status, 0)
	}
}

// xmlContentType reports whether a Content-Type names text/xml or
// application/xml. Parameters are ignored (the body must be UTF-8 whatever
// charset says), so a malformed one is no reason to refuse. What senders
// send is recognised without parsing it.
func xmlContentType(ct string) bool {
	switch ct {
	case "text/xml", "text/xml; charset=utf-8", "text/xml; charset=UTF-8", "application/xml":
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter) {
		return false
	}
	return mt == "text/xml" || mt == "application/xml"
}

// Request bodies are read into pooled buffers; one much larger than a page
// is left to the garbage collector instead.
const maxPooledBody = 64 << 10

var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// getBody returns an empty buffer with room for contentLength bytes (none
// if unknown) and the final read that finds the end.
func getBody(contentLength int64) *bytes.Buffer {
	b := bodyPool.Get().(*bytes.Buffer)
	b.Grow(int(max(contentLength, 0)) + bytes.MinRead)
	return b
}

func putBody(b *bytes.Buffer) {
	if b.Cap() > maxPooledBody {
		return
	}
	b.Reset()
	bodyPool.Put(b)
}

// truncate shortens an unauthenticated value before it is logged.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// reqLog gathers one request's log attributes as the request goes on and
// writes them in a single line at the end: cheaper than a slog.With per
// step, which formats the attributes every time. Typed attributes
// (slog.String, slog.Int) box nothing.
type reqLog struct {
	l     *slog.Logger
	attrs []slog.Attr
}

func (r *reqLog) add(attrs ...slog.Attr) { r.attrs = append(r.attrs, attrs...) }

func (r *reqLog) write(level slog.Level, msg string) {
	r.l.LogAttrs(context.Background(), level, msg, r.attrs...)
}
