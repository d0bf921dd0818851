package storage

// Secure threads (schema 6): the conversations of the app. A page that
// lands in the app becomes a thread; staff also write to each other
// directly, to groups and to roles.
//
// Layout:
//
//	threads           thread ID → thread record (JSON; the subject sealed)
//	thread.posts      thread ID ‖ message ID → message record (JSON; the text
//	                  sealed; a page's entry holds no text, only the reference)
//	thread.receipts   thread ID ‖ message ID ‖ person → receipt (JSON)
//	thread.inbox      len(person) (2, BE) ‖ person ‖ ^activity (8) ‖ thread ID
//	                  → nothing: a person's threads, newest activity first
//	thread.activity   kind (1) ‖ activity (8) ‖ thread ID → nothing: threads
//	                  by last activity, for the retention sweep
//	thread.age        kind (1) ‖ message ID → thread ID: messages by age, for
//	                  the retention sweep
//	templates         name → message template (JSON)
//
// Activity times are encoded as dueBytes (sortable); in the inbox they are
// inverted so that a forward cursor walks newest first. Message IDs are
// ULIDs, so a thread's messages sort by time, and so does thread.age within
// each kind.
//
// What is PHI here: message text and a thread's subject (free text a
// creator chose: it may well name a patient, so it is sealed like the
// text). A thread's Label is not: it is made by the code from staff data
// and the page's source and pager ID ("4W nurse call · pager 1002"), and it
// is what an inbox shows without an audited read. Receipts, members and
// templates hold no PHI; a template's values do, and are never stored
// (only the rendered text, sealed as a message).
//
// Caveats:
//
//   - The retention sweep deletes a page thread's entry, a reference, not
//     the page Accept stored in messages, nor its route: those need a
//     retention of their own.
//   - Deleted values leave bbolt's free pages holding their sealed bytes
//     until the pages are reused (the file never shrinks): ciphertext, but
//     no crypto-erasure, since data keys are per session, not per thread.
//   - ThreadMessages and ReadThread return a whole thread; retention bounds
//     it, paging through a long one is not offered yet.
//   - A Label must hold no PHI: storage cannot tell, and shows it unaudited.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"pagebridge/gateway/paging"
)

// Buckets of the threads (schema 6).
var (
	bucketThreads        = []byte("threads")
	bucketThreadPosts    = []byte("thread.posts")
	bucketThreadReceipts = []byte("thread.receipts")
	bucketThreadInbox    = []byte("thread.inbox")
	bucketThreadActivity = []byte("thread.activity")
	bucketThreadAge      = []byte("thread.age")
	bucketTemplates      = []byte("templates")
)

// migrateV6 adds the thread buckets. Pages accepted before it get no
// thread: their routes stand as they were, and opening threads for old
// pages would fill inboxes with the past.
func migrateV6(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketThreads, bucketThreadPosts, bucketThreadReceipts, bucketThreadInbox,
		bucketThreadActivity, bucketThreadAge, bucketTemplates} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("bucket %s: %w", name, err)
		}
	}
	return nil
}

// Limits on threads.
const (
	MaxThreadMembers = 500
	MaxPersonIDLen   = 256
	MaxLabelLen      = 200
	// MaxSubjectLen bounds a thread's subject, in bytes.
	MaxSubjectLen = 500
	// MaxTemplateNameLen and MaxTemplateLen bound a template's name and
	// text, in bytes.
	MaxTemplateNameLen = 64
	MaxTemplateLen     = 4096
	// MaxUnread is the most unread messages an inbox entry counts; more
	// show as MaxUnread ("999+").
	MaxUnread = 999
	// DefaultInboxLimit is ThreadsOf's limit when it is given none.
	DefaultInboxLimit = 50
)

// ErrNotMember means the person is not a member of the thread: they may
// not hold a receipt in it or mark it read. It wraps paging.ErrInvalid.
var ErrNotMember = fmt.Errorf("%w: not a member of the thread", paging.ErrInvalid)

// ThreadKind says how a thread was opened.
type ThreadKind string

const (
	// ThreadPage: opened by a bridged page; the thread's ID is the page's
	// message ID.
	ThreadPage ThreadKind = "page"
	// ThreadDirect: staff to a person.
	ThreadDirect ThreadKind = "direct"
	// ThreadGroup: staff to a group's members.
	ThreadGroup ThreadKind = "group"
	// ThreadRole: staff to whoever was on call for a role.
	ThreadRole ThreadKind = "role"
)

// ThreadKinds lists every kind.
var ThreadKinds = []ThreadKind{ThreadPage, ThreadDirect, ThreadGroup, ThreadRole}

// Valid reports whether k is a defined kind.
func (k ThreadKind) Valid() bool { return k.code() != 0 }

// code is the kind's byte in the sweep indexes.
func (k ThreadKind) code() byte {
	switch k {
	case ThreadPage:
		return 1
	case ThreadDirect:
		return 2
	case ThreadGroup:
		return 3
	case ThreadRole:
		return 4
	}
	return 0
}

// Member is a person in a thread: who added them, when, and why.
type Member struct {
	Person string    `json:"person"`
	Added  time.Time `json:"added"`
	// AddedBy is a person ID, or what added them for the system
	// ("escalation step 2").
	AddedBy string `json:"added_by"`
	// Note says why, without PHI (a routing reason, "on call for role
	// cardiology").
	Note string `json:"note,omitempty"`
	// LastRead is the newest message the person has read in the thread
	// (ReadThread): everything up to it counts as read in their inbox.
	LastRead paging.ID `json:"last_read,omitzero"`
}

// Thread is a thread's record without its subject. Nothing in it is PHI.
type Thread struct {
	ID   paging.ID  `json:"id"`
	Kind ThreadKind `json:"kind"`
	// Label is a non-PHI title made by the code: "4W nurse call · pager
	// 1002", "direct · Dr Lee → Dr Kim".
	Label     string          `json:"label"`
	Priority  paging.Priority `json:"priority"`
	Created   time.Time       `json:"created"`
	CreatedBy string          `json:"created_by"`
	// Target is what the thread was addressed to (a page's pager ID
	// target; a person, group or role).
	Target       paging.Target `json:"target"`
	Members      []Member      `json:"members"`
	LastActivity time.Time     `json:"last_activity"`
	// HasSubject says a sealed subject is stored (read it with
	// ReadThread or ThreadMessages, which audit the read).
	HasSubject bool `json:"-"`
}

// Member returns the person's membership.
func (t *Thread) Member(person string) (Member, bool) {
	if i := t.memberIndex(person); i >= 0 {
		return t.Members[i], true
	}
	return Member{}, false
}

// IsMember reports whether person is a member.
func (t *Thread) IsMember(person string) bool { return t.memberIndex(person) >= 0 }

func (t *Thread) memberIndex(person string) int {
	return slices.IndexFunc(t.Members, func(m Member) bool { return m.Person == person })
}

// threadRecord is a thread as stored.
type threadRecord struct {
	Thread
	// Subject is the sealed subject; empty for none.
	Subject []byte `json:"subject,omitempty"`
}

// PostKind says what a thread message is.
type PostKind string

const (
	// PostPage is the bridged page: a reference to the message Accept
	// stored, never a copy of its text.
	PostPage PostKind = "page"
	// PostText is a reply or staff message, its text sealed here.
	PostText PostKind = "text"
)

