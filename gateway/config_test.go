package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultConfigValid(t *testing.T) {
	cfg := DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestLoadConfigErrorsNameTheKey(t *testing.T) {
	cases := []struct{ name, toml, key string }{
		{"unknown key", "[server]\nlisten='127.0.0.1:1'\nlisen='x'\n", "server.lisen"},
		{"unknown table", "[srever]\nlisten='x'\n", "srever"},
		{"listen", "[server]\nlisten='nope'\n", "server.listen"},
		{"duration", "[server]\nread_timeout='fast'\n", "pagebridge.toml"},
		{"zero duration", "[server]\nread_timeout='0s'\n", "server.read_timeout"},
		{"cert without key", "[server]\ntls_cert='/x.pem'\n", "server.tls_cert"},
		{"relative data dir", "[storage]\ndata_dir='data'\n", "storage.data_dir"},
		{"key inside data", "[storage]\ndata_dir='/var/lib/pb'\nkey_file='/var/lib/pb/keys/kek'\n", "storage.key_file"},
		{"audit key inside data", "[storage]\ndata_dir='/var/lib/pb'\naudit_key_file='/var/lib/pb/hmac'\n", "storage.audit_key_file"},
		{"same keys", "[storage]\nkey_file='/k/a'\naudit_key_file='/k/a'\n", "storage.audit_key_file"},
		{"short retention", "[storage]\naudit_retention='8760h'\n", "storage.audit_retention"},
		{"sender id", "[[wctp.sender]]\nsecurity_code='12345678'\n", "wctp.sender[0].id"},
		{"dup sender", "[[wctp.sender]]\nid='a'\nsecurity_code='12345678'\n[[wctp.sender]]\nid='a'\nsecurity_code='12345678'\n", "wctp.sender[1].id"},
		{"short code", "[[wctp.sender]]\nid='a'\nsecurity_code='123'\n", "wctp.sender[0].security_code"},
		{"max text", "[wctp]\nmax_text=0\n", "wctp.max_text"},
		{"log level", "[log]\nlevel='loud'\n", "log.level"},
		{"syntax", "[server\n", "line "},
		{"socket", "[admin]\nsocket='rel.sock'\n", "admin.socket"},
		{"bus listen", "[bus]\nlisten='18830'\n", "bus.listen"},
		{"bus tls", "[bus]\ntls_cert='/c.pem'\n", "bus.tls_cert"},
		{"bus agent password", "[[bus.agent]]\nid='agent-1'\npassword='short'\n", "bus.agent[0].password"},
		{"dup bus agent", "[bus]\ngateway_password='long-enough-pw'\n[[bus.agent]]\nid='a'\npassword='long-enough-pw'\n[[bus.agent]]\nid='a'\npassword='long-enough-pw'\n", "bus.agent[1].id"},
		{"bus gateway password", "[[bus.agent]]\nid='agent-1'\npassword='long-enough-pw'\n", "bus.gateway_password"},
		{"web idle", "[web]\nidle_timeout='30s'\n", "web.idle_timeout"},
		{"web idle long", "[web]\nidle_timeout='25h'\n", "web.idle_timeout"},
		{"web lifetime below idle", "[web]\nidle_timeout='1h'\nsession_lifetime='30m'\n", "web.session_lifetime"},
		{"web lifetime long", "[web]\nsession_lifetime='48h'\n", "web.session_lifetime"},
		{"web mfa without operator", "[web]\nmfa_roles=['admin']\n", "web.mfa_roles"},
		{"web mfa unknown role", "[web]\nmfa_roles=['admin','operator','janitor']\n", "web.mfa_roles[2]"},
		{"web lockout", "[web]\nlockout_after=0\n", "web.lockout_after"},
		{"web lockout duration", "[web]\nlockout_duration='10s'\n", "web.lockout_duration"},
		{"web attempts", "[web]\nattempts_per_address=0\n", "web.attempts_per_address"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "pagebridge.toml")
			if err := os.WriteFile(p, []byte(c.toml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadConfig(p)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *ConfigError", err)
			}
			if !strings.Contains(err.Error(), c.key) {
				t.Errorf("error %q does not name %q", err, c.key)
			}
		})
	}
}

func TestServeBadConfigExitCode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pagebridge.toml")
	os.WriteFile(p, []byte("[server]\nlisten=5\n"), 0o600)
	var out, errb strings.Builder
	if code := run([]string{"serve", "-config", p}, &out, &errb); code != exitConfig {
		t.Fatalf("exit %d, want %d (%s)", code, exitConfig, errb.String())
	}
	if code := run([]string{"serve", "-config", filepath.Join(t.TempDir(), "missing.toml")}, &out, &errb); code != exitConfig {
		t.Fatalf("missing file: exit %d", code)
	}
	if code := run([]string{"frobnicate"}, &out, &errb); code != exitUsage {
		t.Fatalf("unknown command: exit %d", code)
	}
}
