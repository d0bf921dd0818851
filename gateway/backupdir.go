package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Backups written into a directory are named pagebridge-<UTC time>.db, so
// that their names sort by age and rotation can tell them from anything
// else kept there.
const (
	backupPrefix = "pagebridge-"
	backupSuffix = ".db"
	backupStamp  = "20060102T150405Z"
)

// backupName is the file name of a backup taken at t.
func backupName(t time.Time) string {
	return backupPrefix + t.UTC().Format(backupStamp) + backupSuffix
}

// isBackupName reports whether name is one backupName made.
func isBackupName(name string) bool {
	s, ok := strings.CutPrefix(name, backupPrefix)
	if !ok {
		return false
	}
	s, ok = strings.CutSuffix(s, backupSuffix)
	if !ok {
		return false
	}
	_, err := time.Parse(backupStamp, s)
	return err == nil
}

// isBackupDir reports whether a backup or restore argument names a
// directory: one that exists, or any path ending in a slash.
func isBackupDir(p string) bool {
	if strings.HasSuffix(p, "/") {
		return true
	}
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// listBackups returns the paths of the backups in dir, oldest first.
// Other files are not listed.
func listBackups(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.Type().IsRegular() && isBackupName(e.Name()) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	slices.Sort(out) // the time stamp sorts as text
	return out, nil
}

// newestBackup returns the path of the newest backup in dir.
func newestBackup(dir string) (string, error) {
	all, err := listBackups(dir)
	if err != nil {
		return "", err
	}
	if len(all) == 0 {
		return "", fmt.Errorf("no backups (%s*%s) in %s", backupPrefix, backupSuffix, dir)
	}
	return all[len(all)-1], nil
}

// pruneBackups removes all but the newest keep backups in dir and returns
// the paths it removed. Files that are not backups are never touched.
func pruneBackups(dir string, keep int) ([]string, error) {
	if keep < 1 {
		return nil, errors.New("keep at least one backup")
	}
	all, err := listBackups(dir)
	if err != nil || len(all) <= keep {
		return nil, err
	}
	var removed []string
	for _, p := range all[:len(all)-keep] {
		if err := os.Remove(p); err != nil {
			return removed, err
		}
		removed = append(removed, p)
	}
	return removed, nil
}