// postRecord is a thread message as stored.
type postRecord struct {
	ID       paging.ID `json:"id"`
	Kind     PostKind  `json:"kind"`
	Author   string    `json:"author,omitempty"`
	At       time.Time `json:"at"`
	Template string    `json:"template,omitempty"`
	// Text is the sealed text of a PostText.
	Text []byte `json:"text,omitempty"`
	// Attachments of a PostText (attachments.go).
	Attachments []attachmentRecord `json:"attachments,omitempty"`
}

// ThreadMessage is a thread message as read, text included.
type ThreadMessage struct {
	ID     paging.ID `json:"id"`
	Thread paging.ID `json:"thread"`
	Kind   PostKind  `json:"kind"`
	// Author is the person who wrote it; empty for a page.
	Author string    `json:"author,omitempty"`
	At     time.Time `json:"at"`
	// Template names the template it was rendered from, if any.
	Template string `json:"template,omitempty"`
	// Text is the message's text; for a page, the page's (empty if the
	// page is no longer stored).
	Text paging.PHI `json:"-"`
	// Page describes a page entry (nil for text, or a page no longer
	// stored).
	Page *PageRef `json:"page,omitempty"`
	// Receipts are the recipients' receipts of a text message, by person.
	// A page's are its deliveries, kept by the routing engine.
	Receipts []Receipt `json:"receipts,omitempty"`
	// Attachments describes the message's attachments (their bytes:
	// ReadAttachment).
	Attachments []Attachment `json:"attachments,omitempty"`
}

// PageRef is what a thread shows of a page besides its text; no PHI.
type PageRef struct {
	Source    paging.Source   `json:"source"`
	PagerID   string          `json:"pager_id"`
	Priority  paging.Priority `json:"priority"`
	SenderRef string          `json:"sender_ref,omitempty"`
	Received  time.Time       `json:"received"`
}

// Receipt is how far a text message has come with one recipient.
type Receipt struct {
	Person string       `json:"person"`
	State  paging.State `json:"state"`
	// Channel is where the last state was reported.
	Channel      paging.Channel `json:"channel,omitempty"`
	Sent         time.Time      `json:"sent,omitzero"`
	Delivered    time.Time      `json:"delivered,omitzero"`
	Read         time.Time      `json:"read,omitzero"`
	Acknowledged time.Time      `json:"acknowledged,omitzero"`
}

// receiptRank orders the states a receipt may take; 0 for any other.
func receiptRank(s paging.State) int {
	switch s {
	case paging.StateSent:
		return 1
	case paging.StateDelivered:
		return 2
	case paging.StateRead:
		return 3
	case paging.StateAcknowledged:
		return 4
	}
	return 0
}

// advance moves the receipt to state on channel at at, if that is further
// than it is; it reports whether it moved. Steps a channel cannot report
// may be skipped (acknowledged straight from sent).
func (r *Receipt) advance(state paging.State, channel paging.Channel, at time.Time) bool {
	if receiptRank(state) <= receiptRank(r.State) {
		return false
	}
	r.State, r.Channel = state, channel
	switch state {
	case paging.StateSent:
		r.Sent = at
	case paging.StateDelivered:
		r.Delivered = at
	case paging.StateRead:
		r.Read = at
	case paging.StateAcknowledged:
		r.Acknowledged = at
	}
	return true
}

// ThreadView is a thread as read by a person: its subject and messages.
type ThreadView struct {
	Thread
	Subject  paging.PHI
	Messages []ThreadMessage
}

// InboxEntry is one thread of a person's inbox.
type InboxEntry struct {
	Thread
	// Unread counts the messages after the person's LastRead that others
	// wrote (the page included), up to MaxUnread.
	Unread int
}

// Cursor is where the listing after e goes on (ThreadsOf's after).
func (e InboxEntry) Cursor() InboxCursor {
	return InboxCursor{Activity: e.LastActivity, Thread: e.ID}
}

// InboxCursor is a place in a person's inbox; the zero value is the top.
type InboxCursor struct {
	Activity time.Time
	Thread   paging.ID
}

// NewMember is a person to add to a thread.
type NewMember struct {
	Person string
	// AddedBy and Note: see Member.
	AddedBy string
	Note    string
}

// NewPost is a message to post.
type NewPost struct {
	Author string
	Text   paging.PHI
	// Template names the template the text was rendered from, if any.
	Template string
	// Attachments are stored with the message, sealed; a message with
	// attachments may have no text.
	Attachments []NewAttachment
}

// NewThread is a thread to create.
type NewThread struct {
	Kind ThreadKind
	// Page is the page's message ID for a ThreadPage (the thread's ID);
	// zero for the others, which get a new ID.
	Page      paging.ID
	Label     string
	Subject   paging.PHI // optional; sealed
	Priority  paging.Priority
	CreatedBy string
	Target    paging.Target
	Members   []NewMember
	// First, if set, is posted in the same commit (staff threads).
	First *NewPost
}

func objectThread(id paging.ID) string { return "thread/" + id.String() }

// Field names bound into sealed values.
const (
	fieldSubject = "subject"
	// fieldText ("text") as for messages.
)

// Key encodings.

func postKey(thread, msg paging.ID) []byte {
	return append(append(make([]byte, 0, 32), thread[:]...), msg[:]...)
}

func receiptKey(thread, msg paging.ID, person string) []byte {
	return append(postKey(thread, msg), person...)
}

func inboxPrefix(person string) []byte {
	k := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(person)+24), uint16(len(person)))
	return append(k, person...)
}

func inboxKey(person string, activity time.Time, id paging.ID) []byte {
	k := inboxPrefix(person)
	for _, b := range dueBytes(activity) {
		k = append(k, ^b)
	}
	return append(k, id[:]...)
}

func activityKey(kind ThreadKind, at time.Time, id paging.ID) []byte {
	k := append([]byte{kind.code()}, dueBytes(at)...)
	return append(k, id[:]...)
}

func ageKey(kind ThreadKind, msg paging.ID) []byte {
	return append([]byte{kind.code()}, msg[:]...)
}

// idTime is the time of a ULID, to the millisecond.
func idTime(id paging.ID) time.Time { return time.UnixMilli(int64(id.Time())).UTC() }

func toID(b []byte) (paging.ID, error) {
	var id paging.ID
	if len(b) != len(id) {
		return id, fmt.Errorf("%w: id of %d bytes", ErrCorrupt, len(b))
	}
	copy(id[:], b)
	return id, nil
}

// Validation of what callers give.

func validPerson(id string) error {
	if id == "" || len(id) > MaxPersonIDLen || !utf8.ValidString(id) {
		return fmt.Errorf("%w person id: must be 1 to %d bytes of UTF-8", paging.ErrInvalid, MaxPersonIDLen)
	}
	return nil
}

func validText(what string, p paging.PHI, maxLen int) error {
	switch {
	case p.Len() > maxLen:
		return fmt.Errorf("%w %s: longer than %d bytes", paging.ErrInvalid, what, maxLen)
	case !utf8.ValidString(p.Reveal()):
		return fmt.Errorf("%w %s: not valid UTF-8", paging.ErrInvalid, what)
	}
	return nil
}

func validMembers(ms []NewMember) error {
	if len(ms) > MaxThreadMembers {
		return fmt.Errorf("%w thread: more than %d members", paging.ErrInvalid, MaxThreadMembers)
	}
	for _, m := range ms {
		if err := validPerson(m.Person); err != nil {
			return err
		}
	}
	return nil
}

