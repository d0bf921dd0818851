package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"pagebridge/gateway/paging"
	"pagebridge/gateway/routing"
	"pagebridge/gateway/threads"
	"pagebridge/storage"
)

// Secure threads. Every endpoint here is made as the token's person (the
// route table's AsPerson): their inbox, the threads they are a member of.
// Message texts and subjects are PHI: they are answered only to members,
// in the body of a successful reply, and never reach an error, a log line
// or the API's audit entry (the store audits each read and post itself).

// Bounds of GET /inbox.
const (
	DefaultInbox = storage.DefaultInboxLimit
	MaxInbox     = 200
)

// criticalSenders are the roles that may compose a critical message
// (DESIGN: "critical only for roles allowed to"): the operators, who run
// the switchboard, and administrators. A clinician's is refused (403)
// and nothing is stored.
var criticalSenders = []Role{RoleAdmin, RoleOperator}

var errNoThreads = fmt.Errorf("secure threads are not running: %w", paging.ErrTemporary)

// caller is who the service acts for: the token's person, with the API's
// actor and the client's address for the store's audit entries.
func caller(k *call) threads.Caller {
	return threads.Caller{Person: k.tok.Person, Actor: k.actor, Source: k.source}
}

// threadErr turns the service's refusal of a non-member into the API's
// 403 (audited and logged as a refusal).
func threadErr(k *call, id paging.ID, err error) error {
	if errors.Is(err, threads.ErrForbidden) {
		return forbidden("%s is not a member of thread %s", k.tok.Person, id)
	}
	return err
}

// refIn tells a thread that does not exist (404: the URL's) from a
// template or person named in the body that does not (400).
func (a *API) refIn(ctx context.Context, id paging.ID, err error) error {
	if !isNotFound(err) {
		return err
	}
	if _, terr := a.st.Thread(ctx, id); terr == nil {
		return refErr(err)
	}
	return err
}

func idParam(c *gin.Context, name, what string) (paging.ID, error) {
	id, err := paging.ParseID(c.Param(name))
	if err != nil {
		return id, fmt.Errorf("%w: %s id %q is not an ID", paging.ErrInvalid, what, clip(c.Param(name), 40))
	}
	return id, nil
}

// clip shortens s for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// Inbox.

type inboxEntry struct {
	storage.Thread
	// Unread counts messages of others after the person's last read.
	Unread int `json:"unread"`
}

type inboxReply struct {
	Threads []inboxEntry `json:"threads"`
	// Next is the after of the following page; empty at the end.
	Next string `json:"next,omitempty"`
}

// formatCursor writes an inbox position as "<activity in Unix ns>_<thread>".
func formatCursor(c storage.InboxCursor) string {
	return strconv.FormatInt(c.Activity.UnixNano(), 10) + "_" + c.Thread.String()
}

func parseCursor(s string) (storage.InboxCursor, error) {
	if s == "" {
		return storage.InboxCursor{}, nil
	}
	ns, id, ok := strings.Cut(s, "_")
	n, nerr := strconv.ParseInt(ns, 10, 64)
	tid, terr := paging.ParseID(id)
	if !ok || nerr != nil || terr != nil {
		return storage.InboxCursor{}, fmt.Errorf("%w: after is not a cursor (pass an earlier answer's next)", paging.ErrInvalid)
	}
	return storage.InboxCursor{Activity: time.Unix(0, n).UTC(), Thread: tid}, nil
}

// inbox lists the caller's threads, newest activity first: labels,
// priorities and unread counts, no subject or text.
func (a *API) inbox(c *gin.Context, k *call) (reply, error) {
	if a.threads == nil {
		return reply{}, errNoThreads
	}
	k.object = "inbox/" + k.tok.Person
	limit := DefaultInbox
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxInbox {
			return reply{}, fmt.Errorf("%w: limit %q, want 1 to %d", paging.ErrInvalid, clip(v, 20), MaxInbox)
		}
		limit = n
	}
	after, err := parseCursor(c.Query("after"))
	if err != nil {
		return reply{}, err
	}
	es, err := a.threads.Inbox(c.Request.Context(), k.tok.Person, limit, after)
	if err != nil {
		return reply{}, err
	}
	out := inboxReply{Threads: make([]inboxEntry, len(es))}
	for i, e := range es {
		out.Threads[i] = inboxEntry{Thread: e.Thread, Unread: e.Unread}
	}
	if len(es) == limit {
		out.Next = formatCursor(es[len(es)-1].Cursor())
	}
	return jsonReply(http.StatusOK, out)
}

// Reading a thread.

// threadView is a thread as a member reads it: the only place a subject
// or a text leaves the API.
type threadView struct {
	storage.Thread
	Subject  string        `json:"subject,omitempty"`
	Messages []messageView `json:"messages"`
}

