package agent

// Fault tests of the modem driver against the simulated modem on ptys
// (issue 6): late OKs, URCs inside replies, +CMS ERROR bursts, a port
// that vanishes and returns, a modem that stops answering, a pool that
// loses one of its modems, a wrong SIM PIN. Each checks that no message is
// lost, none goes out twice when its outcome was known, an unknown outcome
// is reported as such, and no message text or PIN reaches the log.
//
// The simulated modems send no status report by themselves
// (ManualReports), so each job has exactly one result, and results()
// flags a second one. Timeouts are the engine's own (2 s for init's AT,
// 5 s for a command or the "> " prompt, 3 s per resync probe) and the
// line's reopen backoff its default: no option is shortened behind the
// configuration's back.

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/firmware-agent/sim"
	"pagebridge/gateway/paging"
)

// logBuf keeps every log record of an agent.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// faultAgent is an agent with devs whose every log record, debug ones
// included, is kept. Run is not called.
func faultAgent(t *testing.T, devs ...DeviceConfig) (*Agent, *logBuf) {
	t.Helper()
	logs := &logBuf{}
	root := t.TempDir()
	cfg := DefaultConfig()
	cfg.Agent = AgentConfig{ID: "agent-f", DataDir: filepath.Join(root, "data"),
		KeyFile: filepath.Join(root, "keys", "kek"), CreateKey: true}
	cfg.Devices = devs
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := New(cfg, Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.spool.Close() })
	return a, logs
}

// simModem starts a simulated modem that sends status reports only when
// told to.
func simModem(t *testing.T, opts sim.ModemOptions) *sim.Modem {
	t.Helper()
	opts.ManualReports = true
	mod, err := sim.NewModem(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mod.Close() })
	return mod
}

// modemDev is a modem's device config on mod's port.
func modemDev(id string, mod *sim.Modem, pool string) DeviceConfig {
	return DeviceConfig{ID: id, Kind: KindModem, Port: mod.Path(), Baud: 115200, Pool: pool}
}

// runModems runs the devices until the test ends.
func runModems(t *testing.T, a *Agent, ids ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() { defer wg.Done(); a.devices[id].run(ctx) }()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func ready(t *testing.T, a *Agent, id string) {
	t.Helper()
	eventually(t, id+" ready", func() bool { return a.devices[id].status().State == agentapi.DeviceReady })
}

func notReady(t *testing.T, a *Agent, id string) {
	t.Helper()
	eventually(t, id+" no longer ready", func() bool { return a.devices[id].status().State != agentapi.DeviceReady })
}

// waitCtx is a bounded wait for the simulator's events.
func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// received waits until mod has been sent s (after the first from bytes of
// its recording) and returns the recording's length then.
func received(t *testing.T, mod *sim.Modem, from int, s string) int {
	t.Helper()
	n := 0
	if err := mod.WaitFor(waitCtx(t), func(rec []byte) bool {
		n = len(rec)
		return bytes.Contains(rec[min(from, len(rec)):], []byte(s))
	}); err != nil {
		t.Fatalf("modem never got %q: %v", s, err)
	}
	return n
}

func count(b []byte, s string) int { return bytes.Count(b, []byte(s)) }

// jobs spools one SMS job per text for dev and returns their keys by text.
func jobs(t *testing.T, a *Agent, dev string, texts ...string) map[string]paging.ID {
	t.Helper()
	keys := map[string]paging.ID{}
	for _, text := range texts {
		keys[text] = spoolSMS(t, a, dev, "+4915112345678", text)
	}
	return keys
}

// pageTexts are n distinct message texts, tagged so that a log line
// quoting one is found.
func pageTexts(tag string, n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("PHI %s %d: bed 12 ward 4W, Mr Example, call 2231", tag, i))
	}
	return out
}

// allResults waits until every job has its result and returns them.
func allResults(t *testing.T, a *Agent, keys map[string]paging.ID) map[paging.ID]agentapi.Result {
	t.Helper()
	var got map[paging.ID]agentapi.Result
	eventually(t, fmt.Sprintf("%d results", len(keys)), func() bool {
		got = results(t, a)
		for _, k := range keys {
			if _, ok := got[k]; !ok {
				return false
			}
		}
		return true
	})
	return got
}

