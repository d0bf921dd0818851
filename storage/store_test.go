package storage_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf16"

	bolt "go.etcd.io/bbolt"

	"pagebridge/gateway/paging"
	"pagebridge/storage"
	"pagebridge/storage/storagetest"
)

func TestOpenOptions(t *testing.T) {
	e := storagetest.New(t)
	tests := []struct {
		name string
		opts storage.Options
	}{
		{"no keyring", storage.Options{AuditKey: e.AuditKey}},
		{"empty keyring", storage.Options{Keys: &storage.Keyring{}, AuditKey: e.AuditKey}},
		{"no audit key", storage.Options{Keys: e.Keys}},
		{"short audit key", storage.Options{Keys: e.Keys, AuditKey: e.AuditKey[:16]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := storage.Open(e.Path, tt.opts)
			if !errors.Is(err, storage.ErrOptions) {
				if s != nil {
					s.Close()
				}
				t.Fatalf("err = %v, want ErrOptions", err)
			}
		})
	}
}

func TestOpenLocked(t *testing.T) {
	e := storagetest.New(t)
	e.Open(t)
	_, err := storage.Open(e.Path, e.Options(func(o *storage.Options) { o.Timeout = 100e6 }))
	if !errors.Is(err, storage.ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
}

func TestOpenNotADatabase(t *testing.T) {
	e := storagetest.New(t)
	os.MkdirAll(e.Dir, 0o700)
	if err := os.WriteFile(e.Path, bytes.Repeat([]byte("not a bolt file "), 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := storage.Open(e.Path, e.Options())
	if !errors.Is(err, storage.ErrNotDatabase) {
		t.Fatalf("err = %v, want ErrNotDatabase", err)
	}
}

func TestAcceptDurableAcrossReopen(t *testing.T) {
	e := storagetest.New(t)
	s := e.Open(t)
	ctx := context.Background()
	var msgs []*paging.Message
	for i, text := range []string{"Room 4 bed 2, BP 80/40, call back x4411", "", "ünïcödé ✓ 病人", strings.Repeat("long ", 1000)} {
		m := newMsg(text)
		m.Priority = paging.Priority(i % 3)
		accept(t, s, m)
		msgs = append(msgs, m)
	}
	s = reopen(t, e, s)
	for _, want := range msgs {
		got, err := s.Message(ctx, want.ID, by)
		if err != nil {
			t.Fatal(err)
		}
		if !sameMessage(got, want) {
			t.Errorf("read back %+v, want %+v", got, want)
		}
	}
	if _, err := s.Message(ctx, paging.NewID(want0(msgs).Received), by); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("unknown id: %v, want ErrNotFound", err)
	}
	// Every accept and every read is in the audit log.
	entries, err := s.AuditEntries(ctx, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	var accepts, reads int
	for _, en := range entries {
		switch en.Action {
		case "message.accept":
			accepts++
		case "message.read":
			reads++
		}
		if en.Actor != "test" || en.Source != "unit test" {
			t.Errorf("entry %d: actor %q source %q", en.Seq, en.Actor, en.Source)
		}
	}
	if accepts != len(msgs) || reads != len(msgs) {
		t.Errorf("%d accepts and %d reads audited, want %d each", accepts, reads, len(msgs))
	}
	verify(t, s)
}

func want0(m []*paging.Message) *paging.Message { return m[0] }

func TestAcceptIdempotent(t *testing.T) {
	s := storagetest.MustOpen(t)
	m := newMsg("first")
	accept(t, s, m)
	dup := *m
	dup.Text = paging.NewPHI("second")
	accept(t, s, &dup)
	got := texts(t, s)
	if len(got) != 1 || got[m.ID] != "first" {
		t.Fatalf("after duplicate accept: %v", got)
	}
	if r := verify(t, s); r.Entries != 2 { // one accept, one read of all
		t.Errorf("%d audit entries, want 2", r.Entries)
	}
}

func TestAcceptInvalid(t *testing.T) {
	s := storagetest.MustOpen(t)
	bad := []func(m *paging.Message){
		func(m *paging.Message) { m.ID = paging.ID{} },
		func(m *paging.Message) { m.PagerID = "" },
		func(m *paging.Message) { m.Priority = 9 },
		func(m *paging.Message) { m.Text = paging.NewPHI("\xff\xfe") },
		func(m *paging.Message) { m.Received = time.Time{} },
	}
	for i, mod := range bad {
		m := newMsg("x")
		mod(m)
		if err := s.Accept(context.Background(), m, by); !errors.Is(err, paging.ErrInvalid) {
			t.Errorf("case %d: err = %v, want ErrInvalid", i, err)
		}
	}
	if err := s.Accept(context.Background(), nil, by); !errors.Is(err, paging.ErrInvalid) {
		t.Errorf("nil message: %v", err)
	}
}

// The marker must not appear in the file in any encoding a careless
// writer might use.
func TestNoPlaintextOnDisk(t *testing.T) {
	e := storagetest.New(t)
	s := e.Open(t)
	const marker = "PHI-MARKER-Zq7xJohnDoeMRN0042"
	accept(t, s, newMsg("Pt "+marker+" in 4W"))
	ctx := context.Background()
	id := paging.NewID(newMsg("").Received)
	if err := s.Enqueue(ctx, paging.OutboxItem{ID: id, Due: newMsg("").Received, Topic: "agent/a/sms",
		Payload: paging.NewPHI("sms: " + marker)}); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "backup.db")
	if _, err := s.BackupFile(ctx, backup); err != nil {
		t.Fatal(err)
	}
	s.Close()

	u16 := utf16.Encode([]rune(marker))
	le := make([]byte, 0, 2*len(u16))
	for _, r := range u16 {
		le = append(le, byte(r), byte(r>>8))
	}
	forms := map[string][]byte{
		"raw":          []byte(marker),
		"base64":       []byte(base64.StdEncoding.EncodeToString([]byte(marker))[:24]),
		"base64url":    []byte(base64.URLEncoding.EncodeToString([]byte(marker))[:24]),
		"hex":          []byte(hex.EncodeToString([]byte(marker))),
		"HEX":          []byte(strings.ToUpper(hex.EncodeToString([]byte(marker)))),
		"utf-16le":     le,
		"json-escaped": []byte(strings.ReplaceAll(marker, "-", `\u002d`)),
	}
	for _, path := range []string{e.Path, backup} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for name, f := range forms {
			if bytes.Contains(b, f) {
				t.Errorf("%s holds the marker (%s)", filepath.Base(path), name)
			}
		}
		// The base64 of a marker depends on its alignment; check the
		// three shifts too.
		for shift := 1; shift < 3; shift++ {
			enc := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", shift) + marker))
			if bytes.Contains(b, []byte(enc[4:24])) {
				t.Errorf("%s holds the marker (base64, shift %d)", filepath.Base(path), shift)
			}
		}
	}
}

func TestWrongKeyFailsAtOpen(t *testing.T) {
	e := storagetest.New(t)
	s := e.Open(t)
	accept(t, s, newMsg("secret"))
	s.Close()

	other, otherAudit := storagetest.NewKeys(t, t.TempDir())
	_, err := storage.Open(e.Path, storage.Options{Keys: other, AuditKey: e.AuditKey})
	if !errors.Is(err, storage.ErrWrongKey) {
		t.Fatalf("wrong KEK: %v, want ErrWrongKey", err)
	}
	if !strings.Contains(err.Error(), "not in keyring") || !strings.Contains(err.Error(), e.Keys.ActiveID()) {
		t.Errorf("error does not name the key: %v", err)
	}
	_, err = storage.Open(e.Path, storage.Options{Keys: e.Keys, AuditKey: otherAudit})
	if !errors.Is(err, storage.ErrWrongAuditKey) {
		t.Fatalf("wrong audit key: %v, want ErrWrongAuditKey", err)
	}
	// Nothing was changed: the right keys still open it.
	s = e.Open(t)
	if got := texts(t, s); len(got) != 1 {
		t.Fatalf("%d messages", len(got))
	}
}

// A data key that no longer authenticates under its KEK (tampered wrap)
// also fails at Open, with ErrWrongKey.
func TestTamperedDataKeyFailsAtOpen(t *testing.T) {
	e := storagetest.New(t)
	e.Open(t).Close()
	editBolt(t, e.Path, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("keys"))
		k, v := b.Cursor().First()
		v = bytes.Replace(v, []byte(`"wrapped":"`), []byte(`"wrapped":"AAAA`), 1)
		return b.Put(k, v)
	})
	if _, err := storage.Open(e.Path, e.Options()); !errors.Is(err, storage.ErrWrongKey) {
		t.Fatalf("err = %v, want ErrWrongKey", err)
	}
}

