// Package agent is the body of pagebridge-agent: it owns the configured
// lines (serial ports, serial device servers, TCP listeners), runs a device
// driver on each, and links them to the gateway over the bus.
//
// Nothing the agent was given or received is lost while the gateway or the
// broker is away: jobs from the gateway, their results and pages received
// on its lines all go through the spool (a bbolt file, PHI sealed) before
// anyone is told they were taken. A job is marked in flight in the spool
// before its bytes go to the device; after a crash, the jobs still marked
// so are run again and reported with Result.Resent ("outcome unknown,
// re-sent"), and no other job runs twice.
//
// # Caveats
//
//   - The gateway is told a job's key was received (the application-level
//     ack) only after the spool's commit; the broker gets its MQTT ack
//     after that. A job refused at receipt (an unknown device, an action
//     its kind cannot do) is answered at once with a fail-perm result.
//   - MaxInFlight jobs of one device are marked in flight together; a
//     crash re-sends all of them, including those whose turn had not yet
//     come. Default 1.
//   - A transmitter device hands up to max_in_flight jobs (default 64) to
//     its air-time scheduler, each marked in flight in the spool when
//     handed over, and commits "sent" when the scheduler reports the page
//     on air. After a crash every job handed over and not yet reported
//     is re-sent as "outcome unknown", even if it never went out; on a
//     clean stop the pages not fully on air go back to the spool as never
//     sent (a pager may have shown the start of one cut off by the stop).
//     An acknowledgement does not recall a page queued at the
//     transmitter: the bus has no cancel. audio_file keeps the pages'
//     audio, from which their text can be decoded, in plaintext: it is
//     for tests and the demo, with port "none"; production plays through
//     audio_command.
package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/firmware-agent/agentapi/link"
	"pagebridge/gateway/paging"
	"pagebridge/storage"
)

// Options are what the configuration file does not say.
type Options struct {
	Logger  *slog.Logger
	Version string
	Clock   paging.Clock
}

// Agent is a configured agent; Run runs it.
type Agent struct {
	cfg     Config
	log     *slog.Logger
	version string
	clock   paging.Clock
	session string // new per process: tells the gateway we restarted

	spool   *storage.Spool
	link    *link.Link
	devices map[string]*device
	order   []string // device IDs in config order
	out     *sender

	jobsIn  chan link.Message
	acksIn  chan link.Message
	statusC chan struct{}
	removeC chan struct{} // the gateway acknowledged items: delete them

	rejected, received, duplicates atomic.Uint64
	rejectLog                      *link.Throttle

	// Bypass: the gateway's last directory, since when the bus is down,
	// and the pages from bypass lines the gateway has not taken yet.
	dir      atomic.Pointer[agentapi.Directory]
	linkUp   linkState
	waitMu   sync.Mutex
	waiting  map[paging.ID]waiting
	bypassed atomic.Uint64
}

// New opens the keys and the spool and builds the devices; nothing runs
// until Run.
func New(cfg Config, opts Options) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = paging.SystemClock{}
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	a := &Agent{
		cfg: cfg, log: opts.Logger, version: opts.Version, clock: opts.Clock,
		session: paging.NewID(opts.Clock.Now()).String(),
		devices: map[string]*device{},
		jobsIn:  make(chan link.Message, 4096),
		acksIn:  make(chan link.Message, 1024),
		statusC: make(chan struct{}, 1),
		removeC: make(chan struct{}, 1),
		waiting: map[paging.ID]waiting{},
	}
	a.linkUp.set(false, opts.Clock.Now()) // until the first connect
	a.rejectLog = link.NewThrottle(time.Minute)
	keys, err := a.loadKeys()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Agent.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	a.spool, err = storage.OpenSpool(filepath.Join(cfg.Agent.DataDir, "spool.db"), storage.SpoolOptions{Keys: keys, Logger: a.log, Linger: cfg.Agent.CommitLinger.Duration})
	if err != nil {
		return nil, err
	}
	a.out = newSender(a)
	a.loadDirectory()
	for _, dc := range cfg.Devices {
		d, err := newDevice(a, dc)
		if err != nil {
			a.spool.Close()
			return nil, err
		}
		a.devices[dc.ID] = d
		a.order = append(a.order, dc.ID)
	}
	for _, id := range slices.Clone(a.order) {
		d := a.devices[id]
		if d.cfg.Pool == "" {
			continue
		}
		p := a.devices[d.cfg.Pool]
		if p == nil {
			p = newPool(a, d.cfg.Pool)
			a.devices[p.cfg.ID] = p
			a.order = append(a.order, p.cfg.ID)
		}
		p.members = append(p.members, d)
		d.queue = p.queue // the pool's jobs go to whichever modem is free
	}
	return a, nil
}

