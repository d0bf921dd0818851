package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"pagebridge/gateway/paging"
)

// WCTP bookkeeping: what the gateway's WCTP status and two-way side
// remembers between requests (which pages a sender may ask about, what it
// asked to be told, which statuses and replies it has confirmed). Values
// are JSON chosen by the caller and hold no PHI: reply texts stay sealed
// in their threads.
//
// The bucket is created by the first write rather than by a schema step,
// so this file adds no migration and leaves SchemaVersion alone;
// CreateBucketIfNotExists keeps that compatible with a later step that
// creates it. Until the first write, reads find nothing.
var bucketWCTP = []byte("wctp")

// WCTPRecord decodes the value at key into v; paging.ErrNotFound if absent.
func (s *Store) WCTPRecord(ctx context.Context, key string, v any) error {
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketWCTP)
		if b == nil {
			return paging.ErrNotFound
		}
		return decodeWCTP(b.Get([]byte(key)), v)
	})
	if err != nil {
		return fmt.Errorf("wctp record: %w", err)
	}
	return nil
}

// WCTPRecords calls fn with every key that starts with prefix, from the
// key from on (from "" or below prefix: the first), in key order, with its
// value (valid only during the call), stopping early if fn returns an
// error.
func (s *Store) WCTPRecords(ctx context.Context, prefix, from string, fn func(key string, val json.RawMessage) error) error {
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketWCTP)
		if b == nil {
			return nil
		}
		start := []byte(max(prefix, from))
		c := b.Cursor()
		for k, v := c.Seek(start); k != nil && bytes.HasPrefix(k, []byte(prefix)); k, v = c.Next() {
			if err := fn(string(k), json.RawMessage(v)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("wctp records: %w", err)
	}
	return nil
}

// WCTPTx is UpdateWCTP's view of the bucket inside its write transaction.
type WCTPTx struct {
	b *bolt.Bucket
}

// Get decodes the value at key into v; paging.ErrNotFound if absent.
func (t *WCTPTx) Get(key string, v any) error { return decodeWCTP(t.b.Get([]byte(key)), v) }

// Put stores v as JSON at key.
func (t *WCTPTx) Put(key string, v any) error {
	val, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return t.b.Put([]byte(key), val)
}

// Delete removes key; a missing key is not an error.
func (t *WCTPTx) Delete(key string) error { return t.b.Delete([]byte(key)) }

// DeleteBefore removes up to limit keys that start with prefix and sort
// before before, first first, and returns how many it removed.
func (t *WCTPTx) DeleteBefore(prefix, before string, limit int) (int, error) {
	var keys [][]byte
	c := t.b.Cursor()
	for k, _ := c.Seek([]byte(prefix)); k != nil && len(keys) < limit &&
		bytes.HasPrefix(k, []byte(prefix)) && bytes.Compare(k, []byte(before)) < 0; k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := t.b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

// UpdateWCTP runs fn in one write transaction of the commit loop, with the
// audit entries by (none is fine) appended in the same commit. fn may run
// more than once (see op), so it must work only from t and its own
// inputs; an error from it writes nothing.
func (s *Store) UpdateWCTP(ctx context.Context, by []paging.AuditEvent, fn func(t *WCTPTx) error) error {
	now := s.now()
	audit := make([]auditDraft, len(by))
	for i, ev := range by {
		audit[i] = draftAudit(now, ev)
	}
	err := s.do(ctx, func(tx *txn) error {
		b, err := tx.CreateBucketIfNotExists(bucketWCTP)
		if err != nil {
			return err
		}
		if err := fn(&WCTPTx{b: b}); err != nil {
			return err
		}
		for _, d := range audit {
			if err := tx.appendAudit(d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("wctp update: %w", err)
	}
	return nil
}

func decodeWCTP(raw []byte, v any) error {
	if raw == nil {
		return paging.ErrNotFound
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return nil
}
