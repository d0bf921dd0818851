package storage_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pagebridge/storage"
)

func TestKeyringCreateLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "kek.json")
	k, err := storage.CreateKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %#o, want 0640", fi.Mode().Perm())
	}
	if _, err := storage.CreateKeyring(path); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second create: %v, want fs.ErrExist", err)
	}
	l, err := storage.LoadKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	if l.ActiveID() != k.ActiveID() || len(l.IDs()) != 1 {
		t.Errorf("loaded %v, created %v", l, k)
	}
	l2, created, err := storage.LoadOrCreateKeyring(path)
	if err != nil || created || l2.ActiveID() != k.ActiveID() {
		t.Errorf("LoadOrCreate on existing: %v %v %v", l2, created, err)
	}
	other := filepath.Join(t.TempDir(), "kek.json")
	l3, created, err := storage.LoadOrCreateKeyring(other)
	if err != nil || !created || l3.ActiveID() == k.ActiveID() {
		t.Errorf("LoadOrCreate on missing: %v %v %v", l3, created, err)
	}
	// No formatting path shows key material.
	b64 := keyFromFile(t, path)
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%#v", k), fmt.Sprintf("%+v", k), fmt.Sprintf("%x", k)} {
		if strings.Contains(s, b64) || strings.Contains(s, b64[:16]) {
			t.Errorf("keyring formats with its key: %q", s)
		}
	}
	if _, err := json.Marshal(k); err == nil {
		t.Error("a keyring marshals to JSON")
	}
}

// keyFromFile returns the base64 key of a one-key keyring file.
func keyFromFile(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Keys []struct{ Key string }
	}
	if err := json.Unmarshal(raw, &f); err != nil || len(f.Keys) != 1 {
		t.Fatalf("keyring file: %v, %d keys", err, len(f.Keys))
	}
	return f.Keys[0].Key
}

func TestLoadKeyringErrors(t *testing.T) {
	good := filepath.Join(t.TempDir(), "kek.json")
	if _, err := storage.CreateKeyring(good); err != nil {
		t.Fatal(err)
	}
	goodBytes, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	key32 := base64.StdEncoding.EncodeToString(make([]byte, 32))
	b64 := keyFromFile(t, good)
	flipped := "A"
	if b64[0] == 'A' {
		flipped = "B"
	}
	garbled := strings.Replace(string(goodBytes), b64, flipped+b64[1:], 1)
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		want    error
		reason  string
	}{
		{"not json", "hello", 0o600, storage.ErrBadKeyFile, "not a pagebridge keyring"},
		{"empty", "", 0o600, storage.ErrBadKeyFile, "not a pagebridge keyring"},
		{"wrong format", `{"format":"x","active":"a","keys":[]}`, 0o600, storage.ErrBadKeyFile, "format"},
		{"no keys", `{"format":"pagebridge-keyring-1","active":"a","keys":[]}`, 0o600, storage.ErrBadKeyFile, "no keys"},
		{"bad base64", `{"format":"pagebridge-keyring-1","active":"a","keys":[{"id":"a","key":"!!!"}]}`, 0o600, storage.ErrBadKeyFile, "not base64"},
		{"short key", `{"format":"pagebridge-keyring-1","active":"a","keys":[{"id":"a","key":"AAAA"}]}`, 0o600, storage.ErrBadKeyFile, "3 bytes, want 32"},
		{"id does not match key", `{"format":"pagebridge-keyring-1","active":"a","keys":[{"id":"a","key":"` + key32 + `"}]}`, 0o600, storage.ErrBadKeyFile, "does not match its id"},
		{"garbled key", garbled, 0o600, storage.ErrBadKeyFile, "does not match its id"},
		{"world readable", string(goodBytes), 0o644, storage.ErrKeyFileMode, "0644"},
		{"group writable", string(goodBytes), 0o660, storage.ErrKeyFileMode, "0660"},
		{"0640 is fine", string(goodBytes), 0o640, nil, ""},
		{"0400 is fine", string(goodBytes), 0o400, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "kek.json")
			if err := os.WriteFile(path, []byte(tt.content), tt.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil { // umask
				t.Fatal(err)
			}
			_, err := storage.LoadKeyring(path)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("err = %q, want it to say %q", err, tt.reason)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		_, err := storage.LoadKeyring(filepath.Join(t.TempDir(), "nope.json"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("err = %v, want fs.ErrNotExist", err)
		}
	})
}

func TestAuditKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.key")
	key, err := storage.CreateAuditKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != 32 {
		t.Fatalf("key of %d bytes", len(key))
	}
	if _, err := storage.CreateAuditKey(path); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second create: %v", err)
	}
	got, created, err := storage.LoadOrCreateAuditKey(path)
	if err != nil || created || string(got) != string(key) {
		t.Fatalf("load: %x %v %v", got, created, err)
	}
	if _, created, err := storage.LoadOrCreateAuditKey(filepath.Join(dir, "new.key")); err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}

	tests := []struct {
		name, content string
		mode          os.FileMode
		want          error
	}{
		{"short", "AAAA\n", 0o600, storage.ErrBadKeyFile},
		{"two keys", base64.StdEncoding.EncodeToString(key) + "\n" + base64.StdEncoding.EncodeToString(key) + "\n", 0o600, storage.ErrBadKeyFile},
		{"only comments", "# nothing\n", 0o600, storage.ErrBadKeyFile},
		{"not base64", "*****\n", 0o600, storage.ErrBadKeyFile},
		{"world readable", base64.StdEncoding.EncodeToString(key), 0o604, storage.ErrKeyFileMode},
		{"bare line", base64.StdEncoding.EncodeToString(key), 0o600, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "audit.key")
			if err := os.WriteFile(p, []byte(tt.content), tt.mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(p, tt.mode)
			_, err := storage.LoadAuditKey(p)
			if !errors.Is(err, tt.want) && !(tt.want == nil && err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}