// Reading records inside a transaction.

func getThread(tx *bolt.Tx, id paging.ID) (*threadRecord, error) {
	v := tx.Bucket(bucketThreads).Get(id[:])
	if v == nil {
		return nil, fmt.Errorf("thread %s: %w", id, paging.ErrNotFound)
	}
	return decodeThread(id, v)
}

func decodeThread(id paging.ID, v []byte) (*threadRecord, error) {
	var r threadRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("%w: thread %s: %v", ErrCorrupt, id, err)
	}
	if r.ID != id {
		return nil, fmt.Errorf("%w: thread record %s stored under %s", ErrCorrupt, r.ID, id)
	}
	r.HasSubject = len(r.Subject) > 0
	return &r, nil
}

func decodePost(k, v []byte) (*postRecord, error) {
	var p postRecord
	if err := json.Unmarshal(v, &p); err != nil {
		return nil, fmt.Errorf("%w: thread message %x: %v", ErrCorrupt, k, err)
	}
	if len(k) != 32 || !bytes.Equal(p.ID[:], k[16:]) {
		return nil, fmt.Errorf("%w: thread message %s stored under %x", ErrCorrupt, p.ID, k)
	}
	return &p, nil
}

// Writing records inside a transaction.

func (t *txn) putThread(r *threadRecord) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return t.Bucket(bucketThreads).Put(r.ID[:], v)
}

// addMembers adds the people of add who are not members of r yet, with
// their inbox entries, and returns who was added. Each must be a stored
// person, and the thread may not grow past MaxThreadMembers; with lenient
// set, who cannot be added is passed over instead (a page's thread: the
// engine's directory snapshot may lag a deletion, and a thread must never
// be why a page is not routed).
func (t *txn) addMembers(r *threadRecord, add []NewMember, at time.Time, lenient bool) ([]string, error) {
	var added []string
	inbox := t.Bucket(bucketThreadInbox)
	for _, m := range add {
		if r.IsMember(m.Person) {
			continue
		}
		switch {
		case !exists(t, bucketPeople, m.Person):
			if lenient {
				continue
			}
			return nil, fmt.Errorf("member %s: person %w", m.Person, paging.ErrNotFound)
		case len(r.Members) >= MaxThreadMembers:
			if lenient {
				continue
			}
			return nil, fmt.Errorf("%w thread %s: more than %d members", paging.ErrInvalid, r.ID, MaxThreadMembers)
		}
		r.Members = append(r.Members, Member{Person: m.Person, Added: at, AddedBy: clip(m.AddedBy, maxAuditField),
			Note: clip(m.Note, maxAuditField)})
		if err := inbox.Put(inboxKey(m.Person, r.LastActivity, r.ID), nil); err != nil {
			return nil, err
		}
		added = append(added, m.Person)
	}
	return added, nil
}

// addedDetail says who was added by whom: "added dr-kim (by dr-lee),
// dr-ng (by escalation step 2)".
func addedDetail(added []string, people []NewMember) string {
	parts := make([]string, len(added))
	for i, p := range added {
		j := slices.IndexFunc(people, func(m NewMember) bool { return m.Person == p })
		parts[i] = fmt.Sprintf("%s (by %s)", p, people[j].AddedBy)
	}
	return "added " + strings.Join(parts, ", ")
}

// touch moves r's last activity forward to at (never back), with its
// members' inbox entries and its sweep entry. The caller stores r.
func (t *txn) touch(r *threadRecord, at time.Time) error {
	if !at.After(r.LastActivity) {
		return nil
	}
	inbox := t.Bucket(bucketThreadInbox)
	for _, m := range r.Members {
		if err := inbox.Delete(inboxKey(m.Person, r.LastActivity, r.ID)); err != nil {
			return err
		}
		if err := inbox.Put(inboxKey(m.Person, at, r.ID), nil); err != nil {
			return err
		}
	}
	act := t.Bucket(bucketThreadActivity)
	if err := act.Delete(activityKey(r.Kind, r.LastActivity, r.ID)); err != nil {
		return err
	}
	if err := act.Put(activityKey(r.Kind, at, r.ID), nil); err != nil {
		return err
	}
	r.LastActivity = at
	return nil
}

// postPut is a text message validated and sealed outside the commit loop.
type postPut struct {
	id, thread paging.ID
	author     string
	template   string
	at         time.Time
	value      []byte
	dek        uint64
	// chunks of the attachments, and the data keys their records were
	// sealed with.
	chunks  []sealedChunk
	attDEKs []uint64
}

func (s *Store) preparePost(thread paging.ID, p NewPost, at time.Time) (*postPut, error) {
	if err := validPerson(p.Author); err != nil {
		return nil, fmt.Errorf("author: %w", err)
	}
	if err := validText("message text", p.Text, paging.MaxTextLen); err != nil {
		return nil, err
	}
	if p.Text.IsZero() && len(p.Attachments) == 0 {
		return nil, fmt.Errorf("%w message: no text", paging.ErrInvalid)
	}
	if len(p.Template) > MaxTemplateNameLen {
		return nil, fmt.Errorf("%w message: template name longer than %d bytes", paging.ErrInvalid, MaxTemplateNameLen)
	}
	id := paging.NewID(at)
	text, err := s.sealer.seal(bucketThreadPosts, postKey(thread, id), fieldText, []byte(p.Text.Reveal()))
	if err != nil {
		return nil, err
	}
	atts, chunks, deks, err := s.sealAttachments(thread, id, p.Attachments)
	if err != nil {
		return nil, err
	}
	rec := postRecord{ID: id, Kind: PostText, Author: p.Author, At: at, Template: p.Template, Text: text.value, Attachments: atts}
	v, err := json.Marshal(&rec)
	if err != nil {
		return nil, err
	}
	return &postPut{id: id, thread: thread, author: p.Author, template: p.Template, at: at, value: v, dek: text.dek,
		chunks: chunks, attDEKs: deks}, nil
}

// write stores the message in r with a "sent" receipt (on the app: it is
// in their thread) for every other member, moves the thread's activity
// and audits the post, without the text. The caller stores r.
func (p *postPut) write(t *txn, r *threadRecord, by paging.AuditEvent) error {
	if err := t.s.sealer.store(t, p.dek); err != nil {
		return err
	}
	for _, id := range p.attDEKs {
		if err := t.s.sealer.store(t, id); err != nil {
			return err
		}
	}
	if err := t.Bucket(bucketThreadPosts).Put(postKey(r.ID, p.id), p.value); err != nil {
		return err
	}
	for _, c := range p.chunks {
		if err := t.Bucket(bucketThreadAttachments).Put(c.key, c.value); err != nil {
			return err
		}
	}
	if err := t.Bucket(bucketThreadAge).Put(ageKey(r.Kind, p.id), r.ID[:]); err != nil {
		return err
	}
	n := 0
	for _, m := range r.Members {
		if m.Person == p.author {
			continue
		}
		rc := Receipt{Person: m.Person, State: paging.StateSent, Channel: paging.ChannelApp, Sent: p.at}
		v, err := json.Marshal(&rc)
		if err != nil {
			return err
		}
		if err := t.Bucket(bucketThreadReceipts).Put(receiptKey(r.ID, p.id, m.Person), v); err != nil {
			return err
		}
		n++
	}
	if err := t.touch(r, p.at); err != nil {
		return err
	}
	detail := fmt.Sprintf("message %s by %s to %d members", p.id, p.author, n)
	if p.template != "" {
		detail += ", template " + p.template
	}
	if len(p.chunks) > 0 {
		detail += fmt.Sprintf(", with attachments in %d chunks", len(p.chunks))
	}
	by.Action, by.Object, by.Detail = "thread.post", objectThread(r.ID), detail
	return t.appendAudit(draftAudit(p.at, by))
}

