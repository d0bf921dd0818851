package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// writeFileAtomic writes a file so that a crash leaves either the old
// contents at path or the new ones, never a mix: temp file in the same
// directory, fsync, rename (or link, when overwriting is not allowed), fsync
// of the directory.
//
// With overwrite false it fails with an error wrapping fs.ErrExist if path
// exists, atomically: the final step is a hard link, which refuses to
// replace.
//
// With overwrite true the new file keeps the owner and group of the one it
// replaces (ownLike).
func writeFileAtomic(path string, perm os.FileMode, overwrite bool, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if overwrite {
		if err := ownLike(f, path); err != nil {
			return err
		}
	}
	if err := write(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if overwrite {
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	} else {
		if err := os.Link(tmp, path); err != nil {
			return err
		}
		if err := os.Remove(tmp); err != nil {
			return err
		}
	}
	return syncDir(dir)
}

// ownLike gives f the owner and group of the file at like, if like exists
// and they differ: a key file or database that root replaces (keys rotate,
// restore, with the daemon stopped) keeps the service's owner and group, so
// the daemon can still open it. Only root may change them; anyone else gets
// the error rather than a file its daemon cannot read.
func ownLike(f *os.File, like string) error {
	want, err := os.Stat(like)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	have, err := f.Stat()
	if err != nil {
		return err
	}
	w, ok1 := want.Sys().(*syscall.Stat_t)
	h, ok2 := have.Sys().(*syscall.Stat_t)
	if !ok1 || !ok2 || (w.Uid == h.Uid && w.Gid == h.Gid) {
		return nil
	}
	if err := f.Chown(int(w.Uid), int(w.Gid)); err != nil {
		return fmt.Errorf("keep the owner of %s: %w", like, err)
	}
	return nil
}

// syncDir makes a rename or link in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// checkKeyFileMode refuses key files that others can read or the group can
// write. Allowed: 0600, 0640, 0400, 0440.
func checkKeyFileMode(path string, fi os.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file", ErrBadKeyFile, path)
	}
	if perm := fi.Mode().Perm(); perm&0o137 != 0 {
		return fmt.Errorf("%w: %s is mode %#o; want 0600 or 0640 (no group write, nothing for others)", ErrKeyFileMode, path, perm)
	}
	return nil
}

// readKeyFile reads a small key file after checking its mode.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := checkKeyFileMode(path, fi); err != nil {
		return nil, err
	}
	const max = 1 << 20
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if len(b) > max {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrBadKeyFile, path, max)
	}
	return b, nil
}

// isExist reports whether err says a file already exists.
func isExist(err error) bool { return errors.Is(err, os.ErrExist) }
