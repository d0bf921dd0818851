package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"pagebridge/firmware-agent/serialport"
	"pagebridge/firmware-agent/tap"
	"pagebridge/gateway/admin"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/wctp"
	"pagebridge/storage"
)

// markerForms returns the byte strings that would betray marker in a file:
// itself, its base64 (std and URL alphabets, at each of the three
// alignments it can start at inside a longer encoding), its hex and its
// UTF-16 in both byte orders.
func markerForms(marker string) map[string][]byte {
	forms := map[string][]byte{
		"raw":     []byte(marker),
		"hex":     []byte(hex.EncodeToString([]byte(marker))),
		"HEX":     []byte(strings.ToUpper(hex.EncodeToString([]byte(marker)))),
		"utf16le": utf16Bytes(marker, false),
		"utf16be": utf16Bytes(marker, true),
	}
	for pad := range 3 {
		for name, enc := range map[string]*base64.Encoding{"base64": base64.StdEncoding, "base64url": base64.URLEncoding} {
			s := enc.EncodeToString(append(make([]byte, pad), marker...))
			// Drop the characters that mix in padding bytes at the start
			// and the last, partial group at the end.
			skip := (pad*8 + 5) / 6
			core := s[skip : len(s)-4]
			forms[fmt.Sprintf("%s@%d", name, pad)] = []byte(core)
		}
	}
	return forms
}

func utf16Bytes(s string, bigEndian bool) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		if bigEndian {
			b = append(b, byte(u>>8), byte(u))
		} else {
			b = append(b, byte(u), byte(u>>8))
		}
	}
	return b
}

// TestNoPlaintextAtRest submits pages carrying a unique marker (over WCTP,
// into the demo agent's TAP line, and as test pages out through its
// simulated paging terminal, so that they pass through the agent's spool
// too), takes an online and an offline backup, and searches every file the
// demo left (gateway db, agent spool, logs, backups, certificates, config)
// for the marker in any form.
func TestNoPlaintextAtRest(t *testing.T) {
	root := t.TempDir()
	d := startDemo(t, root)
	sender := demoSender(t, root)
	hc := httpClient(t, root, 4)
	rnd := make([]byte, 6)
	rand.Read(rnd)
	marker := "PHIMARK" + hex.EncodeToString(rnd) + " Jane Q. Doe, MRN 00417, bed 12"
	for i := range 20 {
		resp, err := wctp.Submit(context.Background(), hc, d.url("/wctp"), page(sender, fmt.Sprintf("rest-%d", i), "1001", fmt.Sprintf("%s #%d", marker, i)))
		if err != nil || !resp.Success {
			t.Fatalf("page %d: %v %+v", i, err, resp)
		}
	}
	// Through the agent both ways: pages from a TAP sender, and test pages
	// out to the paging terminal, which pass through its spool.
	conn, err := net.DialTimeout("tcp", d.tapAddr, 5*time.Second)
	if err != nil {
		t.Fatalf("demo TAP line %q: %v", d.tapAddr, err)
	}
	c := tap.NewClient(serialport.LineConn(conn, serialport.DefaultReadTimeout), tap.ClientConfig{})
	if err := c.Logon(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := c.Send(context.Background(), tap.Page{ID: "1002", Text: paging.NewPHI(fmt.Sprintf("%s tap %d", marker, i))}); err != nil {
			t.Fatalf("TAP page %d: %v", i, err)
		}
	}
	conn.Close()
	resp, err := admin.Do(context.Background(), filepath.Join(root, "admin.sock"), admin.Request{Op: admin.OpTestPage,
		TestPage: &admin.TestPage{Agent: "demo-agent", Device: "terminal-1", To: "1002", Text: marker + " out", Count: 10}})
	if err != nil || !resp.OK {
		t.Fatalf("test pages: %v %s", err, resp.Error)
	}
	keys := strings.Fields(resp.Result)
	for deadline := time.Now().Add(time.Minute); ; {
		r, err := admin.Do(context.Background(), filepath.Join(root, "admin.sock"), admin.Request{Op: admin.OpJobResults, Jobs: keys})
		if err != nil || !r.OK {
			t.Fatalf("job results: %v %s", err, r.Error)
		}
		if !strings.Contains(r.Result, "pending") {
			if strings.Count(r.Result, " sent ") != len(keys) {
				t.Fatalf("test pages not all sent:\n%s", r.Result)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("test pages still pending:\n%s", r.Result)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The TAP pages are in the gateway once the agent holds nothing more
	// for it.
	for deadline := time.Now().Add(time.Minute); ; {
		if agentIdle(t, hc, d.url("/api/v1/agents"), demoToken(t, root)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the demo agent still holds items for the gateway after a minute")
		}
		time.Sleep(100 * time.Millisecond)
	}
	bin := pagebridgeBinary(t)
	runCLI := func(args ...string) string {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("pagebridge %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	runCLI("backup", "-data", root, filepath.Join(root, "data", "online-backup.db"))
	d.stop()
	runCLI("backup", "-data", root, filepath.Join(root, "data", "offline-backup.db"))
	texts := storedTexts(t, root)
	n := 0
	for text, count := range texts {
		if strings.HasPrefix(text, marker) {
			n += count
		}
	}
	if n != 30 {
		t.Fatalf("%d of the 30 marked pages (20 WCTP, 10 TAP) read back from the store", n)
	}

	forms := markerForms(marker)
	files := 0
	filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err // directories, and the simulators' pty symlinks
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		files++
		for name, f := range forms {
			if bytes.Contains(b, f) {
				t.Errorf("%s holds the marker (%s form)", path, name)
			}
		}
		return nil
	})
	if files < 5 {
		t.Fatalf("searched only %d files", files)
	}

	// A wrong key-encryption key must not open the store.
	cfg, err := LoadConfig(filepath.Join(root, demoConfigName))
	if err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(cfg.Storage.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "other-kek")
	if _, err := storage.CreateKeyring(other); err != nil {
		t.Fatal(err)
	}
	wrong, _ := os.ReadFile(other)
	os.WriteFile(cfg.Storage.KeyFile, wrong, 0o600)
	out, err := exec.Command(bin, "serve", "-config", filepath.Join(root, demoConfigName)).CombinedOutput()
	if err == nil {
		t.Fatal("the daemon started with the wrong key")
	}
	if !strings.Contains(strings.ToLower(string(out)), "key") {
		t.Errorf("wrong-key error does not say what is wrong:\n%s", out)
	}
	os.WriteFile(cfg.Storage.KeyFile, orig, 0o600)
}
