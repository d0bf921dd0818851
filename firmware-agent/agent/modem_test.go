package agent

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/firmware-agent/sim"
	"pagebridge/gateway/paging"
	"pagebridge/storage"
)

// spoolSMS spools an SMS job for dev (a modem or a pool) and queues it.
func spoolSMS(t *testing.T, a *Agent, dev, to, text string) paging.ID {
	t.Helper()
	return queueJob(t, a, agentapi.Job{Device: dev, Priority: paging.PriorityHigh, Action: ActionSMSSend, To: to, Text: agentapi.Text(text), Attempt: 1})
}

// queueJob spools body as a job for its device and queues it there, as
// takeJobs does with a job from the bus, and returns its key.
func queueJob(t *testing.T, a *Agent, body agentapi.Job) paging.ID {
	t.Helper()
	key := paging.NewID(time.Now())
	p, err := agentapi.Encode(key, time.Now(), &body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.spool.AddJobs(context.Background(), []storage.SpoolJob{{Key: key, Device: body.Device, Priority: body.Priority, Payload: paging.NewPHI(string(p))}}); err != nil {
		t.Fatal(err)
	}
	a.devices[body.Device].queue.Push(body.Priority, &job{key: key, prio: body.Priority, body: body})
	return key
}

// spooled returns the agent's pending items for the gateway, decoded:
// results by job and outcome, SMS by text.
func spooled(t *testing.T, a *Agent) (results map[string][]agentapi.Outcome, sms []agentapi.SMS) {
	t.Helper()
	items, err := a.spool.PendingItems(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	results = map[string][]agentapi.Outcome{}
	for _, it := range items {
		switch it.Kind {
		case agentapi.KindResult:
			var r agentapi.Result
			if _, err := agentapi.Open([]byte(it.Payload.Reveal()), &r); err != nil {
				t.Fatal(err)
			}
			results[r.Job] = append(results[r.Job], r.Outcome)
		case agentapi.KindSMS:
			var m agentapi.SMS
			if _, err := agentapi.Open([]byte(it.Payload.Reveal()), &m); err != nil {
				t.Fatal(err)
			}
			sms = append(sms, m)
		}
	}
	return results, sms
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s", what)
		}
	}
}

// A modem in a pool on the simulated modem: the SIM unlocked with its PIN,
// an SMS job for the pool sent with a status report requested, its result
// and then its delivery report spooled for the gateway; a long SMS
// received is joined and spooled; the modem's health is in its status and
// the pool's.
func TestModemSendReceiveReport(t *testing.T) {
	mod, err := sim.NewModem(t.TempDir(), sim.ModemOptions{Name: "modem-1", SIMPIN: "4321", RSSI: 17})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mod.Close() })
	a := testAgent(t, DeviceConfig{ID: "modem-1", Kind: KindModem, Port: mod.Path(), Baud: 115200, SIMPIN: "4321", Pool: "sms"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.devices["modem-1"].run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	eventually(t, "the pool ready", func() bool { return a.devices["sms"].status().State == agentapi.DeviceReady })

	text := "Pagebridge: HIGH priority message from 4W nurse call. Open the app. Reply 1 or A 7Q2K to acknowledge."
	key := spoolSMS(t, a, "sms", "+4915112345678", text)
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := mod.WaitMessages(wctx, func(m []sim.SentMessage) bool { return len(m) >= 1 }); err != nil {
		t.Fatal(err)
	}
	m := mod.Messages()[0]
	if m.Number() != "+4915112345678" || m.Text != text || !m.SRR {
		t.Fatalf("sent %+v", m)
	}
	eventually(t, "the result and the delivery report", func() bool {
		r, _ := spooled(t, a)
		got := r[key.String()]
		// Either order: the report may overtake the send's own result
		// (the gateway takes both ways round).
		return len(got) == 2 && slices.Contains(got, agentapi.OutcomeSent) && slices.Contains(got, agentapi.OutcomeDelivered)
	})

	long := strings.Repeat("Running late, ", 20) + "sorry."
	if _, err := mod.Deliver(wctx, sim.Inbound{From: "+4915112345678", Text: long}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the long SMS spooled whole", func() bool {
		_, got := spooled(t, a)
		return len(got) == 1 && string(got[0].Text) == long && got[0].From == "+4915112345678" && got[0].Device == "modem-1"
	})
	st := a.devices["modem-1"].status()
	if st.Signal != 17 || st.Registration != "home" || st.SIM != "ready" || st.Operator == "" {
		t.Fatalf("modem health %+v", st)
	}
	if ps := a.devices["sms"].status(); ps.Kind != KindModemPool || ps.State != agentapi.DeviceReady || ps.Done != 1 {
		t.Fatalf("pool status %+v", ps)
	}
}

// A received SMS read again (a crash between spooling it and deleting it
// from the modem) has the same key, so the spool and the gateway take it
// once; another SMS does not.
func TestSMSKey(t *testing.T) {
	sent := time.Date(2026, 11, 27, 6, 30, 0, 0, time.UTC)
	now := sent.Add(time.Minute)
	k := smsKey("modem-1", "+4915112345678", paging.NewPHI("1"), sent, now)
	if again := smsKey("modem-1", "+4915112345678", paging.NewPHI("1"), sent, now.Add(time.Hour)); again != k {
		t.Fatalf("the same SMS read twice: %s and %s", k, again)
	}
	for _, other := range []paging.ID{
		smsKey("modem-1", "+4915112345678", paging.NewPHI("ACK"), sent, now),
		smsKey("modem-2", "+4915112345678", paging.NewPHI("1"), sent, now),
		smsKey("modem-1", "+4915187654321", paging.NewPHI("1"), sent, now),
		smsKey("modem-1", "+4915112345678", paging.NewPHI("1"), sent.Add(time.Second), now),
	} {
		if other == k {
			t.Fatalf("two SMS with one key %s", k)
		}
	}
	if k.Time() != uint64(sent.UnixMilli()) {
		t.Fatalf("key time %d, want the service centre's %d", k.Time(), sent.UnixMilli())
	}
	if a, b := smsKey("m", "x", paging.NewPHI("1"), time.Time{}, now), smsKey("m", "x", paging.NewPHI("1"), time.Time{}, now); a == b {
		t.Fatal("without a time stamp two SMS got one key")
	}
}
