package main

// End-to-end tests of the bus between the real gateway and the real agent
// processes, with simulated paging terminals on pty pairs and TAP senders
// over TCP, through the embedded broker and through a real Mosquitto: jobs
// one way and pages the other, with kill -9 of either daemon, a broker
// restart and a pty closed under a device. Nothing may be lost, and a job
// may reach a device twice only if it was in flight there when its agent
// lost it, which its result then says ("outcome unknown, re-sent").

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"pagebridge/firmware-agent/agent"
	"pagebridge/firmware-agent/agentapi"
	"pagebridge/firmware-agent/agentapi/link"
	"pagebridge/firmware-agent/serialport"
	"pagebridge/firmware-agent/sim"
	"pagebridge/firmware-agent/tap"
	"pagebridge/gateway/admin"
	"pagebridge/gateway/paging"
	"pagebridge/internal/peertest"
)

// agentBinary builds pagebridge-agent once, next to pagebridge.
func agentBinary(t *testing.T) string { return binary(t, "../firmware-agent", "pagebridge-agent") }

// busRig is a gateway, an agent, two simulated paging terminals and a TAP
// line senders connect to.
type busRig struct {
	t                  *testing.T
	root               string
	gwConf, agConf     string
	tapAddr            string
	terms              []*sim.PagingTerminal
	modems             []*sim.Modem
	mosq               *peertest.Mosquitto
	broker             string // the broker's URL
	gw, ag             *proc
	gwLog, agLog, sock string
	apiToken           string
}

const rigAgent = "agent-e2e"

func newBusRig(t *testing.T, external bool, mods ...func(*Config)) *busRig {
	t.Helper()
	return newRig(t, rigSpec{external: external, gateway: mods})
}

// rigSpec varies a busRig.
type rigSpec struct {
	external bool                // Mosquitto instead of the embedded broker
	gateway  []func(*Config)     // changes to the gateway's config
	agent    func(*agent.Config) // changes to the agent's config, last
	// terminals are the simulated paging terminals (devices term-1, …);
	// nil: two plain ones.
	terminals []sim.TerminalOptions
	// modems are simulated modems (devices modem-1, …) in the agent's
	// pool "sms", which the gateway sends SMS through.
	modems []sim.ModemOptions
}

func newRig(t *testing.T, spec rigSpec) *busRig {
	t.Helper()
	external, mods := spec.external, spec.gateway
	r := &busRig{t: t, root: t.TempDir()}
	r.gwLog = filepath.Join(r.root, "gateway.log")
	r.agLog = filepath.Join(r.root, "agent.log")
	r.sock = filepath.Join(r.root, "admin.sock")
	t.Cleanup(func() {
		if t.Failed() {
			for _, l := range []string{r.gwLog, r.agLog} {
				b, _ := os.ReadFile(l)
				if len(b) > 20000 {
					b = b[len(b)-20000:]
				}
				t.Logf("%s:\n%s", l, b)
			}
		}
	})
	dev := filepath.Join(r.root, "dev")
	os.MkdirAll(dev, 0o700)
	if spec.terminals == nil {
		spec.terminals = make([]sim.TerminalOptions, 2)
	}
	for i, opts := range spec.terminals {
		opts.Name = fmt.Sprintf("term-%d", i+1)
		term, err := sim.NewPagingTerminal(dev, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { term.Close() })
		r.terms = append(r.terms, term)
	}
	for i, opts := range spec.modems {
		opts.Name = fmt.Sprintf("modem-%d", i+1)
		mod, err := sim.NewModem(dev, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { mod.Close() })
		r.modems = append(r.modems, mod)
	}
	busAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(peertest.FreePort(t)))
	r.tapAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(peertest.FreePort(t)))

	gc := DefaultConfig()
	gc.Server.Listen = "127.0.0.1:0"
	gc.Storage.DataDir = filepath.Join(r.root, "data")
	gc.Storage.KeyFile = filepath.Join(r.root, "keys", "kek")
	gc.Storage.AuditKeyFile = filepath.Join(r.root, "keys", "audit-hmac")
	gc.Storage.CreateKeys = true
	gc.Admin.Socket = r.sock
	gc.Bus.Listen = busAddr
	gc.Bus.AckTimeout = Duration{Duration: 2 * time.Second}
	broker := "tcp://" + busAddr
	if external {
		r.mosq = peertest.StartMosquitto(t)
		gc.Bus.Embedded, gc.Bus.Broker = false, r.mosq.URL()
		broker = r.mosq.URL()
	}
	r.broker = broker
	if len(spec.modems) > 0 {
		gc.Routing.SMSDevice = rigAgent + "/sms"
	}
	for _, mod := range mods {
		mod(&gc)
	}
	r.gwConf = filepath.Join(r.root, "pagebridge.toml")
	if err := writeConfig(r.gwConf, gc); err != nil {
		t.Fatal(err)
	}

	ac := agent.DefaultConfig()
	ac.Agent = agent.AgentConfig{ID: rigAgent, DataDir: filepath.Join(r.root, "agent-data"),
		KeyFile: filepath.Join(r.root, "keys", "agent-kek"), CreateKey: true, BypassAfter: agent.Duration{Duration: 2 * time.Second}}
	ac.Bus.Broker = broker
	ac.Bus.AckTimeout = agent.Duration{Duration: 2 * time.Second}
	for i, term := range r.terms {
		ac.Devices = append(ac.Devices, agent.DeviceConfig{ID: fmt.Sprintf("term-%d", i+1), Kind: agent.KindPagingTerminal, Port: term.Path()})
	}
	for i, mod := range r.modems {
		ac.Devices = append(ac.Devices, agent.DeviceConfig{ID: fmt.Sprintf("modem-%d", i+1), Kind: agent.KindModem, Port: mod.Path(), Baud: 115200, Pool: "sms"})
	}
	ac.Devices = append(ac.Devices, agent.DeviceConfig{ID: "tap-in", Kind: agent.KindTAPLine, Port: "listen://" + r.tapAddr})
	if spec.agent != nil {
		spec.agent(&ac)
	}
	var b strings.Builder
	if err := toml.NewEncoder(&b).Encode(ac); err != nil {
		t.Fatal(err)
	}
	r.agConf = filepath.Join(r.root, "agent.toml")
	if err := os.WriteFile(r.agConf, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	r.startGateway()
	r.startAgent()
	return r
}

