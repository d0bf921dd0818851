package storagetest

import (
	"path/filepath"
	"testing"

	"pagebridge/storage"
)

// SpoolPath is where OpenSpool keeps the env's spool: beside the store, in
// Dir, with the keyring outside it as in production.
func (e *Env) SpoolPath() string { return filepath.Join(e.Dir, "spool.db") }

// SpoolOptions returns SpoolOptions with the env's keyring, changed by
// each mod.
func (e *Env) SpoolOptions(mods ...func(*storage.SpoolOptions)) storage.SpoolOptions {
	o := storage.SpoolOptions{Keys: e.Keys}
	for _, m := range mods {
		m(&o)
	}
	return o
}

// OpenSpool opens the env's spool, failing the test on error; t.Cleanup
// closes it (closing twice is harmless).
func (e *Env) OpenSpool(t testing.TB, mods ...func(*storage.SpoolOptions)) *storage.Spool {
	t.Helper()
	return opened[*storage.Spool](t)(storage.OpenSpool(e.SpoolPath(), e.SpoolOptions(mods...)))
}

// MustOpenSpool opens a new spool in a temp dir.
func MustOpenSpool(t testing.TB, mods ...func(*storage.SpoolOptions)) *storage.Spool {
	t.Helper()
	return New(t).OpenSpool(t, mods...)
}