// Sealed values are bound to their record: swapping two messages' values
// in the file is detected on read.
func TestSealedValuesCannotBeSwapped(t *testing.T) {
	e := storagetest.New(t)
	s := e.Open(t)
	a, b := newMsg("text of a"), newMsg("text of b")
	accept(t, s, a)
	accept(t, s, b)
	s.Close()
	editBolt(t, e.Path, func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte("messages"))
		va := bytes.Clone(bk.Get(a.ID.Bytes()))
		vb := bytes.Clone(bk.Get(b.ID.Bytes()))
		// Keep a's JSON but give it b's sealed text.
		ta, tb := sealedText(t, va), sealedText(t, vb)
		return bk.Put(a.ID.Bytes(), bytes.Replace(va, ta, tb, 1))
	})
	s = e.Open(t)
	if _, err := s.Message(context.Background(), a.ID, by); !errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("swapped text: %v, want ErrCorrupt", err)
	}
	if m, err := s.Message(context.Background(), b.ID, by); err != nil || m.Text.Reveal() != "text of b" {
		t.Fatalf("untouched message: %v", err)
	}
}

// sealedText returns the base64 "text" field of a message record.
func sealedText(t *testing.T, v []byte) []byte {
	t.Helper()
	i := bytes.Index(v, []byte(`"text":"`))
	if i < 0 {
		t.Fatalf("no text in %s", v)
	}
	rest := v[i+8:]
	return rest[:bytes.IndexByte(rest, '"')]
}

