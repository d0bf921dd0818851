// Package agentbus is the gateway's end of the bus: it publishes jobs from
// the outbox to agents, takes their results and the pages their lines
// received, acknowledges each only after the gateway's commit, and keeps
// the agents' retained status (device health) for the API and /metrics.
//
// Nothing here trusts the broker. A job stays in the outbox until the agent
// acknowledges that its spool holds it, and is published again after
// AckTimeout, after the agent comes back online and after the gateway's own
// reconnect; the agent deduplicates by the job's idempotency key. Results and
// inbound pages are deduplicated by theirs in the store (the Sink).
//
// # Caveats
//
//   - Only outbox items whose topic is an agent job topic are published
//     here; the outbox is shared, and other items are left to their own
//     senders.
//   - An agent that never acknowledges gets its jobs again every
//     AckTimeout, with the outbox's try count going up, for ever: giving up
//     is the delivery engine's decision (escalation), not the bus's.
package agentbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/firmware-agent/agentapi/link"
	"pagebridge/gateway/paging"
)

// Outbox is where jobs wait until their agent has them.
type Outbox interface {
	Enqueue(ctx context.Context, it paging.OutboxItem) error
	DueOutboxExcept(ctx context.Context, now time.Time, limit int, skip func(paging.ID) bool) ([]paging.OutboxItem, error)
	SentBatch(ctx context.Context, ids []paging.ID) (int, error)
}

// Sink makes what agents report durable. Both calls are idempotent by key
// and return nil only after the commit; an error means nothing was stored
// and the agent will send it again.
type Sink interface {
	Inbound(ctx context.Context, agent string, key paging.ID, in *agentapi.Inbound) error
	Result(ctx context.Context, agent string, key paging.ID, r *agentapi.Result) error
	// SMS takes a text message a modem received (an acknowledgement or a
	// reply from staff).
	SMS(ctx context.Context, agent string, key paging.ID, m *agentapi.SMS) error
}

// Options configure a Bridge.
type Options struct {
	// Link names the broker and the gateway's credentials; Start fills in
	// the subscriptions and handlers. ClientID defaults to
	// "pagebridge-gateway".
	Link   link.Options
	Outbox Outbox
	Sink   Sink
	Clock  paging.Clock
	// AckTimeout is how long a published job waits for the agent's ack
	// before it is published again. Default 10s.
	AckTimeout time.Duration
	Logger     *slog.Logger
}

// Stats are the bridge's counters since start.
type Stats struct {
	Published, Acked, Results, Inbound, Rejected, Duplicates uint64
	InFlight                                                 int
}

// Bridge is the running gateway end of the bus.
type Bridge struct {
	opts  Options
	log   *slog.Logger
	link  *link.Link
	clock paging.Clock

	wake    chan struct{}
	reports chan link.Message // results and inbound pages
	acks    chan link.Message
	removeC chan struct{} // acks came: take their jobs out of the outbox
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu sync.Mutex
	// fresh holds jobs Submit committed, by priority, for the pump to
	// publish straight away; the outbox is read (scan) only at start, after
	// a reconnect and when jobs are due again.
	freshMu sync.Mutex
	fresh   [paging.PriorityCritical + 1][]freshItem
	scan    atomic.Bool
	// inflight holds the jobs published and not yet removed from the
	// outbox: the pump passes over them until their ack, or until
	// AckTimeout or a reconnect makes them due again. Acknowledged ones
	// wait here for the next batched removal.
	inflight map[paging.ID]*flight
	toRemove []paging.ID // acknowledged, not yet removed from the outbox
	agents   map[string]*agentState
	// statusHook hears of every agent status taken (OnStatus).
	statusHook atomic.Pointer[func(agent string)]

	published, acked, results, inbound, rejected, dups atomic.Uint64
	rejectLog                                          *link.Throttle
}

type flight struct {
	agent string
	sent  time.Time
	acked bool
}

type agentState struct {
	status  agentapi.AgentStatus
	updated time.Time
	// skew is the agent's clock minus the gateway's, from its last live
	// (not retained) status.
	skew time.Duration
}

const topicAgents = agentapi.TopicRoot + "/agent/"

