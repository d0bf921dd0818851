package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"

	"pagebridge/gateway/paging"
	"pagebridge/gateway/wctp"
	"pagebridge/storage"
	"pagebridge/ui"
)

// The web latency benchmark: a page submitted over WCTP until its
// WebSocket event reaches the open page of the person it was routed to,
// at a steady rate with many people signed in. Each person has a pager
// ID of their own (app stage), a web account and a session made directly
// in the store, and an open socket dialled with the session's cookie, as
// a browser's would be; each page goes to one of them, and it is that
// person's event that is timed, from just before the WCTP request is
// written to the frame's arrival. The Go clients answer "received" as
// app.js does, so the store takes those writes too. One real browser
// (Debian's chromium, headless) is a further person, measured the same
// way from the DevTools protocol's WebSocket frame timestamps.

// targetWebP99 is the bound on WCTP submit to WebSocket event.
const targetWebP99 = 100 * time.Millisecond

type webBench struct {
	sessions int
	rate     float64
	d        time.Duration
	browser  bool
	// browserEvery: every n-th page goes to the browser's person.
	browserEvery int
	// linger is the store's commit linger (storage.commit_linger).
	linger time.Duration
}

type webResult struct {
	goLat, browserLat []time.Duration
	// replyLat: the WCTP reply's latency (the page's durable accept), for
	// comparison: the event follows a second commit, the route's.
	replyLat []time.Duration
	// syncLat: an fdatasync of a small file beside the store every 50 ms
	// during the run: how the disk was doing.
	syncLat []time.Duration
	// toRoute: submit until the engine started routing the page (the
	// accept's commit, the engine's wake-up); fromRoute: from there until
	// the event arrived (routing, the route's commit, the hub, the
	// socket). Go sessions only.
	toRoute, fromRoute []time.Duration
	// The store's commit loop over the measured time.
	commits            uint64
	opsPerCommit, busy float64
	commitMean         time.Duration
	submitted          int
	rate               float64
	lost               int // pages whose event never came
	failed             int64
	browserNote        string
}

func pct(lat []time.Duration, p int) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

