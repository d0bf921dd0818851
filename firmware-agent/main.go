// Command pagebridge-agent is the hardware side of Pagebridge: it owns the
// serial lines (TAP, cellular modems, paging terminals) and the raw TCP
// sockets of serial device servers, and talks to the gateway over the MQTT
// bus. It holds no PHI at rest except in its sealed spool.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"pagebridge/firmware-agent/agent"
	"pagebridge/internal/conf"
	"pagebridge/internal/sdnotify"
	"pagebridge/storage"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
	exitConfig  = 78 // EX_CONFIG: systemd's RestartPreventExitStatus=
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pagebridge-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "/etc/pagebridge/agent.toml", "configuration file")
	showVersion := fs.Bool("version", false, "print the version and exit")
	check := fs.Bool("check", false, "validate the configuration and exit")
	createKey := fs.Bool("create-key", false, "create agent.key_file if it does not exist, then exit (the package's postinst runs it)")
	defaults := fs.Bool("defaults", false, "print the default configuration, every key commented out, and exit")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() == 1 && fs.Arg(0) == "version" {
		*showVersion = true
	} else if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pagebridge-agent: unexpected arguments %q\n", fs.Args())
		fs.Usage()
		return exitUsage
	}
	if *showVersion {
		fmt.Fprintln(stdout, "pagebridge-agent", version)
		return exitOK
	}
	if *defaults {
		b, err := conf.Commented(defaultsHeader, agent.DefaultConfig())
		if err != nil {
			fmt.Fprintln(stderr, "pagebridge-agent:", err)
			return exitFailure
		}
		stdout.Write(b)
		return exitOK
	}
	cfg, err := agent.LoadConfig(*path)
	if err != nil {
		fmt.Fprintln(stderr, "pagebridge-agent:", err)
		return exitConfig
	}
	if *createKey {
		return createKeyFile(cfg.Agent.KeyFile, stdout, stderr)
	}
	if *check {
		fmt.Fprintf(stdout, "configuration ok: agent %s, %d devices\n", cfg.Agent.ID, len(cfg.Devices))
		return exitOK
	}
	log := slog.New(slog.NewTextHandler(stderr, nil)).With("agent", cfg.Agent.ID)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	a, err := agent.New(cfg, agent.Options{Logger: log, Version: version})
	if err != nil {
		log.Error("start", "err", err)
		return exitFailure
	}
	// Ready once the spool is open and the devices are set up: the agent
	// serves its lines with or without the bus. The watchdog is fed while
	// the spool answers a read.
	stopNotify := sdnotify.Start(ctx, log, fmt.Sprintf("agent %s, %d devices", cfg.Agent.ID, len(cfg.Devices)),
		func(ctx context.Context) error { _, err := a.Spool().Stats(ctx); return err })
	err = a.Run(ctx)
	stopNotify()
	if err != nil {
		log.Error("stopped", "err", err)
		return exitFailure
	}
	return exitOK
}

// defaultsHeader heads the configuration file the package installs.
const defaultsHeader = `Pagebridge agent configuration (pagebridge-agent -config /etc/pagebridge/agent.toml).

Every key is optional: each line below shows a default, commented out. Add one
[[device]] table per paging terminal, TAP line or modem; the kinds, their keys
and examples are in /usr/share/doc/pagebridge/README.md.gz, and stable device
names (udev) in /usr/share/doc/pagebridge/operations.md.gz. Check an edit with
pagebridge-agent -check; a bad value stops the daemon with exit code 78 and a
message naming the key (journalctl -u pagebridge-agent).
`

// createKeyFile makes the spool's key-encryption key if it is missing;
// an existing one is kept.
func createKeyFile(path string, stdout, stderr io.Writer) int {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		fmt.Fprintln(stderr, "pagebridge-agent: key dir:", err)
		return exitFailure
	}
	k, created, err := storage.LoadOrCreateKeyring(path)
	if err != nil {
		fmt.Fprintln(stderr, "pagebridge-agent:", err)
		return exitFailure
	}
	if created {
		fmt.Fprintf(stdout, "created spool key %s (%s): put a copy in escrow\n", path, k.ActiveID())
	} else {
		fmt.Fprintf(stdout, "kept spool key %s (%s)\n", path, k.ActiveID())
	}
	return exitOK
}
