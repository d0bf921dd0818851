package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"pagebridge/gateway/api"
	"pagebridge/gateway/oncall"
	"pagebridge/gateway/routing"
	"path/filepath"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/pquerna/otp/totp"

	"pagebridge/gateway/paging"
	"pagebridge/internal/conf"
	"pagebridge/storage"
)

// demoConfigName is the config file a demo directory holds.
const demoConfigName = "pagebridge.toml"

// demoPasswordFile keeps the demo accounts' shared password so that a
// restarted demo can show it again; demoTOTPFile the TOTP secrets of the
// accounts that sign in with a second factor. Both live outside the data
// dir, mode 0600: demo only.
const (
	demoPasswordFile = "demo-password"
	demoTOTPFile     = "demo-totp-secrets.json"
)

// demoTokenFile keeps the demo's admin API token (only its hash is in the
// store), so the banner can show it again after a restart.
const demoTokenFile = "admin-api-token"

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("data", "", "demo directory (default: a pagebridge-demo directory in your cache dir)")
	listen := fs.String("listen", "127.0.0.1:8443", "HTTPS listen address")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		*dir = filepath.Join(cache, "pagebridge-demo")
	}
	root, err := filepath.Abs(*dir)
	if err != nil {
		fmt.Fprintln(stderr, "pagebridge demo:", err)
		return exitUsage
	}
	cfg, err := demoConfig(root, *listen)
	if err != nil {
		fmt.Fprintln(stderr, "pagebridge demo:", err)
		return exitConfig
	}
	return serve(ctx, cfg, stdout, stderr, func(m *Main) error {
		logins, err := seedDemo(ctx, m.store, root)
		if err != nil {
			return fmt.Errorf("seed demo: %w", err)
		}
		hw, err := startDemoHardware(m, root)
		if err != nil {
			return err
		}
		m.OnClose(hw.close)
		printDemo(stdout, m, root, logins, cfg, hw)
		return nil
	})
}

// demoConfig loads root/pagebridge.toml, writing it first if root is new.
// The listen flag always wins, so a demo directory can move ports.
func demoConfig(root, listen string) (Config, error) {
	path := filepath.Join(root, demoConfigName)
	if !fileExists(path) {
		if err := os.MkdirAll(root, 0o700); err != nil {
			return Config{}, err
		}
		cfg := DefaultConfig()
		cfg.Storage.DataDir = filepath.Join(root, "data")
		cfg.Storage.KeyFile = filepath.Join(root, "keys", "kek")
		cfg.Storage.AuditKeyFile = filepath.Join(root, "keys", "audit-hmac")
		cfg.Storage.CreateKeys = true
		cfg.Admin.Socket = filepath.Join(root, "admin.sock")
		cfg.WCTP.Senders = []WCTPSender{{ID: "demo-nurse-call", SecurityCode: randomSecret(16), Line: "4W nurse call (demo)"}}
		cfg.Routing.DefaultPolicy = "standard"
		cfg.Routing.FallbackRole = "switchboard"
		cfg.Routing.AlertPagerID = "it-alerts"
		cfg.Routing.SMSDevice = "demo-agent/sms" // the agent's modem pool
		cfg.SNPP.Enabled, cfg.SNPP.Listen, cfg.SNPP.Line = true, "127.0.0.1:10444", "SNPP (demo)"
		if err := writeConfig(path, cfg); err != nil {
			return Config{}, fmt.Errorf("write demo config: %w", err)
		}
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		return cfg, err
	}
	cfg.Server.Listen = listen
	// A demo on a free port (tests, bench) puts its bus on one too, so
	// that several can run at once.
	if _, port, err := net.SplitHostPort(listen); err == nil && port == "0" {
		cfg.Bus.Listen = "127.0.0.1:0"
		if cfg.SNPP.Enabled {
			cfg.SNPP.Listen = "127.0.0.1:0"
		}
	}
	return cfg, cfg.Validate()
}

