package storage_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"

	bolt "go.etcd.io/bbolt"

	"pagebridge/gateway/paging"
	"pagebridge/storage"
	"pagebridge/storage/storagetest"
)

func pagerTo(id, person string, pri paging.Priority) paging.PagerID {
	return paging.PagerID{ID: id, Target: paging.Target{Kind: paging.TargetPerson, ID: person}, Priority: pri}
}

// pagerState is what PagerIDs says, as id → mapping, failing the test on
// error.
func pagerState(t testing.TB, s *storage.Store) map[string]paging.PagerID {
	t.Helper()
	all, err := s.PagerIDs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]paging.PagerID{}
	for _, p := range all {
		out[p.ID] = p
	}
	if len(out) != len(all) {
		t.Fatalf("PagerIDs lists an ID twice: %v", all)
	}
	if !slices.IsSortedFunc(all, func(a, b paging.PagerID) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	}) {
		t.Errorf("PagerIDs not in ID order: %v", all)
	}
	return out
}

// wantPagers checks PagerIDs and PagerID for each ID against want.
func wantPagers(t testing.TB, s *storage.Store, want map[string]paging.PagerID, also ...string) {
	t.Helper()
	if got := pagerState(t, s); !maps.Equal(got, want) {
		t.Errorf("PagerIDs = %v, want %v", got, want)
	}
	for _, id := range append(slices.Collect(maps.Keys(want)), also...) {
		got, err := s.PagerID(context.Background(), id)
		w, ok := want[id]
		switch {
		case ok && (err != nil || got != w):
			t.Errorf("PagerID(%q) = %+v, %v; want %+v", id, got, err, w)
		case !ok && !errors.Is(err, paging.ErrNotFound):
			t.Errorf("PagerID(%q) = %+v, %v; want ErrNotFound", id, got, err)
		}
	}
}

// The index shows every put and delete once the call has returned, holds
// exactly what a read of the file gives, and is rebuilt at Open.
func TestPagerIDIndex(t *testing.T) {
	e := storagetest.New(t)
	s := e.Open(t)
	ctx := context.Background()
	if all, err := s.PagerIDs(ctx); err != nil || all != nil {
		t.Fatalf("empty directory: %v, %v", all, err)
	}
	for _, id := range []string{"p", "q"} {
		if err := s.PutPerson(ctx, paging.Person{ID: id, Name: id, Stage: paging.StageApp}, by); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]paging.PagerID{}
	put := func(p paging.PagerID) {
		t.Helper()
		if err := s.PutPagerID(ctx, p, by); err != nil {
			t.Fatal(err)
		}
		want[p.ID] = p
		wantPagers(t, s, want)
	}
	del := func(id string) {
		t.Helper()
		if err := s.DeletePagerID(ctx, id, by); err != nil {
			t.Fatal(err)
		}
		delete(want, id)
		wantPagers(t, s, want, id)
	}
	put(pagerTo("2000", "p", paging.PriorityNormal))
	put(pagerTo("1002", "q", paging.PriorityHigh))
	put(pagerTo("1002", "p", paging.PriorityNormal)) // replaced
	put(pagerTo("3000", "q", paging.PriorityHigh))
	del("2000")

	// Refused writes change nothing.
	if err := s.PutPagerID(ctx, pagerTo("9", "ghost", paging.PriorityNormal), by); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("pager id to a missing person: %v", err)
	}
	if err := s.DeletePagerID(ctx, "2000", by); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("delete a deleted pager id: %v", err)
	}
	wantPagers(t, s, want, "9", "2000")

	// Returned values are the caller's.
	all, _ := s.PagerIDs(ctx)
	all[0].ID, all[0].Target.ID = "changed", "changed"
	wantPagers(t, s, want)

	// An ID that is not valid UTF-8 is keyed as given, but JSON stores
	// (and a read of the file returns) its ID with U+FFFD: the index
	// returns what the file holds, before a reopen and after.
	odd := pagerTo("10\xff", "p", paging.PriorityNormal)
	if err := s.PutPagerID(ctx, odd, by); err != nil {
		t.Fatal(err)
	}
	before, err := s.PagerID(ctx, odd.ID)
	if err != nil || before.ID != "10\uFFFD" {
		t.Errorf("PagerID(%q) = %+v, %v; want the ID as stored, 10\\uFFFD", odd.ID, before, err)
	}
	listed := pagerState(t, s)
	if listed["10\uFFFD"] != before {
		t.Errorf("PagerIDs lists %+v, want %+v", listed["10\uFFFD"], before)
	}

	s = reopen(t, e, s)
	if after, err := s.PagerID(ctx, odd.ID); err != nil || after != before {
		t.Errorf("after reopen PagerID(%q) = %+v, %v; want %+v", odd.ID, after, err, before)
	}
	if !maps.Equal(pagerState(t, s), listed) {
		t.Errorf("after reopen PagerIDs = %v, want %v", pagerState(t, s), listed)
	}
	if err := s.DeletePagerID(ctx, odd.ID, by); err != nil {
		t.Fatal(err)
	}
	wantPagers(t, s, want, "2000", odd.ID)

	s.Close()
	if _, err := s.PagerID(ctx, "1002"); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("PagerID after close: %v, want ErrClosed", err)
	}
	if _, err := s.PagerIDs(ctx); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("PagerIDs after close: %v, want ErrClosed", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	s = e.Open(t)
	if _, err := s.PagerID(cctx, "1002"); !errors.Is(err, context.Canceled) {
		t.Errorf("PagerID with a cancelled context: %v", err)
	}
}

