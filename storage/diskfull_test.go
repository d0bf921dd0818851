//go:build linux

package storage_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"pagebridge/gateway/paging"
	"pagebridge/storage"
	"pagebridge/storage/storagetest"
)

// Environment of the child process of TestDiskFull.
const (
	envDiskFullDB    = "PAGEBRIDGE_TEST_DISKFULL_DB"
	envDiskFullKeys  = "PAGEBRIDGE_TEST_DISKFULL_KEYS"
	envDiskFullAudit = "PAGEBRIDGE_TEST_DISKFULL_AUDIT"
	envDiskFullLimit = "PAGEBRIDGE_TEST_DISKFULL_LIMIT"
)

// TestDiskFull runs real writes into a real file size limit: a child
// process lowers RLIMIT_FSIZE so that the database file cannot grow past a
// point (the kernel answers EFBIG, as it would ENOSPC on a full disk) and
// accepts pages from 16 goroutines until commits fail. Every page it was
// told is accepted must be in the file afterwards; every page refused must
// be refused with paging.ErrTemporary and must not be there.
func TestDiskFull(t *testing.T) {
	if os.Getenv(envDiskFullDB) != "" {
		t.Skip("parent only")
	}
	e := storagetest.New(t)
	s := e.Open(t)
	accept(t, s, newMsg("stored before the limit"))
	s.Close()
	fi, err := os.Stat(e.Path)
	if err != nil {
		t.Fatal(err)
	}
	limit := fi.Size() + 256<<10

	cmd := exec.Command(os.Args[0], "-test.run=^TestDiskFullChild$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		envDiskFullDB+"="+e.Path, envDiskFullKeys+"="+e.KeyPath, envDiskFullAudit+"="+e.AuditKeyPath,
		envDiskFullLimit+"="+strconv.FormatInt(limit, 10))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	accepted := map[string]string{}
	refused := map[string]string{}
	var failedCommits int
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 3)
		switch f[0] {
		case "ACCEPTED":
			accepted[f[1]] = f[2]
		case "REFUSED":
			refused[f[1]] = f[2]
		case "FAILEDCOMMITS":
			failedCommits, _ = strconv.Atoi(f[1])
		}
	}
	t.Logf("first refusal: %v", firstLine(out, "REFUSED"))
	t.Logf("child: %d accepted, %d refused, %d failed commits, file limit %d bytes", len(accepted), len(refused), failedCommits, limit)
	if len(accepted) == 0 || len(refused) == 0 || failedCommits == 0 {
		t.Fatalf("the limit did not bite as planned:\n%s", out)
	}
	for id, why := range refused {
		if !strings.HasPrefix(why, "temporary ") {
			t.Errorf("%s refused with %s, want an error wrapping paging.ErrTemporary", id, why)
		}
	}

	s = e.Open(t)
	got := texts(t, s)
	for id, text := range accepted {
		pid, _ := paging.ParseID(id)
		if got[pid] != text {
			t.Errorf("accepted %s: stored %q", id, got[pid])
		}
	}
	for id := range refused {
		pid, _ := paging.ParseID(id)
		if _, ok := got[pid]; ok {
			t.Errorf("refused %s is stored", id)
		}
	}
	if len(got) != len(accepted)+1 {
		t.Errorf("%d messages stored, want %d", len(got), len(accepted)+1)
	}
	verify(t, s)
}

// TestDiskFullChild is the child process of TestDiskFull.
func TestDiskFullChild(t *testing.T) {
	path := os.Getenv(envDiskFullDB)
	if path == "" {
		t.Skip("run by TestDiskFull")
	}
	keys, err := storage.LoadKeyring(os.Getenv(envDiskFullKeys))
	if err != nil {
		t.Fatal(err)
	}
	akey, err := storage.LoadAuditKey(os.Getenv(envDiskFullAudit))
	if err != nil {
		t.Fatal(err)
	}
	limit, err := strconv.ParseUint(os.Getenv(envDiskFullLimit), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	s, err := storage.Open(path, storage.Options{Keys: keys, AuditKey: akey})
	if err != nil {
		t.Fatal(err)
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &rl); err != nil {
		t.Fatal(err)
	}
	rl.Cur = limit
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &rl); err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		attempts int
		refused  int
		wg       sync.WaitGroup
	)
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf(format+"\n", args...)
	}
	for w := range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				mu.Lock()
				stop := refused >= 64 || attempts >= 20000
				attempts++
				mu.Unlock()
				if stop {
					return
				}
				text := fmt.Sprintf("w%d-%d-%s", w, i, strings.Repeat("z", 4000))
				m := newMsg(text)
				err := s.Accept(context.Background(), m, by)
				switch {
				case err == nil:
					report("ACCEPTED %s %s", m.ID, text)
				case errors.Is(err, paging.ErrTemporary):
					mu.Lock()
					refused++
					mu.Unlock()
					report("REFUSED %s temporary %v", m.ID, err)
				default:
					report("REFUSED %s other %v", m.ID, err)
				}
			}
		})
	}
	wg.Wait()
	report("FAILEDCOMMITS %d", s.Stats().FailedCommits)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func firstLine(out []byte, prefix string) string {
	for l := range strings.Lines(string(out)) {
		if strings.HasPrefix(l, prefix) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}
