package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"pagebridge/gateway/paging"
)

// outboxGet reads item id and drops its due-index entry, for a caller
// that moves or removes it; nil if there is no such item.
func outboxGet(b, idx *bolt.Bucket, id paging.ID) (*outboxRecord, error) {
	v := b.Get(id.Bytes())
	if v == nil {
		return nil, nil
	}
	var r outboxRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("%w: outbox item %s: %v", ErrCorrupt, id, err)
	}
	if err := idx.Delete(outboxIndexKey(r.Priority, r.Due, r.ID)); err != nil {
		return nil, err
	}
	return &r, nil
}

// outboxMove puts r back due at due, with one more try counted. The
// sealed payload stays valid: it is bound to the item's key, which does
// not change.
func outboxMove(b, idx *bolt.Bucket, r *outboxRecord, due time.Time) error {
	r.Due = due
	r.Tries++
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := b.Put(r.ID.Bytes(), v); err != nil {
		return err
	}
	return idx.Put(outboxIndexKey(r.Priority, r.Due, r.ID), nil)
}

// outboxHead is the part of an outboxRecord that places it in the due
// index: decoding it skips the sealed payload.
type outboxHead struct {
	ID       paging.ID       `json:"id"`
	Due      time.Time       `json:"due"`
	Priority paging.Priority `json:"priority"`
}

// readOutboxHead decodes the head of a record, reading no further than
// its fields (written before the payload) unless they come later.
func readOutboxHead(v []byte) (outboxHead, error) {
	var h outboxHead
	dec := json.NewDecoder(bytes.NewReader(v))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return h, fmt.Errorf("not a JSON object")
	}
	const all = 7
	var seen int
	for seen != all && dec.More() {
		t, err := dec.Token()
		if err != nil {
			return h, err
		}
		var dst any = &json.RawMessage{} // not one of ours
		switch t {
		case "id":
			dst, seen = &h.ID, seen|1
		case "due":
			dst, seen = &h.Due, seen|2
		case "priority":
			dst, seen = &h.Priority, seen|4
		}
		if err := dec.Decode(dst); err != nil {
			return h, err
		}
	}
	if seen != all {
		return h, fmt.Errorf("id, due or priority missing")
	}
	return h, nil
}

// SentBatch removes every listed item in one commit; items that do not
// exist are skipped. It returns how many were removed.
func (s *Store) SentBatch(ctx context.Context, ids []paging.ID) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	var n int
	err := s.do(ctx, func(tx *txn) error {
		n = 0 // fn may run again
		b, idx := tx.Bucket(bucketOutbox), tx.Bucket(bucketOutboxDue)
		for _, id := range ids {
			v := b.Get(id.Bytes())
			if v == nil {
				continue
			}
			h, err := readOutboxHead(v)
			if err != nil {
				return fmt.Errorf("%w: outbox item %s: %v", ErrCorrupt, id, err)
			}
			if err := idx.Delete(outboxIndexKey(h.Priority, h.Due, h.ID)); err != nil {
				return err
			}
			if err := b.Delete(id.Bytes()); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sent batch: %w", err)
	}
	return n, nil
}
