// Command pagebridge-agent is the hardware side of Pagebridge: it owns the
// serial lines (TAP, ESPA 4.4.4, cellular modems, paging terminals) and the
// raw TCP sockets of serial device servers, and talks to the gateway over
// the MQTT bus. It holds no PHI at rest except in its sealed spool.
//
// This build loads and validates the device configuration and runs until
// stopped; the line drivers and the bus are added device kind by device
// kind.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

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
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *showVersion {
		fmt.Fprintln(stdout, "pagebridge-agent", version)
		return exitOK
	}
	cfg, err := LoadConfig(*path)
	if err != nil {
		fmt.Fprintln(stderr, "pagebridge-agent:", err)
		return exitConfig
	}
	if *check {
		fmt.Fprintf(stdout, "configuration ok: agent %s, %d devices\n", cfg.Agent.ID, len(cfg.Devices))
		return exitOK
	}
	log := slog.New(slog.NewTextHandler(stderr, nil)).With("agent", cfg.Agent.ID)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	for _, d := range cfg.Devices {
		log.Info("device configured", "device", d.ID, "kind", d.Kind, "port", d.Port)
	}
	log.Info("agent running", "version", version)
	<-ctx.Done()
	log.Info("stopped cleanly")
	return exitOK
}
