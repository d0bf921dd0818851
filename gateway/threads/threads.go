package threads

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"

	"pagebridge/gateway/engine"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/routing"
	"pagebridge/storage"
)

// Errors of the service.
var (
	// ErrForbidden means the caller is not a member of the thread and the
	// access hook did not let them in.
	ErrForbidden = errors.New("forbidden: not a member of the thread")
	// ErrNobody means Compose reached nobody: a role with nobody on call,
	// everyone held back (do not disturb, off duty), or only the sender.
	// Nothing was stored.
	ErrNobody = errors.New("nobody to reach")
)

// Action is what a caller wants to do in a thread, for the access hook.
type Action string

const (
	ActionRead Action = "read"
	ActionPost Action = "post"
	ActionAdd  Action = "add"
)

// Caller is who acts: the person whose membership counts, and what the
// audit chain records.
type Caller struct {
	// Person is the caller's person ID.
	Person string
	// Actor is the audit actor ("token:… person:dr-lee"); default Person.
	Actor string
	// Source is the audit source (the client's address).
	Source string
}

func (c Caller) audit() paging.AuditEvent {
	actor := c.Actor
	if actor == "" {
		actor = c.Person
	}
	return paging.AuditEvent{Actor: actor, Source: c.Source}
}

// DirectorySource gives the directory to resolve with, as it is now (the
// engine's snapshot, reloaded when the directory changes).
type DirectorySource interface {
	Directory(ctx context.Context) (routing.Directory, error)
}

// DirectoryFunc adapts a function to DirectorySource.
type DirectoryFunc func(ctx context.Context) (routing.Directory, error)

// Directory calls f.
func (f DirectoryFunc) Directory(ctx context.Context) (routing.Directory, error) { return f(ctx) }

// Fixed is a DirectorySource that always gives d.
func Fixed(d routing.Directory) DirectorySource {
	return DirectoryFunc(func(context.Context) (routing.Directory, error) { return d, nil })
}

// Options configure a Service.
type Options struct {
	// Store holds the threads. Required.
	Store *storage.Store
	// Directory resolves Compose's targets. Required for Compose.
	Directory DirectorySource
	// Clock gives the time resolution and sweeps run at; default the
	// wall clock.
	Clock paging.Clock
	// Retention is how long thread messages are kept, per kind (its
	// PageSettled is the service's own: a page's route acknowledged).
	Retention storage.RetentionPolicy
	// Access, if set, decides whether a caller who is not a member may
	// do action in t anyway: the hook for the operators' console,
	// administrators and break-glass, which are the API's to decide.
	// Every access it grants is audited ("thread.access"). nil: members
	// only.
	Access func(ctx context.Context, as Caller, t storage.Thread, action Action) bool
	// Observe, if set, hears of every change the service committed,
	// after the commit: the web app's live updates. It runs on the
	// caller's goroutine and must not block.
	Observe func(Change)
	// Attachments is what a message may carry (zero: the default
	// policy).
	Attachments AttachmentPolicy
}

// ChangeKind says what changed in a thread.
type ChangeKind string

const (
	// ChangePost: a message was posted (Compose opened the thread with
	// it, or Reply).
	ChangePost ChangeKind = "post"
	// ChangeMembers: colleagues were added.
	ChangeMembers ChangeKind = "members"
	// ChangeReceipt: a member's receipt moved (Receipt), or a member read
	// the thread (Read: their unread count and read receipts).
	ChangeReceipt ChangeKind = "receipt"
)

// Change is what Options.Observe hears. It holds no PHI.
type Change struct {
	Kind   ChangeKind
	Thread paging.ID
	// Members are the thread's members after the change: who to tell.
	Members []string
	// Message is the message posted or receipted; zero for others.
	Message paging.ID
	// By is the person who made the change.
	By string
}

func (s *Service) observe(kind ChangeKind, t storage.Thread, msg paging.ID, by string) {
	if s.opts.Observe == nil {
		return
	}
	members := make([]string, len(t.Members))
	for i, m := range t.Members {
		members[i] = m.Person
	}
	s.opts.Observe(Change{Kind: kind, Thread: t.ID, Members: members, Message: msg, By: by})
}

// Service is the messaging side of routing: threads of pages and of
// staff, over the store.
type Service struct {
	st    *storage.Store
	opts  Options
	clock paging.Clock
}

// New returns a service.
func New(opts Options) (*Service, error) {
	if opts.Store == nil {
		return nil, errors.New("threads: store required")
	}
	if opts.Clock == nil {
		opts.Clock = paging.SystemClock{}
	}
	return &Service{st: opts.Store, opts: opts, clock: opts.Clock}, nil
}

