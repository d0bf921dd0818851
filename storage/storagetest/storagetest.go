// Package storagetest opens throwaway stores and spools for tests: key
// files and a database in t.TempDir(), closed by t.Cleanup. [TamperAudit]
// edits the audit chain of a closed copy as an attacker without the audit
// key could, for tests of verification end to end.
package storagetest

import (
	"os"
	"path/filepath"
	"testing"

	"pagebridge/storage"
)

// Env is a test's store directory and keys. The key files live in a
// directory apart from the data, as in production.
type Env struct {
	Dir          string // holds the database
	Path         string // the database file
	KeyPath      string // the keyring file
	AuditKeyPath string // the audit key file
	Keys         *storage.Keyring
	AuditKey     []byte
}

// New makes the directories and key files for one store.
func New(t testing.TB) *Env {
	t.Helper()
	root := t.TempDir()
	e := &Env{
		Dir:          filepath.Join(root, "data"),
		KeyPath:      filepath.Join(root, "keys", "kek.json"),
		AuditKeyPath: filepath.Join(root, "keys", "audit.key"),
	}
	e.Path = filepath.Join(e.Dir, "pagebridge.db")
	if err := os.MkdirAll(e.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	e.Keys, e.AuditKey = NewKeys(t, filepath.Dir(e.KeyPath))
	return e
}

// NewKeys creates a keyring (kek.json) and an audit key (audit.key) in dir.
func NewKeys(t testing.TB, dir string) (*storage.Keyring, []byte) {
	t.Helper()
	keys, err := storage.CreateKeyring(filepath.Join(dir, "kek.json"))
	if err != nil {
		t.Fatal(err)
	}
	akey, err := storage.CreateAuditKey(filepath.Join(dir, "audit.key"))
	if err != nil {
		t.Fatal(err)
	}
	return keys, akey
}

// Options returns Options with the env's keys, changed by each mod.
func (e *Env) Options(mods ...func(*storage.Options)) storage.Options {
	o := storage.Options{Keys: e.Keys, AuditKey: e.AuditKey}
	for _, m := range mods {
		m(&o)
	}
	return o
}

// Open opens the env's store, failing the test on error; t.Cleanup closes
// it (closing twice is harmless, so tests may close it themselves).
func (e *Env) Open(t testing.TB, mods ...func(*storage.Options)) *storage.Store {
	t.Helper()
	return opened[*storage.Store](t)(storage.Open(e.Path, e.Options(mods...)))
}

// opened fails t on an open's error and closes what it opened at
// t.Cleanup.
func opened[F interface{ Close() error }](t testing.TB) func(F, error) F {
	return func(f F, err error) F {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := f.Close(); err != nil {
				t.Error(err)
			}
		})
		return f
	}
}

// MustOpen opens a new store in a temp dir.
func MustOpen(t testing.TB, mods ...func(*storage.Options)) *storage.Store {
	t.Helper()
	return New(t).Open(t, mods...)
}
