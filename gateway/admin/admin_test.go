package admin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

type fakeOps struct {
	backup  []byte
	lie     int64 // announce this many extra bytes
	verify  error
	rotated int
}

func (f *fakeOps) Backup(ctx context.Context, size func(int64) error, w io.Writer) error {
	if err := size(int64(len(f.backup)) + f.lie); err != nil {
		return err
	}
	_, err := w.Write(f.backup)
	return err
}
func (f *fakeOps) VerifyAudit(context.Context) (string, error) { return "12 entries", f.verify }
func (f *fakeOps) RotateKeys(context.Context) (string, error) {
	f.rotated++
	return "rotated", nil
}
func (f *fakeOps) Status(context.Context) (string, error) { return "running", nil }
func (f *fakeOps) TestPage(_ context.Context, p TestPage) (string, error) {
	return fmt.Sprintf("%d to %s via %s/%s", p.Count, p.To, p.Agent, p.Device), nil
}

func (f *fakeOps) JobResults(_ context.Context, jobs []string) (string, error) {
	return strings.Join(jobs, ","), nil
}
func (f *fakeOps) Pages(ctx context.Context, limit int) (string, error)     { return "", nil }
func (f *fakeOps) Ack(ctx context.Context, a Ack) (string, error)           { return "", nil }
func (f *fakeOps) CreateToken(ctx context.Context, t Token) (string, error) { return "", nil }
func (f *fakeOps) CreateAccount(ctx context.Context, a Account) (string, error) {
	return "", nil
}

func TestTestPageCarriesArguments(t *testing.T) {
	path := listen(t, &fakeOps{})
	r, err := Do(context.Background(), path, Request{Op: OpTestPage, TestPage: &TestPage{Agent: "a1", Device: "t1", To: "1002", Count: 3}})
	if err != nil || !r.OK || r.Result != "3 to 1002 via a1/t1" {
		t.Fatalf("test-page: %+v, %v", r, err)
	}
	r, err = Do(context.Background(), path, Request{Op: OpJobResults, Jobs: []string{"a", "b"}})
	if err != nil || !r.OK || r.Result != "a,b" {
		t.Fatalf("job-results: %+v, %v", r, err)
	}
	r, err = Do(context.Background(), path, Request{Op: OpTestPage})
	if err != nil || r.OK || !strings.Contains(r.Error, "no arguments") {
		t.Fatalf("test-page without arguments: %+v, %v", r, err)
	}
}

func listen(t *testing.T, ops Ops) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run", "admin.sock")
	s, err := Listen(path, ops, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return path
}

func TestOperations(t *testing.T) {
	ops := &fakeOps{backup: bytes.Repeat([]byte("db"), 50000)}
	path := listen(t, ops)
	ctx := context.Background()

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %v, want 0660", fi.Mode().Perm())
	}
	var buf bytes.Buffer
	n, err := Backup(ctx, path, &buf)
	if err != nil || n != int64(len(ops.backup)) || !bytes.Equal(buf.Bytes(), ops.backup) {
		t.Fatalf("backup: %d bytes, %v", n, err)
	}
	if r, err := Call(ctx, path, OpAuditVerify); err != nil || !r.OK || r.Result != "12 entries" {
		t.Fatalf("verify: %+v %v", r, err)
	}
	ops.verify = errors.New("entry 41 missing")
	if r, err := Call(ctx, path, OpAuditVerify); err != nil || r.OK || r.Error != "entry 41 missing" {
		t.Fatalf("broken verify: %+v %v", r, err)
	}
	if r, err := Call(ctx, path, OpKeysRotate); err != nil || !r.OK || ops.rotated != 1 {
		t.Fatalf("rotate: %+v %v", r, err)
	}
	if r, err := Call(ctx, path, "format-disk"); err != nil || r.OK || !strings.Contains(r.Error, "unknown operation") {
		t.Fatalf("unknown op: %+v %v", r, err)
	}
	// A stream shorter than announced is an error, never a short backup.
	ops.lie = 10
	if _, err := Backup(ctx, path, io.Discard); err == nil {
		t.Fatal("short backup stream accepted")
	}
}

func TestNotRunning(t *testing.T) {
	path := filepath.Join(t.TempDir(), "admin.sock")
	if _, err := Call(context.Background(), path, OpStatus); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("no socket: %v", err)
	}
	// A stale socket file with nobody listening.
	s, err := Listen(path, &fakeOps{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Call(context.Background(), path, OpStatus); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("stale socket: %v", err)
	}
	// A second daemon on the same socket is refused while the first runs.
	s, err = Listen(path, &fakeOps{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := Listen(path, &fakeOps{}, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil {
		t.Fatal("second listener on a live socket")
	}
}

// TestOtherUsersRefused connects as an unprivileged user (this test binary
// re-run as uid 65534) and expects a refusal from the peer-credential check,
// whatever the socket file's mode allows.
func TestOtherUsersRefused(t *testing.T) {
	if path := os.Getenv("PAGEBRIDGE_ADMIN_CHILD"); path != "" {
		r, err := Call(context.Background(), path, OpStatus)
		if err != nil {
			os.Stdout.WriteString("dial error: " + err.Error())
			os.Exit(3)
		}
		if r.OK {
			os.Stdout.WriteString("served")
			os.Exit(2)
		}
		os.Stdout.WriteString(r.Error)
		os.Exit(0)
	}
	if os.Getuid() != 0 {
		t.Skip("needs root to run a child as another user")
	}
	// Everything the other user needs is world-accessible: the socket, its
	// directory and a copy of this test binary. Only the credential check
	// stands between that user and the daemon.
	dir, err := os.MkdirTemp("", "pagebridge-admin-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o777)
	path := filepath.Join(dir, "admin.sock")
	s, err := Listen(path, &fakeOps{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	os.Chmod(path, 0o777)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "admin.test")
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestOtherUsersRefused$")
	cmd.Env = append(os.Environ(), "PAGEBRIDGE_ADMIN_CHILD="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
	if !strings.Contains(string(out), "permission denied") {
		t.Fatalf("child was not refused: %s", out)
	}
}
