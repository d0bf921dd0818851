package storage_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"pagebridge/gateway/paging"
	"pagebridge/storage"
	"pagebridge/storage/storagetest"
)

// A backup taken while writers keep accepting is consistent: restored, it
// opens, holds every message accepted before it began, reads them all
// back, and its audit chain verifies.
func TestBackupDuringWritesThenRestore(t *testing.T) {
	e := storagetest.New(t)
	s := e.Open(t)
	ctx := context.Background()

	var (
		mu       sync.Mutex
		accepted = map[paging.ID]string{}
		stop     atomic.Bool
		wg       sync.WaitGroup
	)
	warm := make(chan struct{})
	var warmOnce sync.Once
	for w := range 8 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				m := newMsg("writer " + string(rune('A'+w)) + " page " + string(rune('0'+i%10)))
				if err := s.Accept(ctx, m, by); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				accepted[m.ID] = m.Text.Reveal()
				if len(accepted) >= 100 {
					warmOnce.Do(func() { close(warm) })
				}
				mu.Unlock()
			}
		})
	}
	<-warm
	mu.Lock()
	before := make(map[paging.ID]string, len(accepted))
	for id, text := range accepted {
		before[id] = text
	}
	mu.Unlock()
	backup := filepath.Join(t.TempDir(), "backup.db")
	n, err := s.BackupFile(ctx, backup)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(backup); err != nil || fi.Size() != n || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, %d bytes written, mode %v", err, n, fi.Mode())
	}
	// Writers go on after the backup too.
	mu.Lock()
	atBackup := len(accepted)
	mu.Unlock()
	for {
		mu.Lock()
		more := len(accepted) > atBackup+50
		mu.Unlock()
		if more {
			break
		}
		if err := s.Accept(ctx, newMsg("after backup"), by); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()

	// Restore into a fresh place and check it.
	dest := filepath.Join(t.TempDir(), "restored.db")
	aside, err := storage.Restore(backup, dest, e.Keys)
	if err != nil || aside != "" {
		t.Fatalf("restore: %q, %v", aside, err)
	}
	r, err := storage.Open(dest, e.Options())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := texts(t, r)
	for id, text := range before {
		if got[id] != text {
			t.Errorf("message %s accepted before the backup: restored %q, want %q", id, got[id], text)
		}
	}
	if len(got) >= len(accepted) {
		t.Errorf("restored %d messages, live has %d: the backup saw writes after it began", len(got), len(accepted))
	}
	verify(t, r)
	t.Logf("backup of %d bytes: %d of %d messages, %d known before it began", n, len(got), len(accepted), len(before))
}

func TestBackupTo(t *testing.T) {
	s := storagetest.MustOpen(t)
	accept(t, s, newMsg("x"))
	var announced int64
	var buf bytes.Buffer
	err := s.BackupTo(context.Background(), func(n int64) error { announced = n; return nil }, &buf)
	if err != nil || announced != int64(buf.Len()) || announced == 0 {
		t.Fatalf("announced %d, wrote %d, %v", announced, buf.Len(), err)
	}
	stop := errors.New("no room")
	buf.Reset()
	err = s.BackupTo(context.Background(), func(int64) error { return stop }, &buf)
	if !errors.Is(err, stop) || buf.Len() != 0 {
		t.Fatalf("refused size: %v, %d bytes written", err, buf.Len())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Backup(ctx, &buf); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled backup: %v", err)
	}
}

func TestRestoreReplacesAndKeepsOld(t *testing.T) {
	e := storagetest.New(t)
	s := e.Open(t)
	a, b := newMsg("before backup"), newMsg("after backup")
	accept(t, s, a)
	backup := filepath.Join(t.TempDir(), "backup.db")
	if _, err := s.BackupFile(context.Background(), backup); err != nil {
		t.Fatal(err)
	}
	accept(t, s, b)
	if _, err := storage.Restore(backup, e.Path, e.Keys); !errors.Is(err, storage.ErrLocked) {
		t.Fatalf("restore under a running store: %v, want ErrLocked", err)
	}
	s.Close()

	aside, err := storage.Restore(backup, e.Path, e.Keys)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(aside) != e.Dir || !bytes.Contains([]byte(filepath.Base(aside)), []byte(".pre-restore-")) {
		t.Errorf("kept aside as %q", aside)
	}
	s = e.Open(t)
	if got := texts(t, s); len(got) != 1 || got[a.ID] == "" {
		t.Errorf("restored: %v", got)
	}
	verify(t, s)
	s.Close()
	// The old database, with both messages, is intact beside it.
	old, err := storage.Open(aside, e.Options())
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if got := texts(t, old); len(got) != 2 {
		t.Errorf("kept database has %d messages, want 2", len(got))
	}
}

func TestRestoreRefuses(t *testing.T) {
	e := storagetest.New(t)
	s := e.Open(t)
	accept(t, s, newMsg("x"))
	backup := filepath.Join(t.TempDir(), "backup.db")
	if _, err := s.BackupFile(context.Background(), backup); err != nil {
		t.Fatal(err)
	}
	s.Close()
	orig, _ := os.ReadFile(e.Path)

	otherKeys, _ := storagetest.NewKeys(t, t.TempDir())
	garbage := filepath.Join(t.TempDir(), "garbage.db")
	os.WriteFile(garbage, bytes.Repeat([]byte{0xAB}, 64<<10), 0o600)
	empty := filepath.Join(t.TempDir(), "empty.db")
	os.WriteFile(empty, nil, 0o600)
	tests := []struct {
		name   string
		backup string
		keys   *storage.Keyring
		want   error
	}{
		{"wrong key", backup, otherKeys, storage.ErrWrongKey},
		{"not a database", garbage, e.Keys, storage.ErrNotDatabase},
		{"empty file", empty, e.Keys, nil},
		{"missing", filepath.Join(t.TempDir(), "nope"), e.Keys, os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := storage.Restore(tt.backup, e.Path, tt.keys)
			if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if now, _ := os.ReadFile(e.Path); !bytes.Equal(now, orig) {
				t.Error("the database was changed by a refused restore")
			}
			m1, _ := filepath.Glob(e.Path + ".*")
			m2, _ := filepath.Glob(filepath.Join(e.Dir, ".*"))
			if m := append(m1, m2...); len(m) != 0 {
				t.Errorf("files left behind: %v", m)
			}
		})
	}
	if err := storage.CheckBackup(backup, e.Keys); err != nil {
		t.Errorf("CheckBackup of a good backup: %v", err)
	}
}

func TestBackupClosed(t *testing.T) {
	e := storagetest.New(t)
	s := e.Open(t)
	m := newMsg("offline backup")
	accept(t, s, m)
	var buf bytes.Buffer
	if _, err := storage.BackupClosed(context.Background(), e.Path, &buf); !errors.Is(err, storage.ErrLocked) {
		t.Fatalf("while open: %v, want ErrLocked", err)
	}
	s.Close()
	n, err := storage.BackupClosed(context.Background(), e.Path, &buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("backup: %d, %v", n, err)
	}
	backup := filepath.Join(t.TempDir(), "b.db")
	os.WriteFile(backup, buf.Bytes(), 0o600)
	dest := filepath.Join(t.TempDir(), "r.db")
	if _, err := storage.Restore(backup, dest, e.Keys); err != nil {
		t.Fatal(err)
	}
	r, err := storage.Open(dest, e.Options())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := texts(t, r); got[m.ID] != "offline backup" {
		t.Errorf("restored %v", got)
	}
}