type messageView struct {
	storage.ThreadMessage
	Text        string           `json:"text"`
	Attachments []attachmentView `json:"attachments,omitempty"`
}

func viewOf(v *storage.ThreadView) threadView {
	out := threadView{Thread: v.Thread, Subject: v.Subject.Reveal(), Messages: make([]messageView, len(v.Messages))}
	for i, m := range v.Messages {
		out.Messages[i] = messageView{ThreadMessage: m, Text: m.Text.Reveal(), Attachments: attachmentsOf(v.ID, m)}
	}
	return out
}

// readThread answers a thread with its messages to a member, marking them
// read for them on the app (their unread count, and read receipts). The
// store audits the read ("thread.read", and "message.read" of a page).
func (a *API) readThread(c *gin.Context, k *call) (reply, error) {
	id, err := a.threadParam(c)
	if err != nil {
		return reply{}, err
	}
	v, err := a.threads.Read(c.Request.Context(), caller(k), id, paging.ChannelApp)
	if err != nil {
		return reply{}, threadErr(k, id, err)
	}
	return jsonReply(http.StatusOK, viewOf(v))
}

// Writing.

// contentRequest is a message: text, or a template and its values; and
// files (the text may be empty then).
type contentRequest struct {
	Text     string            `json:"text,omitempty"`
	Template string            `json:"template,omitempty"`
	Values   map[string]string `json:"values,omitempty"`
	Files    []fileRequest     `json:"files,omitempty"`
}

func (r *contentRequest) content() threads.Content {
	out := threads.Content{Text: paging.NewPHI(r.Text), Template: r.Template, Files: filesOf(r.Files)}
	if len(r.Values) > 0 {
		out.Values = make(map[string]paging.PHI, len(r.Values))
		for name, v := range r.Values {
			out.Values[name] = paging.NewPHI(v)
		}
	}
	return out
}

// composeRequest is the body of POST /threads.
type composeRequest struct {
	To paging.Target `json:"to"`
	// Priority defaults to normal; critical only for criticalSenders.
	Priority paging.Priority `json:"priority"`
	// Subject is optional, PHI like the text.
	Subject string `json:"subject,omitempty"`
	contentRequest
}

type composedReply struct {
	Thread  storage.Thread      `json:"thread"`
	Message paging.ID           `json:"message"`
	Reached []routing.Recipient `json:"reached"`
	Held    []routing.Recipient `json:"held"`
}

