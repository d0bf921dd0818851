package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"pagebridge/gateway/wctp"
)

// cli runs the pagebridge binary and returns its exit code and output.
func cli(t *testing.T, args ...string) (int, string) {
	t.Helper()
	out, err := exec.Command(pagebridgeBinary(t), args...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// TestOperatorCommands drives backup, keys rotate, restore and audit verify
// as an operator would, against a running and then a stopped daemon.
func TestOperatorCommands(t *testing.T) {
	root := t.TempDir()
	d := startDemo(t, root)
	sender := demoSender(t, root)
	hc := httpClient(t, root, 2)
	send := func(d *daemon, ref string) {
		t.Helper()
		r, err := wctp.Submit(context.Background(), hc, d.url("/wctp"), page(sender, ref, "2000", "ops "+ref))
		if err != nil || !r.Success {
			t.Fatalf("%s: %v %+v", ref, err, r)
		}
	}
	for i := range 5 {
		send(d, fmt.Sprintf("before-%d", i))
	}
	backup := filepath.Join(t.TempDir(), "pagebridge-backup.db")
	if code, out := cli(t, "backup", "-data", root, backup); code != 0 || !strings.Contains(out, "backup written") {
		t.Fatalf("online backup: exit %d\n%s", code, out)
	}
	for i := range 5 {
		send(d, fmt.Sprintf("after-%d", i))
	}
	if code, out := cli(t, "keys", "rotate", "-data", root); code != 0 || !strings.Contains(out, "keys rotated") {
		t.Fatalf("keys rotate on the running daemon: exit %d\n%s", code, out)
	}
	send(d, "after-rotation")
	if code, out := cli(t, "audit", "verify", "-data", root); code != 0 || !strings.Contains(out, "intact") {
		t.Fatalf("audit verify on the running daemon: exit %d\n%s", code, out)
	}
	if code, out := cli(t, "restore", "-data", root, backup); code == 0 || !strings.Contains(out, "running") {
		t.Fatalf("restore while running: exit %d\n%s", code, out)
	}
	d.stop()

	// The backup predates the rotation: its data keys are wrapped by a key
	// the key file no longer holds, and restore says so before touching
	// anything.
	if code, out := cli(t, "restore", "-data", root, backup); code == 0 || !strings.Contains(out, "key") {
		t.Fatalf("restore of a backup under a retired key: exit %d\n%s", code, out)
	}
	if got := storedRefs(t, root); len(got) != 11 {
		t.Fatalf("the refused restore changed the store: %d pages", len(got))
	}
	// A backup taken now, with the daemon stopped, restores.
	backup2 := filepath.Join(t.TempDir(), "offline.db")
	if code, out := cli(t, "backup", "-data", root, backup2); code != 0 {
		t.Fatalf("offline backup: exit %d\n%s", code, out)
	}
	d = startDemo(t, root)
	send(d, "after-backup2")
	d.stop()
	code, out := cli(t, "restore", "-data", root, backup2)
	if code != 0 || !strings.Contains(out, "kept as") {
		t.Fatalf("restore: exit %d\n%s", code, out)
	}
	got := storedRefs(t, root)
	if _, ok := got["after-backup2"]; ok || len(got) != 11 {
		t.Fatalf("after restore: %d pages, after-backup2 present %v", len(got), ok)
	}
	if code, out := cli(t, "audit", "verify", "-data", root); code != 0 {
		t.Fatalf("audit verify after restore: exit %d\n%s", code, out)
	}
	d = startDemo(t, root)
	send(d, "after-restore")
	d.stop()
}