// sentOnce waits for every job's result and checks that each was sent,
// went out exactly once across mods, and carries the reference its modem
// gave it (a late OK taken for the send's answer would have none). resent
// names the texts whose first run's outcome was unknown.
func sentOnce(t *testing.T, a *Agent, keys map[string]paging.ID, resent map[string]bool, mods ...*sim.Modem) {
	t.Helper()
	got := allResults(t, a, keys)
	for text, k := range keys {
		r := got[k]
		var out []sim.SentMessage
		for _, m := range mods {
			for _, msg := range m.Messages() {
				if msg.Text == text {
					out = append(out, msg)
				}
			}
		}
		name := strings.Fields(text)[2] // the number, not the text
		if len(out) != 1 {
			t.Errorf("message %s went out %d times", name, len(out))
			continue
		}
		if r.Outcome != agentapi.OutcomeSent || r.Code != fmt.Sprintf("+CMGS: %d", out[0].MR) {
			t.Errorf("message %s: result %s %q, modem gave +CMGS: %d", name, r.Outcome, r.Code, out[0].MR)
		}
		if r.Resent != resent[text] || strings.HasPrefix(r.Note, "outcome unknown, re-sent") != resent[text] {
			t.Errorf("message %s: resent %v, note %q; want resent %v", name, r.Resent, r.Note, resent[text])
		}
	}
}

// noPHI checks that no text (or PIN) reached the log or a device's
// status, and that there was a log at all.
func noPHI(t *testing.T, a *Agent, logs *logBuf, secrets ...string) {
	t.Helper()
	l := logs.String()
	if l == "" {
		t.Fatal("nothing logged: the check below would prove nothing")
	}
	for _, id := range a.order {
		l += "\n" + a.devices[id].status().Error
	}
	for _, s := range secrets {
		if strings.Contains(l, s) {
			t.Errorf("log or status holds a secret (%d characters)", len(s))
		}
	}
}

func secrets(texts []string, more ...string) []string {
	return append(append([]string(nil), texts...), more...)
}

// A late OK after a timeout, on an init command and on a health poll: the
// engine resynchronises, the commands after it get their own answers, the
// session goes on (one open of the line), and the SMS sent afterwards go
// out once, each with its own +CMGS reference.
func TestModemFaultLateOK(t *testing.T) {
	t.Parallel()
	t.Run("init", func(t *testing.T) {
		t.Parallel()
		mod := simModem(t, sim.ModemOptions{Name: "m"})
		// init's AT waits 2 s: its OK comes at 3 s.
		if err := mod.LateOK(waitCtx(t), 1, 3*time.Second); err != nil {
			t.Fatal(err)
		}
		a, logs := faultAgent(t, modemDev("m", mod, ""))
		runModems(t, a, "m")
		ready(t, a, "m")
		if count(mod.Received(), "AT+CMEE?\r") == 0 {
			t.Fatal("no resync probe: the late OK did not make the AT time out")
		}
		texts := pageTexts("late-init", 2)
		sentOnce(t, a, jobs(t, a, "m", texts...), nil, mod)
		if n := a.devices["m"].line.Stats().Opens; n != 1 {
			t.Errorf("line opened %d times; a late OK needs no reopen", n)
		}
		noPHI(t, a, logs, texts...)
	})
	t.Run("poll", func(t *testing.T) {
		t.Parallel()
		mod := simModem(t, sim.ModemOptions{Name: "m", RSSI: 17})
		dc := modemDev("m", mod, "")
		dc.PollInterval = Duration{Duration: time.Second}
		a, logs := faultAgent(t, dc)
		runModems(t, a, "m")
		ready(t, a, "m")
		mark := len(mod.Received())
		// A poll's command waits 5 s: its OK comes at 6 s.
		if err := mod.LateOK(waitCtx(t), 1, 6*time.Second); err != nil {
			t.Fatal(err)
		}
		mark = received(t, mod, mark, "AT+CMEE?\r") // the resync probe
		received(t, mod, mark, "AT+COPS?\r")        // and a poll after it
		texts := pageTexts("late-poll", 3)
		sentOnce(t, a, jobs(t, a, "m", texts...), nil, mod)
		if !bytes.Contains(mod.Sent(), []byte("\r\n+CMEE: 1\r\n\r\nOK\r\n")) {
			t.Error("the probe was not answered")
		}
		st := a.devices["m"].status()
		if st.State != agentapi.DeviceReady || st.Signal != 17 || st.Registration != "home" || st.Operator != "Pagebridge" {
			t.Errorf("status after the late OK %+v", st)
		}
		if n := a.devices["m"].line.Stats().Opens; n != 1 {
			t.Errorf("line opened %d times; a late OK needs no reopen", n)
		}
		noPHI(t, a, logs, texts...)
	})
}