// threadPut is a thread validated and sealed outside the commit loop.
type threadPut struct {
	rec     threadRecord // ID, kind, label, priority, target, creator, subject
	members []NewMember
	subDEK  uint64
	first   *postPut
	at      time.Time
	by      paging.AuditEvent
}

func (s *Store) prepareThread(nt NewThread, by paging.AuditEvent) (*threadPut, error) {
	switch {
	case !nt.Kind.Valid():
		return nil, fmt.Errorf("%w thread: unknown kind %q", paging.ErrInvalid, nt.Kind)
	case nt.Kind == ThreadPage && nt.Page == (paging.ID{}):
		return nil, fmt.Errorf("%w thread: a page thread needs its page", paging.ErrInvalid)
	case nt.Kind != ThreadPage && nt.Page != (paging.ID{}):
		return nil, fmt.Errorf("%w thread: only a page thread has a page", paging.ErrInvalid)
	case nt.Kind == ThreadPage && nt.First != nil:
		return nil, fmt.Errorf("%w thread: a page thread starts with its page", paging.ErrInvalid)
	case !nt.Priority.Valid():
		return nil, fmt.Errorf("%w thread: %v", paging.ErrInvalid, nt.Priority)
	case nt.Label == "" || len(nt.Label) > MaxLabelLen || !utf8.ValidString(nt.Label):
		return nil, fmt.Errorf("%w thread: label must be 1 to %d bytes of UTF-8", paging.ErrInvalid, MaxLabelLen)
	case nt.CreatedBy == "":
		return nil, fmt.Errorf("%w thread: no creator", paging.ErrInvalid)
	case nt.Kind != ThreadPage && len(nt.Members) == 0:
		return nil, fmt.Errorf("%w thread: no members", paging.ErrInvalid)
	}
	if err := validMembers(nt.Members); err != nil {
		return nil, fmt.Errorf("thread: %w", err)
	}
	if err := validText("thread subject", nt.Subject, MaxSubjectLen); err != nil {
		return nil, err
	}
	at := s.now().UTC()
	id := nt.Page
	if nt.Kind != ThreadPage {
		id = paging.NewID(at)
	}
	p := &threadPut{at: at, by: by, members: nt.Members, rec: threadRecord{Thread: Thread{
		ID: id, Kind: nt.Kind, Label: nt.Label, Priority: nt.Priority, Created: at,
		CreatedBy: clip(nt.CreatedBy, maxAuditField), Target: nt.Target, LastActivity: at,
	}}}
	if !nt.Subject.IsZero() {
		sub, err := s.sealer.seal(bucketThreads, id[:], fieldSubject, []byte(nt.Subject.Reveal()))
		if err != nil {
			return nil, err
		}
		p.rec.Subject, p.subDEK, p.rec.HasSubject = sub.value, sub.dek, true
	}
	if nt.First != nil {
		first, err := s.preparePost(id, *nt.First, at)
		if err != nil {
			return nil, err
		}
		p.first = first
	}
	return p, nil
}

// apply creates the thread in t, or, if a thread with its ID exists (a
// page's, opened again as escalation reaches more people), adds the
// members it lacks. It returns the thread as stored.
func (p *threadPut) apply(t *txn) (Thread, error) {
	id := p.rec.ID
	if v := t.Bucket(bucketThreads).Get(id[:]); v != nil {
		r, err := decodeThread(id, v)
		if err != nil {
			return Thread{}, err
		}
		if r.Kind != p.rec.Kind || p.first != nil {
			return Thread{}, fmt.Errorf("%w: thread %s exists already", paging.ErrInvalid, id)
		}
		added, err := t.addMembers(r, p.members, p.at, r.Kind == ThreadPage)
		if err != nil || len(added) == 0 {
			return r.Thread, err
		}
		if err := t.touch(r, p.at); err != nil {
			return Thread{}, err
		}
		if err := t.putThread(r); err != nil {
			return Thread{}, err
		}
		by := p.by
		by.Action, by.Object, by.Detail = "thread.add", objectThread(id), addedDetail(added, p.members)
		return r.Thread, t.appendAudit(draftAudit(p.at, by))
	}

	r := p.rec // a copy: apply may run again in a new transaction
	r.Members = nil
	if _, err := t.addMembers(&r, p.members, p.at, r.Kind == ThreadPage); err != nil {
		return Thread{}, err
	}
	if err := t.Bucket(bucketThreadActivity).Put(activityKey(r.Kind, r.LastActivity, id), nil); err != nil {
		return Thread{}, err
	}
	if p.subDEK != 0 {
		if err := t.s.sealer.store(t, p.subDEK); err != nil {
			return Thread{}, err
		}
	}
	detail := fmt.Sprintf("%s thread to %s, %d members", r.Kind, r.Target, len(r.Members))
	if r.Kind == ThreadPage {
		// The page's entry: a reference to the message Accept stored.
		v := t.Bucket(bucketMessages).Get(id[:])
		if v == nil {
			return Thread{}, fmt.Errorf("page %s: %w", id, paging.ErrNotFound)
		}
		var m messageRecord
		if err := json.Unmarshal(v, &m); err != nil {
			return Thread{}, fmt.Errorf("%w: message %s: %v", ErrCorrupt, id, err)
		}
		pv, err := json.Marshal(&postRecord{ID: id, Kind: PostPage, At: m.Received})
		if err != nil {
			return Thread{}, err
		}
		if err := t.Bucket(bucketThreadPosts).Put(postKey(id, id), pv); err != nil {
			return Thread{}, err
		}
		if err := t.Bucket(bucketThreadAge).Put(ageKey(r.Kind, id), id[:]); err != nil {
			return Thread{}, err
		}
		detail = fmt.Sprintf("page thread of message/%s, %d members", id, len(r.Members))
	}
	by := p.by
	by.Action, by.Object, by.Detail = "thread.create", objectThread(id), detail
	if err := t.appendAudit(draftAudit(p.at, by)); err != nil {
		return Thread{}, err
	}
	if p.first != nil {
		if err := p.first.write(t, &r, p.by); err != nil {
			return Thread{}, err
		}
	}
	if err := t.putThread(&r); err != nil {
		return Thread{}, err
	}
	return r.Thread, nil
}

// CreateThread creates a thread with its members (each a stored person,
// paging.ErrNotFound otherwise) and, if nt.First is set, its first
// message, in one commit, audited as "thread.create" (and "thread.post")
// for by. A subject is sealed.
//
// A page thread's ID is its page's (which must be stored: paging.ErrNotFound
// otherwise), and its first entry references the page. Creating a page
// thread that exists already adds the members it lacks ("thread.add") and
// returns it: the routing engine opens it again as escalation reaches more
// people. A page thread passes over members who are not stored persons,
// or beyond MaxThreadMembers, rather than fail: the engine may open it in
// a routing step's commit, which a thread must not fail. Any other
// existing thread is an error wrapping paging.ErrInvalid.
//
// It returns the thread and the ID of its first message (zero without
// nt.First).
func (s *Store) CreateThread(ctx context.Context, nt NewThread, by paging.AuditEvent) (Thread, paging.ID, error) {
	p, err := s.prepareThread(nt, by)
	if err != nil {
		return Thread{}, paging.ID{}, fmt.Errorf("create thread: %w", err)
	}
	var out Thread
	err = s.do(ctx, func(tx *txn) error {
		var err error
		out, err = p.apply(tx)
		return err
	})
	if err != nil {
		return Thread{}, paging.ID{}, fmt.Errorf("create thread %s: %w", p.rec.ID, err)
	}
	var first paging.ID
	if p.first != nil {
		first = p.first.id
	}
	return out, first, nil
}

