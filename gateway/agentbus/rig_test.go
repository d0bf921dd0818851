package agentbus_test

// The rig of the in-process bus tests: a broker (the embedded one or a
// real Mosquitto), the gateway's store and Bridge, simulated paging
// terminals on pty pairs and an agent.Agent that owns them and a TAP line
// on a loopback port, all in this process. Tests wait on conditions with a
// deadline; the deadlines only bound a failure.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"pagebridge/firmware-agent/agent"
	"pagebridge/firmware-agent/agentapi"
	"pagebridge/firmware-agent/agentapi/link"
	"pagebridge/firmware-agent/serialport"
	"pagebridge/firmware-agent/sim"
	"pagebridge/firmware-agent/tap"
	"pagebridge/gateway/agentbus"
	"pagebridge/gateway/broker"
	"pagebridge/gateway/paging"
	"pagebridge/internal/peertest"
	"pagebridge/storage"
	"pagebridge/storage/storagetest"
)

// agentID is the rig's agent; its devices are term-1, term-2 (paging
// terminals) and tap-in (a TAP line senders connect to).
const agentID = "agent-1"

const ackTimeout = 2 * time.Second

// bus is a broker one subtest runs.
type bus struct {
	name string
	url  string // tcp://127.0.0.1:port
	addr string // 127.0.0.1:port
}

// eachBroker runs fn as a subtest against the embedded broker and against
// Mosquitto, each started for it on a free loopback port. The two run in
// parallel: they share nothing.
func eachBroker(t *testing.T, fn func(t *testing.T, b bus)) {
	t.Run("embedded", func(t *testing.T) {
		t.Parallel()
		bk, err := broker.Start(broker.Options{Listen: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { bk.Close() })
		fn(t, bus{name: "embedded", url: "tcp://" + bk.Addr(), addr: bk.Addr()})
	})
	t.Run("mosquitto", func(t *testing.T) {
		t.Parallel()
		m := peertest.StartMosquitto(t)
		fn(t, bus{name: "mosquitto", url: m.URL(), addr: m.Addr()})
	})
}

// rigOptions change the rig.
type rigOptions struct {
	// answers[i], if set, is how terminal term-<i+1> answers each page.
	answers []func(tap.Page) sim.Answer
	// agentBroker is the broker URL the agent dials (a proxy in front of
	// the bus); default the bus's.
	agentBroker string
}

type rig struct {
	t       *testing.T
	bus     bus
	store   *storage.Store
	bridge  *agentbus.Bridge
	terms   []*sim.PagingTerminal // term-1, term-2
	agent   *agent.Agent
	tapAddr string
	logs    *syncBuffer

	stopOnce sync.Once
	stopErr  error
	cancel   context.CancelFunc
	done     chan error
}

var terminalIDs = []string{"term-1", "term-2"}

// newRig starts the gateway's end and the agent and waits until the
// gateway sees the agent online with every device ready. Everything stops
// at the test's end, the agent first.
func newRig(t *testing.T, b bus, opts rigOptions) *rig {
	t.Helper()
	root := t.TempDir()
	r := &rig{t: t, bus: b, logs: &syncBuffer{}}
	log := slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs of the gateway's bus and the agent (tail):\n%s", r.logs.tail(16<<10))
		}
	})

	dev := filepath.Join(root, "dev")
	if err := os.MkdirAll(dev, 0o700); err != nil {
		t.Fatal(err)
	}
	for i, id := range terminalIDs {
		o := sim.TerminalOptions{Name: id}
		if i < len(opts.answers) {
			o.Answer = opts.answers[i]
		}
		term, err := sim.NewPagingTerminal(dev, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { term.Close() })
		r.terms = append(r.terms, term)
	}

	r.store = storagetest.MustOpen(t)
	var err error
	r.bridge, err = agentbus.Start(agentbus.Options{
		Link:       link.Options{Broker: b.url},
		Outbox:     r.store,
		Sink:       agentbus.StoreSink{Store: r.store},
		AckTimeout: ackTimeout,
		Logger:     log.With("side", "gateway"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.bridge.Close)

	cfg := agent.DefaultConfig()
	cfg.Agent = agent.AgentConfig{ID: agentID, DataDir: filepath.Join(root, "agent-data"),
		KeyFile: filepath.Join(root, "keys", "agent-kek"), CreateKey: true}
	cfg.Bus.Broker = b.url
	if opts.agentBroker != "" {
		cfg.Bus.Broker = opts.agentBroker
	}
	cfg.Bus.AckTimeout = agent.Duration{Duration: ackTimeout}
	for i, id := range terminalIDs {
		cfg.Devices = append(cfg.Devices, agent.DeviceConfig{ID: id, Kind: agent.KindPagingTerminal, Port: r.terms[i].Path()})
	}
	cfg.Devices = append(cfg.Devices, agent.DeviceConfig{ID: "tap-in", Kind: agent.KindTAPLine, Port: "listen://127.0.0.1:0"})
	r.agent, err = agent.New(cfg, agent.Options{Logger: log.With("side", "agent"), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- r.agent.Run(ctx) }()
	t.Cleanup(func() { r.stopAgent() })

	r.waitAgent(30*time.Second, "online with every device ready", func(h agentbus.AgentHealth) bool {
		return h.State == "online" && allReady(h)
	})
	r.tapAddr = r.agent.ListenAddr("tap-in")
	if r.tapAddr == "" {
		t.Fatal("tap-in is ready but has no address")
	}
	return r
}

// stopAgent stops the agent cleanly (once) and returns Run's error.
func (r *rig) stopAgent() error {
	r.stopOnce.Do(func() {
		r.cancel()
		select {
		case r.stopErr = <-r.done:
		case <-time.After(30 * time.Second):
			r.stopErr = errors.New("agent did not stop within 30s")
			r.t.Error(r.stopErr)
		}
	})
	return r.stopErr
}

func allReady(h agentbus.AgentHealth) bool {
	if len(h.Devices) != len(terminalIDs)+1 {
		return false
	}
	for _, d := range h.Devices {
		if d.State != agentapi.DeviceReady {
			return false
		}
	}
	return true
}

// health is what the gateway knows of the rig's agent.
func (r *rig) health() (agentbus.AgentHealth, bool) {
	for _, h := range r.bridge.Agents() {
		if h.ID == agentID {
			return h, true
		}
	}
	return agentbus.AgentHealth{}, false
}

// waitAgent waits until the gateway's view of the agent satisfies pred.
func (r *rig) waitAgent(within time.Duration, what string, pred func(agentbus.AgentHealth) bool) {
	r.t.Helper()
	waitFor(r.t, within, func() (bool, string) {
		h, ok := r.health()
		return ok && pred(h), fmt.Sprintf("gateway's view of the agent is not %s: %+v", what, h)
	})
}

// waitFor polls cond until it holds; after within the test fails with
// cond's description of what it saw.
func waitFor(t *testing.T, within time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, state)
		}
		<-tick.C
	}
}