// A commit that fails leaves the index as it was; so does an op that fails
// in a batch that is then run again without it, whether or not that
// second run commits.
func TestPagerIDIndexFailedCommit(t *testing.T) {
	for _, commitFails := range []bool{true, false} {
		t.Run(fmt.Sprintf("commit fails %v", commitFails), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := storagetest.New(t)
				s := e.Open(t)
				defer s.Close()
				ctx := context.Background()
				if err := s.PutPerson(ctx, paging.Person{ID: "p", Name: "P", Stage: paging.StageApp}, by); err != nil {
					t.Fatal(err)
				}
				keep := pagerTo("keep", "p", paging.PriorityNormal)
				if err := s.PutPagerID(ctx, keep, by); err != nil {
					t.Fatal(err)
				}
				want := map[string]paging.PagerID{"keep": keep}

				// One op at a time, the commit failing.
				storage.SetCommitHook(s, func() error { return syscall.EIO })
				if err := s.PutPagerID(ctx, pagerTo("new", "p", paging.PriorityHigh), by); !errors.Is(err, syscall.EIO) {
					t.Fatalf("put with a failing commit: %v", err)
				}
				if err := s.PutPagerID(ctx, pagerTo("keep", "p", paging.PriorityHigh), by); !errors.Is(err, syscall.EIO) {
					t.Fatalf("replace with a failing commit: %v", err)
				}
				if err := s.DeletePagerID(ctx, "keep", by); !errors.Is(err, syscall.EIO) {
					t.Fatalf("delete with a failing commit: %v", err)
				}
				wantPagers(t, s, want, "new")

				// One batch: a put, a put that fails in its op (no such
				// person), a delete and another put. The loop runs it, drops
				// the failed op, and runs the rest again.
				gate := make(chan struct{})
				var once sync.Once
				storage.SetCommitHook(s, func() error {
					once.Do(func() { <-gate }) // hold the first commit
					if commitFails {
						return syscall.EIO
					}
					return nil
				})
				var wg sync.WaitGroup
				wg.Go(func() { s.Audit(ctx, t0, paging.AuditEvent{Action: "hold"}) })
				synctest.Wait()
				errs := make([]error, 4)
				wg.Go(func() { errs[0] = s.PutPagerID(ctx, pagerTo("a", "p", paging.PriorityHigh), by) })
				wg.Go(func() { errs[1] = s.PutPagerID(ctx, pagerTo("b", "ghost", paging.PriorityHigh), by) })
				wg.Go(func() { errs[2] = s.DeletePagerID(ctx, "keep", by) })
				wg.Go(func() { errs[3] = s.PutPagerID(ctx, pagerTo("c", "p", paging.PriorityNormal), by) })
				synctest.Wait() // all four wait for the loop: one batch
				close(gate)
				wg.Wait()
				if !errors.Is(errs[1], paging.ErrNotFound) {
					t.Errorf("put to a missing person: %v", errs[1])
				}
				for _, i := range []int{0, 2, 3} {
					if commitFails && !errors.Is(errs[i], syscall.EIO) || !commitFails && errs[i] != nil {
						t.Errorf("op %d: %v", i, errs[i])
					}
				}
				if !commitFails {
					want = map[string]paging.PagerID{
						"a": pagerTo("a", "p", paging.PriorityHigh),
						"c": pagerTo("c", "p", paging.PriorityNormal),
					}
				}
				wantPagers(t, s, want, "a", "b", "c", "keep")

				storage.SetCommitHook(s, nil)
				s = reopen(t, e, s)
				defer s.Close()
				wantPagers(t, s, want, "a", "b", "c", "keep")
			})
		})
	}
}

