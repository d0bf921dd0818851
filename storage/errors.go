package storage

import (
	"errors"
	"fmt"

	"pagebridge/gateway/paging"
)

// These errors can be returned when opening a store, or checking a file
// before it is restored or verified.
var (
	// ErrWrongKey means the keyring cannot unwrap the database's data keys:
	// the key file belongs to another database, or an old key file was used
	// after a rotation. Nothing was changed.
	ErrWrongKey = errors.New("key file does not match this database")

	// ErrWrongAuditKey means the audit key does not match the one the
	// database's audit chain was started with.
	ErrWrongAuditKey = errors.New("audit key does not match this database")

	// ErrSchemaTooNew means the file was written by a newer Pagebridge than
	// this one. Upgrade, or restore a backup taken before the upgrade.
	ErrSchemaTooNew = errors.New("database schema is newer than this program knows")

	// ErrLocked means another process holds the database file (is the
	// pagebridge daemon running?). bbolt files cannot be shared.
	ErrLocked = errors.New("database is locked by another process")

	// ErrNotDatabase means the file is not a readable bbolt database of
	// Pagebridge.
	ErrNotDatabase = errors.New("not a pagebridge database")

	// ErrOptions means Options lacks something required (keys, audit key).
	ErrOptions = errors.New("invalid store options")
)

// These errors can be returned when loading or creating key files.
var (
	// ErrBadKeyFile means a key file exists but cannot be used: not the
	// expected format, a key of the wrong length, a key that does not match
	// its ID. Missing files are reported with fs.ErrNotExist instead.
	ErrBadKeyFile = errors.New("bad key file")

	// ErrKeyFileMode means a key file is writable by its group or readable
	// by others. Key files must be 0600 or 0640.
	ErrKeyFileMode = errors.New("key file permissions too open")
)

// These errors can be returned by the operations of an open store.
var (
	// ErrClosed means the store was closed. It wraps paging.ErrTemporary:
	// nothing was stored, and a way in answers with its protocol's
	// temporary failure.
	ErrClosed = fmt.Errorf("store closed: %w", paging.ErrTemporary)

	// ErrCorrupt means a stored value failed its integrity check: a sealed
	// value that does not authenticate (altered, or moved from another key)
	// or a record that does not decode.
	ErrCorrupt = errors.New("stored value corrupt")

	// ErrInUse means a directory record cannot be deleted because another
	// record points at it (a pager ID at a person, an account at a person).
	// It wraps paging.ErrInvalid.
	ErrInUse = fmt.Errorf("%w: in use", paging.ErrInvalid)
)

// AuditError reports where the audit chain fails verification.
type AuditError struct {
	// Seq is the sequence number of the first entry (or head) found wrong.
	Seq uint64
	// Reason says what is wrong there, in words for the operator.
	Reason string
}

func (e *AuditError) Error() string {
	return fmt.Sprintf("audit chain broken at seq %d: %s", e.Seq, e.Reason)
}

// temporary wraps a commit failure so that callers can test for both
// paging.ErrTemporary and the cause (syscall.ENOSPC, ...).
func temporary(op string, cause error) error {
	return fmt.Errorf("%s: %w: %w", op, paging.ErrTemporary, cause)
}
