package storage_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"pagebridge/storage"
	"pagebridge/storage/storagetest"
)

// ownerOf returns a file's owner and group.
func ownerOf(t *testing.T, path string) (uint32, uint32) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid
}

// Root rotating keys or restoring with the daemon stopped (as the
// operations guide says) must leave files the service user can still
// open: they keep the owner and group of what they replace.
func TestRootKeepsServiceOwners(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changing owners needs root (CI runs as root)")
	}
	const uid, gid = 4242, 4243
	ctx := context.Background()
	e := storagetest.New(t)
	s := e.Open(t)
	accept(t, s, newMsg("owned"))
	backup := filepath.Join(t.TempDir(), "backup.db")
	if _, err := s.BackupFile(ctx, backup); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, p := range []string{e.Dir, e.Path, e.KeyPath} {
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}

	s = e.Open(t)
	if _, err := storage.RotateKEK(ctx, s, e.KeyPath); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if u, g := ownerOf(t, e.KeyPath); u != uid || g != gid {
		t.Errorf("rotated key file owned by %d:%d, want %d:%d", u, g, uid, gid)
	}
	if fi, _ := os.Stat(e.KeyPath); fi.Mode().Perm() != 0o640 {
		t.Errorf("rotated key file mode %v", fi.Mode().Perm())
	}

	// The backup predates the rotation; take one under the new key.
	keys, err := storage.LoadKeyring(e.KeyPath)
	if err != nil {
		t.Fatal(err)
	}
	s = e.Open(t, func(o *storage.Options) { o.Keys = keys })
	if _, err := s.BackupFile(ctx, backup); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := storage.Restore(backup, e.Path, keys); err != nil {
		t.Fatal(err)
	}
	if u, g := ownerOf(t, e.Path); u != uid || g != gid {
		t.Errorf("restored database owned by %d:%d, want %d:%d", u, g, uid, gid)
	}

	// No database yet: the restored one takes its directory's owner.
	fresh := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(fresh, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(fresh, uid+1, gid+1); err != nil {
		t.Fatal(err)
	}
	if _, err := storage.Restore(backup, filepath.Join(fresh, "pagebridge.db"), keys); err != nil {
		t.Fatal(err)
	}
	if u, g := ownerOf(t, filepath.Join(fresh, "pagebridge.db")); u != uid+1 || g != gid+1 {
		t.Errorf("restored into an empty dir: owned by %d:%d, want %d:%d", u, g, uid+1, gid+1)
	}
}
