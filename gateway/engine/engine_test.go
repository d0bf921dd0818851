package engine_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "time/tzdata"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/gateway/engine"
	"pagebridge/gateway/oncall"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/routing"
	"pagebridge/gateway/threads"
	"pagebridge/storage"
	"pagebridge/storage/storagetest"
)

// clock is the scenario's controlled clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// jobs records the jobs the engine commits, as the bus bridge would get
// them.
type jobs struct {
	clock     *clock
	mu        sync.Mutex
	committed []paging.OutboxItem
}

func (j *jobs) NewJob(agent string, job *agentapi.Job) (paging.OutboxItem, error) {
	return engine.OutboxJobs{Clock: j.clock}.NewJob(agent, job)
}

func (j *jobs) Committed(items ...paging.OutboxItem) {
	j.mu.Lock()
	j.committed = append(j.committed, items...)
	j.mu.Unlock()
}

// sent returns "agent/device action to" of every job so far, and their
// texts.
func (j *jobs) sent(t *testing.T) (lines []string, texts []string) {
	t.Helper()
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, it := range j.committed {
		var job agentapi.Job
		if _, err := agentapi.Open([]byte(it.Payload.Reveal()), &job); err != nil {
			t.Fatal(err)
		}
		agent := strings.Split(strings.TrimPrefix(it.Topic, agentapi.TopicRoot+"/agent/"), "/")[0]
		lines = append(lines, fmt.Sprintf("%s/%s %s %s", agent, job.Device, job.Action, job.To))
		texts = append(texts, string(job.Text))
	}
	return lines, texts
}

// hospital is a scenario: a store with a directory, an engine on a
// controlled clock.
type hospital struct {
	t     *testing.T
	env   *storagetest.Env
	st    *storage.Store
	clock *clock
	jobs  *jobs
	eng   *engine.Engine
	cfg   engine.Config
	// observe, if set before open, is the engine's Options.Observe.
	observe func(engine.Route, engine.Event)
}

var admin = paging.AuditEvent{Actor: "test-admin"}

func newHospital(t *testing.T, at time.Time, cfg engine.Config) *hospital {
	t.Helper()
	env := storagetest.New(t)
	h := &hospital{t: t, env: env, clock: &clock{t: at}, cfg: cfg}
	h.jobs = &jobs{clock: h.clock}
	h.open()
	return h
}

func (h *hospital) open() {
	h.st = h.env.Open(h.t, func(o *storage.Options) { o.Now = h.clock.Now })
	eng, err := engine.New(engine.Options{Store: h.st, Jobs: h.jobs, Clock: h.clock, Config: h.cfg,
		AgentOf:    func(dev string) (string, bool) { return "agent-1", dev != "" },
		PageThread: threads.PageThreadOf, Observe: h.observe})
	if err != nil {
		h.t.Fatal(err)
	}
	h.eng = eng
}

// restart closes the store and opens it with a new engine, as a crash
// and restart would.
func (h *hospital) restart() {
	h.t.Helper()
	if err := h.st.Close(); err != nil {
		h.t.Fatal(err)
	}
	h.open()
}

func (h *hospital) person(id string, stage paging.Stage, eps ...paging.Endpoint) {
	h.t.Helper()
	eps = append([]paging.Endpoint{{Channel: paging.ChannelApp, Address: id}}, eps...)
	if err := h.st.PutPerson(context.Background(), paging.Person{ID: id, Name: "Dr " + id, Stage: stage, Endpoints: eps}, admin); err != nil {
		h.t.Fatal(err)
	}
}

func pager(addr string) paging.Endpoint {
	return paging.Endpoint{Channel: paging.ChannelPager, Address: addr, Via: "terminal-1"}
}
func sms(n string) paging.Endpoint { return paging.Endpoint{Channel: paging.ChannelSMS, Address: n} }

