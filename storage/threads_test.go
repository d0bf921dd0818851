package storage_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	bolt "go.etcd.io/bbolt"

	"pagebridge/gateway/paging"
	"pagebridge/storage"
	"pagebridge/storage/storagetest"
)

// tclock is a test's clock, moved by hand.
type tclock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *tclock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *tclock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var staff = []string{"dr-lee", "dr-kim", "dr-ng", "nurse-ana"}

// threadStore opens a store on a clock at t0 with the staff in it.
func threadStore(t *testing.T) (*storagetest.Env, *storage.Store, *tclock) {
	t.Helper()
	e := storagetest.New(t)
	clk := &tclock{t: t0}
	s := e.Open(t, func(o *storage.Options) { o.Now = clk.Now })
	for _, id := range staff {
		if err := s.PutPerson(context.Background(), paging.Person{ID: id, Name: "Dr " + id, Stage: paging.StageApp}, by); err != nil {
			t.Fatal(err)
		}
	}
	return e, s, clk
}

// direct opens a direct thread from one person to others with a first
// message.
func direct(t *testing.T, s *storage.Store, from string, to []string, subject, text string) (storage.Thread, paging.ID) {
	t.Helper()
	members := []storage.NewMember{{Person: from, AddedBy: from, Note: "sender"}}
	for _, p := range to {
		members = append(members, storage.NewMember{Person: p, AddedBy: from, Note: "person " + p})
	}
	kind, target := storage.ThreadDirect, paging.Target{Kind: paging.TargetPerson, ID: to[0]}
	if len(to) > 1 {
		kind, target = storage.ThreadGroup, paging.Target{Kind: paging.TargetGroup, ID: "team"}
	}
	th, first, err := s.CreateThread(context.Background(), storage.NewThread{
		Kind: kind, Label: fmt.Sprintf("%s · from %s", kind, from), Subject: paging.NewPHI(subject),
		Priority: paging.PriorityHigh, CreatedBy: from, Target: target, Members: members,
		First: &storage.NewPost{Author: from, Text: paging.NewPHI(text)},
	}, paging.AuditEvent{Actor: from, Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return th, first
}

func post(t *testing.T, s *storage.Store, thread paging.ID, author, text string) paging.ID {
	t.Helper()
	id, err := s.PostMessage(context.Background(), thread, storage.NewPost{Author: author, Text: paging.NewPHI(text)},
		paging.AuditEvent{Actor: author})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// pageAt is a page received at at.
func pageAt(at time.Time, text string) *paging.Message {
	return &paging.Message{ID: paging.NewID(at), Source: paging.Source{Protocol: paging.ProtocolTAP, Line: "4W nurse call"},
		PagerID: "1002", Priority: paging.PriorityHigh, Text: paging.NewPHI(text), Received: at}
}

func openPage(t *testing.T, s *storage.Store, page paging.ID, members ...storage.NewMember) storage.Thread {
	t.Helper()
	th, _, err := s.CreateThread(context.Background(), storage.NewThread{Kind: storage.ThreadPage, Page: page,
		Label: "4W nurse call · pager 1002", Priority: paging.PriorityHigh, CreatedBy: "system:engine",
		Target: paging.Target{Kind: paging.TargetRole, ID: "cardiology"}, Members: members},
		paging.AuditEvent{Actor: "system:engine"})
	if err != nil {
		t.Fatal(err)
	}
	return th
}

func texts0(v *storage.ThreadView) []string {
	var out []string
	for _, m := range v.Messages {
		out = append(out, m.Text.Reveal())
	}
	return out
}

func TestThreadRoundTrip(t *testing.T) {
	e, s, clk := threadStore(t)
	ctx := context.Background()
	th, first := direct(t, s, "dr-lee", []string{"dr-kim"}, "Mr Smith, bed 4", "please review the ECG")
	if th.Kind != storage.ThreadDirect || th.Priority != paging.PriorityHigh || th.CreatedBy != "dr-lee" ||
		!th.HasSubject || !th.Created.Equal(t0) || !th.LastActivity.Equal(t0) || len(th.Members) != 2 {
		t.Fatalf("created %+v", th)
	}
	if m, ok := th.Member("dr-kim"); !ok || m.AddedBy != "dr-lee" || m.Note != "person dr-kim" || !m.Added.Equal(t0) {
		t.Errorf("member %+v", m)
	}
	clk.add(time.Minute)
	reply := post(t, s, th.ID, "dr-kim", "on my way")

	s = reopen(t, e, s, func(o *storage.Options) { o.Now = clk.Now })
	got, err := s.Thread(ctx, th.ID)
	if err != nil || got.Label != th.Label || !got.LastActivity.Equal(t0.Add(time.Minute)) || !got.HasSubject {
		t.Fatalf("thread after reopen %+v, %v", got, err)
	}
	v, err := s.ThreadMessages(ctx, th.ID, by)
	if err != nil {
		t.Fatal(err)
	}
	if v.Subject.Reveal() != "Mr Smith, bed 4" || !slices.Equal(texts0(v), []string{"please review the ECG", "on my way"}) {
		t.Fatalf("view: subject and texts differ: %q", texts0(v))
	}
	m0, m1 := v.Messages[0], v.Messages[1]
	if m0.ID != first || m0.Author != "dr-lee" || m0.Kind != storage.PostText || !m0.At.Equal(t0) ||
		m1.ID != reply || m1.Author != "dr-kim" || !m1.At.Equal(t0.Add(time.Minute)) {
		t.Errorf("messages %+v %+v", m0, m1)
	}
	// Each has a "sent" receipt for the other member, on the app.
	if len(m0.Receipts) != 1 || m0.Receipts[0].Person != "dr-kim" || m0.Receipts[0].State != paging.StateSent ||
		m0.Receipts[0].Channel != paging.ChannelApp || !m0.Receipts[0].Sent.Equal(t0) {
		t.Errorf("receipts of the first %+v", m0.Receipts)
	}
	if len(m1.Receipts) != 1 || m1.Receipts[0].Person != "dr-lee" {
		t.Errorf("receipts of the reply %+v", m1.Receipts)
	}
	if _, err := s.Thread(ctx, paging.NewID(t0)); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("unknown thread: %v", err)
	}
	if _, err := s.PostMessage(ctx, paging.NewID(t0), storage.NewPost{Author: "dr-lee", Text: paging.NewPHI("x")}, by); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("post to an unknown thread: %v", err)
	}
}

func TestThreadInvalid(t *testing.T) {
	_, s, _ := threadStore(t)
	ctx := context.Background()
	good := func() storage.NewThread {
		return storage.NewThread{Kind: storage.ThreadDirect, Label: "direct", Priority: paging.PriorityNormal,
			CreatedBy: "dr-lee", Target: paging.Target{Kind: paging.TargetPerson, ID: "dr-kim"},
			Members: []storage.NewMember{{Person: "dr-lee"}, {Person: "dr-kim"}},
			First:   &storage.NewPost{Author: "dr-lee", Text: paging.NewPHI("hello")}}
	}
	if _, _, err := s.CreateThread(ctx, good(), by); err != nil {
		t.Fatal(err)
	}
	many := make([]storage.NewMember, storage.MaxThreadMembers+1)
	for i := range many {
		many[i].Person = fmt.Sprint("p", i)
	}
	cases := []struct {
		name string
		edit func(*storage.NewThread)
		want error
	}{
		{"unknown kind", func(n *storage.NewThread) { n.Kind = "ward" }, paging.ErrInvalid},
		{"page without its page", func(n *storage.NewThread) { n.Kind, n.First = storage.ThreadPage, nil }, paging.ErrInvalid},
		{"staff thread with a page", func(n *storage.NewThread) { n.Page = paging.NewID(t0) }, paging.ErrInvalid},
		{"priority", func(n *storage.NewThread) { n.Priority = 7 }, paging.ErrInvalid},
		{"no label", func(n *storage.NewThread) { n.Label = "" }, paging.ErrInvalid},
		{"long label", func(n *storage.NewThread) { n.Label = strings.Repeat("l", storage.MaxLabelLen+1) }, paging.ErrInvalid},
		{"no creator", func(n *storage.NewThread) { n.CreatedBy = "" }, paging.ErrInvalid},
		{"no members", func(n *storage.NewThread) { n.Members = nil }, paging.ErrInvalid},
		{"too many members", func(n *storage.NewThread) { n.Members = many }, paging.ErrInvalid},
		{"empty member", func(n *storage.NewThread) { n.Members = append(n.Members, storage.NewMember{}) }, paging.ErrInvalid},
		{"unknown member", func(n *storage.NewThread) { n.Members = append(n.Members, storage.NewMember{Person: "dr-who"}) }, paging.ErrNotFound},
		{"long subject", func(n *storage.NewThread) { n.Subject = paging.NewPHI(strings.Repeat("s", storage.MaxSubjectLen+1)) }, paging.ErrInvalid},
		{"subject not UTF-8", func(n *storage.NewThread) { n.Subject = paging.NewPHI("\xff") }, paging.ErrInvalid},
		{"empty text", func(n *storage.NewThread) { n.First.Text = paging.PHI{} }, paging.ErrInvalid},
		{"text not UTF-8", func(n *storage.NewThread) { n.First.Text = paging.NewPHI("\xfe\xff") }, paging.ErrInvalid},
		{"long text", func(n *storage.NewThread) { n.First.Text = paging.NewPHI(strings.Repeat("x", paging.MaxTextLen+1)) }, paging.ErrInvalid},
		{"no author", func(n *storage.NewThread) { n.First.Author = "" }, paging.ErrInvalid},
	}
	before, _ := auditActions(t, s)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := good()
			n.First = &storage.NewPost{Author: "dr-lee", Text: paging.NewPHI("hello")}
			c.edit(&n)
			if _, _, err := s.CreateThread(ctx, n, by); !errors.Is(err, c.want) {
				t.Errorf("err %v, want %v", err, c.want)
			}
		})
	}
	if after, _ := auditActions(t, s); after["thread.create"] != before["thread.create"] {
		t.Errorf("refused threads were audited as created: %v", after)
	}
	if inbox, err := s.ThreadsOf(ctx, "dr-kim", 0, storage.InboxCursor{}); err != nil || len(inbox) != 1 {
		t.Errorf("inbox after refused creations: %d, %v", len(inbox), err)
	}
}

