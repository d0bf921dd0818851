package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pagebridge/internal/sdnotify/notifytest"
)

// TestServeNotifiesSystemd runs `pagebridge serve` the way its unit does
// (Type=notify, WatchdogSec=) against a notify socket of the test's: READY=1
// once it serves, WATCHDOG=1 fed by its own /healthz over TLS, STOPPING=1
// after SIGTERM, then a clean exit.
func TestServeNotifiesSystemd(t *testing.T) {
	root := t.TempDir()
	sock := notifytest.Listen(t, 400*time.Millisecond) // a ping every 200 ms
	adminDir, err := os.MkdirTemp("", "pbn")           // sun_path holds 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(adminDir) })
	cfg := fmt.Sprintf(`[server]
listen = "127.0.0.1:0"
[storage]
data_dir = %q
key_file = %q
audit_key_file = %q
create_keys = true
[admin]
socket = %q
[bus]
listen = "127.0.0.1:0"
`, filepath.Join(root, "data"), filepath.Join(root, "keys", "kek"), filepath.Join(root, "keys", "audit-hmac"),
		filepath.Join(adminDir, "admin.sock"))
	cfgPath := filepath.Join(root, "pagebridge.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	p := startProc(t, "pagebridge", pagebridgeBinary(t), filepath.Join(root, "log"), containing("listening admin"),
		"serve", "-config", cfgPath)
	if got := sock.Next(t, 30*time.Second); !strings.HasPrefix(got, "READY=1\nSTATUS=serving https 127.0.0.1:") {
		t.Fatalf("first notification %q, want READY=1 with its address", got)
	}
	for range 2 {
		if got := sock.Next(t, 30*time.Second); got != "WATCHDOG=1" {
			t.Fatalf("got %q, want WATCHDOG=1", got)
		}
	}
	p.stop()
	sock.UntilStopping(t, 30*time.Second)
}

func TestLoopbackTarget(t *testing.T) {
	for _, c := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4zero, Port: 443}, "127.0.0.1:443"},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 443}, "[::1]:443"},
		{&net.TCPAddr{Port: 8443}, "127.0.0.1:8443"},
		{&net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 443}, "10.1.2.3:443"},
		{&net.TCPAddr{IP: net.ParseIP("fd00::5"), Port: 9443}, "[fd00::5]:9443"},
		{&net.UnixAddr{Name: "/run/x.sock", Net: "unix"}, "/run/x.sock"},
	} {
		if got := loopbackTarget(c.addr); got != c.want {
			t.Errorf("loopbackTarget(%v) = %q, want %q", c.addr, got, c.want)
		}
	}
}
