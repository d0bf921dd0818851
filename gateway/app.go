package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"pagebridge/gateway/api"
	"pagebridge/gateway/engine"
	"pagebridge/gateway/snpp"
	"pagebridge/gateway/threads"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/gateway/admin"
	"pagebridge/gateway/agentbus"
	"pagebridge/gateway/broker"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/wctp"
	"pagebridge/storage"
	"pagebridge/ui"
)

// dbFile is the store's file name inside the data dir.
const dbFile = "pagebridge.db"

// Main is the gateway process: it owns the store, the HTTPS listener and
// the admin socket. main() and the end-to-end tests both drive it.
type Main struct {
	cfg    Config
	log    *slog.Logger
	stdout io.Writer // "listening …" lines for supervisors and tests

	store       *storage.Store
	httpLn      net.Listener
	httpSrv     *http.Server
	admin       *admin.Server
	broker      *broker.Broker // nil when the bus uses an external broker
	bus         *agentbus.Bridge
	engine      *engine.Engine
	lines       *lineClock // when each sender line last brought a page
	threads     *threads.Service
	web         *ui.Web // nil when [web] is off
	snpp        *snpp.Server
	wctpTracker *wctpTracker // nil until the WCTP handler is built
	snppLn      net.Listener
	reg         *prometheus.Registry
	started     time.Time
	pages       atomic.Uint64

	cancel  context.CancelFunc
	wg      sync.WaitGroup
	onClose []func()
}

// OnClose runs f at the start of Close, before the bus and the store
// stop (in reverse order of registration).
func (m *Main) OnClose(f func()) { m.onClose = append(m.onClose, f) }

// NewMain returns a gateway for cfg, which must be valid.
func NewMain(cfg Config, log *slog.Logger, stdout io.Writer) *Main {
	return &Main{cfg: cfg, log: log, stdout: stdout}
}

// Open opens the store and the listeners. On error everything opened so far
// is closed again.
func (m *Main) Open(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	m.started = time.Now()
	m.lines = newLineClock(m.started)
	if err := os.MkdirAll(m.cfg.Storage.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	m.store, err = openStore(m.cfg.Storage, m.log)
	if err != nil {
		return err
	}
	if err := m.store.Audit(ctx, time.Now(), paging.AuditEvent{Actor: "system", Action: "daemon.start", Object: "gateway", Detail: "version " + version}); err != nil {
		return fmt.Errorf("audit start: %w", err)
	}

	m.reg = prometheus.NewRegistry()
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	wctpResults := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pagebridge_wctp_responses_total", Help: "WCTP replies by WCTP status code (0: answered with an HTTP error instead).",
	}, []string{"code"})
	m.reg.MustRegister(wctpResults,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pagebridge_pages_accepted_total", Help: "Pages durably accepted since start."},
			func() float64 { return float64(m.pages.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pagebridge_store_commits_total", Help: "Store write transactions committed."},
			func() float64 { return float64(m.store.Stats().Commits) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pagebridge_store_ops_total", Help: "Store writes committed (several per commit when grouped)."},
			func() float64 { return float64(m.store.Stats().Ops) }),
	)

	if m.cfg.Bus.Embedded {
		if m.broker, err = m.startBroker(); err != nil {
			return err
		}
	}
	if m.engine, err = m.newEngine(); err != nil {
		return err
	}
	if m.threads, err = m.newThreads(); err != nil {
		return err
	}
	if m.bus, err = m.startBus(); err != nil {
		return err
	}
	m.reg.MustRegister(m.bus)
	ready := []ui.Check{{Name: "store", Check: m.store.Ping}}
	if m.broker != nil {
		ready = append(ready, ui.Check{Name: "broker", Check: m.brokerReady})
	}
	ready = append(ready, ui.Check{Name: "bus", Check: m.busReady})
	if m.cfg.Web.Enabled {
		if m.web, err = m.newWeb(); err != nil {
			return err
		}
	}
	router := ui.New(ui.Options{
		Ready:   ready,
		Metrics: promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}),
		Status:  m.status,
		Version: version,
		Web:     m.web,
	})
	if m.cfg.WCTP.Enabled {
		// The success counter is resolved once: it is bumped for every page.
		accepted := wctpResults.WithLabelValues(fmt.Sprint(wctp.CodeSuccess))
		h, err := wctp.NewHandler(m.withWCTPTracker(m.wctpConfig(func(status, code int) {
			if code == wctp.CodeSuccess {
				accepted.Inc()
				m.pages.Add(1)
				return
			}
			wctpResults.WithLabelValues(fmt.Sprint(code)).Inc()
		})), routedAccepter{m}, m.store, paging.SystemClock{}, m.log)
		if err != nil {
			return err
		}
		router.Any("/wctp", gin.WrapH(h))
	}
	api.New(api.Deps{Store: m.store, Engine: m.engine, Threads: m.threads, FilesBody: m.cfg.Threads.AttachmentMaxSize*4/3 + 64<<10, Agents: m.agentsBody,
		Clock: paging.SystemClock{}, Logger: m.log}).Register(router)

	tlsCfg, certSource, err := tlsConfig(m.cfg.Server, m.cfg.Storage.DataDir)
	if err != nil {
		return err
	}
	m.log.Info("TLS certificate", "source", certSource)
	m.httpSrv = &http.Server{
		Handler:           router,
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: m.cfg.Server.ReadHeaderTimeout.Duration,
		ReadTimeout:       m.cfg.Server.ReadTimeout.Duration,
		WriteTimeout:      m.cfg.Server.WriteTimeout.Duration,
		IdleTimeout:       m.cfg.Server.IdleTimeout.Duration,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(m.log.With("component", "http").Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", m.cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", m.cfg.Server.Listen, err)
	}
	m.httpLn = tls.NewListener(ln, tlsCfg)

	if m.cfg.SNPP.Enabled {
		if err := m.startSNPP(); err != nil {
			return err
		}
	}

	m.admin, err = admin.Listen(m.cfg.Admin.Socket, adminOps{m}, m.log.With("component", "admin"))
	if err != nil {
		return err
	}
	fmt.Fprintf(m.stdout, "listening https %s\n", ln.Addr())
	if m.broker != nil {
		fmt.Fprintf(m.stdout, "listening mqtt %s\n", m.broker.Addr())
	}
	fmt.Fprintf(m.stdout, "listening admin %s\n", m.admin.Addr())
	return nil
}

