package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/firmware-agent/agentapi/link"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/routing"
	"pagebridge/internal/conf"
	"pagebridge/storage"
)

// directoryFile keeps the gateway's last directory in the data dir, so
// that an agent restarted while the gateway is away still checks pager IDs
// and still knows where to bypass to. It holds no PHI.
const directoryFile = "directory.json"

// directory returns the gateway's last directory, or nil if none came yet.
func (a *Agent) directory() *agentapi.Directory { return a.dir.Load() }

// loadDirectory reads the directory kept from an earlier run.
func (a *Agent) loadDirectory() {
	b, err := os.ReadFile(filepath.Join(a.cfg.Agent.DataDir, directoryFile))
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	var d agentapi.Directory
	if err == nil {
		_, err = agentapi.Open(b, &d)
	}
	if err != nil {
		a.log.Error("kept directory unreadable; every pager ID is taken until the gateway sends one", "err", err)
		return
	}
	a.dir.Store(&d)
	a.log.Info("directory from an earlier run", "version", d.Version, "made", d.Made, "pager_ids", len(d.Pagers))
}

// onDirectory takes a directory the gateway published.
func (a *Agent) onDirectory(m link.Message) {
	defer m.Ack()
	var d agentapi.Directory
	if _, err := agentapi.Open(m.Payload(), &d); err != nil {
		a.refuse(m, err)
		return
	}
	if cur := a.dir.Load(); cur != nil && cur.Version == d.Version && cur.Made == d.Made {
		return // the retained copy again, after a reconnect
	}
	if err := conf.WriteFile(filepath.Join(a.cfg.Agent.DataDir, directoryFile), m.Payload(), 0o600); err != nil {
		a.log.Error("directory not kept on disk", "err", err)
	}
	a.dir.Store(&d)
	a.log.Info("directory from the gateway", "version", d.Version, "made", d.Made, "pager_ids", len(d.Pagers))
}

// linkState remembers since when the bus has been down.
type linkState struct {
	mu   sync.Mutex
	lost time.Time // zero while connected
}

func (l *linkState) set(up bool, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case up:
		l.lost = time.Time{}
	case l.lost.IsZero():
		l.lost = now
	}
}

func (l *linkState) since() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

// gatewayAway reports whether the gateway has been unreachable for
// BypassAfter: the bus down that long, or a page from a line waiting that
// long for the gateway's ack.
func (a *Agent) gatewayAway(now time.Time) bool {
	after := a.cfg.Agent.BypassAfter.Duration
	if lost := a.linkUp.since(); !lost.IsZero() && now.Sub(lost) >= after {
		return true
	}
	oldest := a.out.oldestInbound()
	return !oldest.IsZero() && now.Sub(oldest) >= after
}

// waiting is a page from a bypass line that the gateway has not
// acknowledged yet: bypassed if that takes BypassAfter.
type waiting struct {
	dev *device
	in  agentapi.Inbound
}

// bypassTargets are the paging terminals and transmitters of this agent
// that a page to pagerID goes to in bypass, with the directory's policy
// for the text.
func (a *Agent) bypassTargets(pagerID string) ([]agentapi.BypassTarget, *agentapi.Directory) {
	dir := a.directory()
	if dir == nil {
		return nil, nil
	}
	p, ok := dir.Lookup(pagerID)
	if !ok {
		return nil, dir
	}
	var out []agentapi.BypassTarget
	for _, t := range p.Bypass {
		dev, mine := t.Device(a.cfg.Agent.ID)
		d := a.devices[dev]
		switch {
		case !mine || d == nil:
		case d.cfg.Kind == KindPagingTerminal && t.POCSAG == (agentapi.POCSAG{}),
			d.cfg.Kind == KindTransmitter && t.POCSAG != (agentapi.POCSAG{}):
			out = append(out, t)
		}
	}
	return out, dir
}

