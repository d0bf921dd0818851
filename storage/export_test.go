package storage

// Test hooks for the external test package.

// SetCommitHook makes every commit call fn after the batch's operations
// ran; an error from fn fails the commit as a disk error would (the
// transaction rolls back). nil removes the hook.
func SetCommitHook(s *Store, fn func() error) {
	if fn == nil {
		s.commitHook.Store(nil)
		return
	}
	s.commitHook.Store(&fn)
}

// WithSealLimit lowers how many values a data key seals.
func WithSealLimit(n uint64) func(*Options) {
	return func(o *Options) { o.sealLimit = n }
}

// Rechain sets e.Prev to prev and recomputes e.Hash, as an attacker
// without the audit key could; it returns the new hash. The MAC is left
// alone (it cannot be recomputed without the key).
func Rechain(prev string, e *AuditEntry) string {
	h, err := ChainHash(prev, e)
	if err != nil {
		panic(err)
	}
	e.Prev, e.Hash = prev, h
	return h
}

// WithNewKey exposes Keyring.withNewKey, to stage a rotation by hand.
func WithNewKey(k *Keyring) (*Keyring, error) { return k.withNewKey() }

// WriteKeyring exposes writeKeyring.
func WriteKeyring(path string, k *Keyring) error { return writeKeyring(path, k, true) }

// SpoolStore exposes a spool's Store, for SetCommitHook.
func SpoolStore(sp *Spool) *Store { return sp.st }
