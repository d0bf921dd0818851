// Package sdnotify is the daemons' side of systemd's notify protocol
// (sd_notify(3)): READY=1 once a daemon serves, WATCHDOG=1 while it passes
// its own liveness probe, STOPPING=1 on the way out. Outside systemd
// (NOTIFY_SOCKET unset) every call does nothing.
//
// Main types and functions: Start, which returns the function that stops
// the pinger.
//
// # Caveats
//
//   - The probe decides what "alive" means; it should check the daemon's
//     own serving path (the gateway asks its /healthz, the agent reads its
//     spool), never an outside dependency such as the broker, or a broker
//     outage would have systemd restart a healthy daemon.
//   - A failed probe only skips one ping and is logged; systemd acts when
//     no ping came for the whole WatchdogSec= (it sends SIGABRT, so the Go
//     runtime writes every goroutine's stack to the journal, then the unit's
//     Restart= applies).
package sdnotify

import (
	"context"
	"log/slog"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Start sends READY=1 (with STATUS=status when status is not empty) and,
// when the unit sets WatchdogSec= (WATCHDOG_USEC in the environment), pings
// every half interval for as long as probe succeeds within that half. The
// returned stop sends STOPPING=1, ends the pinger and waits for it; call it
// once, when the daemon starts to shut down.
func Start(ctx context.Context, log *slog.Logger, status string, probe func(context.Context) error) (stop func()) {
	ready := daemon.SdNotifyReady
	if status != "" {
		ready += "\nSTATUS=" + status
	}
	if _, err := daemon.SdNotify(false, ready); err != nil {
		log.Warn("sd_notify READY", "err", err)
	}
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		log.Warn("systemd watchdog settings", "err", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if interval > 0 {
			ping(ctx, log, interval/2, probe)
		}
	}()
	return func() {
		cancel()
		<-done
		if _, err := daemon.SdNotify(false, daemon.SdNotifyStopping); err != nil {
			log.Warn("sd_notify STOPPING", "err", err)
		}
	}
}

// ping sends WATCHDOG=1 every period in which probe answered nil within
// that period, until ctx ends.
func ping(ctx context.Context, log *slog.Logger, period time.Duration, probe func(context.Context) error) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, period)
		err := probe(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			log.Warn("watchdog probe failed; not pinging systemd", "err", err)
		} else if _, err := daemon.SdNotify(false, daemon.SdNotifyWatchdog); err != nil {
			log.Warn("sd_notify WATCHDOG", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