// Thread returns a thread without its subject; paging.ErrNotFound if
// there is none. It reads no PHI and is not audited.
func (s *Store) Thread(ctx context.Context, id paging.ID) (Thread, error) {
	var out Thread
	err := s.view(ctx, func(tx *bolt.Tx) error {
		r, err := getThread(tx, id)
		if err == nil {
			out = r.Thread
		}
		return err
	})
	return out, err
}

// AddMembers adds people to a thread (each a stored person, paging.ErrNotFound
// otherwise) and returns who was added: people already members are left
// as they are, so adding is idempotent. The additions move the thread's
// activity (it comes up in every member's inbox) and are audited as one
// "thread.add" for by, naming them and who added them. Adding nobody new
// writes nothing.
func (s *Store) AddMembers(ctx context.Context, thread paging.ID, people []NewMember, by paging.AuditEvent) ([]string, error) {
	if len(people) == 0 {
		return nil, nil
	}
	if err := validMembers(people); err != nil {
		return nil, fmt.Errorf("add to thread %s: %w", thread, err)
	}
	at := s.now().UTC()
	var added []string
	err := s.do(ctx, func(tx *txn) error {
		r, err := getThread(tx.Tx, thread)
		if err != nil {
			return err
		}
		if added, err = tx.addMembers(r, people, at, false); err != nil || len(added) == 0 {
			return err
		}
		if err := tx.touch(r, at); err != nil {
			return err
		}
		if err := tx.putThread(r); err != nil {
			return err
		}
		ev := by
		ev.Action, ev.Object, ev.Detail = "thread.add", objectThread(thread), addedDetail(added, people)
		return tx.appendAudit(draftAudit(at, ev))
	})
	if err != nil {
		return nil, fmt.Errorf("add to thread %s: %w", thread, err)
	}
	return added, nil
}

// PostMessage stores a reply or staff message in a thread, its text
// sealed, with a "sent" receipt for every other member, and returns its
// ID. It is audited as "thread.post" for by (who, how many recipients,
// the template; never the text). paging.ErrNotFound if the thread does
// not exist. Whether the author may post is the caller's to decide.
func (s *Store) PostMessage(ctx context.Context, thread paging.ID, post NewPost, by paging.AuditEvent) (paging.ID, error) {
	p, err := s.preparePost(thread, post, s.now().UTC())
	if err != nil {
		return paging.ID{}, fmt.Errorf("post to thread %s: %w", thread, err)
	}
	err = s.do(ctx, func(tx *txn) error {
		r, err := getThread(tx.Tx, thread)
		if err != nil {
			return err
		}
		if err := p.write(tx, r, by); err != nil {
			return err
		}
		return tx.putThread(r)
	})
	if err != nil {
		return paging.ID{}, fmt.Errorf("post to thread %s: %w", thread, err)
	}
	return p.id, nil
}

// ThreadMessages returns a thread with its subject and every message,
// texts included (a page's from the stored page), oldest first, after
// recording the read as "thread.read" for by (and "message.read" of the
// page, for a page thread) — the texts are not handed out unaudited: an
// error wrapping paging.ErrTemporary if the entry could not be committed.
// It marks nothing read; see ReadThread.
func (s *Store) ThreadMessages(ctx context.Context, id paging.ID, by paging.AuditEvent) (*ThreadView, error) {
	return s.readThread(ctx, id, "", "", by)
}

// ReadThread is ThreadMessages for a member reading the thread on
// channel: in the same commit as the audit entries it marks what it
// returns read for them (their LastRead, and a "read" receipt on every
// message of others). ErrNotMember if reader is not a member.
func (s *Store) ReadThread(ctx context.Context, id paging.ID, reader string, channel paging.Channel, by paging.AuditEvent) (*ThreadView, error) {
	if err := validPerson(reader); err != nil {
		return nil, fmt.Errorf("read thread %s: %w", id, err)
	}
	if !channel.Valid() {
		return nil, fmt.Errorf("read thread %s: %w channel %q", id, paging.ErrInvalid, channel)
	}
	return s.readThread(ctx, id, reader, channel, by)
}

