package threads_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"pagebridge/gateway/paging"
	"pagebridge/gateway/threads"
	"pagebridge/storage"
)

func TestCompose(t *testing.T) {
	cases := []struct {
		name      string
		from      string
		to        paging.Target
		prio      paging.Priority
		kind      storage.ThreadKind
		label     string
		members   []string
		reached   []string
		held      int
		wantErr   error
		emptyText bool
	}{
		{name: "direct", from: "dr-lee", to: person("dr-kim"), kind: storage.ThreadDirect,
			label: "direct · Name of dr-lee → Name of dr-kim", members: []string{"dr-lee", "dr-kim"}, reached: []string{"dr-kim"}},
		{name: "group: its members, the sender once", from: "dr-lee", to: paging.Target{Kind: paging.TargetGroup, ID: "icu"},
			kind: storage.ThreadGroup, label: "group ICU nights · from Name of dr-lee",
			members: []string{"dr-lee", "dr-kim", "dr-ng"}, reached: []string{"dr-kim", "dr-ng"}},
		{name: "role: who is on call now", from: "dr-kim", to: paging.Target{Kind: paging.TargetRole, ID: "cardiology"},
			kind: storage.ThreadRole, label: "role cardiology · from Name of dr-kim",
			members: []string{"dr-kim", "dr-ng"}, reached: []string{"dr-ng"}},
		{name: "critical breaks through do not disturb", from: "dr-lee", to: person("nurse-ana"), prio: paging.PriorityCritical,
			kind: storage.ThreadDirect, label: "direct · Name of dr-lee → Name of nurse-ana",
			members: []string{"dr-lee", "nurse-ana"}, reached: []string{"nurse-ana"}},
		{name: "do not disturb holds a normal message", from: "dr-lee", to: person("nurse-ana"), held: 1, wantErr: threads.ErrNobody},
		{name: "a role with nobody on call", from: "dr-lee", to: paging.Target{Kind: paging.TargetRole, ID: "empty"}, wantErr: threads.ErrNobody},
		{name: "oneself", from: "dr-lee", to: person("dr-lee"), wantErr: threads.ErrNobody},
		{name: "unknown person", from: "dr-lee", to: person("dr-who"), wantErr: paging.ErrNotFound},
		{name: "unknown role", from: "dr-lee", to: paging.Target{Kind: paging.TargetRole, ID: "dermatology"}, wantErr: paging.ErrNotFound},
		{name: "unknown sender", from: "dr-who", to: person("dr-kim"), wantErr: paging.ErrNotFound},
		{name: "no target kind", from: "dr-lee", to: paging.Target{ID: "dr-kim"}, wantErr: paging.ErrInvalid},
		{name: "no text", from: "dr-lee", to: person("dr-kim"), emptyText: true, wantErr: paging.ErrInvalid},
	}
	r := newRig(t)
	ctx := context.Background()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r.clk.add(time.Minute) // each case's thread is the newest
			creates := len(r.audit("thread.create"))
			content := text("Bed 7 is asking for you")
			if c.emptyText {
				content = threads.Content{}
			}
			got, err := r.svc.Compose(ctx, as(c.from), threads.Draft{To: c.to, Priority: c.prio, Content: content})
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err %v, want %v", err, c.wantErr)
				}
				if len(got.Held) != c.held {
					t.Errorf("held %+v", got.Held)
				}
				if n := len(r.audit("thread.create")); n != creates {
					t.Error("a refused message opened a thread")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			th := got.Thread
			var members, reached []string
			for _, m := range th.Members {
				members = append(members, m.Person)
			}
			for _, rc := range got.Reached {
				reached = append(reached, rc.Person)
			}
			if th.Kind != c.kind || th.Label != c.label || th.Target != c.to || th.Priority != c.prio || th.CreatedBy != c.from {
				t.Errorf("thread %+v", th)
			}
			wantList(t, "members", members, c.members)
			wantList(t, "reached", reached, c.reached)
			for _, m := range th.Members[1:] {
				if m.AddedBy != c.from || m.Note == "" {
					t.Errorf("member %+v: added by the sender, with the reason", m)
				}
			}
			for _, p := range c.reached {
				es, err := r.svc.Inbox(ctx, p, 1, storage.InboxCursor{})
				if err != nil || len(es) != 1 || es[0].ID != th.ID || es[0].Unread != 1 || es[0].Priority != c.prio {
					t.Errorf("inbox of %s: %+v, %v", p, es, err)
				}
			}
			v, err := r.svc.Read(ctx, as(c.reached[0]), th.ID, paging.ChannelApp)
			if err != nil || len(v.Messages) != 1 || v.Messages[0].ID != got.Message || v.Messages[0].Text.Reveal() != "Bed 7 is asking for you" {
				t.Errorf("read by %s: %v", c.reached[0], err)
			}
		})
	}
}