// Start connects to the broker and runs the bridge until Close.
func Start(opts Options) (*Bridge, error) {
	if opts.Outbox == nil || opts.Sink == nil {
		return nil, errors.New("agentbus: outbox and sink required")
	}
	if opts.Clock == nil {
		opts.Clock = paging.SystemClock{}
	}
	if opts.AckTimeout <= 0 {
		opts.AckTimeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Link.ClientID == "" {
		opts.Link.ClientID = "pagebridge-gateway"
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Bridge{
		opts: opts, log: opts.Logger.With("component", "bus"), clock: opts.Clock,
		wake:     make(chan struct{}, 1),
		reports:  make(chan link.Message, 4096),
		acks:     make(chan link.Message, 1024),
		removeC:  make(chan struct{}, 1),
		cancel:   cancel,
		inflight: map[paging.ID]*flight{},
		agents:   map[string]*agentState{},
	}
	b.rejectLog = link.NewThrottle(time.Minute)
	lo := opts.Link
	lo.Logger = b.log
	lo.Subscribe = []string{
		topicAgents + "+/status",
		topicAgents + "+/result",
		topicAgents + "+/inbound",
		topicAgents + "+/sms",
		topicAgents + "+/ack/to-gateway",
	}
	lo.OnMessage = b.onMessage
	// After a reconnect nothing in flight can be relied on.
	lo.OnConnect = func() { b.resend("") }
	l, err := link.Open(lo)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("agentbus: %w", err)
	}
	b.link = l
	b.wg.Add(4)
	go func() { defer b.wg.Done(); b.pump(ctx) }()
	go func() { defer b.wg.Done(); b.removeAcked(ctx) }()
	go func() { defer b.wg.Done(); b.takeReports(ctx) }()
	go func() { defer b.wg.Done(); b.takeAcks(ctx) }()
	return b, nil
}

// Close stops the bridge and disconnects. Nothing is lost: what was not
// acknowledged is in the outbox or the agents' spools.
func (b *Bridge) Close() {
	b.cancel()
	b.wg.Wait()
	b.link.Close(250 * time.Millisecond)
}

// Connected reports whether the gateway is on the bus.
func (b *Bridge) Connected() bool { return b.link.Connected() }

// Submit makes job durable in the outbox, for agent, and wakes the
// publisher. It returns the job's idempotency key.
func (b *Bridge) Submit(ctx context.Context, agent string, job *agentapi.Job) (paging.ID, error) {
	it, err := b.NewJob(agent, job)
	if err != nil {
		return paging.ID{}, err
	}
	if err := b.opts.Outbox.Enqueue(ctx, it); err != nil {
		return paging.ID{}, err
	}
	b.Committed(it)
	return it.ID, nil
}

// NewJob builds the outbox item that carries job to agent, with a fresh
// idempotency key (its ID), for a caller that commits it along with its
// own writes and then hands it over with Committed.
func (b *Bridge) NewJob(agent string, job *agentapi.Job) (paging.OutboxItem, error) {
	return JobItem(b.clock.Now(), agent, job)
}

// JobItem builds the outbox item that carries job to agent's device, with
// a fresh idempotency key (its ID), as of now.
func JobItem(now time.Time, agent string, job *agentapi.Job) (paging.OutboxItem, error) {
	if !agentapi.ValidID(agent) {
		return paging.OutboxItem{}, fmt.Errorf("agentbus: %w: bad agent id", paging.ErrInvalid)
	}
	if job.Attempt == 0 {
		job.Attempt = 1
	}
	key := paging.NewID(now)
	payload, err := agentapi.Encode(key, now, job)
	if err != nil {
		return paging.OutboxItem{}, fmt.Errorf("agentbus: %w: %v", paging.ErrInvalid, err)
	}
	return paging.OutboxItem{ID: key, Due: now, Priority: job.Priority,
		Topic: agentapi.JobTopic(agent, job.Device), Payload: paging.NewPHI(string(payload))}, nil
}

// Committed hands jobs already committed to the outbox to the publisher,
// which sends them without reading back and unsealing what it was just
// given. Items that are not agent jobs are left to the outbox scan.
func (b *Bridge) Committed(items ...paging.OutboxItem) {
	b.freshMu.Lock()
	for _, it := range items {
		agent, ok := jobAgent(it.Topic)
		if !ok {
			continue
		}
		b.fresh[it.Priority] = append(b.fresh[it.Priority], freshItem{id: it.ID, agent: agent, topic: it.Topic, payload: []byte(it.Payload.Reveal())})
	}
	b.freshMu.Unlock()
	b.poke()
}

// freshItem is a job Submit committed, waiting for the pump.
type freshItem struct {
	id           paging.ID
	agent, topic string
	payload      []byte
}

func (b *Bridge) poke() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// pump publishes due jobs, critical first. A published job is passed
// over (in memory, with no write) until its agent acknowledges it or it is
// due again.
func (b *Bridge) pump(ctx context.Context) {
	const batch = 512
	tick := time.NewTicker(b.opts.AckTimeout / 4)
	defer tick.Stop()
	b.scan.Store(true) // what an earlier run left in the outbox
	for ctx.Err() == nil {
		n := 0
		if b.link.Connected() {
			if b.scan.Swap(false) {
				var err error
				if n, err = b.publishDue(ctx, batch); err != nil && ctx.Err() == nil {
					b.log.Error("outbox", "err", err)
				}
				if n == batch || err != nil {
					b.scan.Store(true)
				}
			}
			n += b.publishFresh(batch)
		}
		if n > 0 {
			continue
		}
		select {
		case <-ctx.Done():
		case <-b.wake:
		case <-tick.C:
			b.expire()
		}
	}
}

// publishFresh publishes up to limit jobs Submit handed over, critical
// first.
func (b *Bridge) publishFresh(limit int) int {
	var take []freshItem
	b.freshMu.Lock()
	for p := len(b.fresh) - 1; p >= 0 && len(take) < limit; p-- {
		k := min(limit-len(take), len(b.fresh[p]))
		take = append(take, b.fresh[p][:k]...)
		b.fresh[p] = b.fresh[p][k:]
		if len(b.fresh[p]) == 0 {
			b.fresh[p] = nil // let the backing array go
		}
	}
	b.freshMu.Unlock()
	now := b.clock.Now()
	send := take[:0]
	b.mu.Lock()
	for _, it := range take {
		if _, done := b.inflight[it.id]; done {
			continue // published by a scan meanwhile, or already acked
		}
		b.inflight[it.id] = &flight{agent: it.agent, sent: now}
		send = append(send, it)
	}
	b.mu.Unlock()
	out := newPacker()
	for _, it := range send {
		out.add(it.topic, it.payload)
	}
	b.publishPacked(out)
	return len(take)
}

// packer groups payloads by topic, in the order they come.
type packer struct {
	topics []string
	by     map[string][][]byte
}

func newPacker() *packer { return &packer{by: map[string][][]byte{}} }

func (p *packer) add(topic string, payload []byte) {
	if p.by[topic] == nil {
		p.topics = append(p.topics, topic)
	}
	p.by[topic] = append(p.by[topic], payload)
}

// publishPacked publishes each topic's jobs in as few batches as fit.
func (b *Bridge) publishPacked(p *packer) {
	now := b.clock.Now()
	for _, topic := range p.topics {
		items := p.by[topic]
		msgs, err := agentapi.Pack(now, items)
		if err != nil {
			// Encoded and checked by Submit: a bug to hear about. What
			// was left out stays in the outbox and is tried again.
			b.log.Error("jobs not packed", "topic", topic, "err", err)
		}
		for _, m := range msgs {
			b.link.Publish(topic, false, m)
		}
		b.published.Add(uint64(len(items)))
	}
}

func (b *Bridge) publishDue(ctx context.Context, limit int) (int, error) {
	now := b.clock.Now()
	b.mu.Lock()
	items, err := b.opts.Outbox.DueOutboxExcept(ctx, now, limit, func(id paging.ID) bool { return b.inflight[id] != nil })
	b.mu.Unlock()
	if err != nil {
		return 0, err
	}
	out := newPacker()
	n := 0
	b.mu.Lock()
	for _, it := range items {
		agent, ok := jobAgent(it.Topic)
		if !ok {
			continue // another sender's item
		}
		b.inflight[it.ID] = &flight{agent: agent, sent: now}
		out.add(it.Topic, []byte(it.Payload.Reveal()))
		n++
	}
	b.mu.Unlock()
	b.publishPacked(out)
	return n, nil
}

// expire makes jobs not acknowledged within AckTimeout due again.
func (b *Bridge) expire() {
	now := b.clock.Now()
	b.mu.Lock()
	n := 0
	for id, f := range b.inflight {
		if !f.acked && now.Sub(f.sent) >= b.opts.AckTimeout {
			delete(b.inflight, id)
			n++
		}
	}
	b.mu.Unlock()
	if n > 0 {
		b.scan.Store(true)
		b.poke()
	}
}

// jobAgent returns the agent of a job topic.
func jobAgent(topic string) (string, bool) {
	rest, ok := strings.CutPrefix(topic, topicAgents)
	if !ok || !strings.HasSuffix(rest, "/job") {
		return "", false
	}
	agent, _, ok := strings.Cut(rest, "/device/")
	return agent, ok
}

// resend makes agent's unacknowledged jobs (every agent's, for "") due
// now.
func (b *Bridge) resend(agent string) {
	b.mu.Lock()
	n := 0
	for id, f := range b.inflight {
		if !f.acked && (agent == "" || f.agent == agent) {
			delete(b.inflight, id)
			n++
		}
	}
	b.mu.Unlock()
	if n > 0 {
		b.log.Info("re-sending unacknowledged jobs", "agent", agent, "jobs", n)
	}
	b.scan.Store(true)
	b.poke()
}

// onMessage routes a message from paho's goroutine; it never blocks for
// long.
func (b *Bridge) onMessage(m link.Message) {
	rest, ok := strings.CutPrefix(m.Topic(), topicAgents)
	if !ok {
		b.reject(m, "", errors.New("topic outside the agent tree"))
		return
	}
	agent, sub, _ := strings.Cut(rest, "/")
	switch sub {
	case "status":
		b.onStatus(agent, m)
		m.Ack()
	case "result", "inbound", "sms":
		b.reports <- m
	case "ack/to-gateway":
		b.acks <- m
	default:
		b.reject(m, agent, fmt.Errorf("unexpected topic %q", m.Topic()))
	}
}

func (b *Bridge) reject(m link.Message, agent string, err error) {
	b.refuse(m, agent, err)
	m.Ack()
}

// refuse counts and logs (throttled) a payload, or an item of a batch,
// that will not be taken.
func (b *Bridge) refuse(m link.Message, agent string, err error) {
	b.rejected.Add(1)
	if n, ok := b.rejectLog.Allow(agent); ok {
		b.log.Warn("bus payload rejected", "agent", agent, "topic", m.Topic(), "bytes", len(m.Payload()), "err", err, "repeats", n)
	}
}

func (b *Bridge) onStatus(agent string, m link.Message) {
	if len(m.Payload()) == 0 {
		return // a retained status cleared
	}
	var st agentapi.AgentStatus
	env, err := agentapi.Open(m.Payload(), &st)
	if err == nil && st.Agent != agent {
		err = fmt.Errorf("status of agent %q on agent %q's topic", st.Agent, agent)
	}
	if err != nil {
		b.reject(m, agent, err)
		return
	}
	b.mu.Lock()
	prev := b.agents[agent]
	// A new session (the agent restarted) or a return from offline: what
	// it had not acknowledged, it may never have seen.
	cameOnline := st.State == "online" && (prev == nil || prev.status.State != "online" || prev.status.Session != st.Session)
	now := b.clock.Now()
	as := &agentState{status: st, updated: now}
	switch {
	case !m.Retained() && st.State == "online":
		// A live status was sent a moment ago: the difference is the
		// clocks' (loopback or LAN delay is milliseconds).
		as.skew = env.Sent.Sub(now)
	case prev != nil:
		as.skew = prev.skew
	}
	b.agents[agent] = as
	b.mu.Unlock()
	if prev == nil || prev.status.State != st.State {
		b.log.Info("agent "+st.State, "agent", agent, "version", st.Version, "devices", len(st.Devices))
	}
	if cameOnline {
		b.resend(agent)
	}
	if fn := b.statusHook.Load(); fn != nil {
		(*fn)(agent)
	}
}

// OnStatus sets fn to be called, on the bridge's goroutine, after each
// status an agent publishes (online, offline, a device's change) has been
// taken: Agents then shows it. fn must not block.
func (b *Bridge) OnStatus(fn func(agent string)) { b.statusHook.Store(&fn) }

// takeReports handles results and inbound pages in batches: the sink's
// commits run concurrently and group-commit, then one ack per agent.
func (b *Bridge) takeReports(ctx context.Context) {
	link.Batches(ctx, b.reports, 256, b.handleReports)
}

func (b *Bridge) handleReports(ctx context.Context, batch []link.Message) {
	type done struct {
		agent string
		key   string
		ok    bool
	}
	type item struct {
		m          link.Message
		agent, sub string
		payload    []byte
	}
	var items []item
	for _, m := range batch {
		rest := strings.TrimPrefix(m.Topic(), topicAgents)
		agent, sub, _ := strings.Cut(rest, "/")
		payloads, err := agentapi.Unpack(m.Payload())
		if err != nil {
			b.refuse(m, agent, err)
			continue
		}
		for _, p := range payloads {
			items = append(items, item{m: m, agent: agent, sub: sub, payload: p})
		}
	}
	out := make([]done, len(items))
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key, err := b.report(ctx, it.agent, it.sub, it.payload)
			switch {
			case errors.Is(err, agentapi.ErrMalformed) || errors.Is(err, agentapi.ErrVersion) || errors.Is(err, agentapi.ErrTooLarge),
				errors.Is(err, paging.ErrInvalid):
				// Refused as a payload, by the wire checks or the store's:
				// sending it again will not help.
				b.refuse(it.m, it.agent, err)
			case err != nil:
				if n, ok := b.rejectLog.Allow("commit:" + it.agent); ok {
					b.log.Error("agent report not stored; the agent will send it again", "agent", it.agent, "err", err, "repeats", n)
				}
			default:
				out[i] = done{agent: it.agent, key: key, ok: true}
			}
		}()
	}
	wg.Wait()
	keys := map[string][]string{}
	for _, d := range out {
		if d.ok {
			keys[d.agent] = append(keys[d.agent], d.key)
		}
	}
	b.sendAcks(keys)
	// Every message is acknowledged to the broker, those whose commit
	// failed too: the agent's spool sends them again, and holding them
	// would only fill the broker's in-flight window.
	for _, m := range batch {
		m.Ack()
	}
}

