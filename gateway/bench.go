package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"pagebridge/firmware-agent/agent"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"pagebridge/gateway/paging"
	"pagebridge/gateway/wctp"
	"pagebridge/storage"
)

// Targets the bench command prints its figures against. The ingest target
// is what Kannel accepts over HTTP on a 2-core machine without ever calling
// fsync (reference/storage-figures.md); ours is durable.
const targetIngest = 6000.0

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	short := fs.Bool("short", false, "a quick smoke run (CI): a few seconds instead of the full measurement")
	clients := fs.Int("clients", 64, "concurrent WCTP clients")
	dur := fs.Duration("duration", 10*time.Second, "measured ingest time")
	busDevices := fs.Int("bus-devices", 4, "devices for the bus round trip")
	busKind := fs.String("bus-kind", "loopback", "device kind for the bus round trip: loopback (completes at once, no line) or paging-terminal (simulated TAP terminals on ptys)")
	busInFlight := fs.Int("bus-in-flight", 32, "jobs each terminal is given at once (max_in_flight)")
	busWindow := fs.Int("bus-window", 512, "jobs kept outstanding in the bus round trip")
	linger := fs.Duration("linger", DefaultConfig().Storage.CommitLinger.Duration, "the gateway store's commit linger (storage.commit_linger)")
	agentLinger := fs.Duration("bus-agent-linger", agent.DefaultConfig().Agent.CommitLinger.Duration, "the agent spool's commit linger in the bus round trip (agent.commit_linger)")
	verbose := fs.Bool("v", false, "print the bus pipeline's counters as it runs")
	only := fs.String("only", "", "run one part: ingest, bus, routing, tap, sms, airtime or web (default: all)")
	under := fs.String("dir", "", "where the bench keeps its files (default: the system temp dir); /dev/shm takes the disk out of the figures")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	memProfile := fs.String("memprofile", "", "write an allocation profile of the run to this file")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return exitFailure
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return exitFailure
		}
		defer pprof.StopCPUProfile()
	}
	if *memProfile != "" {
		runtime.MemProfileRate = 64 << 10
		defer func() {
			if f, err := os.Create(*memProfile); err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	if *short {
		*dur = 2 * time.Second
	}
	dir, err := os.MkdirTemp(*under, "pagebridge-bench-")
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return exitFailure
	}
	defer os.RemoveAll(dir)

	if *only != "" && !slices.Contains([]string{"ingest", "bus", "routing", "tap", "sms", "airtime", "web"}, *only) {
		fmt.Fprintln(stderr, "bench: -only takes ingest, bus, routing, tap, sms, airtime or web")
		return exitUsage
	}
	verdict := func(ok bool) string {
		if ok {
			return "meets target"
		}
		return "BELOW TARGET"
	}
	fmt.Fprintf(stdout, "Pagebridge bench (%v measured per part, GOMAXPROCS %d)\n", *dur, runtime.GOMAXPROCS(0))
	fmt.Fprintf(stdout, "%-52s %14s %16s\n", "figure", "measured", "target")
	failed := false
	if *only == "" || *only == "ingest" {
		res, err := benchIngest(ctx, dir, *clients, *linger, *dur)
		if err != nil {
			fmt.Fprintln(stderr, "bench: ingest:", err)
			return exitFailure
		}
		rawN := max(int(res.rate*dur.Seconds()), 20000)
		raw, err := storage.BenchRawBatch(filepath.Join(dir, "raw"), *clients, rawN)
		if err != nil {
			fmt.Fprintln(stderr, "bench: raw bbolt:", err)
			return exitFailure
		}
		fmt.Fprintf(stdout, "%-52s %14.0f %16s  %s\n", fmt.Sprintf("WCTP durable ingest over HTTPS, %d clients (pages/s)", *clients), res.rate, fmt.Sprintf("≥ %.0f", targetIngest), verdict(res.rate >= targetIngest))
		fmt.Fprintf(stdout, "%-52s %14s %16s\n", "WCTP reply latency p50", res.p50.Round(10*time.Microsecond), "report")
		fmt.Fprintf(stdout, "%-52s %14s %16s\n", "WCTP reply latency p99", res.p99.Round(10*time.Microsecond), "report")
		fmt.Fprintf(stdout, "%-52s %14s %16s\n", "WCTP reply latency max", res.max.Round(10*time.Microsecond), "report")
		fmt.Fprintf(stdout, "%-52s %14.1f %16s\n", "store writes per commit (group commit)", res.opsPerCommit, "report")
		fmt.Fprintf(stdout, "%-52s %14.0f %16s\n", "raw bbolt Batch, MaxBatchSize 64 (records/s)", raw, "ceiling")
		fmt.Fprintf(stdout, "%-52s %13.0f%% %16s\n", "ingest / raw bbolt Batch", 100*res.rate/raw, "report")
		fmt.Fprintf(stdout, "%-52s %14d %16s\n", "pages refused or failed during the run", res.failed, "0")
		failed = failed || res.failed > 0
	}
	if *only == "" || *only == "bus" {
		bus, err := benchBus(ctx, dir, busBench{kind: *busKind, devices: *busDevices, inFlight: *busInFlight,
			window: *busWindow, linger: *linger, agentLinger: *agentLinger, verbose: *verbose}, *dur)
		if err != nil {
			fmt.Fprintln(stderr, "bench: bus:", err)
			return exitFailure
		}
		fmt.Fprintf(stdout, "%-52s %14.0f %16s  %s\n", fmt.Sprintf("bus job round trip, %d %s devices (jobs/s)", *busDevices, *busKind), bus.rate, fmt.Sprintf("≥ %.0f", targetBus), verdict(bus.rate >= targetBus))
		fmt.Fprintf(stdout, "%-52s %14s %16s\n", "bus round trip latency p50", bus.p50.Round(10*time.Microsecond), "report")
		fmt.Fprintf(stdout, "%-52s %14s %16s\n", "bus round trip latency p99", bus.p99.Round(10*time.Microsecond), "report")
		fmt.Fprintf(stdout, "%-52s %14.1f %16s\n", "gateway store writes per commit (bus run)", bus.gwOpsPerCommit, "report")
		fmt.Fprintf(stdout, "%-52s %14d %16s\n", "bus jobs not reported sent", bus.notSent, "0")
		failed = failed || bus.notSent > 0
	}
	if *only == "" || *only == "routing" {
		pages := 3000
		if *short {
			pages = 300
		}
		rt, err := benchRoute(ctx, dir, pages)
		if err != nil {
			fmt.Fprintln(stderr, "bench: routing:", err)
			return exitFailure
		}
		what := "fsync excluded (tmpfs)"
		if rt.fsyncIncluded {
			what = "fsync included (no tmpfs here)"
		}
		fmt.Fprintf(stdout, "%-52s %14s %16s  %s\n", "route a page, 10k people/500 roles/1k schedules, p99", rt.p99.Round(time.Microsecond), fmt.Sprintf("≤ %v", targetRouteP99), verdict(rt.p99 <= targetRouteP99))
		fmt.Fprintf(stdout, "%-52s %14s %16s\n", "route a page, p50", rt.p50.Round(time.Microsecond), "report")
		fmt.Fprintf(stdout, "%-52s %14s %16s\n", "route a page, max", rt.max.Round(time.Microsecond), "report")
		fmt.Fprintf(stdout, "%-52s %14s %16s\n", "load the directory snapshot (once per change)", rt.load.Round(time.Millisecond), "report")
		fmt.Fprintf(stdout, "%-52s %14d %16s\n", "pages routed, "+what, rt.pages, "report")
	}
	if *only == "" || *only == "tap" {
		bad, err := benchTAPPart(ctx, stdout, dir, *dur, verdict)
		if err != nil {
			fmt.Fprintln(stderr, "bench: tap:", err)
			return exitFailure
		}
		failed = failed || bad
	}
	if *only == "" || *only == "sms" {
		bad, err := benchSMSPart(ctx, stdout, dir, *short, verdict)
		if err != nil {
			fmt.Fprintln(stderr, "bench: sms:", err)
			return exitFailure
		}
		failed = failed || bad
	}
	if *only == "" || *only == "airtime" {
		bad, err := benchAirtimePart(ctx, stdout, *short, verdict)
		if err != nil {
			fmt.Fprintln(stderr, "bench: airtime:", err)
			return exitFailure
		}
		failed = failed || bad
	}
	if *only == "" || *only == "web" {
		bad, err := benchWebPart(ctx, stdout, dir, *short, *linger, verdict)
		if err != nil {
			fmt.Fprintln(stderr, "bench: web:", err)
			return exitFailure
		}
		failed = failed || bad
	}
	if failed {
		return exitFailure
	}
	return exitOK
}

