package main

// End-to-end tests of routing with the real daemons: a page from a TAP
// sender on the agent's line is resolved by the gateway's engine and
// escalated through the paging terminal, across a kill -9 of the gateway
// between steps; a stopped agent pages the IT on-call role.

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"pagebridge/firmware-agent/tap"
	"pagebridge/gateway/admin"
	"pagebridge/gateway/engine"
	"pagebridge/gateway/oncall"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/routing"
	"pagebridge/storage"
)

// seed stops the gateway, writes im into its store directly, and starts
// it again.
func (r *busRig) seed(im storage.Import) {
	r.t.Helper()
	r.gw.stop()
	cfg, err := LoadConfig(r.gwConf)
	if err != nil {
		r.t.Fatal(err)
	}
	st, err := openStore(cfg.Storage, slog.New(slog.DiscardHandler))
	if err != nil {
		r.t.Fatal(err)
	}
	if err := st.ImportDirectory(context.Background(), im, paging.AuditEvent{Actor: "e2e-test"}); err != nil {
		st.Close()
		r.t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		r.t.Fatal(err)
	}
	r.startGateway()
}

// pages lists the gateway's newest routes over the admin socket.
func (r *busRig) pages() []engine.Route {
	r.t.Helper()
	resp, err := admin.Do(context.Background(), r.sock, admin.Request{Op: admin.OpPages, Limit: 50})
	if err != nil || !resp.OK {
		r.t.Fatalf("pages: %v %s", err, resp.Error)
	}
	var out []engine.Route
	dec := json.NewDecoder(strings.NewReader(resp.Result))
	for dec.More() {
		var rt engine.Route
		if err := dec.Decode(&rt); err != nil {
			r.t.Fatal(err)
		}
		out = append(out, rt)
	}
	return out
}

// sendTAP sends one page to the agent's TAP line as nurse call would; the
// agent must take it (211).
func (r *busRig) sendTAP(pagerID, text string) {
	r.t.Helper()
	if reply := r.tryTAP(pagerID, text); reply.Code() != tap.CodeSent {
		r.t.Fatalf("TAP page to %s: %v", pagerID, reply)
	}
}

func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A page escalates on the pager three times, five seconds apart; the
// gateway is killed (-9) after the first step and comes back after the
// second is due: the second runs once, at once, the third on time, then
// the fallback. The terminal receives exactly three pages, none with the
// page's text (PHI stays off the pager without a policy).
func TestRoutingSurvivesKillMidEscalation(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: not in -short")
	}
	r := newBusRig(t, false)
	step := 5 * time.Second
	r.seed(storage.Import{
		People: []paging.Person{{ID: "ben.lee", Name: "Ben Lee RN", Stage: paging.StagePager,
			Endpoints: []paging.Endpoint{{Channel: paging.ChannelPager, Address: "1002", Via: rigAgent + "/term-1"}}}},
		PagerIDs: []paging.PagerID{{ID: "1002", Target: paging.Target{Kind: paging.TargetPerson, ID: "ben.lee"}, Priority: paging.PriorityHigh, Policy: "thrice"}},
		Records: []storage.ImportRecord{{Kind: storage.KindPolicy, ID: "thrice", Value: routing.Policy{ID: "thrice",
			Steps: []routing.Step{{}, {Delay: step}, {Delay: step}}, FallbackAfter: step}}},
	})
	term := r.terms[0]
	r.sendTAP("1002", "Bed 12 patient Jane Roe fell")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := term.WaitPages(ctx, func(p []tap.Page) bool { return len(p) >= 1 }); err != nil {
		t.Fatal("step 1 never reached the terminal:", err)
	}
	r.gw.kill()
	time.Sleep(step + time.Second) // step 2 falls due while the gateway is down
	r.startGateway()
	if err := term.WaitPages(ctx, func(p []tap.Page) bool { return len(p) >= 3 }); err != nil {
		t.Fatal("steps 2 and 3 never reached the terminal:", err)
	}
	// The fallback comes a step's time after step 3: a duplicate of any
	// step would have reached the terminal by then.
	waitUntil(t, time.Minute, "fallback", func() bool {
		ps := r.pages()
		return len(ps) == 1 && ps[0].State == engine.StateFallback
	})
	pages := term.Pages()
	if len(pages) != 3 {
		t.Fatalf("the terminal received %d pages, want exactly 3", len(pages))
	}
	for _, p := range pages {
		if p.ID != "1002" || strings.Contains(p.Text.Reveal(), "Jane") || !strings.Contains(p.Text.Reveal(), "open Pagebridge") {
			t.Fatalf("page on the pager: %s %q", p.ID, p.Text.Reveal())
		}
	}
	rt := r.pages()[0]
	var got []string
	for _, d := range rt.Deliveries {
		for _, a := range d.Attempts {
			got = append(got, string(a.Channel)+" "+string(a.State))
		}
	}
	if rt.Policy.Len() != 3 || rt.Done != 2 || !slices.Equal(got, []string{"pager sent", "pager sent", "pager sent"}) {
		t.Fatalf("route after the escalation: done %d, attempts %q", rt.Done, got)
	}
}