// rawForms are the byte strings that would betray marker in a file.
func rawForms(marker string) map[string][]byte {
	u16 := utf16.Encode([]rune(marker))
	le := make([]byte, 0, 2*len(u16))
	for _, r := range u16 {
		le = binary.LittleEndian.AppendUint16(le, r)
	}
	forms := map[string][]byte{
		"raw":      []byte(marker),
		"hex":      []byte(hex.EncodeToString([]byte(marker))),
		"utf-16le": le,
	}
	for shift := range 3 {
		enc := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", shift) + marker))
		forms[fmt.Sprintf("base64+%d", shift)] = []byte(enc[4:24])
	}
	return forms
}

// A reply's text, a first message's and a subject are in no form in the
// file, nor in a backup; the label, which is not PHI, is (so the search
// works).
func TestThreadTextsSealedAtRest(t *testing.T) {
	e, s, _ := threadStore(t)
	ctx := context.Background()
	const (
		subject = "SUBJ-MARKER-Qx81 Jane Roe MRN 7741"
		first   = "FIRST-MARKER-Zt40 potassium 6.9"
		reply   = "REPLY-MARKER-Lm29 bed 12 now"
	)
	th, _ := direct(t, s, "dr-lee", []string{"dr-kim", "dr-ng"}, subject, first)
	post(t, s, th.ID, "dr-kim", reply)
	if _, err := s.ReadThread(ctx, th.ID, "dr-ng", paging.ChannelApp, by); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "backup.db")
	if _, err := s.BackupFile(ctx, backup); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, path := range []string{e.Path, backup} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte(th.Label)) {
			t.Fatalf("%s: the label is not in the file: the search does not look where the records are", filepath.Base(path))
		}
	}
	notInFiles(t, []string{e.Path, backup}, subject, first, reply)
}