// editBolt changes a closed database file directly, as an attacker with
// file access would.
func editBolt(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 1e9})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// countKeys counts the records of a bucket in a closed file.
func countKeys(t *testing.T, path, bucket string) int {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 1e9})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := 0
	db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket([]byte(bucket)).Stats().KeyN
		return nil
	})
	return n
}

// A new data key is made at each Open and after the seal limit; every
// value stays readable.
func TestDataKeyRollover(t *testing.T) {
	e := storagetest.New(t)
	s := e.Open(t, storage.WithSealLimit(3))
	var ids []paging.ID
	for i := range 10 {
		m := newMsg(strings.Repeat("x", i))
		accept(t, s, m)
		ids = append(ids, m.ID)
	}
	s.Close()
	// One at Open, then one per 3 seals after the first 3: 1 + 3 = 4.
	if n := countKeys(t, e.Path, "keys"); n != 4 {
		t.Errorf("%d data keys, want 4", n)
	}
	s = e.Open(t)
	got := texts(t, s)
	for i, id := range ids {
		if got[id] != strings.Repeat("x", i) {
			t.Errorf("message %d: %q", i, got[id])
		}
	}
	s.Close()
	if n := countKeys(t, e.Path, "keys"); n != 5 {
		t.Errorf("%d data keys after a second open, want 5", n)
	}
}

func TestClosed(t *testing.T) {
	s := storagetest.MustOpen(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	ctx := context.Background()
	checks := map[string]error{
		"accept":  s.Accept(ctx, newMsg("x"), by),
		"audit":   s.Audit(ctx, newMsg("").Received, paging.AuditEvent{Action: "x.y"}),
		"person":  s.PutPerson(ctx, paging.Person{ID: "p", Name: "P", Stage: paging.StageApp}, by),
		"enqueue": s.Enqueue(ctx, paging.OutboxItem{ID: newMsg("").ID, Due: newMsg("").Received, Topic: "t"}),
	}
	checks["ping"] = s.Ping(ctx)
	_, checks["read"] = s.Message(ctx, newMsg("").ID, by)
	_, checks["due"] = s.Due(ctx, newMsg("").Received, 10)
	for name, err := range checks {
		if !errors.Is(err, storage.ErrClosed) || !errors.Is(err, paging.ErrTemporary) {
			t.Errorf("%s after close: %v, want ErrClosed wrapping ErrTemporary", name, err)
		}
	}
}

// Group commit: while one commit is on its way to disk, every writer that
// arrives waits, and the next commit carries them all.
func TestGroupCommitGroups(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := storagetest.MustOpen(t)
		defer s.Close()
		gate := make(chan struct{})
		var once sync.Once
		storage.SetCommitHook(s, func() error {
			once.Do(func() { <-gate }) // hold the first commit
			return nil
		})
		before := s.Stats()
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		acceptAsync := func() {
			wg.Go(func() { errs <- s.Accept(context.Background(), newMsg("page"), by) })
		}
		acceptAsync()
		synctest.Wait() // the first commit holds one op, blocked in the hook
		for range 63 {
			acceptAsync()
		}
		synctest.Wait() // 63 writers wait for the loop
		close(gate)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		st := s.Stats()
		commits, ops := st.Commits-before.Commits, st.Ops-before.Ops
		if commits != 2 || ops != 64 {
			t.Fatalf("%d ops in %d commits, want 64 in 2 (1 + 63)", ops, commits)
		}
		if st.MaxBatch != 63 {
			t.Errorf("largest batch %d, want 63", st.MaxBatch)
		}
	})
}