type ingestResult struct {
	rate         float64
	p50, p99     time.Duration
	max          time.Duration
	opsPerCommit float64
	failed       int64
}

// benchIngest runs a gateway in this process on a loopback port and has
// clients submit WCTP pages over HTTPS for d, after a one-second warm-up.
func benchIngest(ctx context.Context, dir string, clients int, linger, d time.Duration) (ingestResult, error) {
	cfg, err := demoConfig(dir, "127.0.0.1:0")
	if err != nil {
		return ingestResult{}, err
	}
	cfg.WCTP.MaxText = 4096
	cfg.Storage.CommitLinger.Duration = linger
	m := NewMain(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err := m.Open(ctx); err != nil {
		return ingestResult{}, err
	}
	by := paging.AuditEvent{Actor: "bench", Action: "bench.seed"}
	if err := m.store.PutPerson(ctx, paging.Person{ID: "p", Name: "Bench Person", Stage: paging.StageApp}, by); err != nil {
		return ingestResult{}, err
	}
	if err := m.store.PutPagerID(ctx, paging.PagerID{ID: "1002", Target: paging.Target{Kind: paging.TargetPerson, ID: "p"}}, by); err != nil {
		return ingestResult{}, err
	}
	defer runBenchGateway(ctx, m)()
	tlsCfg, err := benchClientTLS(cfg)
	if err != nil {
		return ingestResult{}, err
	}
	addr := m.httpLn.Addr().String()
	sender := cfg.WCTP.Senders[0]
	text := paging.NewPHI("Bed 12 call bell, patient requests assistance; benchmark page of about 200 bytes of text, " +
		"which is the size the storage figures were measured with. ....................................")

	var (
		measuring atomic.Bool
		stop      atomic.Bool
		failed    atomic.Int64
		mu        sync.Mutex
		lat       []time.Duration
		wg        sync.WaitGroup
		firstErr  error
	)
	for c := range clients {
		lc, err := newLoadClient(ctx, addr, tlsCfg, wctp.SubmitRequest{SenderID: sender.ID, SecurityCode: sender.SecurityCode,
			MessageID: fmt.Sprintf("bench-%03d-%09d", c, 0), RecipientID: "1002", Text: text})
		if err != nil {
			return ingestResult{}, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer lc.conn.Close()
			var mine []time.Duration
			for n := 1; !stop.Load(); n++ {
				t0 := time.Now()
				err := lc.submit(n)
				el := time.Since(t0)
				if err != nil {
					failed.Add(1)
					mu.Lock()
					firstErr = cmp.Or(firstErr, err)
					mu.Unlock()
					return
				}
				if measuring.Load() {
					mine = append(mine, el)
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	time.Sleep(time.Second) // warm-up: connections and TLS handshakes
	before := m.store.Stats()
	measuring.Store(true)
	t0 := time.Now()
	time.Sleep(d)
	measuring.Store(false)
	el := time.Since(t0)
	after := m.store.Stats()
	stop.Store(true)
	wg.Wait()
	if firstErr != nil {
		return ingestResult{}, fmt.Errorf("%d clients failed, first: %w", failed.Load(), firstErr)
	}
	if len(lat) == 0 {
		return ingestResult{}, errors.New("no page accepted")
	}
	slices.Sort(lat)
	r := ingestResult{
		rate:   float64(len(lat)) / el.Seconds(),
		p50:    lat[len(lat)/2],
		p99:    lat[len(lat)*99/100],
		max:    lat[len(lat)-1],
		failed: failed.Load(),
	}
	if c := after.Commits - before.Commits; c > 0 {
		r.opsPerCommit = float64(after.Ops-before.Ops) / float64(c)
	}
	return r, nil
}

// loadClient is the bench's load generator for one connection: HTTP/1.1
// keep-alive over TLS with the request encoded once, so that the client
// spends as little of the machine's two cores as a tool like wrk would and
// the figure measures the gateway. Each request gets its own messageID by
// rewriting its digits in place.
type loadClient struct {
	conn  *tls.Conn
	br    *bufio.Reader
	req   []byte
	refAt int // offset of the messageID's counter digits in req
}

func newLoadClient(ctx context.Context, addr string, cfg *tls.Config, tmpl wctp.SubmitRequest) (*loadClient, error) {
	body, err := wctp.Encode(tmpl)
	if err != nil {
		return nil, err
	}
	d := tls.Dialer{Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	head := fmt.Sprintf("POST /wctp HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: %d\r\n\r\n", len(body))
	req := append([]byte(head), body...)
	at := bytes.Index(req, []byte(tmpl.MessageID))
	return &loadClient{conn: conn.(*tls.Conn), br: bufio.NewReader(conn), req: req, refAt: at + len(tmpl.MessageID) - 9}, nil
}

// submit sends page n and checks that the reply is a WCTP success.
func (c *loadClient) submit(n int) error {
	digits := c.req[c.refAt : c.refAt+9]
	for i := 8; i >= 0; i-- {
		digits[i] = byte('0' + n%10)
		n /= 10
	}
	if _, err := c.conn.Write(c.req); err != nil {
		return err
	}
	status, err := c.br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(status, []byte("HTTP/1.1 200 ")) {
		return fmt.Errorf("reply %q", bytes.TrimSpace(status))
	}
	length := -1
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && strings.EqualFold(string(k), "Content-Length") {
			length, err = strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil {
				return err
			}
		}
	}
	if length < 0 {
		return errors.New("reply without Content-Length")
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(c.br, body); err != nil {
		return err
	}
	if !bytes.Contains(body, []byte(`successCode="200"`)) {
		return fmt.Errorf("page refused: %s", body)
	}
	return nil
}