// nobodyReply is the 409 of a message that reached nobody: who was held
// back, and why (do not disturb, off duty).
type nobodyReply struct {
	Error string              `json:"error"`
	Held  []routing.Recipient `json:"held"`
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// compose opens a staff thread from the caller to a person, a group or
// whoever is on call for a role, with its first message.
func (a *API) compose(c *gin.Context, k *call) (reply, error) {
	if a.threads == nil {
		return reply{}, errNoThreads
	}
	var req composeRequest
	if err := a.decodeContent(c, &req); err != nil {
		return reply{}, err
	}
	if req.Priority == paging.PriorityCritical && !slices.Contains(criticalSenders, k.tok.Role) {
		return reply{}, forbidden("a %s token may not send critical messages (admin and operator tokens may)", k.tok.Role)
	}
	out, err := a.threads.Compose(c.Request.Context(), caller(k), threads.Draft{To: req.To, Priority: req.Priority,
		Subject: paging.NewPHI(req.Subject), Content: req.content()})
	switch {
	case errors.Is(err, threads.ErrNobody):
		return jsonReply(http.StatusConflict, nobodyReply{Error: err.Error(), Held: nonNil(out.Held)})
	case err != nil:
		// An unknown target, template or sender is the body's, not the URL's.
		return reply{}, refErr(err)
	}
	k.object = "thread/" + out.Thread.ID.String()
	return jsonReply(http.StatusCreated, composedReply{Thread: out.Thread, Message: out.Message,
		Reached: nonNil(out.Reached), Held: nonNil(out.Held)})
}

type postedReply struct {
	Thread  paging.ID `json:"thread"`
	Message paging.ID `json:"message"`
}

// postReply posts a message to a thread the caller is a member of.
func (a *API) postReply(c *gin.Context, k *call) (reply, error) {
	id, err := a.threadParam(c)
	if err != nil {
		return reply{}, err
	}
	ctx := c.Request.Context()
	var req contentRequest
	if err := a.decodeContent(c, &req); err != nil {
		return reply{}, err
	}
	msg, err := a.threads.Reply(ctx, caller(k), id, req.content())
	if err != nil {
		return reply{}, a.refIn(ctx, id, threadErr(k, id, err))
	}
	return jsonReply(http.StatusCreated, postedReply{Thread: id, Message: msg})
}

// membersRequest is the body of POST /threads/{id}/members.
type membersRequest struct {
	People []string `json:"people"`
}

type membersReply struct {
	// Added are the people added; those already members are not.
	Added  []string       `json:"added"`
	Thread storage.Thread `json:"thread"`
}

// addColleagues adds people to a thread the caller is a member of.
func (a *API) addColleagues(c *gin.Context, k *call) (reply, error) {
	id, err := a.threadParam(c)
	if err != nil {
		return reply{}, err
	}
	ctx := c.Request.Context()
	var req membersRequest
	if err := decode(c, &req, false); err != nil {
		return reply{}, err
	}
	if len(req.People) > storage.MaxThreadMembers {
		return reply{}, fmt.Errorf("%w: more than %d people", paging.ErrInvalid, storage.MaxThreadMembers)
	}
	added, err := a.threads.AddColleague(ctx, caller(k), id, req.People...)
	if err != nil {
		return reply{}, a.refIn(ctx, id, threadErr(k, id, err))
	}
	t, err := a.st.Thread(ctx, id)
	if err != nil {
		return reply{}, err
	}
	return jsonReply(http.StatusOK, membersReply{Added: nonNil(added), Thread: t})
}

// receiptRequest is the body of POST /threads/{id}/messages/{msg}/receipt.
type receiptRequest struct {
	State paging.State `json:"state"`
	// Channel defaults to app.
	Channel paging.Channel `json:"channel,omitempty"`
}

// receipt records what the caller's app reports of a message: delivered,
// read or acknowledged ("sent" is the store's, set when it was posted).
func (a *API) receipt(c *gin.Context, k *call) (reply, error) {
	id, err := a.threadParam(c)
	if err != nil {
		return reply{}, err
	}
	msg, err := idParam(c, "msg", "message")
	if err != nil {
		return reply{}, err
	}
	var req receiptRequest
	if err := decode(c, &req, false); err != nil {
		return reply{}, err
	}
	switch req.State {
	case paging.StateDelivered, paging.StateRead, paging.StateAcknowledged:
	default:
		return reply{}, fmt.Errorf("%w receipt: state %q is not delivered, read or acknowledged", paging.ErrInvalid, clip(string(req.State), 20))
	}
	if req.Channel == "" {
		req.Channel = paging.ChannelApp
	}
	if !req.Channel.Valid() {
		return reply{}, fmt.Errorf("%w receipt: channel %q is not app, pager or sms", paging.ErrInvalid, clip(string(req.Channel), 20))
	}
	if err := a.threads.Receipt(c.Request.Context(), caller(k), id, msg, req.State, req.Channel); err != nil {
		return reply{}, threadErr(k, id, err)
	}
	return noContent()
}

// Templates: configuration written by administrators and IT, no PHI (the
// values a message is rendered with are, and are never stored). They are
// the store's, checked with threads.ParseTemplate, and served without the
// threads service.

// templateRequest is the body of PUT /templates/{id}.
type templateRequest struct {
	// Name defaults to the path's.
	Name        string `json:"name,omitempty"`
	Text        string `json:"text"`
	Description string `json:"description,omitempty"`
}

func (a *API) listTemplates(c *gin.Context, k *call) (reply, error) {
	ts, err := a.st.Templates(c.Request.Context())
	if err != nil {
		return reply{}, err
	}
	return jsonReply(http.StatusOK, map[string]any{"templates": nonNil(ts)})
}

func (a *API) getTemplate(c *gin.Context, k *call) (reply, error) {
	t, err := a.st.Template(c.Request.Context(), c.Param("id"))
	if err != nil {
		return reply{}, err
	}
	return jsonReply(http.StatusOK, t)
}

func (a *API) putTemplate(c *gin.Context, k *call) (reply, error) {
	ctx := c.Request.Context()
	var req templateRequest
	if err := decode(c, &req, false); err != nil {
		return reply{}, err
	}
	if err := pathBodyID(c, "id", &req.Name); err != nil {
		return reply{}, err
	}
	t := storage.Template{Name: req.Name, Text: req.Text, Description: req.Description}
	if err := a.saveTemplate(ctx, t, k.by()); err != nil {
		return reply{}, err
	}
	t, err := a.st.Template(ctx, req.Name)
	if err != nil {
		return reply{}, err
	}
	return jsonReply(http.StatusOK, t)
}

func (a *API) deleteTemplate(c *gin.Context, k *call) (reply, error) {
	if err := a.st.DeleteTemplate(c.Request.Context(), c.Param("id"), k.by()); err != nil {
		return reply{}, err
	}
	return noContent()
}

// threadParam is the thread named in the path, once the threads service
// is known to be there.
func (a *API) threadParam(c *gin.Context) (paging.ID, error) {
	if a.threads == nil {
		return paging.ID{}, errNoThreads
	}
	return idParam(c, "id", "thread")
}