func (b *Bridge) report(ctx context.Context, agent, sub string, payload []byte) (string, error) {
	var env agentapi.Envelope
	var err error
	switch sub {
	case "result":
		var r agentapi.Result
		if env, err = agentapi.Open(payload, &r); err != nil {
			return "", err
		}
		key, _ := paging.ParseID(env.Key)
		if err = b.opts.Sink.Result(ctx, agent, key, &r); err != nil {
			return "", err
		}
		b.results.Add(1)
	case "inbound":
		var in agentapi.Inbound
		if env, err = agentapi.Open(payload, &in); err != nil {
			return "", err
		}
		key, _ := paging.ParseID(env.Key)
		if err = b.opts.Sink.Inbound(ctx, agent, key, &in); err != nil {
			return "", err
		}
		b.inbound.Add(1)
	case "sms":
		var m agentapi.SMS
		if env, err = agentapi.Open(payload, &m); err != nil {
			return "", err
		}
		key, _ := paging.ParseID(env.Key)
		if err = b.opts.Sink.SMS(ctx, agent, key, &m); err != nil {
			return "", err
		}
		b.inbound.Add(1)
	default:
		return "", fmt.Errorf("%w: topic %q", agentapi.ErrMalformed, sub)
	}
	return env.Key, nil
}

