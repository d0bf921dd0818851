package main

import (
	"errors"
	"fmt"
	"mime"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/firmware-agent/agentapi/link"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/threads"
	"pagebridge/internal/conf"
	"pagebridge/storage"
	"pagebridge/ui"
)

// exitConfig is the exit code for a configuration the daemon cannot run
// with. The unit file lists it in RestartPreventExitStatus=, so systemd does
// not restart into the same mistake (EX_CONFIG from sysexits.h).
const exitConfig = 78

// DefaultConfigPath is where the package installs the configuration.
const DefaultConfigPath = "/etc/pagebridge/pagebridge.toml"

// Duration is a time.Duration written in TOML as "15m", "2s".
type Duration = conf.Duration

// Config is the gateway's one configuration file. DefaultConfig gives every
// field a value; the file overlays it.
type Config struct {
	Server  ServerConfig  `toml:"server"`
	Storage StorageConfig `toml:"storage"`
	Admin   AdminConfig   `toml:"admin"`
	Audit   AuditConfig   `toml:"audit"`
	WCTP    WCTPConfig    `toml:"wctp"`
	SNPP    SNPPConfig    `toml:"snpp"`
	Bus     BusConfig     `toml:"bus"`
	Routing RoutingConfig `toml:"routing"`
	Threads ThreadsConfig `toml:"threads"`
	Web     WebConfig     `toml:"web"`
	Log     LogConfig     `toml:"log"`
}

// WebConfig is the staff web app's sign-in and session policy.
type WebConfig struct {
	// Enabled serves the web app under /app/.
	Enabled bool `toml:"enabled"`
	// IdleTimeout signs a session out after this long without use
	// (HIPAA automatic logoff); SessionLifetime ends any session this
	// old, used or not.
	IdleTimeout     Duration `toml:"idle_timeout"`
	SessionLifetime Duration `toml:"session_lifetime"`
	// MFARoles must sign in with a TOTP second factor; it always holds
	// admin and operator (the dispatchers). Others may enrol one.
	MFARoles []string `toml:"mfa_roles"`
	// LockoutAfter failed sign-ins in a row lock an account for
	// LockoutDuration.
	LockoutAfter    int      `toml:"lockout_after"`
	LockoutDuration Duration `toml:"lockout_duration"`
	// AttemptsPerAddress and AttemptsPerAccount bound sign-in attempts a
	// minute from one client address and for one username.
	AttemptsPerAddress int `toml:"attempts_per_address"`
	AttemptsPerAccount int `toml:"attempts_per_account"`
}

// LineSilence is how long one sender line may be quiet. Line is the
// line's name as pages carry it: a WCTP sender's line, or an agent's
// TAP line device ID.
type LineSilence struct {
	Line string   `toml:"line"`
	Max  Duration `toml:"max"`
}

// ThreadsConfig is the retention of secure threads: how long messages are
// kept, per kind of thread (0: kept). A page's thread is kept whole until
// its page is acknowledged.
type ThreadsConfig struct {
	RetainPage   Duration `toml:"retain_page"`
	RetainDirect Duration `toml:"retain_direct"`
	RetainGroup  Duration `toml:"retain_group"`
	RetainRole   Duration `toml:"retain_role"`
	// SweepInterval is how often the retention sweep runs.
	SweepInterval Duration `toml:"sweep_interval"`
	// AttachmentMaxSize bounds the files of one message together, in
	// bytes; AttachmentTypes are the media types allowed, as found in
	// the bytes (never the name or the client's claim).
	AttachmentMaxSize int64    `toml:"attachment_max_size"`
	AttachmentTypes   []string `toml:"attachment_types"`
}