// Every change and every read of a thread is in the audit chain, and no
// entry holds a text.
func TestThreadAudit(t *testing.T) {
	_, s, clk := threadStore(t)
	ctx := context.Background()
	const marker = "AUDIT-MARKER-Vv12"
	m := pageAt(t0, "page "+marker)
	accept(t, s, m)
	page := openPage(t, s, m.ID, storage.NewMember{Person: "dr-kim", AddedBy: "escalation step 1"})
	clk.add(time.Second)
	th, first := direct(t, s, "dr-lee", []string{"dr-kim"}, "subject "+marker, "first "+marker)
	post(t, s, th.ID, "dr-kim", "reply "+marker)
	if _, err := s.AddMembers(ctx, th.ID, []storage.NewMember{{Person: "dr-ng", AddedBy: "dr-kim"}}, paging.AuditEvent{Actor: "dr-kim"}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkReceipt(ctx, th.ID, first, "dr-kim", paging.StateAcknowledged, paging.ChannelSMS, time.Time{}, paging.AuditEvent{Actor: "dr-kim"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadThread(ctx, th.ID, "dr-ng", paging.ChannelApp, paging.AuditEvent{Actor: "dr-ng"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadThread(ctx, page.ID, "dr-kim", paging.ChannelApp, paging.AuditEvent{Actor: "dr-kim"}); err != nil {
		t.Fatal(err)
	}
	n, entries := auditActions(t, s)
	// A non-member's read is refused before anything is read, and not
	// recorded as a read.
	if _, err := s.ReadThread(ctx, th.ID, "nurse-ana", paging.ChannelApp, by); !errors.Is(err, storage.ErrNotMember) {
		t.Errorf("non-member read: %v", err)
	}
	if after, _ := auditActions(t, s); after["thread.read"] != n["thread.read"] {
		t.Error("a refused read was audited as a read")
	}

	type want struct{ action, object, actor, detail string }
	wants := []want{
		{"thread.create", "thread/" + page.ID.String(), "system:engine", "page thread of message/" + m.ID.String()},
		{"thread.create", "thread/" + th.ID.String(), "dr-lee", "direct thread to person:dr-kim, 2 members"},
		{"thread.post", "thread/" + th.ID.String(), "dr-lee", "message " + first.String() + " by dr-lee to 1 members"},
		{"thread.post", "thread/" + th.ID.String(), "dr-kim", "by dr-kim to 1 members"},
		{"thread.add", "thread/" + th.ID.String(), "dr-kim", "added dr-ng (by dr-kim)"},
		{"thread.receipt", "thread/" + th.ID.String(), "dr-kim", "dr-kim acknowledged on sms"},
		{"thread.read", "thread/" + th.ID.String(), "dr-ng", "2 messages, marked read for dr-ng on app"},
		{"thread.read", "thread/" + page.ID.String(), "dr-kim", "1 messages"},
		{"message.read", "message/" + m.ID.String(), "dr-kim", "in thread/" + page.ID.String()},
	}
	for _, w := range wants {
		if !slices.ContainsFunc(entries, func(e storage.AuditEntry) bool {
			return e.Action == w.action && e.Object == w.object && e.Actor == w.actor && strings.Contains(e.Detail, w.detail)
		}) {
			t.Errorf("no %s of %s by %s with %q", w.action, w.object, w.actor, w.detail)
		}
	}
	for _, e := range entries {
		if strings.Contains(fmt.Sprintf("%+v", e), marker) {
			t.Errorf("audit entry %d holds PHI: %+v", e.Seq, e)
		}
	}
	verify(t, s)
}

// An inbox lists a person's threads newest activity first, with unread
// counts that reading resets and others' posts raise.
func TestInboxOrderAndUnread(t *testing.T) {
	_, s, clk := threadStore(t)
	ctx := context.Background()
	ids := map[string]paging.ID{}
	name := map[paging.ID]string{}
	open := func(label, from string, to ...string) {
		clk.add(time.Minute)
		th, _ := direct(t, s, from, to, "", label+" first")
		ids[label], name[th.ID] = th.ID, label
	}
	say := func(label, who string) func() {
		return func() { clk.add(time.Minute); post(t, s, ids[label], who, "more") }
	}
	read := func(label, who string) func() {
		return func() {
			clk.add(time.Second)
			if _, err := s.ReadThread(ctx, ids[label], who, paging.ChannelApp, by); err != nil {
				t.Fatal(err)
			}
		}
	}
	type entry struct {
		label  string
		unread int
	}
	inbox := func(person string) []entry {
		t.Helper()
		got, err := s.ThreadsOf(ctx, person, 0, storage.InboxCursor{})
		if err != nil {
			t.Fatal(err)
		}
		var out []entry
		for _, e := range got {
			out = append(out, entry{name[e.ID], e.Unread})
		}
		return out
	}
	open("A", "dr-lee", "dr-kim")
	open("B", "dr-lee", "dr-kim", "dr-ng")
	open("C", "dr-ng", "dr-kim")

	steps := []struct {
		name   string
		do     func()
		person string
		want   []entry
	}{
		{"as opened", func() {}, "dr-kim", []entry{{"C", 1}, {"B", 1}, {"A", 1}}},
		{"the sender has read their own", func() {}, "dr-lee", []entry{{"B", 0}, {"A", 0}}},
		{"a post moves A to the top", say("A", "dr-lee"), "dr-kim", []entry{{"A", 2}, {"C", 1}, {"B", 1}}},
		{"reading A clears it", read("A", "dr-kim"), "dr-kim", []entry{{"A", 0}, {"C", 1}, {"B", 1}}},
		{"reading does not move a thread", read("B", "dr-kim"), "dr-kim", []entry{{"A", 0}, {"C", 1}, {"B", 0}}},
		{"one's own post is not unread", say("B", "dr-kim"), "dr-kim", []entry{{"B", 0}, {"A", 0}, {"C", 1}}},
		{"others see it unread", func() {}, "dr-ng", []entry{{"B", 2}, {"C", 0}}},
		{"after a read, only newer posts", say("A", "dr-lee"), "dr-kim", []entry{{"A", 1}, {"B", 0}, {"C", 1}}},
		{"somebody without threads", func() {}, "nurse-ana", nil},
	}
	for _, st := range steps {
		st.do()
		if got := inbox(st.person); !slices.Equal(got, st.want) {
			t.Errorf("%s: inbox of %s %v, want %v", st.name, st.person, got, st.want)
		}
	}
	// Pages of one follow the same order, and a priority comes along.
	var paged []string
	var after storage.InboxCursor
	for {
		page, err := s.ThreadsOf(ctx, "dr-kim", 1, after)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		if page[0].Priority != paging.PriorityHigh {
			t.Errorf("priority %v", page[0].Priority)
		}
		paged = append(paged, name[page[0].ID])
		after = page[0].Cursor()
	}
	if !slices.Equal(paged, []string{"A", "B", "C"}) {
		t.Errorf("paged %v", paged)
	}
}

// A page thread references the stored page (its text read from it) and
// is opened again, idempotently, as escalation reaches more people.
func TestPageThread(t *testing.T) {
	_, s, clk := threadStore(t)
	ctx := context.Background()
	m := pageAt(t0, "4W bed 12 pain 9/10")
	accept(t, s, m)
	th := openPage(t, s, m.ID, storage.NewMember{Person: "dr-kim", AddedBy: "escalation step 1", Note: "role cardiology → on call"})
	if th.ID != m.ID || th.Kind != storage.ThreadPage || th.HasSubject || len(th.Members) != 1 {
		t.Fatalf("page thread %+v", th)
	}
	clk.add(5 * time.Minute)
	th = openPage(t, s, m.ID, storage.NewMember{Person: "dr-kim", AddedBy: "escalation step 1"},
		storage.NewMember{Person: "dr-ng", AddedBy: "escalation step 2"})
	if mem, ok := th.Member("dr-ng"); !ok || mem.AddedBy != "escalation step 2" || !mem.Added.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("after step 2: %+v", th.Members)
	}
	if mem, _ := th.Member("dr-kim"); mem.Note != "role cardiology → on call" {
		t.Errorf("a member opened again changed: %+v", mem)
	}
	n, _ := auditActions(t, s)
	openPage(t, s, m.ID, storage.NewMember{Person: "dr-ng", AddedBy: "escalation step 2"})
	if again, _ := auditActions(t, s); again["thread.add"] != n["thread.add"] || n["thread.add"] != 1 || n["thread.create"] != 1 {
		t.Errorf("audit after opening three times: %v then %v", n, again)
	}
	post(t, s, m.ID, "dr-ng", "coming")
	v, err := s.ReadThread(ctx, m.ID, "dr-ng", paging.ChannelApp, by)
	if err != nil {
		t.Fatal(err)
	}
	pg := v.Messages[0]
	if pg.Kind != storage.PostPage || pg.ID != m.ID || pg.Text.Reveal() != "4W bed 12 pain 9/10" || pg.Author != "" ||
		pg.Page == nil || pg.Page.PagerID != "1002" || pg.Page.Source.Line != "4W nurse call" || len(pg.Receipts) != 0 {
		t.Errorf("page entry %+v", pg)
	}
	if err := s.MarkReceipt(ctx, m.ID, m.ID, "dr-kim", paging.StateRead, paging.ChannelApp, time.Time{}, by); !errors.Is(err, paging.ErrInvalid) {
		t.Errorf("receipt on the page: %v", err)
	}
	// Someone deleted since the engine resolved them is passed over, not
	// a failure of the page's thread.
	th = openPage(t, s, m.ID, storage.NewMember{Person: "dr-gone", AddedBy: "escalation step 3"},
		storage.NewMember{Person: "nurse-ana", AddedBy: "escalation step 3"})
	if len(th.Members) != 3 || th.IsMember("dr-gone") || !th.IsMember("nurse-ana") {
		t.Errorf("members with one unknown: %+v", th.Members)
	}
	// Errors.
	if _, _, err := s.CreateThread(ctx, storage.NewThread{Kind: storage.ThreadPage, Page: paging.NewID(t0), Label: "x",
		CreatedBy: "system:engine", Members: []storage.NewMember{{Person: "dr-kim"}}}, by); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("thread of an unknown page: %v", err)
	}
	if _, _, err := s.CreateThread(ctx, storage.NewThread{Kind: storage.ThreadPage, Page: m.ID, Label: "x", CreatedBy: "x",
		First: &storage.NewPost{Author: "dr-kim", Text: paging.NewPHI("x")}}, by); !errors.Is(err, paging.ErrInvalid) {
		t.Errorf("page thread with a first post: %v", err)
	}
}

func TestReceipts(t *testing.T) {
	_, s, clk := threadStore(t)
	ctx := context.Background()
	th, first := direct(t, s, "dr-lee", []string{"dr-kim"}, "", "call me")
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	steps := []struct {
		name    string
		person  string
		msg     paging.ID
		state   paging.State
		channel paging.Channel
		want    error
		moved   bool
	}{
		{"delivered", "dr-kim", first, paging.StateDelivered, paging.ChannelApp, nil, true},
		{"sent again is no step back", "dr-kim", first, paging.StateSent, paging.ChannelApp, nil, false},
		{"acknowledged by SMS skips read", "dr-kim", first, paging.StateAcknowledged, paging.ChannelSMS, nil, true},
		{"read after that changes nothing", "dr-kim", first, paging.StateRead, paging.ChannelApp, nil, false},
		{"not a member", "dr-ng", first, paging.StateRead, paging.ChannelApp, storage.ErrNotMember, false},
		{"own message", "dr-lee", first, paging.StateRead, paging.ChannelApp, paging.ErrInvalid, false},
		{"a state receipts do not take", "dr-kim", first, paging.StateCancelled, paging.ChannelApp, paging.ErrInvalid, false},
		{"a channel that is none", "dr-kim", first, paging.StateRead, "fax", paging.ErrInvalid, false},
		{"unknown message", "dr-kim", paging.NewID(t0), paging.StateRead, paging.ChannelApp, paging.ErrNotFound, false},
	}
	for i, st := range steps {
		clk.add(time.Minute)
		before, _ := auditActions(t, s)
		err := s.MarkReceipt(ctx, th.ID, st.msg, st.person, st.state, st.channel, at(i+1), paging.AuditEvent{Actor: st.person})
		if !errors.Is(err, st.want) || (st.want == nil) != (err == nil) {
			t.Errorf("%s: err %v, want %v", st.name, err, st.want)
		}
		after, _ := auditActions(t, s)
		if moved := after["thread.receipt"] > before["thread.receipt"]; moved != st.moved {
			t.Errorf("%s: audited %v, want %v", st.name, moved, st.moved)
		}
	}
	v, err := s.ThreadMessages(ctx, th.ID, by)
	if err != nil {
		t.Fatal(err)
	}
	want := storage.Receipt{Person: "dr-kim", State: paging.StateAcknowledged, Channel: paging.ChannelSMS,
		Sent: t0, Delivered: at(1), Acknowledged: at(3)}
	if got := v.Messages[0].Receipts; len(got) != 1 || !sameReceipt(got[0], want) {
		t.Errorf("receipt %+v, want %+v", got, want)
	}
	// A colleague added later gets a receipt when they read.
	if _, err := s.AddMembers(ctx, th.ID, []storage.NewMember{{Person: "dr-ng", AddedBy: "dr-kim"}}, by); err != nil {
		t.Fatal(err)
	}
	v, err = s.ReadThread(ctx, th.ID, "dr-ng", paging.ChannelApp, by)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Messages[0].Receipts; len(got) != 2 || got[1].Person != "dr-ng" || got[1].State != paging.StateRead || !got[1].Read.Equal(clk.Now()) {
		t.Errorf("receipts after a late member read: %+v", got)
	}
	if m, _ := v.Member("dr-ng"); m.LastRead != first {
		t.Errorf("last read %v, want %v", m.LastRead, first)
	}
}

func sameReceipt(a, b storage.Receipt) bool {
	return a.Person == b.Person && a.State == b.State && a.Channel == b.Channel && a.Sent.Equal(b.Sent) &&
		a.Delivered.Equal(b.Delivered) && a.Read.Equal(b.Read) && a.Acknowledged.Equal(b.Acknowledged)
}

func TestTemplatesStored(t *testing.T) {
	_, s, _ := threadStore(t)
	ctx := context.Background()
	tpl := storage.Template{Name: "callback", Text: "Please call {caller} about {patient_room}"}
	if err := s.PutTemplate(ctx, tpl, by); err != nil {
		t.Fatal(err)
	}
	tpl.Text = "Call {caller} re {patient_room}"
	if err := s.PutTemplate(ctx, tpl, by); err != nil {
		t.Fatal(err)
	}
	if err := s.PutTemplate(ctx, storage.Template{Name: "arrived", Text: "Arrived"}, by); err != nil {
		t.Fatal(err)
	}
	got, err := s.Template(ctx, "callback")
	if err != nil || got.Text != tpl.Text || !got.Updated.Equal(t0) {
		t.Fatalf("template %+v, %v", got, err)
	}
	all, err := s.Templates(ctx)
	if err != nil || len(all) != 2 || all[0].Name != "arrived" || all[1].Name != "callback" {
		t.Fatalf("templates %+v, %v", all, err)
	}
	if err := s.DeleteTemplate(ctx, "arrived", by); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Template(ctx, "arrived"); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("deleted template: %v", err)
	}
	if err := s.DeleteTemplate(ctx, "arrived", by); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("deleting twice: %v", err)
	}
	for _, bad := range []storage.Template{{Name: "", Text: "x"}, {Name: "x"}, {Name: strings.Repeat("n", storage.MaxTemplateNameLen+1), Text: "x"},
		{Name: "x", Text: strings.Repeat("t", storage.MaxTemplateLen+1)}, {Name: "x", Text: "\xff"}} {
		if err := s.PutTemplate(ctx, bad, by); !errors.Is(err, paging.ErrInvalid) {
			t.Errorf("template %.20q: %v", bad.Name, err)
		}
	}
	n, _ := auditActions(t, s)
	if n["template.create"] != 2 || n["template.update"] != 1 || n["template.delete"] != 1 {
		t.Errorf("audit %v", n)
	}
}

// The sweep deletes what is past its kind's retention and nothing else,
// leaves a page thread whole while its page is not acknowledged, takes a
// thread with it once it is empty and idle, and says so in the chain.
func TestSweepRetention(t *testing.T) {
	_, s, clk := threadStore(t)
	ctx := context.Background()
	const day = 24 * time.Hour

	acked := accept0(t, s, pageAt(t0, "acked page"))
	open := accept0(t, s, pageAt(t0, "page nobody acknowledged"))
	pAcked := openPage(t, s, acked, storage.NewMember{Person: "dr-kim", AddedBy: "escalation step 1"})
	clk.add(time.Minute)
	pOpen := openPage(t, s, open, storage.NewMember{Person: "dr-kim", AddedBy: "escalation step 1"})
	clk.add(time.Minute)
	post(t, s, pAcked.ID, "dr-kim", "seen, coming")
	oldDirect, _ := direct(t, s, "dr-lee", []string{"dr-kim"}, "", "old direct")
	clk.add(time.Minute)
	group, _ := direct(t, s, "dr-lee", []string{"dr-kim", "dr-ng"}, "", "old group message")
	clk.add(time.Minute)
	role, _, err := s.CreateThread(ctx, storage.NewThread{Kind: storage.ThreadRole, Label: "role cardiology", CreatedBy: "dr-lee",
		Target: paging.Target{Kind: paging.TargetRole, ID: "cardiology"}, Members: []storage.NewMember{{Person: "dr-lee"}, {Person: "dr-kim"}},
		First: &storage.NewPost{Author: "dr-lee", Text: paging.NewPHI("kept forever")}}, by)
	if err != nil {
		t.Fatal(err)
	}
	empty, _, err := s.CreateThread(ctx, storage.NewThread{Kind: storage.ThreadDirect, Label: "empty", CreatedBy: "dr-lee",
		Members: []storage.NewMember{{Person: "dr-lee"}, {Person: "nurse-ana"}}}, by)
	if err != nil {
		t.Fatal(err)
	}
	clk.add(40 * day)
	newer := post(t, s, group.ID, "dr-ng", "newer group message")
	clk.add(time.Minute)
	recent, _ := direct(t, s, "dr-ng", []string{"dr-kim"}, "", "recent direct")
	clk.add(20 * day) // now t0 + 60 days

	policy := storage.RetentionPolicy{Page: 30 * day, Direct: 30 * day, Group: 30 * day,
		PageSettled: func(_ context.Context, page paging.ID) (bool, error) { return page == acked, nil }}
	before, _ := auditActions(t, s)
	rep, err := s.SweepRetention(ctx, clk.Now(), policy)
	if err != nil {
		t.Fatal(err)
	}
	// The acked page's entry and reply, the old direct message, the old
	// group message; three threads went whole (the empty one too).
	if want := (storage.SweepReport{Messages: 4, Threads: 3, Kept: 1}); rep != want {
		t.Errorf("report %+v, want %+v", rep, want)
	}
	for _, gone := range []paging.ID{pAcked.ID, oldDirect.ID, empty.ID} {
		if _, err := s.Thread(ctx, gone); !errors.Is(err, paging.ErrNotFound) {
			t.Errorf("thread %s after the sweep: %v", gone, err)
		}
	}
	for _, kept := range []paging.ID{pOpen.ID, group.ID, recent.ID, role.ID} {
		if _, err := s.Thread(ctx, kept); err != nil {
			t.Errorf("thread %s after the sweep: %v", kept, err)
		}
	}
	v, err := s.ThreadMessages(ctx, group.ID, by)
	if err != nil || len(v.Messages) != 1 || v.Messages[0].ID != newer {
		t.Errorf("group thread after the sweep: %v, %v", texts0(v), err)
	}
	if v, err := s.ThreadMessages(ctx, pOpen.ID, by); err != nil || len(v.Messages) != 1 || v.Messages[0].Text.Reveal() != "page nobody acknowledged" {
		t.Errorf("unacknowledged page thread after the sweep: %v", err)
	}
	// The page Accept stored stays: it is not the thread's to delete.
	if _, err := s.MessageToRoute(ctx, acked); err != nil {
		t.Errorf("the acknowledged page itself: %v", err)
	}
	inbox, err := s.ThreadsOf(ctx, "dr-kim", 0, storage.InboxCursor{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []paging.ID
	for _, e := range inbox {
		ids = append(ids, e.ID)
	}
	if want := []paging.ID{recent.ID, group.ID, role.ID, pOpen.ID}; !slices.Equal(ids, want) {
		t.Errorf("inbox after the sweep %v, want %v", ids, want)
	}
	if inbox, _ := s.ThreadsOf(ctx, "nurse-ana", 0, storage.InboxCursor{}); len(inbox) != 0 {
		t.Errorf("the empty thread is still in an inbox")
	}

	after, entries := auditActions(t, s)
	if got := after["thread.sweep"] - before["thread.sweep"]; got != 4 {
		t.Errorf("%d sweep entries, want one per thread swept (4)", got)
	}
	details := map[string]string{}
	for _, e := range entries {
		if e.Action == "thread.sweep" {
			details[strings.TrimPrefix(e.Object, "thread/")] = e.Detail
			if e.Actor != "system:retention" || e.Time != clk.Now().Format(time.RFC3339Nano) {
				t.Errorf("sweep entry %+v", e)
			}
		}
	}
	for id, want := range map[paging.ID]string{
		pAcked.ID:    "deleted 2 messages (" + acked.String(),
		oldDirect.ID: "deleted 1 message",
		group.ID:     "deleted 1 message",
		empty.ID:     "deleted no messages",
	} {
		d := details[id.String()]
		if !strings.Contains(d, want) || !strings.Contains(d, "older than "+clk.Now().Add(-30*day).Format(time.RFC3339)) {
			t.Errorf("sweep of %s: %q, want %q", id, d, want)
		}
		if removed := strings.Contains(d, "thread deleted"); removed != (id != group.ID) {
			t.Errorf("sweep of %s: %q: thread deleted %v", id, d, removed)
		}
	}
	verify(t, s)

	// Nothing more to do: nothing changes, nothing is audited.
	rep, err = s.SweepRetention(ctx, clk.Now(), policy)
	if err != nil || rep != (storage.SweepReport{Kept: 1}) {
		t.Errorf("second sweep %+v, %v", rep, err)
	}
	if again, _ := auditActions(t, s); again["thread.sweep"] != after["thread.sweep"] {
		t.Error("a sweep with nothing to do was audited")
	}
	// Without PageSettled, page threads are never swept; an error from it
	// stops the sweep.
	if rep, err := s.SweepRetention(ctx, clk.Now(), storage.RetentionPolicy{Page: day}); err != nil || rep != (storage.SweepReport{}) {
		t.Errorf("sweep without PageSettled: %+v, %v", rep, err)
	}
	boom := errors.New("route unreadable")
	if _, err := s.SweepRetention(ctx, clk.Now(), storage.RetentionPolicy{Page: day,
		PageSettled: func(context.Context, paging.ID) (bool, error) { return false, boom }}); !errors.Is(err, boom) {
		t.Errorf("sweep with a failing PageSettled: %v", err)
	}
}

func accept0(t *testing.T, s *storage.Store, m *paging.Message) paging.ID {
	t.Helper()
	accept(t, s, m)
	return m.ID
}

// Posts from many writers land together (group commit), every one of
// them; a thread with more old messages than one commit deletes is swept
// over several, each audited.
func TestSweepLargeThread(t *testing.T) {
	_, s, clk := threadStore(t)
	ctx := context.Background()
	th, _ := direct(t, s, "dr-lee", []string{"dr-kim"}, "", "start")
	const writers, each = 20, 60 // 1,200 posts: more than one sweep commit takes
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := s.PostMessage(ctx, th.ID, storage.NewPost{Author: staff[w%2], Text: paging.NewPHI(fmt.Sprint(w, "/", i))}, by); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if inbox, err := s.ThreadsOf(ctx, "dr-kim", 1, storage.InboxCursor{}); err != nil || len(inbox) != 1 || inbox[0].Unread != writers*each/2+1 {
		t.Fatalf("unread of a long thread: %+v, %v", inbox, err)
	}
	v, err := s.ThreadMessages(ctx, th.ID, by)
	if err != nil || len(v.Messages) != writers*each+1 {
		t.Fatalf("%d messages, %v", len(v.Messages), err)
	}
	clk.add(48 * time.Hour)
	before, _ := auditActions(t, s)
	rep, err := s.SweepRetention(ctx, clk.Now(), storage.RetentionPolicy{Direct: 24 * time.Hour})
	if err != nil || rep != (storage.SweepReport{Messages: writers*each + 1, Threads: 1}) {
		t.Fatalf("sweep %+v, %v", rep, err)
	}
	after, _ := auditActions(t, s)
	if n := after["thread.sweep"] - before["thread.sweep"]; n != 2 {
		t.Errorf("%d sweep entries for %d messages, want 2", n, writers*each+1)
	}
	verify(t, s)
}

// A schema 5 file gets the thread buckets at Open, after a backup.
func TestMigrateV5AddsThreads(t *testing.T) {
	e := storagetest.New(t)
	s := e.Open(t)
	accept(t, s, newMsg("before threads"))
	s.Close()
	editBolt(t, e.Path, func(tx *bolt.Tx) error {
		for _, b := range []string{"threads", "thread.posts", "thread.receipts", "thread.inbox", "thread.activity", "thread.age", "templates"} {
			if err := tx.DeleteBucket([]byte(b)); err != nil {
				return fmt.Errorf("%s: %w", b, err)
			}
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), binary.BigEndian.AppendUint64(nil, 5))
	})
	s = e.Open(t)
	if err := s.PutPerson(context.Background(), paging.Person{ID: "dr-lee", Name: "Lee", Stage: paging.StageApp}, by); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPerson(context.Background(), paging.Person{ID: "dr-kim", Name: "Kim", Stage: paging.StageApp}, by); err != nil {
		t.Fatal(err)
	}
	direct(t, s, "dr-lee", []string{"dr-kim"}, "", "after the migration")
	if files, _ := filepath.Glob(filepath.Join(e.Dir, "pagebridge.db.v5-*.bak")); len(files) != 1 {
		t.Errorf("backups: %v", files)
	}
	s.Close()
	if v, buckets := schemaOf(t, e.Path); v != storage.SchemaVersion || !slices.Contains(buckets, "thread.posts") {
		t.Errorf("schema %d, buckets %v", v, buckets)
	}
}