func (r *busRig) startGateway() {
	r.gw = startProc(r.t, "gateway", pagebridgeBinary(r.t), r.gwLog, containing("listening admin"), "serve", "-config", r.gwConf)
}

func (r *busRig) startAgent() {
	r.ag = startProc(r.t, "agent", agentBinary(r.t), r.agLog, containing("bus connected"), "-config", r.agConf)
}

// submit queues n test pages for device over the admin socket and
// returns their keys by text.
func (r *busRig) submit(device, text string, n int, prio string) map[string]string {
	r.t.Helper()
	resp, err := admin.Do(context.Background(), r.sock, admin.Request{Op: admin.OpTestPage, TestPage: &admin.TestPage{
		Agent: rigAgent, Device: device, To: "1002", Text: text, Count: n, Priority: prio}})
	if err != nil || !resp.OK {
		r.t.Fatalf("test-page: %v %s", err, resp.Error)
	}
	keys := strings.Fields(resp.Result)
	if len(keys) != n {
		r.t.Fatalf("test-page returned %d keys for %d pages", len(keys), n)
	}
	out := map[string]string{}
	for i, k := range keys {
		t := text
		if n > 1 {
			t = fmt.Sprintf("%s #%d", text, i+1)
		}
		out[t] = k
	}
	return out
}

