package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

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