// RoutingConfig is the delivery engine's policy.
type RoutingConfig struct {
	// DefaultPolicy is the escalation policy (by ID) of pages whose pager
	// ID and role name none; "" is the built-in one: every channel of the
	// person's stage at once, then the fallback.
	DefaultPolicy string `toml:"default_policy"`
	// FallbackRole is paged, besides the operators' console, when a
	// policy runs out with nobody acknowledging.
	FallbackRole string `toml:"fallback_role"`
	// PHIOnPager and PHIOnSMS let the page's text go on those channels;
	// off, they carry a notice without patient data.
	PHIOnPager bool `toml:"phi_on_pager"`
	PHIOnSMS   bool `toml:"phi_on_sms"`
	// PagerMaxLen and SMSMaxLen bound what is sent on each.
	PagerMaxLen int `toml:"pager_max_len"`
	SMSMaxLen   int `toml:"sms_max_len"`
	// SMSDevice is the modem SMS jobs go to, as "agent/device".
	SMSDevice string `toml:"sms_device"`
	// AlertPagerID is the pager ID the gateway's own alerts (an agent or
	// device down, the data disk nearly full) are paged to, normally
	// mapped to the IT on-call role. "" only logs them.
	AlertPagerID string `toml:"alert_pager_id"`
	// AlertAfter is how long a condition lasts before it is paged (a
	// restarting agent is not an outage).
	AlertAfter Duration `toml:"alert_after"`
	// DiskFreeMin is the free share of the data disk below which an
	// alert is raised (0.10: 10 %).
	DiskFreeMin float64 `toml:"disk_free_min"`
	// LineSilence lists sender lines that must not go quiet: a line with
	// no page for longer than its Max is paged to IT (a nurse-call link
	// that has died says nothing).
	LineSilence []LineSilence `toml:"line_silence"`
	// RateLimit caps the pages one person gets on one pager or phone per
	// RateWindow; beyond it non-critical pages go out together as one
	// bundle notice when the window allows. 0: no limit.
	RateLimit  int      `toml:"rate_limit"`
	RateWindow Duration `toml:"rate_window"`
	// DedupeWindow: the same page (pager ID and text) again within it,
	// from any sender, is recorded but not sent again unless more urgent.
	// 0 turns it off.
	DedupeWindow Duration `toml:"dedupe_window"`
	// PriorityRules raise the tier of pages whose text matches, whatever
	// way they came in ([[routing.priority_rule]] starts_with = "CODE
	// BLUE", priority = "critical"). A TAP line's own rules are in the
	// agent's config.
	PriorityRules []paging.PriorityRule `toml:"priority_rule"`
}

// BusConfig places the MQTT bus between the gateway and its agents.
type BusConfig struct {
	// Embedded runs the broker inside the gateway (one box). Off, the
	// agents and the gateway meet on an external broker (Mosquitto).
	Embedded bool `toml:"embedded"`
	// Listen is the embedded broker's address: loopback by default, and
	// never 1883, where a system Mosquitto may run. Off loopback it needs
	// tls_cert/tls_key and credentials.
	Listen string `toml:"listen"`
	// TLSCert and TLSKey serve the embedded broker over TLS.
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// GatewayUser and GatewayPassword: the gateway's own credentials.
	GatewayUser     string `toml:"gateway_user"`
	GatewayPassword string `toml:"gateway_password"`
	// Agents lists the agents allowed on the bus, with their passwords.
	Agents []BusAgent `toml:"agent"`
	// Broker is the external broker (embedded = false): tcp://host:port
	// on loopback, tls://host:port anywhere else.
	Broker string `toml:"broker"`
	// CAFile verifies an external TLS broker's certificate (or the
	// embedded broker's own, when it is not in the system roots); empty
	// uses the system roots.
	CAFile string `toml:"ca_file"`
	// ClientID is the gateway's fixed MQTT client ID; one per gateway on a
	// shared broker.
	ClientID string `toml:"client_id"`
	// AckTimeout: how long a job published to an agent waits for its ack
	// before it is published again.
	AckTimeout Duration `toml:"ack_timeout"`
}

type BusAgent struct {
	ID       string `toml:"id"`
	Password string `toml:"password"`
}

