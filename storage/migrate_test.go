package storage_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"pagebridge/gateway/paging"
	"pagebridge/storage"
	"pagebridge/storage/storagetest"
)

// writeV1 makes a schema-1 file as the first release wrote it: the base
// buckets, no timers or outbox, one person.
func writeV1(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range []string{"meta", "keys", "messages", "audit", "people", "roles", "groups", "pagerids", "accounts"} {
			if _, err := tx.CreateBucket([]byte(b)); err != nil {
				return err
			}
		}
		if err := tx.Bucket([]byte("meta")).Put([]byte("schema"), binary.BigEndian.AppendUint64(nil, 1)); err != nil {
			return err
		}
		return tx.Bucket([]byte("people")).Put([]byte("dr-lee"), []byte(`{"id":"dr-lee","name":"Dr Lee","stage":"both"}`))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func schemaOf(t *testing.T, path string) (v uint64, buckets []string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.View(func(tx *bolt.Tx) error {
		v = binary.BigEndian.Uint64(tx.Bucket([]byte("meta")).Get([]byte("schema")))
		return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			buckets = append(buckets, string(name))
			return nil
		})
	})
	return v, buckets
}

func TestMigrateFromV1TakesBackup(t *testing.T) {
	e := storagetest.New(t)
	writeV1(t, e.Path)
	backups := filepath.Join(t.TempDir(), "backups")
	withBackups := func(o *storage.Options) { o.BackupDir = backups }
	s := e.Open(t, withBackups)
	ctx := context.Background()

	if p, err := s.Person(ctx, "dr-lee"); err != nil || p.Name != "Dr Lee" {
		t.Fatalf("person after migration: %+v, %v", p, err)
	}
	// The v2 buckets work.
	tm := paging.Timer{ID: paging.NewID(time.Now()), Due: time.Now(), Kind: "escalate", Ref: "delivery/x"}
	if err := s.Schedule(ctx, tm); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(backups, "pagebridge.db.v1-*.bak"))
	if err != nil || len(files) != 1 {
		t.Fatalf("backups: %v %v", files, err)
	}
	v, buckets := schemaOf(t, files[0])
	if v != 1 || strings.Contains(strings.Join(buckets, " "), "timers") {
		t.Errorf("backup has schema %d and buckets %v, want the v1 file as it was", v, buckets)
	}
	if fi, _ := os.Stat(files[0]); fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %#o", fi.Mode().Perm())
	}

	// At the current schema, no more backups.
	s = reopen(t, e, s, withBackups)
	s.Close()
	if v, _ := schemaOf(t, e.Path); v != storage.SchemaVersion {
		t.Errorf("schema %d, want %d", v, storage.SchemaVersion)
	}
	if files, _ := filepath.Glob(filepath.Join(backups, "*")); len(files) != 1 {
		t.Errorf("backups after a second open: %v", files)
	}
}

func TestNewFileNeedsNoBackup(t *testing.T) {
	e := storagetest.New(t)
	e.Open(t).Close()
	if files, _ := filepath.Glob(filepath.Join(e.Dir, "*.bak")); len(files) != 0 {
		t.Errorf("backups of a new file: %v", files)
	}
}

func TestSchemaTooNew(t *testing.T) {
	e := storagetest.New(t)
	e.Open(t).Close()
	editBolt(t, e.Path, func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), binary.BigEndian.AppendUint64(nil, 99))
	})
	_, err := storage.Open(e.Path, e.Options())
	if !errors.Is(err, storage.ErrSchemaTooNew) {
		t.Fatalf("open: %v, want ErrSchemaTooNew", err)
	}
	if !strings.Contains(err.Error(), "99") {
		t.Errorf("error does not give the version: %v", err)
	}
	if v, _ := schemaOf(t, e.Path); v != 99 {
		t.Errorf("open changed the schema to %d", v)
	}
	if _, err := storage.VerifyAuditFile(context.Background(), e.Path, e.AuditKey); !errors.Is(err, storage.ErrSchemaTooNew) {
		t.Errorf("verify: %v, want ErrSchemaTooNew", err)
	}
	if _, err := storage.Restore(e.Path, filepath.Join(t.TempDir(), "x.db"), e.Keys); !errors.Is(err, storage.ErrSchemaTooNew) {
		t.Errorf("restore: %v, want ErrSchemaTooNew", err)
	}
}

// writeV2 makes a schema-2 file as the second release wrote it: the base
// buckets, timers and outbox with their indexes, one timer, no job
// results.
func writeV2(t *testing.T, path string, tm paging.Timer) {
	t.Helper()
	writeV1(t, path)
	editBolt(t, path, func(tx *bolt.Tx) error {
		for _, b := range []string{"timers", "timers.due", "outbox", "outbox.due"} {
			if _, err := tx.CreateBucket([]byte(b)); err != nil {
				return err
			}
		}
		v, err := json.Marshal(tm)
		if err != nil {
			return err
		}
		if err := tx.Bucket([]byte("timers")).Put(tm.ID.Bytes(), v); err != nil {
			return err
		}
		due := binary.BigEndian.AppendUint64(nil, uint64(tm.Due.UnixNano())^(1<<63))
		if err := tx.Bucket([]byte("timers.due")).Put(append(due, tm.ID.Bytes()...), nil); err != nil {
			return err
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), binary.BigEndian.AppendUint64(nil, 2))
	})
}

func TestMigrateFromV2AddsJobResults(t *testing.T) {
	e := storagetest.New(t)
	tm := paging.Timer{ID: paging.NewID(t0), Due: t0, Kind: "escalate", Ref: "delivery/x"}
	writeV2(t, e.Path, tm)
	s := e.Open(t)
	ctx := context.Background()

	due, err := s.Due(ctx, t0, 10)
	if err != nil || len(due) != 1 || due[0].ID != tm.ID {
		t.Fatalf("timers after migration: %+v, %v", due, err)
	}
	if _, err := s.RecordJobResult(ctx, newResult("sent")); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(e.Dir, "pagebridge.db.v2-*.bak"))
	if err != nil || len(files) != 1 {
		t.Fatalf("backups: %v %v", files, err)
	}
	v, buckets := schemaOf(t, files[0])
	if v != 2 || slices.Contains(buckets, "jobresults") || !slices.Contains(buckets, "timers") {
		t.Errorf("backup has schema %d and buckets %v, want the v2 file as it was", v, buckets)
	}
	s.Close()
	if v, buckets := schemaOf(t, e.Path); v != storage.SchemaVersion || !slices.Contains(buckets, "jobresults") {
		t.Errorf("schema %d, buckets %v", v, buckets)
	}
}
