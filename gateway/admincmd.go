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
	"strings"
	"time"

	"pagebridge/gateway/admin"
	"pagebridge/internal/conf"
	"pagebridge/storage"
)

// adminFlags parses -config and -data for the commands that work on a
// running or stopped daemon, checks that nargs positional arguments follow
// (printing usage if not), and returns the config and those arguments. A
// code ≥ 0 means the command must exit with it.
func adminFlags(name, usage string, nargs int, args []string, stderr io.Writer, extra ...func(*flag.FlagSet)) (Config, []string, int) {
	fset := flag.NewFlagSet(name, flag.ContinueOnError)
	fset.SetOutput(stderr)
	for _, f := range extra {
		f(fset)
	}
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
			// Another data dir than the daemon's: its socket would
			// answer for the wrong store.
			cfg.Admin.Socket = ""
		}
	case *data != "":
		cfg.Storage.DataDir, err = filepath.Abs(*data)
		cfg.Admin.Socket = ""
	}
	if err != nil {
		fmt.Fprintln(stderr, "pagebridge:", err)
		return cfg, nil, exitConfig
	}
	if fset.NArg() != nargs {
		fmt.Fprintln(stderr, "usage: pagebridge "+name+" [-config FILE | -data DIR]"+usage)
		return cfg, nil, exitUsage
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
	var keep int
	cfg, rest, code := adminFlags("backup", " [-keep N] FILE|DIR/", 1, args, stderr, func(fs *flag.FlagSet) {
		fs.IntVar(&keep, "keep", 0, "with a directory: keep only the newest N backups in it (0: keep all)")
	})
	if code >= 0 {
		return code
	}
	dest, dir := rest[0], ""
	switch {
	case keep < 0:
		fmt.Fprintln(stderr, "pagebridge backup: -keep must be 0 (keep all) or more")
		return exitUsage
	case isBackupDir(dest):
		dir = dest
		if err := os.MkdirAll(dir, 0o700); err != nil {
			fmt.Fprintln(stderr, "pagebridge backup:", err)
			return exitFailure
		}
		dest = filepath.Join(dir, backupName(time.Now()))
	case keep > 0:
		fmt.Fprintln(stderr, "pagebridge backup: -keep needs a directory (DIR/) to rotate in")
		return exitUsage
	}
	var n int64
	err := conf.WriteAtomic(dest, 0o600, func(w io.Writer) error {
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
	if keep > 0 {
		removed, err := pruneBackups(dir, keep)
		for _, p := range removed {
			fmt.Fprintln(stdout, "removed old backup", p)
		}
		if err != nil {
			fmt.Fprintln(stderr, "pagebridge backup: rotate:", err)
			return exitFailure
		}
	}
	return exitOK
}

func cmdRestore(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, rest, code := adminFlags("restore", " FILE|DIR", 1, args, stderr)
	if code >= 0 {
		return code
	}
	if isBackupDir(rest[0]) {
		newest, err := newestBackup(rest[0])
		if err != nil {
			fmt.Fprintln(stderr, "pagebridge restore:", err)
			return exitFailure
		}
		fmt.Fprintln(stdout, "newest backup in", rest[0]+":", newest)
		rest[0] = newest
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
	cfg, _, code := adminFlags("audit verify", "", 0, args, stderr)
	if code >= 0 {
		return code
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
				fmt.Fprintln(stderr, "pagebridge audit verify:", err)
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
		fmt.Fprintln(stderr, "pagebridge audit verify:", resp.Error)
		return exitVerify
	}
	fmt.Fprintln(stdout, "audit chain intact:", resp.Result)
	return exitOK
}

func cmdKeysRotate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, _, code := adminFlags("keys rotate", "", 0, args, stderr)
	if code >= 0 {
		return code
	}
	resp, err := admin.Call(ctx, cfg.Admin.Socket, admin.OpKeysRotate)
	if offline(err) {
		var st *storage.Store
		sc := cfg.Storage
		sc.CreateKeys = false // rotating keys that do not exist yet is a mistake
		st, err = openStore(sc, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
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

func cmdTestPage(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var tp admin.TestPage
	var wait time.Duration
	cfg, rest, code := adminFlags("test-page", " -agent ID -device ID -to PAGER [-priority P] [-count N] TEXT", 1, args, stderr,
		func(fs *flag.FlagSet) {
			fs.StringVar(&tp.Agent, "agent", "", "agent ID")
			fs.StringVar(&tp.Device, "device", "", "device ID on that agent (a paging terminal)")
			fs.StringVar(&tp.To, "to", "", "pager ID or capcode the page goes to")
			fs.StringVar(&tp.Priority, "priority", "normal", "normal, high or critical")
			fs.IntVar(&tp.Count, "count", 1, "how many pages (numbered when more than one)")
			fs.DurationVar(&wait, "wait", 0, "wait this long for the results and print them (0: print the job keys at once)")
		})
	if code >= 0 {
		return code
	}
	tp.Text = rest[0]
	resp, err := admin.Do(ctx, cfg.Admin.Socket, admin.Request{Op: admin.OpTestPage, TestPage: &tp})
	if offline(err) {
		err = errors.New("the daemon is not running: test pages go out through it")
	}
	if err == nil && !resp.OK {
		err = errors.New(resp.Error)
	}
	if err != nil {
		fmt.Fprintln(stderr, "pagebridge test-page:", err)
		return exitFailure
	}
	if wait <= 0 {
		fmt.Fprint(stdout, resp.Result)
		return exitOK
	}
	keys := strings.Fields(resp.Result)
	deadline := time.Now().Add(wait)
	for {
		r, err := admin.Do(ctx, cfg.Admin.Socket, admin.Request{Op: admin.OpJobResults, Jobs: keys})
		if err == nil && !r.OK {
			err = errors.New(r.Error)
		}
		if err != nil {
			fmt.Fprintln(stderr, "pagebridge test-page:", err)
			return exitFailure
		}
		pending := strings.Count(r.Result, " pending\n")
		if pending == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			fmt.Fprint(stdout, r.Result)
			if pending > 0 {
				fmt.Fprintf(stderr, "pagebridge test-page: %d of %d still pending after %s\n", pending, len(keys), wait)
				return exitFailure
			}
			return exitOK
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func cmdPages(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var limit int
	cfg, _, code := adminFlags("pages", " [-n N]", 0, args, stderr, func(fs *flag.FlagSet) {
		fs.IntVar(&limit, "n", 20, "how many of the newest pages")
	})
	if code >= 0 {
		return code
	}
	return adminCall(ctx, "pages", cfg, admin.Request{Op: admin.OpPages, Limit: limit}, stdout, stderr)
}

func cmdAck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var a admin.Ack
	cfg, _, code := adminFlags("ack", " -message ID -person ID [-channel app]", 0, args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&a.Message, "message", "", "the page's message ID (pagebridge pages lists them)")
		fs.StringVar(&a.Person, "person", "", "who acknowledges")
		fs.StringVar(&a.Channel, "channel", "app", "the channel it was acknowledged on")
	})
	if code >= 0 {
		return code
	}
	if a.Message == "" || a.Person == "" {
		fmt.Fprintln(stderr, "pagebridge ack: -message and -person are required")
		return exitUsage
	}
	return adminCall(ctx, "ack", cfg, admin.Request{Op: admin.OpAck, Ack: &a}, stdout, stderr)
}

// adminCall sends req to the running daemon and prints its result.
func adminCall(ctx context.Context, name string, cfg Config, req admin.Request, stdout, stderr io.Writer) int {
	resp, err := admin.Do(ctx, cfg.Admin.Socket, req)
	if offline(err) {
		err = errors.New("the daemon is not running")
	}
	if err == nil && !resp.OK {
		err = errors.New(resp.Error)
	}
	if err != nil {
		fmt.Fprintf(stderr, "pagebridge %s: %v\n", name, err)
		return exitFailure
	}
	fmt.Fprint(stdout, resp.Result)
	return exitOK
}

func cmdToken(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, "usage: pagebridge token create [-config FILE | -data DIR] -name NAME -role admin|it|operator|clinician [-person ID] [-ttl 720h]")
		return exitUsage
	}
	var t admin.Token
	cfg, _, code := adminFlags("token create", " -name NAME -role ROLE [-person ID] [-ttl D]", 0, args[1:], stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&t.Name, "name", "", "what the token is for (\"nurse-call integration\")")
		fs.StringVar(&t.Role, "role", "", "admin, it, operator or clinician")
		fs.StringVar(&t.Person, "person", "", "the person a clinician or operator token acts as")
		fs.DurationVar(&t.TTL, "ttl", 0, "expiry (0: until revoked)")
	})
	if code >= 0 {
		return code
	}
	if t.Name == "" || t.Role == "" {
		fmt.Fprintln(stderr, "pagebridge token create: -name and -role are required")
		return exitUsage
	}
	return adminCall(ctx, "token create", cfg, admin.Request{Op: admin.OpTokenCreate, Token: &t}, stdout, stderr)
}
