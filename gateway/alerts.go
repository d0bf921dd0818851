package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"syscall"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/gateway/agentbus"
	"pagebridge/gateway/paging"
	"pagebridge/storage"
)

// monitor watches the box itself (agents and their devices, the data disk)
// and pages the IT on-call role, through the delivery engine like any
// page, when something has been wrong for longer than AlertAfter; and
// again, at normal priority, when it has recovered.
type monitor struct {
	pagerID string
	after   time.Duration
	diskMin float64
	dataDir string
	agents  func() []agentbus.AgentHealth
	disk    func(dir string) (free float64, err error)
	accept  paging.Accepter
	log     *slog.Logger
	// known holds the agents seen, kept across restarts (remember), so an
	// agent that never comes back is missed rather than forgotten.
	known    map[string]bool
	remember func(ctx context.Context, agent string) error
	// silence lists the sender lines that must not go quiet, and lastHeard
	// says when each last brought a page.
	silence   []LineSilence
	lastHeard func(line string) time.Time

	since  map[string]time.Time // condition → first seen
	raised map[string]string    // condition → the text paged
}

func (m *Main) newMonitor() *monitor {
	rc := m.cfg.Routing
	return &monitor{pagerID: rc.AlertPagerID, after: rc.AlertAfter.Duration, diskMin: rc.DiskFreeMin,
		dataDir: m.cfg.Storage.DataDir, agents: func() []agentbus.AgentHealth {
			if m.bus == nil {
				return nil
			}
			return m.bus.Agents()
		}, disk: diskFree, accept: routedAccepter{m}, log: m.log.With("component", "monitor"),
		since: map[string]time.Time{}, raised: map[string]string{}, known: map[string]bool{},
		silence: rc.LineSilence, lastHeard: m.lines.lastHeard,
		remember: func(ctx context.Context, agent string) error {
			return m.store.PutRecord(ctx, storage.KindAgent, agent, seenAgent{ID: agent, FirstSeen: time.Now().UTC()},
				paging.AuditEvent{Actor: "system:monitor", Detail: "agent seen on the bus for the first time"})
		}}
}

// maxClockSkew is the most an agent's clock may differ from the
// gateway's before it is paged: timers, receipts and the audit trail
// compare times across the two.
const maxClockSkew = 10 * time.Second

// seenAgent is an agent the gateway has seen on the bus.
type seenAgent struct {
	ID        string    `json:"id"`
	FirstSeen time.Time `json:"first_seen"`
}

// load reads the agents seen before this start.
func (w *monitor) load(ctx context.Context, st *storage.Store) error {
	agents, err := storage.Records[seenAgent](ctx, st, storage.KindAgent)
	for _, a := range agents {
		w.known[a.ID] = true
	}
	return err
}

// run checks every interval until ctx ends.
func (w *monitor) run(ctx context.Context, interval time.Duration) {
	w.check(ctx, time.Now())
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			w.check(ctx, now)
		}
	}
}

// conditions returns what is wrong now, by a stable key.
func (w *monitor) conditions(ctx context.Context, now time.Time) map[string]string {
	out := map[string]string{}
	online := map[string]bool{}
	for _, a := range w.agents() {
		if !w.known[a.ID] && w.remember != nil {
			if err := w.remember(ctx, a.ID); err != nil {
				w.log.Error("agent not remembered; trying again", "agent", a.ID, "err", err)
			} else {
				w.known[a.ID] = true
			}
		}
		if a.State != "online" {
			w.known[a.ID] = true // reported offline: missed whether or not remembered
			continue
		}
		online[a.ID] = true
		if math.Abs(a.ClockSkew) > maxClockSkew.Seconds() {
			dir := "ahead of"
			if a.ClockSkew < 0 {
				dir = "behind"
			}
			out["clock/"+a.ID] = fmt.Sprintf("Pagebridge: agent %s's clock is %.0f s %s the gateway's (check NTP on both)", a.ID, math.Abs(a.ClockSkew), dir)
		}
		for _, d := range a.Devices {
			if d.State == agentapi.DeviceFailing || d.State == agentapi.DeviceAbsent {
				text := fmt.Sprintf("Pagebridge: %s %s on agent %s is %s", d.Kind, d.ID, a.ID, d.State)
				if d.Error != "" {
					text += ": " + d.Error
				}
				out["device/"+a.ID+"/"+d.ID] = text
			}
		}
	}
	for id := range w.known {
		if !online[id] {
			out["agent/"+id] = fmt.Sprintf("Pagebridge: agent %s is offline (its lines, terminals and modems are unreachable)", id)
		}
	}
	for _, l := range w.silence {
		if quiet := now.Sub(w.lastHeard(l.Line)); quiet > l.Max.Duration {
			out["line/"+l.Line] = fmt.Sprintf("Pagebridge: no page from line %s for %s (expected at least every %s): check the sender and its link", l.Line, quiet.Round(time.Minute), l.Max.Duration)
		}
	}
	if w.diskMin > 0 {
		free, err := w.disk(w.dataDir)
		switch {
		case err != nil:
			out["disk"] = "Pagebridge: the data disk cannot be checked: " + err.Error()
		case free < w.diskMin:
			out["disk"] = fmt.Sprintf("Pagebridge: the data disk is nearly full (%.1f %% free)", 100*free)
		}
	}
	return out
}

// check raises what has lasted AlertAfter and reports what recovered.
func (w *monitor) check(ctx context.Context, now time.Time) {
	conds := w.conditions(ctx, now)
	keys := make([]string, 0, len(conds))
	for k := range conds {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		first, ok := w.since[k]
		if !ok {
			w.since[k] = now
			continue
		}
		if _, done := w.raised[k]; !done && now.Sub(first) >= w.after {
			if w.page(ctx, now, paging.PriorityHigh, conds[k]) {
				w.raised[k] = conds[k]
			}
		}
	}
	for k := range w.since {
		if _, still := conds[k]; still {
			continue
		}
		if text, was := w.raised[k]; was {
			if !w.page(ctx, now, paging.PriorityNormal, "Resolved: "+text) {
				continue // try the recovery page again next time
			}
		}
		delete(w.since, k)
		delete(w.raised, k)
	}
}

// page accepts an alert as a page to the alert pager ID; it reports
// whether the alert is dealt with (paged, or only logged when no pager ID
// is configured).
func (w *monitor) page(ctx context.Context, now time.Time, prio paging.Priority, text string) bool {
	w.log.Warn("system alert", "alert", text, "priority", prio)
	if w.pagerID == "" {
		return true
	}
	m := &paging.Message{ID: paging.NewID(now), Source: paging.Source{Protocol: paging.ProtocolSystem, Line: "Pagebridge monitor"},
		PagerID: w.pagerID, Priority: prio, Text: paging.NewPHI(text), Received: now}
	if err := w.accept.Accept(ctx, m, paging.AuditEvent{Actor: "system:monitor", Detail: "system alert"}); err != nil {
		w.log.Error("system alert not paged; trying again", "err", err)
		return false
	}
	return true
}

// diskFree returns the share of the file system holding dir that is free
// to unprivileged writers.
func diskFree(dir string) (float64, error) {
	var s syscall.Statfs_t
	if err := syscall.Statfs(dir, &s); err != nil {
		return 0, err
	}
	if s.Blocks == 0 {
		return 1, nil
	}
	return float64(s.Bavail) / float64(s.Blocks), nil
}
