package agent

// Unit tests of the agent's job handling without a bus: a device's
// runJobs with a scripted exec in place of the line, the restore of a
// spool after a restart, the routing of bus messages and the status.

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/gateway/paging"
	"pagebridge/storage"
)

// testAgent builds an agent with devs whose spool is in a temp dir. Run is
// not called: the tests drive its parts.
func testAgent(t *testing.T, devs ...DeviceConfig) *Agent {
	t.Helper()
	root := t.TempDir()
	cfg := DefaultConfig()
	cfg.Agent = AgentConfig{ID: "agent-t", DataDir: filepath.Join(root, "data"),
		KeyFile: filepath.Join(root, "keys", "kek"), CreateKey: true}
	cfg.Devices = devs
	a, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.spool.Close() })
	return a
}

// terminal is a paging terminal's config; its port is never opened here.
func terminal(id string, maxInFlight int) DeviceConfig {
	return DeviceConfig{ID: id, Kind: KindPagingTerminal, Port: "/dev/pagebridge-test/" + id, MaxInFlight: maxInFlight}
}

// jobPayload encodes a page job as the gateway sends it.
func jobPayload(t *testing.T, key paging.ID, dev string, prio paging.Priority, text string) []byte {
	t.Helper()
	p, err := agentapi.Encode(key, time.Now(), &agentapi.Job{Device: dev, Priority: prio, Action: ActionTAPPage,
		To: "1002", Text: agentapi.Text(text), Attempt: 1})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// give spools jobs for dev and queues them on the device, as takeJobs
// does with jobs from the bus. It returns their keys by text.
func give(t *testing.T, a *Agent, dev string, prio paging.Priority, texts ...string) map[string]paging.ID {
	t.Helper()
	keys, jobs := spoolJobs(t, a, dev, prio, texts...)
	for _, j := range jobs {
		a.devices[dev].queue.Push(j.prio, j)
	}
	return keys
}

// spoolJobs spools jobs for dev without queueing them.
func spoolJobs(t *testing.T, a *Agent, dev string, prio paging.Priority, texts ...string) (map[string]paging.ID, []*job) {
	t.Helper()
	keys := map[string]paging.ID{}
	var spooled []storage.SpoolJob
	var jobs []*job
	for _, text := range texts {
		key := paging.NewID(time.Now())
		keys[text] = key
		p := jobPayload(t, key, dev, prio, text)
		spooled = append(spooled, storage.SpoolJob{Key: key, Device: dev, Priority: prio, Payload: paging.NewPHI(string(p))})
		var body agentapi.Job
		if _, err := agentapi.Open(p, &body); err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, &job{key: key, prio: prio, body: body})
	}
	added, err := a.spool.AddJobs(context.Background(), spooled)
	if err != nil {
		t.Fatal(err)
	}
	for i, j := range jobs {
		if !added[i] {
			t.Fatalf("job %s not added", j.key)
		}
	}
	return keys, jobs
}

// script is an exec for runJobs that records the texts it is given and
// answers with fn's outcome.
type script struct {
	mu   sync.Mutex
	seen []string
	fn   func(text string) outcome
}

func (s *script) exec(_ context.Context, j *job) outcome {
	text := string(j.body.Text)
	s.mu.Lock()
	s.seen = append(s.seen, text)
	s.mu.Unlock()
	return s.fn(text)
}

func (s *script) texts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seen)
}

func sent(string) outcome { return outcome{Outcome: agentapi.OutcomeSent, Code: "211"} }

// runFor runs the device's jobs with exec until stop says the work is
// done, then stops it; or, if runJobs returns first (a line failure),
// returns its error.
func runFor(t *testing.T, a *Agent, dev string, exec func(context.Context, *job) outcome, stop func() bool) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.devices[dev].runJobs(ctx, exec) }()
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-deadline:
			t.Fatal("runJobs: the work was not done within 30s")
		case <-tick.C:
			if stop != nil && stop() {
				cancel()
				<-done
				return nil
			}
		}
	}
}