// A record that does not decode fails its own lookups with ErrCorrupt, as
// a read of the file did; it does not stop Open, nor the other lookups.
func TestPagerIDIndexCorruptRecord(t *testing.T) {
	e := storagetest.New(t)
	s := e.Open(t)
	ctx := context.Background()
	if err := s.PutPerson(ctx, paging.Person{ID: "p", Name: "P", Stage: paging.StageApp}, by); err != nil {
		t.Fatal(err)
	}
	good := pagerTo("1002", "p", paging.PriorityNormal)
	if err := s.PutPagerID(ctx, good, by); err != nil {
		t.Fatal(err)
	}
	s.Close()
	editBolt(t, e.Path, func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("pagerids")).Put([]byte("1003"), []byte("{not json"))
	})
	s = e.Open(t)
	if p, err := s.PagerID(ctx, "1002"); err != nil || p != good {
		t.Errorf("good record: %+v, %v", p, err)
	}
	if _, err := s.PagerID(ctx, "1003"); !errors.Is(err, storage.ErrCorrupt) {
		t.Errorf("corrupt record: %v, want ErrCorrupt", err)
	}
	if _, err := s.PagerIDs(ctx); !errors.Is(err, storage.ErrCorrupt) {
		t.Errorf("list with a corrupt record: %v, want ErrCorrupt", err)
	}
	// Replacing the record repairs it.
	fixed := pagerTo("1003", "p", paging.PriorityHigh)
	if err := s.PutPagerID(ctx, fixed, by); err != nil {
		t.Fatal(err)
	}
	wantPagers(t, s, map[string]paging.PagerID{"1002": good, "1003": fixed})
}

// Readers run beside writers whose commits sometimes fail and whose ops
// sometimes fail (under -race). Each writer owns its IDs, so what the
// index must hold follows from what each call returned; and it must equal
// what the file holds after a reopen.
func TestPagerIDIndexConcurrent(t *testing.T) {
	e := storagetest.New(t)
	s := e.Open(t)
	ctx := context.Background()
	if err := s.PutPerson(ctx, paging.Person{ID: "p", Name: "P", Stage: paging.StageApp}, by); err != nil {
		t.Fatal(err)
	}
	var commits atomic.Int64
	storage.SetCommitHook(s, func() error {
		if commits.Add(1)%3 == 0 {
			return syscall.EIO
		}
		return nil
	})
	const writers, ops, idsEach = 6, 30, 3
	wants := make([]map[string]paging.PagerID, writers)
	var wg sync.WaitGroup
	for w := range writers {
		want := map[string]paging.PagerID{}
		wants[w] = want
		wg.Go(func() {
			for i := range ops {
				id := fmt.Sprintf("w%d-%d", w, i%idsEach)
				var err error
				var p paging.PagerID
				switch i % 4 {
				case 0, 1:
					p = pagerTo(id, "p", paging.Priority(i%3))
					err = s.PutPagerID(ctx, p, by)
				case 2:
					err = s.DeletePagerID(ctx, id, by)
				case 3:
					err = s.PutPagerID(ctx, pagerTo(id, "ghost", paging.PriorityHigh), by)
				}
				switch {
				case err == nil && i%4 == 2:
					delete(want, id)
				case err == nil:
					want[id] = p
				case !errors.Is(err, syscall.EIO) && !errors.Is(err, paging.ErrNotFound):
					t.Errorf("%s: %v", id, err)
				}
			}
		})
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for r := range 4 {
		readers.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("w%d-%d", n%writers, n%idsEach)
				if p, err := s.PagerID(ctx, id); err == nil && (p.ID != id || p.Target.ID != "p") {
					t.Errorf("reader %d: PagerID(%s) = %+v", r, id, p)
				} else if err != nil && !errors.Is(err, paging.ErrNotFound) {
					t.Errorf("reader %d: PagerID(%s): %v", r, id, err)
				}
				all, err := s.PagerIDs(ctx)
				if err != nil {
					t.Errorf("reader %d: %v", r, err)
					return
				}
				for i := range all {
					all[i].Target.ID = "scribbled" // the caller's copy
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	storage.SetCommitHook(s, nil)

	want := map[string]paging.PagerID{}
	for _, w := range wants {
		maps.Copy(want, w)
	}
	var also []string
	for w := range writers {
		for i := range idsEach {
			also = append(also, fmt.Sprintf("w%d-%d", w, i))
		}
	}
	wantPagers(t, s, want, also...)
	if st := s.Stats(); st.FailedCommits == 0 {
		t.Errorf("no commit failed: the test did not test that")
	}
	s = reopen(t, e, s)
	wantPagers(t, s, want, also...)
}
