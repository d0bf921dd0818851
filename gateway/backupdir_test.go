package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBackupNames(t *testing.T) {
	at := time.Date(2026, 11, 30, 2, 0, 5, 0, time.FixedZone("EST", -5*3600))
	if got := backupName(at); got != "pagebridge-20261130T070005Z.db" {
		t.Errorf("backupName = %q", got)
	}
	for name, want := range map[string]bool{
		"pagebridge-20261130T070005Z.db":             true,
		"pagebridge-20261130T070005Z.db.tmp123":      false,
		".pagebridge-20261130T070005Z.db.tmp123":     false,
		"pagebridge-20261130T070005.db":              false,
		"pagebridge-20261130T250005Z.db":             false,
		"pagebridge-latest.db":                       false,
		"pagebridge.db":                              false,
		"pagebridge-20261130T070005Z.db.pre-restore": false,
		"other-20261130T070005Z.db":                  false,
	} {
		if got := isBackupName(name); got != want {
			t.Errorf("isBackupName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestPruneBackups(t *testing.T) {
	dir := t.TempDir()
	names := []string{
		"pagebridge-20261101T020000Z.db", "pagebridge-20261102T020000Z.db", "pagebridge-20261103T020000Z.db",
		"pagebridge-20261104T020000Z.db", "notes.txt", "pagebridge-keep-me.db",
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "pagebridge-20261105T020000Z.db"), 0o700); err != nil {
		t.Fatal(err) // a directory with a backup's name is not a backup
	}
	removed, err := pruneBackups(dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, names[0]), filepath.Join(dir, names[1])}
	if !slices.Equal(removed, want) {
		t.Errorf("removed %v, want %v", removed, want)
	}
	left, _ := os.ReadDir(dir)
	var got []string
	for _, e := range left {
		got = append(got, e.Name())
	}
	if want := []string{"notes.txt", "pagebridge-20261103T020000Z.db", "pagebridge-20261104T020000Z.db",
		"pagebridge-20261105T020000Z.db", "pagebridge-keep-me.db"}; !slices.Equal(got, want) {
		t.Errorf("left %v, want %v", got, want)
	}
	if newest, err := newestBackup(dir); err != nil || filepath.Base(newest) != names[3] {
		t.Errorf("newest %q %v", newest, err)
	}
	if removed, err := pruneBackups(dir, 5); err != nil || len(removed) != 0 {
		t.Errorf("keep more than there are: %v %v", removed, err)
	}
	if _, err := pruneBackups(dir, 0); err == nil {
		t.Error("keep 0 accepted")
	}
	if _, err := newestBackup(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no backups") {
		t.Errorf("empty dir: %v", err)
	}
}

// TestBackupDirRotation drives `backup -keep` into a directory and
// `restore DIR` as the nightly timer and an operator would.
func TestBackupDirRotation(t *testing.T) {
	root := t.TempDir()
	d := startDemo(t, root)
	dir := filepath.Join(t.TempDir(), "backups")
	old := []string{"pagebridge-20200101T000000Z.db", "pagebridge-20200102T000000Z.db", "pagebridge-20200103T000000Z.db"}
	if code, out := cli(t, "backup", "-data", root, dir+"/"); code != 0 || !strings.Contains(out, "backup written: "+dir+"/pagebridge-") {
		t.Fatalf("backup into a new directory: exit %d\n%s", code, out)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("backup dir: %v %v", fi.Mode(), err)
	}
	first, err := newestBackup(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(first)
	for _, n := range old { // older backups, as earlier nights left them
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	code, out := cli(t, "backup", "-data", root, "-keep", "2", dir)
	if code != 0 || !strings.Contains(out, "removed old backup "+filepath.Join(dir, old[0])) ||
		!strings.Contains(out, "removed old backup "+filepath.Join(dir, old[1])) || strings.Contains(out, old[2]) {
		t.Fatalf("backup -keep 2: exit %d\n%s", code, out)
	}
	if all, _ := listBackups(dir); len(all) != 2 {
		t.Fatalf("after -keep 2: %v", all)
	}
	if code, out := cli(t, "backup", "-data", root, "-keep", "2", filepath.Join(dir, "x.db")); code != exitUsage {
		t.Fatalf("-keep with a file: exit %d\n%s", code, out)
	}
	d.stop()
	newest, _ := newestBackup(dir)
	if code, out := cli(t, "restore", "-data", root, dir); code != 0 || !strings.Contains(out, "newest backup in "+dir+": "+newest) ||
		!strings.Contains(out, "restored "+newest) {
		t.Fatalf("restore DIR: exit %d\n%s", code, out)
	}
}