// Only members read, post, add colleagues and hold receipts; the access
// hook lets others in, audited.
func TestMembersOnly(t *testing.T) {
	r := newRig(t, func(o *threads.Options) {
		o.Access = func(_ context.Context, c threads.Caller, _ storage.Thread, a threads.Action) bool {
			return c.Person == "op-1" && a == threads.ActionRead
		}
	})
	ctx := context.Background()
	c := r.compose("dr-lee", person("dr-kim"), "confidential")
	id := c.Thread.ID
	reads := len(r.audit("thread.read"))
	for _, who := range []string{"nurse-ana", "op-1"} {
		if _, err := r.svc.Reply(ctx, as(who), id, text("let me in")); !errors.Is(err, threads.ErrForbidden) {
			t.Errorf("%s replies: %v", who, err)
		}
		if _, err := r.svc.AddColleague(ctx, as(who), id, who); !errors.Is(err, threads.ErrForbidden) {
			t.Errorf("%s adds themselves: %v", who, err)
		}
		if err := r.svc.Receipt(ctx, as(who), id, c.Message, paging.StateRead, paging.ChannelApp); !errors.Is(err, threads.ErrForbidden) {
			t.Errorf("%s marks read: %v", who, err)
		}
	}
	if _, err := r.svc.Read(ctx, as("nurse-ana"), id, paging.ChannelApp); !errors.Is(err, threads.ErrForbidden) {
		t.Errorf("non-member reads: %v", err)
	}
	if n := len(r.audit("thread.read")); n != reads {
		t.Error("a refused read was audited as a read")
	}
	v, err := r.st.ThreadMessages(ctx, id, admin)
	if err != nil || len(v.Messages) != 1 || len(v.Members) != 2 {
		t.Fatalf("refused calls changed the thread: %d messages, %d members, %v", len(v.Messages), len(v.Members), err)
	}
	// The operator reads through the hook: audited as an access and a
	// read, and nothing marked read for them.
	v, err = r.svc.Read(ctx, as("op-1"), id, paging.ChannelApp)
	if err != nil || v.Messages[0].Text.Reveal() != "confidential" {
		t.Fatalf("operator read: %v", err)
	}
	wantList(t, "access", r.audit("thread.access"), []string{"person:op-1 thread/" + id.String()})
	if got := r.audit("thread.read"); len(got) != reads+2 || got[len(got)-1] != "person:op-1 thread/"+id.String() {
		t.Errorf("reads %q", got)
	}
	if len(v.Messages[0].Receipts) != 1 {
		t.Errorf("the operator's read left a receipt: %+v", v.Messages[0].Receipts)
	}
	if _, err := r.svc.Read(ctx, as("op-1"), paging.NewID(t0), paging.ChannelApp); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("unknown thread: %v", err)
	}
	if _, err := r.svc.Read(ctx, threads.Caller{}, id, paging.ChannelApp); !errors.Is(err, paging.ErrInvalid) {
		t.Errorf("nobody reads: %v", err)
	}
}