type ServerConfig struct {
	// Listen is the HTTPS listen address.
	Listen string `toml:"listen"`
	// TLSCert and TLSKey name a PEM certificate and key. Both empty: a
	// self-signed certificate is generated into the data dir on first start.
	TLSCert           string   `toml:"tls_cert"`
	TLSKey            string   `toml:"tls_key"`
	ReadHeaderTimeout Duration `toml:"read_header_timeout"`
	ReadTimeout       Duration `toml:"read_timeout"`
	WriteTimeout      Duration `toml:"write_timeout"`
	IdleTimeout       Duration `toml:"idle_timeout"`
	ShutdownTimeout   Duration `toml:"shutdown_timeout"`
	// Hostnames go into a generated certificate besides localhost.
	Hostnames []string `toml:"hostnames"`
}

type StorageConfig struct {
	DataDir string `toml:"data_dir"`
	// KeyFile and AuditKeyFile must be outside DataDir, so that a copied
	// data dir or backup alone decrypts and forges nothing.
	KeyFile        string   `toml:"key_file"`
	AuditKeyFile   string   `toml:"audit_key_file"`
	LockTimeout    Duration `toml:"lock_timeout"`
	AuditRetention Duration `toml:"audit_retention"`
	// CreateKeys lets the daemon create missing key files. Off in
	// production, where the package's postinst creates them: a missing key
	// there means a wrong path, not a first start.
	CreateKeys bool `toml:"create_keys"`
	// CommitLinger is how long a commit waits for more writes to join it
	// when it is not full: fewer, larger commits under load (pages written
	// and synced once for many writes), for at most this much latency on
	// each write (PostgreSQL's commit_delay). 0 commits at once.
	CommitLinger Duration `toml:"commit_linger"`
}

type AdminConfig struct {
	// Socket is the Unix socket for backup, audit verify and keys rotate
	// while the daemon runs.
	Socket string `toml:"socket"`
}

type AuditConfig struct {
	// HeadLogInterval is how often the signed chain head is written to the
	// system log.
	HeadLogInterval Duration `toml:"head_log_interval"`
}

type WCTPConfig struct {
	Enabled      bool         `toml:"enabled"`
	MaxText      int          `toml:"max_text"`
	MaxBodyBytes int64        `toml:"max_body_bytes"`
	Senders      []WCTPSender `toml:"sender"`
	// Clients are transient clients (wctp-SubmitClientMessage): they name
	// themselves in wctp-ClientOriginator senderID and carry the password
	// in miscInfo.
	Clients []WCTPClient `toml:"client"`
}

// SNPPConfig is the SNPP server (RFC 1861 levels 1 and 2).
type SNPPConfig struct {
	Enabled bool   `toml:"enabled"`
	Listen  string `toml:"listen"`
	// Allow lists the source networks (CIDR) that may connect; empty:
	// loopback only.
	Allow []string `toml:"allow"`
	// Logins, if any, are required before SEND (LOGI id password).
	Logins      []SNPPLogin `toml:"login"`
	IdleTimeout Duration    `toml:"idle_timeout"`
	// Line names SNPP pages' source for senders without a login.
	Line string `toml:"line"`
}

// SNPPLogin is one SNPP sender's credentials.
type SNPPLogin struct {
	ID       string `toml:"id"`
	Password string `toml:"password"`
	Line     string `toml:"line"`
}

type WCTPClient struct {
	ID       string `toml:"id"`
	Password string `toml:"password"`
	Line     string `toml:"line"`
}

type WCTPSender struct {
	ID           string `toml:"id"`
	SecurityCode string `toml:"security_code"`
	// Line names the sender in threads ("4W nurse call").
	Line string `toml:"line"`
}

type LogConfig struct {
	Level  string `toml:"level"`
	Format string `toml:"format"`
}