// An agent that stops pages the IT on-call role (after alert_after), and
// its return pages again, at normal priority.
func TestStoppedAgentAlertsIT(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: not in -short")
	}
	r := newBusRig(t, false, func(c *Config) {
		c.Routing.AlertPagerID = "it-alerts"
		c.Routing.AlertAfter = Duration{Duration: 2 * time.Second}
	})
	r.seed(storage.Import{
		People: []paging.Person{{ID: "it-tech", Name: "IT Tech", Stage: paging.StageApp,
			Endpoints: []paging.Endpoint{{Channel: paging.ChannelApp, Address: "it-tech"}}}},
		Roles:    []paging.Role{{ID: "it-oncall", Name: "IT on call"}},
		PagerIDs: []paging.PagerID{{ID: "it-alerts", Target: paging.Target{Kind: paging.TargetRole, ID: "it-oncall"}}},
		Records: []storage.ImportRecord{{Kind: storage.KindSchedule, ID: "it", Value: oncall.Schedule{ID: "it", RoleID: "it-oncall", Name: "IT", TimeZone: "UTC",
			Layers: []oncall.Layer{{Name: "all", Participants: []string{"it-tech"}, Start: oncall.LocalTime{Year: 2026, Month: 1, Day: 1}, Shift: oncall.Length{N: 1, Unit: oncall.UnitWeek}}}}}},
	})
	alerts := func() []engine.Route {
		var out []engine.Route
		for _, p := range r.pages() {
			if p.PagerID == "it-alerts" {
				out = append(out, p)
			}
		}
		return out
	}
	// The agent reconnects to the restarted gateway and is seen online;
	// then it stops dead.
	hc := httpClient(t, r.root, 1)
	waitUntil(t, time.Minute, "the agent online at the gateway", func() bool { return agentIdle(t, hc, "https://"+r.httpsAddr()+"/api/v1/agents", r.token()) })
	r.ag.kill()
	waitUntil(t, time.Minute, "an alert for the stopped agent", func() bool { return len(alerts()) == 1 })
	a := alerts()[0]
	if a.Priority != paging.PriorityHigh || a.Source != "Pagebridge monitor" || len(a.Deliveries) != 1 || a.Deliveries[0].PersonID != "it-tech" ||
		!strings.Contains(a.Deliveries[0].Reason, "it-oncall") {
		t.Fatalf("alert route: %+v", a)
	}
	r.startAgent()
	waitUntil(t, time.Minute, "the recovery page", func() bool { return len(alerts()) == 2 })
	if a := alerts()[0]; a.Priority != paging.PriorityNormal {
		t.Fatalf("recovery page: %+v", a)
	}
}