// bypass passes the page under key straight to its paging terminals or
// transmitters and marks it bypassed for the gateway, in one spool
// commit. It reports
// whether it did: not when nothing of this agent's carries the ID, nor
// when the gateway acknowledged the page meanwhile.
func (a *Agent) bypass(ctx context.Context, key paging.ID, w waiting) (bool, error) {
	targets, dir := a.bypassTargets(w.in.PagerID)
	if len(targets) == 0 {
		return false, nil
	}
	now := a.clock.Now()
	text := routing.Notice(paging.ChannelPager, routing.PHIPolicy{Pager: dir.PHIOnPager}, w.in.Priority, w.dev.cfg.ID, w.in.Text.PHI(), dir.PagerMaxLen)
	text = paging.NewPHI(routing.Truncate(text.Reveal(), dir.PagerMaxLen))
	var (
		jobs []storage.SpoolJob
		js   []*job
	)
	for _, t := range targets {
		dev, _ := t.Device(a.cfg.Agent.ID)
		jk := paging.NewID(now)
		body := agentapi.Job{Device: dev, Priority: w.in.Priority, Action: ActionTAPPage, To: t.To,
			Text: agentapi.TextOf(text), Attempt: 1, Bypass: true}
		if t.POCSAG != (agentapi.POCSAG{}) {
			c, shaped := t.POCSAG.Shape(text.Reveal())
			// The scheduler takes at most 240 characters.
			body.Action, body.POCSAG, body.Text = ActionPOCSAGPage, &c, agentapi.Text(routing.Truncate(shaped, 240))
		}
		p, err := agentapi.Encode(jk, now, &body)
		if err != nil {
			return false, err
		}
		jobs = append(jobs, storage.SpoolJob{Key: jk, Device: dev, Priority: body.Priority, Payload: paging.NewPHI(string(p)), Received: now})
		js = append(js, &job{key: jk, prio: body.Priority, body: body})
	}
	in := w.in
	in.Bypassed, in.BypassedTo = true, targets
	payload, err := agentapi.Encode(key, now, &in)
	if err != nil {
		return false, err
	}
	it := storage.SpoolItem{Key: key, Kind: agentapi.KindInbound, Priority: in.Priority, Payload: paging.NewPHI(string(payload)), Created: in.Received}
	ok, err := a.spool.Bypass(ctx, it, jobs)
	if err != nil || !ok {
		return false, err
	}
	a.out.replace(it)
	for _, j := range js {
		a.devices[j.body.Device].queue.Push(j.prio, j)
	}
	a.bypassed.Add(1)
	a.poke() // the status says so
	a.log.Warn("gateway unreachable: page passed straight to the paging terminal or transmitter", "line", w.dev.cfg.ID,
		"page", key, "pager_id", in.PagerID, "terminals", len(targets), "priority", in.Priority)
	return true, nil
}

// wait remembers a page the gateway has yet to acknowledge, for bypass.
func (a *Agent) wait(key paging.ID, w waiting) {
	a.waitMu.Lock()
	a.waiting[key] = w
	a.waitMu.Unlock()
}

// settled forgets pages the gateway acknowledged.
func (a *Agent) settled(keys []paging.ID) {
	a.waitMu.Lock()
	for _, k := range keys {
		delete(a.waiting, k)
	}
	a.waitMu.Unlock()
}

// bypassWaiting runs until ctx ends: a page the gateway has not taken
// within BypassAfter is bypassed then.
func (a *Agent) bypassWaiting(ctx context.Context) {
	after := a.cfg.Agent.BypassAfter.Duration
	t := time.NewTicker(max(after/10, 100*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := a.clock.Now()
		a.waitMu.Lock()
		due := map[paging.ID]waiting{}
		for k, w := range a.waiting {
			if now.Sub(w.in.Received) >= after {
				due[k] = w
			}
		}
		a.waitMu.Unlock()
		for k, w := range due {
			if _, err := a.bypass(ctx, k, w); err != nil {
				if ctx.Err() != nil {
					return
				}
				a.log.Error("bypass failed; the page waits for the gateway", "page", k, "err", err)
				continue
			}
			a.settled([]paging.ID{k})
		}
	}
}

// restoreWaiting finds the pages of bypass lines in the spool that the
// gateway has not taken and that were not bypassed yet.
func (a *Agent) restoreWaiting(items []storage.SpoolItem) {
	for _, it := range items {
		if it.Kind != agentapi.KindInbound {
			continue
		}
		var in agentapi.Inbound
		if _, err := agentapi.Open([]byte(it.Payload.Reveal()), &in); err != nil {
			continue
		}
		if d := a.devices[in.Line]; d != nil && d.cfg.bypass() && !in.Bypassed {
			a.wait(it.Key, waiting{dev: d, in: in})
		}
	}
}
