package main

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/gateway/agentbus"
	"pagebridge/gateway/paging"
)

type pagesTaken struct {
	mu   sync.Mutex
	msgs []*paging.Message
	fail bool
}

func (p *pagesTaken) Accept(_ context.Context, m *paging.Message, _ paging.AuditEvent) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail {
		return paging.ErrTemporary
	}
	p.msgs = append(p.msgs, m)
	return nil
}

// A condition is paged once it has lasted AlertAfter, once, and its
// recovery once; a failed accept is tried again.
func TestMonitorRaisesOnceAndResolves(t *testing.T) {
	agents := []agentbus.AgentHealth{{ID: "agent-1", State: "online", Devices: []agentapi.DeviceStatus{{ID: "modem-1", Kind: "modem", State: agentapi.DeviceReady}}}}
	var free = 0.5
	taken := &pagesTaken{}
	w := &monitor{pagerID: "it-alerts", after: time.Minute, diskMin: 0.1, dataDir: "/data",
		agents: func() []agentbus.AgentHealth { return agents },
		disk:   func(string) (float64, error) { return free, nil },
		accept: taken, log: slog.New(slog.DiscardHandler), since: map[string]time.Time{}, raised: map[string]string{},
		known: map[string]bool{"agent-2": true}} // seen before a restart, not since
	ctx := context.Background()
	t0 := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	texts := func() []string {
		var out []string
		for _, m := range taken.msgs {
			out = append(out, m.Priority.String()+" "+m.Text.Reveal())
		}
		return out
	}

	w.check(ctx, t0)
	agents[0].State = "offline"
	free = 0.05
	w.check(ctx, t0.Add(10*time.Second))
	w.check(ctx, t0.Add(50*time.Second))
	if len(taken.msgs) != 0 {
		t.Fatalf("paged before AlertAfter: %q", texts())
	}
	taken.fail = true
	w.check(ctx, t0.Add(70*time.Second))
	taken.fail = false
	w.check(ctx, t0.Add(80*time.Second))
	w.check(ctx, t0.Add(5*time.Minute))
	got := texts()
	if len(got) != 3 || !strings.Contains(got[0], "agent agent-1 is offline") || !strings.Contains(got[1], "agent agent-2 is offline") || !strings.Contains(got[2], "nearly full (5.0 % free)") {
		t.Fatalf("alerts: %q", got)
	}
	for _, m := range taken.msgs {
		if m.PagerID != "it-alerts" || m.Source.Protocol != paging.ProtocolSystem || m.Priority != paging.PriorityHigh {
			t.Fatalf("alert page %+v", m)
		}
	}
	// The agent comes back with a failing modem and a clock 42 s behind.
	agents[0].State = "online"
	agents[0].ClockSkew = -42
	agents[0].Devices[0].State, agents[0].Devices[0].Error = agentapi.DeviceFailing, "no SIM"
	w.check(ctx, t0.Add(6*time.Minute))
	w.check(ctx, t0.Add(8*time.Minute))
	got = texts()
	if len(got) != 6 || !strings.HasPrefix(got[3], "normal Resolved: Pagebridge: agent agent-1 is offline") || !strings.Contains(got[4], "agent agent-1's clock is 42 s behind") || !strings.Contains(got[5], "modem modem-1 on agent agent-1 is failing: no SIM") {
		t.Fatalf("after recovery: %q", got)
	}
}

// A sender line quiet for longer than its limit is paged; its next page
// resolves it.
func TestMonitorLineSilence(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	lines := newLineClock(t0)
	taken := &pagesTaken{}
	w := &monitor{pagerID: "it-alerts", after: time.Minute, agents: func() []agentbus.AgentHealth { return nil },
		accept: taken, log: slog.New(slog.DiscardHandler), since: map[string]time.Time{}, raised: map[string]string{}, known: map[string]bool{},
		silence: []LineSilence{{Line: "4W nurse call", Max: Duration{Duration: time.Hour}}}, lastHeard: lines.lastHeard}
	ctx := context.Background()
	lines.heard("4W nurse call", t0.Add(10*time.Minute))
	lines.heard("another line", t0.Add(80*time.Minute))
	w.check(ctx, t0.Add(70*time.Minute))
	w.check(ctx, t0.Add(72*time.Minute))
	if len(taken.msgs) != 0 {
		t.Fatalf("paged before the line was quiet for an hour and alert_after: %d", len(taken.msgs))
	}
	w.check(ctx, t0.Add(75*time.Minute))
	w.check(ctx, t0.Add(77*time.Minute))
	if len(taken.msgs) != 1 || !strings.Contains(taken.msgs[0].Text.Reveal(), "no page from line 4W nurse call") {
		t.Fatalf("silence alert: %d pages", len(taken.msgs))
	}
	lines.heard("4W nurse call", t0.Add(78*time.Minute))
	w.check(ctx, t0.Add(79*time.Minute))
	if len(taken.msgs) != 2 || !strings.HasPrefix(taken.msgs[1].Text.Reveal(), "Resolved: ") {
		t.Fatalf("after a page on the line: %d pages", len(taken.msgs))
	}
}
