package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"pagebridge/gateway/admin"
	"pagebridge/storage"
)

// adminFlags parses -config and -data for the commands that work on a
// running or stopped daemon, and returns the config and the positional
// arguments.
func adminFlags(name string, args []string, stderr io.Writer) (Config, []string, int) {
	fset := flag.NewFlagSet(name, flag.ContinueOnError)
	fset.SetOutput(stderr)
	path := fset.String("config", DefaultConfigPath, "configuration file")
	data := fset.String("data", "", "demo directory, or data dir (overrides storage.data_dir)")
	if err := fset.Parse(args); err != nil {
		return Config{}, nil, exitUsage
	}
	cfg := DefaultConfig()
	var err error
	switch {
	case *data != "" && fileExists(filepath.Join(*data, demoConfigName)):
		cfg, err = LoadConfig(filepath.Join(*data, demoConfigName))
	case fileExists(*path) || *path != DefaultConfigPath:
		cfg, err = LoadConfig(*path)
		if err == nil && *data != "" {
			cfg.Storage.DataDir, err = filepath.Abs(*data)
		}
	case *data != "":
		cfg.Storage.DataDir, err = filepath.Abs(*data)
	}
	if err != nil {
		fmt.Fprintln(stderr, "pagebridge:", err)
		return cfg, nil, exitConfig
	}
	return cfg, fset.Args(), -1
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func dbPath(cfg Config) string { return filepath.Join(cfg.Storage.DataDir, dbFile) }

// offline reports whether err says no daemon is running, so the command
// may open the store itself.
func offline(err error) bool { return errors.Is(err, admin.ErrNotRunning) }

func cmdBackup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, rest, code := adminFlags("backup", args, stderr)
	if code >= 0 {
		return code
	}
	if len(rest) != 1 {
		fmt.Fprintln(stderr, "usage: pagebridge backup [-config FILE | -data DIR] FILE")
		return exitUsage
	}
	dest := rest[0]
	var n int64
	err := writeAtomic(dest, func(w io.Writer) error {
		var err error
		n, err = admin.Backup(ctx, cfg.Admin.Socket, w)
		if offline(err) {
			n, err = storage.BackupClosed(ctx, dbPath(cfg), w)
		}
		return err
	})
	if err != nil {
		fmt.Fprintln(stderr, "pagebridge backup:", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "backup written: %s (%d bytes). PHI in it is sealed: keep the key files (%s, %s) apart from it.\n",
		dest, n, cfg.Storage.KeyFile, cfg.Storage.AuditKeyFile)
	return exitOK
}

// writeAtomic writes dest through a temporary file that is synced and
// renamed into place only when fill succeeded.
func writeAtomic(dest string, fill func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if err := fill(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), dest)
}

func cmdRestore(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, rest, code := adminFlags("restore", args, stderr)
	if code >= 0 {
		return code
	}
	if len(rest) != 1 {
		fmt.Fprintln(stderr, "usage: pagebridge restore [-config FILE | -data DIR] FILE")
		return exitUsage
	}
	if _, err := admin.Call(ctx, cfg.Admin.Socket, admin.OpStatus); !offline(err) {
		fmt.Fprintln(stderr, "pagebridge restore: the daemon is running; stop it first (systemctl stop pagebridge)")
		return exitFailure
	}
	keys, err := storage.LoadKeyring(cfg.Storage.KeyFile)
	if err != nil {
		fmt.Fprintln(stderr, "pagebridge restore:", err)
		return exitFailure
	}
	if err := os.MkdirAll(cfg.Storage.DataDir, 0o700); err != nil {
		fmt.Fprintln(stderr, "pagebridge restore:", err)
		return exitFailure
	}
	aside, err := storage.Restore(rest[0], dbPath(cfg), keys)
	if err != nil {
		fmt.Fprintln(stderr, "pagebridge restore:", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "restored %s into %s\n", rest[0], dbPath(cfg))
	if aside != "" {
		fmt.Fprintf(stdout, "the previous store was kept as %s\n", aside)
	}
	return exitOK
}

func cmdAuditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, rest, code := adminFlags("audit verify", args, stderr)
	if code >= 0 {
		return code
	}
	if len(rest) != 0 {
		fmt.Fprintln(stderr, "usage: pagebridge audit verify [-config FILE | -data DIR]")
		return exitUsage
	}
	resp, err := admin.Call(ctx, cfg.Admin.Socket, admin.OpAuditVerify)
	if offline(err) {
		var key []byte
		if key, err = storage.LoadAuditKey(cfg.Storage.AuditKeyFile); err == nil {
			var rep storage.VerifyReport
			rep, err = storage.VerifyAuditFile(ctx, dbPath(cfg), key)
			resp.Result = rep.String()
			var aerr *storage.AuditError
			if errors.As(err, &aerr) {
				fmt.Fprintln(stderr, "audit chain BROKEN:", err)
				return exitVerify
			}
			resp.OK = err == nil
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "pagebridge audit verify:", err)
		return exitFailure
	}
	if !resp.OK {
		fmt.Fprintln(stderr, "audit chain BROKEN:", resp.Error)
		return exitVerify
	}
	fmt.Fprintln(stdout, "audit chain intact:", resp.Result)
	return exitOK
}

func cmdKeysRotate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, rest, code := adminFlags("keys rotate", args, stderr)
	if code >= 0 {
		return code
	}
	if len(rest) != 0 {
		fmt.Fprintln(stderr, "usage: pagebridge keys rotate [-config FILE | -data DIR]")
		return exitUsage
	}
	resp, err := admin.Call(ctx, cfg.Admin.Socket, admin.OpKeysRotate)
	if offline(err) {
		var st *storage.Store
		_, st, err = openStore(StorageConfig{
			DataDir: cfg.Storage.DataDir, KeyFile: cfg.Storage.KeyFile, AuditKeyFile: cfg.Storage.AuditKeyFile,
			LockTimeout: cfg.Storage.LockTimeout, AuditRetention: cfg.Storage.AuditRetention,
		}, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
		if err == nil {
			resp.Result, err = rotateKeys(ctx, st, cfg.Storage.KeyFile)
			resp.OK = err == nil
			if cerr := st.Close(); err == nil {
				err = cerr
			}
		}
	}
	if err == nil && !resp.OK {
		err = errors.New(resp.Error)
	}
	if err != nil {
		fmt.Fprintln(stderr, "pagebridge keys rotate:", err)
		return exitFailure
	}
	fmt.Fprintln(stdout, resp.Result)
	return exitOK
}

// rotateKeys makes a new key-encryption key, re-wraps every data key under
// it and retires the old one from the key file.
func rotateKeys(ctx context.Context, st *storage.Store, keyFile string) (string, error) {
	id, err := storage.RotateKEK(ctx, st, keyFile)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("keys rotated: key-encryption key is now %s in %s; put the new key file in escrow", id, keyFile), nil
}