func spoolStats(t *testing.T, a *Agent) storage.SpoolStats {
	t.Helper()
	st, err := a.spool.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// itemsAtLeast says when the spool holds n items for the gateway.
func itemsAtLeast(t *testing.T, a *Agent, n int) func() bool {
	return func() bool { return spoolStats(t, a).Items >= n }
}

// results decodes the results the spool holds for the gateway, by job.
func results(t *testing.T, a *Agent) map[paging.ID]agentapi.Result {
	t.Helper()
	items, err := a.spool.PendingItems(context.Background(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	out := map[paging.ID]agentapi.Result{}
	for _, it := range items {
		if it.Kind != agentapi.KindResult {
			continue
		}
		var r agentapi.Result
		if _, err := agentapi.Open([]byte(it.Payload.Reveal()), &r); err != nil {
			t.Fatalf("result item %s: %v", it.Key, err)
		}
		id, err := paging.ParseID(r.Job)
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := out[id]; dup {
			t.Errorf("two results for job %s", id)
		}
		out[id] = r
	}
	return out
}

// A critical job that arrives while a batch of normal ones is in flight
// goes next: the rest of the batch is handed back, unstarted, and runs
// after it.
func TestRunJobsCriticalPreemptsBatch(t *testing.T) {
	a := testAgent(t, terminal("term-1", 4))
	keys := give(t, a, "term-1", paging.PriorityNormal, "n1", "n2", "n3", "n4")
	critKeys, crit := spoolJobs(t, a, "term-1", paging.PriorityCritical, "CODE BLUE")
	keys["CODE BLUE"] = critKeys["CODE BLUE"]
	s := &script{fn: func(text string) outcome {
		if text == "n1" { // it arrives while n1 is on the line
			a.devices["term-1"].queue.Push(crit[0].prio, crit[0])
		}
		return sent(text)
	}}
	if err := runFor(t, a, "term-1", s.exec, itemsAtLeast(t, a, 5)); err != nil {
		t.Fatalf("runJobs: %v", err)
	}
	if got, want := s.texts(), []string{"n1", "CODE BLUE", "n2", "n3", "n4"}; !slices.Equal(got, want) {
		t.Errorf("order on the device %q, want %q", got, want)
	}
	if st := spoolStats(t, a); st.Jobs != 0 || st.Running != 0 || st.Items != 5 {
		t.Errorf("spool %+v, want no jobs and 5 results", st)
	}
	res := results(t, a)
	for text, k := range keys {
		if r := res[k]; r.Outcome != agentapi.OutcomeSent || r.Resent || r.Code != "211" || r.Device != "term-1" {
			t.Errorf("%s: result %+v", text, r)
		}
	}
}

var errLineGone = errors.New("line gone")

// The line fails with a job in flight: that job is run again first when
// the line is back and its result says "outcome unknown, re-sent"; the
// job after it in the batch had not started and is not marked re-sent;
// the one before keeps its result.
func TestRunJobsLineFailsWithJobInFlight(t *testing.T) {
	a := testAgent(t, terminal("term-1", 3))
	keys := give(t, a, "term-1", paging.PriorityNormal, "j1", "j2", "j3")
	first := &script{fn: func(text string) outcome {
		if text == "j2" {
			return outcome{Err: errLineGone} // written, no answer
		}
		return sent(text)
	}}
	if err := runFor(t, a, "term-1", first.exec, nil); !errors.Is(err, errLineGone) {
		t.Fatalf("runJobs returned %v, want the line's error", err)
	}
	if got := first.texts(); !slices.Equal(got, []string{"j1", "j2"}) {
		t.Errorf("first session ran %q", got)
	}
	if n := a.devices["term-1"].queue.Len(); n != 2 {
		t.Errorf("%d jobs queued after the failure, want 2", n)
	}
	// j2 stays marked in flight: were the agent to crash now, it would be
	// re-sent as unknown after the restart too.
	if st := spoolStats(t, a); st.Jobs != 2 || st.Running != 1 || st.Items != 1 {
		t.Errorf("spool after the failure %+v, want 2 jobs, 1 in flight, 1 result", st)
	}

	again := &script{fn: sent}
	if err := runFor(t, a, "term-1", again.exec, itemsAtLeast(t, a, 3)); err != nil {
		t.Fatalf("runJobs: %v", err)
	}
	if got := again.texts(); !slices.Equal(got, []string{"j2", "j3"}) {
		t.Errorf("second session ran %q, want j2 then j3", got)
	}
	res := results(t, a)
	for text, k := range keys {
		r := res[k]
		if r.Outcome != agentapi.OutcomeSent {
			t.Errorf("%s: %+v, want sent", text, r)
		}
		if resent := text == "j2"; r.Resent != resent || strings.HasPrefix(r.Note, "outcome unknown, re-sent") != resent {
			t.Errorf("%s: resent %v, note %q; want resent %v", text, r.Resent, r.Note, resent)
		}
	}
	if st := spoolStats(t, a); st.Jobs != 0 || st.Running != 0 {
		t.Errorf("spool at the end %+v", st)
	}
}

// The line fails before a job's bytes were written: nothing was in flight,
// so no job is reported re-sent.
func TestRunJobsLineFailsBeforeWrite(t *testing.T) {
	a := testAgent(t, terminal("term-1", 2))
	keys := give(t, a, "term-1", paging.PriorityNormal, "j1", "j2")
	first := &script{fn: func(string) outcome { return outcome{Err: errLineGone, NotSent: true} }}
	if err := runFor(t, a, "term-1", first.exec, nil); !errors.Is(err, errLineGone) {
		t.Fatalf("runJobs returned %v, want the line's error", err)
	}
	if st := spoolStats(t, a); st.Jobs != 2 || st.Running != 0 || st.Items != 0 {
		t.Errorf("spool after the failure %+v, want 2 jobs, none in flight", st)
	}
	again := &script{fn: sent}
	if err := runFor(t, a, "term-1", again.exec, itemsAtLeast(t, a, 2)); err != nil {
		t.Fatalf("runJobs: %v", err)
	}
	if got := again.texts(); !slices.Equal(got, []string{"j1", "j2"}) {
		t.Errorf("second session ran %q", got)
	}
	res := results(t, a)
	for text, k := range keys {
		if r := res[k]; r.Outcome != agentapi.OutcomeSent || r.Resent || r.Note != "" {
			t.Errorf("%s: %+v, want sent, not re-sent", text, r)
		}
	}
}

// Outcomes other than sent are results too, counted as failed.
func TestRunJobsFailedOutcomes(t *testing.T) {
	a := testAgent(t, terminal("term-1", 1))
	keys := give(t, a, "term-1", paging.PriorityNormal, "perm", "temp")
	s := &script{fn: func(text string) outcome {
		if text == "perm" {
			return outcome{Outcome: agentapi.OutcomeFailPerm, Code: "511", Note: "terminal dropped the page (RS)"}
		}
		return outcome{Outcome: agentapi.OutcomeFailTemp, Code: "512", Note: "terminal answered NAK to every send"}
	}}
	if err := runFor(t, a, "term-1", s.exec, itemsAtLeast(t, a, 2)); err != nil {
		t.Fatalf("runJobs: %v", err)
	}
	res := results(t, a)
	if r := res[keys["perm"]]; r.Outcome != agentapi.OutcomeFailPerm || r.Code != "511" || r.Note != "terminal dropped the page (RS)" {
		t.Errorf("perm: %+v", r)
	}
	if r := res[keys["temp"]]; r.Outcome != agentapi.OutcomeFailTemp || r.Code != "512" {
		t.Errorf("temp: %+v", r)
	}
	if d := a.devices["term-1"].status(); d.Done != 0 || d.Failed != 2 {
		t.Errorf("device counters done %d failed %d, want 0 and 2", d.Done, d.Failed)
	}
}

// At start the agent takes back what its spool holds: jobs on their
// devices' queues (those in flight at the stop flagged re-sent), a job
// for a device no longer configured or that cannot be read answered
// fail-perm, and the items for the gateway scheduled again.
func TestRestoreFromSpool(t *testing.T) {
	a := testAgent(t, terminal("term-1", 1))
	ctx := context.Background()
	now := time.Now()
	running, waiting, gone, unreadable := paging.NewID(now), paging.NewID(now.Add(time.Millisecond)), paging.NewID(now), paging.NewID(now)
	_, err := a.spool.AddJobs(ctx, []storage.SpoolJob{
		{Key: running, Device: "term-1", Payload: paging.NewPHI(string(jobPayload(t, running, "term-1", paging.PriorityNormal, "running"))), Received: now},
		{Key: waiting, Device: "term-1", Payload: paging.NewPHI(string(jobPayload(t, waiting, "term-1", paging.PriorityNormal, "waiting"))), Received: now.Add(time.Millisecond)},
		{Key: gone, Device: "term-9", Payload: paging.NewPHI(string(jobPayload(t, gone, "term-9", paging.PriorityNormal, "gone"))), Received: now},
		{Key: unreadable, Device: "term-1", Payload: paging.NewPHI("{not a job"), Received: now},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.spool.StartJobs(ctx, []paging.ID{running}); err != nil {
		t.Fatal(err)
	}
	inKey := paging.NewID(now)
	in, err := agentapi.Encode(inKey, now, &agentapi.Inbound{Line: "tap-in", Protocol: paging.ProtocolTAP, PagerID: "1002",
		Priority: paging.PriorityNormal, Text: "unacked page", Received: now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.spool.PutItems(ctx, []storage.SpoolItem{{Key: inKey, Kind: agentapi.KindInbound, Payload: paging.NewPHI(string(in)), Created: now}}); err != nil {
		t.Fatal(err)
	}

	if err := a.restore(ctx); err != nil {
		t.Fatal(err)
	}
	q := a.devices["term-1"].queue
	var got []string
	for q.Len() > 0 {
		j, _ := q.TryPop()
		got = append(got, fmt.Sprintf("%s resent=%v", string(j.body.Text), j.resent))
	}
	if want := []string{"running resent=true", "waiting resent=false"}; !slices.Equal(got, want) {
		t.Errorf("term-1's queue %q, want %q", got, want)
	}
	res := results(t, a)
	if r := res[gone]; r.Outcome != agentapi.OutcomeFailPerm || r.Note != "device no longer configured" || r.Device != "term-9" {
		t.Errorf("job for a device gone: %+v", r)
	}
	if r := res[unreadable]; r.Outcome != agentapi.OutcomeFailPerm || r.Note != "job in the spool is unreadable" {
		t.Errorf("unreadable job: %+v", r)
	}
	if len(res) != 2 {
		t.Errorf("%d results, want 2", len(res))
	}
	if n := a.out.len(); n != 3 {
		t.Errorf("%d items scheduled for the gateway, want the inbound page and 2 results", n)
	}
	if st := spoolStats(t, a); st.Jobs != 2 || st.Running != 1 {
		t.Errorf("spool %+v, want the 2 jobs for term-1, one in flight", st)
	}
}

// fakeMessage is a bus message as paho hands it over.
type fakeMessage struct {
	topic   string
	payload []byte
	acked   bool
}

func (m *fakeMessage) Duplicate() bool   { return false }
func (m *fakeMessage) Qos() byte         { return 1 }
func (m *fakeMessage) Retained() bool    { return false }
func (m *fakeMessage) Topic() string     { return m.topic }
func (m *fakeMessage) MessageID() uint16 { return 1 }
func (m *fakeMessage) Payload() []byte   { return m.payload }
func (m *fakeMessage) Ack()              { m.acked = true }

// Messages on topics the agent does not serve are rejected and
// acknowledged to the broker (so it does not deliver them again); its own
// job and ack topics go to their receivers.
func TestOnMessageRoutes(t *testing.T) {
	a := testAgent(t, terminal("term-1", 1))
	for _, topic := range []string{
		agentapi.JobTopic("agent-other", "term-1"),
		agentapi.ResultTopic("agent-t"),
		agentapi.AckToGatewayTopic("agent-t"),
		"pagebridge/v1/agent/agent-t/device/term-1/jobs",
		"elsewhere/job",
	} {
		m := &fakeMessage{topic: topic, payload: []byte("{}")}
		before := a.Stats().Rejected
		a.onMessage(m)
		if a.Stats().Rejected != before+1 || !m.acked {
			t.Errorf("%s: rejected %d→%d, acked %v; want rejected and acked", topic, before, a.Stats().Rejected, m.acked)
		}
	}
	a.onMessage(&fakeMessage{topic: agentapi.JobTopic("agent-t", "term-1")})
	a.onMessage(&fakeMessage{topic: agentapi.AckToAgentTopic("agent-t")})
	if len(a.jobsIn) != 1 || len(a.acksIn) != 1 {
		t.Errorf("jobs in %d, acks in %d; want one each", len(a.jobsIn), len(a.acksIn))
	}
}

// A job is refused at receipt when the agent has no such device or the
// device's kind does not carry out its action.
func TestRefusal(t *testing.T) {
	a := testAgent(t, terminal("term-1", 1),
		DeviceConfig{ID: "modem-1", Kind: KindModem, Port: "/dev/pagebridge-test/modem-1"},
		DeviceConfig{ID: "tap-in", Kind: KindTAPLine, Port: "listen://127.0.0.1:0"})
	cases := []struct{ dev, action, want string }{
		{"term-1", ActionTAPPage, ""},
		{"term-1", "sms.send", `device kind paging-terminal does not carry out "sms.send"`},
		{"modem-1", ActionTAPPage, `device kind modem does not carry out "tap.page"`},
		{"tap-in", ActionTAPPage, `device kind tap-line does not carry out "tap.page"`},
		{"term-9", ActionTAPPage, "no such device on this agent"},
	}
	for _, c := range cases {
		j := &agentapi.Job{Device: c.dev, Action: c.action}
		if got := refusal(a.devices[c.dev], j); got != c.want {
			t.Errorf("%s on %s: %q, want %q", c.action, c.dev, got, c.want)
		}
	}
}

// The status the agent publishes names its devices; the offline one (its
// will, and what a clean stop says) claims no queued jobs, since the
// devices are not running them.
func TestStatusPayload(t *testing.T) {
	a := testAgent(t, terminal("term-1", 1), terminal("term-2", 1))
	give(t, a, "term-1", paging.PriorityNormal, "queued")
	for _, state := range []string{"online", "offline"} {
		p, err := a.statusPayload(state)
		if err != nil {
			t.Fatal(err)
		}
		var st agentapi.AgentStatus
		if _, err := agentapi.Open(p, &st); err != nil {
			t.Fatalf("%s: %v", state, err)
		}
		if st.Agent != "agent-t" || st.State != state || st.Session == "" || len(st.Devices) != 2 || st.Devices[0].ID != "term-1" || st.Devices[1].ID != "term-2" {
			t.Errorf("%s: %+v", state, st)
			continue
		}
		want := 1
		if state == "offline" {
			want = 0
		}
		if q := st.Devices[0].Queue; q != want {
			t.Errorf("%s: term-1 queue %d, want %d", state, q, want)
		}
	}
}