// MaxBatch bounds a commit.
func TestGroupCommitMaxBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := storagetest.MustOpen(t, func(o *storage.Options) { o.MaxBatch = 10 })
		defer s.Close()
		gate := make(chan struct{})
		var once sync.Once
		storage.SetCommitHook(s, func() error { once.Do(func() { <-gate }); return nil })
		before := s.Stats()
		var wg sync.WaitGroup
		wg.Go(func() { accept(t, s, newMsg("first")) })
		synctest.Wait()
		for range 25 {
			wg.Go(func() { accept(t, s, newMsg("page")) })
		}
		synctest.Wait()
		close(gate)
		wg.Wait()
		st := s.Stats()
		if c, o := st.Commits-before.Commits, st.Ops-before.Ops; o != 26 || c != 4 || st.MaxBatch != 10 {
			t.Fatalf("%d ops in %d commits (max %d), want 26 in 4 (1+10+10+5), max 10", o, c, st.MaxBatch)
		}
	})
}

// With real concurrency and real disks: 64 writers share commits.
func TestGroupCommitConcurrent(t *testing.T) {
	e := storagetest.New(t)
	s := e.Open(t)
	before := s.Stats()
	const writers, each = 64, 8
	var wg sync.WaitGroup
	ids := make(chan paging.ID, writers*each)
	for range writers {
		wg.Go(func() {
			for range each {
				m := newMsg("concurrent page")
				if err := s.Accept(context.Background(), m, by); err != nil {
					t.Error(err)
					return
				}
				ids <- m.ID
			}
		})
	}
	wg.Wait()
	close(ids)
	st := s.Stats()
	commits, ops := st.Commits-before.Commits, st.Ops-before.Ops
	t.Logf("%d ops in %d commits: %.1f per commit, largest %d", ops, commits, float64(ops)/float64(commits), st.MaxBatch)
	if ops != writers*each {
		t.Fatalf("%d ops, want %d", ops, writers*each)
	}
	s = reopen(t, e, s)
	got := texts(t, s)
	for id := range ids {
		if _, ok := got[id]; !ok {
			t.Errorf("accepted %s is missing after reopen", id)
		}
	}
	if r := verify(t, s); r.Entries != writers*each+1 {
		t.Errorf("%d audit entries, want %d", r.Entries, writers*each+1)
	}
}

// A failing commit (here: the test hook standing in for ENOSPC) answers
// every caller in the batch with ErrTemporary and stores nothing; the
// store carries on when the disk recovers.
func TestCommitFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := storagetest.New(t)
		s := e.Open(t, storage.WithSealLimit(2))
		defer s.Close()
		ok := newMsg("stored before the failure")
		accept(t, s, ok)
		head := s.AuditHead()

		gate := make(chan struct{})
		var once sync.Once
		storage.SetCommitHook(s, func() error {
			once.Do(func() { <-gate })
			return syscall.ENOSPC
		})
		var wg sync.WaitGroup
		var mu sync.Mutex
		var failed []*paging.Message
		var errs []error
		try := func(m *paging.Message) {
			wg.Go(func() {
				err := s.Accept(context.Background(), m, by)
				mu.Lock()
				failed, errs = append(failed, m), append(errs, err)
				mu.Unlock()
			})
		}
		try(newMsg("lost 0"))
		synctest.Wait()
		for i := range 20 {
			try(newMsg("lost " + strings.Repeat("!", i)))
		}
		synctest.Wait()
		close(gate)
		wg.Wait()
		for _, err := range errs {
			if !errors.Is(err, paging.ErrTemporary) || !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("err = %v, want ErrTemporary wrapping ENOSPC", err)
			}
		}
		if st := s.Stats(); st.FailedCommits != 2 {
			t.Errorf("%d failed commits, want 2", st.FailedCommits)
		}
		if s.AuditHead() != head {
			t.Errorf("audit head moved on a failed commit")
		}
		if err := s.Ping(context.Background()); !errors.Is(err, paging.ErrTemporary) || !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("ping after failed commits: %v", err)
		}
		// The disk recovers.
		storage.SetCommitHook(s, nil)
		after := newMsg("stored after the failure")
		accept(t, s, after)
		if err := s.Ping(context.Background()); err != nil {
			t.Errorf("ping after recovery: %v", err)
		}
		s.Close()

		s = e.Open(t)
		defer s.Close()
		got := texts(t, s)
		if len(got) != 2 || got[ok.ID] == "" || got[after.ID] == "" {
			t.Errorf("stored %d messages, want the two that succeeded", len(got))
		}
		for _, m := range failed {
			if _, ok := got[m.ID]; ok {
				t.Errorf("%s was reported failed but is stored", m.ID)
			}
		}
		verify(t, s)
	})
}

