package storage_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pagebridge/gateway/paging"
	"pagebridge/storage"
	"pagebridge/storage/storagetest"
)

const benchWriters = 64

// BenchmarkAccept: 64 goroutines accept 200-byte pages; every Accept
// returns after its commit is on disk. Compare with BenchmarkRawBoltBatch.
func BenchmarkAccept(b *testing.B) {
	s := storagetest.MustOpen(b)
	text := paging.NewPHI(strings.Repeat("x", storage.BenchRecordLen))
	before := s.Stats()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range benchWriters {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				now := time.Now()
				m := &paging.Message{ID: paging.NewID(now), Source: paging.Source{Protocol: paging.ProtocolAPI},
					PagerID: "1002", Text: text, Received: now}
				if err := s.Accept(context.Background(), m, by); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	st := s.Stats()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	if c := st.Commits - before.Commits; c > 0 {
		b.ReportMetric(float64(st.Ops-before.Ops)/float64(c), "ops/commit")
	}
}

// BenchmarkRawBoltBatch: the same load as raw bbolt puts through db.Batch
// tuned (MaxBatchSize 64, MaxBatchDelay 1 ms), no encryption, no audit.
func BenchmarkRawBoltBatch(b *testing.B) {
	dir := b.TempDir()
	b.ResetTimer()
	perSec, err := storage.BenchRawBatch(dir, benchWriters, b.N)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(perSec, "ops/s")
}

// The bench helpers the gateway's bench command calls work.
func TestBenchHelpers(t *testing.T) {
	dir := t.TempDir()
	raw, err := storage.BenchRawBatch(dir+"/raw", 8, 200)
	if err != nil || raw <= 0 {
		t.Fatalf("raw: %v, %v", raw, err)
	}
	acc, st, err := storage.BenchAccept(dir, 8, 200)
	if err != nil || acc <= 0 || st.Ops != 200 {
		t.Fatalf("accept: %v, %+v, %v", acc, st, err)
	}
}

// BenchmarkPagerID: parallel lookups of a directory of 1,000 pager IDs,
// as the WCTP handler does once per page to check the recipient.
func BenchmarkPagerID(b *testing.B) {
	s := storagetest.MustOpen(b)
	ctx := context.Background()
	admin := paging.AuditEvent{Actor: "bench"}
	if err := s.PutPerson(ctx, paging.Person{ID: "p", Name: "P", Stage: paging.StageApp}, admin); err != nil {
		b.Fatal(err)
	}
	const n = 1000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprint(1000 + i)
		p := paging.PagerID{ID: ids[i], Target: paging.Target{Kind: paging.TargetPerson, ID: "p"}}
		if err := s.PutPagerID(ctx, p, admin); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.PagerID(ctx, ids[i%n]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}
