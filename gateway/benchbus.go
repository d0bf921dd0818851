package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"pagebridge/firmware-agent/agent"
	"pagebridge/firmware-agent/agentapi"
	"pagebridge/firmware-agent/agentapi/link"
	"pagebridge/firmware-agent/sim"
	"pagebridge/gateway/agentbus"
	"pagebridge/gateway/broker"
	"pagebridge/gateway/paging"
	"pagebridge/storage"
)

// targetBus is the job round trip target: job → agent → device → result,
// both spools committing, on a 2-core machine (Mosquitto alone moves about
// 19,000 QoS 1 messages/s there; reference/storage-figures.md).
const targetBus = 5000.0

type busResult struct {
	rate           float64
	p50, p99, max  time.Duration
	notSent        int64
	gwOpsPerCommit float64
}

// benchBus measures the bus round trip in one process: the gateway's store
// and bridge, the embedded broker, an agent with its spool, and simulated
// paging terminals on ptys that accept every page at once. window jobs are
// kept outstanding; each job's latency runs from Submit (the outbox
// commit) to the gateway's commit of its result.
// busBench configures benchBus.
type busBench struct {
	kind                      string // device kind: loopback or paging-terminal
	devices, inFlight, window int
	linger                    time.Duration // the gateway store's commit linger
	agentLinger               time.Duration // the agent spool's
	verbose                   bool          // print the pipeline's counters as it runs
}

// benchGateway opens a fresh store in dataDir (keys created in keyDir,
// commits lingering linger) and an embedded broker on a free loopback
// port: the gateway's side of the bus benches.
func benchGateway(dataDir, keyDir string, linger time.Duration, log *slog.Logger) (*storage.Store, *broker.Broker, error) {
	sc := DefaultConfig().Storage
	sc.DataDir = dataDir
	sc.KeyFile = filepath.Join(keyDir, "kek")
	sc.AuditKeyFile = filepath.Join(keyDir, "audit-hmac")
	sc.CreateKeys = true
	sc.CommitLinger.Duration = linger
	if err := os.MkdirAll(sc.DataDir, 0o700); err != nil {
		return nil, nil, err
	}
	store, err := openStore(sc, log)
	if err != nil {
		return nil, nil, err
	}
	brk, err := broker.Start(broker.Options{Listen: "127.0.0.1:0", Logger: log})
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return store, brk, nil
}