// Content is a message: text, or a template and its values.
type Content struct {
	Text paging.PHI
	// Template names a stored template, rendered with Values.
	Template string
	Values   map[string]paging.PHI
	// Files are attached to the message, checked against the service's
	// AttachmentPolicy; with files, the text may be empty.
	Files []File
}

// text returns the message's text and the template it came from.
func (s *Service) text(ctx context.Context, c Content) (paging.PHI, string, error) {
	switch {
	case c.Template != "" && !c.Text.IsZero():
		return paging.PHI{}, "", fmt.Errorf("%w message: text or a template, not both", paging.ErrInvalid)
	case c.Template == "" && len(c.Values) > 0:
		return paging.PHI{}, "", fmt.Errorf("%w message: values without a template", paging.ErrInvalid)
	case c.Template == "" && c.Text.IsZero() && len(c.Files) == 0:
		return paging.PHI{}, "", fmt.Errorf("%w message: no text", paging.ErrInvalid)
	case c.Template == "":
		return c.Text, "", nil
	}
	t, err := s.st.Template(ctx, c.Template)
	if err != nil {
		return paging.PHI{}, "", err
	}
	text, err := Render(t, c.Values)
	return text, t.Name, err
}

// thread reads a thread and checks that as may do action in it.
func (s *Service) thread(ctx context.Context, as Caller, id paging.ID, action Action) (storage.Thread, bool, error) {
	if err := checkPerson(as.Person); err != nil {
		return storage.Thread{}, false, err
	}
	t, err := s.st.Thread(ctx, id)
	if err != nil {
		return t, false, err
	}
	if t.IsMember(as.Person) {
		return t, true, nil
	}
	if s.opts.Access == nil || !s.opts.Access(ctx, as, t, action) {
		return t, false, fmt.Errorf("thread %s: %s: %w", id, as.Person, ErrForbidden)
	}
	ev := as.audit()
	ev.Action, ev.Object = "thread.access", "thread/"+id.String()
	ev.Detail = fmt.Sprintf("%s is not a member; %s allowed by the access hook", as.Person, action)
	if err := s.st.Audit(ctx, s.clock.Now(), ev); err != nil {
		return t, false, fmt.Errorf("thread %s: audit access: %w", id, err)
	}
	return t, false, nil
}

func checkPerson(id string) error {
	if id == "" || len(id) > storage.MaxPersonIDLen || !utf8.ValidString(id) {
		return fmt.Errorf("%w caller: no person", paging.ErrInvalid)
	}
	return nil
}

// forbidden turns the store's refusal of a non-member into ErrForbidden.
func forbidden(err error) error {
	if errors.Is(err, storage.ErrNotMember) {
		return fmt.Errorf("%w (%v)", ErrForbidden, err)
	}
	return err
}

// Draft is a staff message that opens a thread.
type Draft struct {
	// To is a person (a direct thread), a group (its members) or a role
	// (whoever is on call for it now).
	To       paging.Target
	Priority paging.Priority
	// Subject is optional free text, sealed like the message: it may
	// name a patient.
	Subject paging.PHI
	Content
}

// Composed is what Compose did.
type Composed struct {
	Thread  storage.Thread
	Message paging.ID
	// Reached are the people the thread reached (its members besides the
	// sender), each with the reason; Held those it did not, with theirs.
	Reached []routing.Recipient
	Held    []routing.Recipient
}