// submit queues a page job for device through the gateway's outbox.
func (r *rig) submit(device, text string, prio paging.Priority) paging.ID {
	r.t.Helper()
	return r.submitJob(&agentapi.Job{Device: device, Priority: prio, Action: "tap.page", To: "1002", Text: agentapi.Text(text)})
}

func (r *rig) submitJob(j *agentapi.Job) paging.ID {
	r.t.Helper()
	key, err := r.bridge.Submit(context.Background(), agentID, j)
	if err != nil {
		r.t.Fatalf("submit: %v", err)
	}
	return key
}

// results waits until every job has a stored result and returns them.
func (r *rig) results(keys []paging.ID, within time.Duration) map[paging.ID]storage.JobResult {
	r.t.Helper()
	out := map[paging.ID]storage.JobResult{}
	waitFor(r.t, within, func() (bool, string) {
		for _, k := range keys {
			if _, ok := out[k]; ok {
				continue
			}
			res, err := r.store.JobResult(context.Background(), k)
			switch {
			case errors.Is(err, paging.ErrNotFound):
				continue
			case err != nil:
				r.t.Fatal(err)
			}
			out[k] = res
		}
		return len(out) == len(keys), fmt.Sprintf("%d of %d jobs have a result", len(out), len(keys))
	})
	return out
}

// allResults returns every result in the store.
func (r *rig) allResults() []storage.JobResult {
	r.t.Helper()
	res, err := r.store.JobResults(context.Background(), paging.ID{}, 1<<20)
	if err != nil {
		r.t.Fatal(err)
	}
	return res
}