func benchBus(ctx context.Context, dir string, o busBench, d time.Duration) (busResult, error) {
	kind, devices, inFlight, window := o.kind, o.devices, o.inFlight, o.window
	quiet := slog.New(slog.DiscardHandler)
	store, brk, err := benchGateway(filepath.Join(dir, "bus-gw"), filepath.Join(dir, "keys"), o.linger, quiet)
	if err != nil {
		return busResult{}, err
	}
	defer store.Close()
	defer brk.Close()

	var (
		marks   sync.Map // job key → start or end mark
		lat     []time.Duration
		latMu   sync.Mutex
		measure atomic.Bool
		notSent atomic.Int64
		tokens  = make(chan struct{}, window)
	)
	type start struct{ t time.Time }
	type end struct{ t time.Time }
	record := func(l time.Duration) {
		if measure.Load() {
			latMu.Lock()
			lat = append(lat, l)
			latMu.Unlock()
		}
	}
	var finished sync.Map // job key → true: a result sent again counts once
	sink := &benchSink{StoreSink: agentbus.StoreSink{Store: store}, done: func(r *agentapi.Result) {
		if _, again := finished.LoadOrStore(r.Job, true); again {
			return
		}
		if r.Outcome != agentapi.OutcomeSent {
			notSent.Add(1)
		}
		now := time.Now()
		if v, loaded := marks.LoadOrStore(r.Job, end{now}); loaded {
			marks.Delete(r.Job)
			if s, ok := v.(start); ok {
				record(now.Sub(s.t))
			}
		}
		<-tokens
	}}
	bridge, err := agentbus.Start(agentbus.Options{Link: link.Options{Broker: "tcp://" + brk.Addr(), ClientID: "bench-gateway"},
		Outbox: store, Sink: sink, Logger: quiet})
	if err != nil {
		return busResult{}, err
	}
	defer bridge.Close()

	devDir := filepath.Join(dir, "dev")
	os.MkdirAll(devDir, 0o700)
	cfg := agent.DefaultConfig()
	cfg.Agent = agent.AgentConfig{ID: "bench-agent", DataDir: filepath.Join(dir, "bus-agent"),
		KeyFile: filepath.Join(dir, "keys", "agent-kek"), CreateKey: true, CommitLinger: agent.Duration{Duration: o.agentLinger}}
	cfg.Bus.Broker = "tcp://" + brk.Addr()
	var ids []string
	for i := range devices {
		id := fmt.Sprintf("dev-%d", i)
		ids = append(ids, id)
		dc := agent.DeviceConfig{ID: id, Kind: kind, MaxInFlight: inFlight}
		if kind == agent.KindPagingTerminal {
			t, err := sim.NewPagingTerminal(devDir, sim.TerminalOptions{Name: id})
			if err != nil {
				return busResult{}, err
			}
			defer t.Close()
			dc.Port = t.Path()
		}
		cfg.Devices = append(cfg.Devices, dc)
	}
	ag, err := agent.New(cfg, agent.Options{Logger: quiet, Version: version})
	if err != nil {
		return busResult{}, err
	}
	actx, acancel := context.WithCancel(ctx)
	agDone := make(chan struct{})
	go func() { ag.Run(actx); close(agDone) }()
	defer func() { acancel(); <-agDone }()

	// Wait until the gateway sees every device ready.
	deadline := time.Now().Add(30 * time.Second)
	for !benchReady(bridge, devices) {
		if time.Now().After(deadline) {
			return busResult{}, errors.New("agent devices not ready within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}

	var (
		wg       sync.WaitGroup
		stop     atomic.Bool
		firstErr error
		errOnce  sync.Once
		n        atomic.Int64
	)
	worker := func() {
		defer wg.Done()
		for !stop.Load() {
			select {
			case tokens <- struct{}{}:
			case <-ctx.Done():
				return
			}
			i := n.Add(1)
			t0 := time.Now()
			key, err := bridge.Submit(ctx, "bench-agent", &agentapi.Job{Device: ids[int(i)%len(ids)], Priority: paging.PriorityNormal,
				Action: agent.ActionTAPPage, To: "1002", Text: agentapi.Text(fmt.Sprintf("bench page %d", i))})
			if err != nil {
				errOnce.Do(func() { firstErr = err })
				<-tokens
				return
			}
			if v, loaded := marks.LoadOrStore(key.String(), start{t0}); loaded {
				marks.Delete(key.String())
				if e, ok := v.(end); ok {
					record(e.t.Sub(t0))
				}
			}
		}
	}
	for range min(window, 64) {
		wg.Add(1)
		go worker()
	}
	if o.verbose {
		go func() {
			for !stop.Load() {
				time.Sleep(500 * time.Millisecond)
				st, as := bridge.Stats(), ag.Stats()
				q, done := 0, uint64(0)
				for _, d := range as.Devices {
					q += d.Queue
					done += d.Done
				}
				sp, gs := ag.Spool().CommitStats(), store.Stats()
				fmt.Fprintf(os.Stderr, "pub %d acked %d results %d inflight %d | agent recv %d queue %d done %d unacked %d | submitted %d | spool commits %d ops %d busy %v | gw commits %d ops %d busy %v\n",
					st.Published, st.Acked, st.Results, st.InFlight, as.Received, q, done, as.Unacked, n.Load(), sp.Commits, sp.Ops, sp.Busy.Round(time.Millisecond), gs.Commits, gs.Ops, gs.Busy.Round(time.Millisecond))
			}
		}()
	}
	time.Sleep(d / 5) // warm up: queues fill, batches settle
	before := store.Stats()
	measure.Store(true)
	t0 := time.Now()
	time.Sleep(d)
	measure.Store(false)
	el := time.Since(t0)
	after := store.Stats()
	stop.Store(true)
	wg.Wait()
	if firstErr != nil {
		return busResult{}, firstErr
	}
	latMu.Lock()
	defer latMu.Unlock()
	if len(lat) == 0 {
		return busResult{}, errors.New("no job completed")
	}
	slices.Sort(lat)
	r := busResult{rate: float64(len(lat)) / el.Seconds(), p50: lat[len(lat)/2], p99: lat[len(lat)*99/100],
		max: lat[len(lat)-1], notSent: notSent.Load()}
	if c := after.Commits - before.Commits; c > 0 {
		r.gwOpsPerCommit = float64(after.Ops-before.Ops) / float64(c)
	}
	return r, nil
}

func benchReady(b *agentbus.Bridge, devices int) bool {
	for _, a := range b.Agents() {
		ready := 0
		for _, d := range a.Devices {
			if d.State == agentapi.DeviceReady {
				ready++
			}
		}
		if a.State == "online" && ready == devices {
			return true
		}
	}
	return false
}

// benchSink is the store's sink with a hook after each result's commit.
type benchSink struct {
	agentbus.StoreSink
	done func(*agentapi.Result)
}

func (s *benchSink) Result(ctx context.Context, agent string, key paging.ID, r *agentapi.Result) error {
	if err := s.StoreSink.Result(ctx, agent, key, r); err != nil {
		return err
	}
	s.done(r)
	return nil
}