func (a *Agent) loadKeys() (*storage.Keyring, error) {
	p := a.cfg.Agent.KeyFile
	if !a.cfg.Agent.CreateKey {
		return storage.LoadKeyring(p)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, fmt.Errorf("key dir: %w", err)
	}
	k, created, err := storage.LoadOrCreateKeyring(p)
	if err == nil && created {
		a.log.Warn("created a new key-encryption key for the spool; keep a copy in escrow", "path", p)
	}
	return k, err
}

// Spool is the agent's spool (for tests and tools).
func (a *Agent) Spool() *storage.Spool { return a.spool }

// Run connects to the bus and runs every device until ctx ends, then
// publishes the offline status and closes the spool.
func (a *Agent) Run(ctx context.Context) error {
	defer a.spool.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	if err := a.restore(ctx); err != nil {
		return err
	}
	tlsConf, err := a.tlsConfig()
	if err != nil {
		return err
	}
	id := a.cfg.Agent.ID
	will, err := a.statusPayload("offline")
	if err != nil {
		return err
	}
	lo := link.Options{
		Broker: a.cfg.Bus.Broker, ClientID: "pagebridge-agent-" + id, TLS: tlsConf,
		Will:      &link.Will{Topic: agentapi.StatusTopic(id), Payload: will, Retained: true},
		Subscribe: []string{agentapi.JobTopic(id, "+"), agentapi.AckToAgentTopic(id), agentapi.DirectoryTopic()},
		OnMessage: a.onMessage,
		OnConnect: func() {
			a.linkUp.set(true, a.clock.Now())
			a.poke()
			a.out.resendAll()
		},
		OnLost: func(error) { a.linkUp.set(false, a.clock.Now()) },
		Logger: a.log,
	}
	if a.cfg.Bus.Password != "" {
		lo.Username, lo.Password = id, a.cfg.Bus.Password
	}
	if a.link, err = link.Open(lo); err != nil {
		return err
	}

	var wg sync.WaitGroup
	start := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	start(a.receiveJobs)
	start(a.receiveAcks)
	start(a.removeAcked)
	start(a.out.run)
	start(a.publishStatus)
	start(a.prune)
	start(a.bypassWaiting)
	for _, id := range a.order {
		start(a.devices[id].run)
	}
	a.log.Info("agent running", "version", a.version, "devices", len(a.devices), "broker", a.cfg.Bus.Broker)
	<-ctx.Done()
	wg.Wait()

	// A clean stop says so itself: the will is only for crashes.
	if p, err := a.statusPayload("offline"); err == nil && a.link.Connected() {
		sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
		a.link.PublishWait(sctx, agentapi.StatusTopic(id), true, p)
		scancel()
	}
	a.link.Close(250 * time.Millisecond)
	a.log.Info("stopped cleanly")
	return nil
}