func (s *Store) readThread(ctx context.Context, id paging.ID, reader string, channel paging.Channel, by paging.AuditEvent) (*ThreadView, error) {
	var v *ThreadView
	err := s.view(ctx, func(tx *bolt.Tx) error {
		r, err := getThread(tx, id)
		if err != nil {
			return err
		}
		if reader != "" && !r.IsMember(reader) {
			return ErrNotMember
		}
		v = &ThreadView{Thread: r.Thread}
		if len(r.Subject) > 0 {
			sub, err := s.sealer.open(bucketThreads, id[:], fieldSubject, r.Subject)
			if err != nil {
				return err
			}
			v.Subject = paging.NewPHI(string(sub))
		}
		c := tx.Bucket(bucketThreadPosts).Cursor()
		for k, pv := c.Seek(id[:]); k != nil && bytes.HasPrefix(k, id[:]); k, pv = c.Next() {
			m, err := s.readPost(tx, id, k, pv)
			if err != nil {
				return err
			}
			v.Messages = append(v.Messages, m)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read thread %s: %w", id, err)
	}
	at := s.now().UTC()
	var marked map[paging.ID]Receipt
	err = s.do(context.WithoutCancel(ctx), func(tx *txn) error {
		marked = map[paging.ID]Receipt{}
		if reader != "" {
			if err := s.markRead(tx, v, reader, channel, at, marked); err != nil {
				return err
			}
		}
		ev := by
		ev.Action, ev.Object = "thread.read", objectThread(id)
		ev.Detail = fmt.Sprintf("%d messages", len(v.Messages))
		if reader != "" {
			ev.Detail += fmt.Sprintf(", marked read for %s on %s", reader, channel)
		}
		if err := tx.appendAudit(draftAudit(at, ev)); err != nil {
			return err
		}
		for _, m := range v.Messages {
			if m.Kind == PostPage && m.Page != nil {
				ev := by
				ev.Action, ev.Object, ev.Detail = "message.read", objectMessage(m.ID), "in "+objectThread(id)
				if err := tx.appendAudit(draftAudit(at, ev)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read thread %s: audit read: %w", id, err)
	}
	for i := range v.Messages {
		m := &v.Messages[i]
		if rc, ok := marked[m.ID]; ok {
			j := slices.IndexFunc(m.Receipts, func(x Receipt) bool { return x.Person == rc.Person })
			if j >= 0 {
				m.Receipts[j] = rc
			} else {
				m.Receipts = append(m.Receipts, rc)
			}
		}
	}
	if reader != "" && len(v.Messages) > 0 {
		if i := v.memberIndex(reader); i >= 0 {
			last := v.Messages[len(v.Messages)-1].ID
			if last.Compare(v.Members[i].LastRead) > 0 {
				v.Members = slices.Clone(v.Members)
				v.Members[i].LastRead = last
			}
		}
	}
	return v, nil
}

// markRead records, in t, that reader has read the messages of v: their
// LastRead and a read receipt on every text message of others. The
// receipts written go into marked.
func (s *Store) markRead(t *txn, v *ThreadView, reader string, channel paging.Channel, at time.Time, marked map[paging.ID]Receipt) error {
	r, err := getThread(t.Tx, v.ID)
	if err != nil {
		return err // deleted meanwhile
	}
	i := r.memberIndex(reader)
	if i < 0 {
		return ErrNotMember
	}
	if len(v.Messages) > 0 {
		if last := v.Messages[len(v.Messages)-1].ID; last.Compare(r.Members[i].LastRead) > 0 {
			r.Members[i].LastRead = last
			if err := t.putThread(r); err != nil {
				return err
			}
		}
	}
	rb := t.Bucket(bucketThreadReceipts)
	for _, m := range v.Messages {
		if m.Kind != PostText || m.Author == reader {
			continue
		}
		key := receiptKey(v.ID, m.ID, reader)
		rc := Receipt{Person: reader}
		if old := rb.Get(key); old != nil {
			if err := json.Unmarshal(old, &rc); err != nil {
				return fmt.Errorf("%w: receipt %x: %v", ErrCorrupt, key, err)
			}
		} else if t.Bucket(bucketThreadPosts).Get(postKey(v.ID, m.ID)) == nil {
			continue // swept meanwhile
		}
		if !rc.advance(paging.StateRead, channel, at) {
			continue
		}
		val, err := json.Marshal(&rc)
		if err != nil {
			return err
		}
		if err := rb.Put(key, val); err != nil {
			return err
		}
		marked[m.ID] = rc
	}
	return nil
}

// readPost decodes one thread message with its text and receipts.
func (s *Store) readPost(tx *bolt.Tx, thread paging.ID, k, v []byte) (ThreadMessage, error) {
	p, err := decodePost(k, v)
	if err != nil {
		return ThreadMessage{}, err
	}
	m := ThreadMessage{ID: p.ID, Thread: thread, Kind: p.Kind, Author: p.Author, At: p.At, Template: p.Template}
	switch p.Kind {
	case PostPage:
		page, err := s.getMessage(tx, p.ID[:])
		if err != nil {
			return ThreadMessage{}, err
		}
		if page != nil {
			m.Text = page.Text
			m.Page = &PageRef{Source: page.Source, PagerID: page.PagerID, Priority: page.Priority,
				SenderRef: page.SenderRef, Received: page.Received}
		}
	case PostText:
		text, err := s.sealer.open(bucketThreadPosts, k, fieldText, p.Text)
		if err != nil {
			return ThreadMessage{}, err
		}
		m.Text = paging.NewPHI(string(text))
		if m.Attachments, err = s.openAttachments(k, p.Attachments); err != nil {
			return ThreadMessage{}, err
		}
	default:
		return ThreadMessage{}, fmt.Errorf("%w: thread message %s of kind %q", ErrCorrupt, p.ID, p.Kind)
	}
	c := tx.Bucket(bucketThreadReceipts).Cursor()
	for rk, rv := c.Seek(k); rk != nil && bytes.HasPrefix(rk, k); rk, rv = c.Next() {
		var rc Receipt
		if err := json.Unmarshal(rv, &rc); err != nil {
			return ThreadMessage{}, fmt.Errorf("%w: receipt %x: %v", ErrCorrupt, rk, err)
		}
		m.Receipts = append(m.Receipts, rc)
	}
	return m, nil
}

// MarkReceipt moves person's receipt of a text message to state
// (delivered, read or acknowledged; sent is set by PostMessage) on channel
// at at (now, if zero). A receipt only moves forward: a state it has
// passed changes nothing and is not an error. Each change is audited as
// "thread.receipt" for by.
//
// Errors: paging.ErrNotFound for an unknown thread or message;
// ErrNotMember if person is not a member; paging.ErrInvalid for a state
// or channel that does not apply, the author's own message, or a page
// (whose receipts are its deliveries, the routing engine's).
func (s *Store) MarkReceipt(ctx context.Context, thread, message paging.ID, person string, state paging.State, channel paging.Channel, at time.Time, by paging.AuditEvent) error {
	switch {
	case receiptRank(state) == 0:
		return fmt.Errorf("mark receipt: %w state %q", paging.ErrInvalid, state)
	case !channel.Valid():
		return fmt.Errorf("mark receipt: %w channel %q", paging.ErrInvalid, channel)
	}
	if err := validPerson(person); err != nil {
		return fmt.Errorf("mark receipt: %w", err)
	}
	now := s.now()
	if at.IsZero() {
		at = now
	}
	at = at.UTC()
	err := s.do(ctx, func(tx *txn) error {
		r, err := getThread(tx.Tx, thread)
		if err != nil {
			return err
		}
		if !r.IsMember(person) {
			return ErrNotMember
		}
		pk := postKey(thread, message)
		pv := tx.Bucket(bucketThreadPosts).Get(pk)
		if pv == nil {
			return fmt.Errorf("message %s: %w", message, paging.ErrNotFound)
		}
		p, err := decodePost(pk, pv)
		if err != nil {
			return err
		}
		switch {
		case p.Kind == PostPage:
			return fmt.Errorf("%w: a page's receipts are its deliveries (the routing engine's)", paging.ErrInvalid)
		case p.Author == person:
			return fmt.Errorf("%w: %s wrote message %s", paging.ErrInvalid, person, message)
		}
		rb := tx.Bucket(bucketThreadReceipts)
		key := receiptKey(thread, message, person)
		rc := Receipt{Person: person}
		if old := rb.Get(key); old != nil {
			if err := json.Unmarshal(old, &rc); err != nil {
				return fmt.Errorf("%w: receipt %x: %v", ErrCorrupt, key, err)
			}
		}
		if !rc.advance(state, channel, at) {
			return nil
		}
		v, err := json.Marshal(&rc)
		if err != nil {
			return err
		}
		if err := rb.Put(key, v); err != nil {
			return err
		}
		ev := by
		ev.Action, ev.Object = "thread.receipt", objectThread(thread)
		ev.Detail = fmt.Sprintf("message %s: %s %s on %s at %s", message, person, state, channel, at.Format(time.RFC3339Nano))
		return tx.appendAudit(draftAudit(now, ev))
	})
	if err != nil {
		return fmt.Errorf("mark receipt in thread %s: %w", thread, err)
	}
	return nil
}

// ThreadsOf returns person's threads, newest activity first, from after
// on (the zero cursor: from the top), at most limit (DefaultInboxLimit
// if limit ≤ 0), each with its unread count. It reads no PHI and is not
// audited.
func (s *Store) ThreadsOf(ctx context.Context, person string, limit int, after InboxCursor) ([]InboxEntry, error) {
	if limit <= 0 {
		limit = DefaultInboxLimit
	}
	var out []InboxEntry
	prefix := inboxPrefix(person)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketThreadInbox).Cursor()
		var k []byte
		if after == (InboxCursor{}) {
			k, _ = c.Seek(prefix)
		} else {
			start := inboxKey(person, after.Activity, after.Thread)
			if k, _ = c.Seek(start); bytes.Equal(k, start) {
				k, _ = c.Next()
			}
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, _ = c.Next() {
			id, err := toID(k[len(k)-16:])
			if err != nil {
				return err
			}
			r, err := getThread(tx, id)
			if err != nil {
				return fmt.Errorf("%w: inbox of %s points at thread %s: %v", ErrCorrupt, person, id, err)
			}
			m, ok := r.Member(person)
			if !ok {
				return fmt.Errorf("%w: inbox of %s holds thread %s they are not a member of", ErrCorrupt, person, id)
			}
			n, err := countUnread(tx, id, person, m.LastRead)
			if err != nil {
				return err
			}
			out = append(out, InboxEntry{Thread: r.Thread, Unread: n})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("threads of %s: %w", person, err)
	}
	return out, nil
}

// countUnread counts the messages of thread after lastRead that person
// did not write, up to MaxUnread.
func countUnread(tx *bolt.Tx, thread paging.ID, person string, lastRead paging.ID) (int, error) {
	c := tx.Bucket(bucketThreadPosts).Cursor()
	var k, v []byte
	if lastRead == (paging.ID{}) {
		k, v = c.Seek(thread[:])
	} else {
		start := postKey(thread, lastRead)
		if k, v = c.Seek(start); bytes.Equal(k, start) {
			k, v = c.Next()
		}
	}
	n := 0
	for ; k != nil && bytes.HasPrefix(k, thread[:]) && n < MaxUnread; k, v = c.Next() {
		var p struct {
			Author string `json:"author"`
		}
		if err := json.Unmarshal(v, &p); err != nil {
			return 0, fmt.Errorf("%w: thread message %x: %v", ErrCorrupt, k, err)
		}
		if p.Author != person {
			n++
		}
	}
	return n, nil
}

// Templates.

// Template is a named message template: text with placeholders
// ("{patient_room}") that a message is rendered from. Its text is
// configuration, written by administrators, and must hold no PHI: it is
// stored as plain JSON. The values it is rendered with are PHI and are
// never stored (only the rendered text, sealed, as a message). Storage
// does not parse the text: the caller validates it (threads.ParseTemplate).
type Template struct {
	Name        string    `json:"name"`
	Text        string    `json:"text"`
	Description string    `json:"description,omitempty"`
	Updated     time.Time `json:"updated"`
	UpdatedBy   string    `json:"updated_by,omitempty"`
}

func validTemplate(t *Template) error {
	switch {
	case t.Name == "" || len(t.Name) > MaxTemplateNameLen || !utf8.ValidString(t.Name):
		return fmt.Errorf("%w template: name must be 1 to %d bytes of UTF-8", paging.ErrInvalid, MaxTemplateNameLen)
	case t.Text == "" || len(t.Text) > MaxTemplateLen || !utf8.ValidString(t.Text):
		return fmt.Errorf("%w template %s: text must be 1 to %d bytes of UTF-8", paging.ErrInvalid, t.Name, MaxTemplateLen)
	case len(t.Description) > MaxTemplateLen || !utf8.ValidString(t.Description):
		return fmt.Errorf("%w template %s: description too long or not UTF-8", paging.ErrInvalid, t.Name)
	}
	return nil
}

// PutTemplate creates or replaces a template (Updated defaults to now),
// audited as "template.create" or "template.update" for by.
func (s *Store) PutTemplate(ctx context.Context, t Template, by paging.AuditEvent) error {
	if err := validTemplate(&t); err != nil {
		return fmt.Errorf("put template: %w", err)
	}
	if t.Updated.IsZero() {
		t.Updated = s.now()
	}
	t.Updated = t.Updated.UTC()
	v, err := json.Marshal(&t)
	if err != nil {
		return fmt.Errorf("put template %s: %w", t.Name, err)
	}
	at := s.now()
	err = s.do(ctx, func(tx *txn) error {
		b := tx.Bucket(bucketTemplates)
		ev := by
		ev.Action, ev.Object = "template.create", "template/"+t.Name
		if b.Get([]byte(t.Name)) != nil {
			ev.Action = "template.update"
		}
		if err := b.Put([]byte(t.Name), v); err != nil {
			return err
		}
		return tx.appendAudit(draftAudit(at, ev))
	})
	if err != nil {
		return fmt.Errorf("put template %s: %w", t.Name, err)
	}
	return nil
}

// Template returns a template; paging.ErrNotFound if there is none.
func (s *Store) Template(ctx context.Context, name string) (Template, error) {
	var t Template
	if err := s.getJSON(ctx, bucketTemplates, []byte(name), &t); err != nil {
		return Template{}, fmt.Errorf("template %q: %w", clip(name, MaxTemplateNameLen), err)
	}
	return t, nil
}

// Templates returns every template, by name.
func (s *Store) Templates(ctx context.Context) ([]Template, error) {
	return list[Template](ctx, s, "templates", bucketTemplates)
}

// DeleteTemplate removes a template, audited as "template.delete";
// paging.ErrNotFound if there is none. Messages rendered from it keep
// its name.
func (s *Store) DeleteTemplate(ctx context.Context, name string, by paging.AuditEvent) error {
	by.Action, by.Object = "template.delete", "template/"+clip(name, MaxTemplateNameLen)
	d := draftAudit(s.now(), by)
	err := s.do(ctx, func(tx *txn) error {
		b := tx.Bucket(bucketTemplates)
		if b.Get([]byte(name)) == nil {
			return paging.ErrNotFound
		}
		if err := b.Delete([]byte(name)); err != nil {
			return err
		}
		return tx.appendAudit(d)
	})
	if err != nil {
		return fmt.Errorf("delete template %q: %w", clip(name, MaxTemplateNameLen), err)
	}
	return nil
}

// Retention.

// RetentionPolicy says how long thread messages are kept, per kind of
// thread; zero keeps them.
type RetentionPolicy struct {
	Page, Direct, Group, Role time.Duration
	// PageSettled reports whether a page has been acknowledged: a page
	// thread is swept only then (its messages and, once they are all
	// gone, the thread). The routing engine's route says so; storage does
	// not read it. nil: page threads are never swept. An error stops the
	// sweep.
	PageSettled func(ctx context.Context, page paging.ID) (bool, error)
}

// For returns the retention of kind.
func (p RetentionPolicy) For(k ThreadKind) time.Duration {
	switch k {
	case ThreadPage:
		return p.Page
	case ThreadDirect:
		return p.Direct
	case ThreadGroup:
		return p.Group
	case ThreadRole:
		return p.Role
	}
	return 0
}

// SweepReport is what a sweep did.
type SweepReport struct {
	// Messages is the number of thread messages deleted (texts with
	// them; a page's entry, not the page Accept stored).
	Messages int
	// Threads is the number of threads deleted whole.
	Threads int
	// Kept is the number of page threads past retention kept because
	// their page is not acknowledged.
	Kept int
}

// sweepRound is how many threads one round of a sweep takes on; each
// is one op, and a round's ops commit together. sweepChunk is the most
// messages one op deletes.
const (
	sweepRound = 64
	sweepChunk = 1000
)

// SweepRetention deletes the thread messages older than their thread
// kind's retention at now (the message's own time; a page's entry by the
// page's), with their sealed texts and receipts, and then every thread
// left with no message whose last activity is older than that too, with
// its inbox and index entries. A page thread is left whole while its page
// is not acknowledged (policy.PageSettled).
//
// Each thread swept gets one "thread.sweep" audit entry (actor
// "system:retention") per commit, in the commit that deletes: how many
// messages, the first and last of their IDs, the cutoff, the retention,
// and whether the thread went with them; more than sweepChunk messages of
// one thread take several commits, each with its entry. Threads are
// swept concurrently, so their deletions share commits.
//
// On error what was deleted stays deleted, and the report counts it.
func (s *Store) SweepRetention(ctx context.Context, now time.Time, policy RetentionPolicy) (SweepReport, error) {
	var rep SweepReport
	for _, kind := range ThreadKinds {
		keep := policy.For(kind)
		if keep <= 0 || kind == ThreadPage && policy.PageSettled == nil {
			continue
		}
		if err := s.sweepKind(ctx, kind, keep, now, policy, &rep); err != nil {
			return rep, fmt.Errorf("sweep %s threads: %w", kind, err)
		}
	}
	return rep, nil
}

func (s *Store) sweepKind(ctx context.Context, kind ThreadKind, keep time.Duration, now time.Time, policy RetentionPolicy, rep *SweepReport) error {
	cutoff := now.Add(-keep).UTC()
	skip := map[paging.ID]bool{} // unacknowledged pages, and threads with nothing to sweep
	for {
		cands, err := s.sweepCandidates(ctx, kind, cutoff, skip)
		if err != nil || len(cands) == 0 {
			return err
		}
		var todo []paging.ID
		for _, id := range cands {
			if kind == ThreadPage {
				ok, err := policy.PageSettled(ctx, id)
				if err != nil {
					return fmt.Errorf("page %s acknowledged?: %w", id, err)
				}
				if !ok {
					skip[id] = true
					rep.Kept++
					continue
				}
			}
			todo = append(todo, id)
		}
		type result struct {
			n       int
			removed bool
			err     error
		}
		results := make([]result, len(todo))
		var wg sync.WaitGroup
		for i, id := range todo {
			wg.Go(func() {
				var r result
				r.err = s.do(ctx, func(tx *txn) error {
					var err error
					r.n, r.removed, err = s.sweepThread(tx, id, kind, keep, cutoff, now)
					return err
				})
				results[i] = r
			})
		}
		wg.Wait()
		var errs []error
		for i, r := range results {
			if r.err != nil {
				errs = append(errs, fmt.Errorf("thread %s: %w", todo[i], r.err))
				continue
			}
			rep.Messages += r.n
			if r.removed {
				rep.Threads++
			}
			if r.n < sweepChunk {
				// Done with it (or nothing to do: a thread still active,
				// with its old messages gone).
				skip[todo[i]] = true
			}
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
}

// sweepCandidates finds up to sweepRound threads of kind, not in skip,
// with a message older than cutoff or last active before it.
func (s *Store) sweepCandidates(ctx context.Context, kind ThreadKind, cutoff time.Time, skip map[paging.ID]bool) ([]paging.ID, error) {
	var out []paging.ID
	seen := map[paging.ID]bool{}
	add := func(b []byte) error {
		id, err := toID(b)
		if err != nil {
			return err
		}
		if !skip[id] && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
		return nil
	}
	code := kind.code()
	cutoffMS := uint64(cutoff.UnixMilli())
	endAct := dueBytes(cutoff)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketThreadAge).Cursor()
		for k, v := c.Seek([]byte{code}); k != nil && k[0] == code && len(out) < sweepRound; k, v = c.Next() {
			msg, err := toID(k[1:])
			if err != nil {
				return err
			}
			if msg.Time() >= cutoffMS {
				break
			}
			if err := add(v); err != nil {
				return err
			}
		}
		c = tx.Bucket(bucketThreadActivity).Cursor()
		for k, _ := c.Seek([]byte{code}); k != nil && k[0] == code && len(out) < sweepRound; k, _ = c.Next() {
			if len(k) != 1+8+16 {
				return fmt.Errorf("%w: activity key %x", ErrCorrupt, k)
			}
			if bytes.Compare(k[1:9], endAct) >= 0 {
				break
			}
			if err := add(k[9:]); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// sweepThread deletes, in t, up to sweepChunk messages of thread id older
// than cutoff, and the thread itself if none is left and it was last
// active before cutoff, with one audit entry if it deleted anything.
func (s *Store) sweepThread(t *txn, id paging.ID, kind ThreadKind, keep time.Duration, cutoff, now time.Time) (n int, removed bool, err error) {
	r, err := getThread(t.Tx, id)
	if errors.Is(err, paging.ErrNotFound) {
		return 0, false, nil // swept meanwhile
	}
	if err != nil {
		return 0, false, err
	}
	posts := t.Bucket(bucketThreadPosts)
	cutoffMS := uint64(cutoff.UnixMilli())
	var dead [][]byte
	c := posts.Cursor()
	k, _ := c.Seek(id[:])
	for ; k != nil && bytes.HasPrefix(k, id[:]) && len(dead) < sweepChunk; k, _ = c.Next() {
		msg, err := toID(k[16:])
		if err != nil {
			return 0, false, err
		}
		if msg.Time() >= cutoffMS {
			break
		}
		dead = append(dead, bytes.Clone(k))
	}
	left := k != nil && bytes.HasPrefix(k, id[:])
	receipts, age := t.Bucket(bucketThreadReceipts), t.Bucket(bucketThreadAge)
	for _, k := range dead {
		var rks [][]byte
		rc := receipts.Cursor()
		for rk, _ := rc.Seek(k); rk != nil && bytes.HasPrefix(rk, k); rk, _ = rc.Next() {
			rks = append(rks, bytes.Clone(rk))
		}
		for _, rk := range rks {
			if err := receipts.Delete(rk); err != nil {
				return 0, false, err
			}
		}
		msg, _ := toID(k[16:])
		if err := age.Delete(ageKey(kind, msg)); err != nil {
			return 0, false, err
		}
		if err := deleteChunks(t, k); err != nil {
			return 0, false, err
		}
		if err := posts.Delete(k); err != nil {
			return 0, false, err
		}
	}
	if !left && r.LastActivity.Before(cutoff) {
		inbox := t.Bucket(bucketThreadInbox)
		for _, m := range r.Members {
			if err := inbox.Delete(inboxKey(m.Person, r.LastActivity, id)); err != nil {
				return 0, false, err
			}
		}
		if err := t.Bucket(bucketThreadActivity).Delete(activityKey(r.Kind, r.LastActivity, id)); err != nil {
			return 0, false, err
		}
		if err := t.Bucket(bucketThreads).Delete(id[:]); err != nil {
			return 0, false, err
		}
		removed = true
	}
	if len(dead) == 0 && !removed {
		return 0, false, nil
	}
	var detail string
	switch len(dead) {
	case 0:
		detail = "deleted no messages"
	case 1:
		detail = fmt.Sprintf("deleted 1 message (%s)", paging.ID(dead[0][16:]))
	default:
		detail = fmt.Sprintf("deleted %d messages (%s to %s)", len(dead), paging.ID(dead[0][16:]), paging.ID(dead[len(dead)-1][16:]))
	}
	detail += fmt.Sprintf(" older than %s, under the %s retention of %s threads", cutoff.Format(time.RFC3339), keep, kind)
	if removed {
		detail += fmt.Sprintf("; thread deleted, last active %s", r.LastActivity.Format(time.RFC3339))
	}
	return len(dead), removed, t.appendAudit(draftAudit(now, paging.AuditEvent{
		Actor: "system:retention", Action: "thread.sweep", Object: objectThread(id), Detail: detail}))
}