// Compose opens a staff thread from as to d.To and posts the first
// message, in one commit. The target is resolved now, as a page would
// be (presence, forwards, who is on call), through the directory; the
// people it reaches become members with the reason as their note. A
// person target opens a direct thread (a new one each time), a group a
// group thread, a role a role thread.
//
// Errors: ErrNobody if nobody can be reached; paging.ErrNotFound for an
// unknown sender, person, group or template; paging.ErrInvalid for bad
// input, and a *TemplateError for a template and values that do not fit.
// Who may send critical is the API's to decide.
func (s *Service) Compose(ctx context.Context, as Caller, d Draft) (Composed, error) {
	if err := checkPerson(as.Person); err != nil {
		return Composed{}, err
	}
	if s.opts.Directory == nil {
		return Composed{}, errors.New("compose: no directory configured")
	}
	var kind storage.ThreadKind
	switch d.To.Kind {
	case paging.TargetPerson:
		kind = storage.ThreadDirect
	case paging.TargetGroup:
		kind = storage.ThreadGroup
	case paging.TargetRole:
		kind = storage.ThreadRole
	default:
		return Composed{}, fmt.Errorf("compose: %w target kind %q", paging.ErrInvalid, d.To.Kind)
	}
	text, tpl, err := s.text(ctx, d.Content)
	if err != nil {
		return Composed{}, fmt.Errorf("compose: %w", err)
	}
	files, err := s.policy().Check(d.Files)
	if err != nil {
		return Composed{}, fmt.Errorf("compose: %w", err)
	}
	dir, err := s.opts.Directory.Directory(ctx)
	if err != nil {
		return Composed{}, fmt.Errorf("compose: directory: %w", err)
	}
	from, ok := dir.Person(as.Person)
	if !ok {
		return Composed{}, fmt.Errorf("compose: sender %s: %w", as.Person, paging.ErrNotFound)
	}
	rs, err := routing.Resolve(dir, d.To, d.Priority, s.clock.Now())
	if err != nil {
		return Composed{}, fmt.Errorf("compose: %w", err)
	}
	var out Composed
	members := []storage.NewMember{{Person: as.Person, AddedBy: as.Person, Note: "sender"}}
	for _, rc := range rs {
		switch {
		case rc.Held:
			out.Held = append(out.Held, rc)
		case rc.Person != as.Person:
			out.Reached = append(out.Reached, rc)
			members = append(members, storage.NewMember{Person: rc.Person, AddedBy: as.Person, Note: rc.Reason})
		}
	}
	if len(out.Reached) == 0 {
		return out, fmt.Errorf("compose to %s: %w (%d held back)", d.To, ErrNobody, len(out.Held))
	}
	nt := storage.NewThread{
		Kind: kind, Label: composeLabel(dir, from, d.To), Subject: d.Subject, Priority: d.Priority,
		CreatedBy: as.Person, Target: d.To, Members: members,
		First: &storage.NewPost{Author: as.Person, Text: text, Template: tpl, Attachments: files},
	}
	out.Thread, out.Message, err = s.st.CreateThread(ctx, nt, as.audit())
	if err != nil {
		return Composed{}, fmt.Errorf("compose: %w", err)
	}
	s.observe(ChangePost, out.Thread, out.Message, as.Person)
	return out, nil
}

// composeLabel is a staff thread's non-PHI label: staff names only.
func composeLabel(dir routing.Directory, from paging.Person, to paging.Target) string {
	switch to.Kind {
	case paging.TargetPerson:
		p, _ := dir.Person(to.ID)
		return cut(fmt.Sprintf("direct · %s → %s", name(from), name(p)), storage.MaxLabelLen)
	case paging.TargetGroup:
		g, _ := dir.Group(to.ID)
		n := g.Name
		if n == "" {
			n = to.ID
		}
		return cut(fmt.Sprintf("group %s · from %s", n, name(from)), storage.MaxLabelLen)
	}
	return cut(fmt.Sprintf("role %s · from %s", to.ID, name(from)), storage.MaxLabelLen)
}

func name(p paging.Person) string {
	if p.Name != "" {
		return p.Name
	}
	return p.ID
}

// cut shortens s to at most n bytes at a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Reply posts a message to a thread as a member (or as someone the
// access hook lets post) and returns its ID.
func (s *Service) Reply(ctx context.Context, as Caller, thread paging.ID, c Content) (paging.ID, error) {
	t, _, err := s.thread(ctx, as, thread, ActionPost)
	if err != nil {
		return paging.ID{}, fmt.Errorf("reply: %w", err)
	}
	text, tpl, err := s.text(ctx, c)
	if err != nil {
		return paging.ID{}, fmt.Errorf("reply: %w", err)
	}
	files, err := s.policy().Check(c.Files)
	if err != nil {
		return paging.ID{}, fmt.Errorf("reply: %w", err)
	}
	id, err := s.st.PostMessage(ctx, thread, storage.NewPost{Author: as.Person, Text: text, Template: tpl, Attachments: files}, as.audit())
	if err != nil {
		return paging.ID{}, fmt.Errorf("reply: %w", err)
	}
	s.observe(ChangePost, t, id, as.Person)
	return id, nil
}