// A URC between a reply's information and its OK (a +CMTI for an SMS
// just stored), in a send's reply and in a health poll's: the send still
// succeeds with its own reference, the SMS is read, spooled exactly once
// and deleted from the modem.
func TestModemFaultURCMidReply(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		poll bool
	}{{"send", false}, {"poll", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mod := simModem(t, sim.ModemOptions{Name: "m", RSSI: 17})
			dc := modemDev("m", mod, "")
			if tc.poll {
				dc.PollInterval = Duration{Duration: time.Second}
			} // else the next command is the send's: no poll for 30 s
			a, logs := faultAgent(t, dc)
			runModems(t, a, "m")
			ready(t, a, "m")
			in := "PHI inbound: Mr Example's potassium is 6.8, please call"
			if _, err := mod.Deliver(waitCtx(t), sim.Inbound{From: "+4917099887766", Text: in, MidReply: true}); err != nil {
				t.Fatal(err)
			}
			texts := pageTexts("midreply-"+tc.name, 2)
			keys := map[string]paging.ID{}
			if !tc.poll {
				keys = jobs(t, a, "m", texts[0])
			}
			eventually(t, "the SMS spooled", func() bool { _, sms := spooled(t, a); return len(sms) > 0 })
			// Information, the URC, then the final result: in the send's
			// reply, or (no send yet) a poll's.
			mid := "\r\n\r\n+CMTI: \"SM\",1\r\n\r\nOK\r\n"
			if !tc.poll {
				mid = "\r\n+CMGS: 1" + mid
			}
			if !bytes.Contains(mod.Sent(), []byte(mid)) {
				t.Fatalf("the +CMTI did not come inside the %s's reply", tc.name)
			}
			for text, k := range jobs(t, a, "m", texts[1]) { // a command round trip after the read
				keys[text] = k
			}
			sentOnce(t, a, keys, nil, mod)
			received(t, mod, 0, "AT+CMGD=1\r")
			if _, sms := spooled(t, a); len(sms) != 1 || string(sms[0].Text) != in || sms[0].From != "+4917099887766" {
				t.Errorf("spooled %d SMS, want the one", len(sms))
			}
			if st := a.devices["m"].status(); st.Signal != 17 || st.Registration != "home" {
				t.Errorf("health %+v", st)
			}
			noPHI(t, a, logs, secrets(texts, in)...)
		})
	}
}

// A burst of +CMS ERROR: 500 (the network refused, typically weak
// signal): those jobs fail for now with the code, nothing of them is sent,
// the next job goes out, and the modem is neither reset nor reopened.
func TestModemFaultCMSErrorBurst(t *testing.T) {
	t.Parallel()
	mod := simModem(t, sim.ModemOptions{Name: "m", SendLatency: 50 * time.Millisecond})
	a, logs := faultAgent(t, modemDev("m", mod, ""))
	runModems(t, a, "m")
	ready(t, a, "m")
	if err := mod.FailSends(waitCtx(t), 3, 500); err != nil {
		t.Fatal(err)
	}
	texts := pageTexts("cms", 4)
	keys := jobs(t, a, "m", texts...)
	got := allResults(t, a, keys)
	for _, text := range texts[:3] {
		if r := got[keys[text]]; r.Outcome != agentapi.OutcomeFailTemp || r.Code != "+CMS ERROR: 500" || r.Resent {
			t.Errorf("refused job: %s %q resent %v", r.Outcome, r.Code, r.Resent)
		}
	}
	sentOnce(t, a, map[string]paging.ID{texts[3]: keys[texts[3]]}, nil, mod)
	if n := len(mod.Messages()); n != 1 {
		t.Errorf("%d messages went out, want the one not refused", n)
	}
	if n := a.devices["m"].line.Stats().Opens; n != 1 || count(mod.Received(), "AT+CFUN=1,1") != 0 {
		t.Errorf("line opened %d times, or the modem was reset, for refused sends", n)
	}
	noPHI(t, a, logs, texts...)
}

