package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"

	"pagebridge/firmware-agent/agent"
	"pagebridge/firmware-agent/sim"
	"pagebridge/firmware-agent/tap"
)

// demoHardware is the demo's simulated rack: a paging terminal and a GSM
// modem on pty pairs, a TAP line over TCP for senders, a POCSAG
// transmitter whose audio goes to a file, and the agent that owns them,
// run in this process against the embedded broker.
type demoHardware struct {
	terminal *sim.PagingTerminal
	modem    *sim.Modem
	agent    *agent.Agent
	tapAddr  string
	cancel   context.CancelFunc
	done     sync.WaitGroup
}

// startDemoHardware starts the simulators under root/dev and the agent.
// The agent's spool lives in root/agent-data, its key in root/keys.
func startDemoHardware(m *Main, root string) (*demoHardware, error) {
	if m.broker == nil {
		return nil, fmt.Errorf("the demo's agent needs the embedded broker")
	}
	devDir := filepath.Join(root, "dev")
	if err := os.MkdirAll(devDir, 0o700); err != nil {
		return nil, err
	}
	if err := seedDemoPOCSAG(context.Background(), m.store); err != nil {
		return nil, fmt.Errorf("seed the demo's transmitter pager: %w", err)
	}
	h := &demoHardware{}
	var err error
	if h.terminal, err = sim.NewPagingTerminal(devDir, sim.TerminalOptions{Name: "terminal-1"}); err != nil {
		return nil, fmt.Errorf("simulated paging terminal: %w", err)
	}
	if h.modem, err = sim.NewModem(devDir, sim.ModemOptions{Name: "modem-1"}); err != nil {
		h.close()
		return nil, fmt.Errorf("simulated modem: %w", err)
	}
	// A free port for the TAP line, so that demos and tests can run side
	// by side.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.close()
		return nil, err
	}
	h.tapAddr = ln.Addr().String()
	ln.Close()

	cfg := agent.DefaultConfig()
	cfg.Agent = agent.AgentConfig{ID: "demo-agent", DataDir: filepath.Join(root, "agent-data"),
		KeyFile: filepath.Join(root, "keys", "agent-kek"), CreateKey: true}
	cfg.Bus.Broker = "tcp://" + m.broker.Addr()
	cfg.Devices = []agent.DeviceConfig{
		{ID: "terminal-1", Kind: agent.KindPagingTerminal, Port: h.terminal.Path()},
		{ID: "modem-1", Kind: agent.KindModem, Port: h.modem.Path(), Baud: 115200, Pool: "sms"},
		{ID: "nurse-call-4w", Kind: agent.KindTAPLine, Port: "listen://" + h.tapAddr},
		demoTransmitterDevice(root),
	}
	if h.agent, err = agent.New(cfg, agent.Options{Logger: m.log.With("component", "agent", "agent", "demo-agent"), Version: version}); err != nil {
		h.close()
		return nil, fmt.Errorf("demo agent: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		if err := h.agent.Run(ctx); err != nil {
			m.log.Error("demo agent stopped", "err", err)
		}
	}()
	h.done.Add(3)
	go func() {
		defer h.done.Done()
		h.watchTerminal(ctx, m.log)
	}()
	go func() {
		defer h.done.Done()
		watchTransmitter(ctx, m.log, filepath.Join(root, demoAudioFile))
	}()
	go func() {
		defer h.done.Done()
		h.watchModem(ctx, m.log)
	}()
	return h, nil
}

// watchModem logs each SMS the simulated modem sends (the number's last
// digits and the length: the text may be PHI).
func (h *demoHardware) watchModem(ctx context.Context, log *slog.Logger) {
	seen := 0
	for {
		if err := h.modem.WaitMessages(ctx, func(m []sim.SentMessage) bool { return len(m) > seen }); err != nil {
			return
		}
		msgs := h.modem.Messages()
		for _, m := range msgs[seen:] {
			n := m.Number()
			log.Info("simulated modem sent an SMS", "component", "demo", "modem", "modem-1",
				"to", "…"+n[max(len(n)-4, 0):], "chars", len(m.Text))
		}
		seen = len(msgs)
	}
}

// watchTerminal logs each page the simulated paging terminal takes (its
// pager ID and length: the text may be PHI), so the demo shows pages
// reaching the pagers.
func (h *demoHardware) watchTerminal(ctx context.Context, log *slog.Logger) {
	seen := 0
	for {
		err := h.terminal.WaitPages(ctx, func(p []tap.Page) bool { return len(p) > seen })
		if err != nil {
			return
		}
		pages := h.terminal.Pages()
		for _, p := range pages[seen:] {
			log.Info("simulated paging terminal took a page", "component", "demo", "terminal", "terminal-1",
				"pager", p.ID, "chars", p.Text.Len())
		}
		seen = len(pages)
	}
}

// close stops the agent, then the simulators.
func (h *demoHardware) close() {
	if h.cancel != nil {
		h.cancel()
		h.done.Wait()
	}
	if h.terminal != nil {
		h.terminal.Close()
	}
	if h.modem != nil {
		h.modem.Close()
	}
}
