package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pagebridge/gateway/wctp"
	"pagebridge/storage/storagetest"
)

// TestAuditVerifyDetectsTampering edits copies of a real store's audit
// chain as an attacker without the audit key would (recomputing the hash
// chain after the edit) and runs `pagebridge audit verify` on each: every
// edit is found, and the place is named.
func TestAuditVerifyDetectsTampering(t *testing.T) {
	root := t.TempDir()
	d := startDemo(t, root)
	sender := demoSender(t, root)
	hc := httpClient(t, root, 1)
	for i := range 20 {
		r, err := wctp.Submit(context.Background(), hc, d.url("/wctp"), page(sender, fmt.Sprintf("t-%d", i), "1001", "audit me"))
		if err != nil || !r.Success {
			t.Fatalf("page %d: %v %+v", i, err, r)
		}
	}
	d.stop()
	cfgPath := filepath.Join(root, demoConfigName)
	verify := func(dir string) (int, string) { return cli(t, "audit", "verify", "-config", cfgPath, "-data", dir) }

	copyDB := func() string {
		dir := t.TempDir()
		src, err := os.Open(filepath.Join(root, "data", dbFile))
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		dst, err := os.Create(filepath.Join(dir, dbFile))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(dst, src); err != nil {
			t.Fatal(err)
		}
		dst.Close()
		return dir
	}
	if code, out := verify(copyDB()); code != 0 || !strings.Contains(out, "intact") {
		t.Fatalf("untouched copy: exit %d\n%s", code, out)
	}
	for _, c := range []struct {
		how storagetest.Tamper
		seq uint64
	}{
		{storagetest.TamperModify, 5},
		{storagetest.TamperDelete, 8},
		{storagetest.TamperSwap, 10},
		{storagetest.TamperTruncate, 15},
	} {
		t.Run(c.how.String(), func(t *testing.T) {
			dir := copyDB()
			want, err := storagetest.TamperAudit(filepath.Join(dir, dbFile), c.how, c.seq)
			if err != nil {
				t.Fatal(err)
			}
			code, out := verify(dir)
			if code != exitVerify {
				t.Fatalf("exit %d, want %d\n%s", code, exitVerify, out)
			}
			if !strings.Contains(out, fmt.Sprintf("seq %d", want)) && !strings.Contains(out, fmt.Sprintf("entry %d", want)) {
				t.Fatalf("verify does not name seq %d:\n%s", want, out)
			}
			t.Logf("%s at %d: %s", c.how, c.seq, strings.TrimSpace(out))
		})
	}
}