// benchWebPart runs the benchmark and prints its figures.
func benchWebPart(ctx context.Context, stdout io.Writer, dir string, short bool, linger time.Duration, verdict func(bool) string) (bool, error) {
	wb := webBench{sessions: 200, rate: 100, d: 20 * time.Second, browser: true, browserEvery: 10, linger: linger}
	if short {
		wb.d = 4 * time.Second
	}
	res, err := benchWeb(ctx, dir, wb)
	if err != nil {
		return false, err
	}
	p99 := pct(res.goLat, 99)
	fmt.Fprintf(stdout, "%-52s %14s %16s  %s\n", fmt.Sprintf("WCTP page to WebSocket event, %d Go sessions, p99", wb.sessions), p99.Round(10*time.Microsecond), fmt.Sprintf("≤ %v", targetWebP99), verdict(p99 <= targetWebP99 && len(res.goLat) > 0))
	fmt.Fprintf(stdout, "%-52s %14s %16s\n", "WCTP page to WebSocket event, Go sessions, p50", pct(res.goLat, 50).Round(10*time.Microsecond), "report")
	fmt.Fprintf(stdout, "%-52s %14s %16s\n", "WCTP page to WebSocket event, Go sessions, max", pct(res.goLat, 100).Round(10*time.Microsecond), "report")
	fmt.Fprintf(stdout, "%-52s %14s %16s\n", "WCTP reply (durable accept) in the same run, p50", pct(res.replyLat, 50).Round(10*time.Microsecond), "report")
	fmt.Fprintf(stdout, "%-52s %14s %16s\n", "WCTP reply (durable accept) in the same run, p99", pct(res.replyLat, 99).Round(10*time.Microsecond), "report")
	for _, st := range []struct {
		what string
		lat  []time.Duration
	}{{"submit until routing starts (accept, wake-up)", res.toRoute}, {"routing starts until the event (route commit, hub)", res.fromRoute}} {
		fmt.Fprintf(stdout, "%-52s %14s %16s\n", st.what+", p50", pct(st.lat, 50).Round(10*time.Microsecond), "report")
		fmt.Fprintf(stdout, "%-52s %14s %16s\n", st.what+", p99", pct(st.lat, 99).Round(10*time.Microsecond), "report")
	}
	fmt.Fprintf(stdout, "%-52s %14s %16s\n", "disk: fdatasync beside the store in the run, p50", pct(res.syncLat, 50).Round(10*time.Microsecond), "report")
	fmt.Fprintf(stdout, "%-52s %14s %16s\n", "disk: fdatasync beside the store in the run, p99", pct(res.syncLat, 99).Round(10*time.Microsecond), "report")
	fmt.Fprintf(stdout, "%-52s %14s %16s\n", "store commit, mean (writing and syncing)", res.commitMean.Round(10*time.Microsecond), "report")
	fmt.Fprintf(stdout, "%-52s %14.1f %16s\n", "store commits/s; writes per commit", float64(res.commits)/wb.d.Seconds(), fmt.Sprintf("%.1f", res.opsPerCommit))
	fmt.Fprintf(stdout, "%-52s %13.0f%% %16s\n", "store commit loop busy", 100*res.busy, "report")
	fmt.Fprintf(stdout, "%-52s %14.1f %16s\n", "pages/s submitted (steady rate)", res.rate, fmt.Sprintf("%.0f", wb.rate))
	// Like the other parts, the run fails on what went wrong (a page
	// refused, an event that never came), not on a figure: a latency is
	// judged beside its target.
	bad := len(res.goLat) == 0 || res.lost > 0 || res.failed > 0
	if res.browserNote != "" {
		fmt.Fprintf(stdout, "%-52s %14s %16s\n", "chromium: WCTP page to WebSocket frame", "skipped", res.browserNote)
	} else {
		bp99 := pct(res.browserLat, 99)
		fmt.Fprintf(stdout, "%-52s %14s %16s  %s\n", "chromium: WCTP page to WebSocket frame, p99", bp99.Round(10*time.Microsecond), fmt.Sprintf("≤ %v", targetWebP99), verdict(bp99 <= targetWebP99))
		fmt.Fprintf(stdout, "%-52s %14s %16s\n", "chromium: WCTP page to WebSocket frame, p50", pct(res.browserLat, 50).Round(10*time.Microsecond), "report")
		fmt.Fprintf(stdout, "%-52s %14d %16s\n", "chromium: pages timed", len(res.browserLat), "report")
	}
	fmt.Fprintf(stdout, "%-52s %14d %16s\n", "pages timed at the Go sessions", len(res.goLat), "report")
	fmt.Fprintf(stdout, "%-52s %14d %16s\n", "pages refused or failed over WCTP", res.failed, "0")
	fmt.Fprintf(stdout, "%-52s %14d %16s\n", "pages whose event never came", res.lost, "0")
	return bad, nil
}

// webPerson is one signed-in person of the bench.
type webPerson struct {
	id, pager string
	token     string
	// sent are the submit times of pages on their way to this person,
	// oldest first; seen the threads already timed.
	mu      sync.Mutex
	sent    []time.Time
	seen    map[string]bool
	lat     []time.Duration
	samples []webSample
}

// webSample is one timed page: its thread (the page's ID), when it was
// submitted and when its event arrived.
type webSample struct {
	thread   string
	sent, at time.Time
}

// submitted records a page's submit time.
func (p *webPerson) submitted(at time.Time) {
	p.mu.Lock()
	p.sent = append(p.sent, at)
	p.mu.Unlock()
}

// arrived times a thread event that arrived at at; it reports whether it
// was a new thread (a page's first event).
func (p *webPerson) arrived(thread string, at time.Time, measure bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen[thread] || len(p.sent) == 0 {
		return false
	}
	p.seen[thread] = true
	t0 := p.sent[0]
	p.sent = p.sent[1:]
	if measure {
		p.lat = append(p.lat, at.Sub(t0))
		p.samples = append(p.samples, webSample{thread: thread, sent: t0, at: at})
	}
	return true
}

func (p *webPerson) pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sent)
}