// randomSecret returns n characters from an alphabet without look-alikes.
func randomSecret(n int) string {
	const alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// The demo hospital: one person at each migration stage, the switchboard
// and IT, on-call roles with schedules, a group, escalation policies, and
// a legacy pager ID for each way in.
var (
	demoPeople = []paging.Person{
		{ID: "admin", Name: "Hospital IT Admin", Department: "IT", Title: "Administrator", Stage: paging.StageApp,
			Roles: []string{"it-oncall"}, Endpoints: []paging.Endpoint{{Channel: paging.ChannelApp, Address: "admin"}}},
		{ID: "amara.okafor", Name: "Dr Amara Okafor", Department: "Cardiology", Title: "Cardiologist", Stage: paging.StageApp,
			Roles:     []string{"cardiology-oncall"},
			Endpoints: []paging.Endpoint{{Channel: paging.ChannelApp, Address: "amara.okafor"}, {Channel: paging.ChannelSMS, Address: "+15555550101"}}},
		{ID: "ben.lee", Name: "Ben Lee RN", Department: "4 West", Title: "Charge nurse", Stage: paging.StagePager,
			Endpoints: []paging.Endpoint{{Channel: paging.ChannelPager, Address: "1002", Via: "demo-agent/terminal-1"}}},
		{ID: "sofia.reyes", Name: "Dr Sofia Reyes", Department: "Emergency", Title: "Attending", Stage: paging.StageBoth,
			Roles: []string{"cardiology-oncall"},
			Endpoints: []paging.Endpoint{{Channel: paging.ChannelApp, Address: "sofia.reyes"},
				{Channel: paging.ChannelPager, Address: "1003", Via: "demo-agent/terminal-1"}, {Channel: paging.ChannelSMS, Address: "+15555550103"}}},
		{ID: "operator", Name: "Switchboard operator", Department: "Switchboard", Title: "Operator", Stage: paging.StageApp,
			Roles: []string{"switchboard"}, Endpoints: []paging.Endpoint{{Channel: paging.ChannelApp, Address: "operator"}}},
	}
	demoRoles = []paging.Role{
		{ID: "cardiology-oncall", Name: "Cardiology on call"},
		{ID: "switchboard", Name: "Switchboard (fallback for unanswered pages)"},
		{ID: "it-oncall", Name: "IT on call (system alerts)"},
	}
	demoGroups = []paging.Group{{ID: "code-team", Name: "Code blue team", Members: []string{"amara.okafor", "sofia.reyes", "ben.lee"}}}
	demoPagers = []paging.PagerID{
		{ID: "1001", Target: paging.Target{Kind: paging.TargetPerson, ID: "amara.okafor"}, Label: "Dr Okafor"},
		{ID: "1002", Target: paging.Target{Kind: paging.TargetPerson, ID: "ben.lee"}, Label: "4W charge nurse"},
		{ID: "1003", Target: paging.Target{Kind: paging.TargetPerson, ID: "sofia.reyes"}, Label: "Dr Reyes"},
		{ID: "2000", Target: paging.Target{Kind: paging.TargetRole, ID: "cardiology-oncall"}, Priority: paging.PriorityHigh, Label: "Cardiology on call"},
		{ID: "9999", Target: paging.Target{Kind: paging.TargetGroup, ID: "code-team"}, Priority: paging.PriorityCritical, Policy: "code-blue", Label: "Code blue"},
		{ID: "it-alerts", Target: paging.Target{Kind: paging.TargetRole, ID: "it-oncall"}, Priority: paging.PriorityHigh, Label: "Pagebridge system alerts"},
	}
)

// demoRecords are the demo's schedules and escalation policies: the two
// cardiologists alternate weeks, with the attending covering weekday days;
// the switchboard and IT are always on call.
func demoRecords() []storage.ImportRecord {
	week := oncall.Length{N: 1, Unit: oncall.UnitWeek}
	start := oncall.LocalTime{Year: 2026, Month: 1, Day: 5, Hour: 8}
	always := func(id, role, person string) storage.ImportRecord {
		return storage.ImportRecord{Kind: storage.KindSchedule, ID: id, Value: oncall.Schedule{ID: id, RoleID: role, Name: id,
			TimeZone: "America/New_York", Layers: []oncall.Layer{{Name: "always", Participants: []string{person}, Start: start, Shift: week}}}}
	}
	weekdays := []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	app, pager, sms := []paging.Channel{paging.ChannelApp}, []paging.Channel{paging.ChannelApp, paging.ChannelPager}, []paging.Channel{paging.ChannelSMS}
	return []storage.ImportRecord{
		{Kind: storage.KindSchedule, ID: "cardiology", Value: oncall.Schedule{ID: "cardiology", RoleID: "cardiology-oncall", Name: "Cardiology",
			TimeZone: "America/New_York", Layers: []oncall.Layer{
				{Name: "weekly", Participants: []string{"amara.okafor", "sofia.reyes"}, Start: start, Shift: week},
				{Name: "weekday days", Participants: []string{"sofia.reyes"}, Start: start, Shift: week,
					Windows: []oncall.Window{{Days: weekdays, Start: 8 * 60, End: 17 * 60}}},
			}}},
		always("switchboard", "switchboard", "operator"),
		// Presence, as the profile page sets it: the charge nurse is in
		// theatre (busy: still paged, senders see the note).
		{Kind: storage.KindPresence, ID: "ben.lee", Value: routing.Presence{Person: "ben.lee", State: routing.PresenceBusy,
			Note: "In theatre until 14:00"}},
		always("it", "it-oncall", "admin"),
		{Kind: storage.KindPolicy, ID: "standard", Value: routing.Policy{ID: "standard", Name: "Standard: stage channels, then everything after 5 min",
			Steps:         []routing.Step{{}, {Delay: 5 * time.Minute, Channels: []paging.Channel{paging.ChannelApp, paging.ChannelPager, paging.ChannelSMS}}},
			FallbackAfter: 5 * time.Minute}},
		{Kind: storage.KindPolicy, ID: "code-blue", Value: routing.Policy{ID: "code-blue", Name: "Code blue team: app and pager, repeat, SMS, switchboard; every member keeps it",
			Steps: []routing.Step{{Channels: pager}, {Delay: time.Minute, Channels: app}, {Delay: time.Minute, Channels: sms},
				{Delay: time.Minute, Targets: []paging.Target{{Kind: paging.TargetRole, ID: "switchboard"}}}},
			Repeat: 1, FallbackAfter: 2 * time.Minute, Team: true}},
	}
}

// demoSampleRef prefixes the sender references of the sample pages.
const demoSampleRef = "demo-sample-"

// demoPages are accepted at the first start, so the demo shows pages
// routed and escalating: one to a pager-stage nurse, one to the role.
var demoPages = []struct {
	pagerID string
	prio    paging.Priority
	text    string
}{
	{"1002", paging.PriorityNormal, "Room 12 call bell (demo)"},
	{"2000", paging.PriorityHigh, "ED: chest pain, troponin pending (demo)"},
}

// demoAccounts are the demo's web accounts, one per seeded person who
// uses the app or the console; those with mfa sign in with a TOTP code.
var demoAccounts = []struct {
	username, role string
	mfa            bool
}{
	{"admin", "admin", true},
	{"operator", "operator", true},
	{"amara.okafor", "clinician", false},
	{"sofia.reyes", "clinician", false},
	{"ben.lee", "clinician", false},
}

// demoLogins is how to sign in to the demo's web app.
type demoLogins struct {
	Password string
	// TOTP holds the TOTP secret of each account that needs one.
	TOTP map[string]string
}

// seedDemo fills a new demo store and its web accounts, and returns how to
// sign in. On a store seeded before it adds only the web accounts missing.
func seedDemo(ctx context.Context, st *storage.Store, root string) (demoLogins, error) {
	if _, err := st.Person(ctx, "admin"); errors.Is(err, paging.ErrNotFound) {
		if err := seedHospital(ctx, st, root); err != nil {
			return demoLogins{}, err
		}
	} else if err != nil {
		return demoLogins{}, err
	}
	return seedWebAccounts(ctx, st, root)
}

// seedHospital imports the demo hospital, accepts its sample pages and
// makes the admin API token.
func seedHospital(ctx context.Context, st *storage.Store, root string) error {
	by := paging.AuditEvent{Actor: "system", Action: "demo.seed", Source: "demo"}
	im := storage.Import{People: demoPeople, Roles: demoRoles, Groups: demoGroups, PagerIDs: demoPagers, Records: demoRecords()}
	if err := st.ImportDirectory(ctx, im, by); err != nil {
		return err
	}
	now := time.Now()
	for i, p := range demoPages {
		m := &paging.Message{ID: paging.NewID(now), Source: paging.Source{Protocol: paging.ProtocolWCTP, Line: "4W nurse call (demo)", Sender: "demo-nurse-call"},
			PagerID: p.pagerID, Priority: p.prio, Text: paging.NewPHI(p.text), Received: now, SenderRef: fmt.Sprintf("%s%d", demoSampleRef, i+1)}
		if err := st.Accept(ctx, m, paging.AuditEvent{Actor: "wctp:demo-nurse-call", Detail: "demo page"}); err != nil {
			return err
		}
	}
	token, _, err := api.CreateToken(ctx, st, "demo admin", "admin", "", 0, by)
	if err != nil {
		return err
	}
	return conf.WriteFile(filepath.Join(root, demoTokenFile), []byte(token), 0o600)
}

// seedWebAccounts creates the demo's web accounts that are missing, with
// the demo's password and, for the roles that need one, a TOTP second
// factor already enrolled (demo only: a real account enrols its own).
func seedWebAccounts(ctx context.Context, st *storage.Store, root string) (demoLogins, error) {
	var out demoLogins
	pwFile, totpFile := filepath.Join(root, demoPasswordFile), filepath.Join(root, demoTOTPFile)
	b, err := os.ReadFile(pwFile)
	switch {
	case err == nil:
		out.Password = string(b)
	case errors.Is(err, os.ErrNotExist):
		out.Password = randomSecret(16)
		if err := conf.WriteFile(pwFile, []byte(out.Password), 0o600); err != nil {
			return out, err
		}
	default:
		return out, err
	}
	out.TOTP = map[string]string{}
	if b, err := os.ReadFile(totpFile); err == nil {
		if err := json.Unmarshal(b, &out.TOTP); err != nil {
			return out, fmt.Errorf("%s: %w", totpFile, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return out, err
	}
	by := paging.AuditEvent{Actor: "system", Action: "demo.seed", Source: "demo"}
	var hash string
	for _, a := range demoAccounts {
		if a.mfa && out.TOTP[a.username] == "" {
			key, err := totp.Generate(totp.GenerateOpts{Issuer: "Pagebridge demo", AccountName: a.username})
			if err != nil {
				return out, err
			}
			out.TOTP[a.username] = key.Secret()
		}
		if _, err := st.Account(ctx, a.username); err == nil {
			continue
		} else if !errors.Is(err, paging.ErrNotFound) {
			return out, err
		}
		if hash == "" {
			if hash, err = argon2id.CreateHash(out.Password, argon2id.DefaultParams); err != nil {
				return out, err
			}
		}
		if err := st.PutAccount(ctx, storage.Account{Username: a.username, PersonID: a.username, PasswordHash: hash,
			Roles: []string{a.role}, Created: time.Now().UTC()}, by); err != nil {
			return out, err
		}
		if a.mfa {
			if err := st.SetTOTP(ctx, a.username, out.TOTP[a.username], true, by); err != nil {
				return out, err
			}
		}
	}
	secrets, err := json.MarshalIndent(out.TOTP, "", "  ")
	if err != nil {
		return out, err
	}
	return out, conf.WriteFile(totpFile, secrets, 0o600)
}

func printDemo(w io.Writer, m *Main, root string, logins demoLogins, cfg Config, hw *demoHardware) {
	_, port, _ := net.SplitHostPort(m.httpLn.Addr().String())
	base := "https://localhost:" + port
	sender := cfg.WCTP.Senders[0]
	fmt.Fprintf(w, `
Pagebridge demo is running (simulated hospital; stop with Ctrl-C).
  web UI       %s/   (self-signed certificate: the browser warns once)
  health       %s/healthz
  agent bus    %s
  hardware     %s/api/v1/agents   (API token; agent demo-agent: simulated paging terminal and modem on ptys in %s)
  TAP line     %s   (TAP 1.8 over TCP, as a nurse-call serial device server sends it)
               go run ./gateway send -tap %s -pager 1002 "Room 12 call bell"
`, base, base, busAddr(m), base, filepath.Join(root, "dev"), hw.tapAddr, hw.tapAddr)
	if m.snppLn != nil {
		fmt.Fprintf(w, "  SNPP         %s   (go run ./gateway send -snpp %s -pager 1002 \"Room 12 call bell\", or HylaFAX sendpage -h %s -p 1002)\n",
			m.snppLn.Addr(), m.snppLn.Addr(), m.snppLn.Addr())
	}
	fmt.Fprintln(w, "               pages for 1002 (Ben Lee, pager stage) show up below as \"simulated paging terminal took a page\"")
	if m.web != nil {
		fmt.Fprintf(w, `  web app      %s/app/   (demo only: these secrets are printed here and nowhere else)
               password for every demo account: %s
               admin (administrator) and operator (dispatcher) sign in with a TOTP code as well:
                 admin     TOTP secret %s
                 operator  TOTP secret %s
               (add the secret to an authenticator app, or: oathtool --totp -b SECRET)
               amara.okafor, sofia.reyes (clinicians on the app) and ben.lee need no code;
               send a page to 1001 (below, with recipientID="1001") and it appears in Dr Okafor's inbox live
`, base, logins.Password, logins.TOTP["admin"], logins.TOTP["operator"])
	}
	fmt.Fprintf(w, `  directory    pager 1001 Dr Okafor (app) · 1002 Ben Lee RN (pager) · 1003 Dr Reyes (both)
               2000 cardiology on call (weekly rotation) · 9999 code blue team (escalating policy)
               unanswered pages go to the switchboard; system alerts to IT on call
  JSON API     %s/api/v1/openapi.yaml · admin token in %s
               curl -sk -H "Authorization: Bearer $(cat %s)" %s/api/v1/pages
  pages        go run ./gateway pages -data %s   (where each page went, its escalation)
               go run ./gateway ack -data %s -message ID -person ID
  demo dir     %s   (config, data/, keys/)
  send a page  curl -sk %s/wctp -H 'Content-Type: text/xml' --data-binary \
                 '<wctp-Operation wctpVersion="wctp-dtd-v1r3"><wctp-SubmitRequest><wctp-SubmitHeader><wctp-Originator senderID="%s" securityCode="%s"/><wctp-MessageControl messageID="demo-1"/><wctp-Recipient recipientID="1002"/></wctp-SubmitHeader><wctp-Payload><wctp-Alphanumeric>Room 12 call bell</wctp-Alphanumeric></wctp-Payload></wctp-SubmitRequest></wctp-Operation>'
  admin tools  go run ./gateway audit verify -data %s
               go run ./gateway backup -data %s backup.db
`, base, filepath.Join(root, demoTokenFile), filepath.Join(root, demoTokenFile), base, root, root, root, base, sender.ID, sender.SecurityCode, root, root)
}

func busAddr(m *Main) string {
	if m.broker == nil {
		return "external broker"
	}
	return "mqtt://" + m.broker.Addr() + "   (embedded broker)"
}
