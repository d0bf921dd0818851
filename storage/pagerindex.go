package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	bolt "go.etcd.io/bbolt"

	"pagebridge/gateway/paging"
)

// pagerIndex is an immutable copy of the pagerids bucket, so that the
// per-page recipient check (Store.PagerID) needs no read transaction.
// A change builds a new index (copy on write: the directory changes
// rarely) and swaps the pointer in Store.pagerIDs.
type pagerIndex struct {
	// byID holds each record as a read from bbolt decodes it, under its
	// bbolt key.
	byID map[string]paging.PagerID
	// bad holds the keys whose records do not decode, with the reason:
	// a lookup of one fails with ErrCorrupt, as it did when read from the
	// file, instead of Open failing and stopping all paging.
	bad map[string]string
	// sorted is byID's values in key order, for PagerIDs.
	sorted []paging.PagerID
}

// loadPagerIndex reads the pagerids bucket into a new index.
func loadPagerIndex(tx *bolt.Tx) (*pagerIndex, error) {
	b := tx.Bucket(bucketPagerIDs)
	if b == nil {
		return nil, fmt.Errorf("%w: no %s bucket", ErrCorrupt, bucketPagerIDs)
	}
	ix := &pagerIndex{byID: map[string]paging.PagerID{}, bad: map[string]string{}}
	err := b.ForEach(func(k, v []byte) error {
		var p paging.PagerID
		if err := json.Unmarshal(v, &p); err != nil {
			ix.bad[string(k)] = err.Error()
			return nil
		}
		ix.byID[string(k)] = p
		return nil
	})
	if err != nil {
		return nil, err
	}
	ix.sort()
	return ix, nil
}

func (ix *pagerIndex) sort() {
	// bbolt orders keys bytewise, as Go compares strings.
	ix.sorted = ix.sorted[:0]
	for _, k := range slices.Sorted(maps.Keys(ix.byID)) {
		ix.sorted = append(ix.sorted, ix.byID[k])
	}
}

// with returns a copy of ix with changes applied: a nil value deletes.
func (ix *pagerIndex) with(changes map[string]*paging.PagerID) *pagerIndex {
	n := &pagerIndex{byID: maps.Clone(ix.byID), bad: maps.Clone(ix.bad)}
	for id, p := range changes {
		delete(n.bad, id)
		if p == nil {
			delete(n.byID, id)
		} else {
			n.byID[id] = *p
		}
	}
	n.sort()
	return n
}

// notePagerID records, in the transaction, that id was put (p) or deleted
// (nil). finish applies the transaction's changes to the index once it has
// committed; a transaction rolled back, failed or re-run takes its changes
// with it.
func (t *txn) notePagerID(id string, p *paging.PagerID) {
	if t.pagerIDs == nil {
		t.pagerIDs = map[string]*paging.PagerID{}
	}
	t.pagerIDs[id] = p
}

// applyPagerIDs swaps in the index with changes. It runs only as a commit
// handler of the one writer (the commit loop, or Open before it starts),
// so the load and the store do not race with another writer.
func (s *Store) applyPagerIDs(changes map[string]*paging.PagerID) {
	s.pagerIDs.Store(s.pagerIDs.Load().with(changes))
}

// readPagerIndex returns the current index, or ErrClosed or ctx's error as
// a read transaction would.
func (s *Store) readPagerIndex(ctx context.Context) (*pagerIndex, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.pagerIDs.Load(), nil
}

// PagerID returns a pager ID mapping; paging.ErrNotFound if unknown. It
// reads the in-memory index, which shows every committed change by the
// time the call that made it returns.
func (s *Store) PagerID(ctx context.Context, id string) (paging.PagerID, error) {
	ix, err := s.readPagerIndex(ctx)
	if err != nil {
		return paging.PagerID{}, fmt.Errorf("pager id %s: %w", id, err)
	}
	if p, ok := ix.byID[id]; ok {
		return p, nil
	}
	if why, ok := ix.bad[id]; ok {
		return paging.PagerID{}, fmt.Errorf("pager id %s: %w: %s", id, ErrCorrupt, why)
	}
	return paging.PagerID{}, fmt.Errorf("pager id %s: %w", id, paging.ErrNotFound)
}

// PagerIDs returns every pager ID mapping, by ID, from the in-memory
// index. The slice is the caller's.
func (s *Store) PagerIDs(ctx context.Context) ([]paging.PagerID, error) {
	ix, err := s.readPagerIndex(ctx)
	if err != nil {
		return nil, fmt.Errorf("list pager ids: %w", err)
	}
	if len(ix.bad) > 0 {
		k := slices.Min(slices.Collect(maps.Keys(ix.bad)))
		return nil, fmt.Errorf("list pager ids: %w: pager ids %s: %s", ErrCorrupt, k, ix.bad[k])
	}
	if len(ix.sorted) == 0 {
		return nil, nil
	}
	return slices.Clone(ix.sorted), nil
}