func (h *hospital) put(kind storage.RecordKind, id string, v any) {
	h.t.Helper()
	if err := h.st.PutRecord(context.Background(), kind, id, v, admin); err != nil {
		h.t.Fatal(err)
	}
}

func (h *hospital) role(id, policy string) {
	h.t.Helper()
	if err := h.st.PutRole(context.Background(), paging.Role{ID: id, Name: id, Policy: policy}, admin); err != nil {
		h.t.Fatal(err)
	}
}

func (h *hospital) pagerID(id string, target paging.Target) {
	h.t.Helper()
	if err := h.st.PutPagerID(context.Background(), paging.PagerID{ID: id, Target: target, Priority: paging.PriorityNormal}, admin); err != nil {
		h.t.Fatal(err)
	}
}

// page accepts a page as a way in does, and lets the engine route it.
func (h *hospital) page(pagerID string, prio paging.Priority, text string) paging.ID {
	h.t.Helper()
	m := &paging.Message{ID: paging.NewID(h.clock.Now()), Source: paging.Source{Protocol: paging.ProtocolWCTP, Line: "4W nurse call"},
		PagerID: pagerID, Priority: prio, Text: paging.NewPHI(text), Received: h.clock.Now()}
	if err := h.st.Accept(context.Background(), m, paging.AuditEvent{Actor: "wctp:test"}); err != nil {
		h.t.Fatal(err)
	}
	h.tick()
	return m.ID
}

func (h *hospital) tick() {
	h.t.Helper()
	if err := h.eng.Tick(context.Background()); err != nil {
		h.t.Fatal(err)
	}
}

func (h *hospital) route(id paging.ID) engine.Route {
	h.t.Helper()
	r, err := h.eng.Route(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// attempts lists "person channel state" of every attempt, in order.
func attempts(r engine.Route) []string {
	var out []string
	for _, d := range r.Deliveries {
		for _, a := range d.Attempts {
			out = append(out, fmt.Sprintf("%s %s %s", d.PersonID, a.Channel, a.State))
		}
	}
	return out
}

func want(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got  %q\n want %q", what, got, want)
	}
}

func lt(s string) oncall.LocalTime {
	v, err := oncall.ParseLocalTime(s)
	if err != nil {
		panic(err)
	}
	return v
}

// Migration without touching senders: one pager ID, the same page; the
// person's stage alone decides the channels.
func TestMigrationStages(t *testing.T) {
	for _, c := range []struct {
		stage          paging.Stage
		attempts, jobs []string
	}{
		{paging.StagePager, []string{"lee pager queued"}, []string{"agent-1/terminal-1 tap.page 1002"}},
		{paging.StageBoth, []string{"lee app sent", "lee pager queued"}, []string{"agent-1/terminal-1 tap.page 1002"}},
		{paging.StageApp, []string{"lee app sent"}, nil},
	} {
		t.Run(string(c.stage), func(t *testing.T) {
			h := newHospital(t, time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), engine.Config{})
			h.person("lee", c.stage, pager("1002"), sms("+4915112345678"))
			h.pagerID("1002", paging.Target{Kind: paging.TargetPerson, ID: "lee"})
			id := h.page("1002", paging.PriorityNormal, "Bed 12 needs you")
			r := h.route(id)
			want(t, "attempts", attempts(r), c.attempts)
			jobs, texts := h.jobs.sent(t)
			want(t, "jobs", jobs, c.jobs)
			for _, tx := range texts {
				if strings.Contains(tx, "Bed 12") {
					t.Errorf("PHI on the pager without policy: %q", tx)
				}
			}
			if r.State != engine.StateActive || !strings.Contains(r.Deliveries[0].Reason, "lee") {
				t.Errorf("route %+v", r)
			}
		})
	}
}

