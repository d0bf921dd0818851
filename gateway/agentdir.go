package main

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/gateway/engine"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/routing"
)

// agentDirectory builds what agents need to know of the directory: every
// pager ID, its default tier, and for IDs that reach people at the pager
// or both stage now, their pagers (for bypass while the gateway is away).
func (m *Main) agentDirectory(ctx context.Context, now time.Time) (*agentapi.Directory, error) {
	version := m.store.DirectoryVersion()
	pids, err := m.store.PagerIDs(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := m.engine.Directory(ctx)
	if err != nil {
		return nil, err
	}
	d := &agentapi.Directory{Version: version, Pagers: make([]agentapi.DirectoryPager, 0, len(pids)),
		PHIOnPager: m.cfg.Routing.PHIOnPager, PagerMaxLen: m.cfg.Routing.PagerMaxLen}
	for _, pid := range pids {
		p := agentapi.DirectoryPager{ID: pid.ID, Priority: pid.Priority, Bypass: bypassTargets(dir, pid, now)}
		d.Pagers = append(d.Pagers, p)
	}
	slices.SortFunc(d.Pagers, func(a, b agentapi.DirectoryPager) int { return strings.Compare(a.ID, b.ID) })
	return d, nil
}

// bypassTargets are the pagers a page to pid reaches at now, for the
// people at the pager or both stage it resolves to (presence and
// forwarding applied, as the engine would for the page's default tier).
func bypassTargets(dir routing.Directory, pid paging.PagerID, now time.Time) []agentapi.BypassTarget {
	rs, err := routing.Resolve(dir, pid.Target, pid.Priority, now)
	if err != nil {
		return nil
	}
	var out []agentapi.BypassTarget
	for _, rc := range routing.Deliverable(rs) {
		p, ok := dir.Person(rc.Person)
		if !ok || (p.Stage != paging.StagePager && p.Stage != paging.StageBoth) {
			continue
		}
		for _, e := range p.Endpoints {
			t := agentapi.BypassTarget{Via: e.Via, To: e.Address}
			if e.POCSAG != (paging.POCSAG{}) {
				t.POCSAG = engine.POCSAGCoding(e.POCSAG)
			}
			if e.Channel == paging.ChannelPager && e.Validate() == nil && !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	return out
}

// publishDirectory keeps the agents' directory current on the bus
// (retained): at start, whenever the directory changes, and every minute,
// since on-call shifts and presence move who a role reaches. It publishes
// only when the content changed, and again after the bus reconnects. A
// directory without pager IDs is not published.
func (m *Main) publishDirectory(ctx context.Context, poll time.Duration) {
	var (
		last      []byte // the published pagers, to compare
		version   uint64
		built     time.Time
		connected bool
	)
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		now := time.Now()
		up := m.bus != nil && m.bus.Connected()
		if up && (last == nil || !connected || m.store.DirectoryVersion() != version || now.Sub(built) >= time.Minute) {
			d, err := m.agentDirectory(ctx, now)
			switch {
			case err != nil:
				if ctx.Err() == nil {
					m.log.Error("directory for agents not built", "err", err)
				}
			case len(d.Pagers) == 0:
				// Nothing to check against yet (a new box before its
				// import): agents take every ID, and the engine sends
				// pages for unknown IDs to the fallback.
				version, built = d.Version, now
			default:
				version, built = d.Version, now
				body, _ := json.Marshal(d.Pagers)
				if !bytes.Equal(body, last) || !connected {
					d.Made = now.UTC().Format(time.RFC3339)
					if err := m.bus.PublishRetained(ctx, agentapi.DirectoryTopic(), paging.NewID(now), d); err != nil {
						m.log.Error("directory for agents not published", "err", err)
						up = false
					} else {
						last = body
						m.log.Info("directory published for agents", "version", d.Version, "pager_ids", len(d.Pagers))
					}
				}
			}
		}
		connected = up
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