// benchWeb runs a gateway in this process with its web app and measures.
func benchWeb(ctx context.Context, dir string, wb webBench) (webResult, error) {
	var res webResult
	cfg, err := demoConfig(filepath.Join(dir, "web"), "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	// One person gets a page every two seconds here, which the flood
	// control (6 in 10 minutes) would bundle: it is off, as for a
	// switchboard's own pager IDs. Every text differs (page-0000000001…),
	// so the duplicate filter lets each through.
	cfg.Routing.RateLimit = 0
	cfg.Storage.CommitLinger.Duration = wb.linger
	m := NewMain(cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err := m.Open(ctx); err != nil {
		return res, err
	}
	people := make([]*webPerson, wb.sessions+1) // the last one: the browser's
	by := paging.AuditEvent{Actor: "bench", Action: "bench.seed"}
	now := time.Now()
	for i := range people {
		p := &webPerson{id: fmt.Sprintf("bench-%03d", i), pager: fmt.Sprintf("7%03d", i), token: randomToken(), seen: map[string]bool{}}
		people[i] = p
		if err := m.store.PutPerson(ctx, paging.Person{ID: p.id, Name: "Bench " + p.id, Stage: paging.StageApp,
			Endpoints: []paging.Endpoint{{Channel: paging.ChannelApp, Address: p.id}}}, by); err != nil {
			m.Close()
			return res, err
		}
		if err := m.store.PutPagerID(ctx, paging.PagerID{ID: p.pager, Target: paging.Target{Kind: paging.TargetPerson, ID: p.id}}, by); err != nil {
			m.Close()
			return res, err
		}
		if err := m.store.PutAccount(ctx, storage.Account{Username: p.id, PersonID: p.id, PasswordHash: "bench: no password",
			Roles: []string{ui.RoleClinician}}, by); err != nil {
			m.Close()
			return res, err
		}
		s := storage.Session{ID: paging.NewID(now), Username: p.id, Person: p.id, Role: ui.RoleClinician, Created: now,
			CSRF: randomToken(), Source: "bench"}
		if err := m.store.CreateSession(ctx, sha256.Sum256([]byte(p.token)), s, 0, by); err != nil {
			m.Close()
			return res, err
		}
	}
	defer runBenchGateway(ctx, m)()
	tlsCfg, err := benchClientTLS(cfg)
	if err != nil {
		return res, err
	}
	addr := m.httpLn.Addr().String()

	var measuring atomic.Bool
	sockCtx, stopSockets := context.WithCancel(ctx)
	var sockets sync.WaitGroup
	defer func() { stopSockets(); sockets.Wait() }()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg, ForceAttemptHTTP2: false}}
	for _, p := range people[:wb.sessions] {
		conn, err := dialWeb(ctx, hc, addr, p.token)
		if err != nil {
			return res, fmt.Errorf("session of %s: %w", p.id, err)
		}
		sockets.Add(1)
		go func() {
			defer sockets.Done()
			defer conn.CloseNow()
			readWeb(sockCtx, conn, p, &measuring)
		}()
	}

	browser := people[wb.sessions]
	var (
		stopBrowser func() []time.Duration
	)
	if wb.browser {
		stopBrowser, err = openBrowser(ctx, addr, browser, &measuring)
		if err != nil {
			if errors.Is(err, errNoBrowser) {
				res.browserNote = "no chromium"
				wb.browserEvery = 0
			} else {
				return res, fmt.Errorf("browser: %w", err)
			}
		}
	}

	// The senders: a few keep-alive connections, each page submitted at
	// its time on the next free one.
	sender := cfg.WCTP.Senders[0]
	const conns = 16
	free := make(chan *loadClient, conns)
	for i := range conns {
		lc, err := newLoadClient(ctx, addr, tlsCfg, wctp.SubmitRequest{SenderID: sender.ID, SecurityCode: sender.SecurityCode,
			MessageID: fmt.Sprintf("webbench-%02d-%09d", i, 0), RecipientID: "7000", Text: paging.NewPHI("Bed 12 call bell, patient requests assistance, page-000000000 (web bench)")})
		if err != nil {
			return res, err
		}
		defer lc.conn.Close()
		free <- lc
	}
	var (
		failed  atomic.Int64
		inLoad  sync.WaitGroup
		counter atomic.Int64
		replyMu sync.Mutex
	)
	submit := func(p *webPerson) {
		lc := <-free
		defer func() { free <- lc }()
		n := int(counter.Add(1))
		lc.setRecipient(p.pager)
		lc.stampText(n)
		t0 := time.Now()
		p.submitted(t0)
		if err := lc.submit(n); err != nil {
			failed.Add(1)
			return
		}
		if measuring.Load() {
			replyMu.Lock()
			res.replyLat = append(res.replyLat, time.Since(t0))
			replyMu.Unlock()
		}
	}
	probeDone := make(chan []time.Duration, 1)
	probeCtx, stopProbe := context.WithCancel(ctx)
	go func() { probeDone <- syncProbe(probeCtx, cfg.Storage.DataDir, &measuring) }()
	var before storage.Stats
	warm := time.Second
	interval := time.Duration(float64(time.Second) / wb.rate)
	start := time.Now()
	next := start
	n := 0
	var measuredFrom time.Time
	for time.Since(start) < warm+wb.d {
		if !measuring.Load() && time.Since(start) >= warm {
			measuredFrom = time.Now()
			before = m.store.Stats()
			measuring.Store(true)
		}
		var p *webPerson
		if wb.browserEvery > 0 && n%wb.browserEvery == wb.browserEvery-1 {
			p = browser
		} else {
			p = people[n%wb.sessions]
		}
		n++
		if measuring.Load() {
			res.submitted++
		}
		inLoad.Add(1)
		go func() { defer inLoad.Done(); submit(p) }()
		next = next.Add(interval)
		time.Sleep(time.Until(next))
	}
	elapsed := time.Since(measuredFrom)
	after := m.store.Stats()
	if res.commits = after.Commits - before.Commits; res.commits > 0 {
		res.opsPerCommit = float64(after.Ops-before.Ops) / float64(res.commits)
		res.commitMean = (after.Busy - before.Busy) / time.Duration(res.commits)
	}
	res.busy = float64(after.Busy-before.Busy) / float64(elapsed)
	inLoad.Wait()
	// Let the last events arrive.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		left := 0
		for _, p := range people[:wb.sessions] {
			left += p.pending()
		}
		if left == 0 && (wb.browserEvery == 0 || browser.pending() == 0) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	measuring.Store(false)
	stopProbe()
	res.syncLat = <-probeDone
	res.rate = float64(res.submitted) / elapsed.Seconds()
	res.failed = failed.Load()
	for _, p := range people[:wb.sessions] {
		p.mu.Lock()
		for _, sm := range p.samples {
			id, err := paging.ParseID(sm.thread)
			if err != nil {
				continue
			}
			// The page's thread is made as the engine routes it, before
			// the route's commit: its creation time splits the path.
			if th, err := m.store.Thread(ctx, id); err == nil {
				res.toRoute = append(res.toRoute, th.Created.Sub(sm.sent))
				res.fromRoute = append(res.fromRoute, sm.at.Sub(th.Created))
			}
		}
		res.goLat = append(res.goLat, p.lat...)
		res.lost += len(p.sent)
		p.mu.Unlock()
	}
	if stopBrowser != nil {
		res.browserLat = stopBrowser()
		res.lost += browser.pending()
	}
	return res, nil
}