// An unacknowledged critical page walks app → repeat after 2 min → pager
// → SMS → next person → group; an ack at step 3 stops steps 4 and later.
func TestEscalationWalksUntilAck(t *testing.T) {
	start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	h := newHospital(t, start, engine.Config{SMSDevice: "agent-1/modem-1"})
	h.person("lee", paging.StageApp, pager("1002"), sms("+4915112345678"))
	h.person("kim", paging.StageApp)
	h.person("ray", paging.StageApp)
	h.person("ann", paging.StageApp)
	if err := h.st.PutGroup(context.Background(), paging.Group{ID: "cardio-team", Name: "Cardiology team", Members: []string{"ray", "ann"}}, admin); err != nil {
		t.Fatal(err)
	}
	app, pg, txt := []paging.Channel{paging.ChannelApp}, []paging.Channel{paging.ChannelPager}, []paging.Channel{paging.ChannelSMS}
	h.put(storage.KindPolicy, "critical", routing.Policy{ID: "critical", Steps: []routing.Step{
		{Channels: app},
		{Delay: 2 * time.Minute, Channels: app},
		{Delay: 2 * time.Minute, Channels: pg},
		{Delay: 2 * time.Minute, Channels: txt},
		{Delay: 2 * time.Minute, Targets: []paging.Target{{Kind: paging.TargetPerson, ID: "kim"}}},
		{Delay: 2 * time.Minute, Targets: []paging.Target{{Kind: paging.TargetGroup, ID: "cardio-team"}}},
	}})
	if err := h.st.PutPagerID(context.Background(), paging.PagerID{ID: "1002", Target: paging.Target{Kind: paging.TargetPerson, ID: "lee"},
		Priority: paging.PriorityCritical, Policy: "critical"}, admin); err != nil {
		t.Fatal(err)
	}

	t.Run("ack at step 3 stops the rest", func(t *testing.T) {
		id := h.page("1002", paging.PriorityCritical, "CODE BLUE 4W bed 12")
		want(t, "step 1", attempts(h.route(id)), []string{"lee app sent"})
		h.clock.add(time.Minute)
		h.tick()
		want(t, "nothing before 2 min", attempts(h.route(id)), []string{"lee app sent"})
		h.clock.add(time.Minute)
		h.tick()
		want(t, "step 2: the app again", attempts(h.route(id)), []string{"lee app sent", "lee app sent"})
		h.clock.add(2 * time.Minute)
		h.tick()
		want(t, "step 3: pager", attempts(h.route(id)), []string{"lee app sent", "lee app sent", "lee pager queued"})
		r, err := h.eng.Acknowledge(context.Background(), id, "lee", paging.ChannelApp)
		if err != nil {
			t.Fatal(err)
		}
		if r.State != engine.StateAcknowledged || r.Acked.Person != "lee" {
			t.Fatalf("after ack: %+v", r)
		}
		for range 10 {
			h.clock.add(2 * time.Minute)
			h.tick()
		}
		r = h.route(id)
		// The latest app notification takes the ack; what was still pending
		// is cancelled.
		want(t, "after the ack", attempts(r), []string{"lee app cancelled", "lee app acknowledged", "lee pager cancelled"})
		if jobs, _ := h.jobs.sent(t); len(jobs) != 1 {
			t.Fatalf("jobs after the ack: %q", jobs)
		}
	})

	t.Run("nobody acks: every step, then the fallback", func(t *testing.T) {
		h.jobs.committed = nil
		id := h.page("1002", paging.PriorityCritical, "CODE BLUE 4W bed 14")
		for range 12 {
			h.clock.add(2 * time.Minute)
			h.tick()
		}
		r := h.route(id)
		want(t, "every step", attempts(r), []string{
			"lee app sent", "lee app sent", "lee pager queued", "lee sms queued",
			"kim app sent", "ray app sent", "ann app sent"})
		jobs, _ := h.jobs.sent(t)
		want(t, "jobs", jobs, []string{"agent-1/terminal-1 tap.page 1002", "agent-1/modem-1 sms.send +4915112345678"})
		if r.State != engine.StateFallback {
			t.Fatalf("state %s, want fallback", r.State)
		}
	})
}