// sendAcks publishes the acks of each agent.
func (b *Bridge) sendAcks(keys map[string][]string) {
	for agent, ks := range keys {
		if err := b.link.PublishAcks(agentapi.AckToAgentTopic(agent), ks, b.clock.Now()); err != nil {
			b.log.Error("ack not encoded", "err", err)
		}
	}
}

// takeAcks records the jobs agents acknowledged: they are never published
// again, and removeAcked takes them out of the outbox in batches.
func (b *Bridge) takeAcks(ctx context.Context) {
	for {
		var m link.Message
		select {
		case <-ctx.Done():
			return
		case m = <-b.acks:
		}
		agent, _, _ := strings.Cut(strings.TrimPrefix(m.Topic(), topicAgents), "/")
		var a agentapi.Ack
		if _, err := agentapi.Open(m.Payload(), &a); err != nil {
			b.reject(m, agent, err)
			continue
		}
		b.mu.Lock()
		for _, k := range a.Keys {
			id, err := paging.ParseID(k)
			if err != nil {
				continue
			}
			switch f := b.inflight[id]; {
			case f == nil:
				// Published before this gateway started, or acked twice.
				b.inflight[id] = &flight{agent: agent, acked: true}
			case f.acked:
				b.dups.Add(1)
				continue
			default:
				f.acked = true
			}
			b.acked.Add(1)
			b.toRemove = append(b.toRemove, id)
		}
		b.mu.Unlock()
		b.signalRemove()
		m.Ack()
	}
}

