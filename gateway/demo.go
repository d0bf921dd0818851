package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/alexedwards/argon2id"

	"pagebridge/gateway/paging"
	"pagebridge/storage"
)

// demoConfigName is the config file a demo directory holds.
const demoConfigName = "pagebridge.toml"

// demoPasswordFile keeps the admin's one-time password so that a restarted
// demo can show it again. It lives outside the data dir, mode 0600.
const demoPasswordFile = "initial-admin-password"

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
		password, err := seedDemo(ctx, m.store, root)
		if err != nil {
			return fmt.Errorf("seed demo: %w", err)
		}
		hw, err := startDemoHardware(m, root)
		if err != nil {
			return err
		}
		m.OnClose(hw.close)
		printDemo(stdout, m, root, password, cfg, hw)
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

// The demo hospital: one person at each migration stage, an on-call role
// and a group, each reachable through a legacy pager ID.
var (
	demoPeople = []paging.Person{
		{ID: "admin", Name: "Hospital IT Admin", Department: "IT", Title: "Administrator", Stage: paging.StageApp,
			Endpoints: []paging.Endpoint{{Channel: paging.ChannelApp, Address: "admin"}}},
		{ID: "amara.okafor", Name: "Dr Amara Okafor", Department: "Cardiology", Title: "Cardiologist", Stage: paging.StageApp,
			Roles:     []string{"cardiology-oncall"},
			Endpoints: []paging.Endpoint{{Channel: paging.ChannelApp, Address: "amara.okafor"}, {Channel: paging.ChannelSMS, Address: "+15555550101"}}},
		{ID: "ben.lee", Name: "Ben Lee RN", Department: "4 West", Title: "Charge nurse", Stage: paging.StagePager,
			Endpoints: []paging.Endpoint{{Channel: paging.ChannelPager, Address: "1002", Via: "terminal-1"}}},
		{ID: "sofia.reyes", Name: "Dr Sofia Reyes", Department: "Emergency", Title: "Attending", Stage: paging.StageBoth,
			Roles: []string{"cardiology-oncall"},
			Endpoints: []paging.Endpoint{{Channel: paging.ChannelApp, Address: "sofia.reyes"},
				{Channel: paging.ChannelPager, Address: "1003", Via: "terminal-1"}, {Channel: paging.ChannelSMS, Address: "+15555550103"}}},
	}
	demoRoles  = []paging.Role{{ID: "cardiology-oncall", Name: "Cardiology on call"}}
	demoGroups = []paging.Group{{ID: "code-team", Name: "Code blue team", Members: []string{"amara.okafor", "sofia.reyes", "ben.lee"}}}
	demoPagers = []paging.PagerID{
		{ID: "1001", Target: paging.Target{Kind: paging.TargetPerson, ID: "amara.okafor"}},
		{ID: "1002", Target: paging.Target{Kind: paging.TargetPerson, ID: "ben.lee"}},
		{ID: "1003", Target: paging.Target{Kind: paging.TargetPerson, ID: "sofia.reyes"}},
		{ID: "2000", Target: paging.Target{Kind: paging.TargetRole, ID: "cardiology-oncall"}, Priority: paging.PriorityHigh},
		{ID: "9999", Target: paging.Target{Kind: paging.TargetGroup, ID: "code-team"}, Priority: paging.PriorityCritical},
	}
)

// seedDemo fills a new demo store and returns the admin's one-time
// password. On a store seeded before, it only reads the password back.
func seedDemo(ctx context.Context, st *storage.Store, root string) (string, error) {
	pwFile := filepath.Join(root, demoPasswordFile)
	if _, err := st.Account(ctx, "admin"); err == nil {
		b, err := os.ReadFile(pwFile)
		if errors.Is(err, os.ErrNotExist) {
			return "", nil // changed at first sign-in and removed
		}
		return string(b), err
	} else if !errors.Is(err, paging.ErrNotFound) {
		return "", err
	}
	by := paging.AuditEvent{Actor: "system", Action: "demo.seed", Source: "demo"}
	for _, r := range demoRoles {
		if err := st.PutRole(ctx, r, by); err != nil {
			return "", err
		}
	}
	for _, p := range demoPeople {
		if err := st.PutPerson(ctx, p, by); err != nil {
			return "", err
		}
	}
	for _, g := range demoGroups {
		if err := st.PutGroup(ctx, g, by); err != nil {
			return "", err
		}
	}
	for _, p := range demoPagers {
		if err := st.PutPagerID(ctx, p, by); err != nil {
			return "", err
		}
	}
	password := randomSecret(16)
	hash, err := argon2id.CreateHash(password, argon2id.DefaultParams)
	if err != nil {
		return "", err
	}
	if err := writeFileSync(pwFile, []byte(password), 0o600); err != nil {
		return "", err
	}
	err = st.PutAccount(ctx, storage.Account{Username: "admin", PersonID: "admin", PasswordHash: hash,
		Roles: []string{"admin"}, MustChangePassword: true, Created: time.Now().UTC()}, by)
	return password, err
}

func printDemo(w io.Writer, m *Main, root, password string, cfg Config, hw *demoHardware) {
	_, port, _ := net.SplitHostPort(m.httpLn.Addr().String())
	base := "https://localhost:" + port
	sender := cfg.WCTP.Senders[0]
	fmt.Fprintf(w, `
Pagebridge demo is running (simulated hospital; stop with Ctrl-C).
  web UI       %s/   (self-signed certificate: the browser warns once)
  health       %s/healthz
  agent bus    %s
  hardware     %s/api/v1/agents   (agent demo-agent: simulated paging terminal and modem on ptys in %s)
  TAP line     %s   (TAP 1.8 over TCP, as a nurse-call serial device server sends it)
`, base, base, busAddr(m), base, filepath.Join(root, "dev"), hw.tapAddr)
	if password != "" {
		fmt.Fprintf(w, "  admin        admin / %s   (one-time password; set your own at first sign-in)\n", password)
	}
	fmt.Fprintf(w, `  directory    pager 1001 Dr Okafor (app) · 1002 Ben Lee RN (pager) · 1003 Dr Reyes (both)
               2000 cardiology on call · 9999 code blue team
  demo dir     %s   (config, data/, keys/)
  send a page  curl -sk %s/wctp -H 'Content-Type: text/xml' --data-binary \
                 '<wctp-Operation wctpVersion="wctp-dtd-v1r3"><wctp-SubmitRequest><wctp-SubmitHeader><wctp-Originator senderID="%s" securityCode="%s"/><wctp-MessageControl messageID="demo-1"/><wctp-Recipient recipientID="1002"/></wctp-SubmitHeader><wctp-Payload><wctp-Alphanumeric>Room 12 call bell</wctp-Alphanumeric></wctp-Payload></wctp-SubmitRequest></wctp-Operation>'
  admin tools  go run ./gateway audit verify -data %s
               go run ./gateway backup -data %s backup.db
`, root, base, sender.ID, sender.SecurityCode, root, root)
}

func busAddr(m *Main) string {
	if m.broker == nil {
		return "external broker"
	}
	return "mqtt://" + m.broker.Addr() + "   (embedded broker)"
}
