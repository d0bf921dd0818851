package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"pagebridge/internal/conf"
)

// The configuration file the package installs is `pagebridge defaults`:
// as shipped it changes nothing, and with every key uncommented it states
// exactly the daemon's defaults.
func TestDefaultsFile(t *testing.T) {
	var out, errb strings.Builder
	if code := run([]string{"defaults"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	dir := t.TempDir()
	for name, text := range map[string]string{"shipped": out.String(), "uncommented": conf.Uncomment(out.String())} {
		p := filepath.Join(dir, name+".toml")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := LoadConfig(p)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, text)
		}
		if !reflect.DeepEqual(cfg, DefaultConfig()) {
			t.Errorf("%s file loads as\n%+v\nwant the defaults\n%+v", name, cfg, DefaultConfig())
		}
	}
	for _, want := range []string{"\n[server]\n# listen = \"0.0.0.0:443\"\n", "# create_keys = false\n", "exit code 78"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("defaults lack %q", want)
		}
	}
}

func TestSetup(t *testing.T) {
	root := t.TempDir()
	cfgPath := filepath.Join(root, "pagebridge.toml")
	cfg := fmt.Sprintf("[storage]\ndata_dir = %q\nkey_file = %q\naudit_key_file = %q\n",
		filepath.Join(root, "data"), filepath.Join(root, "keys", "kek"), filepath.Join(root, "keys", "audit-hmac"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	setup := func() (int, string) {
		var out, errb strings.Builder
		code := run([]string{"setup", "-config", cfgPath}, &out, &errb)
		return code, out.String() + errb.String()
	}
	files := []string{"keys/kek", "keys/audit-hmac", "data/tls-cert.pem", "data/tls-key.pem"}
	code, out := setup()
	if code != exitOK || strings.Count(out, "created") != 3 || !strings.Contains(out, "escrow") ||
		!strings.Contains(out, "SHA-256 fingerprint") {
		t.Fatalf("first setup: exit %d\n%s", code, out)
	}
	before := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		before[f] = b
	}
	if fi, _ := os.Stat(filepath.Join(root, "data", "tls-key.pem")); fi.Mode().Perm() != 0o600 {
		t.Errorf("TLS key mode %v", fi.Mode().Perm())
	}
	code, out = setup()
	if code != exitOK || strings.Contains(out, "created") || strings.Count(out, "kept") != 3 {
		t.Fatalf("second setup: exit %d\n%s", code, out)
	}
	for _, f := range files {
		if b, _ := os.ReadFile(filepath.Join(root, f)); !bytes.Equal(b, before[f]) {
			t.Errorf("second setup changed %s", f)
		}
	}
	// A store whose key file is gone: setup must not make a new key that
	// cannot open it.
	if err := os.WriteFile(filepath.Join(root, "data", dbFile), []byte("store"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(root, "keys", "kek")); err != nil {
		t.Fatal(err)
	}
	code, out = setup()
	if code != exitFailure || !strings.Contains(out, "escrow") || fileExists(filepath.Join(root, "keys", "kek")) {
		t.Fatalf("setup with a store but no key: exit %d\n%s", code, out)
	}
	// A bad configuration is exit 78, naming the key.
	if err := os.WriteFile(cfgPath, []byte("[storage]\nlock_timeout = \"0s\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out = setup(); code != exitConfig || !strings.Contains(out, "storage.lock_timeout") {
		t.Fatalf("bad config: exit %d\n%s", code, out)
	}
}