// storedTexts counts the stored messages by text.
func (r *rig) storedTexts() map[string]int {
	r.t.Helper()
	out := map[string]int{}
	err := r.store.Messages(context.Background(), paging.AuditEvent{Actor: "test", Source: "agentbus_test"}, func(m *paging.Message) error {
		out[m.Text.Reveal()]++
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

// storedCount is the number of stored messages (no PHI read).
func (r *rig) storedCount() int {
	r.t.Helper()
	ids, err := r.store.MessageIDs(context.Background(), paging.ID{}, 1<<20)
	if err != nil {
		r.t.Fatal(err)
	}
	return len(ids)
}

// pagesByText counts the pages terminal i took, by text.
func (r *rig) pagesByText(i int) map[string]int {
	out := map[string]int{}
	for _, p := range r.terms[i].Pages() {
		out[p.Text.Reveal()]++
	}
	return out
}

// waitDrained waits until nothing is left anywhere: the agent's spool
// holds no job and no item for the gateway, its sender nothing unacked,
// and the gateway no job unacknowledged.
func (r *rig) waitDrained(within time.Duration) {
	r.t.Helper()
	waitFor(r.t, within, func() (bool, string) {
		st, err := r.agent.Spool().Stats(context.Background())
		if err != nil {
			r.t.Fatal(err)
		}
		as, bs := r.agent.Stats(), r.bridge.Stats()
		return st.Jobs == 0 && st.Running == 0 && st.Items == 0 && as.Unacked == 0 && bs.InFlight == 0,
			fmt.Sprintf("spool %+v, agent unacked %d, gateway in flight %d", st, as.Unacked, bs.InFlight)
	})
}

// sendPages pages texts into the agent's TAP line over TCP from conc
// senders, as nurse call does: each page is sent again (on a new
// connection) until the agent answers 211. It returns the sends of each
// page acknowledged.
func (r *rig) sendPages(ctx context.Context, texts []string, conc int) map[string]int {
	work := make(chan string, len(texts))
	for _, s := range texts {
		work <- s
	}
	close(work)
	var (
		mu    sync.Mutex
		sends = map[string]int{}
		wg    sync.WaitGroup
	)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var (
				conn net.Conn
				c    *tap.Client
			)
			defer func() {
				if conn != nil {
					c.Logoff(ctx)
					conn.Close()
				}
			}()
			for text := range work {
				n := 0
				for ctx.Err() == nil {
					if conn == nil {
						var err error
						if conn, err = net.DialTimeout("tcp", r.tapAddr, 5*time.Second); err != nil {
							conn = nil
							retryPause(ctx)
							continue
						}
						c = tap.NewClient(serialport.LineConn(conn, serialport.DefaultReadTimeout), tap.ClientConfig{ReplyWait: 5 * time.Second})
						if err := c.Logon(ctx); err != nil {
							conn.Close()
							conn = nil
							retryPause(ctx)
							continue
						}
					}
					n++
					if _, err := c.Send(ctx, tap.Page{ID: "1002", Text: paging.NewPHI(text)}); err == nil {
						mu.Lock()
						sends[text] = n
						mu.Unlock()
						break
					}
					conn.Close()
					conn = nil
				}
			}
		}()
	}
	wg.Wait()
	return sends
}

// retryPause is a sender's pause before it dials again.
func retryPause(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(50 * time.Millisecond):
	}
}

// rawClient connects a plain paho client to the bus, anonymously, as
// anyone on the broker could.
func rawClient(t *testing.T, b bus, id string) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(b.url).SetClientID(id).SetCleanSession(true).
		SetAutoReconnect(false).SetConnectTimeout(10 * time.Second)
	c := paho.NewClient(o)
	waitToken(t, c.Connect())
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func waitToken(t *testing.T, tok paho.Token) {
	t.Helper()
	if !tok.WaitTimeout(30 * time.Second) {
		t.Fatal("paho token not done within 30s")
	}
	if err := tok.Error(); err != nil {
		t.Fatal(err)
	}
}

// publish publishes payload at QoS 1 and waits for the broker's PUBACK.
func publish(t *testing.T, c paho.Client, topic string, payload []byte) {
	t.Helper()
	waitToken(t, c.Publish(topic, 1, false, payload))
}

// subscribe collects every message on filter.
func subscribe(t *testing.T, c paho.Client, filter string) *collector {
	t.Helper()
	col := &collector{}
	waitToken(t, c.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) {
		col.mu.Lock()
		col.msgs = append(col.msgs, bytes.Clone(m.Payload()))
		col.mu.Unlock()
	}))
	return col
}

type collector struct {
	mu   sync.Mutex
	msgs [][]byte
}

func (c *collector) all() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.msgs...)
}

// metrics gathers the Bridge's collector through a pedantic registry
// (which also checks that Collect matches Describe) and returns each
// sample by its name and sorted labels, as `name{k="v",…}`.
func metrics(t *testing.T, b *agentbus.Bridge) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(b); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(labels)
			v := m.GetGauge().GetValue()
			if m.GetCounter() != nil {
				v = m.GetCounter().GetValue()
			}
			out[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = v
		}
	}
	return out
}

// proxy forwards TCP connections to a target; cut drops every connection
// at once and stops accepting, as a broken network does, and resume
// accepts again on the same address.
type proxy struct {
	t      *testing.T
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	p := &proxy{t: t, target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			if p.ln != ln { // cut meanwhile
				p.mu.Unlock()
				c.Close()
				up.Close()
				return
			}
			p.conns[c], p.conns[up] = true, true
			p.mu.Unlock()
			p.wg.Add(2)
			pipe := func(dst, src net.Conn) {
				defer p.wg.Done()
				io.Copy(dst, src)
				dst.Close()
				src.Close()
			}
			go pipe(up, c)
			go pipe(c, up)
		}
	}()
}

// cut closes the listener and every connection, and waits until the
// proxy's goroutines are done.
func (p *proxy) cut() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
	p.mu.Unlock()
	p.wg.Wait()
}

// resume listens on the proxy's address again.
func (p *proxy) resume() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.serve(ln)
}

// syncBuffer is a log sink for both daemons' loggers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}
