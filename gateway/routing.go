package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/gateway/engine"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/routing"
	"pagebridge/gateway/snpp"
	"pagebridge/gateway/threads"
	"pagebridge/storage"
)

// newEngine builds the delivery engine over the store; its jobs go out on
// the bus, which starts after it.
func (m *Main) newEngine() (*engine.Engine, error) {
	rc := m.cfg.Routing
	return engine.New(engine.Options{
		Store: m.store,
		Jobs:  busJobs{m},
		Config: engine.Config{DefaultPolicy: rc.DefaultPolicy, FallbackRole: rc.FallbackRole,
			PHI:         routing.PHIPolicy{Pager: rc.PHIOnPager, SMS: rc.PHIOnSMS},
			PagerMaxLen: rc.PagerMaxLen, SMSMaxLen: rc.SMSMaxLen, SMSDevice: rc.SMSDevice,
			DedupeWindow: rc.DedupeWindow.Duration, RateLimit: rc.RateLimit, RateWindow: rc.RateWindow.Duration},
		AgentOf:    m.agentOf,
		PageThread: threads.PageThreadOf,
		Observe:    m.routeChanged,
		Logger:     m.log,
	})
}

// busJobs hands the engine's jobs to the bus bridge.
type busJobs struct{ m *Main }

func (b busJobs) NewJob(agent string, job *agentapi.Job) (paging.OutboxItem, error) {
	return b.m.bus.NewJob(agent, job)
}

func (b busJobs) Committed(items ...paging.OutboxItem) { b.m.bus.Committed(items...) }

// agentOf finds the agent that reported device in its status.
func (m *Main) agentOf(device string) (string, bool) {
	if m.bus == nil {
		return "", false
	}
	for _, a := range m.bus.Agents() {
		for _, d := range a.Devices {
			if d.ID == device {
				return a.ID, true
			}
		}
	}
	return "", false
}

// routedAccepter accepts pages into the store and wakes the engine, which
// finds them queued by the accept's own commit.
type routedAccepter struct{ m *Main }

func (a routedAccepter) Accept(ctx context.Context, msg *paging.Message, by paging.AuditEvent) error {
	a.m.settlePriority(ctx, msg)
	if err := a.m.store.Accept(ctx, msg, by); err != nil {
		return err
	}
	a.m.accepted(msg)
	return nil
}

// accepted notes a stored page's line and wakes the engine, which finds
// it queued by the accept's own commit.
func (m *Main) accepted(msg *paging.Message) {
	m.lines.heard(msg.Source.Line, time.Now())
	m.engine.Poke()
}

// settlePriority raises msg's tier by the configured keyword rules and,
// for TAP, which has no priority field, to its pager ID's own default
// (the agent does so too once it has the directory).
func (m *Main) settlePriority(ctx context.Context, msg *paging.Message) {
	if msg.Source.Protocol == paging.ProtocolTAP {
		if pid, err := m.store.PagerID(ctx, msg.PagerID); err == nil {
			msg.Priority = max(msg.Priority, pid.Priority)
		}
	}
	msg.Priority = paging.RaisePriority(m.cfg.Routing.PriorityRules, msg.Text, msg.Priority)
}

// lineClock remembers when each sender line last brought a page, for the
// monitor's silence check. A restart starts every line's clock afresh.
type lineClock struct {
	mu    sync.Mutex
	start time.Time
	last  map[string]time.Time
}

func newLineClock(start time.Time) *lineClock {
	return &lineClock{start: start, last: map[string]time.Time{}}
}

func (l *lineClock) heard(line string, at time.Time) {
	if l == nil || line == "" {
		return
	}
	l.mu.Lock()
	if at.After(l.last[line]) {
		l.last[line] = at
	}
	l.mu.Unlock()
}

// lastHeard is when line last brought a page (the start, if never since).
func (l *lineClock) lastHeard(line string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.last[line]; ok {
		return t
	}
	return l.start
}

// newThreads builds the secure-threads service over the store and the
// engine's directory.
func (m *Main) newThreads() (*threads.Service, error) {
	tc := m.cfg.Threads
	return threads.New(threads.Options{Store: m.store, Directory: m.engine, Clock: paging.SystemClock{}, Observe: m.threadChanged,
		Retention: storage.RetentionPolicy{Page: tc.RetainPage.Duration, Direct: tc.RetainDirect.Duration,
			Group: tc.RetainGroup.Duration, Role: tc.RetainRole.Duration},
		Attachments: threads.AttachmentPolicy{MaxSize: tc.AttachmentMaxSize, Types: tc.AttachmentTypes}})
}

// sweepThreads deletes thread messages and stored pages past retention
// every interval (and once at start), each sweep audited by the store.
func (m *Main) sweepThreads(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		rep, err := m.threads.Sweep(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			m.log.Error("thread retention sweep", "err", err)
		case err == nil && rep.Messages > 0:
			m.log.Info("thread retention sweep", "messages", rep.Messages, "threads", rep.Threads)
		}
		// The pages themselves (their sealed text) go after the same time,
		// once their routing is over; their routes stay, without PHI.
		if keep := m.cfg.Threads.RetainPage.Duration; keep > 0 {
			n, err := m.store.SweepPages(ctx, time.Now().Add(-keep), m.engine.Settled, paging.AuditEvent{Actor: "system:retention"})
			switch {
			case err != nil && ctx.Err() == nil:
				m.log.Error("page retention sweep", "err", err)
			case n > 0:
				m.log.Info("page retention sweep", "pages", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// startSNPP listens for SNPP senders; pages go through the engine like
// every other way in.
func (m *Main) startSNPP() error {
	sc := m.cfg.SNPP
	cfg := snpp.Config{IdleTimeout: sc.IdleTimeout.Duration, MaxText: m.cfg.WCTP.MaxText, Line: sc.Line}
	for _, a := range sc.Allow {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			return fmt.Errorf("snpp.allow: %w", err)
		}
		cfg.Allow = append(cfg.Allow, p)
	}
	for _, l := range sc.Logins {
		cfg.Logins = append(cfg.Logins, snpp.Login{ID: l.ID, Password: l.Password, Line: l.Line})
	}
	ln, err := net.Listen("tcp", sc.Listen)
	if err != nil {
		return fmt.Errorf("snpp listen %s: %w", sc.Listen, err)
	}
	m.snppLn = ln
	m.snpp = snpp.New(cfg, routedAccepter{m}, m.store, paging.SystemClock{}, m.log)
	go func() {
		if err := m.snpp.Serve(ln); err != nil {
			m.log.Error("snpp server stopped", "err", err)
		}
	}()
	fmt.Fprintf(m.stdout, "listening snpp %s\n", ln.Addr())
	return nil
}
