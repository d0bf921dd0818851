package agent

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/firmware-agent/serialport"
	"pagebridge/firmware-agent/tap"
	"pagebridge/gateway/paging"
	"pagebridge/storage"
)

// serveTAP is the terminal role on one connection or serial line: senders
// (nurse call, switchboards, alarm panels) send pages; each is in the
// spool before the sender hears 211.
func (d *device) serveTAP(ctx context.Context, rw io.ReadWriter) error {
	cfg := tap.TerminalConfig{Password: d.cfg.Password, IdleTimeout: d.cfg.IdleTimeout.Duration,
		NoChecksum: d.cfg.NoChecksum, BareLF: d.cfg.BareLF}
	return tap.ServeTerminal(ctx, rw, cfg, func(ctx context.Context, p tap.Page) tap.Reply {
		return d.acceptPage(ctx, p)
	})
}

// acceptPage makes a page received on a TAP line durable (acceptInbound)
// and answers the sender: 211 once stored, 511 for an ID the gateway's
// directory does not know, "try later" when the spool could not take it.
func (d *device) acceptPage(ctx context.Context, p tap.Page) tap.Reply {
	switch d.acceptInbound(ctx, paging.ProtocolTAP, p.ID, p.Text, d.cfg.Priority) {
	case inboundTaken:
		return tap.Accepted()
	case inboundUnknownID:
		return tap.Rejected(tap.CodeUnknownID, "Unknown pager ID")
	case inboundMalformed:
		return tap.Rejected(tap.CodeFormat, "Message format error")
	}
	return tap.Resend(tap.CodeTryLater, "Try later")
}

// What acceptInbound did with a page.
type inboundVerdict int

const (
	inboundTaken     inboundVerdict = iota // durable in the spool (or bypassed in the same commit)
	inboundUnknownID                       // refused: the directory does not know the ID
	inboundMalformed                       // refused: the page cannot be encoded
	inboundNotStored                       // the spool could not take it: the sender should try later
)

// acceptInbound makes a page received on one of the agent's lines durable
// in the spool and schedules it for the gateway. An ID the gateway's
// directory does not know is refused; the page's tier is base (the line's
// default, or what the protocol said) raised by the ID's own and by the
// line's keyword rules. While the gateway has been unreachable for
// BypassAfter, a page on a TAP line for pager-stage and both-stage IDs
// also goes straight to their paging terminal, in the same commit.
func (d *device) acceptInbound(ctx context.Context, proto paging.Protocol, id string, text paging.PHI, base paging.Priority) inboundVerdict {
	now := d.a.clock.Now()
	prio := base
	if dir := d.a.directory(); dir != nil {
		e, ok := dir.Lookup(id)
		if !ok {
			d.failed.Add(1)
			d.a.log.Info("page for an unknown pager ID refused", "device", d.cfg.ID, "protocol", proto, "pager_id", id)
			return inboundUnknownID
		}
		prio = max(prio, e.Priority)
	}
	prio = paging.RaisePriority(d.cfg.PriorityRules, text, prio)
	key := paging.NewID(now)
	in := agentapi.Inbound{Line: d.cfg.ID, Protocol: proto, PagerID: id,
		Priority: prio, Text: agentapi.TextOf(text), Received: now}
	w := waiting{dev: d, in: in}
	if d.cfg.bypass() && d.a.gatewayAway(now) {
		switch ok, err := d.a.bypass(ctx, key, w); {
		case err != nil:
			return d.notStored(err)
		case ok:
			d.done.Add(1)
			d.a.poke()
			return inboundTaken
		}
	}
	payload, err := agentapi.Encode(key, now, &in)
	if err != nil {
		d.failed.Add(1)
		return inboundMalformed
	}
	it := storage.SpoolItem{Key: key, Kind: agentapi.KindInbound, Priority: in.Priority,
		Payload: paging.NewPHI(string(payload)), Created: now}
	if _, err := d.a.spool.PutItems(ctx, []storage.SpoolItem{it}); err != nil {
		return d.notStored(err)
	}
	d.done.Add(1)
	d.a.out.add([]storage.SpoolItem{it})
	if d.cfg.bypass() {
		d.a.wait(key, w)
	}
	d.a.poke()
	return inboundTaken
}

// notStored counts and logs a page the spool could not take.
func (d *device) notStored(err error) inboundVerdict {
	d.failed.Add(1)
	if n, ok := d.a.rejectLog.Allow("spool-inbound"); ok {
		d.a.log.Error("spool: page not stored; sender told to try later", "device", d.cfg.ID, "err", err, "repeats", n)
	}
	return inboundNotStored
}

// maxSenders bounds the connections of one listening TAP line.
const maxSenders = 32

// listen serves a TAP line over TCP: senders (serial device servers in
// TCP client mode, TAP-over-IP systems) connect to us.
func (d *device) listen(ctx context.Context, addr string) {
	backoff := 250 * time.Millisecond
	for ctx.Err() == nil {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			d.setState(agentapi.DeviceFailing, err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		d.setAddr(ln.Addr().String())
		d.setState(agentapi.DeviceReady, nil)
		d.serveListener(ctx, ln)
	}
	d.setState(agentapi.DeviceAbsent, nil)
}

func (d *device) serveListener(ctx context.Context, ln net.Listener) {
	var (
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
		wg    sync.WaitGroup
	)
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	defer stop()
	sem := make(chan struct{}, maxSenders)
	allow, _ := d.cfg.allowed() // checked by Validate
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil {
				d.setState(agentapi.DeviceFailing, err)
				ln.Close()
			}
			break
		}
		if !allowedSource(c.RemoteAddr(), allow) {
			if n, ok := d.a.rejectLog.Allow("tap-allow-" + d.cfg.ID); ok {
				d.a.log.Warn("TAP line: connection from a source not in allow; closed", "device", d.cfg.ID,
					"from", c.RemoteAddr().String(), "repeats", n)
			}
			c.Close()
			continue
		}
		select {
		case sem <- struct{}{}:
		default:
			d.a.log.Warn("TAP line: too many senders; connection refused", "device", d.cfg.ID, "from", c.RemoteAddr().String())
			c.Close()
			continue
		}
		mu.Lock()
		conns[c] = true
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := d.serveTAP(ctx, serialport.LineConn(c, serialport.DefaultReadTimeout))
			if err != nil && ctx.Err() == nil && !errors.Is(err, io.EOF) {
				d.a.log.Info("TAP sender left", "device", d.cfg.ID, "from", c.RemoteAddr().String(), "err", err)
			}
			c.Close()
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
		}()
	}
	wg.Wait()
}

// allowedSource reports whether a sender at addr may connect: from a
// network in allow, or from loopback when allow is empty.
func allowedSource(addr net.Addr, allow []netip.Prefix) bool {
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return false
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		return false
	}
	ip = ip.Unmap()
	if len(allow) == 0 {
		return ip.IsLoopback()
	}
	for _, p := range allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func (d *device) setAddr(a string) {
	d.mu.Lock()
	d.addr = a
	d.mu.Unlock()
}

// ListenAddr returns the address a listening line (listen://) is bound
// to, once it is.
func (a *Agent) ListenAddr(device string) string {
	d := a.devices[device]
	if d == nil {
		return ""
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.addr
}
