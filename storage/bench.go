package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"pagebridge/gateway/paging"
)

// BenchRecordLen is the record size of the benchmarks, as in the
// reference figures.
const BenchRecordLen = 200

// BenchRawBatch measures raw bbolt group commit, the ceiling the store's
// own commit loop is compared against: writers goroutines put n 200-byte
// records in all through db.Batch tuned as well as it goes
// (MaxBatchSize 64, MaxBatchDelay 1 ms), fsync on. It works in a file in
// dir, which it removes, and returns records per second.
func BenchRawBatch(dir string, writers, n int) (perSec float64, err error) {
	if writers < 1 || n < 1 {
		return 0, errors.New("bench: writers and n must be positive")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, err
	}
	path := filepath.Join(dir, "rawbatch.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: DefaultTimeout, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return 0, err
	}
	defer os.Remove(path)
	defer db.Close()
	db.MaxBatchSize = 64
	db.MaxBatchDelay = time.Millisecond
	bucket := []byte("bench")
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(bucket); return err }); err != nil {
		return 0, err
	}
	val := []byte(strings.Repeat("x", BenchRecordLen))
	start := time.Now()
	err = runWriters(writers, n, func(i int) error {
		key := binary.BigEndian.AppendUint64(nil, uint64(i))
		return db.Batch(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put(key, val) })
	})
	if err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// BenchAccept measures Store.Accept the same way: writers goroutines accept
// n messages in all, with 200-byte texts, into a new store in dir (key
// files too), which it removes. It returns messages per second and the
// store's commit counters.
func BenchAccept(dir string, writers, n int) (perSec float64, st Stats, err error) {
	if writers < 1 || n < 1 {
		return 0, st, errors.New("bench: writers and n must be positive")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, st, err
	}
	work, err := os.MkdirTemp(dir, "bench-accept-")
	if err != nil {
		return 0, st, err
	}
	defer os.RemoveAll(work)
	keys, err := CreateKeyring(filepath.Join(work, "keys", "kek.json"))
	if err != nil {
		return 0, st, err
	}
	akey, err := CreateAuditKey(filepath.Join(work, "keys", "audit.key"))
	if err != nil {
		return 0, st, err
	}
	s, err := Open(filepath.Join(work, "pagebridge.db"), Options{Keys: keys, AuditKey: akey})
	if err != nil {
		return 0, st, err
	}
	defer s.Close()
	text := paging.NewPHI(strings.Repeat("x", BenchRecordLen))
	by := paging.AuditEvent{Actor: "bench", Source: "bench"}
	start := time.Now()
	err = runWriters(writers, n, func(i int) error {
		now := time.Now()
		m := &paging.Message{
			ID:       paging.NewID(now),
			Source:   paging.Source{Protocol: paging.ProtocolAPI, Line: "bench"},
			PagerID:  fmt.Sprint(1000 + i%100),
			Priority: paging.PriorityNormal,
			Text:     text,
			Received: now,
		}
		return s.Accept(context.Background(), m, by)
	})
	if err != nil {
		return 0, st, err
	}
	perSec = float64(n) / time.Since(start).Seconds()
	return perSec, s.Stats(), nil
}

// runWriters runs put(0..n-1) on writers goroutines and returns the first
// error.
func runWriters(writers, n int, put func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	next := make(chan int)
	for range writers {
		wg.Go(func() {
			for i := range next {
				if err := put(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}