// DefaultConfig is the production configuration the file overlays.
func DefaultConfig() Config {
	return Config{
		Server: ServerConfig{
			Listen:            "0.0.0.0:443",
			ReadHeaderTimeout: Duration{Duration: 5 * time.Second},
			ReadTimeout:       Duration{Duration: 30 * time.Second},
			WriteTimeout:      Duration{Duration: 30 * time.Second},
			IdleTimeout:       Duration{Duration: 2 * time.Minute},
			ShutdownTimeout:   Duration{Duration: 15 * time.Second},
		},
		Storage: StorageConfig{
			DataDir:        "/var/lib/pagebridge",
			KeyFile:        "/etc/pagebridge/keys/kek",
			AuditKeyFile:   "/etc/pagebridge/keys/audit-hmac",
			LockTimeout:    Duration{Duration: 2 * time.Second},
			AuditRetention: Duration{Duration: 6 * 366 * 24 * time.Hour},
			CommitLinger:   Duration{Duration: 2 * time.Millisecond},
		},
		Admin: AdminConfig{Socket: "/run/pagebridge/admin.sock"},
		Audit: AuditConfig{HeadLogInterval: Duration{Duration: 15 * time.Minute}},
		WCTP:  WCTPConfig{Enabled: true, MaxText: 4096, MaxBodyBytes: 256 << 10},
		Bus: BusConfig{Embedded: true, Listen: "127.0.0.1:18830", GatewayUser: "gateway",
			ClientID: "pagebridge-gateway", AckTimeout: Duration{Duration: 10 * time.Second}},
		SNPP: SNPPConfig{Listen: "0.0.0.0:444", IdleTimeout: Duration{Duration: 5 * time.Minute}, Line: "SNPP"},
		Routing: RoutingConfig{PagerMaxLen: 240, SMSMaxLen: 160, AlertAfter: Duration{Duration: time.Minute}, DiskFreeMin: 0.10,
			DedupeWindow: Duration{Duration: 2 * time.Minute}, RateLimit: 6, RateWindow: Duration{Duration: 10 * time.Minute}},
		Threads: ThreadsConfig{RetainPage: Duration{Duration: 30 * 24 * time.Hour}, RetainDirect: Duration{Duration: 90 * 24 * time.Hour},
			RetainGroup: Duration{Duration: 90 * 24 * time.Hour}, RetainRole: Duration{Duration: 90 * 24 * time.Hour},
			SweepInterval: Duration{Duration: time.Hour}, AttachmentMaxSize: threads.DefaultAttachmentPolicy.MaxSize,
			AttachmentTypes: slices.Clone(threads.DefaultAttachmentPolicy.Types)},
		Web: WebConfig{Enabled: true, IdleTimeout: Duration{Duration: 15 * time.Minute}, SessionLifetime: Duration{Duration: 12 * time.Hour},
			MFARoles: []string{"admin", "operator"}, LockoutAfter: 5, LockoutDuration: Duration{Duration: 15 * time.Minute},
			AttemptsPerAddress: 20, AttemptsPerAccount: 10},
		Log: LogConfig{Level: "info", Format: "text"},
	}
}

// ConfigError is a configuration problem, named by its key.
type ConfigError struct {
	Key string
	Err error
}

func (e *ConfigError) Error() string { return "config: " + e.Key + ": " + e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// LoadConfig reads path over DefaultConfig and validates the result.
// Unknown keys are errors: a typo must not silently fall back to a default.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	md, err := toml.DecodeFile(path, &cfg)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return cfg, &ConfigError{Key: path, Err: fmt.Errorf("line %d: %s", perr.Position.Line, perr.Message)}
		}
		return cfg, &ConfigError{Key: path, Err: err}
	}
	if und := md.Undecoded(); len(und) > 0 {
		return cfg, &ConfigError{Key: und[0].String(), Err: errors.New("unknown key")}
	}
	return cfg, cfg.Validate()
}

