// Package engine is the gateway's delivery engine: it takes every accepted
// page, resolves it to people (pager ID → person, role or group; on-call
// schedules; presence and forwarding), sends it on the channels each
// person's migration stage and the escalation policy call for (the app
// thread, a job for a paging terminal, an SMS job for a modem), and walks
// the policy on until someone acknowledges; a policy that runs out sends
// the page to the fallback (the operators' console and the fallback role).
// It never just stops.
//
// Each step is one storage.RouteChange: the route record, the jobs, the
// timer of the next step and the audit entries commit together, so a
// crash or kill -9 resumes at the right step and no step runs twice. The
// policy's times are computed from the page's arrival (routing.Policy),
// and the engine keeps only the last step done and the next timer.
//
// # Caveats
//
//   - An app attempt is "sent" once the page is in the person's thread; a
//     live session receiving it ("delivered") is the web app's to report
//     ([Engine.AppDelivered]).
//   - A job already handed to an agent is not recalled by an
//     acknowledgement: the attempt is marked cancelled, and a page the
//     terminal has already taken is not unsent.
//   - A page from an agent's ESPA 4.4.4 line reports back to that line's
//     control station as espa.status jobs (ESPAReturn): paged, acknowledged,
//     fault, each committed once per page with the change that caused it.
//     The agent keeps a queued status in memory only, so after an agent
//     crash a status may reach the control station twice.
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/routing"
	"pagebridge/storage"
)

// Timer kinds the engine sets.
const (
	TimerStep     = "route.step"     // the next escalation step of a page
	TimerFallback = "route.fallback" // the policy ran out: the fallback
	TimerExpire   = "route.expire"   // the page's time is up (policy Expire)
)

// Actions of the engine's audit entries.
const (
	actionRoute     = "page.route"
	actionSend      = "page.send"
	actionAck       = "page.acknowledge"
	actionFallback  = "page.fallback"
	actionDuplicate = "page.duplicate"
	actionExpire    = "page.expire"
	actionDeliver   = "page.deliver"
)

// Jobs turns a job for an agent's device into an outbox item the engine
// commits with its step, and hands committed items to the publisher
// (agentbus.Bridge).
type Jobs interface {
	NewJob(agent string, job *agentapi.Job) (paging.OutboxItem, error)
	Committed(items ...paging.OutboxItem)
}

// Actions of jobs, as the agent's devices know them.
const (
	ActionTAPPage = "tap.page"
	ActionSMSSend = "sms.send"
)

// Config is the engine's policy configuration.
type Config struct {
	// DefaultPolicy is the escalation policy for pages whose pager ID and
	// role name none; "" uses the built-in one (every stage channel at
	// once, then the fallback).
	DefaultPolicy string
	// FallbackRole is paged, with the operators' console, when a policy
	// runs out. "" pages only the console.
	FallbackRole string
	// PHI says which channels besides the app may carry the text.
	PHI routing.PHIPolicy
	// PagerMaxLen and SMSMaxLen bound the text sent on each (defaults 240
	// and 160).
	PagerMaxLen, SMSMaxLen int
	// SMSDevice is the agent and modem ("agent/device") SMS jobs go to;
	// "" fails SMS attempts with a note.
	SMSDevice string
	// RateLimit caps the pages one person gets on one pager or phone per
	// RateWindow; beyond it non-critical pages go out together as one
	// bundle notice when the window allows. 0: no limit.
	RateLimit  int
	RateWindow time.Duration
	// DedupeWindow suppresses a page with the same pager ID and text as
	// one received within it (two senders, or a sender's retry under a new
	// reference) unless it is more urgent; 0 suppresses nothing.
	DedupeWindow time.Duration
}

// Options configure an Engine.
type Options struct {
	Store  *storage.Store
	Jobs   Jobs
	Clock  paging.Clock
	Config Config
	// AgentOf names the agent that has device, for pager endpoints whose
	// Via names only a device.
	AgentOf func(device string) (string, bool)
	// PageThread, if set, describes the page's thread as a route stands
	// (threads.PageThreadOf): each step opens it, or adds who the step
	// reached on the app, in the step's own commit.
	PageThread func(Route) (storage.NewThread, bool)
	// Observe, if set, hears of every committed change to a route, after
	// the commit, with what it was: the web app's live updates. It runs
	// on the committing goroutine, with the page's lock held, so it must
	// not block or call back into the engine.
	Observe func(Route, Event)
	Logger  *slog.Logger
}