// Do not disturb holds back normal pages and lets critical ones through;
// a forward is followed and shown.
func TestPresenceAndForwarding(t *testing.T) {
	h := newHospital(t, time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), engine.Config{})
	h.person("lee", paging.StageApp)
	h.person("kim", paging.StageApp)
	h.pagerID("1002", paging.Target{Kind: paging.TargetPerson, ID: "lee"})
	h.pagerID("1003", paging.Target{Kind: paging.TargetPerson, ID: "kim"})
	h.put(storage.KindPresence, "lee", routing.Presence{Person: "lee", State: routing.PresenceDND})
	h.put(storage.KindPresence, "kim", routing.Presence{Person: "kim", State: routing.PresenceOffDuty, ForwardTo: "lee"})

	normal := h.route(h.page("1002", paging.PriorityNormal, "routine"))
	if len(attempts(normal)) != 0 || !slices.ContainsFunc(normal.Notes, func(n engine.Note) bool { return strings.Contains(n.Text, "held back") }) {
		t.Fatalf("a normal page reached someone in DND: %+v", normal)
	}
	critical := h.route(h.page("1002", paging.PriorityCritical, "arrest"))
	want(t, "critical through DND", attempts(critical), []string{"lee app sent"})

	fwd := h.route(h.page("1003", paging.PriorityCritical, "for kim"))
	want(t, "forwarded", attempts(fwd), []string{"lee app sent"})
	if !strings.Contains(fwd.Deliveries[0].Reason, "forwarded from kim") {
		t.Fatalf("the forward is not shown: %q", fwd.Deliveries[0].Reason)
	}
}

// A role's page at 02:00 on the night the clocks change reaches whoever
// the schedule says; an override wins.
func TestRoleScheduleAcrossDSTAndOverride(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	// 2026-03-29: 02:00 CET becomes 03:00 CEST. 01:30 local is before.
	night := time.Date(2026, 3, 29, 1, 30, 0, 0, berlin)
	h := newHospital(t, night, engine.Config{})
	for _, p := range []string{"day-doc", "night-doc", "cover"} {
		h.person(p, paging.StageApp)
	}
	h.role("cardiology", "")
	h.put(storage.KindSchedule, "cardio", oncall.Schedule{ID: "cardio", RoleID: "cardiology", Name: "Cardiology", TimeZone: "Europe/Berlin",
		Layers: []oncall.Layer{{Name: "12h", Participants: []string{"day-doc", "night-doc"}, Start: lt("2026-03-01T08:00"), Shift: oncall.Length{N: 12, Unit: oncall.UnitHour}}}})
	h.pagerID("2000", paging.Target{Kind: paging.TargetRole, ID: "cardiology"})

	// 12-hour shifts from 08:00 CET on 1 March: the night shift runs
	// 20:00 CET on the 28th to 08:00 CET... which is 09:00 CEST on the
	// 29th, since hour shifts are real time.
	r := h.route(h.page("2000", paging.PriorityHigh, "chest pain"))
	want(t, "01:30 on the change night", attempts(r), []string{"night-doc app sent"})
	h.clock.set(time.Date(2026, 3, 29, 8, 30, 0, 0, berlin))
	want(t, "08:30 CEST is still the night shift", attempts(h.route(h.page("2000", paging.PriorityHigh, "x"))), []string{"night-doc app sent"})
	h.clock.set(time.Date(2026, 3, 29, 9, 0, 0, 0, berlin))
	want(t, "09:00 CEST hands off", attempts(h.route(h.page("2000", paging.PriorityHigh, "x"))), []string{"day-doc app sent"})

	h.put(storage.KindSchedule, "cardio", oncall.Schedule{ID: "cardio", RoleID: "cardiology", Name: "Cardiology", TimeZone: "Europe/Berlin",
		Layers:    []oncall.Layer{{Name: "12h", Participants: []string{"day-doc", "night-doc"}, Start: lt("2026-03-01T08:00"), Shift: oncall.Length{N: 12, Unit: oncall.UnitHour}}},
		Overrides: []oncall.Override{{ID: "o1", Start: h.clock.Now(), End: h.clock.Now().Add(time.Hour), Kind: oncall.OverrideReplace, Person: "cover"}}})
	r = h.route(h.page("2000", paging.PriorityHigh, "x"))
	want(t, "override", attempts(r), []string{"cover app sent"})
	if !strings.Contains(r.Deliveries[0].Reason, "override") {
		t.Errorf("reason does not show the override: %q", r.Deliveries[0].Reason)
	}
}

