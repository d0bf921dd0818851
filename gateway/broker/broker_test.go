package broker

import (
	"errors"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// connect makes a paho client as both daemons will: fixed client ID,
// persistent session, QoS 1.
func connect(t *testing.T, addr, id, user, pass string) (paho.Client, error) {
	t.Helper()
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetCleanSession(false).
		SetUsername(user).SetPassword(pass).SetConnectTimeout(10 * time.Second).SetAutoReconnect(false)
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(30 * time.Second) {
		return nil, errors.New("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c, nil
}

func wait(t *testing.T, tok paho.Token) {
	t.Helper()
	if !tok.WaitTimeout(30 * time.Second) {
		t.Fatal("token timed out")
	}
	if err := tok.Error(); err != nil {
		t.Fatal(err)
	}
}

func recv(t *testing.T, ch <-chan paho.Message) paho.Message {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(30 * time.Second):
		t.Fatal("no message within 30s")
		return nil
	}
}

func TestLoopbackWithoutCredentials(t *testing.T) {
	b, err := Start(Options{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	sub, err := connect(t, b.Addr(), "gateway", "", "")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan paho.Message, 10)
	wait(t, sub.Subscribe("pagebridge/v1/agent/+/status", 1, func(_ paho.Client, m paho.Message) { got <- m }))
	pub, err := connect(t, b.Addr(), "agent-1", "", "")
	if err != nil {
		t.Fatal(err)
	}
	wait(t, pub.Publish("pagebridge/v1/agent/agent-1/status", 1, true, `{"state":"online"}`))
	if m := recv(t, got); string(m.Payload()) != `{"state":"online"}` || m.Qos() != 1 {
		t.Fatalf("got %q qos %d", m.Payload(), m.Qos())
	}
}

func TestOffLoopbackNeedsTLSAndCredentials(t *testing.T) {
	for _, o := range []Options{
		{Listen: "0.0.0.0:18830"},
		{Listen: "192.0.2.1:18830", GatewayUser: "gw", GatewayPassword: "gateway-secret", Agents: map[string]string{"a": "agent-secret-1"}},
	} {
		if _, err := Start(o); !errors.Is(err, ErrInsecure) {
			t.Errorf("%s: %v, want ErrInsecure", o.Listen, err)
		}
	}
	if _, err := Start(Options{Listen: "127.0.0.1:0", Agents: map[string]string{"a": "agent-secret-1"}}); err == nil {
		t.Error("agent credentials without a gateway user accepted")
	}
	if _, err := Start(Options{Listen: "127.0.0.1:0", GatewayUser: "gw", GatewayPassword: "p", Agents: map[string]string{"a/#": "agent-secret-1"}}); err == nil {
		t.Error("an agent user that is not a valid ID accepted")
	}
}

func TestCredentialsAndACL(t *testing.T) {
	b, err := Start(Options{Listen: "127.0.0.1:0", GatewayUser: "gateway", GatewayPassword: "gateway-secret",
		Agents: map[string]string{"agent-1": "agent-1-secret", "agent-2": "agent-2-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := connect(t, b.Addr(), "x", "agent-1", "wrong-password"); err == nil {
		t.Fatal("wrong password accepted")
	}
	if _, err := connect(t, b.Addr(), "y", "", ""); err == nil {
		t.Fatal("anonymous client accepted")
	}
	gw, err := connect(t, b.Addr(), "gateway", "gateway", "gateway-secret")
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan paho.Message, 10)
	wait(t, gw.Subscribe("pagebridge/v1/#", 1, func(_ paho.Client, m paho.Message) { seen <- m }))
	// agent-1 may not speak for agent-2: the broker drops the publish and
	// the connection that tried it.
	lost := make(chan error, 1)
	o := paho.NewClientOptions().AddBroker("tcp://" + b.Addr()).SetClientID("agent-1-forger").
		SetUsername("agent-1").SetPassword("agent-1-secret").SetAutoReconnect(false).
		SetConnectionLostHandler(func(_ paho.Client, err error) { lost <- err })
	forger := paho.NewClient(o)
	wait(t, forger.Connect())
	forger.Publish("pagebridge/v1/agent/agent-2/status", 1, false, "forged")
	select {
	case <-lost:
	case <-time.After(30 * time.Second):
		t.Fatal("a client publishing for another agent kept its connection")
	}
	a1, err := connect(t, b.Addr(), "agent-1", "agent-1", "agent-1-secret")
	if err != nil {
		t.Fatal(err)
	}
	wait(t, a1.Publish("pagebridge/v1/agent/agent-1/status", 1, false, "mine"))
	if m := recv(t, seen); m.Topic() != "pagebridge/v1/agent/agent-1/status" || string(m.Payload()) != "mine" {
		t.Fatalf("first message through: %s %q", m.Topic(), m.Payload())
	}
	// Subscriptions: its own jobs yes, agent-2's no.
	tok := a1.Subscribe("pagebridge/v1/agent/agent-2/device/+/job", 1, nil)
	tok.WaitTimeout(10 * time.Second)
	if res := tok.(*paho.SubscribeToken).Result(); res["pagebridge/v1/agent/agent-2/device/+/job"] != 0x80 {
		t.Fatalf("subscription to another agent's jobs: %v", res)
	}
	jobs := make(chan paho.Message, 1)
	wait(t, a1.Subscribe("pagebridge/v1/agent/agent-1/device/+/job", 1, func(_ paho.Client, m paho.Message) { jobs <- m }))
	wait(t, gw.Publish("pagebridge/v1/agent/agent-1/device/m1/job", 1, false, "job"))
	if m := recv(t, jobs); string(m.Payload()) != "job" {
		t.Fatalf("job: %q", m.Payload())
	}
	select {
	case m := <-seen:
		if m.Topic() != "pagebridge/v1/agent/agent-1/device/m1/job" {
			t.Fatalf("a forged publish got through: %s %q", m.Topic(), m.Payload())
		}
	default:
	}
}