// Event says what a committed change did to a route (Options.Observe).
type Event string

const (
	// EventStep: the page was routed, or an escalation step or the
	// fallback ran; its thread may have new members.
	EventStep Event = "step"
	// EventAcknowledged: someone acknowledged; pending steps stopped.
	EventAcknowledged Event = "acknowledged"
	// EventExpired: the page expired unacknowledged.
	EventExpired Event = "expired"
	// EventResult: an agent's job result moved an attempt.
	EventResult Event = "result"
	// EventDelivered: a live session of a recipient received the page
	// on the app (AppDelivered).
	EventDelivered Event = "delivered"
	// EventUpdated: any other change (a duplicate recorded).
	EventUpdated Event = "updated"
)

// Engine routes and escalates pages.
type Engine struct {
	opts  Options
	st    *storage.Store
	clock paging.Clock
	log   *slog.Logger
	dir   *directoryCache

	locks [64]sync.Mutex // per page, by hash of its ID
	wake  chan struct{}
	dedup *dedupe
	limit *limiter
}

// New returns an engine; Run starts it.
func New(opts Options) (*Engine, error) {
	if opts.Store == nil || opts.Jobs == nil {
		return nil, errors.New("engine: store and jobs required")
	}
	if opts.Clock == nil {
		opts.Clock = paging.SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Config.PagerMaxLen <= 0 {
		opts.Config.PagerMaxLen = 240
	}
	if opts.Config.SMSMaxLen <= 0 {
		opts.Config.SMSMaxLen = 160
	}
	if opts.AgentOf == nil {
		opts.AgentOf = func(string) (string, bool) { return "", false }
	}
	e := &Engine{opts: opts, st: opts.Store, clock: opts.Clock, log: opts.Logger.With("component", "engine"),
		wake: make(chan struct{}, 1)}
	e.dir = newDirectoryCache(opts.Store)
	e.dedup = newDedupe(opts.Config.DedupeWindow)
	e.limit = newLimiter(opts.Config.RateLimit, opts.Config.RateWindow)
	return e, nil
}

// Poke tells the engine that pages are waiting (an accept committed).
func (e *Engine) Poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// LoadDirectory builds the in-memory directory snapshot now, so the first
// page after a start or a directory change does not wait for it.
func (e *Engine) LoadDirectory(ctx context.Context) error {
	_, err := e.dir.get(ctx)
	return err
}

// Directory returns the engine's current directory snapshot, for
// services that resolve people the same way (staff threads).
func (e *Engine) Directory(ctx context.Context) (routing.Directory, error) { return e.dir.get(ctx) }

// Run routes pages and runs due timers until ctx ends.
func (e *Engine) Run(ctx context.Context) error {
	if err := e.LoadDirectory(ctx); err != nil && ctx.Err() == nil {
		e.log.Error("directory not loaded; retrying with the first page", "err", err)
	}
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		if err := e.Tick(ctx); err != nil && ctx.Err() == nil {
			e.log.Error("routing", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-e.wake:
		case <-t.C:
		}
	}
}

// Tick routes every page waiting and runs every timer due now, then
// returns. Run calls it; tests with a controlled clock call it directly.
func (e *Engine) Tick(ctx context.Context) error {
	var errs []error
	for {
		ids, err := e.st.PendingRoutes(ctx, 256)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			break
		}
		if err := e.parallel(ids, func(id paging.ID) error { return e.route(ctx, id) }); err != nil {
			errs = append(errs, err)
			break // what failed stays pending for the next tick
		}
	}
	if err := e.flushBundles(ctx); err != nil {
		errs = append(errs, err)
	}
	for {
		due, err := e.st.Due(ctx, e.clock.Now(), 256)
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		if len(due) == 0 {
			break
		}
		var stuck bool
		var mu sync.Mutex
		var timers []paging.ID
		for _, t := range due {
			timers = append(timers, t.ID)
		}
		byID := map[paging.ID]paging.Timer{}
		for _, t := range due {
			byID[t.ID] = t
		}
		if err := e.parallel(timers, func(id paging.ID) error {
			err := e.fire(ctx, byID[id])
			if err != nil {
				mu.Lock()
				stuck = true
				mu.Unlock()
			}
			return err
		}); err != nil {
			errs = append(errs, err)
		}
		if stuck {
			break
		}
	}
	return errors.Join(errs...)
}

