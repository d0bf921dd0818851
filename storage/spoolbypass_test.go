package storage_test

import (
	"context"
	"testing"
	"time"

	"pagebridge/gateway/paging"
	"pagebridge/storage"
	"pagebridge/storage/storagetest"
)

// A page passed straight to a paging terminal: the pending item becomes
// its bypassed version and the terminal's job is added in the same commit;
// once the gateway has acknowledged the page, nothing is bypassed.
func TestSpoolBypass(t *testing.T) {
	ctx := context.Background()
	e := storagetest.New(t)
	s := e.OpenSpool(t)
	page := newItem("inbound", paging.PriorityNormal, t0, "page as received")
	putItems(t, s, page)

	bypassed := page
	bypassed.Payload = paging.NewPHI("page, bypassed")
	job := newJob("terminal-1", paging.PriorityNormal, t0.Add(time.Second), "to the terminal")
	ok, err := s.Bypass(ctx, bypassed, []storage.SpoolJob{job})
	if err != nil || !ok {
		t.Fatalf("bypass: %v %v", ok, err)
	}
	s = reopenSpool(t, e, s)
	items := pending(t, s)
	if len(items) != 1 || !sameItem(items[0], bypassed) {
		t.Fatalf("pending after bypass: %v", items)
	}
	if jobs := spoolJobs(t, s); len(jobs) != 1 || jobs[0].Key != job.Key {
		t.Fatalf("jobs after bypass: %v", jobs)
	}

	// A job the agent made itself finishes with no result for the gateway.
	if err := s.FinishJobs(ctx, []storage.FinishedJob{{Key: job.Key}}); err != nil {
		t.Fatal(err)
	}
	if st := spoolStats(t, s); st.Jobs != 0 || st.Items != 1 {
		t.Fatalf("after the bypass job: %+v", st)
	}

	// Acknowledged: too late to bypass.
	if err := s.AckItems(ctx, []paging.ID{page.Key}); err != nil {
		t.Fatal(err)
	}
	again := newJob("terminal-1", paging.PriorityNormal, t0.Add(2*time.Second), "again")
	if ok, err := s.Bypass(ctx, bypassed, []storage.SpoolJob{again}); err != nil || ok {
		t.Fatalf("bypass after ack: %v %v", ok, err)
	}
	if st := spoolStats(t, s); st.Jobs != 0 || st.Items != 0 {
		t.Fatalf("after a refused bypass: %+v", st)
	}

	// A new page bypassed at once is added with its job.
	fresh := newItem("inbound", paging.PriorityCritical, t0.Add(3*time.Second), "new page")
	job2 := newJob("terminal-1", paging.PriorityCritical, t0.Add(3*time.Second), "to the terminal")
	if ok, err := s.Bypass(ctx, fresh, []storage.SpoolJob{job2}); err != nil || !ok {
		t.Fatalf("bypass of a new page: %v %v", ok, err)
	}
	if items := pending(t, s); len(items) != 1 || !sameItem(items[0], fresh) {
		t.Fatalf("pending: %v", items)
	}
	if jobs := spoolJobs(t, s); len(jobs) != 1 || jobs[0].Key != job2.Key {
		t.Fatalf("jobs: %v", jobs)
	}
}