// The port vanishes (a USB modem pulled) and returns: between sends,
// while a send waits for its "> " prompt, and after a send's PDU was
// written. Each time the line reopens and the modem is initialised again;
// the job not yet written goes out once as a plain send, the one whose
// PDU was written goes again as "outcome unknown, re-sent".
func TestModemFaultUnplugged(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		opts   sim.ModemOptions
		until  string // what the modem must have got before it is pulled
		resent bool
	}{
		{"between sends", sim.ModemOptions{}, "", false},
		{"before the PDU", sim.ModemOptions{CommandLatency: map[string]time.Duration{"+CMGS": 2 * time.Second}}, "AT+CMGS=", false},
		{"after the PDU", sim.ModemOptions{SendLatency: 2 * time.Second}, "\x1a", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.opts.Name = "m"
			mod := simModem(t, tc.opts)
			a, logs := faultAgent(t, modemDev("m", mod, ""))
			runModems(t, a, "m")
			ready(t, a, "m")
			texts := pageTexts("unplug", 2)
			keys := jobs(t, a, "m", texts[0])
			if tc.until != "" {
				received(t, mod, 0, tc.until)
			} else {
				sentOnce(t, a, keys, nil, mod)
			}
			if err := mod.Unplug(); err != nil {
				t.Fatal(err)
			}
			notReady(t, a, "m")
			if tc.until == "" {
				for text, k := range jobs(t, a, "m", texts[1]) { // queued while the modem is away
					keys[text] = k
				}
			}
			if err := mod.Plug(); err != nil {
				t.Fatal(err)
			}
			ready(t, a, "m")
			sentOnce(t, a, keys, map[string]bool{texts[0]: tc.resent}, mod)
			if n := count(mod.Received(), "AT+CMGF=0\r"); n != 2 {
				t.Errorf("modem initialised %d times, want 2", n)
			}
			if n := a.devices["m"].line.Stats().Opens; n != 2 {
				t.Errorf("line opened %d times, want 2", n)
			}
			noPHI(t, a, logs, texts...)
		})
	}
}

// A modem that stops answering: the engine's resync finds it silent, the
// driver resets it (AT+CFUN=1,1) and, when it takes that, initialises it
// again once it has rebooted; when it does not, the line is reopened and
// the modem comes back once power-cycled. The job that met the silent
// modem (no prompt: not sent) and those queued meanwhile go out once,
// none as re-sent.
func TestModemFaultHang(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		answersReset bool
	}{{"answers the reset", true}, {"power cycled", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mod := simModem(t, sim.ModemOptions{Name: "m", RebootTime: time.Second, BootURCs: []string{"RDY", "SMS Ready"}})
			dc := modemDev("m", mod, "")
			dc.PollInterval = Duration{Duration: time.Second}
			a, logs := faultAgent(t, dc)
			runModems(t, a, "m")
			ready(t, a, "m")
			texts := pageTexts("hang", 3)
			sentOnce(t, a, jobs(t, a, "m", texts[0]), nil, mod)
			if err := mod.Hang(waitCtx(t), tc.answersReset); err != nil {
				t.Fatal(err)
			}
			keys := jobs(t, a, "m", texts[1:]...)
			received(t, mod, 0, "AT+CFUN=1,1\r")
			if !tc.answersReset {
				eventually(t, "the reset given up", func() bool {
					return strings.Contains(logs.String(), "reset not answered")
				})
				if err := mod.Unplug(); err != nil {
					t.Fatal(err)
				}
				if err := mod.Plug(); err != nil {
					t.Fatal(err)
				}
			}
			sentOnce(t, a, keys, nil, mod)
			if l := logs.String(); !strings.Contains(l, "does not answer after a timeout") || !strings.Contains(l, "not answering; resetting it") {
				t.Error("the engine's verdict (unresponsive) and the reset are not in the log")
			}
			if n := count(mod.Received(), "AT+CFUN=1,1\r"); n != 1 {
				t.Errorf("modem reset %d times, want once", n)
			}
			noPHI(t, a, logs, texts...)
		})
	}
}