// A restart between steps resumes at the right step: none runs twice,
// none is skipped.
func TestRestartMidEscalation(t *testing.T) {
	h := newHospital(t, time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), engine.Config{})
	h.person("lee", paging.StageBoth, pager("1002"))
	h.put(storage.KindPolicy, "twice", routing.Policy{ID: "twice", Steps: []routing.Step{{}, {Delay: 5 * time.Minute}}, FallbackAfter: time.Minute})
	if err := h.st.PutPagerID(context.Background(), paging.PagerID{ID: "1002", Target: paging.Target{Kind: paging.TargetPerson, ID: "lee"},
		Priority: paging.PriorityHigh, Policy: "twice"}, admin); err != nil {
		t.Fatal(err)
	}
	id := h.page("1002", paging.PriorityHigh, "x")
	h.restart()
	h.tick()
	want(t, "after a restart, before step 2", attempts(h.route(id)), []string{"lee app sent", "lee pager queued"})
	h.clock.add(5 * time.Minute)
	h.restart()
	h.tick()
	h.tick()
	want(t, "step 2 once", attempts(h.route(id)), []string{"lee app sent", "lee pager queued", "lee app sent", "lee pager queued"})
	if jobs, _ := h.jobs.sent(t); len(jobs) != 2 {
		t.Fatalf("jobs: %q", jobs)
	}
	h.clock.add(time.Minute)
	h.restart()
	h.tick()
	if r := h.route(id); r.State != engine.StateFallback {
		t.Fatalf("state %s, want fallback", r.State)
	}
}

// An exhausted policy reaches the fallback role and the console.
func TestFallback(t *testing.T) {
	h := newHospital(t, time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), engine.Config{FallbackRole: "operators"})
	h.person("lee", paging.StageApp)
	h.person("op", paging.StageApp)
	h.role("operators", "")
	h.put(storage.KindSchedule, "ops", oncall.Schedule{ID: "ops", RoleID: "operators", Name: "Operators", TimeZone: "UTC",
		Layers: []oncall.Layer{{Name: "all", Participants: []string{"op"}, Start: lt("2026-01-01T00:00"), Shift: oncall.Length{N: 1, Unit: oncall.UnitDay}}}})
	h.pagerID("1002", paging.Target{Kind: paging.TargetPerson, ID: "lee"})
	id := h.page("1002", paging.PriorityNormal, "x")
	h.clock.add(routing.DefaultFallbackAfter)
	h.tick()
	r := h.route(id)
	if r.State != engine.StateFallback {
		t.Fatalf("state %s", r.State)
	}
	want(t, "fallback", attempts(r), []string{"lee app sent", "op app sent"})
	// An ack from the console ends it.
	if r, err := h.eng.Acknowledge(context.Background(), id, "op", paging.ChannelApp); err != nil || r.State != engine.StateAcknowledged {
		t.Fatalf("ack: %+v %v", r, err)
	}
}