// parallel runs fn for each id on a few goroutines: different pages
// commit together (group commit), one page's steps never overlap (lock).
func (e *Engine) parallel(ids []paging.ID, fn func(paging.ID) error) error {
	const workers = 16
	ch := make(chan paging.ID)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for range min(workers, len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ch {
				if err := fn(id); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, id := range ids {
		ch <- id
	}
	close(ch)
	wg.Wait()
	return errors.Join(errs...)
}

func (e *Engine) lock(id paging.ID) func() {
	h := fnv.New32a()
	h.Write(id[:])
	m := &e.locks[h.Sum32()%uint32(len(e.locks))]
	m.Lock()
	return m.Unlock
}

// route opens the route of an accepted page and runs the steps due at
// once.
func (e *Engine) route(ctx context.Context, id paging.ID) error {
	defer e.lock(id)()
	var existing Route
	switch err := e.st.Route(ctx, id, &existing); {
	case err == nil:
		// Routed already. ApplyRoute takes a page off the list in the
		// commit that routes it, so this cannot follow a crash; drop
		// the stray entry all the same.
		return e.st.ApplyRoute(ctx, storage.RouteChange{Message: id, Routed: true})
	case !errors.Is(err, paging.ErrNotFound):
		return err
	}
	m, dir, err := e.load(ctx, id)
	if err != nil {
		return err
	}
	now := e.clock.Now()
	r := &Route{Message: id, PagerID: m.PagerID, SenderRef: m.SenderRef, Priority: m.Priority, Source: sourceLabel(m.Source),
		Start: m.Received, Done: -1, State: StateActive}
	if m.DeliverAt.After(r.Start) {
		r.Start = m.DeliverAt
	}
	if n := len(m.Bypassed); n > 0 {
		r.note(now, 0, fmt.Sprintf("bypassed: the agent sent the page to %d pager(s) through its paging terminal while the gateway was unreachable", n))
	}
	if orig, dup := e.dedup.seen(m); dup {
		r.State, r.DuplicateOf = StateDuplicate, orig
		r.note(now, 0, "the same page to the same pager ID as "+orig.String()+", received within the duplicate window: not sent again")
		ch := e.newChange(r, true)
		ch.audit(r, actionDuplicate, "duplicate of message/"+orig.String())
		return e.commit(ctx, ch)
	}
	r.ESPA = espaReturnOf(m)
	pid, err := e.st.PagerID(ctx, m.PagerID)
	var pol *routing.Policy
	switch {
	case errors.Is(err, paging.ErrNotFound):
		// Mapped when accepted, gone now: nobody to resolve, so straight
		// to the fallback.
		r.note(now, 0, fmt.Sprintf("pager ID %s is no longer in the directory", m.PagerID))
		ch := e.newChange(r, true)
		ch.step = true
		ch.audit(r, actionRoute, "pager ID not in the directory")
		if err := e.fallback(ctx, dir, m, r, ch, now); err != nil {
			return err
		}
		return e.commit(ctx, ch)
	case err != nil:
		return err
	default:
		r.Target, r.Label = pid.Target, pid.Label
		pol = dir.policyFor(&pid, e.opts.Config.DefaultPolicy)
		r.Policy = *pol
	}
	ch := e.newChange(r, true)
	ch.step = true
	ch.audit(r, actionRoute, fmt.Sprintf("pager ID %s → %s, policy %s", m.PagerID, r.Target, policyName(pol)))
	if pol.Expire > 0 && m.Priority != paging.PriorityCritical {
		t := paging.Timer{ID: paging.NewID(now), Due: r.Start.Add(pol.Expire), Kind: TimerExpire, Ref: "message/" + id.String()}
		r.Expiry = t.ID
		ch.rc.Timers = append(ch.rc.Timers, t)
	}
	if m.DeliverAt.After(now) {
		// Held (SNPP HOLD): the policy starts when the sender asked.
		r.note(now, 0, "held for delivery at "+m.DeliverAt.UTC().Format(time.RFC3339))
		ch.setTimer(r, TimerStep, m.DeliverAt)
		return e.commit(ctx, ch)
	}
	if err := e.advance(ctx, dir, m, r, pol, ch, now); err != nil {
		return err
	}
	return e.commit(ctx, ch)
}

// load reads a page to route and the directory to route it with.
func (e *Engine) load(ctx context.Context, id paging.ID) (*paging.Message, *directory, error) {
	read := e.st.MessageHead
	if e.opts.Config.PHI.Pager || e.opts.Config.PHI.SMS || e.dedup != nil {
		read = e.st.MessageToRoute
	}
	m, err := read(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	dir, err := e.dir.get(ctx)
	return m, dir, err
}

// fire runs a due timer.
func (e *Engine) fire(ctx context.Context, t paging.Timer) error {
	ref, ok := strings.CutPrefix(t.Ref, "message/")
	id, err := paging.ParseID(ref)
	if !ok || err != nil || (t.Kind != TimerStep && t.Kind != TimerFallback && t.Kind != TimerExpire) {
		e.log.Warn("timer not the engine's; removed", "kind", t.Kind, "timer", t.ID)
		return e.st.Done(ctx, t.ID)
	}
	defer e.lock(id)()
	var r Route
	if err := e.st.Route(ctx, id, &r); err != nil {
		if errors.Is(err, paging.ErrNotFound) {
			return e.st.Done(ctx, t.ID)
		}
		return err
	}
	if t.Kind == TimerExpire {
		return e.expire(ctx, &r, t)
	}
	if r.Timer != t.ID || r.State != StateActive {
		// Superseded (an ack, or a later step moved the timer).
		return e.st.Done(ctx, t.ID)
	}
	m, dir, err := e.load(ctx, id)
	if err != nil {
		return err
	}
	now := e.clock.Now()
	ch := e.newChange(&r, false)
	ch.step = true
	if t.Kind == TimerFallback {
		if err := e.fallback(ctx, dir, m, &r, ch, now); err != nil {
			return err
		}
		return e.commit(ctx, ch)
	}
	if err := e.advance(ctx, dir, m, &r, &r.Policy, ch, now); err != nil {
		return err
	}
	return e.commit(ctx, ch)
}

// advance runs the policy's steps due at now and sets the timer of what
// comes next: the next step, or the fallback.
func (e *Engine) advance(ctx context.Context, dir *directory, m *paging.Message, r *Route, pol *routing.Policy, ch *change, now time.Time) error {
	sent := map[sendKey]bool{} // several steps due at once: one send per person and endpoint
	at := now
	for {
		due, next, exhausted := pol.Due(r.Start, r.Done, at)
		reached := 0
		for _, k := range due {
			step, _ := pol.Step(k)
			targets := step.Targets
			if len(targets) == 0 {
				targets = []paging.Target{r.Target}
			}
			reached += e.send(dir, m, r, ch, k, targets, step.Channels, now, sent)
			r.Done = k
		}
		ch.cancelTimer(r)
		switch {
		case exhausted:
			ch.setTimer(r, TimerFallback, pol.FallbackAt(r.Start))
			return nil
		case len(due) > 0 && reached == 0:
			// Nobody could be paged at these steps (nobody on call, all
			// held, no usable channel): the next step runs now rather
			// than after its delay.
			r.note(now, r.Done, "nobody reached: the next step runs at once")
			at = next
			continue
		}
		ch.setTimer(r, TimerStep, next)
		return nil
	}
}

type sendKey struct {
	person   string
	endpoint paging.Endpoint
}

// send resolves targets now and creates an attempt on every channel of
// every person reached.
func (e *Engine) send(dir *directory, m *paging.Message, r *Route, ch *change, step int, targets []paging.Target, channels []paging.Channel, now time.Time, sent map[sendKey]bool) (reached int) {
	recipients, err := routing.ResolveAll(dir, targets, m.Priority, now)
	if err != nil {
		// The others are paged all the same.
		r.note(now, step, "resolving: "+err.Error())
	}
	if len(routing.Deliverable(recipients)) == 0 {
		r.note(now, step, fmt.Sprintf("nobody to page for %s", targetsText(targets)))
	}
	for _, rc := range recipients {
		if rc.Held {
			r.note(now, step, fmt.Sprintf("%s held back: %s", rc.Person, rc.HeldReason))
			continue
		}
		p, ok := dir.Person(rc.Person)
		if !ok {
			r.note(now, step, fmt.Sprintf("%s is not in the directory", rc.Person))
			continue
		}
		d := r.delivery(rc.Person)
		if d == nil {
			r.Deliveries = append(r.Deliveries, paging.Delivery{ID: paging.NewID(now), MessageID: r.Message,
				PersonID: rc.Person, Reason: rc.Reason, State: paging.StateQueued, Updated: now})
			d = &r.Deliveries[len(r.Deliveries)-1]
		}
		if d.State.Final() {
			continue
		}
		for _, rt := range routing.Channels(p, p.Stage, channels) {
			if rt.Skipped != "" {
				r.note(now, step, fmt.Sprintf("%s: %s", rc.Person, rt.Skipped))
				continue
			}
			key := sendKey{rc.Person, rt.Endpoint}
			if sent[key] {
				continue
			}
			sent[key] = true
			a := paging.Attempt{ID: paging.NewID(now), DeliveryID: d.ID, Channel: rt.Channel, Endpoint: rt.Endpoint,
				State: paging.StateQueued, Updated: now}
			if err := e.dispatch(m, r, ch, rc.Person, &a, now); err != nil {
				a.State, a.Note = paging.StateFailedPerm, err.Error()
			} else {
				reached++
			}
			d.Attempts = append(d.Attempts, a)
			if d.State == paging.StateQueued && a.State == paging.StateSent {
				d.State, d.Updated = paging.StateSent, now
			}
			ch.audit(r, actionSend, fmt.Sprintf("step %d: %s to %s (%s)", step+1, a.Channel, rc.Person, rc.Reason))
		}
	}
	return reached
}

// dispatch starts one attempt: the app thread takes it at once; pager and
// SMS attempts become jobs for agents, committed with the step.
func (e *Engine) dispatch(m *paging.Message, r *Route, ch *change, person string, a *paging.Attempt, now time.Time) error {
	if a.Channel != paging.ChannelApp && m.Priority != paging.PriorityCritical {
		k := limitKey{person: person, endpoint: a.Endpoint}
		if !e.limit.allow(k, now) {
			e.limit.hold(k, now, bundled{msg: r.Message, attempt: a.ID, priority: m.Priority, source: r.Source})
			a.Note = fmt.Sprintf("held for a bundle notice: more than %d pages in %s", e.limit.limit, e.limit.window)
			return nil
		}
	}
	if a.Channel == paging.ChannelApp {
		// The page is in the person's thread (opened in this step's
		// commit), its text sealed with the message.
		a.State, a.Updated = paging.StateSent, now
		return nil
	}
	if a.Channel == paging.ChannelPager && slices.Contains(m.Bypassed, a.Endpoint) {
		// The agent sent it there itself while the gateway was away:
		// once is enough.
		a.State, a.Updated = paging.StateSent, now
		a.Note = "sent by the agent in bypass while the gateway was unreachable"
		return nil
	}
	maxLen, tail := e.opts.Config.PagerMaxLen, ""
	if a.Channel == paging.ChannelSMS {
		// The person can acknowledge by replying; the code names this
		// page when several are outstanding.
		tail = " Reply 1 or A " + SMSAckCode(a.DeliveryID) + " to acknowledge."
		maxLen = max(e.opts.Config.SMSMaxLen-len(tail), 20)
	}
	text := routing.Notice(a.Channel, e.opts.Config.PHI, m.Priority, r.Source, m.Text, maxLen)
	return e.sendJob(ch, a, m.Priority, text.Reveal()+tail)
}

// SMSAckCode is the short code the SMS of a delivery carries ("A 7Q2K"
// acknowledges that page): the last four characters of the delivery's ID,
// which are random.
func SMSAckCode(delivery paging.ID) string {
	id := delivery.String()
	return id[len(id)-4:]
}

// sendJob adds to ch the job that carries text to a's pager or phone: a
// TAP page through the terminal the endpoint names, or an SMS through the
// configured modem. The job's key becomes a's ID.
func (e *Engine) sendJob(ch *change, a *paging.Attempt, prio paging.Priority, text string) error {
	var via, action string
	var maxLen int
	switch a.Channel {
	case paging.ChannelPager:
		via, action, maxLen = a.Endpoint.Via, ActionTAPPage, e.opts.Config.PagerMaxLen
	case paging.ChannelSMS:
		if e.opts.Config.SMSDevice == "" {
			return errors.New("no SMS modem configured")
		}
		via, action, maxLen = e.opts.Config.SMSDevice, ActionSMSSend, e.opts.Config.SMSMaxLen
	default:
		return fmt.Errorf("unknown channel %q", a.Channel)
	}
	agent, device, err := e.deviceOf(via)
	if err != nil {
		return err
	}
	if a.Channel == paging.ChannelPager && a.Endpoint.POCSAG != (paging.POCSAG{}) {
		return ch.job(e.opts.Jobs, agent, a, pocsagJob(device, prio, a.Endpoint, text, maxLen))
	}
	return ch.job(e.opts.Jobs, agent, a, &agentapi.Job{Device: device, Priority: prio, Action: action,
		To: a.Endpoint.Address, Text: agentapi.Text(routing.Truncate(text, maxLen))})
}

// deviceOf splits "agent/device", or finds the agent of a bare device.
func (e *Engine) deviceOf(via string) (agent, device string, err error) {
	if a, d, ok := strings.Cut(via, "/"); ok {
		return a, d, nil
	}
	if a, ok := e.opts.AgentOf(via); ok {
		return a, via, nil
	}
	return "", "", fmt.Errorf("no agent has device %q", via)
}

// fallback sends the page to the operators' console (its state) and the
// fallback role.
func (e *Engine) fallback(ctx context.Context, dir *directory, m *paging.Message, r *Route, ch *change, now time.Time) error {
	r.State = StateFallback
	ch.cancelTimer(r)
	detail := "on the operators' console"
	if role := e.opts.Config.FallbackRole; role != "" {
		detail += ", and to role " + role
		if e.send(dir, m, r, ch, stepFallback, []paging.Target{{Kind: paging.TargetRole, ID: role}}, nil, now, map[sendKey]bool{}) == 0 {
			r.note(now, stepFallback, "nobody of role "+role+" could be paged")
		}
	}
	ch.audit(r, actionFallback, detail)
	e.log.Warn("page not acknowledged: fallback", "message", r.Message, "pager_id", r.PagerID, "priority", r.Priority)
	return nil
}

// expire ends a page nobody acknowledged in time: pending attempts
// expire, the escalation timer goes, the page leaves the operators' list.
// The caller holds the page's lock.
func (e *Engine) expire(ctx context.Context, r *Route, t paging.Timer) error {
	if r.Expiry != t.ID || (r.State != StateActive && r.State != StateFallback) {
		return e.st.Done(ctx, t.ID)
	}
	now := e.clock.Now()
	for i := range r.Deliveries {
		d := &r.Deliveries[i]
		for j := range d.Attempts {
			if a := &d.Attempts[j]; a.State.CanTransition(paging.StateExpired) {
				a.State, a.Updated, a.Note = paging.StateExpired, now, "the page expired unacknowledged"
			}
		}
		if d.State.CanTransition(paging.StateExpired) {
			d.State, d.Updated = paging.StateExpired, now
		}
	}
	r.State = StateExpired
	ch := e.newChange(r, false)
	ch.event = EventExpired
	ch.cancelTimer(r)
	ch.rc.Cancel = append(ch.rc.Cancel, t.ID)
	r.Expiry = paging.ID{}
	ch.audit(r, actionExpire, fmt.Sprintf("unacknowledged after %s", r.Policy.Expire))
	e.log.Warn("page expired unacknowledged", "message", r.Message, "pager_id", r.PagerID, "priority", r.Priority)
	return e.commit(ctx, ch)
}

// Acknowledge records that person acknowledged the page on channel: every
// pending step and attempt is cancelled. Acknowledging a page already
// acknowledged is not an error; the route is returned as it stands.
func (e *Engine) Acknowledge(ctx context.Context, msg paging.ID, person string, channel paging.Channel) (Route, error) {
	defer e.lock(msg)()
	var r Route
	if err := e.st.Route(ctx, msg, &r); err != nil {
		return r, err
	}
	first := r.State != StateAcknowledged
	if !first && !r.Policy.Team {
		return r, nil
	}
	now := e.clock.Now()
	d := r.delivery(person)
	if d == nil {
		// Someone not paged acknowledged (a colleague on the console):
		// recorded on a delivery of their own.
		r.Deliveries = append(r.Deliveries, paging.Delivery{ID: paging.NewID(now), MessageID: msg, PersonID: person,
			Reason: "acknowledged without being paged", State: paging.StateSent, Updated: now})
		d = &r.Deliveries[len(r.Deliveries)-1]
	}
	var via paging.ID
	for _, a := range d.Attempts {
		if a.Channel == channel {
			via = a.ID
		}
	}
	if !first {
		// A code team's page, acknowledged before: this person's own
		// acknowledgement, nothing else changes.
		if d.State == paging.StateAcknowledged {
			return r, nil
		}
		if _, err := d.Acknowledge(via, now); err != nil {
			return r, fmt.Errorf("%w: %v", paging.ErrInvalid, err)
		}
		ch := e.newChange(&r, false)
		ch.event = EventAcknowledged
		ch.audit(&r, actionAck, fmt.Sprintf("by %s on %s (team)", person, channel))
		return r, e.commit(ctx, ch)
	}
	if _, err := d.Acknowledge(via, now); err != nil {
		return r, fmt.Errorf("%w: %v", paging.ErrInvalid, err)
	}
	// Everyone else's pending attempts stop too, but on a code team's
	// page, whose members all keep it.
	for i := range r.Deliveries {
		o := &r.Deliveries[i]
		if r.Policy.Team || o == d || o.State.Final() {
			continue
		}
		for j := range o.Attempts {
			if a := &o.Attempts[j]; a.State.CanTransition(paging.StateCancelled) {
				a.State, a.Updated, a.Note = paging.StateCancelled, now, "acknowledged by "+person
			}
		}
		o.State, o.Updated = paging.StateCancelled, now
	}
	r.State = StateAcknowledged
	r.Acked = &Ack{Person: person, Channel: channel, At: now}
	ch := e.newChange(&r, false)
	ch.event = EventAcknowledged
	ch.cancelTimer(&r)
	if r.Expiry != (paging.ID{}) {
		ch.rc.Cancel = append(ch.rc.Cancel, r.Expiry)
		r.Expiry = paging.ID{}
	}
	ch.audit(&r, actionAck, fmt.Sprintf("by %s on %s", person, channel))
	return r, e.commit(ctx, ch)
}

// JobResult records what an agent reported for an attempt's job. A job
// that is not an attempt of a page (a test page) is ignored.
func (e *Engine) JobResult(ctx context.Context, job paging.ID, res *agentapi.Result) error {
	msg, err := e.st.RouteOfAttempt(ctx, job)
	if errors.Is(err, paging.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	defer e.lock(msg)()
	var r Route
	if err := e.st.Route(ctx, msg, &r); err != nil {
		return err
	}
	d, a := r.attempt(job)
	if a == nil {
		return nil
	}
	to, note := paging.StateSent, res.Code
	switch res.Outcome {
	case agentapi.OutcomeFailTemp:
		to = paging.StateFailedTemp
	case agentapi.OutcomeFailPerm:
		to = paging.StateFailedPerm
	case agentapi.OutcomeUnknown:
		note = "outcome unknown, re-sent"
	case agentapi.OutcomeDelivered:
		to, note = paging.StateDelivered, "delivered to the handset"
	case agentapi.OutcomeUndelivered:
		to, note = paging.StateFailedPerm, "not delivered: "+res.Code
	}
	if res.Note != "" {
		note = strings.TrimSpace(note + " " + res.Note)
	}
	if a.State == to || !(a.State.CanTransition(to) || a.State == paging.StateQueued && to == paging.StateDelivered) {
		return nil // a repeat, or the page moved on (acknowledged, cancelled)
	}
	now := e.clock.Now()
	if a.State == paging.StateQueued && to == paging.StateDelivered {
		// The report overtook the send's own result.
		a.Transition(paging.StateSent, now, "")
	}
	a.Transition(to, now, note)
	switch {
	case to == paging.StateSent && d.State == paging.StateQueued:
		d.State, d.Updated = paging.StateSent, now
	case to == paging.StateDelivered && (d.State == paging.StateQueued || d.State == paging.StateSent):
		d.State, d.Updated = paging.StateDelivered, now
	}
	ch := e.newChange(&r, false)
	ch.event = EventResult
	return e.commit(ctx, ch)
}

// AppDelivered records that a live session of person received the page on
// the app (the web app's report, as a handset's delivery report is for an
// SMS): their app attempt, and their delivery, go from sent to delivered.
// Nothing else changes: the escalation goes on until someone
// acknowledges. It reports whether anything changed; a page not sent to
// person on the app, or already past sent, changes nothing.
func (e *Engine) AppDelivered(ctx context.Context, msg paging.ID, person string) (bool, error) {
	defer e.lock(msg)()
	var r Route
	if err := e.st.Route(ctx, msg, &r); err != nil {
		return false, err
	}
	d := r.delivery(person)
	if d == nil {
		return false, nil
	}
	now := e.clock.Now()
	moved := false
	for j := range d.Attempts {
		if a := &d.Attempts[j]; a.Channel == paging.ChannelApp && a.State == paging.StateSent {
			a.Transition(paging.StateDelivered, now, "received by a live session")
			moved = true
		}
	}
	if !moved {
		return false, nil
	}
	if d.State == paging.StateSent {
		d.State, d.Updated = paging.StateDelivered, now
	}
	ch := e.newChange(&r, false)
	ch.event = EventDelivered
	ch.audit(&r, actionDeliver, fmt.Sprintf("app to %s: received by a live session", person))
	return true, e.commit(ctx, ch)
}

// Routes calls fn with the routes of the newest pages first, up to limit.
func (e *Engine) Routes(ctx context.Context, limit int, fn func(Route) error) error {
	return e.st.Routes(ctx, limit, func(id paging.ID, raw json.RawMessage) error {
		var r Route
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("route %s: %w", id, err)
		}
		return fn(r)
	})
}

// Settled reports whether a page's routing is over (acknowledged, expired
// or a duplicate), or the page was never routed: the retention sweep may
// then delete it.
func (e *Engine) Settled(ctx context.Context, msg paging.ID) (bool, error) {
	var r Route
	switch err := e.st.Route(ctx, msg, &r); {
	case errors.Is(err, paging.ErrNotFound):
		return true, nil
	case err != nil:
		return false, err
	}
	return r.State == StateAcknowledged || r.State == StateExpired || r.State == StateDuplicate, nil
}

// Route returns the route of a page.
func (e *Engine) Route(ctx context.Context, msg paging.ID) (Route, error) {
	var r Route
	err := e.st.Route(ctx, msg, &r)
	return r, err
}

func (r *Route) note(at time.Time, step int, text string) {
	r.Notes = append(r.Notes, Note{At: at, Step: step, Text: text})
}

func sourceLabel(s paging.Source) string {
	if s.Line != "" {
		return s.Line
	}
	if s.Sender != "" {
		return s.Sender
	}
	return string(s.Protocol)
}

func policyName(p *routing.Policy) string { return p.ID }

func targetsText(ts []paging.Target) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.String()
	}
	return strings.Join(parts, ", ")
}