// A pool of two modems loses one (it hangs, or is pulled while a send
// waits for the network): the other sends all of the pool's jobs; none is
// lost, none goes out twice; the one whose PDU the lost modem had taken is
// reported "outcome unknown, re-sent".
func TestModemFaultPoolFailover(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		hang bool
	}{{"one hangs", true}, {"one unplugged mid-send", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := sim.ModemOptions{SendLatency: time.Second}
			opts.Name = "a"
			modA := simModem(t, opts)
			opts.Name = "b"
			modB := simModem(t, opts)
			a, logs := faultAgent(t, modemDev("a", modA, "sms"), modemDev("b", modB, "sms"))
			runModems(t, a, "a", "b")
			ready(t, a, "a")
			ready(t, a, "b")
			if tc.hang {
				if err := modA.Hang(waitCtx(t), false); err != nil {
					t.Fatal(err)
				}
			}
			texts := pageTexts("pool", 6)
			keys := jobs(t, a, "sms", texts...)
			resent := map[string]bool{}
			if !tc.hang {
				received(t, modA, 0, "\x1a") // a send on its way through a
				if err := modA.Unplug(); err != nil {
					t.Fatal(err)
				}
			}
			got := allResults(t, a, keys)
			for text, k := range keys {
				resent[text] = got[k].Resent
			}
			sentOnce(t, a, keys, resent, modA, modB)
			n := 0
			for _, r := range resent {
				if r {
					n++
				}
			}
			if want := map[bool]int{true: 0, false: 1}[tc.hang]; n != want {
				t.Errorf("%d jobs re-sent as unknown, want %d", n, want)
			}
			if len(modA.Messages()) != 0 {
				t.Errorf("the lost modem sent %d messages", len(modA.Messages()))
			}
			noPHI(t, a, logs, texts...)
		})
	}
}

// A SIM that refuses the configured PIN: the PIN is entered once, never
// again as the line reopens (three wrong tries lock the SIM), the modem's
// status says so, and the PIN is in no log.
func TestModemFaultWrongPIN(t *testing.T) {
	t.Parallel()
	mod := simModem(t, sim.ModemOptions{Name: "m", SIMPIN: "4321"})
	dc := modemDev("m", mod, "")
	dc.SIMPIN = "9876"
	a, logs := faultAgent(t, dc)
	runModems(t, a, "m")
	eventually(t, "three sessions", func() bool { return a.devices["m"].line.Stats().Opens >= 3 })
	received(t, mod, len(mod.Received()), "AT+CPIN?\r") // the third asked the SIM
	if n := count(mod.Received(), "AT+CPIN=\""); n != 1 {
		t.Errorf("PIN entered %d times, want once", n)
	}
	if st := a.devices["m"].status(); st.SIM != simPINRefused || st.State == agentapi.DeviceReady {
		t.Errorf("status %+v", st)
	}
	noPHI(t, a, logs, "9876")
}

// A session that ends while jobs wait (its modem failed, or the session
// was cancelled as the engine died) hands back the jobs it took on its way
// out: they wait for the next session, or another modem of the pool.
func TestModemSessionEndKeepsQueuedJobs(t *testing.T) {
	a := testAgent(t, DeviceConfig{ID: "m", Kind: KindModem, Port: "/dev/pagebridge-test/m"})
	keys := give(t, a, "m", paging.PriorityHigh, "j1", "j2")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := a.devices["m"].runJobs(ctx, func(context.Context, *job) outcome {
		cancel() // the engine died as this job's send completed
		return sent("")
	})
	if err == nil {
		t.Fatal("runJobs went on after its ctx ended")
	}
	if r := results(t, a); len(r) != 1 || r[keys["j1"]].Outcome != agentapi.OutcomeSent {
		t.Fatalf("results %v", r)
	}
	j, ok := a.devices["m"].queue.TryPop()
	if !ok || j.key != keys["j2"] {
		t.Fatal("the job still waiting was lost from the queue")
	}
}