// The same page from two senders within the window pages nobody twice; a
// more urgent repeat, and a repeat after the window, go out.
func TestDuplicateSuppression(t *testing.T) {
	h := newHospital(t, time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), engine.Config{DedupeWindow: 2 * time.Minute})
	h.person("lee", paging.StageApp)
	h.pagerID("1002", paging.Target{Kind: paging.TargetPerson, ID: "lee"})
	first := h.page("1002", paging.PriorityNormal, "Room 12 call bell")
	h.clock.add(30 * time.Second)
	dup := h.route(h.page("1002", paging.PriorityNormal, "Room 12 call bell"))
	if dup.State != engine.StateDuplicate || dup.DuplicateOf != first || len(attempts(dup)) != 0 {
		t.Fatalf("repeat within the window: %+v", dup)
	}
	other := h.route(h.page("1002", paging.PriorityNormal, "Room 14 call bell"))
	want(t, "another text", attempts(other), []string{"lee app sent"})
	urgent := h.route(h.page("1002", paging.PriorityCritical, "Room 12 call bell"))
	want(t, "more urgent", attempts(urgent), []string{"lee app sent"})
	h.clock.add(3 * time.Minute)
	later := h.route(h.page("1002", paging.PriorityNormal, "Room 12 call bell"))
	want(t, "after the window", attempts(later), []string{"lee app sent"})
}

// A page reached on the app opens its thread in the step's commit; later
// steps add whom they reach, each credited to its step; a pager-only page
// has no thread.
func TestPageThreads(t *testing.T) {
	h := newHospital(t, time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), engine.Config{})
	h.person("lee", paging.StageApp)
	h.person("kim", paging.StageApp)
	h.person("ray", paging.StagePager, pager("1005"))
	h.put(storage.KindPolicy, "two", routing.Policy{ID: "two", Steps: []routing.Step{{}, {Delay: time.Minute, Targets: []paging.Target{{Kind: paging.TargetPerson, ID: "kim"}}}}})
	if err := h.st.PutPagerID(context.Background(), paging.PagerID{ID: "1002", Target: paging.Target{Kind: paging.TargetPerson, ID: "lee"}, Policy: "two"}, admin); err != nil {
		t.Fatal(err)
	}
	h.pagerID("1005", paging.Target{Kind: paging.TargetPerson, ID: "ray"})
	ctx := context.Background()
	id := h.page("1002", paging.PriorityHigh, "Bed 3")
	th, err := h.st.Thread(ctx, id)
	if err != nil || len(th.Members) != 1 || th.Members[0].Person != "lee" {
		t.Fatalf("thread after step 1: %+v %v", th, err)
	}
	h.clock.add(time.Minute)
	h.tick()
	th, _ = h.st.Thread(ctx, id)
	if len(th.Members) != 2 || th.Members[1].Person != "kim" || !strings.Contains(th.Members[1].AddedBy, "step 2") {
		t.Fatalf("thread after step 2: %+v", th.Members)
	}
	if _, err := h.eng.Acknowledge(ctx, id, "kim", paging.ChannelApp); err != nil {
		t.Fatal(err)
	}
	pagerOnly := h.page("1005", paging.PriorityNormal, "x")
	if _, err := h.st.Thread(ctx, pagerOnly); !errors.Is(err, paging.ErrNotFound) {
		t.Fatalf("a pager-only page has a thread: %v", err)
	}
}