// startBroker runs the embedded MQTT broker the agents connect to.
func (m *Main) startBroker() (*broker.Broker, error) {
	bc := m.cfg.Bus
	opts := broker.Options{Listen: bc.Listen, Logger: m.log}
	if bc.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(bc.TLSCert, bc.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("bus TLS certificate: %w", err)
		}
		opts.TLS = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	if len(bc.Agents) > 0 {
		opts.GatewayUser, opts.GatewayPassword = bc.GatewayUser, bc.GatewayPassword
		opts.Agents = map[string]string{}
		for _, a := range bc.Agents {
			opts.Agents[a.ID] = a.Password
		}
	}
	return broker.Start(opts)
}

// brokerReady checks that the embedded broker accepts connections.
func (m *Main) brokerReady(ctx context.Context) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", m.broker.Addr())
	if err != nil {
		return err
	}
	return c.Close()
}

// openStore loads (or, where allowed, creates) the keys and opens the store.
func openStore(sc StorageConfig, log *slog.Logger) (*storage.Store, error) {
	var (
		keys     *storage.Keyring
		auditKey []byte
		err      error
	)
	if sc.CreateKeys {
		for _, p := range []string{sc.KeyFile, sc.AuditKeyFile} {
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return nil, fmt.Errorf("key dir: %w", err)
			}
		}
		var created bool
		if keys, created, err = storage.LoadOrCreateKeyring(sc.KeyFile); err == nil && created {
			log.Warn("created a new key-encryption key; keep a copy in escrow", "path", sc.KeyFile)
		}
		if err == nil {
			auditKey, _, err = storage.LoadOrCreateAuditKey(sc.AuditKeyFile)
		}
	} else {
		if keys, err = storage.LoadKeyring(sc.KeyFile); err == nil {
			auditKey, err = storage.LoadAuditKey(sc.AuditKeyFile)
		}
	}
	if err != nil {
		return nil, err
	}
	st, err := storage.Open(filepath.Join(sc.DataDir, dbFile), storage.Options{
		Keys:           keys,
		AuditKey:       auditKey,
		Timeout:        sc.LockTimeout.Duration,
		Logger:         log.With("component", "storage"),
		AuditRetention: sc.AuditRetention.Duration,
		Linger:         sc.CommitLinger.Duration,
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// deviceHealth is a modem's health in words for the status page.
func deviceHealth(d agentapi.DeviceStatus) string {
	var parts []string
	if d.Signal > 0 && d.Signal <= 31 {
		parts = append(parts, fmt.Sprintf("signal %d/31", d.Signal))
	} else if d.Signal == 99 {
		parts = append(parts, "signal unknown")
	}
	for _, s := range []string{d.Registration, d.Operator} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if d.SIM != "" {
		parts = append(parts, "SIM "+d.SIM)
	}
	return strings.Join(parts, " · ")
}

func (m *Main) wctpConfig(onResult func(status, code int)) wctp.Config {
	c := wctp.Config{MaxTextLen: m.cfg.WCTP.MaxText, MaxBodyBytes: m.cfg.WCTP.MaxBodyBytes, OnResult: onResult}
	for _, s := range m.cfg.WCTP.Senders {
		c.Senders = append(c.Senders, wctp.Sender{ID: s.ID, SecurityCode: s.SecurityCode, Line: s.Line})
	}
	for _, cl := range m.cfg.WCTP.Clients {
		c.Clients = append(c.Clients, wctp.Client{ID: cl.ID, Password: cl.Password, Line: cl.Line})
	}
	return c
}

// Run serves until ctx is done, then drains in-flight requests. It returns
// nil on a clean stop.
func (m *Main) Run(ctx context.Context) error {
	ctx, m.cancel = context.WithCancel(ctx)
	errc := make(chan error, 1)
	if m.web != nil {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.web.Run(ctx)
		}()
	}
	m.wg.Add(7)
	go func() {
		defer m.wg.Done()
		m.sweepThreads(ctx, m.cfg.Threads.SweepInterval.Duration)
	}()
	go func() {
		defer m.wg.Done()
		m.publishDirectory(ctx, 2*time.Second)
	}()
	go func() {
		defer m.wg.Done()
		m.engine.Run(ctx)
	}()
	go func() {
		defer m.wg.Done()
		every := min(10*time.Second, max(250*time.Millisecond, m.cfg.Routing.AlertAfter.Duration/4))
		w := m.newMonitor()
		if err := w.load(ctx, m.store); err != nil {
			m.log.Error("agents seen before not loaded", "err", err)
		}
		w.run(ctx, every)
	}()
	go func() {
		defer m.wg.Done()
		if err := m.httpSrv.Serve(m.httpLn); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("https: %w", err)
		}
	}()
	go func() {
		defer m.wg.Done()
		m.logAuditHead(ctx)
	}()
	go func() {
		defer m.wg.Done()
		m.pruneAudit(ctx)
	}()
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	m.log.Info("stopping: draining requests")
	sctx, cancel := context.WithTimeout(context.Background(), m.cfg.Server.ShutdownTimeout.Duration)
	defer cancel()
	if err := m.httpSrv.Shutdown(sctx); err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	return nil
}