// signalRemove wakes removeAcked.
func (b *Bridge) signalRemove() {
	select {
	case b.removeC <- struct{}{}:
	default:
	}
}

// removeAcked takes acknowledged jobs out of the outbox once acks come,
// waiting 50ms for more so that one commit serves them all; a quiet bus
// does not wake it. Until then the pump passes over them; after a crash in
// between they are published again and the agent, which has them, acks
// them again.
func (b *Bridge) removeAcked(ctx context.Context) {
	link.OnSignal(ctx, b.removeC, 50*time.Millisecond, b.removeNow)
}

func (b *Bridge) removeNow(ctx context.Context) {
	b.mu.Lock()
	ids := b.toRemove
	b.toRemove = nil
	b.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	if _, err := b.opts.Outbox.SentBatch(ctx, ids); err != nil {
		if ctx.Err() == nil {
			b.log.Error("outbox: acknowledged jobs not removed yet; retrying", "jobs", len(ids), "err", err)
		}
		b.mu.Lock()
		b.toRemove = append(b.toRemove, ids...)
		b.mu.Unlock()
		b.signalRemove()
		return
	}
	b.mu.Lock()
	for _, id := range ids {
		delete(b.inflight, id)
	}
	b.mu.Unlock()
}

// Stats returns the counters.
func (b *Bridge) Stats() Stats {
	b.mu.Lock()
	n := 0
	for _, f := range b.inflight {
		if !f.acked {
			n++
		}
	}
	b.mu.Unlock()
	return Stats{Published: b.published.Load(), Acked: b.acked.Load(), Results: b.results.Load(),
		Inbound: b.inbound.Load(), Rejected: b.rejected.Load(), Duplicates: b.dups.Load(), InFlight: n}
}