// Beyond the rate limit a person's pager gets one bundle notice for the
// pages held back, when the window allows; critical pages are never held;
// the app is never limited.
func TestRateLimitBundles(t *testing.T) {
	h := newHospital(t, time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), engine.Config{RateLimit: 3, RateWindow: 10 * time.Minute})
	h.person("lee", paging.StageBoth, pager("1002"))
	h.pagerID("1002", paging.Target{Kind: paging.TargetPerson, ID: "lee"})
	var ids []paging.ID
	for i := range 5 {
		ids = append(ids, h.page("1002", paging.PriorityNormal, fmt.Sprintf("routine %d", i)))
		h.clock.add(time.Minute)
	}
	code := h.page("1002", paging.PriorityCritical, "CODE BLUE")
	jobs, texts := h.jobs.sent(t)
	if len(jobs) != 4 {
		t.Fatalf("jobs before the window: %q; want 3 pages and the critical one", jobs)
	}
	if !strings.Contains(texts[3], "secure message") {
		t.Fatalf("the critical page: %q", texts[3])
	}
	for _, id := range ids[3:] {
		want(t, "held back", attempts(h.route(id)), []string{"lee app sent", "lee pager queued"})
	}
	want(t, "critical", attempts(h.route(code)), []string{"lee app sent", "lee pager queued"})
	// The first page's slot frees 10 minutes after it: the bundle goes.
	h.clock.set(time.Date(2026, 11, 27, 10, 10, 0, 0, time.UTC))
	h.tick()
	jobs, texts = h.jobs.sent(t)
	if len(jobs) != 5 || !strings.HasPrefix(texts[4], "2 more pages for you") {
		t.Fatalf("after the window: %q %q", jobs, texts)
	}
	for _, id := range ids[3:] {
		r := h.route(id)
		if a := r.Deliveries[0].Attempts[1]; !strings.Contains(a.Note, "bundle notice of 2 pages") {
			t.Fatalf("bundled attempt: %+v", a)
		}
	}
	h.tick()
	if jobs, _ := h.jobs.sent(t); len(jobs) != 5 {
		t.Fatalf("a bundle sent twice: %q", jobs)
	}
}

// A policy's Expire ends a normal page nobody acknowledged; a critical
// page under the same policy never expires; an ack stops the expiry.
func TestExpiry(t *testing.T) {
	h := newHospital(t, time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), engine.Config{})
	h.person("lee", paging.StageBoth, pager("1002"))
	h.put(storage.KindPolicy, "short", routing.Policy{ID: "short", Steps: []routing.Step{{}}, FallbackAfter: 5 * time.Minute, Expire: 30 * time.Minute})
	if err := h.st.PutPagerID(context.Background(), paging.PagerID{ID: "1002", Target: paging.Target{Kind: paging.TargetPerson, ID: "lee"}, Policy: "short"}, admin); err != nil {
		t.Fatal(err)
	}
	normal := h.page("1002", paging.PriorityNormal, "routine")
	critical := h.page("1002", paging.PriorityCritical, "arrest")
	acked := h.page("1002", paging.PriorityHigh, "bed 4")
	if _, err := h.eng.Acknowledge(context.Background(), acked, "lee", paging.ChannelApp); err != nil {
		t.Fatal(err)
	}
	for range 8 {
		h.clock.add(5 * time.Minute)
		h.tick()
	}
	r := h.route(normal)
	if r.State != engine.StateExpired {
		t.Fatalf("normal page after 40 min: %s", r.State)
	}
	want(t, "expired attempts", attempts(r), []string{"lee app expired", "lee pager expired"})
	if r := h.route(critical); r.State != engine.StateFallback {
		t.Fatalf("critical page: %s, want fallback (never expired)", r.State)
	}
	if r := h.route(acked); r.State != engine.StateAcknowledged {
		t.Fatalf("acknowledged page: %s", r.State)
	}
	if due, _ := h.st.Due(context.Background(), h.clock.Now().Add(24*time.Hour), 10); len(due) != 0 {
		t.Fatalf("timers left: %+v", due)
	}
}