func (a *Agent) tlsConfig() (*tls.Config, error) {
	if !link.Secure(a.cfg.Bus.Broker) {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if a.cfg.Bus.CAFile != "" {
		pem, err := os.ReadFile(a.cfg.Bus.CAFile)
		if err != nil {
			return nil, fmt.Errorf("bus.ca_file: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("bus.ca_file %s: no PEM certificate", a.cfg.Bus.CAFile)
		}
	}
	return c, nil
}

// restore puts back what the spool holds: pending jobs on their devices'
// queues (those in flight at a crash flagged for re-sending) and unacked
// items in the sender.
func (a *Agent) restore(ctx context.Context) error {
	jobs, err := a.spool.Jobs(ctx)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	var resent int
	for _, sj := range jobs {
		j, err := decodeJob(sj)
		d := a.devices[sj.Device]
		if err != nil || d == nil {
			// Taken by an earlier configuration or version: answer it
			// rather than keep it for ever.
			note := "device no longer configured"
			if err != nil {
				note = "job in the spool is unreadable"
				a.log.Error("spooled job unreadable", "job", sj.Key, "err", err)
			}
			a.finishNow(ctx, sj.Key, sj.Device, sj.Priority, 1, agentapi.OutcomeFailPerm, note)
			continue
		}
		if sj.Running {
			j.resent = true
			resent++
		}
		d.queue.Push(j.prio, j)
	}
	items, err := a.spool.PendingItems(ctx, 1<<30)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	a.out.add(items)
	a.restoreWaiting(items)
	if len(jobs)+len(items) > 0 {
		a.log.Info("spool restored", "jobs", len(jobs), "in_flight_at_stop", resent, "items_for_gateway", len(items))
	}
	return nil
}

// finishNow answers a job that will not run with a result.
func (a *Agent) finishNow(ctx context.Context, key paging.ID, dev string, prio paging.Priority, attempt int, o agentapi.Outcome, note string) {
	it, err := a.resultItem(key, dev, prio, agentapi.Result{Outcome: o, Note: note, Attempt: max(attempt, 1)})
	if err != nil {
		a.log.Error("result not encoded", "job", key, "err", err)
		return
	}
	if err := a.spool.FinishJobs(ctx, []storage.FinishedJob{{Key: key, Result: it}}); err != nil {
		a.log.Error("spool: result not stored", "job", key, "err", err)
		return
	}
	a.out.add([]storage.SpoolItem{it})
}

// resultItem encodes r for job key as a spool item.
func (a *Agent) resultItem(key paging.ID, dev string, prio paging.Priority, r agentapi.Result) (storage.SpoolItem, error) {
	now := a.clock.Now()
	r.Job, r.Device, r.At = key.String(), dev, now
	rk := paging.NewID(now)
	p, err := agentapi.Encode(rk, now, &r)
	if err != nil {
		return storage.SpoolItem{}, err
	}
	return storage.SpoolItem{Key: rk, Kind: agentapi.KindResult, Priority: prio, Payload: paging.NewPHI(string(p)), Created: now}, nil
}

// onMessage routes a message from paho's goroutine.
func (a *Agent) onMessage(m link.Message) {
	prefix := agentapi.TopicRoot + "/agent/" + a.cfg.Agent.ID + "/"
	rest, ok := strings.CutPrefix(m.Topic(), prefix)
	switch {
	case ok && strings.HasPrefix(rest, "device/") && strings.HasSuffix(rest, "/job"):
		a.jobsIn <- m
	case ok && rest == "ack/to-agent":
		a.acksIn <- m
	case m.Topic() == agentapi.DirectoryTopic():
		a.onDirectory(m)
	default:
		a.reject(m, fmt.Errorf("unexpected topic %q", m.Topic()))
	}
}

func (a *Agent) reject(m link.Message, err error) {
	a.refuse(m, err)
	m.Ack()
}

// refuse counts and logs (throttled) a payload, or an item of a batch,
// that will not be taken.
func (a *Agent) refuse(m link.Message, err error) {
	a.rejected.Add(1)
	if n, ok := a.rejectLog.Allow(m.Topic()); ok {
		a.log.Warn("bus payload rejected", "topic", m.Topic(), "bytes", len(m.Payload()), "err", err, "repeats", n)
	}
}

// receiveJobs takes jobs in batches: one spool commit, one ack.
func (a *Agent) receiveJobs(ctx context.Context) {
	link.Batches(ctx, a.jobsIn, 512, a.takeJobs)
}

func (a *Agent) takeJobs(ctx context.Context, batch []link.Message) {
	now := a.clock.Now()
	var (
		spooled []storage.SpoolJob
		jobs    []*job
		refused []storage.FinishedJob
		acks    []string
	)
	// Every message is acknowledged to the broker once this batch is
	// decided, whatever became of it: refused items will not get better,
	// and the gateway sends again what the spool did not take.
	defer func() {
		for _, m := range batch {
			m.Ack()
		}
	}()
	for _, m := range batch {
		items, err := agentapi.Unpack(m.Payload())
		if err != nil {
			a.refuse(m, err)
			continue
		}
		for _, it := range items {
			var body agentapi.Job
			env, err := agentapi.Open(it, &body)
			if err == nil && !strings.HasSuffix(m.Topic(), "/device/"+body.Device+"/job") {
				err = fmt.Errorf("job for device %q on another device's topic", body.Device)
			}
			if err != nil {
				a.refuse(m, err)
				continue
			}
			key, _ := paging.ParseID(env.Key)
			a.received.Add(1)
			d := a.devices[body.Device]
			if note := refusal(d, &body); note != "" {
				r, err := a.resultItem(key, body.Device, body.Priority, agentapi.Result{Outcome: agentapi.OutcomeFailPerm, Note: note, Attempt: body.Attempt})
				if err == nil {
					refused = append(refused, storage.FinishedJob{Key: key, Result: r})
				}
				continue
			}
			spooled = append(spooled, storage.SpoolJob{Key: key, Device: body.Device, Priority: body.Priority,
				Payload: paging.NewPHI(string(it)), Received: now})
			jobs = append(jobs, &job{key: key, prio: body.Priority, body: body})
		}
	}
	added, err := a.spool.AddJobs(ctx, spooled)
	if err == nil && len(refused) > 0 {
		err = a.spool.FinishJobs(ctx, refused)
	}
	if err != nil {
		// Not taken: no app-level ack, and the gateway sends them again.
		if n, ok := a.rejectLog.Allow("spool"); ok {
			a.log.Error("spool: jobs not stored; the gateway will send them again", "jobs", len(spooled)+len(refused), "err", err, "repeats", n)
		}
		return
	}
	for _, f := range refused {
		acks = append(acks, f.Key.String())
		a.out.add([]storage.SpoolItem{f.Result})
	}
	for i, j := range jobs {
		acks = append(acks, j.key.String())
		if !added[i] {
			a.duplicates.Add(1)
			continue
		}
		d := a.devices[j.body.Device]
		d.queue.Push(j.prio, j)
	}
	if err := a.link.PublishAcks(agentapi.AckToGatewayTopic(a.cfg.Agent.ID), acks, a.clock.Now()); err != nil {
		a.log.Error("ack not encoded", "err", err)
	}
	a.poke()
}

// receiveAcks takes the gateway's acks: the items are not published
// again, and removeAcked deletes them from the spool in batches.
func (a *Agent) receiveAcks(ctx context.Context) {
	for {
		var m link.Message
		select {
		case <-ctx.Done():
			return
		case m = <-a.acksIn:
		}
		var ack agentapi.Ack
		if _, err := agentapi.Open(m.Payload(), &ack); err != nil {
			a.reject(m, err)
			continue
		}
		ids := make([]paging.ID, 0, len(ack.Keys))
		for _, k := range ack.Keys {
			if id, err := paging.ParseID(k); err == nil {
				ids = append(ids, id)
			}
		}
		a.out.acked(ids)
		m.Ack()
	}
}

// removeAcked deletes acknowledged items from the spool once the gateway
// acknowledges some. The deletions ride with the spool's next commit (a
// result, a received page) and commit alone only when none comes within
// removeRide; while they wait, further acks gather for the next call. A
// quiet agent does not wake for it. After a crash in between the items
// are published again; the gateway, which has them, acknowledges them
// again.
func (a *Agent) removeAcked(ctx context.Context) {
	link.OnSignal(ctx, a.removeC, 0, a.removeNow)
}

// removeRide is how long acknowledged items wait for another commit to
// carry their deletion.
const removeRide = time.Second

func (a *Agent) removeNow(ctx context.Context) {
	ids := a.out.takeRemovable()
	if len(ids) == 0 {
		return
	}
	if err := a.spool.AckItemsRiding(ctx, ids, removeRide); err != nil {
		if ctx.Err() == nil {
			a.log.Error("spool: acknowledged items not deleted yet; retrying", "items", len(ids), "err", err)
		}
		a.out.requeueRemovable(ids)
	}
}

// prune forgets old dedupe keys now and then.
func (a *Agent) prune(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if _, err := a.spool.PruneSeen(ctx, a.clock.Now()); err != nil && ctx.Err() == nil {
			a.log.Error("spool prune", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (a *Agent) poke() {
	select {
	case a.statusC <- struct{}{}:
	default:
	}
}

// Status is the agent's current status, as published.
func (a *Agent) Status() agentapi.AgentStatus {
	st := agentapi.AgentStatus{Agent: a.cfg.Agent.ID, State: "online", Version: a.version, Session: a.session, Pending: a.out.len(),
		Bypassed: a.bypassed.Load()}
	for _, id := range a.order {
		st.Devices = append(st.Devices, a.devices[id].status())
	}
	return st
}

func (a *Agent) statusPayload(state string) ([]byte, error) {
	st := a.Status()
	st.State = state
	if state == "offline" {
		for i := range st.Devices {
			st.Devices[i].Queue = 0
		}
	}
	now := a.clock.Now()
	return agentapi.Encode(paging.NewID(now), now, &st)
}

// publishStatus publishes the retained status on connect, on a device's
// change (at most every 250ms) and every 15s for the counters.
func (a *Agent) publishStatus(ctx context.Context) {
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.statusC:
		case <-tick.C:
		}
		if a.link.Connected() {
			p, err := a.statusPayload("online")
			if err != nil {
				a.log.Error("status not encoded", "err", err)
			} else {
				a.link.Publish(agentapi.StatusTopic(a.cfg.Agent.ID), true, p)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Stats are the agent's counters.
type Stats struct {
	Received, Duplicates, Rejected uint64
	// Unacked counts items for the gateway not yet acknowledged.
	Unacked int
	Devices map[string]agentapi.DeviceStatus
}

// Stats returns the agent's counters.
func (a *Agent) Stats() Stats {
	st := Stats{Received: a.received.Load(), Duplicates: a.duplicates.Load(), Rejected: a.rejected.Load(),
		Unacked: a.out.len(), Devices: map[string]agentapi.DeviceStatus{}}
	for id, d := range a.devices {
		st.Devices[id] = d.status()
	}
	return st
}

// DeviceIDs lists the devices in configuration order.
func (a *Agent) DeviceIDs() []string { return append([]string(nil), a.order...) }
