package agent

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/firmware-agent/pocsag"
	"pagebridge/firmware-agent/pocsag/pocsagtest"
	"pagebridge/gateway/paging"
	"pagebridge/storage"
)

func TestTransmitterConfig(t *testing.T) {
	const tx = "[[device]]\nid='tx1'\nkind='transmitter'\n"
	cases := []struct{ name, toml, wantErr string }{
		{"serial and aplay", tx + "port='/dev/ttyUSB0'\nptt_line='dtr'\nptt_active_low=true\naudio_command=['aplay','-q','-t','raw','-f','S16_LE','-c','1','-r','22050','-D','plughw:1,0']\nmodulation='fsk'\nkey_up='200ms'\ntail='80ms'\noutput_latency='100ms'\nmax_transmission='20s'\nduty_limit=0.25\nduty_window='10m'\ncritical_reserve='30s'\n", ""},
		{"file, nothing keyed", tx + "port='none'\naudio_file='/var/lib/pagebridge-agent/tx.raw'\n", ""},
		{"no port", tx + "audio_file='/tmp/tx.raw'\n", "device[0].port: required"},
		{"relative port", tx + "port='ttyUSB0'\naudio_file='/tmp/tx.raw'\n", "device[0].port: want an absolute"},
		{"no audio", tx + "port='/dev/ttyUSB0'\n", "device[0].audio_command: required"},
		{"both audio", tx + "port='/dev/ttyUSB0'\naudio_file='/tmp/a'\naudio_command=['aplay']\n", "audio_command and audio_file"},
		{"none with a player", tx + "port='none'\naudio_command=['aplay']\n", "only for audio_file"},
		{"none with a line", tx + "port='none'\naudio_file='/tmp/a'\nptt_line='rts'\n", "device[0].ptt_line and ptt_active_low"},
		{"relative file", tx + "port='none'\naudio_file='tx.raw'\n", "device[0].audio_file: must be an absolute"},
		{"empty program", tx + "port='/dev/x'\naudio_command=['']\n", "device[0].audio_command: the first word"},
		{"line", tx + "port='/dev/x'\naudio_file='/tmp/a'\nptt_line='cts'\n", "device[0].ptt_line: rts or dtr"},
		{"modulation", tx + "port='/dev/x'\naudio_file='/tmp/a'\nmodulation='am'\n", "device[0].modulation: nrz or fsk"},
		{"sample rate", tx + "port='/dev/x'\naudio_file='/tmp/a'\nsample_rate=4000\n", "device[0].sample_rate"},
		{"amplitude", tx + "port='/dev/x'\naudio_file='/tmp/a'\namplitude=1.5\n", "device[0].amplitude"},
		{"key_up", tx + "port='/dev/x'\naudio_file='/tmp/a'\nkey_up='1m'\n", "device[0].key_up"},
		{"max_transmission", tx + "port='/dev/x'\naudio_file='/tmp/a'\nmax_transmission='1s'\n", "device[0].max_transmission"},
		{"duty without window", tx + "port='/dev/x'\naudio_file='/tmp/a'\nduty_limit=0.1\n", "device[0].duty_window"},
		{"window without duty", tx + "port='/dev/x'\naudio_file='/tmp/a'\nduty_window='1h'\n", "only with duty_limit"},
		{"duty budget", tx + "port='/dev/x'\naudio_file='/tmp/a'\nduty_limit=0.01\nduty_window='10m'\n", "duty budget"},
		{"transmitter key on a terminal", "[[device]]\nid='t'\nkind='paging-terminal'\nport='/dev/x'\nkey_up='1s'\n", "are for transmitter devices"},
		{"priority on a transmitter", tx + "port='none'\naudio_file='/tmp/a'\npriority='high'\n", "for tap-line and espa-line"},
	}
	for _, c := range cases {
		p := filepath.Join(t.TempDir(), "agent.toml")
		os.WriteFile(p, []byte(c.toml), 0o600)
		cfg, err := LoadConfig(p)
		if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("%s: err %v, want %q", c.name, err, c.wantErr)
		}
		if c.name == "file, nothing keyed" && err == nil && cfg.Devices[0].MaxInFlight != defaultTxInFlight {
			t.Errorf("max_in_flight %d, want %d", cfg.Devices[0].MaxInFlight, defaultTxInFlight)
		}
	}
}

// pocsagJob spools a pocsag.page job for dev and queues it.
func pocsagJob(t *testing.T, a *Agent, dev, capcode string, prio paging.Priority, p agentapi.POCSAG, text string) paging.ID {
	t.Helper()
	key := paging.NewID(time.Now())
	payload, err := agentapi.Encode(key, time.Now(), &agentapi.Job{Device: dev, Priority: prio, Action: ActionPOCSAGPage,
		To: capcode, Text: agentapi.Text(text), Attempt: 1, POCSAG: &p})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.spool.AddJobs(context.Background(), []storage.SpoolJob{{Key: key, Device: dev, Priority: prio,
		Payload: paging.NewPHI(string(payload))}}); err != nil {
		t.Fatal(err)
	}
	j, err := decodeJob(storage.SpoolJob{Key: key, Payload: paging.NewPHI(string(payload))})
	if err != nil {
		t.Fatal(err)
	}
	a.devices[dev].queue.Push(j.prio, j)
	return key
}