// A page to a role at 02:00 on the night the clocks go back (Berlin,
// 2026-10-25: 03:00 CEST becomes 02:00 CET, so 02:00 happens twice)
// reaches whoever the daily rotation says, and the 08:00 hand-off happens
// at 08:00 local time, 25 hours after the one before.
func TestRolePageAt0200OnFallBackNight(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	first0200 := time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC) // 02:00 CEST
	h := newHospital(t, first0200, engine.Config{})
	h.person("ana", paging.StageApp)
	h.person("bo", paging.StageApp)
	h.role("anaesthesia", "")
	h.put(storage.KindSchedule, "an", oncall.Schedule{ID: "an", RoleID: "anaesthesia", Name: "Anaesthesia", TimeZone: "Europe/Berlin",
		Layers: []oncall.Layer{{Name: "daily", Participants: []string{"ana", "bo"}, Start: lt("2026-10-01T08:00"), Shift: oncall.Length{N: 1, Unit: oncall.UnitDay}}}})
	h.pagerID("3000", paging.Target{Kind: paging.TargetRole, ID: "anaesthesia"})
	// Shift 23 (24 Oct 08:00 to 25 Oct 08:00) is bo's.
	want(t, "02:00 CEST", attempts(h.route(h.page("3000", paging.PriorityHigh, "a"))), []string{"bo app sent"})
	h.clock.set(time.Date(2026, 10, 25, 1, 0, 0, 0, time.UTC)) // 02:00 CET, the second time
	want(t, "02:00 CET", attempts(h.route(h.page("3000", paging.PriorityHigh, "b"))), []string{"bo app sent"})
	h.clock.set(time.Date(2026, 10, 25, 7, 59, 0, 0, berlin))
	want(t, "07:59 CET", attempts(h.route(h.page("3000", paging.PriorityHigh, "c"))), []string{"bo app sent"})
	h.clock.set(time.Date(2026, 10, 25, 8, 0, 0, 0, berlin))
	want(t, "08:00 CET hands off", attempts(h.route(h.page("3000", paging.PriorityHigh, "d"))), []string{"ana app sent"})
}

// A code team's page (policy Team): the first acknowledgement stops the
// escalation but nobody else's delivery, and each member acknowledges
// for themselves; without Team the first cancels the rest.
func TestCodeTeamKeepsThePage(t *testing.T) {
	start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	h := newHospital(t, start, engine.Config{})
	h.person("ray", paging.StageApp)
	h.person("ann", paging.StageApp)
	h.person("lee", paging.StagePager, pager("1002"))
	h.person("kim", paging.StageApp)
	if err := h.st.PutGroup(context.Background(), paging.Group{ID: "code-team", Name: "Code blue team", Members: []string{"ray", "ann", "lee"}}, admin); err != nil {
		t.Fatal(err)
	}
	for _, team := range []bool{true, false} {
		t.Run(fmt.Sprint("team=", team), func(t *testing.T) {
			pid := "9998"
			if team {
				pid = "9999"
			}
			h.put(storage.KindPolicy, "code-"+pid, routing.Policy{ID: "code-" + pid, Team: team, Steps: []routing.Step{
				{},
				{Delay: 2 * time.Minute, Targets: []paging.Target{{Kind: paging.TargetPerson, ID: "kim"}}},
			}})
			if err := h.st.PutPagerID(context.Background(), paging.PagerID{ID: pid, Target: paging.Target{Kind: paging.TargetGroup, ID: "code-team"},
				Priority: paging.PriorityCritical, Policy: "code-" + pid}, admin); err != nil {
				t.Fatal(err)
			}
			id := h.page(pid, paging.PriorityCritical, "Code Blue 4W Rm 412")
			want(t, "everyone paged", attempts(h.route(id)), []string{"ray app sent", "ann app sent", "lee pager queued"})
			if r, err := h.eng.Acknowledge(context.Background(), id, "ray", paging.ChannelApp); err != nil || r.State != engine.StateAcknowledged {
				t.Fatalf("ray's ack: %v %+v", err, r)
			}
			r, err := h.eng.Acknowledge(context.Background(), id, "ann", paging.ChannelApp)
			if err != nil {
				t.Fatal(err)
			}
			h.clock.add(10 * time.Minute)
			h.tick()
			r = h.route(id)
			if team {
				want(t, "each keeps it", attempts(r), []string{"ray app acknowledged", "ann app acknowledged", "lee pager queued"})
			} else {
				want(t, "the first ack cancels the rest", attempts(r), []string{"ray app acknowledged", "ann app cancelled", "lee pager cancelled"})
			}
			if r.Acked == nil || r.Acked.Person != "ray" || r.Timer != (paging.ID{}) {
				t.Errorf("acked %+v, timer %v: want ray's, no step left", r.Acked, r.Timer)
			}
		})
	}
}