// syncProbe writes and fdatasyncs a small file in dir every 50 ms while
// measuring, and returns how long each took.
func syncProbe(ctx context.Context, dir string, measuring *atomic.Bool) []time.Duration {
	f, err := os.CreateTemp(dir, "sync-probe-")
	if err != nil {
		return nil
	}
	defer os.Remove(f.Name())
	defer f.Close()
	var out []time.Duration
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	buf := make([]byte, 4096)
	for {
		select {
		case <-ctx.Done():
			return out
		case <-t.C:
		}
		t0 := time.Now()
		if _, err := f.WriteAt(buf, 0); err != nil {
			return out
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return out
		}
		if measuring.Load() {
			out = append(out, time.Since(t0))
		}
	}
}

// runBenchGateway runs the opened m until the returned func stops it and
// closes it.
func runBenchGateway(ctx context.Context, m *Main) (stop func()) {
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()
	return func() {
		cancel()
		<-done
		m.Close()
	}
}

// benchClientTLS trusts the bench gateway's self-signed certificate.
func benchClientTLS(cfg Config) (*tls.Config, error) {
	pem, err := os.ReadFile(filepath.Join(cfg.Storage.DataDir, "tls-cert.pem"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &tls.Config{RootCAs: pool, ServerName: "localhost"}, nil
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// dialWeb opens a person's live-update socket with their session cookie.
func dialWeb(ctx context.Context, hc *http.Client, addr, token string) (*websocket.Conn, error) {
	h := http.Header{}
	h.Set("Cookie", "__Host-pb_session="+token)
	h.Set("Origin", "https://"+addr)
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(dctx, "wss://"+addr+"/app/ws", &websocket.DialOptions{HTTPClient: hc, HTTPHeader: h})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial: HTTP %d: %w", resp.StatusCode, err)
		}
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	return conn, nil
}

// webFrame is what the bench reads of a frame.
type webFrame struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	Entry   struct {
		ID string `json:"id"`
	} `json:"entry"`
}

// readWeb times p's thread events, answering "received" as a page does.
func readWeb(ctx context.Context, conn *websocket.Conn, p *webPerson, measuring *atomic.Bool) {
	for {
		_, data, err := conn.Read(ctx)
		at := time.Now()
		if err != nil {
			return
		}
		var f webFrame
		if json.Unmarshal(data, &f) != nil || f.Type != "thread" || f.Entry.ID == "" {
			continue
		}
		if p.arrived(f.Entry.ID, at, measuring.Load()) && f.Message != "" {
			ack, _ := json.Marshal(map[string]string{"type": "received", "thread": f.Entry.ID, "message": f.Message})
			if conn.Write(ctx, websocket.MessageText, ack) != nil {
				return
			}
		}
	}
}

var errNoBrowser = errors.New("chromium not installed")

// chromiumBin is Debian's chromium.
const chromiumBin = "/usr/bin/chromium"

func secs(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// openBrowser signs p in with a real chromium (the session cookie set
// over DevTools) on the inbox, and times p's thread events from the
// frames' DevTools timestamps, mapped to wall time by a request's
// (monotonic, wall) pair. The returned func closes the browser and
// returns the latencies.
func openBrowser(ctx context.Context, addr string, p *webPerson, measuring *atomic.Bool) (func() []time.Duration, error) {
	if _, err := os.Stat(chromiumBin); err != nil {
		return nil, errNoBrowser
	}
	profile, err := os.MkdirTemp("", "pagebridge-bench-chromium-")
	if err != nil {
		return nil, err
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumBin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(profile),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("ignore-certificate-errors", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.WithoutCancel(ctx), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	stop := func() {
		cancelBrowser()
		cancelAlloc()
		os.RemoveAll(profile)
	}
	var (
		mu     sync.Mutex
		offset time.Duration // wall − monotonic, both since their epochs
		have   bool
	)
	chromedp.Listen(bctx, func(ev any) {
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			mu.Lock()
			offset, have = secs(e.WallTime.Float64()-e.Timestamp.Float64()), true
			mu.Unlock()
		case *network.EventWebSocketFrameReceived:
			var f webFrame
			if json.Unmarshal([]byte(e.Response.PayloadData), &f) != nil || f.Type != "thread" || f.Entry.ID == "" {
				return
			}
			mu.Lock()
			at, ok := time.Unix(0, 0).Add(secs(e.Timestamp.Float64())+offset), have
			mu.Unlock()
			if ok {
				p.arrived(f.Entry.ID, at, measuring.Load())
			}
		}
	})
	origin := "https://" + addr
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) error {
		rctx, cancel := context.WithTimeout(bctx, time.Minute)
		defer cancel()
		if err := chromedp.Do(rctx, actions...); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	err = run("open the inbox",
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
				return err
			}
			yes := true
			_, err := cdp.Call(ctx, t, network.SetCookie, network.SetCookieParams{Name: "__Host-pb_session", Value: p.token, URL: origin + "/",
				Secure: &yes, HTTPOnly: &yes, SameSite: network.CookieSameSiteStrict})
			return err
		}),
		chromedp.Navigate(origin+"/app/"),
		chromedp.WaitVisible(chromedp.CSS("#live.on")),
	)
	if err != nil {
		stop()
		return nil, err
	}
	return func() []time.Duration {
		stop()
		p.mu.Lock()
		defer p.mu.Unlock()
		return slices.Clone(p.lat)
	}, nil
}

// stampText writes n into the text's page-NNNNNNNNN.
func (c *loadClient) stampText(n int) {
	i := strings.Index(string(c.req), "page-")
	if i < 0 {
		panic("bench: text not stampable")
	}
	digits := c.req[i+5 : i+14]
	for j := 8; j >= 0; j-- {
		digits[j] = byte('0' + n%10)
		n /= 10
	}
}

// setRecipient makes the client's next pages go to pager ID id (as long
// as the template's: four digits).
func (c *loadClient) setRecipient(id string) {
	const tag = `recipientID="`
	i := strings.Index(string(c.req), tag)
	if i < 0 || len(id) != 4 {
		panic("bench: recipient not rewritable")
	}
	copy(c.req[i+len(tag):], id)
}
