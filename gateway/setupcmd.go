package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"pagebridge/internal/conf"
	"pagebridge/storage"
)

// defaultsHeader heads the configuration file the package installs.
const defaultsHeader = `Pagebridge gateway configuration (pagebridge serve -config /etc/pagebridge/pagebridge.toml).

Every key is optional: each line below shows a default, commented out. Uncomment
and change only what this site needs; unknown keys and bad values stop the daemon
with exit code 78 and a message naming the key (journalctl -u pagebridge).
Senders ([[wctp.sender]], [[wctp.client]], [[snpp.login]]), agents ([[bus.agent]])
and rules ([[routing.priority_rule]], [[routing.line_silence]]) are described in
/usr/share/doc/pagebridge/README.md.gz; installation and operation in
/usr/share/doc/pagebridge/operations.md.gz and pagebridge(8).
`

// cmdDefaults prints the default configuration, every key commented out:
// the package's /etc/pagebridge/pagebridge.toml is made by it.
func cmdDefaults(args []string, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		fmt.Fprintln(stderr, "usage: pagebridge defaults")
		return exitUsage
	}
	b, err := conf.Commented(defaultsHeader, DefaultConfig())
	if err != nil {
		fmt.Fprintln(stderr, "pagebridge defaults:", err)
		return exitFailure
	}
	stdout.Write(b)
	return exitOK
}

// cmdSetup makes what an installed gateway needs before its first start
// and the package's postinst runs it for: the key-encryption key, the
// audit HMAC key and, with no certificate configured, the self-signed TLS
// certificate in the data dir. What exists is kept. A store whose key
// files are missing is an error: new keys would not open it.
func cmdSetup(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("setup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", DefaultConfigPath, "configuration file")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 0 {
		fmt.Fprintln(stderr, "usage: pagebridge setup [-config FILE]")
		return exitUsage
	}
	cfg, err := LoadConfig(*path)
	if err != nil {
		fmt.Fprintln(stderr, "pagebridge:", err)
		return exitConfig
	}
	if err := setup(cfg, stdout); err != nil {
		fmt.Fprintln(stderr, "pagebridge setup:", err)
		return exitFailure
	}
	return exitOK
}

func setup(cfg Config, stdout io.Writer) error {
	sc := cfg.Storage
	if fileExists(dbPath(cfg)) {
		for _, p := range []string{sc.KeyFile, sc.AuditKeyFile} {
			if !fileExists(p) {
				return fmt.Errorf("the store %s exists but its key file %s does not: put the key files back from escrow (new keys would not open the store)", dbPath(cfg), p)
			}
		}
	}
	keys, created, err := storage.LoadOrCreateKeyring(sc.KeyFile)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s key-encryption key %s (%s)", verb(created), sc.KeyFile, keys.ActiveID())
	if created {
		fmt.Fprint(stdout, ": put a copy in escrow; no backup can be read without it")
	}
	fmt.Fprintln(stdout)
	if _, created, err = storage.LoadOrCreateAuditKey(sc.AuditKeyFile); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s audit key %s\n", verb(created), sc.AuditKeyFile)
	if cfg.Server.TLSCert != "" {
		fmt.Fprintf(stdout, "TLS certificate configured: %s\n", cfg.Server.TLSCert)
		return nil
	}
	if err := os.MkdirAll(sc.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	certFile, _, created, err := ensureSelfSigned(cfg.Server, sc.DataDir)
	if err != nil {
		return err
	}
	fp, err := certFingerprint(certFile)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s self-signed TLS certificate %s, SHA-256 fingerprint %s\n",
		verb(created), certFile, fp)
	return nil
}

func verb(created bool) string {
	if created {
		return "created"
	}
	return "kept"
}

// certFingerprint is the SHA-256 of the first certificate in a PEM file, as
// browsers show it (AB:CD:…), for checking the appliance on first login.
func certFingerprint(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return "", errors.New(path + ": no PEM certificate")
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	sum := sha256.Sum256(block.Bytes)
	hex := make([]string, len(sum))
	for i, c := range sum {
		hex[i] = fmt.Sprintf("%02X", c)
	}
	return strings.Join(hex, ":"), nil
}
