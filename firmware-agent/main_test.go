package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"pagebridge/internal/sdnotify/notifytest"
)

func TestBadConfigExitCode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "agent.toml")
	os.WriteFile(p, []byte("[[device]]\nkind='nope'\n"), 0o600)
	var out, errb strings.Builder
	if code := run([]string{"-config", p}, &out, &errb); code != exitConfig {
		t.Fatalf("exit %d, want %d; %s", code, exitConfig, errb.String())
	}
	if code := run([]string{"-version"}, &out, &errb); code != exitOK {
		t.Fatal("version")
	}
}

// TestNotifiesSystemd runs the agent as its unit does (Type=notify,
// WatchdogSec=), with no broker to reach: READY=1 once the spool is open,
// WATCHDOG=1 while the spool answers, STOPPING=1 after SIGTERM.
func TestNotifiesSystemd(t *testing.T) {
	root := t.TempDir()
	sock := notifytest.Listen(t, 400*time.Millisecond)
	cfg := fmt.Sprintf("[agent]\ndata_dir = %q\nkey_file = %q\ncreate_key = true\n[bus]\nbroker = \"tcp://127.0.0.1:1\"\n",
		filepath.Join(root, "data"), filepath.Join(root, "keys", "agent-kek"))
	cfgPath := filepath.Join(root, "agent.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	done := make(chan int, 1)
	go func() { done <- run([]string{"-config", cfgPath}, &out, &errb) }()
	if got := sock.Next(t, 30*time.Second); got != "READY=1\nSTATUS=agent agent-1, 0 devices" {
		t.Fatalf("first notification %q", got)
	}
	if got := sock.Next(t, 30*time.Second); got != "WATCHDOG=1" {
		t.Fatalf("got %q, want WATCHDOG=1", got)
	}
	// run's signal context has SIGTERM by now (it was set up before READY).
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("exit %d after SIGTERM: %s", code, errb.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("agent did not stop within 60s of SIGTERM")
	}
	sock.UntilStopping(t, 30*time.Second)
}

func TestVersionCommand(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"-version"}} {
		var out, errb strings.Builder
		if code := run(args, &out, &errb); code != exitOK || out.String() != "pagebridge-agent "+version+"\n" {
			t.Errorf("%v: exit %d, %q %q", args, code, out.String(), errb.String())
		}
	}
	var out, errb strings.Builder
	if code := run([]string{"serve"}, &out, &errb); code != exitUsage {
		t.Errorf("unknown argument: exit %d, want %d", code, exitUsage)
	}
}