// Validate checks every field and names the first bad key.
func (c *Config) Validate() error {
	bad := func(key, format string, args ...any) error {
		return &ConfigError{Key: key, Err: fmt.Errorf(format, args...)}
	}
	if _, _, err := net.SplitHostPort(c.Server.Listen); err != nil {
		return bad("server.listen", "%v", err)
	}
	if (c.Server.TLSCert == "") != (c.Server.TLSKey == "") {
		return bad("server.tls_cert", "tls_cert and tls_key must be set together")
	}
	for key, d := range map[string]Duration{
		"server.read_header_timeout": c.Server.ReadHeaderTimeout, "server.read_timeout": c.Server.ReadTimeout,
		"server.write_timeout": c.Server.WriteTimeout, "server.idle_timeout": c.Server.IdleTimeout,
		"server.shutdown_timeout": c.Server.ShutdownTimeout, "storage.lock_timeout": c.Storage.LockTimeout,
		"audit.head_log_interval": c.Audit.HeadLogInterval,
	} {
		if d.Duration <= 0 {
			return bad(key, "must be a positive duration like \"5s\"")
		}
	}
	if c.Storage.AuditRetention.Duration < 6*365*24*time.Hour {
		return bad("storage.audit_retention", "must be at least six years (HIPAA documentation retention), got %v", c.Storage.AuditRetention)
	}
	if !filepath.IsAbs(c.Storage.DataDir) {
		return bad("storage.data_dir", "must be an absolute path")
	}
	for key, p := range map[string]string{"storage.key_file": c.Storage.KeyFile, "storage.audit_key_file": c.Storage.AuditKeyFile} {
		if !filepath.IsAbs(p) {
			return bad(key, "must be an absolute path")
		}
		if conf.Within(c.Storage.DataDir, p) {
			return bad(key, "%s is inside the data dir %s; keys must live apart from the data they protect", p, c.Storage.DataDir)
		}
	}
	if c.Storage.KeyFile == c.Storage.AuditKeyFile {
		return bad("storage.audit_key_file", "must differ from storage.key_file")
	}
	if !filepath.IsAbs(c.Admin.Socket) {
		return bad("admin.socket", "must be an absolute path")
	}
	if len(c.Admin.Socket) > 104 {
		return bad("admin.socket", "path longer than a Unix socket allows (104 bytes)")
	}
	if c.Routing.PagerMaxLen < 20 || c.Routing.PagerMaxLen > 4096 {
		return bad("routing.pager_max_len", "must be between 20 and 4096")
	}
	if c.Routing.SMSMaxLen < 20 || c.Routing.SMSMaxLen > 4096 {
		return bad("routing.sms_max_len", "must be between 20 and 4096")
	}
	if c.Routing.AlertAfter.Duration <= 0 {
		return bad("routing.alert_after", "must be a positive duration like \"1m\"")
	}
	for key, d := range map[string]Duration{"threads.retain_page": c.Threads.RetainPage, "threads.retain_direct": c.Threads.RetainDirect,
		"threads.retain_group": c.Threads.RetainGroup, "threads.retain_role": c.Threads.RetainRole} {
		if d.Duration < 0 {
			return bad(key, "must be 0 (keep) or a positive duration like \"720h\"")
		}
	}
	if c.Threads.SweepInterval.Duration < time.Minute {
		return bad("threads.sweep_interval", "must be at least 1m")
	}
	if n := c.Threads.AttachmentMaxSize; n < 1024 || n > storage.MaxAttachmentSize {
		return bad("threads.attachment_max_size", "must be 1024 to %d bytes, got %d", storage.MaxAttachmentSize, n)
	}
	if len(c.Threads.AttachmentTypes) == 0 {
		return bad("threads.attachment_types", "must name at least one media type, like \"image/png\"")
	}
	for _, t := range c.Threads.AttachmentTypes {
		if mt, params, err := mime.ParseMediaType(t); err != nil || mt != t || len(params) > 0 || t == "image/svg+xml" {
			return bad("threads.attachment_types", "%q is not a media type without parameters (SVG is never allowed)", t)
		}
	}
	for i, l := range c.Routing.LineSilence {
		if l.Line == "" || l.Max.Duration < time.Minute {
			return bad(fmt.Sprintf("routing.line_silence[%d]", i), "needs a line and a max of at least 1m")
		}
	}
	for i, r := range c.Routing.PriorityRules {
		if err := r.Validate(); err != nil {
			return bad(fmt.Sprintf("routing.priority_rule[%d]", i), "%v", err)
		}
	}
	if c.Routing.RateLimit < 0 || (c.Routing.RateLimit > 0 && c.Routing.RateWindow.Duration < time.Minute) {
		return bad("routing.rate_limit", "must be 0 (no limit) or positive with a rate_window of at least 1m")
	}
	if w := c.Routing.DedupeWindow.Duration; w < 0 || w > time.Hour {
		return bad("routing.dedupe_window", "must be from 0 (off) to 1h")
	}
	if c.Routing.DiskFreeMin < 0 || c.Routing.DiskFreeMin >= 1 {
		return bad("routing.disk_free_min", "must be a fraction from 0 to below 1 (0.10 is 10 %%)")
	}
	if len(c.Routing.AlertPagerID) > paging.MaxPagerIDLen {
		return bad("routing.alert_pager_id", "longer than %d bytes", paging.MaxPagerIDLen)
	}
	if d := c.Routing.SMSDevice; d != "" {
		if a, dev, ok := strings.Cut(d, "/"); !ok || !agentapi.ValidID(a) || !agentapi.ValidID(dev) {
			return bad("routing.sms_device", "want agent/device, got %q", d)
		}
	}
	if c.SNPP.Enabled {
		if _, _, err := net.SplitHostPort(c.SNPP.Listen); err != nil {
			return bad("snpp.listen", "%v", err)
		}
		for i, a := range c.SNPP.Allow {
			if _, err := netip.ParsePrefix(a); err != nil {
				return bad(fmt.Sprintf("snpp.allow[%d]", i), "%v (want CIDR like 10.1.0.0/16)", err)
			}
		}
		if c.SNPP.IdleTimeout.Duration < time.Second {
			return bad("snpp.idle_timeout", "must be at least 1s")
		}
	}
	if c.WCTP.MaxText < 1 || c.WCTP.MaxText > 64<<10 {
		return bad("wctp.max_text", "must be between 1 and 65536")
	}
	if c.WCTP.MaxBodyBytes < 1024 {
		return bad("wctp.max_body_bytes", "must be at least 1024")
	}
	var senders, clients, agents []credential
	for _, s := range c.WCTP.Senders {
		senders = append(senders, credential{s.ID, s.SecurityCode})
	}
	for _, cl := range c.WCTP.Clients {
		clients = append(clients, credential{cl.ID, cl.Password})
	}
	for _, a := range c.Bus.Agents {
		agents = append(agents, credential{a.ID, a.Password})
	}
	var snppLogins []credential
	for _, l := range c.SNPP.Logins {
		snppLogins = append(snppLogins, credential{l.ID, l.Password})
	}
	for _, list := range []struct {
		key, secretKey string
		minLen         int
		creds          []credential
	}{
		{"wctp.sender", "security_code", 8, senders},
		{"wctp.client", "password", 8, clients},
		{"bus.agent", "password", 12, agents},
		{"snpp.login", "password", 8, snppLogins},
	} {
		if err := checkCredentials(list.key, list.secretKey, list.minLen, list.creds); err != nil {
			return err
		}
	}
	if c.Bus.Embedded {
		if _, _, err := net.SplitHostPort(c.Bus.Listen); err != nil {
			return bad("bus.listen", "%v", err)
		}
		if (c.Bus.TLSCert == "") != (c.Bus.TLSKey == "") {
			return bad("bus.tls_cert", "tls_cert and tls_key must be set together")
		}
	}
	if !c.Bus.Embedded {
		if err := link.CheckBroker(c.Bus.Broker); err != nil {
			return bad("bus.broker", "%v (required when embedded = false)", err)
		}
		if !link.Secure(c.Bus.Broker) && !link.Loopback(c.Bus.Broker) {
			return bad("bus.broker", "off loopback the bus must use TLS (tls://host:port)")
		}
		if !link.Loopback(c.Bus.Broker) && len(c.Bus.GatewayPassword) < 12 {
			return bad("bus.gateway_password", "required (at least 12 characters) for a broker off loopback")
		}
	} else if c.Bus.Broker != "" {
		return bad("bus.broker", "only with embedded = false")
	}
	if c.Bus.ClientID == "" {
		return bad("bus.client_id", "required")
	}
	if c.Bus.AckTimeout.Duration < 100*time.Millisecond {
		return bad("bus.ack_timeout", "at least 100ms")
	}
	if len(c.Bus.Agents) > 0 && len(c.Bus.GatewayPassword) < 12 {
		return bad("bus.gateway_password", "required (at least 12 characters) when agents have credentials")
	}
	if err := c.Web.validate(); err != nil {
		return err
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		return bad("log.level", "must be debug, info, warn or error")
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return bad("log.format", "must be text or json")
	}
	return nil
}

