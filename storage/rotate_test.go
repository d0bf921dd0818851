package storage_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"pagebridge/gateway/paging"
	"pagebridge/storage"
	"pagebridge/storage/storagetest"
)

func TestRotateKEK(t *testing.T) {
	e := storagetest.New(t)
	s := e.Open(t, storage.WithSealLimit(2)) // several data keys
	ctx := context.Background()
	want := map[paging.ID]string{}
	for _, text := range []string{"one", "two", "three", "four", "five"} {
		m := newMsg(text)
		accept(t, s, m)
		want[m.ID] = text
	}
	oldFile := filepath.Join(t.TempDir(), "old-kek.json")
	copyFile(t, e.KeyPath, oldFile)
	os.Chmod(oldFile, 0o600)
	oldID := e.Keys.ActiveID()

	newID, err := storage.RotateKEK(ctx, s, e.KeyPath)
	if err != nil {
		t.Fatal(err)
	}
	if newID == oldID {
		t.Fatal("rotation kept the key")
	}
	kr, err := storage.LoadKeyring(e.KeyPath)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(kr.IDs(), []string{newID}) {
		t.Errorf("key file holds %v, want only %s", kr.IDs(), newID)
	}
	// The running store goes on, with new data keys under the new KEK.
	for _, text := range []string{"six", "seven", "eight"} {
		m := newMsg(text)
		accept(t, s, m)
		want[m.ID] = text
	}
	entries, _ := s.AuditEntries(ctx, 0, 100)
	if !slices.ContainsFunc(entries, func(en storage.AuditEntry) bool { return en.Action == "keys.rotate" }) {
		t.Error("rotation not audited")
	}
	s.Close()

	old, err := storage.LoadKeyring(oldFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := storage.Open(e.Path, storage.Options{Keys: old, AuditKey: e.AuditKey}); !errors.Is(err, storage.ErrWrongKey) {
		t.Fatalf("old key file opens the rotated store: %v", err)
	}
	s, err = storage.Open(e.Path, storage.Options{Keys: kr, AuditKey: e.AuditKey})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := texts(t, s)
	for id, text := range want {
		if got[id] != text {
			t.Errorf("message %s: %q, want %q", id, got[id], text)
		}
	}
	verify(t, s)
}

// A rotation that stopped after writing the two-key file (crash) is
// finished by running it again, towards the key it had already chosen.
func TestRotateKEKResumes(t *testing.T) {
	e := storagetest.New(t)
	s := e.Open(t)
	m := newMsg("survives")
	accept(t, s, m)
	s.Close()

	both, err := storage.WithNewKey(e.Keys)
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.WriteKeyring(e.KeyPath, both); err != nil {
		t.Fatal(err)
	}
	// The state after a crash opens, with the file as it is.
	kr, err := storage.LoadKeyring(e.KeyPath)
	if err != nil {
		t.Fatal(err)
	}
	s, err = storage.Open(e.Path, storage.Options{Keys: kr, AuditKey: e.AuditKey})
	if err != nil {
		t.Fatal(err)
	}
	id, err := storage.RotateKEK(context.Background(), s, e.KeyPath)
	if err != nil {
		t.Fatal(err)
	}
	if id != both.ActiveID() {
		t.Errorf("resumed towards %s, want %s", id, both.ActiveID())
	}
	s.Close()
	kr, _ = storage.LoadKeyring(e.KeyPath)
	if len(kr.IDs()) != 1 {
		t.Errorf("key file holds %v", kr.IDs())
	}
	s, err = storage.Open(e.Path, storage.Options{Keys: kr, AuditKey: e.AuditKey})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if texts(t, s)[m.ID] != "survives" {
		t.Error("message lost")
	}
}

// The key file of another database is refused before anything changes.
func TestRotateKEKWrongFile(t *testing.T) {
	s := storagetest.MustOpen(t)
	dir := t.TempDir()
	storagetest.NewKeys(t, dir)
	other := filepath.Join(dir, "kek.json")
	before, _ := os.ReadFile(other)
	if _, err := storage.RotateKEK(context.Background(), s, other); !errors.Is(err, storage.ErrWrongKey) {
		t.Fatalf("err = %v, want ErrWrongKey", err)
	}
	if after, _ := os.ReadFile(other); !bytes.Equal(before, after) {
		t.Error("the other key file was changed")
	}
}