// waitResults waits until the spool holds n results and returns them by
// job key.
func waitResults(t *testing.T, a *Agent, n int) map[string]agentapi.Result {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		_, results := espaSpooled(t, a)
		if len(results) >= n {
			out := map[string]agentapi.Result{}
			for _, r := range results {
				out[r.Job] = r
			}
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d results after a minute: %+v", len(results), n, results)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A transmitter device with its audio in a file: pocsag.page jobs go on
// air packed, each result "sent" once its page was on air; a job the
// encoder cannot send fails for good; the audio decodes to the pages; the
// device's status carries the scheduler's figures.
func TestTransmitterDevice(t *testing.T) {
	audio := filepath.Join(t.TempDir(), "tx.raw")
	a := testAgent(t, DeviceConfig{ID: "tx1", Kind: KindTransmitter, Port: PTTNone, AudioFile: audio,
		KeyUp: Duration{Duration: 20 * time.Millisecond}, Tail: Duration{Duration: 10 * time.Millisecond}, MaxInFlight: 8})
	d := a.devices["tx1"]
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	alpha := agentapi.POCSAG{Rate: 2400, Function: 3, Kind: "alpha"}
	want := map[uint32]string{}
	var keys []paging.ID
	for i, text := range []string{"Bed 4 needs you", "Zimmer 12: Schmerzmittel", "Rm 402 call bell", "Lab result ready", "Porter to ED", "Theatre 3 ready", "Ward round 11:00", "Drug chart 7B", "Bed 9 IV pump", "Pharmacy call"} {
		ric := uint32(1200000 + 11*i)
		want[ric] = string(pocsag.ASCII(paging.NewPHI(text)).Reveal())
		keys = append(keys, pocsagJob(t, a, "tx1", itoa(ric), paging.PriorityNormal, alpha, text))
	}
	bad := pocsagJob(t, a, "tx1", "4000000", paging.PriorityNormal, alpha, "capcode out of range")
	results := waitResults(t, a, len(keys)+1)
	for _, k := range keys {
		if r := results[k.String()]; r.Outcome != agentapi.OutcomeSent || r.Code != "on-air" {
			t.Errorf("job %s: %+v", k, r)
		}
	}
	if r := results[bad.String()]; r.Outcome != agentapi.OutcomeFailPerm || !strings.Contains(r.Note, "capcode") {
		t.Errorf("out-of-range capcode: %+v", r)
	}
	st := d.status()
	if st.AirTime == nil || st.AirTime.Transmissions == 0 || st.AirTime.Window == 0 || st.Done != uint64(len(keys)) {
		t.Fatalf("status %+v air time %+v", st, st.AirTime)
	}
	if jobs, _ := a.spool.Jobs(context.Background()); len(jobs) != 0 {
		t.Errorf("%d jobs left in the spool", len(jobs))
	}

	pcm, err := os.ReadFile(audio)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := pocsagtest.Decode(pocsagtest.SliceNRZ(pcm, pocsag.DefaultSampleRate, pocsag.Rate2400, false))
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint32]string{}
	for _, m := range msgs {
		got[m.RIC] = m.Alpha()
	}
	for ric, text := range want {
		if got[ric] != text {
			t.Errorf("capcode %d: decoded %q, want %q", ric, got[ric], text)
		}
	}
	if len(msgs) != len(want) {
		t.Errorf("%d pages decoded, want %d", len(msgs), len(want))
	}
}

// Stopped in the middle of a transmission, the transmitter loses no page:
// each is sent (a result), or back in the spool (not started, or in
// flight if it may have gone out), never more in flight than
// max_in_flight; run again as after a restart, every page goes out once,
// and only those left in flight say their outcome was unknown.
func TestTransmitterStopKeepsJobs(t *testing.T) {
	audio := filepath.Join(t.TempDir(), "tx.raw")
	a := testAgent(t, DeviceConfig{ID: "tx1", Kind: KindTransmitter, Port: PTTNone, AudioFile: audio,
		KeyUp: Duration{Duration: 10 * time.Millisecond}, Tail: Duration{Duration: 10 * time.Millisecond}, MaxInFlight: 4})
	d := a.devices["tx1"]
	slow := agentapi.POCSAG{Rate: 1200, Function: 3, Kind: "alpha"}
	const n = 8
	for i := range n {
		pocsagJob(t, a, "tx1", itoa(uint32(800+i)), paging.PriorityNormal, slow, "A page long enough to take a while at 1200 bit/s")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.run(ctx) }()
	// Stop once the first transmission is under way.
	deadline := time.Now().Add(time.Minute)
	for d.status().AirTime == nil || !d.status().AirTime.Transmitting {
		if time.Now().After(deadline) {
			t.Fatal("no transmission started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	jobs, err := a.spool.Jobs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, results := espaSpooled(t, a)
	running := 0
	for _, j := range jobs {
		if j.Running {
			running++
		}
	}
	t.Logf("stopped: %d sent, %d in flight, %d waiting", len(results), running, len(jobs)-running)
	if len(results)+len(jobs) != n {
		t.Fatalf("%d results and %d jobs for %d pages", len(results), len(jobs), n)
	}
	if running > 4 {
		t.Errorf("%d jobs in flight, more than max_in_flight 4", running)
	}

	// Run again, as after a restart: the spool's jobs are restored.
	for {
		if _, ok := d.queue.TryPop(); !ok {
			break
		}
	}
	if err := a.restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	done2 := make(chan struct{})
	go func() { defer close(done2); d.run(ctx2) }()
	t.Cleanup(func() { cancel2(); <-done2 })
	final := waitResults(t, a, n)
	unknown := 0
	for _, r := range final {
		if r.Outcome != agentapi.OutcomeSent {
			t.Errorf("result %+v", r)
		}
		if r.Resent {
			unknown++
		}
	}
	if unknown != running {
		t.Errorf("%d results say outcome unknown, %d were in flight", unknown, running)
	}
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }
