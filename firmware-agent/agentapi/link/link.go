// Package link connects a daemon to the MQTT bus the way both daemons
// must: paho with a fixed client ID and a persistent session, QoS 1 both
// ways, subscriptions made again on every connect, manual acknowledgement
// (a message is acknowledged to the broker only after the receiver's
// commit), and reconnects forever.
//
// paho keeps in-flight messages in memory only. Nothing here is the source
// of truth: the gateway's outbox and the agent's spool are, and they re-send
// until the other side acknowledges its commit at the application level.
//
// # Caveats
//
//   - Publish does not wait for the broker's PUBACK: a token can complete
//     with nil across a reconnect before delivery (paho issues 401, 450), so
//     waiting would prove nothing. Use PublishWait only where a retained
//     status must be on the broker before going on.
//   - Handlers run on paho's goroutines, one per message (order does not
//     matter). They must hand the message on and return; Ack it later.
package link

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/gateway/paging"
)

// Message is a message received from the broker. Ack tells the broker it
// is handled; until then a persistent session gets it again after a
// reconnect.
type Message = paho.Message

// Will is published by the broker when the connection is lost uncleanly.
type Will struct {
	Topic    string
	Payload  []byte
	Retained bool
}

// Options of a link.
type Options struct {
	// Broker is tcp://host:port, or ssl:// / tls:// / mqtts:// for TLS.
	Broker string
	// ClientID is fixed per daemon, so the broker keeps its session.
	ClientID           string
	Username, Password string
	// TLS configures a TLS broker; nil uses the system roots.
	TLS *tls.Config
	// Will, if set, is the last will (the agent's "offline" status).
	Will *Will
	// Subscribe lists topic filters subscribed at QoS 1 on every connect.
	Subscribe []string
	// OnMessage receives every message; it must not block for long.
	OnMessage func(Message)
	// OnConnect runs after each (re)connect, once the subscriptions are in
	// place (resubscribed), on its own goroutine.
	OnConnect func()
	// OnLost runs when the connection is lost.
	OnLost func(error)
	Logger *slog.Logger
}

// Link is a connection to the broker that reconnects by itself.
type Link struct {
	c         paho.Client
	opts      Options
	log       *slog.Logger
	connected atomic.Bool
	connects  atomic.Int64
}

// ErrNotConnected is returned by PublishWait while the link is down.
var ErrNotConnected = errors.New("link: not connected to the broker")

// CheckBroker validates a broker URL.
func CheckBroker(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("broker %q: %v", s, err)
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts":
	default:
		return fmt.Errorf("broker %q: scheme must be tcp, mqtt, ssl, tls or mqtts", s)
	}
	if u.Hostname() == "" || u.Port() == "" {
		return fmt.Errorf("broker %q: want scheme://host:port", s)
	}
	return nil
}

// Secure reports whether the broker URL uses TLS.
func Secure(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "ssl" || u.Scheme == "tls" || u.Scheme == "mqtts")
}

// Loopback reports whether the broker URL names a loopback host, where
// the bus may go without TLS and credentials.
func Loopback(broker string) bool {
	u, err := url.Parse(broker)
	return err == nil && LoopbackHost(u.Hostname())
}

// LoopbackHost reports whether host ("localhost", "127.0.0.1", "::1") is
// loopback.
func LoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Open starts connecting and returns at once; the link connects in the
// background and retries until Close. Messages published before the first
// connect wait in paho's memory.
func Open(opts Options) (*Link, error) {
	if err := CheckBroker(opts.Broker); err != nil {
		return nil, err
	}
	if opts.ClientID == "" {
		return nil, errors.New("link: client ID required")
	}
	if opts.OnMessage == nil {
		return nil, errors.New("link: OnMessage required")
	}
	l := &Link{opts: opts, log: opts.Logger}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	broker := opts.Broker
	if u, _ := url.Parse(broker); u != nil && (u.Scheme == "tls" || u.Scheme == "mqtts") {
		broker = "ssl://" + u.Host
	}
	if strings.HasPrefix(broker, "mqtt://") {
		broker = "tcp://" + strings.TrimPrefix(broker, "mqtt://")
	}
	po := paho.NewClientOptions().
		AddBroker(broker).
		SetClientID(opts.ClientID).
		SetUsername(opts.Username).
		SetPassword(opts.Password).
		SetCleanSession(false).
		SetOrderMatters(false).
		SetAutoAckDisabled(true).
		SetResumeSubs(true).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(500 * time.Millisecond).
		SetMaxReconnectInterval(5 * time.Second).
		SetConnectTimeout(10 * time.Second).
		SetKeepAlive(15 * time.Second).
		SetPingTimeout(10 * time.Second).
		SetWriteTimeout(10 * time.Second).
		SetMessageChannelDepth(4096).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { opts.OnMessage(m) }).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			l.connected.Store(false)
			l.log.Warn("bus connection lost", "broker", opts.Broker, "err", err)
			if opts.OnLost != nil {
				opts.OnLost(err)
			}
		}).
		SetOnConnectHandler(func(c paho.Client) {
			// Subscribe on every connect: a broker that lost the session
			// (a restart) has lost the subscriptions too.
			go l.subscribe(c)
		})
	if opts.TLS != nil {
		po.SetTLSConfig(opts.TLS)
	}
	if w := opts.Will; w != nil {
		po.SetBinaryWill(w.Topic, w.Payload, 1, w.Retained)
	}
	l.c = paho.NewClient(po)
	l.c.Connect() // ConnectRetry: returns at once, keeps trying
	return l, nil
}

func (l *Link) subscribe(c paho.Client) {
	if len(l.opts.Subscribe) > 0 {
		filters := make(map[string]byte, len(l.opts.Subscribe))
		for _, f := range l.opts.Subscribe {
			filters[f] = 1
		}
		tok := c.SubscribeMultiple(filters, nil)
		if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			l.log.Error("bus subscribe failed; reconnecting", "broker", l.opts.Broker, "err", tok.Error())
			// Without subscriptions the link is useless: drop the
			// connection and let paho reconnect and call us again.
			c.Disconnect(0)
			go func() {
				time.Sleep(time.Second)
				c.Connect()
			}()
			return
		}
	}
	n := l.connects.Add(1)
	l.connected.Store(true)
	l.log.Info("bus connected", "broker", l.opts.Broker, "client", l.opts.ClientID, "connects", n)
	if l.opts.OnConnect != nil {
		l.opts.OnConnect()
	}
}

// Connected reports whether the link is connected and subscribed.
func (l *Link) Connected() bool { return l.connected.Load() && l.c.IsConnectionOpen() }

// Publish sends payload at QoS 1 without waiting for the broker.
func (l *Link) Publish(topic string, retained bool, payload []byte) {
	l.c.Publish(topic, 1, retained, payload)
}

// PublishWait sends payload at QoS 1 and waits for the broker's PUBACK or
// ctx.
func (l *Link) PublishWait(ctx context.Context, topic string, retained bool, payload []byte) error {
	if !l.c.IsConnectionOpen() {
		return ErrNotConnected
	}
	tok := l.c.Publish(topic, 1, retained, payload)
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close disconnects cleanly, which suppresses the will; quiesce bounds the
// wait for work in progress.
func (l *Link) Close(quiesce time.Duration) {
	l.connected.Store(false)
	l.c.Disconnect(uint(quiesce / time.Millisecond))
}

// Batches takes messages from in as they come, at most max at a time:
// whatever is waiting when the first arrives goes with it. fn handles
// each batch (one commit, one ack for all); Batches returns when ctx ends.
func Batches(ctx context.Context, in <-chan Message, max int, fn func(context.Context, []Message)) {
	batch := make([]Message, 0, max)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return
		case m := <-in:
			batch = append(batch, m)
		}
	drain:
		for len(batch) < max {
			select {
			case m := <-in:
				batch = append(batch, m)
			default:
				break drain
			}
		}
		fn(ctx, batch)
	}
}

// PublishAcks publishes keys as application-level acks on topic, split
// at agentapi.MaxKeys per message.
func (l *Link) PublishAcks(topic string, keys []string, now time.Time) error {
	for len(keys) > 0 {
		n := min(len(keys), agentapi.MaxKeys)
		p, err := agentapi.Encode(paging.NewID(now), now, &agentapi.Ack{Keys: keys[:n]})
		if err != nil {
			return err
		}
		l.Publish(topic, false, p)
		keys = keys[n:]
	}
	return nil
}

// OnSignal runs fn each time signal fires, after waiting linger for more
// to gather (one run serves them all), until ctx ends; then once more with
// a fresh context of its own (bounded by five seconds), so that a clean
// stop leaves nothing of fn's work behind (the batched removal of what
// the other side acknowledged). Unlike a ticker it costs nothing while
// nothing happens.
func OnSignal(ctx context.Context, signal <-chan struct{}, linger time.Duration, fn func(context.Context)) {
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			fn(fctx)
			cancel()
			return
		case <-signal:
		}
		select {
		case <-ctx.Done():
		case <-time.After(linger):
		}
		fn(ctx)
	}
}