// AddColleague adds people to a thread on a member's behalf, recorded as
// added by them; it returns who was added (people already members are
// not added again).
func (s *Service) AddColleague(ctx context.Context, as Caller, thread paging.ID, people ...string) ([]string, error) {
	if _, _, err := s.thread(ctx, as, thread, ActionAdd); err != nil {
		return nil, fmt.Errorf("add colleague: %w", err)
	}
	if len(people) == 0 {
		return nil, fmt.Errorf("add colleague: %w: nobody", paging.ErrInvalid)
	}
	add := make([]storage.NewMember, 0, len(people))
	for _, p := range slices.Compact(slices.Sorted(slices.Values(people))) {
		add = append(add, storage.NewMember{Person: p, AddedBy: as.Person, Note: "added by a colleague"})
	}
	added, err := s.st.AddMembers(ctx, thread, add, as.audit())
	if err != nil {
		return nil, fmt.Errorf("add colleague: %w", err)
	}
	if len(added) > 0 && s.opts.Observe != nil {
		if t, err := s.st.Thread(ctx, thread); err == nil {
			s.observe(ChangeMembers, t, paging.ID{}, as.Person)
		}
	}
	return added, nil
}

// Read returns a thread with its subject and messages for a member
// reading it on channel, marking them read for them (their inbox's
// unread count, and read receipts). The read is audited. A caller the
// access hook lets in reads without marking anything.
func (s *Service) Read(ctx context.Context, as Caller, thread paging.ID, channel paging.Channel) (*storage.ThreadView, error) {
	_, member, err := s.thread(ctx, as, thread, ActionRead)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	var v *storage.ThreadView
	if member {
		v, err = s.st.ReadThread(ctx, thread, as.Person, channel, as.audit())
	} else {
		v, err = s.st.ThreadMessages(ctx, thread, as.audit())
	}
	if err != nil {
		return nil, fmt.Errorf("read: %w", forbidden(err))
	}
	if member {
		s.observe(ChangeReceipt, v.Thread, paging.ID{}, as.Person)
	}
	return v, nil
}

// Receipt records what the app reports of a message for the caller:
// delivered (on a live session), read, acknowledged. Only members hold
// receipts.
func (s *Service) Receipt(ctx context.Context, as Caller, thread, message paging.ID, state paging.State, channel paging.Channel) error {
	if err := checkPerson(as.Person); err != nil {
		return err
	}
	err := s.st.MarkReceipt(ctx, thread, message, as.Person, state, channel, s.clock.Now(), as.audit())
	if err != nil {
		return fmt.Errorf("receipt: %w", forbidden(err))
	}
	if s.opts.Observe != nil {
		if t, err := s.st.Thread(ctx, thread); err == nil {
			s.observe(ChangeReceipt, t, message, as.Person)
		}
	}
	return nil
}

// Inbox returns person's threads, newest activity first, with their
// priority and unread counts, from after on (the zero cursor: the top),
// at most limit. It shows labels, never subjects or texts, and is not
// audited; that person asks for their own inbox is the API's to check.
func (s *Service) Inbox(ctx context.Context, person string, limit int, after storage.InboxCursor) ([]storage.InboxEntry, error) {
	if err := checkPerson(person); err != nil {
		return nil, err
	}
	return s.st.ThreadsOf(ctx, person, limit, after)
}

// PutTemplate checks a template's text (ParseTemplate) and stores it.
func (s *Service) PutTemplate(ctx context.Context, as Caller, t storage.Template) error {
	if _, err := ParseTemplate(t.Text); err != nil {
		if te, ok := errors.AsType[*TemplateError](err); ok {
			te.Template = t.Name
		}
		return err
	}
	if t.UpdatedBy == "" {
		t.UpdatedBy = as.audit().Actor
	}
	return s.st.PutTemplate(ctx, t, as.audit())
}

// RenderTemplate renders the stored template name with values; an unknown
// template wraps paging.ErrNotFound.
func (s *Service) RenderTemplate(ctx context.Context, name string, values map[string]paging.PHI) (paging.PHI, error) {
	t, err := s.st.Template(ctx, name)
	if err != nil {
		return paging.PHI{}, err
	}
	return Render(t, values)
}

// Sweep applies the retention policy now: see storage.SweepRetention. A
// page thread is swept only once its page's route is acknowledged.
func (s *Service) Sweep(ctx context.Context) (storage.SweepReport, error) {
	p := s.opts.Retention
	p.PageSettled = s.pageSettled
	return s.st.SweepRetention(ctx, s.clock.Now(), p)
}

// pageSettled reports whether the engine's route of page is
// acknowledged; a page not routed (yet) is not.
func (s *Service) pageSettled(ctx context.Context, page paging.ID) (bool, error) {
	var r engine.Route
	switch err := s.st.Route(ctx, page, &r); {
	case errors.Is(err, paging.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return r.State == engine.StateAcknowledged, nil
}
