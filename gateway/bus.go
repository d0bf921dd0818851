package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/firmware-agent/agentapi/link"
	"pagebridge/gateway/agentbus"
	"pagebridge/gateway/paging"
)

// startBus connects the gateway to the bus: to its own embedded broker, or
// to the external one.
func (m *Main) startBus() (*agentbus.Bridge, error) {
	bc := m.cfg.Bus
	lo := link.Options{Broker: bc.Broker, ClientID: bc.ClientID}
	if m.broker != nil {
		scheme := "tcp://"
		if bc.TLSCert != "" {
			scheme = "tls://"
		}
		lo.Broker = scheme + m.broker.Addr()
	}
	if len(bc.Agents) > 0 || bc.GatewayPassword != "" {
		lo.Username, lo.Password = bc.GatewayUser, bc.GatewayPassword
	}
	if link.Secure(lo.Broker) {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		ca := bc.CAFile
		if ca == "" && m.broker != nil {
			ca = bc.TLSCert // our own broker's certificate
		}
		if ca != "" {
			pem, err := os.ReadFile(ca)
			if err != nil {
				return nil, fmt.Errorf("bus CA: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("bus CA %s: no PEM certificate", ca)
			}
		}
		lo.TLS = tc
	}
	return agentbus.Start(agentbus.Options{
		Link: lo, Outbox: m.store, Sink: agentbus.StoreSink{Store: m.store,
			Prepare: m.settlePriority,
			OnAccepted: func(msg *paging.Message) {
				m.pages.Add(1)
				m.lines.heard(msg.Source.Line, time.Now())
				m.engine.Poke()
			},
			OnResult: func(ctx context.Context, job paging.ID, r *agentapi.Result) {
				if err := m.engine.JobResult(ctx, job, r); err != nil {
					m.log.Error("job result not recorded on its page", "job", job, "err", err)
				}
			},
			OnSMS: m.onSMS}, AckTimeout: bc.AckTimeout.Duration,
		Logger: m.log,
	})
}

// agentsBody is GET /api/v1/agents (served by the API, behind a token):
// each agent's state and its devices' health. None of it is PHI.
func (m *Main) agentsBody(context.Context) any {
	agents := []agentbus.AgentHealth{}
	connected := false
	if m.bus != nil {
		agents = m.bus.Agents()
		connected = m.bus.Connected()
	}
	return map[string]any{"bus_connected": connected, "agents": agents}
}

// busReady checks that the gateway is on the bus.
func (m *Main) busReady(context.Context) error {
	if m.bus == nil || !m.bus.Connected() {
		return fmt.Errorf("not connected to the bus broker")
	}
	return nil
}