// One op that fails inside the transaction (here a pager ID whose target
// vanished) is dropped from its batch; the others commit.
func TestFailingOpDoesNotFailBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := storagetest.MustOpen(t)
		defer s.Close()
		ctx := context.Background()
		gate := make(chan struct{})
		var once sync.Once
		storage.SetCommitHook(s, func() error { once.Do(func() { <-gate }); return nil })
		var wg sync.WaitGroup
		wg.Go(func() { accept(t, s, newMsg("first")) })
		synctest.Wait()
		var pagerErr error
		wg.Go(func() {
			pagerErr = s.PutPagerID(ctx, paging.PagerID{ID: "1002", Target: paging.Target{Kind: paging.TargetPerson, ID: "nobody"}}, by)
		})
		var ms []*paging.Message
		for range 5 {
			m := newMsg("batched")
			ms = append(ms, m)
			wg.Go(func() { accept(t, s, m) })
		}
		synctest.Wait()
		close(gate)
		wg.Wait()
		if !errors.Is(pagerErr, paging.ErrNotFound) {
			t.Errorf("pager id to nobody: %v, want ErrNotFound", pagerErr)
		}
		got := texts(t, s)
		for _, m := range ms {
			if got[m.ID] != "batched" {
				t.Errorf("%s lost with the failing op", m.ID)
			}
		}
	})
}

// A caller whose ctx ends before its write is taken gets ctx.Err() and
// nothing is stored; once taken, the write completes.
func TestAcceptContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := storagetest.MustOpen(t)
		defer s.Close()
		gate := make(chan struct{})
		var once sync.Once
		storage.SetCommitHook(s, func() error { once.Do(func() { <-gate }); return nil })

		taken := newMsg("taken")
		ctx1, cancel1 := context.WithCancel(context.Background())
		var err1 error
		var wg sync.WaitGroup
		wg.Go(func() { err1 = s.Accept(ctx1, taken, by) })
		synctest.Wait() // in the commit, blocked in the hook

		waiting := newMsg("waiting")
		ctx2, cancel2 := context.WithCancel(context.Background())
		var err2 error
		wg.Go(func() { err2 = s.Accept(ctx2, waiting, by) })
		synctest.Wait() // queued behind the commit
		cancel1()
		cancel2()
		synctest.Wait()
		close(gate)
		wg.Wait()
		if err1 != nil {
			t.Errorf("taken op: %v, want nil (it was committed)", err1)
		}
		if !errors.Is(err2, context.Canceled) {
			t.Errorf("waiting op: %v, want context.Canceled", err2)
		}
		got := texts(t, s)
		if _, ok := got[taken.ID]; !ok {
			t.Error("taken message not stored")
		}
		if _, ok := got[waiting.ID]; ok {
			t.Error("cancelled message stored")
		}
	})
}

// Close commits what the loop has taken before it returns.
func TestCloseDrains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := storagetest.New(t)
		s := e.Open(t)
		gate := make(chan struct{})
		var once sync.Once
		storage.SetCommitHook(s, func() error { once.Do(func() { <-gate }); return nil })
		m := newMsg("in flight at close")
		var wg sync.WaitGroup
		var err error
		wg.Go(func() { err = s.Accept(context.Background(), m, by) })
		synctest.Wait()
		wg.Go(func() { s.Close() })
		synctest.Wait()
		close(gate)
		wg.Wait()
		if err != nil {
			t.Fatalf("in-flight accept: %v", err)
		}
		s = e.Open(t)
		defer s.Close()
		if _, err := s.Message(context.Background(), m.ID, by); err != nil {
			t.Fatal(err)
		}
	})
}
