// Package broker embeds an MQTT broker (mochi-mqtt) in the gateway, so one
// box needs no other daemon for the bus between the gateway and its agents.
// Several boxes use an external broker (Mosquitto) instead; the gateway then
// does not start this one.
//
// The broker persists nothing: MQTT sessions and in-flight messages live in
// memory and are lost with the process. That is by design: the gateway's
// outbox and each agent's spool are the source of truth, and everything is
// re-sent after a reconnect until the receiver acknowledges its commit.
//
// Access: on a loopback address the broker may run without credentials. On
// any other address it refuses to start without TLS and per-agent
// credentials. With credentials, the gateway's user reaches the whole topic
// tree and each agent only its own subtree (pagebridge/v1/agent/<user>/…).
//
// # Caveats
//
//   - Passwords are compared as SHA-256 digests in constant time; they are
//     held in memory as digests only, but come from the configuration file.
//   - $SYS topics are left to mochi's defaults and readable by the gateway
//     user only.
package broker

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/firmware-agent/agentapi/link"
)

// DefaultListen is the embedded broker's address: loopback, and never 1883,
// where a system Mosquitto may already run.
const DefaultListen = "127.0.0.1:18830"

// Options configure the broker.
type Options struct {
	// Listen is host:port; port 0 picks a free one (tests).
	Listen string
	// TLS, if set, serves MQTT over TLS. Required off loopback.
	TLS *tls.Config
	// GatewayUser may use the whole tree. Empty with no Agents: no
	// credentials (loopback only).
	GatewayUser, GatewayPassword string
	// Agents maps an agent ID (its MQTT username) to its password.
	Agents map[string]string
	Logger *slog.Logger
}

// ErrInsecure: the options would expose the bus off loopback without TLS or
// credentials.
var ErrInsecure = errors.New("broker: off loopback, TLS and per-agent credentials are required")

// Broker is a running embedded broker.
type Broker struct {
	srv  *mqtt.Server
	addr net.Addr
}

// Start validates opts, listens and serves in the background.
func Start(opts Options) (*Broker, error) {
	if opts.Listen == "" {
		opts.Listen = DefaultListen
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	host, _, err := net.SplitHostPort(opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("broker: listen %q: %w", opts.Listen, err)
	}
	creds := opts.GatewayUser != "" || len(opts.Agents) > 0
	if !link.LoopbackHost(host) && (opts.TLS == nil || !creds) {
		return nil, fmt.Errorf("%w (listen %s)", ErrInsecure, opts.Listen)
	}
	if creds && (opts.GatewayUser == "" || opts.GatewayPassword == "") {
		return nil, errors.New("broker: with agent credentials the gateway needs a user and password too")
	}
	a := &access{gatewayUser: opts.GatewayUser, users: map[string][32]byte{}}
	if creds {
		a.users[opts.GatewayUser] = sha256.Sum256([]byte(opts.GatewayPassword))
		for id, pw := range opts.Agents {
			if !agentapi.ValidID(id) || id == opts.GatewayUser {
				return nil, fmt.Errorf("broker: agent user %q is not a valid agent ID", id)
			}
			if len(pw) < 12 {
				return nil, fmt.Errorf("broker: agent %q: password shorter than 12 characters", id)
			}
			a.users[id] = sha256.Sum256([]byte(pw))
		}
	}
	srv := mqtt.New(&mqtt.Options{Logger: opts.Logger.With("component", "broker"), InlineClient: false})
	if err := srv.AddHook(a, nil); err != nil {
		return nil, err
	}
	// Listen here, not in mochi, so that the address (port 0) is known and
	// a busy port is an error now.
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	if opts.TLS != nil {
		ln = tls.NewListener(ln, opts.TLS)
	}
	if err := srv.AddListener(&netListener{id: "bus", ln: ln}); err != nil {
		ln.Close()
		return nil, err
	}
	if err := srv.Serve(); err != nil {
		ln.Close()
		return nil, fmt.Errorf("broker: %w", err)
	}
	return &Broker{srv: srv, addr: ln.Addr()}, nil
}

// Addr is the address the broker listens on.
func (b *Broker) Addr() string { return b.addr.String() }

// Clients is the number of connected clients.
func (b *Broker) Clients() int64 { return atomic.LoadInt64(&b.srv.Info.ClientsConnected) }

// Close disconnects every client and stops listening.
func (b *Broker) Close() error { return b.srv.Close() }

// access authenticates clients and confines each agent to its subtree.
type access struct {
	mqtt.HookBase
	gatewayUser string
	users       map[string][32]byte // empty: no credentials required
}

func (a *access) ID() string { return "pagebridge-access" }

func (a *access) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

func (a *access) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	if len(a.users) == 0 {
		return true
	}
	want, ok := a.users[string(pk.Connect.Username)]
	got := sha256.Sum256(pk.Connect.Password)
	match := subtle.ConstantTimeCompare(got[:], want[:]) == 1
	return ok && match
}

func (a *access) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if len(a.users) == 0 {
		return true
	}
	user := string(cl.Properties.Username)
	if user == a.gatewayUser {
		return true
	}
	rest, ok := strings.CutPrefix(topic, agentapi.TopicRoot+"/agent/"+user+"/")
	if !ok {
		return false
	}
	if write {
		switch rest {
		case "status", "result", "inbound", "ack/to-gateway":
			return true
		}
		return false
	}
	if rest == "ack/to-agent" {
		return true
	}
	dev, ok := strings.CutPrefix(rest, "device/")
	if !ok {
		return false
	}
	dev, ok = strings.CutSuffix(dev, "/job")
	return ok && (dev == "+" || agentapi.ValidID(dev))
}

// netListener adapts a net.Listener to mochi's listener interface.
type netListener struct {
	id string
	ln net.Listener
}

func (l *netListener) Init(*slog.Logger) error { return nil }
func (l *netListener) ID() string              { return l.id }
func (l *netListener) Address() string         { return l.ln.Addr().String() }
func (l *netListener) Protocol() string        { return "tcp" }
func (l *netListener) Close(closeClients listeners.CloseFn) {
	l.ln.Close()
	closeClients(l.id)
}

func (l *netListener) Serve(establish listeners.EstablishFn) {
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			return
		}
		go establish(l.id, conn)
	}
}