// validate checks the [web] section.
func (w *WebConfig) validate() error {
	bad := func(key, format string, args ...any) error {
		return &ConfigError{Key: "web." + key, Err: fmt.Errorf(format, args...)}
	}
	switch idle, life := w.IdleTimeout.Duration, w.SessionLifetime.Duration; {
	case idle < time.Minute || idle > 24*time.Hour:
		return bad("idle_timeout", "must be from 1m to 24h (HIPAA automatic logoff; 15m is the default)")
	case life < idle || life > 24*time.Hour:
		return bad("session_lifetime", "must be at least idle_timeout and at most 24h")
	}
	for _, must := range []string{"admin", "operator"} {
		if !slices.Contains(w.MFARoles, must) {
			return bad("mfa_roles", "must include %q: administrators and dispatchers always sign in with a second factor", must)
		}
	}
	for i, r := range w.MFARoles {
		if !slices.Contains(ui.Roles, r) {
			return bad(fmt.Sprintf("mfa_roles[%d]", i), "unknown role %q (roles: %s)", r, strings.Join(ui.Roles, ", "))
		}
	}
	switch {
	case w.LockoutAfter < 1 || w.LockoutAfter > 100:
		return bad("lockout_after", "must be from 1 to 100 failed sign-ins")
	case w.LockoutDuration.Duration < time.Minute:
		return bad("lockout_duration", "must be at least 1m")
	case w.AttemptsPerAddress < 1:
		return bad("attempts_per_address", "must be at least 1 a minute")
	case w.AttemptsPerAccount < 1:
		return bad("attempts_per_account", "must be at least 1 a minute")
	}
	return nil
}