// A conversation: replies, a colleague added, reads and receipts, and
// the inboxes that follow it.
func TestConversation(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	c := r.compose("dr-lee", person("dr-kim"), "Can you see bed 7?")
	id := c.Thread.ID
	label := c.Thread.Label

	steps := []struct {
		name  string
		do    func() error
		inbox map[string][]string
	}{
		{"sent", func() error { return nil },
			map[string][]string{"dr-lee": {label + " 0"}, "dr-kim": {label + " 1"}, "dr-ng": nil}},
		{"delivered to the app", func() error {
			return r.svc.Receipt(ctx, as("dr-kim"), id, c.Message, paging.StateDelivered, paging.ChannelApp)
		}, map[string][]string{"dr-kim": {label + " 1"}}},
		{"read", func() error {
			_, err := r.svc.Read(ctx, as("dr-kim"), id, paging.ChannelApp)
			return err
		}, map[string][]string{"dr-kim": {label + " 0"}}},
		{"a reply", func() error {
			r.clk.add(time.Minute)
			_, err := r.svc.Reply(ctx, as("dr-kim"), id, text("Yes, 5 minutes"))
			return err
		}, map[string][]string{"dr-lee": {label + " 1"}, "dr-kim": {label + " 0"}}},
		{"a colleague added", func() error {
			r.clk.add(time.Minute)
			added, err := r.svc.AddColleague(ctx, as("dr-kim"), id, "dr-ng", "dr-lee", "dr-ng")
			if err == nil && !slices.Equal(added, []string{"dr-ng"}) {
				t.Errorf("added %v", added)
			}
			return err
		}, map[string][]string{"dr-ng": {label + " 2"}}},
		{"the colleague reads", func() error {
			_, err := r.svc.Read(ctx, as("dr-ng"), id, paging.ChannelApp)
			return err
		}, map[string][]string{"dr-ng": {label + " 0"}, "dr-lee": {label + " 1"}}},
		{"acknowledged", func() error {
			return r.svc.Receipt(ctx, as("dr-kim"), id, c.Message, paging.StateAcknowledged, paging.ChannelApp)
		}, nil},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		for p, want := range st.inbox {
			wantList(t, st.name+": inbox of "+p, r.inbox(p), want)
		}
	}
	v, err := r.svc.Read(ctx, as("dr-lee"), id, paging.ChannelApp)
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := v.Member("dr-ng"); !ok || m.AddedBy != "dr-kim" || !m.Added.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("colleague %+v", m)
	}
	first := v.Messages[0]
	var states []string
	for _, rc := range first.Receipts {
		states = append(states, rc.Person+" "+string(rc.State))
	}
	wantList(t, "receipts of the first message", states, []string{"dr-kim acknowledged", "dr-ng read"})
	if kim := first.Receipts[0]; !kim.Sent.Equal(t0) || !kim.Delivered.Equal(t0) || kim.Read.IsZero() || kim.Acknowledged.IsZero() {
		t.Errorf("receipt %+v", kim)
	}
	wantList(t, "texts", []string{v.Messages[0].Text.Reveal(), v.Messages[1].Text.Reveal()}, []string{"Can you see bed 7?", "Yes, 5 minutes"})
	wantList(t, "adds", r.audit("thread.add"), []string{"person:dr-kim thread/" + id.String()})
	if n := len(r.audit("thread.post")); n != 2 {
		t.Errorf("%d posts audited", n)
	}
}

func TestTemplatesInMessages(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	const room = "ROOM-MARKER 4W-12"
	if err := r.svc.PutTemplate(ctx, as("dr-lee"), storage.Template{Name: "callback", Text: "Please call {caller} about {patient_room}"}); err != nil {
		t.Fatal(err)
	}
	err := r.svc.PutTemplate(ctx, as("dr-lee"), storage.Template{Name: "broken", Text: "Call {Caller}"})
	if te, ok := errors.AsType[*threads.TemplateError](err); !ok || !errors.Is(err, threads.ErrTemplateSyntax) || te.Template != "broken" {
		t.Errorf("a template that does not parse: %v", err)
	}
	if _, err := r.st.Template(ctx, "broken"); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("a broken template was stored: %v", err)
	}
	vals := func(kv ...string) map[string]paging.PHI {
		m := map[string]paging.PHI{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = paging.NewPHI(kv[i+1])
		}
		return m
	}
	cases := []struct {
		name    string
		content threads.Content
		want    string
		err     error
	}{
		{"rendered", threads.Content{Template: "callback", Values: vals("caller", "ext 4410", "patient_room", room)},
			"Please call ext 4410 about " + room, nil},
		{"missing value", threads.Content{Template: "callback", Values: vals("caller", room)}, "", threads.ErrMissingValue},
		{"unknown placeholder", threads.Content{Template: "callback", Values: vals("caller", "x", "patient_room", room, "bed", room)}, "", threads.ErrUnknownPlaceholder},
		{"unknown template", threads.Content{Template: "nope", Values: vals("caller", room)}, "", paging.ErrNotFound},
		{"text and template", threads.Content{Text: paging.NewPHI(room), Template: "callback"}, "", paging.ErrInvalid},
		{"values without template", threads.Content{Text: paging.NewPHI("x"), Values: vals("caller", room)}, "", paging.ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := r.svc.Compose(ctx, as("dr-lee"), threads.Draft{To: person("dr-kim"), Content: c.content})
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err %v, want %v", err, c.err)
				}
				if strings.Contains(err.Error(), "MARKER") {
					t.Errorf("the error holds a value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			v, err := r.svc.Read(ctx, as("dr-kim"), got.Thread.ID, paging.ChannelApp)
			if err != nil || v.Messages[0].Text.Reveal() != c.want || v.Messages[0].Template != "callback" {
				t.Errorf("message %q from %q, %v", v.Messages[0].Text.Reveal(), v.Messages[0].Template, err)
			}
		})
	}
	for _, e := range r.auditAll() {
		if strings.Contains(e.Detail, "MARKER") {
			t.Errorf("audit entry %d holds a value: %+v", e.Seq, e)
		}
	}
	if out, err := r.svc.RenderTemplate(ctx, "callback", vals("caller", "a", "patient_room", "b")); err != nil || out.Reveal() != "Please call a about b" {
		t.Errorf("render: %q, %v", out.Reveal(), err)
	}
}