// logAuditHead writes the signed audit chain head to the system log at
// start and every interval, so a rewritten or truncated chain inside the db
// can be compared with what the log saw.
func (m *Main) logAuditHead(ctx context.Context) {
	t := time.NewTicker(m.cfg.Audit.HeadLogInterval.Duration)
	defer t.Stop()
	for {
		h := m.store.AuditHead()
		m.log.Info("audit chain head", "seq", h.Seq, "hash", h.Hash, "mac", h.MAC)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pruneAudit removes audit entries older than the retention period (six
// years by default) at start and once a day. The store re-anchors the chain
// with a signed record, so verification still covers what is kept.
func (m *Main) pruneAudit(ctx context.Context) {
	t := time.NewTicker(24 * time.Hour)
	defer t.Stop()
	for {
		n, err := m.store.PruneAudit(ctx, time.Now())
		switch {
		case err != nil && ctx.Err() == nil:
			m.log.Error("audit retention: prune failed; nothing was deleted", "err", err)
		case n > 0:
			m.log.Info("audit retention: pruned entries past the retention period", "entries", n, "retention", m.cfg.Storage.AuditRetention.Duration)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *Main) status(ctx context.Context) ui.Status {
	host, _ := os.Hostname()
	st := ui.Status{Hostname: host, Version: version, Started: m.started, Pages: m.pages.Load(),
		AuditHead: m.store.AuditHead().Seq, DataDir: m.cfg.Storage.DataDir}
	if m.bus != nil {
		for _, a := range m.bus.Agents() {
			ua := ui.Agent{ID: a.ID, State: a.State, Version: a.Version, Updated: a.Updated}
			for _, d := range a.Devices {
				ua.Devices = append(ua.Devices, ui.Device{ID: d.ID, Kind: d.Kind, State: d.State, Error: d.Error,
					Since: d.Since, Queue: d.Queue, Done: d.Done, Failed: d.Failed, Health: deviceHealth(d)})
			}
			st.Agents = append(st.Agents, ua)
		}
	}
	return st
}

// Close stops everything Open started and closes the store last, after
// every writer is gone.
func (m *Main) Close() error {
	for i := len(m.onClose) - 1; i >= 0; i-- {
		m.onClose[i]()
	}
	m.onClose = nil
	if m.cancel != nil {
		m.cancel()
	}
	var errs []error
	if m.httpSrv != nil {
		errs = append(errs, m.httpSrv.Close())
	} else if m.httpLn != nil {
		errs = append(errs, m.httpLn.Close())
	}
	if m.admin != nil {
		errs = append(errs, m.admin.Close())
	}
	if m.snpp != nil {
		errs = append(errs, m.snpp.Close())
	}
	if m.bus != nil {
		m.bus.Close()
	}
	if m.broker != nil {
		errs = append(errs, m.broker.Close())
	}
	m.wg.Wait()
	if m.store != nil {
		if err := m.store.Audit(context.Background(), time.Now(), paging.AuditEvent{Actor: "system", Action: "daemon.stop", Object: "gateway"}); err != nil {
			m.log.Warn("audit stop", "err", err)
		}
		h := m.store.AuditHead()
		m.log.Info("audit chain head", "seq", h.Seq, "hash", h.Hash, "mac", h.MAC)
		errs = append(errs, m.store.Close())
	}
	return errors.Join(errs...)
}

// adminOps serves the admin socket from the running daemon.
type adminOps struct{ m *Main }

// audit records an admin operation, attributed to the socket's client.
func (a adminOps) audit(ctx context.Context, action, detail string) error {
	uid, _ := admin.PeerUID(ctx)
	return a.m.store.Audit(ctx, time.Now(), paging.AuditEvent{Actor: fmt.Sprintf("admin-socket:uid=%d", uid),
		Action: action, Object: "store", Source: "admin socket", Detail: detail})
}

func (a adminOps) Backup(ctx context.Context, size func(int64) error, w io.Writer) error {
	if err := a.audit(ctx, "store.backup", "online backup streamed to the client"); err != nil {
		return err
	}
	return a.m.store.BackupTo(ctx, size, w)
}

func (a adminOps) VerifyAudit(ctx context.Context) (string, error) {
	rep, err := a.m.store.VerifyAudit(ctx)
	result := "intact"
	if err != nil {
		result = "broken"
	}
	if aerr := a.audit(ctx, "audit.verify", result); aerr != nil {
		a.m.log.Warn("audit the verification", "err", aerr)
	}
	return rep.String(), err
}

func (a adminOps) RotateKeys(ctx context.Context) (string, error) {
	return rotateKeys(ctx, a.m.store, a.m.cfg.Storage.KeyFile)
}

// maxTestPages bounds one test-page request.
const maxTestPages = 10000

func (a adminOps) TestPage(ctx context.Context, tp admin.TestPage) (string, error) {
	if tp.Priority == "" {
		tp.Priority = paging.PriorityNormal.String()
	}
	prio, err := paging.ParsePriority(tp.Priority)
	if err != nil {
		return "", err
	}
	if tp.Count < 1 || tp.Count > maxTestPages {
		return "", fmt.Errorf("count must be 1 to %d", maxTestPages)
	}
	if err := a.audit(ctx, "bus.test-page", fmt.Sprintf("%d test pages to %s via %s/%s", tp.Count, tp.To, tp.Agent, tp.Device)); err != nil {
		return "", err
	}
	// Queued concurrently, so that the store commits them in groups.
	keys := make([]string, tp.Count)
	errs := make([]error, tp.Count)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range tp.Count {
		text := tp.Text
		if tp.Count > 1 {
			text = fmt.Sprintf("%s #%d", tp.Text, i+1)
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			key, err := a.m.bus.Submit(ctx, tp.Agent, &agentapi.Job{Device: tp.Device, Priority: prio,
				Action: "tap.page", To: tp.To, Text: agentapi.Text(text)})
			keys[i], errs[i] = key.String(), err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	return strings.Join(keys, "\n") + "\n", nil
}

// JobResults reports each job's result, or "pending", one per line:
// key outcome code attempt resent note.
func (a adminOps) JobResults(ctx context.Context, jobs []string) (string, error) {
	if len(jobs) > maxTestPages {
		return "", fmt.Errorf("at most %d jobs per request", maxTestPages)
	}
	var b strings.Builder
	for _, k := range jobs {
		id, err := paging.ParseID(k)
		if err != nil {
			return "", fmt.Errorf("job %q: %w", k, err)
		}
		r, err := a.m.store.JobResult(ctx, id)
		switch {
		case errors.Is(err, paging.ErrNotFound):
			fmt.Fprintf(&b, "%s pending\n", k)
		case err != nil:
			return "", err
		default:
			fmt.Fprintf(&b, "%s %s code=%s attempt=%d resent=%t note=%q\n", k, r.Outcome, r.Code, r.Attempt, r.Resent, r.Note)
		}
	}
	return b.String(), nil
}

// CreateToken makes an API token and returns its text, shown once.
func (a adminOps) CreateToken(ctx context.Context, t admin.Token) (string, error) {
	uid, _ := admin.PeerUID(ctx)
	secret, rec, err := api.CreateToken(ctx, a.m.store, t.Name, t.Role, t.Person, t.TTL,
		paging.AuditEvent{Actor: fmt.Sprintf("admin-socket:uid=%d", uid), Source: "admin socket"})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s\n# token %s (%s, role %s); shown once: only its hash is kept\n", secret, rec.ID, rec.Name, rec.Role), nil
}

// Pages returns the routes of the newest pages, one JSON object a line.
func (a adminOps) Pages(ctx context.Context, limit int) (string, error) {
	if limit <= 0 || limit > 1000 {
		limit = 20
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	err := a.m.engine.Routes(ctx, limit, func(r engine.Route) error { return enc.Encode(r) })
	return b.String(), err
}

// Ack acknowledges a page for a person, as an operator at the console
// would, and returns its route.
func (a adminOps) Ack(ctx context.Context, ack admin.Ack) (string, error) {
	id, err := paging.ParseID(ack.Message)
	if err != nil {
		return "", fmt.Errorf("message %q: %w", ack.Message, err)
	}
	ch := paging.Channel(ack.Channel)
	if ch == "" {
		ch = paging.ChannelApp
	}
	if !ch.Valid() {
		return "", fmt.Errorf("unknown channel %q", ack.Channel)
	}
	if err := a.audit(ctx, "page.ack-request", fmt.Sprintf("message %s for %s on %s", id, ack.Person, ch)); err != nil {
		return "", err
	}
	r, err := a.m.engine.Acknowledge(ctx, id, ack.Person, ch)
	if err != nil {
		return "", err
	}
	out, err := json.Marshal(r)
	return string(out) + "\n", err
}

func (a adminOps) Status(ctx context.Context) (string, error) {
	h := a.m.store.AuditHead()
	return fmt.Sprintf("running since %s; %d pages accepted; audit head %d", a.m.started.Format(time.RFC3339), a.m.pages.Load(), h.Seq), nil
}
