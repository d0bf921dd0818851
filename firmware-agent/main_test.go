package main

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"pagebridge/firmware-agent/agent"
	"pagebridge/internal/conf"
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

// The agent.toml the package installs is -defaults: as shipped and with
// every key uncommented it loads as the agent's defaults.
func TestDefaultsFile(t *testing.T) {
	var out, errb strings.Builder
	if code := run([]string{"-defaults"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for name, text := range map[string]string{"shipped": out.String(), "uncommented": conf.Uncomment(out.String())} {
		p := filepath.Join(t.TempDir(), name+".toml")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := agent.LoadConfig(p)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, text)
		}
		if !reflect.DeepEqual(cfg, agent.DefaultConfig()) {
			t.Errorf("%s file loads as %+v, want %+v", name, cfg, agent.DefaultConfig())
		}
	}
	if !strings.Contains(out.String(), "\n[agent]\n# id = \"agent-1\"\n") {
		t.Errorf("defaults:\n%s", out.String())
	}
}

func TestCreateKey(t *testing.T) {
	root := t.TempDir()
	key := filepath.Join(root, "keys", "agent-kek")
	cfgPath := filepath.Join(root, "agent.toml")
	cfg := fmt.Sprintf("[agent]\ndata_dir = %q\nkey_file = %q\n", filepath.Join(root, "data"), key)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	if code := run([]string{"-config", cfgPath, "-create-key"}, &out, &errb); code != exitOK || !strings.HasPrefix(out.String(), "created spool key "+key) {
		t.Fatalf("exit %d: %s %s", code, out.String(), errb.String())
	}
	first, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(key); fi.Mode().Perm() != 0o640 {
		t.Errorf("key mode %v", fi.Mode().Perm())
	}
	out.Reset()
	if code := run([]string{"-config", cfgPath, "-create-key"}, &out, &errb); code != exitOK || !strings.HasPrefix(out.String(), "kept spool key") {
		t.Fatalf("second run: exit %d: %s %s", code, out.String(), errb.String())
	}
	if again, _ := os.ReadFile(key); string(again) != string(first) {
		t.Error("the key was replaced")
	}
	// The daemon now starts with create_key = false (the default) on it.
	if code := run([]string{"-config", cfgPath, "-check"}, &out, &errb); code != exitOK {
		t.Fatalf("check: exit %d %s", code, errb.String())
	}
}
