package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"pagebridge/gateway/wctp"
)

// TestFullDiskRefusesTemporarily caps the running daemon's file size
// (RLIMIT_FSIZE) at the db's current size, so the store cannot grow, as on
// a full disk: every page is then answered 604 (temporary) or 200, never
// 200 for a page that was not stored. Lifting the cap, pages are accepted
// again without a restart, and every 200 is in the store.
func TestFullDiskRefusesTemporarily(t *testing.T) {
	root := t.TempDir()
	d := startDemo(t, root)
	sender := demoSender(t, root)
	hc := httpClient(t, root, 1)
	fi, err := os.Stat(filepath.Join(root, "data", dbFile))
	if err != nil {
		t.Fatal(err)
	}
	pid := d.cmd.Process.Pid
	limit := unix.Rlimit{Cur: uint64(fi.Size()), Max: unix.RLIM_INFINITY}
	if err := unix.Prlimit(pid, unix.RLIMIT_FSIZE, &limit, nil); err != nil {
		t.Fatalf("prlimit: %v", err)
	}
	accepted, refused := map[string]bool{}, map[string]bool{}
	send := func(ref string) wctp.Response {
		resp, err := wctp.Submit(context.Background(), hc, d.url("/wctp"), page(sender, ref, "1002", "disk full test "+ref))
		if err != nil {
			t.Fatalf("%s: %v (the daemon must survive a full disk)", ref, err)
		}
		return resp
	}
	for i := 0; i < 20000 && len(refused) < 20; i++ {
		ref := fmt.Sprintf("full-%05d", i)
		switch resp := send(ref); {
		case resp.Success:
			accepted[ref] = true
		case resp.Code == wctp.CodeInternalError:
			refused[ref] = true
		default:
			t.Fatalf("%s: WCTP %d %s; want 200 or 604", ref, resp.Code, resp.Text)
		}
	}
	if len(refused) == 0 {
		t.Fatalf("the store never hit the file size cap in %d pages", len(accepted))
	}
	resp, err := hc.Get(d.url("/healthz"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("daemon not healthy on a full disk: %v", err)
	}
	resp.Body.Close()

	limit.Cur = unix.RLIM_INFINITY
	if err := unix.Prlimit(pid, unix.RLIMIT_FSIZE, &limit, nil); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		ref := fmt.Sprintf("after-%02d", i)
		if resp := send(ref); !resp.Success {
			t.Fatalf("%s after the disk has room again: WCTP %d", ref, resp.Code)
		}
		accepted[ref] = true
	}
	d.stop()
	stored := storedRefs(t, root)
	for ref := range accepted {
		if _, ok := stored[ref]; !ok {
			t.Errorf("accepted page %s is not in the store", ref)
		}
	}
	for ref := range refused {
		if _, ok := stored[ref]; ok {
			t.Errorf("page %s was refused with 604 but stored", ref)
		}
	}
	t.Logf("%d accepted, %d refused with 604 while full, all accepted pages stored", len(accepted), len(refused))
}