// results waits until every job has a result and returns them by key.
func (r *busRig) results(keys []string, within time.Duration) map[string]string {
	r.t.Helper()
	deadline := time.Now().Add(within)
	for {
		out := map[string]string{}
		pending := 0
		for i := 0; i < len(keys); i += 1000 {
			resp, err := admin.Do(context.Background(), r.sock, admin.Request{Op: admin.OpJobResults, Jobs: keys[i:min(i+1000, len(keys))]})
			if err != nil || !resp.OK {
				r.t.Fatalf("job-results: %v %s", err, resp.Error)
			}
			for _, line := range strings.Split(strings.TrimSpace(resp.Result), "\n") {
				k, rest, _ := strings.Cut(line, " ")
				if rest == "pending" {
					pending++
				}
				out[k] = rest
			}
		}
		if pending == 0 {
			return out
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%d of %d jobs still without a result after %s", pending, len(keys), within)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// senders push n pages into the agent's TAP line from conc senders,
// each retried until the agent answers 211, as nurse call does. It
// returns the texts acknowledged and the attempts per text.
type senders struct {
	acked    sync.Map // text → true
	attempts sync.Map // text → *atomic.Int32
	done     chan struct{}
	count    atomic.Int64
}

func (r *busRig) startSenders(ctx context.Context, n, conc int) *senders {
	s := &senders{done: make(chan struct{})}
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c *tap.Client
			var conn net.Conn
			for {
				i := next.Add(1)
				if i > int64(n) {
					if conn != nil {
						c.Logoff(ctx)
						conn.Close()
					}
					return
				}
				text := fmt.Sprintf("inbound page %d", i)
				a := &atomic.Int32{}
				s.attempts.Store(text, a)
				for ctx.Err() == nil {
					if conn == nil {
						var err error
						if conn, err = net.DialTimeout("tcp", r.tapAddr, time.Second); err != nil {
							conn = nil
							time.Sleep(100 * time.Millisecond)
							continue
						}
						c = tap.NewClient(serialport.LineConn(conn, serialport.DefaultReadTimeout), tap.ClientConfig{ReplyWait: 5 * time.Second})
						if err := c.Logon(ctx); err != nil {
							conn.Close()
							conn = nil
							time.Sleep(100 * time.Millisecond)
							continue
						}
					}
					a.Add(1)
					_, err := c.Send(ctx, tap.Page{ID: "1002", Text: paging.NewPHI(text)})
					if err == nil {
						s.acked.Store(text, true)
						s.count.Add(1)
						break
					}
					conn.Close()
					conn = nil
				}
			}
		}()
	}
	go func() { wg.Wait(); close(s.done) }()
	return s
}

// received counts the pages each terminal took, by text.
func (r *busRig) received() map[string]int {
	out := map[string]int{}
	for _, term := range r.terms {
		for _, p := range term.Pages() {
			out[p.Text.Reveal()]++
		}
	}
	return out
}

func (r *busRig) receivedTotal() int {
	n := 0
	for _, term := range r.terms {
		n += len(term.Pages())
	}
	return n
}

// fault is what a test does to the rig while traffic is in flight.
type fault struct {
	name     string
	external bool
	// maxResent bounds the jobs re-sent as unknown: those a crashed agent
	// had marked in flight (one per terminal), or the one on a pty that
	// closed under it.
	maxResent int
	do        func(r *busRig)
}

func TestBusNothingLostThroughFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end fault tests: not in -short")
	}
	faults := []fault{
		{"agent kill -9/embedded", false, 2, func(r *busRig) { r.ag.kill(); r.startAgent() }},
		{"agent kill -9/mosquitto", true, 2, func(r *busRig) { r.ag.kill(); r.startAgent() }},
		{"gateway kill -9 (embedded broker with it)", false, 0, func(r *busRig) { r.gw.kill(); r.startGateway() }},
		{"gateway kill -9/mosquitto", true, 0, func(r *busRig) { r.gw.kill(); r.startGateway() }},
		{"mosquitto restart", true, 0, func(r *busRig) { r.mosq.Restart() }},
		{"pty closed under a device/embedded", false, 1, func(r *busRig) { unplugAWhile(t, r.terms[0]) }},
		{"pty closed under a device/mosquitto", true, 1, func(r *busRig) { unplugAWhile(t, r.terms[0]) }},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) { runFault(t, f) })
	}
}

