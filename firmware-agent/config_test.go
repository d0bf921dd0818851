package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfig(t *testing.T) {
	cases := []struct {
		name, toml, wantErr string
	}{
		{"ok", "[agent]\nid='a'\n[[device]]\nid='m1'\nkind='modem'\nport='/dev/ttyUSB2'\n", ""},
		{"tcp", "[[device]]\nid='t'\nkind='tap-line'\nport='tcp://127.0.0.1:4001'\n", ""},
		{"unknown key", "[[device]]\nid='m1'\nkind='modem'\nport='/dev/x'\nbaudrate=9600\n", "device.baudrate: unknown key"},
		{"kind", "[[device]]\nid='m1'\nkind='fax'\nport='/dev/x'\n", "device[0].kind"},
		{"dup", "[[device]]\nid='m'\nkind='modem'\nport='/dev/x'\n[[device]]\nid='m'\nkind='modem'\nport='/dev/y'\n", "duplicate"},
		{"bad tcp", "[[device]]\nid='m'\nkind='modem'\nport='tcp://nohost'\n", "device[0]: serialport: bad config: tcp address"},
		{"parity", "[[device]]\nid='m'\nkind='modem'\nport='/dev/x'\nparity='weird'\n", "parity"},
		{"syntax", "[[device]\n", "config"},
	}
	for _, c := range cases {
		p := filepath.Join(t.TempDir(), "agent.toml")
		os.WriteFile(p, []byte(c.toml), 0o600)
		_, err := LoadConfig(p)
		if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("%s: err %v, want %q", c.name, err, c.wantErr)
		}
	}
}

func TestBadConfigExitCode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "agent.toml")
	os.WriteFile(p, []byte("[[device]]\nkind='nope'\n"), 0o600)
	var out, errb strings.Builder
	if code := run([]string{"-config", p}, &out, &errb); code != exitConfig {
		t.Fatalf("exit %d, want %d; %s", code, exitConfig, errb.String())
	}
	if code := run([]string{"-version"}, &out, &errb); code != exitOK {
		t.Fatal("version")
	}
}
