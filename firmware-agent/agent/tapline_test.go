package agent

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/firmware-agent/tap"
	"pagebridge/gateway/paging"
)

// A TAP line's page: refused with 511 for an ID the gateway's directory
// does not know (taken when there is no directory yet), its tier the line's
// default raised by the ID's own and by keyword rules, and, while the
// gateway is away, passed to the ID's paging terminal in the same commit.
func TestAcceptPage(t *testing.T) {
	ctx := context.Background()
	line := DeviceConfig{ID: "nurse-call", Kind: KindTAPLine, Port: "listen://127.0.0.1:0", Priority: paging.PriorityNormal,
		PriorityRules: []paging.PriorityRule{{StartsWith: "CODE BLUE", Priority: paging.PriorityCritical}}}
	a := testAgent(t, line, terminal("term-1", 1))
	d := a.devices["nurse-call"]
	page := func(id, text string) tap.Page { return tap.Page{ID: id, Text: paging.NewPHI(text)} }
	inbound := func() map[string]agentapi.Inbound {
		items, err := a.spool.PendingItems(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]agentapi.Inbound{}
		for _, it := range items {
			var in agentapi.Inbound
			if _, err := agentapi.Open([]byte(it.Payload.Reveal()), &in); err != nil {
				t.Fatal(err)
			}
			out[string(in.Text)] = in
		}
		return out
	}

	// No directory yet: every ID is taken.
	if r := d.acceptPage(ctx, page("7777", "before the directory")); r.Code() != tap.CodeSent {
		t.Fatalf("no directory: %v", r)
	}
	a.dir.Store(&agentapi.Directory{Pagers: []agentapi.DirectoryPager{
		{ID: "1002", Bypass: []agentapi.BypassTarget{{Via: "agent-t/term-1", To: "55"}, {Via: "other-agent/term-1", To: "66"}}},
		{ID: "2000", Priority: paging.PriorityHigh},
	}})
	if r := d.acceptPage(ctx, page("9999", "unknown")); r.Code() != tap.CodeUnknownID || r.Action != tap.RS {
		t.Fatalf("unknown ID: %v, want 511 RS", r)
	}
	for _, p := range []tap.Page{page("1002", "routine"), page("2000", "lab result"), page("1002", "code blue 4W")} {
		if r := d.acceptPage(ctx, p); r.Code() != tap.CodeSent {
			t.Fatalf("%s: %v", p.ID, r)
		}
	}
	got := inbound()
	for text, want := range map[string]paging.Priority{"before the directory": paging.PriorityNormal, "routine": paging.PriorityNormal,
		"lab result": paging.PriorityHigh, "code blue 4W": paging.PriorityCritical} {
		if in, ok := got[text]; !ok || in.Priority != want || in.Bypassed {
			t.Errorf("%q: %+v, want tier %v, not bypassed", text, in, want)
		}
	}
	if _, ok := got["unknown"]; ok {
		t.Error("a page refused with 511 was stored")
	}

	// The gateway away longer than BypassAfter: the page goes to this
	// agent's terminal too (not the other agent's), marked bypassed.
	a.linkUp.set(true, time.Now())
	a.linkUp.set(false, time.Now().Add(-time.Hour))
	if r := d.acceptPage(ctx, page("1002", "while away")); r.Code() != tap.CodeSent {
		t.Fatalf("while away: %v", r)
	}
	in := inbound()["while away"]
	if !in.Bypassed || len(in.BypassedTo) != 1 || in.BypassedTo[0].To != "55" {
		t.Fatalf("bypassed page: %+v", in)
	}
	j, ok := a.devices["term-1"].queue.TryPop()
	if !ok || !j.body.Bypass || j.body.To != "55" || string(j.body.Text) == "while away" {
		t.Fatalf("bypass job: %+v (the text must be a notice: no PHI on pagers by default)", j)
	}
	if jobs, _ := a.spool.Jobs(ctx); len(jobs) != 1 {
		t.Fatalf("spooled jobs: %d, want the bypass job", len(jobs))
	}
	// An ID with no pager-stage people has nothing to bypass to: the
	// page waits for the gateway.
	if r := d.acceptPage(ctx, page("2000", "no pager")); r.Code() != tap.CodeSent || inbound()["no pager"].Bypassed {
		t.Fatalf("page without bypass targets: %v %+v", r, inbound()["no pager"])
	}
}

func TestAllowedSource(t *testing.T) {
	tcp := func(s string) net.Addr { return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s)) }
	lan := []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}
	for _, c := range []struct {
		addr  net.Addr
		allow []netip.Prefix
		want  bool
	}{
		{tcp("127.0.0.1:5000"), nil, true},
		{tcp("[::1]:5000"), nil, true},
		{tcp("10.1.2.3:5000"), nil, false},
		{tcp("10.1.2.3:5000"), lan, true},
		{tcp("[::ffff:10.1.2.3]:5000"), lan, true},
		{tcp("10.2.0.1:5000"), lan, false},
		{tcp("127.0.0.1:5000"), lan, false},
		{&net.UnixAddr{Name: "x"}, nil, false},
	} {
		if got := allowedSource(c.addr, c.allow); got != c.want {
			t.Errorf("%v in %v: %v, want %v", c.addr, c.allow, got, c.want)
		}
	}
}