func unplugAWhile(t *testing.T, term *sim.PagingTerminal) {
	if err := term.Unplug(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if err := term.Plug(); err != nil {
		t.Fatal(err)
	}
}

func runFault(t *testing.T, f fault) {
	const jobs, pages = 500, 500
	r := newBusRig(t, f.external)
	// Hold the jobs at the agent: the terminals are unplugged until all
	// are queued, so that they are in flight when the fault comes.
	for _, term := range r.terms {
		if err := term.Unplug(); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{} // text → key
	for i, dev := range []string{"term-1", "term-2"} {
		for k, v := range r.submit(dev, fmt.Sprintf("job %d", i), jobs/2, "normal") {
			want[k] = v
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, term := range r.terms {
		if err := term.Plug(); err != nil {
			t.Fatal(err)
		}
	}
	// The pages start once the jobs flow, and the fault strikes after a
	// random number of jobs done, while both directions are busy.
	deadline := time.Now().Add(60 * time.Second)
	for r.receivedTotal() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	s := r.startSenders(ctx, pages, 8)
	atJobs := 20 + rand.IntN(150)
	for r.receivedTotal() < atJobs && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	t.Logf("fault %q after %d pages on the terminals and %d inbound acknowledged", f.name, r.receivedTotal(), s.count.Load())
	f.do(r)

	select {
	case <-s.done:
	case <-ctx.Done():
		t.Fatalf("senders did not finish: %d of %d acknowledged", s.count.Load(), pages)
	}
	keys := make([]string, 0, len(want))
	for _, k := range want {
		keys = append(keys, k)
	}
	res := r.results(keys, 2*time.Minute)

	got := r.received()
	resent, dups := 0, 0
	for text, key := range want {
		line := res[key]
		if !strings.HasPrefix(line, "sent ") {
			t.Errorf("job %q: result %q, want sent", text, line)
			continue
		}
		isResent := strings.Contains(line, "resent=true")
		if isResent {
			resent++
		}
		switch n := got[text]; {
		case n == 0:
			t.Errorf("job %q: reported sent but no terminal received it", text)
		case n > 1:
			dups++
			if !isResent {
				t.Errorf("job %q reached a terminal %d times but its result does not say re-sent: %s", text, n, line)
			}
		}
	}

	if resent > f.maxResent {
		t.Errorf("%d jobs re-sent as unknown; at most %d can have been in flight on a device", resent, f.maxResent)
	}

	// Inbound: stop the agent once the gateway has everything, then the
	// gateway, and read the store.
	waitSpoolDrained(t, r)
	r.ag.stop()
	r.gw.stop()
	stored := storedTexts(t, r.root)
	acked := 0
	s.acked.Range(func(k, _ any) bool {
		acked++
		text := k.(string)
		n := stored[text]
		a, _ := s.attempts.Load(text)
		switch {
		case n == 0:
			t.Errorf("inbound %q was acknowledged (211) but is not in the gateway's store", text)
		case n > int(a.(*atomic.Int32).Load()):
			t.Errorf("inbound %q stored %d times from %d sends", text, n, a.(*atomic.Int32).Load())
		}
		return true
	})
	if acked != pages {
		t.Errorf("%d of %d inbound pages acknowledged", acked, pages)
	}
	t.Logf("%s: %d jobs, %d re-sent as unknown, %d reached a terminal twice; %d inbound pages acknowledged, %d stored",
		f.name, len(want), resent, dups, acked, len(stored))
}

// waitSpoolDrained waits until the agent's status says the gateway has
// acknowledged everything it spooled and no device has work left.
func waitSpoolDrained(t *testing.T, r *busRig) {
	t.Helper()
	client := httpClient(t, r.root, 1)
	for deadline := time.Now().Add(2 * time.Minute); !agentIdle(t, client, "https://"+r.httpsAddr()+"/api/v1/agents", r.token()); {
		if time.Now().After(deadline) {
			t.Fatal("agent still busy after 2 minutes")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// httpsAddr is the running gateway's HTTPS address, from its log.
// token returns an admin API token of the rig's gateway, made once over
// the admin socket (the store keeps it across restarts).
func (r *busRig) token() string {
	r.t.Helper()
	if r.apiToken == "" {
		resp, err := admin.Do(context.Background(), r.sock, admin.Request{Op: admin.OpTokenCreate, Token: &admin.Token{Name: "e2e", Role: "admin"}})
		if err != nil || !resp.OK {
			r.t.Fatalf("token create: %v %s", err, resp.Error)
		}
		r.apiToken = strings.Fields(resp.Result)[0]
	}
	return r.apiToken
}

func (r *busRig) httpsAddr() string {
	b, _ := os.ReadFile(r.gwLog)
	s := string(b)
	i := strings.LastIndex(s, "listening https ")
	if i < 0 {
		r.t.Fatal("gateway has not logged its HTTPS address")
	}
	addr, _, _ := strings.Cut(s[i+len("listening https "):], "\n")
	return addr
}

// TestBusBadPayloadsToDaemons publishes malformed payloads to the real
// daemons' topics: each is refused with a log line, both processes stay up,
// and a job and a page still go through afterwards.
func TestBusBadPayloadsToDaemons(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: not in -short")
	}
	for _, external := range []bool{false, true} {
		name := "embedded"
		if external {
			name = "mosquitto"
		}
		t.Run(name, func(t *testing.T) { badPayloadsToDaemons(t, external) })
	}
}

func badPayloadsToDaemons(t *testing.T, external bool) {
	r := newBusRig(t, external)
	key := func() string { return paging.NewID(time.Now()).String() }
	env := func(v int, kind, body string) []byte {
		return []byte(fmt.Sprintf(`{"v":%d,"key":%q,"sent":"2026-11-27T00:00:00Z","kind":%q,"body":%s}`, v, key(), kind, body))
	}
	job := agentapi.JobTopic(rigAgent, "term-1")
	cases := []struct {
		name, topic string
		payload     []byte
	}{
		{"garbage to the agent", job, []byte("\x00\xffgarbage")},
		{"invalid UTF-8 to the agent", job, env(1, "job", `{"device":"term-1","priority":"normal","action":"tap.page","to":"1","text":"\xff","attempt":1}`)},
		{"unknown version to the agent", job, env(2, "job", `{}`)},
		{"oversize to the agent", job, append([]byte(`{"v":1,"pad":"`), append(make([]byte, agentapi.MaxPayload), '"', '}')...)},
		{"unknown field in a job", job, env(1, "job", `{"device":"term-1","priority":"normal","action":"tap.page","to":"1","text":"x","attempt":1,"ward":"4W"}`)},
		{"job for another device on this topic", job, env(1, "job", `{"device":"term-2","priority":"normal","action":"tap.page","to":"1","text":"x","attempt":1}`)},
		{"ack without keys to the agent", agentapi.AckToAgentTopic(rigAgent), env(1, "ack", `{"keys":[]}`)},
		{"garbage to the gateway", agentapi.ResultTopic(rigAgent), []byte("{{{{")},
		{"result with an unknown outcome", agentapi.ResultTopic(rigAgent), env(1, "result", `{"job":"`+key()+`","device":"term-1","outcome":"maybe","at":"2026-11-27T00:00:00Z","attempt":1}`)},
		{"inbound with a bad priority", agentapi.InboundTopic(rigAgent), env(1, "inbound", `{"line":"tap-in","protocol":"tap","pager_id":"1","priority":"urgent","text":"x","received":"2026-11-27T00:00:00Z"}`)},
		{"status of another agent", agentapi.StatusTopic(rigAgent), env(1, "status", `{"agent":"someone-else","state":"online","version":"x"}`)},
		{"ack with a zero key to the gateway", agentapi.AckToGatewayTopic(rigAgent), env(1, "ack", `{"keys":["00000000000000000000000000"]}`)},
		{"empty batch to the agent", job, env(1, "batch", `{"items":[]}`)},
		{"batch of garbage to the gateway", agentapi.ResultTopic(rigAgent), env(1, "batch", `{"items":[1,"x",{}]}`)},
	}
	c, err := link.Open(link.Options{Broker: r.broker, ClientID: "e2e-bad-payloads", OnMessage: func(m link.Message) { m.Ack() }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(0)
	for deadline := time.Now().Add(30 * time.Second); !c.Connected(); {
		if time.Now().After(deadline) {
			t.Fatal("test client not connected to the broker")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, tc := range cases {
		if err := c.PublishWait(context.Background(), tc.topic, false, tc.payload); err != nil {
			t.Fatalf("%s: publish: %v", tc.name, err)
		}
	}
	// Both daemons log each refusal (throttled per topic/agent), and stay
	// up: a job and a page go through after the garbage.
	want := r.submit("term-1", "after the garbage", 1, "normal")
	conn, err := net.DialTimeout("tcp", r.tapAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	tc := tap.NewClient(serialport.LineConn(conn, serialport.DefaultReadTimeout), tap.ClientConfig{})
	if err := tc.Logon(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Send(context.Background(), tap.Page{ID: "1002", Text: paging.NewPHI("inbound after the garbage")}); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	res := r.results([]string{want["after the garbage"]}, time.Minute)
	if line := res[want["after the garbage"]]; !strings.HasPrefix(line, "sent ") {
		t.Fatalf("job after the garbage: %q", line)
	}
	waitSpoolDrained(t, r)
	for _, p := range []*proc{r.gw, r.ag} {
		select {
		case <-p.done:
			t.Fatalf("%s exited: %v", p.name, p.err)
		default:
		}
	}
	agLog, _ := os.ReadFile(r.agLog)
	gwLog, _ := os.ReadFile(r.gwLog)
	if n := strings.Count(string(agLog), "bus payload rejected"); n < 2 {
		t.Errorf("agent logged %d rejections, want the first of each topic at least", n)
	}
	if n := strings.Count(string(gwLog), "bus payload rejected"); n < 1 {
		t.Errorf("gateway logged %d rejections", n)
	}
	r.ag.stop()
	r.gw.stop()
	if got := storedTexts(t, r.root)["inbound after the garbage"]; got != 1 {
		t.Errorf("the page after the garbage is stored %d times, want once", got)
	}
	for text := range storedTexts(t, r.root) {
		if text == "x" {
			t.Error("a refused inbound payload was stored")
		}
	}
}
