package storage_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	bolt "go.etcd.io/bbolt"

	"pagebridge/gateway/paging"
	"pagebridge/storage"
	"pagebridge/storage/storagetest"
)

func newJob(dev string, p paging.Priority, at time.Time, payload string) storage.SpoolJob {
	return storage.SpoolJob{Key: paging.NewID(at), Device: dev, Priority: p, Payload: paging.NewPHI(payload), Received: at}
}

func newItem(kind string, p paging.Priority, at time.Time, payload string) storage.SpoolItem {
	return storage.SpoolItem{Key: paging.NewID(at), Kind: kind, Priority: p, Payload: paging.NewPHI(payload), Created: at}
}

func result(job storage.SpoolJob, outcome string) storage.FinishedJob {
	return storage.FinishedJob{Key: job.Key, Result: newItem("result", job.Priority, t0.Add(time.Hour), "result of "+job.Key.String()+": "+outcome)}
}

func addJobs(t testing.TB, s *storage.Spool, jobs ...storage.SpoolJob) []bool {
	t.Helper()
	added, err := s.AddJobs(context.Background(), jobs)
	if err != nil {
		t.Fatal(err)
	}
	return added
}

func putItems(t testing.TB, s *storage.Spool, items ...storage.SpoolItem) []bool {
	t.Helper()
	added, err := s.PutItems(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	return added
}

func spoolJobs(t testing.TB, s *storage.Spool) []storage.SpoolJob {
	t.Helper()
	jobs, err := s.Jobs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return jobs
}

func pending(t testing.TB, s *storage.Spool) []storage.SpoolItem {
	t.Helper()
	items, err := s.PendingItems(context.Background(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

func spoolStats(t testing.TB, s *storage.Spool) storage.SpoolStats {
	t.Helper()
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func reopenSpool(t testing.TB, e *storagetest.Env, s *storage.Spool, mods ...func(*storage.SpoolOptions)) *storage.Spool {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return e.OpenSpool(t, mods...)
}

func sameJob(a, b storage.SpoolJob) bool {
	return a.Key == b.Key && a.Device == b.Device && a.Priority == b.Priority && a.Payload.Reveal() == b.Payload.Reveal() &&
		a.Received.Equal(b.Received) && a.Starts == b.Starts && a.Running == b.Running
}

func sameItem(a, b storage.SpoolItem) bool {
	return a.Key == b.Key && a.Kind == b.Kind && a.Priority == b.Priority && a.Payload.Reveal() == b.Payload.Reveal() &&
		a.Created.Equal(b.Created)
}

func keysOf[T any](xs []T, key func(T) paging.ID) []paging.ID {
	out := make([]paging.ID, len(xs))
	for i, x := range xs {
		out[i] = key(x)
	}
	return out
}

func jobKey(j storage.SpoolJob) paging.ID   { return j.Key }
func itemKey(i storage.SpoolItem) paging.ID { return i.Key }

func TestSpoolRoundTrip(t *testing.T) {
	e := storagetest.New(t)
	s := e.OpenSpool(t)
	ctx := context.Background()
	jobs := []storage.SpoolJob{
		newJob("tap-1", paging.PriorityCritical, t0, "page 1"),
		newJob("modem-1", paging.PriorityNormal, t0.Add(time.Second), "sms 2"),
		newJob("tap-1", paging.PriorityHigh, t0.Add(2*time.Second), strings.Repeat("long job ", 1000)),
		newJob("tap-2", paging.PriorityNormal, t0.Add(3*time.Second), ""), // an empty payload is allowed
	}
	if added := addJobs(t, s, jobs...); !slices.Equal(added, []bool{true, true, true, true}) {
		t.Fatalf("added %v", added)
	}
	items := []storage.SpoolItem{
		newItem("inbound", paging.PriorityHigh, t0, "inbound page"),
		newItem("inbound", paging.PriorityNormal, t0.Add(time.Second), "another"),
	}
	putItems(t, s, items...)

	if fi, err := os.Stat(e.SpoolPath()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("spool file: %v, %v", fi, err)
	}
	if s.Path() != e.SpoolPath() {
		t.Errorf("Path %q", s.Path())
	}
	for round := range 2 {
		got := spoolJobs(t, s)
		want := []storage.SpoolJob{jobs[0], jobs[2], jobs[1], jobs[3]}
		if !slices.EqualFunc(got, want, sameJob) {
			t.Errorf("round %d: jobs\n got %v\nwant %v", round, keysOf(got, jobKey), keysOf(want, jobKey))
		}
		if gi := pending(t, s); !slices.EqualFunc(gi, items, sameItem) {
			t.Errorf("round %d: items %+v", round, gi)
		}
		if st := spoolStats(t, s); st != (storage.SpoolStats{Jobs: 4, Items: 2}) {
			t.Errorf("round %d: stats %+v", round, st)
		}
		s = reopenSpool(t, e, s)
	}

	// Zero times are filled in with the spool's clock.
	now := t0.Add(time.Hour)
	s = reopenSpool(t, e, s, func(o *storage.SpoolOptions) { o.Now = func() time.Time { return now } })
	j := newJob("tap-1", paging.PriorityNormal, t0, "x")
	j.Received = time.Time{}
	it := newItem("inbound", paging.PriorityNormal, t0, "y")
	it.Created = time.Time{}
	addJobs(t, s, j)
	putItems(t, s, it)
	for _, g := range spoolJobs(t, s) {
		if g.Key == j.Key && !g.Received.Equal(now) {
			t.Errorf("received %v, want %v", g.Received, now)
		}
	}
	for _, g := range pending(t, s) {
		if g.Key == it.Key && !g.Created.Equal(now) {
			t.Errorf("created %v, want %v", g.Created, now)
		}
	}

	// Empty calls write nothing and succeed.
	if added, err := s.AddJobs(ctx, nil); err != nil || len(added) != 0 {
		t.Errorf("empty AddJobs: %v, %v", added, err)
	}
	if err := s.FinishJobs(ctx, nil); err != nil {
		t.Error(err)
	}
}

func TestSpoolDedupe(t *testing.T) {
	ctx := context.Background()
	type env struct {
		e *storagetest.Env
		s *storage.Spool
	}
	reopen := func(t *testing.T, v *env) { v.s = reopenSpool(t, v.e, v.s) }
	cases := []struct {
		name string
		// run adds or puts, changes the spool, and adds or puts again;
		// it returns the second call's added.
		run  func(t *testing.T, v *env) []bool
		want []bool
		// Stats after.
		stats storage.SpoolStats
	}{
		{"job twice in one call", func(t *testing.T, v *env) []bool {
			j := newJob("d", 0, t0, "a")
			return addJobs(t, v.s, j, j)
		}, []bool{true, false}, storage.SpoolStats{Jobs: 1}},
		{"job in two calls", func(t *testing.T, v *env) []bool {
			j := newJob("d", 0, t0, "a")
			addJobs(t, v.s, j)
			j.Payload = paging.NewPHI("changed")
			return addJobs(t, v.s, j, newJob("d", 0, t0, "b"))
		}, []bool{false, true}, storage.SpoolStats{Jobs: 2}},
		{"job across reopen", func(t *testing.T, v *env) []bool {
			j := newJob("d", 0, t0, "a")
			addJobs(t, v.s, j)
			reopen(t, v)
			return addJobs(t, v.s, j)
		}, []bool{false}, storage.SpoolStats{Jobs: 1}},
		{"job after finish", func(t *testing.T, v *env) []bool {
			j := newJob("d", 0, t0, "a")
			addJobs(t, v.s, j)
			if err := v.s.FinishJobs(ctx, []storage.FinishedJob{result(j, "sent")}); err != nil {
				t.Fatal(err)
			}
			reopen(t, v)
			return addJobs(t, v.s, j)
		}, []bool{false}, storage.SpoolStats{Items: 1, Seen: 1}},
		{"job forgotten after prune", func(t *testing.T, v *env) []bool {
			j := newJob("d", 0, t0, "a")
			addJobs(t, v.s, j)
			if err := v.s.FinishJobs(ctx, []storage.FinishedJob{result(j, "sent")}); err != nil {
				t.Fatal(err)
			}
			if n, err := v.s.PruneSeen(ctx, time.Now()); err != nil || n != 0 {
				t.Fatalf("prune of a fresh key: %d, %v", n, err)
			}
			if n, err := v.s.PruneSeen(ctx, time.Now().Add(25*time.Hour)); err != nil || n != 1 {
				t.Fatalf("prune: %d, %v", n, err)
			}
			return addJobs(t, v.s, j)
		}, []bool{true}, storage.SpoolStats{Jobs: 1, Items: 1}},
		{"item twice in one call", func(t *testing.T, v *env) []bool {
			it := newItem("inbound", 0, t0, "a")
			return putItems(t, v.s, it, it)
		}, []bool{true, false}, storage.SpoolStats{Items: 1}},
		{"item across reopen", func(t *testing.T, v *env) []bool {
			it := newItem("inbound", 0, t0, "a")
			putItems(t, v.s, it)
			reopen(t, v)
			return putItems(t, v.s, it)
		}, []bool{false}, storage.SpoolStats{Items: 1}},
		{"item after ack", func(t *testing.T, v *env) []bool {
			it := newItem("inbound", 0, t0, "a")
			putItems(t, v.s, it)
			if err := v.s.AckItems(ctx, []paging.ID{it.Key, paging.NewID(t0)}); err != nil {
				t.Fatal(err)
			}
			reopen(t, v)
			return putItems(t, v.s, it)
		}, []bool{false}, storage.SpoolStats{Seen: 1}},
		{"item forgotten after prune", func(t *testing.T, v *env) []bool {
			it := newItem("inbound", 0, t0, "a")
			putItems(t, v.s, it)
			if err := v.s.AckItems(ctx, []paging.ID{it.Key}); err != nil {
				t.Fatal(err)
			}
			if n, err := v.s.PruneSeen(ctx, time.Now().Add(25*time.Hour)); err != nil || n != 1 {
				t.Fatalf("prune: %d, %v", n, err)
			}
			return putItems(t, v.s, it)
		}, []bool{true}, storage.SpoolStats{Items: 1}},
		{"finished job's result not queued twice", func(t *testing.T, v *env) []bool {
			j := newJob("d", 0, t0, "a")
			addJobs(t, v.s, j)
			r := result(j, "sent")
			if err := v.s.FinishJobs(ctx, []storage.FinishedJob{r}); err != nil {
				t.Fatal(err)
			}
			// A repeated finish is harmless: nothing changes.
			if err := v.s.FinishJobs(ctx, []storage.FinishedJob{r}); err != nil {
				t.Fatal(err)
			}
			return putItems(t, v.s, r.Result)
		}, []bool{false}, storage.SpoolStats{Items: 1, Seen: 1}},
		{"job refused on receipt", func(t *testing.T, v *env) []bool {
			// Finished without being added: remembered, its result queued.
			j := newJob("d", 0, t0, "a")
			if err := v.s.FinishJobs(ctx, []storage.FinishedJob{result(j, "fail-perm")}); err != nil {
				t.Fatal(err)
			}
			return addJobs(t, v.s, j)
		}, []bool{false}, storage.SpoolStats{Items: 1, Seen: 1}},
		{"job and item keys are apart", func(t *testing.T, v *env) []bool {
			j := newJob("d", 0, t0, "a")
			addJobs(t, v.s, j)
			// The result carries its job's key.
			r := result(j, "sent")
			r.Result.Key = j.Key
			if err := v.s.FinishJobs(ctx, []storage.FinishedJob{r}); err != nil {
				t.Fatal(err)
			}
			if err := v.s.AckItems(ctx, []paging.ID{j.Key}); err != nil {
				t.Fatal(err)
			}
			return addJobs(t, v.s, j)
		}, []bool{false}, storage.SpoolStats{Seen: 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := storagetest.New(t)
			v := &env{e: e, s: e.OpenSpool(t)}
			if got := tc.run(t, v); !slices.Equal(got, tc.want) {
				t.Errorf("added %v, want %v", got, tc.want)
			}
			if st := spoolStats(t, v.s); st != tc.stats {
				t.Errorf("stats %+v, want %+v", st, tc.stats)
			}
		})
	}
}

// PruneSeen forgets by when a key was seen, and only what is older than
// SeenFor.
func TestSpoolPruneSeenByAge(t *testing.T) {
	ctx := context.Background()
	now := t0
	e := storagetest.New(t)
	s := e.OpenSpool(t, func(o *storage.SpoolOptions) {
		o.Now = func() time.Time { return now }
		o.SeenFor = time.Hour
	})
	var old, young []storage.SpoolItem
	for i := range 5 {
		old = append(old, newItem("inbound", 0, t0, fmt.Sprint("old ", i)))
		young = append(young, newItem("inbound", 0, t0, fmt.Sprint("young ", i)))
	}
	putItems(t, s, append(slices.Clone(old), young...)...)
	if err := s.AckItems(ctx, keysOf(old, itemKey)); err != nil {
		t.Fatal(err)
	}
	now = t0.Add(30 * time.Minute)
	if err := s.AckItems(ctx, keysOf(young, itemKey)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at   time.Time
		want int
	}{
		{t0.Add(time.Hour), 0},
		{t0.Add(time.Hour + time.Nanosecond), 5},
		{t0.Add(time.Hour + 30*time.Minute), 0},
		{t0.Add(2 * time.Hour), 5},
	} {
		if n, err := s.PruneSeen(ctx, tc.at); err != nil || n != tc.want {
			t.Errorf("prune at %v: %d, %v; want %d", tc.at, n, err, tc.want)
		}
	}
	if st := spoolStats(t, s); st.Seen != 0 {
		t.Errorf("seen %d after pruning all", st.Seen)
	}
}

// The in-flight state is how the agent knows, after a crash, which jobs
// may have gone out: it must survive a reopen.
func TestSpoolStartUnstart(t *testing.T) {
	ctx := context.Background()
	e := storagetest.New(t)
	s := e.OpenSpool(t)
	a, b, c := newJob("d", 0, t0, "a"), newJob("d", 0, t0.Add(time.Second), "b"), newJob("d", 0, t0.Add(2*time.Second), "c")
	addJobs(t, s, a, b, c)
	type state struct {
		starts  int
		running bool
	}
	steps := []struct {
		name string
		do   func() error
		want [3]state // a, b, c
	}{
		{"start a and b", func() error { return s.StartJobs(ctx, []paging.ID{a.Key, b.Key}) },
			[3]state{{1, true}, {1, true}, {0, false}}},
		{"unstart b", func() error { return s.UnstartJobs(ctx, []paging.ID{b.Key}) },
			[3]state{{1, true}, {1, false}, {0, false}}},
		{"unstart c, never started, and a key not pending", func() error { return s.UnstartJobs(ctx, []paging.ID{c.Key, paging.NewID(t0)}) },
			[3]state{{1, true}, {1, false}, {0, false}}},
		{"start b again", func() error { return s.StartJobs(ctx, []paging.ID{b.Key}) },
			[3]state{{1, true}, {2, true}, {0, false}}},
		{"start a while running (re-sent after a crash)", func() error { return s.StartJobs(ctx, []paging.ID{a.Key}) },
			[3]state{{2, true}, {2, true}, {0, false}}},
		{"unknown key refuses the call", func() error {
			err := s.StartJobs(ctx, []paging.ID{c.Key, paging.NewID(t0)})
			if !errors.Is(err, paging.ErrNotFound) {
				return fmt.Errorf("err %v, want ErrNotFound", err)
			}
			return nil
		}, [3]state{{2, true}, {2, true}, {0, false}}},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		for round := range 2 {
			jobs := spoolJobs(t, s)
			running := 0
			for i, j := range jobs {
				if got := (state{j.Starts, j.Running}); got != st.want[i] {
					t.Errorf("%s, round %d: job %d is %+v, want %+v", st.name, round, i, got, st.want[i])
				}
				if j.Running {
					running++
				}
			}
			if n := spoolStats(t, s).Running; n != running {
				t.Errorf("%s: stats say %d running, want %d", st.name, n, running)
			}
			s = reopenSpool(t, e, s)
		}
	}
	// A finished job leaves no state behind, and its key is no longer a
	// job.
	if err := s.FinishJobs(ctx, []storage.FinishedJob{result(a, "sent")}); err != nil {
		t.Fatal(err)
	}
	if err := s.StartJobs(ctx, []paging.ID{a.Key}); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("start of a finished job: %v", err)
	}
	if st := spoolStats(t, s); st.Running != 1 || st.Jobs != 2 {
		t.Errorf("stats %+v", st)
	}
}

// FinishJobs removes the job and queues its result in one transaction:
// either both happen or neither.
func TestSpoolFinishAtomic(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name    string
		done    func(j []storage.SpoolJob) []storage.FinishedJob
		fail    bool  // the commit fails, as on a full disk
		wantErr error // nil: the finish must happen
	}{
		{"commits", func(j []storage.SpoolJob) []storage.FinishedJob {
			return []storage.FinishedJob{result(j[0], "sent"), result(j[1], "fail-perm")}
		}, false, nil},
		{"commit fails", func(j []storage.SpoolJob) []storage.FinishedJob {
			return []storage.FinishedJob{result(j[0], "sent"), result(j[1], "fail-perm")}
		}, true, paging.ErrTemporary},
		{"one result invalid", func(j []storage.SpoolJob) []storage.FinishedJob {
			bad := result(j[1], "sent")
			bad.Result.Kind = ""
			return []storage.FinishedJob{result(j[0], "sent"), bad}
		}, false, paging.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := storagetest.New(t)
			s := e.OpenSpool(t)
			jobs := []storage.SpoolJob{newJob("d", 2, t0, "a"), newJob("d", 0, t0, "b"), newJob("d", 1, t0, "c")}
			addJobs(t, s, jobs...)
			if err := s.StartJobs(ctx, keysOf(jobs, jobKey)); err != nil {
				t.Fatal(err)
			}
			if tc.fail {
				storage.SetCommitHook(storage.SpoolStore(s), func() error { return syscall.ENOSPC })
			}
			done := tc.done(jobs)
			err := s.FinishJobs(ctx, done)
			storage.SetCommitHook(storage.SpoolStore(s), nil)
			s = reopenSpool(t, e, s)
			got, items := spoolJobs(t, s), pending(t, s)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				if len(got) != 3 || len(items) != 0 || spoolStats(t, s).Seen != 0 {
					t.Fatalf("after a failed finish: %d jobs, %d items, %+v", len(got), len(items), spoolStats(t, s))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].Key != jobs[2].Key || !got[0].Running {
				t.Errorf("jobs left: %+v", got)
			}
			if !slices.EqualFunc(items, []storage.SpoolItem{done[0].Result, done[1].Result}, sameItem) {
				t.Errorf("results: %+v", items)
			}
			if st := spoolStats(t, s); st != (storage.SpoolStats{Jobs: 1, Running: 1, Items: 2, Seen: 2}) {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestSpoolOrder(t *testing.T) {
	s := storagetest.MustOpenSpool(t)
	// Added in an order that is neither priority nor time order.
	var jobs []storage.SpoolJob
	var items []storage.SpoolItem
	for i, p := range []paging.Priority{0, 2, 1, 0, 2, 1, 1, 0, 2} {
		at := t0.Add(time.Duration((i*7)%9) * time.Second)
		jobs = append(jobs, newJob("d", p, at, fmt.Sprint(i)))
		items = append(items, newItem("result", p, at, fmt.Sprint(i)))
	}
	addJobs(t, s, jobs...)
	putItems(t, s, items...)
	wantJobs := slices.Clone(jobs)
	slices.SortStableFunc(wantJobs, func(a, b storage.SpoolJob) int {
		if a.Priority != b.Priority {
			return int(b.Priority) - int(a.Priority)
		}
		return a.Received.Compare(b.Received)
	})
	if got := spoolJobs(t, s); !slices.EqualFunc(got, wantJobs, sameJob) {
		t.Errorf("jobs in order %v, want %v", keysOf(got, jobKey), keysOf(wantJobs, jobKey))
	}
	wantItems := slices.Clone(items)
	slices.SortStableFunc(wantItems, func(a, b storage.SpoolItem) int {
		if a.Priority != b.Priority {
			return int(b.Priority) - int(a.Priority)
		}
		return a.Created.Compare(b.Created)
	})
	for _, limit := range []int{0, 1, 4, len(items), 100} {
		got, err := s.PendingItems(context.Background(), limit)
		if err != nil {
			t.Fatal(err)
		}
		want := wantItems[:min(limit, len(items))]
		if !slices.EqualFunc(got, want, sameItem) {
			t.Errorf("limit %d: items %v, want %v", limit, keysOf(got, itemKey), keysOf(want, itemKey))
		}
	}
	// Acking the first leaves the rest in order.
	if err := s.AckItems(context.Background(), []paging.ID{wantItems[0].Key, wantItems[4].Key}); err != nil {
		t.Fatal(err)
	}
	want := slices.Delete(slices.Clone(wantItems), 4, 5)[1:]
	if got := pending(t, s); !slices.EqualFunc(got, want, sameItem) {
		t.Errorf("after ack: %v, want %v", keysOf(got, itemKey), keysOf(want, itemKey))
	}
}

// Many goroutines at once, as the agent's bus receiver and device
// goroutines call it: every job lands exactly once and flows through.
func TestSpoolConcurrent(t *testing.T) {
	const writers, perWriter = 32, 200
	ctx := context.Background()
	e := storagetest.New(t)
	s := e.OpenSpool(t)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		keys = map[paging.ID]string{}
	)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				j := newJob(fmt.Sprint("dev-", w%4), paging.Priority(i%3), t0, fmt.Sprintf("w%d-%d", w, i))
				// Every other job is also redelivered, by another goroutine's
				// batch in effect: the second add must not count.
				batch := []storage.SpoolJob{j}
				if i%2 == 0 {
					batch = append(batch, j)
				}
				added, err := s.AddJobs(ctx, batch)
				if err != nil {
					t.Error(err)
					return
				}
				if !added[0] || (len(added) == 2 && added[1]) {
					t.Errorf("added %v", added)
				}
				mu.Lock()
				keys[j.Key] = j.Payload.Reveal()
				mu.Unlock()
				if _, err := s.PutItems(ctx, []storage.SpoolItem{newItem("inbound", 0, t0, "in")}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	s = reopenSpool(t, e, s)
	jobs := spoolJobs(t, s)
	if len(jobs) != writers*perWriter {
		t.Fatalf("%d jobs, want %d", len(jobs), writers*perWriter)
	}
	seen := map[paging.ID]bool{}
	for _, j := range jobs {
		if seen[j.Key] {
			t.Fatalf("job %s twice", j.Key)
		}
		seen[j.Key] = true
		if keys[j.Key] != j.Payload.Reveal() {
			t.Fatalf("job %s: payload %q", j.Key, j.Payload.Reveal())
		}
	}

	// Then through: start, finish and ack every job from many goroutines.
	next := make(chan storage.SpoolJob)
	for range writers {
		wg.Go(func() {
			for j := range next {
				r := result(j, "sent")
				if err := s.StartJobs(ctx, []paging.ID{j.Key}); err != nil {
					t.Error(err)
				} else if err := s.FinishJobs(ctx, []storage.FinishedJob{r}); err != nil {
					t.Error(err)
				} else if err := s.AckItems(ctx, []paging.ID{r.Result.Key}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
	st := spoolStats(t, s)
	if want := (storage.SpoolStats{Items: writers * perWriter, Seen: 2 * writers * perWriter}); st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	cs := storage.SpoolStore(s).Stats()
	t.Logf("%d ops in %d commits (%.1f per commit, at most %d)", cs.Ops, cs.Commits, float64(cs.Ops)/float64(cs.Commits), cs.MaxBatch)
}

// Writes from many callers share commits: while one commit is on its way
// to disk, every caller that arrives waits, and the next commit carries
// them all.
func TestSpoolGroupCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := storagetest.MustOpenSpool(t)
		defer s.Close()
		st := storage.SpoolStore(s)
		gate := make(chan struct{})
		var once sync.Once
		storage.SetCommitHook(st, func() error {
			once.Do(func() { <-gate }) // hold the first commit
			return nil
		})
		before := st.Stats()
		var wg sync.WaitGroup
		calls := []func(i int) error{
			func(i int) error {
				_, err := s.AddJobs(context.Background(), []storage.SpoolJob{newJob("d", 0, t0, "j")})
				return err
			},
			func(i int) error {
				_, err := s.PutItems(context.Background(), []storage.SpoolItem{newItem("inbound", 0, t0, "i")})
				return err
			},
		}
		call := func(i int) {
			wg.Go(func() {
				if err := calls[i%2](i); err != nil {
					t.Error(err)
				}
			})
		}
		call(0)
		synctest.Wait() // the first commit holds one op, blocked in the hook
		for i := range 63 {
			call(i)
		}
		synctest.Wait() // 63 callers wait for the loop
		close(gate)
		wg.Wait()
		after := st.Stats()
		if commits, ops := after.Commits-before.Commits, after.Ops-before.Ops; commits != 2 || ops != 64 {
			t.Fatalf("%d ops in %d commits, want 64 in 2 (1 + 63)", ops, commits)
		}
		if n := spoolStats(t, s); n.Jobs != 33 || n.Items != 31 {
			t.Errorf("stats %+v", n)
		}
	})
}

// No payload reaches the file in the clear, in any encoding a careless
// writer might use.
func TestSpoolNoPlaintextOnDisk(t *testing.T) {
	const marker = "PHI-MARKER-Zq7xJaneRoeMRN0077"
	ctx := context.Background()
	e := storagetest.New(t)
	s := e.OpenSpool(t)
	var jobs []storage.SpoolJob
	for i := range 3 {
		jobs = append(jobs, newJob("tap-1", paging.Priority(i), t0, fmt.Sprintf("job %d: %s in bed 4", i, marker)))
	}
	addJobs(t, s, jobs...)
	putItems(t, s, newItem("inbound", paging.PriorityHigh, t0, "inbound: "+marker))
	if err := s.StartJobs(ctx, []paging.ID{jobs[0].Key}); err != nil {
		t.Fatal(err)
	}
	fin := result(jobs[0], "sent")
	fin.Result.Payload = paging.NewPHI("result: " + marker)
	if err := s.FinishJobs(ctx, []storage.FinishedJob{fin}); err != nil {
		t.Fatal(err)
	}
	if got := pending(t, s); len(got) != 2 || !strings.Contains(got[1].Payload.Reveal(), marker) {
		t.Fatalf("items %+v", got)
	}
	s.Close()

	b, err := os.ReadFile(e.SpoolPath())
	if err != nil {
		t.Fatal(err)
	}
	forms := map[string][]byte{
		"raw": []byte(marker),
		"hex": []byte(hex.EncodeToString([]byte(marker))),
		"HEX": []byte(strings.ToUpper(hex.EncodeToString([]byte(marker)))),
	}
	// The base64 of a marker depends on its alignment: all three shifts,
	// standard and URL alphabets.
	for shift := range 3 {
		src := []byte(strings.Repeat("x", shift) + marker)
		forms[fmt.Sprint("base64 shift ", shift)] = []byte(base64.StdEncoding.EncodeToString(src)[4:24])
		forms[fmt.Sprint("base64url shift ", shift)] = []byte(base64.URLEncoding.EncodeToString(src)[4:24])
	}
	for name, f := range forms {
		if bytes.Contains(b, f) {
			t.Errorf("spool file holds the marker (%s)", name)
		}
	}
}

func TestSpoolOpenRefuses(t *testing.T) {
	e := storagetest.New(t)
	s := e.OpenSpool(t)
	addJobs(t, s, newJob("d", 0, t0, "secret"))
	s.Close()
	store := e.Open(t)
	store.Close()

	other, _ := storagetest.NewKeys(t, t.TempDir())
	cases := []struct {
		name string
		open func() error
		want error
	}{
		{"wrong keyring", func() error {
			_, err := storage.OpenSpool(e.SpoolPath(), storage.SpoolOptions{Keys: other})
			return err
		}, storage.ErrWrongKey},
		{"no keyring", func() error {
			_, err := storage.OpenSpool(e.SpoolPath(), storage.SpoolOptions{})
			return err
		}, storage.ErrOptions},
		{"the gateway's store as a spool", func() error {
			_, err := storage.OpenSpool(e.Path, e.SpoolOptions())
			return err
		}, storage.ErrNotDatabase},
		{"a spool as the gateway's store", func() error {
			_, err := storage.Open(e.SpoolPath(), e.Options())
			return err
		}, storage.ErrNotDatabase},
		{"a spool checked as a backup of the store", func() error {
			return storage.CheckBackup(e.SpoolPath(), e.Keys)
		}, storage.ErrNotDatabase},
		{"no parent directory", func() error {
			_, err := storage.OpenSpool(filepath.Join(e.Dir, "missing", "spool.db"), e.SpoolOptions())
			return err
		}, os.ErrNotExist},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.open(); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
	// Nothing was changed: the right key still opens it.
	s = e.OpenSpool(t)
	if got := spoolJobs(t, s); len(got) != 1 || got[0].Payload.Reveal() != "secret" {
		t.Errorf("jobs after refusals: %+v", got)
	}
	// A second opener waits for the lock, then gives up.
	_, err := storage.OpenSpool(e.SpoolPath(), e.SpoolOptions(func(o *storage.SpoolOptions) { o.Timeout = 50 * time.Millisecond }))
	if !errors.Is(err, storage.ErrLocked) {
		t.Errorf("second open: %v, want ErrLocked", err)
	}
}

func TestSpoolSchemaTooNew(t *testing.T) {
	e := storagetest.New(t)
	e.OpenSpool(t).Close()
	editBolt(t, e.SpoolPath(), func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), binary.BigEndian.AppendUint64(nil, 99))
	})
	if _, err := storage.OpenSpool(e.SpoolPath(), e.SpoolOptions()); !errors.Is(err, storage.ErrSchemaTooNew) {
		t.Fatalf("open: %v, want ErrSchemaTooNew", err)
	}
}

// Bad input refuses the whole call: nothing of it is written.
func TestSpoolBadInput(t *testing.T) {
	ctx := context.Background()
	big := paging.NewPHI(strings.Repeat("x", storage.MaxPayloadLen+1))
	job := func(mod func(*storage.SpoolJob)) storage.SpoolJob {
		j := newJob("tap-1", paging.PriorityNormal, t0, "ok")
		mod(&j)
		return j
	}
	item := func(mod func(*storage.SpoolItem)) storage.SpoolItem {
		it := newItem("inbound", paging.PriorityNormal, t0, "ok")
		mod(&it)
		return it
	}
	addBad := func(j storage.SpoolJob) func(*storage.Spool) error {
		return func(s *storage.Spool) error {
			_, err := s.AddJobs(ctx, []storage.SpoolJob{newJob("tap-1", 0, t0, "good"), j})
			return err
		}
	}
	putBad := func(it storage.SpoolItem) func(*storage.Spool) error {
		return func(s *storage.Spool) error {
			_, err := s.PutItems(ctx, []storage.SpoolItem{newItem("inbound", 0, t0, "good"), it})
			return err
		}
	}
	cases := []struct {
		name string
		call func(*storage.Spool) error
	}{
		{"job without key", addBad(job(func(j *storage.SpoolJob) { j.Key = paging.ID{} }))},
		{"job without device", addBad(job(func(j *storage.SpoolJob) { j.Device = "" }))},
		{"job device too long", addBad(job(func(j *storage.SpoolJob) { j.Device = strings.Repeat("d", storage.MaxSpoolDeviceLen+1) }))},
		{"job bad priority", addBad(job(func(j *storage.SpoolJob) { j.Priority = 3 }))},
		{"job payload too long", addBad(job(func(j *storage.SpoolJob) { j.Payload = big }))},
		{"item without key", putBad(item(func(i *storage.SpoolItem) { i.Key = paging.ID{} }))},
		{"item without kind", putBad(item(func(i *storage.SpoolItem) { i.Kind = "" }))},
		{"item kind too long", putBad(item(func(i *storage.SpoolItem) { i.Kind = strings.Repeat("k", storage.MaxSpoolKindLen+1) }))},
		{"item bad priority", putBad(item(func(i *storage.SpoolItem) { i.Priority = 200 }))},
		{"item payload too long", putBad(item(func(i *storage.SpoolItem) { i.Payload = big }))},
		{"result invalid", func(s *storage.Spool) error {
			return s.FinishJobs(ctx, []storage.FinishedJob{{Key: paging.NewID(t0), Result: item(func(i *storage.SpoolItem) { i.Priority = 9 })}})
		}},
	}
	e := storagetest.New(t)
	s := e.OpenSpool(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(s)
			if !errors.Is(err, paging.ErrInvalid) {
				t.Fatalf("err %v, want ErrInvalid", err)
			}
			if st := spoolStats(t, s); st != (storage.SpoolStats{}) {
				t.Errorf("written: %+v", st)
			}
		})
	}
	// The sizes at the limits are fine.
	ok := job(func(j *storage.SpoolJob) {
		j.Device = strings.Repeat("d", storage.MaxSpoolDeviceLen)
		j.Payload = paging.NewPHI(strings.Repeat("x", storage.MaxPayloadLen))
	})
	addJobs(t, s, ok)
	putItems(t, s, item(func(i *storage.SpoolItem) { i.Kind = strings.Repeat("k", storage.MaxSpoolKindLen) }))
}

// A commit that fails (a full or failing disk) claims nothing; a cancelled
// context or a closed spool stores nothing.
func TestSpoolWriteFailures(t *testing.T) {
	e := storagetest.New(t)
	s := e.OpenSpool(t)
	ctx := context.Background()
	storage.SetCommitHook(storage.SpoolStore(s), func() error { return syscall.ENOSPC })
	_, err := s.AddJobs(ctx, []storage.SpoolJob{newJob("d", 0, t0, "a")})
	if !errors.Is(err, paging.ErrTemporary) || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("add on a full disk: %v", err)
	}
	_, err = s.PutItems(ctx, []storage.SpoolItem{newItem("inbound", 0, t0, "a")})
	if !errors.Is(err, paging.ErrTemporary) {
		t.Errorf("put on a full disk: %v", err)
	}
	storage.SetCommitHook(storage.SpoolStore(s), nil)
	if st := spoolStats(t, s); st != (storage.SpoolStats{}) {
		t.Errorf("after failed commits: %+v", st)
	}
	// The same job goes in once the disk has room.
	j := newJob("d", 0, t0, "a")
	if added := addJobs(t, s, j); !added[0] {
		t.Error("not added after recovery")
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.AddJobs(cancelled, []storage.SpoolJob{newJob("d", 0, t0, "b")}); !errors.Is(err, context.Canceled) {
		t.Errorf("add with a cancelled context: %v", err)
	}
	if err := s.StartJobs(cancelled, []paging.ID{j.Key}); !errors.Is(err, context.Canceled) {
		t.Errorf("start with a cancelled context: %v", err)
	}
	if _, err := s.Jobs(cancelled); !errors.Is(err, context.Canceled) {
		t.Errorf("jobs with a cancelled context: %v", err)
	}
	if st := spoolStats(t, s); st != (storage.SpoolStats{Jobs: 1}) {
		t.Errorf("after cancelled calls: %+v", st)
	}

	s.Close()
	if _, err := s.AddJobs(ctx, []storage.SpoolJob{newJob("d", 0, t0, "c")}); !errors.Is(err, storage.ErrClosed) || !errors.Is(err, paging.ErrTemporary) {
		t.Errorf("add after close: %v", err)
	}
	if _, err := s.PendingItems(ctx, 10); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("read after close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

// BenchmarkSpool: each job goes the whole way through the spool, one call
// at a time as the agent makes them (AddJobs, StartJobs, FinishJobs,
// AckItems: four commits' worth of writes), from many goroutines at once;
// every call returns after its commit is on disk. jobs/s counts whole
// jobs.
func BenchmarkSpool(b *testing.B) {
	for _, writers := range []int{8, benchWriters} {
		b.Run(fmt.Sprint("writers=", writers), func(b *testing.B) {
			s := storagetest.MustOpenSpool(b)
			payload := paging.NewPHI(strings.Repeat("x", storage.BenchRecordLen))
			before := storage.SpoolStore(s).Stats()
			b.ResetTimer()
			runJobs(b, writers, func() error { return spoolJob(s, payload) })
			b.StopTimer()
			reportCommits(b, before, storage.SpoolStore(s).Stats())
		})
	}
}

// spoolJob takes one job through the spool.
func spoolJob(s *storage.Spool, payload paging.PHI) error {
	ctx := context.Background()
	now := time.Now()
	j := storage.SpoolJob{Key: paging.NewID(now), Device: "tap-1", Priority: paging.PriorityHigh, Payload: payload, Received: now}
	if _, err := s.AddJobs(ctx, []storage.SpoolJob{j}); err != nil {
		return err
	}
	if err := s.StartJobs(ctx, []paging.ID{j.Key}); err != nil {
		return err
	}
	r := storage.SpoolItem{Key: paging.NewID(now), Kind: "result", Priority: j.Priority, Payload: payload, Created: now}
	if err := s.FinishJobs(ctx, []storage.FinishedJob{{Key: j.Key, Result: r}}); err != nil {
		return err
	}
	return s.AckItems(ctx, []paging.ID{r.Key})
}

// runJobs runs job b.N times on writers goroutines and reports jobs/s.
func runJobs(b *testing.B, writers int, job func() error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if err := job(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}

func reportCommits(b *testing.B, before, after storage.Stats) {
	if c := after.Commits - before.Commits; c > 0 {
		b.ReportMetric(float64(after.Ops-before.Ops)/float64(c), "ops/commit")
	}
}

// BenchmarkSpoolWithStore: jobs the whole way between the gateway's store
// and an agent's spool, two files with a commit loop each, as on a box
// that runs both daemons: the gateway queues each job (Enqueue), the agent
// spools, starts and finishes them, the gateway records each result and
// drops the outbox item (RecordJobResult, Sent), the agent drops the acked
// results. Every call returns after its commit.
//
// batch is how many jobs each spool call carries, as the agent takes jobs
// from the bus, runs them on a device and takes acks in batches; the
// store's calls are one per job either way. With batch 1 a job costs seven
// commits' worth of writes, one after another. jobs/s counts jobs.
func BenchmarkSpoolWithStore(b *testing.B) {
	for _, c := range []struct{ writers, batch int }{{benchWriters, 1}, {4 * benchWriters, 1}, {benchWriters, 8}} {
		b.Run(fmt.Sprintf("writers=%d/batch=%d", c.writers, c.batch), func(b *testing.B) {
			e := storagetest.New(b)
			st, sp := e.Open(b), e.OpenSpool(b)
			payload := paging.NewPHI(strings.Repeat("x", storage.BenchRecordLen))
			ctx := context.Background()
			stBefore, spBefore := st.Stats(), storage.SpoolStore(sp).Stats()
			b.ResetTimer()
			runBatches(b, c.writers, c.batch, func(n int) error {
				now := time.Now()
				jobs := make([]storage.SpoolJob, n)
				done := make([]storage.FinishedJob, n)
				for i := range jobs {
					id := paging.NewID(now)
					if err := st.Enqueue(ctx, paging.OutboxItem{ID: id, Due: now, Priority: paging.PriorityHigh, Topic: "agent/a/tap-1", Payload: payload}); err != nil {
						return err
					}
					jobs[i] = storage.SpoolJob{Key: id, Device: "tap-1", Priority: paging.PriorityHigh, Payload: payload, Received: now}
					done[i] = storage.FinishedJob{Key: id, Result: storage.SpoolItem{Key: paging.NewID(now), Kind: "result", Priority: paging.PriorityHigh, Payload: payload, Created: now}}
				}
				keys := keysOf(jobs, jobKey)
				if _, err := sp.AddJobs(ctx, jobs); err != nil {
					return err
				}
				if err := sp.StartJobs(ctx, keys); err != nil {
					return err
				}
				if err := sp.FinishJobs(ctx, done); err != nil {
					return err
				}
				acks := make([]paging.ID, n)
				for i, id := range keys {
					if _, err := st.RecordJobResult(ctx, storage.JobResult{Job: id, Agent: "a", Device: "tap-1", Outcome: "sent", Code: "211", At: now, Attempt: 1}); err != nil {
						return err
					}
					if err := st.Sent(ctx, id); err != nil {
						return err
					}
					acks[i] = done[i].Result.Key
				}
				return sp.AckItems(ctx, acks)
			})
			b.StopTimer()
			stAfter, spAfter := st.Stats(), storage.SpoolStore(sp).Stats()
			b.ReportMetric(float64(stAfter.Ops-stBefore.Ops)/float64(max(1, stAfter.Commits-stBefore.Commits)), "store-ops/commit")
			b.ReportMetric(float64(spAfter.Ops-spBefore.Ops)/float64(max(1, spAfter.Commits-spBefore.Commits)), "spool-ops/commit")
		})
	}
}

// runBatches takes b.N jobs through run, in calls of up to batch jobs, on
// writers goroutines, and reports jobs/s.
func runBatches(b *testing.B, writers, batch int, run func(n int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for {
				end := next.Add(int64(batch))
				n := min(int64(batch), int64(b.N)-(end-int64(batch)))
				if n <= 0 {
					return
				}
				if err := run(int(n)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}

func TestSpoolAdvanceFinishesAndStartsInOneCommit(t *testing.T) {
	ctx := context.Background()
	sp := storagetest.MustOpenSpool(t)
	now := time.Now().UTC()
	var keys []paging.ID
	for i := range 4 {
		k := paging.NewID(now)
		keys = append(keys, k)
		if _, err := sp.AddJobs(ctx, []storage.SpoolJob{{Key: k, Device: "d", Payload: paging.NewPHI(fmt.Sprint("job ", i)), Received: now}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := sp.StartJobs(ctx, keys[:2]); err != nil {
		t.Fatal(err)
	}
	result := func(k paging.ID) storage.FinishedJob {
		return storage.FinishedJob{Key: k, Result: storage.SpoolItem{Key: paging.NewID(now), Kind: "result", Payload: paging.NewPHI("r"), Created: now}}
	}
	before := sp.CommitStats().Commits
	if err := sp.Advance(ctx, []storage.FinishedJob{result(keys[0]), result(keys[1])}, keys[2:]); err != nil {
		t.Fatal(err)
	}
	if n := sp.CommitStats().Commits - before; n != 1 {
		t.Errorf("Advance took %d commits, want 1", n)
	}
	jobs, err := sp.Jobs(ctx)
	if err != nil || len(jobs) != 2 || !jobs[0].Running || !jobs[1].Running {
		t.Fatalf("after Advance: %+v, %v; want the last two, running", jobs, err)
	}
	if items, _ := sp.PendingItems(ctx, 10); len(items) != 2 {
		t.Fatalf("%d results queued, want 2", len(items))
	}
	// A start of a job that is not pending refuses the whole call.
	err = sp.Advance(ctx, []storage.FinishedJob{result(keys[2])}, []paging.ID{paging.NewID(now)})
	if !errors.Is(err, paging.ErrNotFound) {
		t.Fatalf("Advance with an unknown start: %v, want ErrNotFound", err)
	}
	if jobs, _ := sp.Jobs(ctx); len(jobs) != 2 {
		t.Fatalf("a refused Advance finished a job: %d left, want 2", len(jobs))
	}
}

// Riding deletions wait for the next write and share its commit; with
// nothing else to carry them they commit alone once their wait is over.
func TestSpoolAckItemsRiding(t *testing.T) {
	ctx := context.Background()
	s := storagetest.MustOpenSpool(t)
	a, b := newItem("result", 0, t0, "a"), newItem("result", 0, t0, "b")
	putItems(t, s, a, b)
	before := s.CommitStats().Commits
	acked := make(chan error, 1)
	go func() { acked <- s.AckItemsRiding(ctx, []paging.ID{a.Key}, time.Hour) }()
	// Writes until one carries the deletion (the first may commit before
	// the ack reaches the commit loop): the ack never commits on its own.
	var puts []storage.SpoolItem
	for done := false; !done; {
		select {
		case err := <-acked:
			if err != nil {
				t.Fatal(err)
			}
			done = true
		default:
			it := newItem("result", 0, t0, fmt.Sprint("c", len(puts)))
			putItems(t, s, it)
			puts = append(puts, it)
		}
	}
	if n := s.CommitStats().Commits - before; n != uint64(len(puts)) {
		t.Errorf("%d commits for %d writes and a riding ack: it committed on its own", n, len(puts))
	}
	if got := pending(t, s); !slices.EqualFunc(got, append([]storage.SpoolItem{b}, puts...), sameItem) {
		t.Errorf("after the riding ack: %v, want b and the writes", keysOf(got, itemKey))
	}
	// Alone, with a short wait: it commits by itself.
	if err := s.AckItemsRiding(ctx, []paging.ID{b.Key}, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if got := pending(t, s); !slices.EqualFunc(got, puts, sameItem) {
		t.Errorf("after the lone riding ack: %v, want the writes", keysOf(got, itemKey))
	}
}
