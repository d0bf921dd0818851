package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ctxWriter stops a copy when ctx ends.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// Backup writes a consistent copy of the whole database to w, from one
// read transaction, while writes go on. The copy holds PHI sealed only;
// it is useless without the key file. It returns the bytes written.
func (s *Store) Backup(ctx context.Context, w io.Writer) (int64, error) {
	var n int64
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(ctxWriter{ctx, w})
		return err
	})
	if err != nil {
		return n, fmt.Errorf("backup: %w", err)
	}
	return n, nil
}

// BackupTo is Backup for a stream that must announce its length first
// (the admin socket): it calls size with the exact number of bytes it will
// write, then writes them, all from one read transaction. An error from
// size stops it before anything is written.
func (s *Store) BackupTo(ctx context.Context, size func(int64) error, w io.Writer) error {
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if err := size(tx.Size()); err != nil {
			return err
		}
		_, err := tx.WriteTo(ctxWriter{ctx, w})
		return err
	})
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// BackupFile writes a backup to path atomically (temp file, fsync,
// rename, mode 0600); it replaces an older file at path.
func (s *Store) BackupFile(ctx context.Context, path string) (int64, error) {
	var n int64
	err := writeFileAtomic(path, 0o600, true, func(w io.Writer) error {
		var err error
		n, err = s.Backup(ctx, w)
		return err
	})
	return n, err
}

// BackupClosed writes a backup of the database at dbPath to w while no
// process holds it open for writing (the daemon is stopped). It opens the
// file read-only and needs no key. ErrLocked if the daemon runs: back up
// through it instead (Backup, BackupTo).
func BackupClosed(ctx context.Context, dbPath string, w io.Writer) (int64, error) {
	db, err := openReadOnly(dbPath)
	if err != nil {
		return 0, fmt.Errorf("backup %s: %w", dbPath, err)
	}
	defer db.Close()
	var n int64
	err = db.View(func(tx *bolt.Tx) error {
		v, err := schemaVersion(tx)
		if err != nil {
			return err
		}
		if v == 0 {
			return fmt.Errorf("%w: no schema version", ErrNotDatabase)
		}
		n, err = tx.WriteTo(ctxWriter{ctx, w})
		return err
	})
	if err != nil {
		return n, fmt.Errorf("backup %s: %w", dbPath, err)
	}
	return n, nil
}

// CheckBackup opens the file at path read-only and checks that it is a
// sound bbolt file (page-level consistency check), of a schema this code
// knows, whose data keys keys can unwrap. It changes nothing.
func CheckBackup(path string, keys *Keyring) error {
	db, err := openReadOnly(path)
	if err != nil {
		return fmt.Errorf("check backup: %w", err)
	}
	defer db.Close()
	if err := db.View(func(tx *bolt.Tx) error { return checkFile(tx, keys) }); err != nil {
		return fmt.Errorf("check backup %s: %w", path, err)
	}
	return nil
}

func checkFile(tx *bolt.Tx, keys *Keyring) error {
	var bad error
	for err := range tx.Check() { // drain: Check's goroutine sends every finding
		if bad == nil {
			bad = err
		}
	}
	if bad != nil {
		return fmt.Errorf("%w: consistency check: %w", ErrNotDatabase, bad)
	}
	v, err := storeLayout.check(tx)
	if err != nil {
		return err
	}
	if v == 0 {
		return fmt.Errorf("%w: no schema version (empty or foreign file)", ErrNotDatabase)
	}
	b := tx.Bucket(bucketKeys)
	if b == nil {
		return fmt.Errorf("%w: no keys bucket", ErrNotDatabase)
	}
	_, err = unwrapAll(b, keys)
	return err
}

// Restore replaces the database at dbPath with the backup at backupPath.
// The daemon must be stopped (ErrLocked otherwise).
//
// Before touching dbPath it checks the backup (CheckBackup: a sound bbolt
// file of a known schema that keys opens; ErrWrongKey for another key
// file) and copies it, from a read transaction, to a temp file beside
// dbPath, fsynced. Then an existing database is kept as
// "<dbPath>.pre-restore-<UTC time>" (a hard link, so dbPath never goes
// missing) and the copy is renamed over dbPath. aside is that kept file's
// path, or "" if there was no database. An older schema is migrated by the
// next Open, which backs it up first. The restored file takes the owner
// and group of the database it replaces, or of its directory.
func Restore(backupPath, dbPath string, keys *Keyring) (aside string, err error) {
	if keys == nil {
		return "", fmt.Errorf("restore: %w: no keyring", ErrOptions)
	}
	src, err := openReadOnly(backupPath)
	if err != nil {
		return "", fmt.Errorf("restore: backup %s: %w", backupPath, err)
	}
	defer src.Close()
	if err := src.View(func(tx *bolt.Tx) error { return checkFile(tx, keys) }); err != nil {
		return "", fmt.Errorf("restore: backup %s: %w", backupPath, err)
	}

	// Refuse while a process holds the current database.
	if _, err := os.Stat(dbPath); err == nil {
		cur, err := openBolt(dbPath, readOnlyTimeout, true)
		if err != nil && errors.Is(err, ErrLocked) {
			return "", fmt.Errorf("restore: %w", err)
		}
		if cur != nil {
			cur.Close()
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("restore: %w", err)
	}

	dir := filepath.Dir(dbPath)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(dbPath)+".restore-*")
	if err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	// Root restores for the service user: the database keeps its owner (or
	// takes the data dir's, if there was none).
	like := dbPath
	if _, err := os.Stat(dbPath); err != nil {
		like = dir
	}
	if err := ownLike(tmp, like); err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	if err := src.View(func(tx *bolt.Tx) error { _, err := tx.WriteTo(tmp); return err }); err != nil {
		return "", fmt.Errorf("restore: copy: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	if _, err := os.Stat(dbPath); err == nil {
		aside = dbPath + ".pre-restore-" + time.Now().UTC().Format("20060102T150405.000000000Z")
		if err := os.Link(dbPath, aside); err != nil {
			return "", fmt.Errorf("restore: keep the current database: %w", err)
		}
	}
	if err := os.Rename(tmpName, dbPath); err != nil {
		return aside, fmt.Errorf("restore: %w", err)
	}
	ok = true
	if err := syncDir(dir); err != nil {
		return aside, fmt.Errorf("restore: %w", err)
	}
	return aside, nil
}