// AgentHealth is what the gateway knows of one agent.
type AgentHealth struct {
	ID      string                  `json:"id"`
	State   string                  `json:"state"` // online, offline
	Version string                  `json:"version,omitempty"`
	Updated time.Time               `json:"updated"`
	Devices []agentapi.DeviceStatus `json:"devices"`
	// InFlight counts jobs published to it and not yet acknowledged.
	InFlight int `json:"in_flight"`
	// Pending counts what the agent holds for the gateway, unacknowledged
	// (as of its last status).
	Pending int `json:"pending"`
	// Bypassed counts the pages the agent passed to a paging terminal
	// itself while the gateway was unreachable (since the agent started).
	Bypassed uint64 `json:"bypassed"`
	// ClockSkew is the agent's clock minus the gateway's, in seconds, as
	// of its last live status.
	ClockSkew float64 `json:"clock_skew_seconds"`
}

// Agents returns every agent heard from, by ID.
func (b *Bridge) Agents() []AgentHealth {
	b.mu.Lock()
	defer b.mu.Unlock()
	inflight := map[string]int{}
	for _, f := range b.inflight {
		if !f.acked {
			inflight[f.agent]++
		}
	}
	out := make([]AgentHealth, 0, len(b.agents))
	for id, a := range b.agents {
		devs := append([]agentapi.DeviceStatus(nil), a.status.Devices...)
		if devs == nil {
			devs = []agentapi.DeviceStatus{}
		}
		out = append(out, AgentHealth{ID: id, State: a.status.State, Version: a.status.Version,
			Updated: a.updated, Devices: devs, InFlight: inflight[id], Pending: a.status.Pending, Bypassed: a.status.Bypassed, ClockSkew: a.skew.Seconds()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// PublishRetained publishes body on topic, retained, and waits for the
// broker to take it.
func (b *Bridge) PublishRetained(ctx context.Context, topic string, key paging.ID, body agentapi.Body) error {
	p, err := agentapi.Encode(key, time.Now(), body)
	if err != nil {
		return err
	}
	return b.link.PublishWait(ctx, topic, true, p)
}
