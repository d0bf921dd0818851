package ui

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"pagebridge/gateway/paging"
)

// socket opens the live-update socket of b's session.
func (b *browser) socket(ctx context.Context, origin string) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	for k, v := range b.cookies {
		h.Add("Cookie", k+"="+v)
	}
	if origin != "" {
		h.Set("Origin", origin)
	}
	return websocket.Dial(ctx, "ws"+strings.TrimPrefix(b.r.srv.URL, "http")+"/app/ws", &websocket.DialOptions{HTTPHeader: h})
}

// frame reads the next frame as a map.
func frame(t *testing.T, ctx context.Context, c *websocket.Conn) map[string]any {
	t.Helper()
	_, data, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read frame: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("frame %s: %v", data, err)
	}
	return m
}

func TestSocketLiveUpdates(t *testing.T) {
	r := newRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b := r.browser()
	b.signin("amara", "correct horse battery", "")

	// Without a session, or from another site: no socket.
	if _, resp, err := r.browser().socket(ctx, r.srv.URL); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("socket without a session: %v", err)
	}
	if _, resp, err := b.socket(ctx, "https://evil.example"); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("socket from another origin: %v", err)
	}

	c, _, err := b.socket(ctx, r.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if f := frame(t, ctx, c); f["type"] != "hello" || f["person"] != "amara" {
		t.Fatalf("first frame: %v", f)
	}
	// A page to amara: her open page hears of it, with the inbox entry;
	// a thread of someone else is not pushed to her.
	other := r.msg.addThread("not hers", "x", "root")
	r.web.ThreadChanged(other, []string{"root"}, other, "", "step", false)
	id := r.msg.addThread("4W nurse call · pager 1001", "Bed 12", "amara")
	r.web.ThreadChanged(id, nil, id, "", "step", false) // members looked up
	f := frame(t, ctx, c)
	entry, _ := f["entry"].(map[string]any)
	if f["type"] != "thread" || f["message"] != id.String() || entry["id"] != id.String() || entry["label"] != "4W nurse call · pager 1001" {
		t.Fatalf("thread frame: %v", f)
	}
	// The page reports it received: delivered on the app.
	msg, _ := json.Marshal(map[string]string{"type": "received", "thread": id.String(), "message": id.String()})
	if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the delivered receipt", func() bool { return slices.Contains(r.msg.receivedList(), "amara "+id.String()+" "+id.String()) })
	// A receipt-only change: a small frame, no entry.
	r.web.ThreadChanged(id, []string{"amara"}, paging.ID{}, "root", "receipt", true)
	if f := frame(t, ctx, c); f["type"] != "receipts" || f["thread"] != id.String() {
		t.Errorf("receipts frame: %v", f)
	}
	// Revoked: the page is told and the socket closes with 4001.
	admin := r.browser()
	admin.signin("root", "admin password 1", r.code(r.clk.Now()))
	ended, err := r.auth.Revoke(ctx, mustSession(t, r, admin), "amara")
	if err != nil || len(ended) != 1 {
		t.Fatalf("revoke: %v %v", ended, err)
	}
	r.web.endPages(ended, "revoked")
	if f := frame(t, ctx, c); f["type"] != "signed_out" || f["reason"] != "revoked" {
		t.Errorf("after revoke: %v", f)
	}
	_, _, err = c.Read(ctx)
	if websocket.CloseStatus(err) != closeSignedOut {
		t.Errorf("close: %v", err)
	}
}

// An open page whose session idles out is signed out by the sweep.
func TestSocketIdleSignOut(t *testing.T) {
	r := newRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b := r.browser()
	b.signin("amara", "correct horse battery", "")
	c, _, err := b.socket(ctx, r.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	frame(t, ctx, c) // hello
	// Activity reported by the page keeps it alive past the idle timeout.
	r.clk.add(10 * time.Minute)
	active, _ := json.Marshal(map[string]string{"type": "active"})
	if err := c.Write(ctx, websocket.MessageText, active); err != nil {
		t.Fatal(err)
	}
	token := b.cookies[sessionCookie]
	waitFor(t, "the activity to count", func() bool {
		s, err := r.acc.Session(ctx, tokenHash(token))
		return err == nil && s.LastSeen.Equal(r.clk.Now())
	})
	r.clk.add(10 * time.Minute)
	r.web.sweep(ctx)
	r.clk.add(5 * time.Minute)
	r.web.sweep(ctx)
	if f := frame(t, ctx, c); f["type"] != "signed_out" {
		t.Fatalf("after idling: %v", f)
	}
	if _, err := r.auth.Check(ctx, token, false); !errors.Is(err, ErrSessionOver) {
		t.Errorf("session after the sweep: %v", err)
	}
}

func mustSession(t *testing.T, r *rig, b *browser) Session {
	t.Helper()
	s, err := r.auth.Check(context.Background(), b.cookies[sessionCookie], false)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitFor polls cond until it holds (a deadline, not a sleep to wait
// out).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
