package storage_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"pagebridge/gateway/paging"
	"pagebridge/storage"
	"pagebridge/storage/storagetest"
)

func newResult(outcome string) storage.JobResult {
	return storage.JobResult{Job: paging.NewID(t0), Agent: "agent-1", Device: "modem-1", Outcome: outcome,
		Code: "+CMS ERROR: 500", Note: "retry later", At: t0, Received: t0.Add(time.Second), Attempt: 1}
}

func sameResult(a, b storage.JobResult) bool {
	return a.Job == b.Job && a.Agent == b.Agent && a.Device == b.Device && a.Outcome == b.Outcome && a.Code == b.Code &&
		a.Note == b.Note && a.At.Equal(b.At) && a.Received.Equal(b.Received) && a.Attempt == b.Attempt && a.Resent == b.Resent
}

// auditActions counts the store's audit entries by action.
func auditActions(t *testing.T, s *storage.Store) (map[string]int, []storage.AuditEntry) {
	t.Helper()
	entries, err := s.AuditEntries(context.Background(), 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, e := range entries {
		n[e.Action]++
	}
	return n, entries
}

// The first result of a job wins; every later one is ignored, even after a
// reopen, and is not audited.
func TestJobResultFirstWins(t *testing.T) {
	ctx := context.Background()
	e := storagetest.New(t)
	s := e.Open(t)
	first := newResult("unknown")
	first.Resent = true
	later := []func(r *storage.JobResult){
		func(r *storage.JobResult) {},                                    // the same, redelivered
		func(r *storage.JobResult) { r.Outcome = "sent"; r.Attempt = 2 }, // another opinion
		func(r *storage.JobResult) { r.Agent = "agent-2" },
	}
	if added, err := s.RecordJobResult(ctx, first); err != nil || !added {
		t.Fatalf("first: %v, %v", added, err)
	}
	for i, mod := range later {
		if i == 1 {
			s = reopen(t, e, s)
		}
		r := first
		mod(&r)
		if added, err := s.RecordJobResult(ctx, r); err != nil || added {
			t.Errorf("later %d: added %v, err %v", i, added, err)
		}
	}
	got, err := s.JobResult(ctx, first.Job)
	if err != nil || !sameResult(got, first) {
		t.Fatalf("stored %+v, %v; want %+v", got, err, first)
	}
	n, entries := auditActions(t, s)
	if n["job.result"] != 1 {
		t.Fatalf("%d job.result entries, want 1", n["job.result"])
	}
	for _, en := range entries {
		if en.Action != "job.result" {
			continue
		}
		if en.Actor != "agent:agent-1" || en.Object != "job/"+first.Job.String() {
			t.Errorf("audit entry %+v", en)
		}
		if !strings.Contains(en.Detail, "outcome unknown") || !strings.Contains(en.Detail, "modem-1") || !strings.Contains(en.Detail, "re-sent") ||
			strings.Contains(en.Detail, first.Note) {
			t.Errorf("audit detail %q: want outcome, device and re-send, not the note", en.Detail)
		}
	}
	verify(t, s)
}

// Concurrent deliveries of one result, likely in one commit: one is added.
func TestJobResultConcurrentDuplicates(t *testing.T) {
	s := storagetest.MustOpen(t)
	r := newResult("sent")
	var wg sync.WaitGroup
	var mu sync.Mutex
	added := 0
	for range 16 {
		wg.Go(func() {
			ok, err := s.RecordJobResult(context.Background(), r)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				added++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if added != 1 {
		t.Errorf("added %d times, want 1", added)
	}
	if n, _ := auditActions(t, s); n["job.result"] != 1 {
		t.Errorf("%d job.result entries, want 1", n["job.result"])
	}
}

func TestJobResultsList(t *testing.T) {
	ctx := context.Background()
	s := storagetest.MustOpen(t)
	var all []storage.JobResult
	for i := range 7 {
		r := newResult("sent")
		r.Job = paging.NewID(t0.Add(time.Duration(i) * time.Minute))
		all = append(all, r)
	}
	// Recorded out of order; listed in job order.
	for _, i := range []int{3, 0, 6, 1, 5, 2, 4} {
		if _, err := s.RecordJobResult(ctx, all[i]); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		after paging.ID
		limit int
		want  []storage.JobResult
	}{
		{paging.ID{}, 100, all},
		{paging.ID{}, 3, all[:3]},
		{all[2].Job, 2, all[3:5]},
		{all[6].Job, 10, nil},
		{paging.ID{}, 0, nil},
		{paging.NewID(t0.Add(150 * time.Second)), 10, all[3:]}, // an ID between two stored
	}
	for i, tc := range cases {
		got, err := s.JobResults(ctx, tc.after, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(tc.want) {
			t.Errorf("case %d: %d results, want %d", i, len(got), len(tc.want))
			continue
		}
		for j := range got {
			if !sameResult(got[j], tc.want[j]) {
				t.Errorf("case %d: result %d is %s, want %s", i, j, got[j].Job, tc.want[j].Job)
			}
		}
	}
	if _, err := s.JobResult(ctx, paging.NewID(t0)); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("unknown job: %v, want ErrNotFound", err)
	}
}

func TestJobResultInvalid(t *testing.T) {
	ctx := context.Background()
	s := storagetest.MustOpen(t)
	long := strings.Repeat("x", storage.MaxJobResultField+1)
	cases := []struct {
		name string
		mod  func(r *storage.JobResult)
	}{
		{"no job", func(r *storage.JobResult) { r.Job = paging.ID{} }},
		{"no agent", func(r *storage.JobResult) { r.Agent = "" }},
		{"agent too long", func(r *storage.JobResult) { r.Agent = long }},
		{"no device", func(r *storage.JobResult) { r.Device = "" }},
		{"device too long", func(r *storage.JobResult) { r.Device = long }},
		{"no outcome", func(r *storage.JobResult) { r.Outcome = "" }},
		{"outcome too long", func(r *storage.JobResult) { r.Outcome = strings.Repeat("o", 33) }},
		{"code too long", func(r *storage.JobResult) { r.Code = long }},
		{"note too long", func(r *storage.JobResult) { r.Note = strings.Repeat("n", storage.MaxJobResultNote+1) }},
		{"no time", func(r *storage.JobResult) { r.At = time.Time{} }},
		{"negative attempt", func(r *storage.JobResult) { r.Attempt = -1 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newResult("sent")
			tc.mod(&r)
			if added, err := s.RecordJobResult(ctx, r); !errors.Is(err, paging.ErrInvalid) || added {
				t.Fatalf("added %v, err %v; want ErrInvalid", added, err)
			}
		})
	}
	if got, _ := s.JobResults(ctx, paging.ID{}, 100); len(got) != 0 {
		t.Errorf("stored: %+v", got)
	}
	if r := verify(t, s); r.Entries != 0 {
		t.Errorf("%d audit entries", r.Entries)
	}
}

// A failed commit stores neither the result nor its audit entry; the same
// result goes in afterwards. A zero Received is the store's time.
func TestJobResultCommitFails(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(time.Hour)
	s := storagetest.MustOpen(t, func(o *storage.Options) { o.Now = func() time.Time { return now } })
	r := newResult("sent")
	r.Received = time.Time{}
	storage.SetCommitHook(s, func() error { return syscall.EIO })
	if added, err := s.RecordJobResult(ctx, r); !errors.Is(err, paging.ErrTemporary) || added {
		t.Fatalf("on a failing disk: %v, %v", added, err)
	}
	storage.SetCommitHook(s, nil)
	if _, err := s.JobResult(ctx, r.Job); !errors.Is(err, paging.ErrNotFound) {
		t.Fatalf("stored after a failed commit: %v", err)
	}
	if added, err := s.RecordJobResult(ctx, r); err != nil || !added {
		t.Fatalf("after recovery: %v, %v", added, err)
	}
	got, err := s.JobResult(ctx, r.Job)
	if err != nil || !got.Received.Equal(now) {
		t.Errorf("received %v, %v; want %v", got.Received, err, now)
	}
	if v := verify(t, s); v.Entries != 1 {
		t.Errorf("%d audit entries, want 1", v.Entries)
	}
}

// Inbound pages from agents are accepted with the envelope's idempotency
// key as the message ID, and the bus redelivers: a second Accept of an ID,
// concurrent or after a restart, stores nothing and audits nothing.
func TestAcceptRedelivered(t *testing.T) {
	ctx := context.Background()
	e := storagetest.New(t)
	s := e.Open(t)
	m := newMsg("inbound page")
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			dup := *m
			if err := s.Accept(ctx, &dup, by); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	s = reopen(t, e, s)
	dup := *m
	dup.Text = paging.NewPHI("redelivered, changed on the way")
	accept(t, s, &dup)
	ids, err := s.MessageIDs(ctx, paging.ID{}, 10)
	if err != nil || len(ids) != 1 || ids[0] != m.ID {
		t.Fatalf("messages %v, %v", ids, err)
	}
	if n, _ := auditActions(t, s); n["message.accept"] != 1 {
		t.Errorf("%d message.accept entries, want 1", n["message.accept"])
	}
	if got := texts(t, s); got[m.ID] != "inbound page" {
		t.Errorf("text %q", got[m.ID])
	}
	verify(t, s)
}

// A delivery report (an SMS status report) is kept once beside the job's
// result, audited as job.report, and leaves the result as it was.
func TestJobDeliveryReport(t *testing.T) {
	ctx := context.Background()
	s := storagetest.New(t).Open(t)
	sent := newResult("sent")
	if added, err := s.RecordJobResult(ctx, sent); err != nil || !added {
		t.Fatalf("result: %v, %v", added, err)
	}
	rep := sent
	rep.Outcome = "delivered"
	for i, want := range []bool{true, false} {
		if added, err := s.RecordJobResult(ctx, rep); err != nil || added != want {
			t.Fatalf("report %d: added %v, %v", i, added, err)
		}
	}
	if got, err := s.JobResult(ctx, sent.Job); err != nil || got.Outcome != "sent" {
		t.Fatalf("the job's result after its report: %+v, %v", got, err)
	}
	if n, _ := auditActions(t, s); n["job.report"] != 1 || n["job.result"] != 1 {
		t.Fatalf("audit: %v", n)
	}
}