// credential is an ID and its secret from one of the config's lists.
type credential struct{ id, secret string }

// checkCredentials checks a list of credentials: every ID present and
// unique, every secret at least minLen characters. Errors name the key, as
// in "wctp.sender[1].id".
func checkCredentials(key, secretKey string, minLen int, creds []credential) error {
	seen := map[string]bool{}
	for i, c := range creds {
		k := fmt.Sprintf("%s[%d]", key, i)
		switch {
		case c.id == "":
			return &ConfigError{Key: k + ".id", Err: errors.New("required")}
		case seen[c.id]:
			return &ConfigError{Key: k + ".id", Err: fmt.Errorf("duplicate id %q", c.id)}
		case len(c.secret) < minLen:
			return &ConfigError{Key: k + "." + secretKey, Err: fmt.Errorf("must be at least %d characters", minLen)}
		}
		seen[c.id] = true
	}
	return nil
}

// writeConfig writes cfg as TOML to path atomically, mode 0640.
func writeConfig(path string, cfg Config) error {
	var b strings.Builder
	b.WriteString("# Pagebridge gateway configuration. Every key is optional; defaults are in the README.\n")
	if err := toml.NewEncoder(&b).Encode(cfg); err != nil {
		return err
	}
	return conf.WriteFile(path, []byte(b.String()), 0o640)
}
