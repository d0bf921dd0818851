// Command pagebridge is the Pagebridge gateway: the directory, routing and
// escalation, the IP ways in (WCTP today), the web app and the encrypted
// store. See the README for the whole appliance.
package main

import (
	// The zone database in the binary: on-call schedules must not change
	// meaning with the appliance's tzdata package, or break without it.
	_ "time/tzdata"

	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"pagebridge/internal/sdnotify"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit codes, the daemon's contract with its supervisor. exitConfig (78) is
// in config.go.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
	// exitVerify: audit verify found the chain broken.
	exitVerify = 3
)

const usage = `usage: pagebridge <command> [flags]

commands:
  serve   -config FILE          run the gateway daemon
  demo    [-data DIR] [-listen ADDR]
                                run the whole appliance on embedded defaults
  setup   [-config FILE]        create the key files and the self-signed TLS certificate
                                if missing (the package runs it on first install)
  defaults                      print the default configuration, every key commented out
  backup  [-config FILE | -data DIR] [-keep N] FILE | DIR/
                                write a consistent copy of the store to FILE, or to
                                DIR/pagebridge-<UTC time>.db keeping the newest N there
  restore [-config FILE | -data DIR] FILE | DIR
                                replace the store with a backup, or the newest in DIR
                                (daemon stopped)
  audit verify [-config FILE | -data DIR]
                                check the audit chain; exit 3 names the first bad entry
  keys rotate  [-config FILE | -data DIR]
                                new key-encryption key; re-wrap every data key
  test-page [-config FILE | -data DIR] -agent ID -device ID -to PAGER [-priority P] [-count N] TEXT
                                send test pages through one device of an agent (daemon running)
  pages   [-config FILE | -data DIR] [-n N]
                                the newest pages: where each went, on which channels, its state (JSON lines)
  ack     [-config FILE | -data DIR] -message ID -person ID [-channel app]
                                acknowledge a page for someone (stops its escalation; daemon running)
  token create [-config FILE | -data DIR] -name NAME -role admin|it|operator|clinician [-person ID] [-ttl D]
                                an API token for /api/v1 (printed once; daemon running)
  account create [-config FILE | -data DIR] -username NAME -role admin|it|operator|clinician -person ID [-name NAME]
                                a web account with a one-time password, the person made if -name
                                is given and the directory lacks it (daemon running)
  send    (-tap ADDR | -snpp ADDR) -pager ID [-pager ID …] TEXT
                                a simulated sender: page over TAP (TCP) or SNPP, as nurse call or a switchboard does
  bench   [-short] [-only ingest|bus|routing|tap|sms|airtime|web]
                                print each performance figure beside its target (ingest, bus, routing,
                                TAP, SMS beside its peers, POCSAG air time, web latency)
  version                       print the version

backup, audit verify and keys rotate talk to a running daemon over its admin
socket, and open the store directly when the daemon is stopped. -data DIR is a
demo directory (holding pagebridge.toml) or a data dir whose keys are named by
-config.

exit codes: 0 ok, 1 failure, 2 usage, 3 audit chain broken, 78 bad configuration.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// tuneGC trades memory for CPU: the daemon's live heap is small (tens of
// MB) and its allocation rate per page high, so collecting at 9× the live
// heap instead of 2× takes most of the collector's share of the CPU at
// full ingest. The soft limit keeps the heap bounded whatever the traffic:
// near it the collector runs as often as it must. GOGC and GOMEMLIMIT in
// the environment win.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(800)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(1 << 30)
	}
}

func run(args []string, stdout, stderr io.Writer) int {
	tuneGC()
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, stdout, stderr)
	case "demo":
		return cmdDemo(ctx, rest, stdout, stderr)
	case "setup":
		return cmdSetup(ctx, rest, stdout, stderr)
	case "defaults":
		return cmdDefaults(rest, stdout, stderr)
	case "backup":
		return cmdBackup(ctx, rest, stdout, stderr)
	case "restore":
		return cmdRestore(ctx, rest, stdout, stderr)
	case "pages":
		return cmdPages(ctx, rest, stdout, stderr)
	case "ack":
		return cmdAck(ctx, rest, stdout, stderr)
	case "account":
		return cmdAccount(ctx, rest, stdout, stderr)
	case "token":
		return cmdToken(ctx, rest, stdout, stderr)
	case "test-page":
		return cmdTestPage(ctx, rest, stdout, stderr)
	case "audit":
		if len(rest) > 0 && rest[0] == "verify" {
			return cmdAuditVerify(ctx, rest[1:], stdout, stderr)
		}
	case "keys":
		if len(rest) > 0 && rest[0] == "rotate" {
			return cmdKeysRotate(ctx, rest[1:], stdout, stderr)
		}
	case "bench":
		return cmdBench(ctx, rest, stdout, stderr)
	case "send":
		return cmdSend(ctx, rest, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "pagebridge", version)
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "pagebridge: unknown command %q\n\n%s", strings.Join(args, " "), usage)
	return exitUsage
}

// newLogger writes to stderr; journald adds time and unit.
func newLogger(lc LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(lc.Level))
	opts := &slog.HandlerOptions{Level: level}
	if lc.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", DefaultConfigPath, "configuration file")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	cfg, err := LoadConfig(*path)
	if err != nil {
		fmt.Fprintln(stderr, "pagebridge:", err)
		return exitConfig
	}
	return serve(ctx, cfg, stdout, stderr, nil)
}

// serve runs a gateway until ctx is done. ready, if set, runs once the
// listeners are up.
func serve(ctx context.Context, cfg Config, stdout, stderr io.Writer, ready func(*Main) error) int {
	log := newLogger(cfg.Log, stderr)
	m := NewMain(cfg, log, stdout)
	if err := m.Open(ctx); err != nil {
		log.Error("start", "err", err)
		return exitFailure
	}
	if ready != nil {
		if err := ready(m); err != nil {
			log.Error("start", "err", err)
			m.Close()
			return exitFailure
		}
	}
	stopNotify := sdnotify.Start(ctx, log, "serving https "+m.httpLn.Addr().String(),
		healthProbe(m.httpLn.Addr(), &m.httpSrv.TLSConfig.Certificates[0]))
	runErr := m.Run(ctx)
	stopNotify()
	if err := m.Close(); err != nil {
		log.Error("close", "err", err)
		if runErr == nil {
			runErr = err
		}
	}
	if runErr != nil {
		log.Error("stopped", "err", runErr)
		return exitFailure
	}
	log.Info("stopped cleanly")
	return exitOK
}
