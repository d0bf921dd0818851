package storage

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"pagebridge/gateway/paging"
)

// Due-time index keys.
//
//	timers.due: due (8) || id (16)
//	outbox.due: 0xFF-priority (1) || due (8) || id (16)
//
// due is the Unix time in nanoseconds with the sign bit flipped, big-endian,
// so byte order is time order. The inverted priority makes critical sort
// before high before normal.
func dueBytes(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano())^(1<<63))
}

func dueFrom(b []byte) time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(b)^(1<<63))).UTC()
}

func timerIndexKey(due time.Time, id paging.ID) []byte {
	return append(dueBytes(due), id[:]...)
}

func outboxIndexKey(p paging.Priority, due time.Time, id paging.ID) []byte {
	k := []byte{0xFF - byte(p)}
	k = append(k, dueBytes(due)...)
	return append(k, id[:]...)
}

// reindexDue rebuilds both due-time indexes from their primary buckets.
func reindexDue(tx *bolt.Tx) error {
	ti := tx.Bucket(bucketTimersDue)
	err := tx.Bucket(bucketTimers).ForEach(func(k, v []byte) error {
		var t paging.Timer
		if err := json.Unmarshal(v, &t); err != nil {
			return fmt.Errorf("%w: timer %x: %v", ErrCorrupt, k, err)
		}
		return ti.Put(timerIndexKey(t.Due, t.ID), nil)
	})
	if err != nil {
		return err
	}
	oi := tx.Bucket(bucketOutboxDue)
	return tx.Bucket(bucketOutbox).ForEach(func(k, v []byte) error {
		var r outboxRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("%w: outbox item %x: %v", ErrCorrupt, k, err)
		}
		return oi.Put(outboxIndexKey(r.Priority, r.Due, r.ID), nil)
	})
}

// Schedule stores t, replacing a timer with the same ID (which moves it).
// t needs an ID, a due time and a kind (paging.ErrInvalid otherwise).
func (s *Store) Schedule(ctx context.Context, t paging.Timer) error {
	put, err := prepareTimer(t)
	if err != nil {
		return fmt.Errorf("schedule: %w", err)
	}
	if err := s.do(ctx, put.write); err != nil {
		return fmt.Errorf("schedule %s: %w", t.ID, err)
	}
	return nil
}

// timerPut is a timer validated and encoded, to be written in the loop.
type timerPut struct {
	t paging.Timer
	v []byte
}

func prepareTimer(t paging.Timer) (timerPut, error) {
	switch {
	case t.ID == (paging.ID{}):
		return timerPut{}, fmt.Errorf("%w timer: no id", paging.ErrInvalid)
	case t.Due.IsZero():
		return timerPut{}, fmt.Errorf("%w timer %s: no due time", paging.ErrInvalid, t.ID)
	case t.Kind == "":
		return timerPut{}, fmt.Errorf("%w timer %s: no kind", paging.ErrInvalid, t.ID)
	}
	t.Due = t.Due.UTC()
	v, err := json.Marshal(t)
	if err != nil {
		return timerPut{}, err
	}
	return timerPut{t: t, v: v}, nil
}

// write stores the timer, replacing (moving) one with the same ID.
func (p timerPut) write(tx *txn) error {
	if err := deleteTimer(tx.Tx, p.t.ID); err != nil {
		return err
	}
	if err := tx.Bucket(bucketTimers).Put(p.t.ID.Bytes(), p.v); err != nil {
		return err
	}
	return tx.Bucket(bucketTimersDue).Put(timerIndexKey(p.t.Due, p.t.ID), nil)
}

func deleteTimer(tx *bolt.Tx, id paging.ID) error {
	b := tx.Bucket(bucketTimers)
	v := b.Get(id.Bytes())
	if v == nil {
		return nil
	}
	var old paging.Timer
	if err := json.Unmarshal(v, &old); err != nil {
		return fmt.Errorf("%w: timer %s: %v", ErrCorrupt, id, err)
	}
	if err := tx.Bucket(bucketTimersDue).Delete(timerIndexKey(old.Due, id)); err != nil {
		return err
	}
	return b.Delete(id.Bytes())
}

// Due returns up to limit timers due at or before now, earliest first.
func (s *Store) Due(ctx context.Context, now time.Time, limit int) ([]paging.Timer, error) {
	var out []paging.Timer
	end := dueBytes(now)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTimers)
		c := tx.Bucket(bucketTimersDue).Cursor()
		for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
			if string(k[:8]) > string(end) {
				break
			}
			v := b.Get(k[8:])
			if v == nil {
				return fmt.Errorf("%w: timer index points at missing timer %x", ErrCorrupt, k[8:])
			}
			var t paging.Timer
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("%w: timer %x: %v", ErrCorrupt, k[8:], err)
			}
			out = append(out, t)
		}
		return nil
	})
	return out, err
}

// Done removes the timer id; removing one that does not exist is not an
// error.
func (s *Store) Done(ctx context.Context, id paging.ID) error {
	err := s.do(ctx, func(tx *txn) error { return deleteTimer(tx.Tx, id) })
	if err != nil {
		return fmt.Errorf("timer %s done: %w", id, err)
	}
	return nil
}

// outboxRecord is an outbox item as stored, payload sealed.
type outboxRecord struct {
	ID       paging.ID       `json:"id"`
	Due      time.Time       `json:"due"`
	Priority paging.Priority `json:"priority"`
	Topic    string          `json:"topic"`
	Tries    int             `json:"tries"`
	Payload  []byte          `json:"payload"`
}

const fieldPayload = "payload"

// MaxPayloadLen bounds an outbox item's payload.
const MaxPayloadLen = 1 << 20

// Enqueue stores it with its payload sealed. Enqueuing an ID that is
// already queued changes nothing and returns nil (a retried enqueue); use
// Retry to move an item.
func (s *Store) Enqueue(ctx context.Context, it paging.OutboxItem) error {
	put, err := s.prepareOutbox(it)
	if err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}
	if err := s.do(ctx, put.write); err != nil {
		return fmt.Errorf("enqueue %s: %w", it.ID, err)
	}
	return nil
}

// outboxPut is an outbox item validated, sealed and encoded outside the
// commit loop, to be written inside it.
type outboxPut struct {
	key, value, index []byte
	dek               uint64
}

func (s *Store) prepareOutbox(it paging.OutboxItem) (outboxPut, error) {
	switch {
	case it.ID == (paging.ID{}):
		return outboxPut{}, fmt.Errorf("%w outbox item: no id", paging.ErrInvalid)
	case it.Due.IsZero():
		return outboxPut{}, fmt.Errorf("%w outbox item %s: no due time", paging.ErrInvalid, it.ID)
	case !it.Priority.Valid():
		return outboxPut{}, fmt.Errorf("%w outbox item %s: %v", paging.ErrInvalid, it.ID, it.Priority)
	case it.Topic == "":
		return outboxPut{}, fmt.Errorf("%w outbox item %s: no topic", paging.ErrInvalid, it.ID)
	case it.Payload.Len() > MaxPayloadLen:
		return outboxPut{}, fmt.Errorf("%w outbox item %s: payload longer than %d bytes", paging.ErrInvalid, it.ID, MaxPayloadLen)
	}
	rec := outboxRecord{ID: it.ID, Due: it.Due.UTC(), Priority: it.Priority, Topic: it.Topic, Tries: it.Tries}
	key := it.ID.Bytes()
	payload, err := s.sealer.seal(bucketOutbox, key, fieldPayload, []byte(it.Payload.Reveal()))
	if err != nil {
		return outboxPut{}, fmt.Errorf("outbox item %s: %w", it.ID, err)
	}
	rec.Payload = payload.value
	v, err := json.Marshal(&rec)
	if err != nil {
		return outboxPut{}, fmt.Errorf("outbox item %s: %w", it.ID, err)
	}
	return outboxPut{key: key, value: v, index: outboxIndexKey(rec.Priority, rec.Due, rec.ID), dek: payload.dek}, nil
}

// write stores the item unless its ID is already there.
func (p outboxPut) write(tx *txn) error {
	b := tx.Bucket(bucketOutbox)
	if b.Get(p.key) != nil {
		return nil
	}
	if err := tx.s.sealer.store(tx, p.dek); err != nil {
		return err
	}
	if err := b.Put(p.key, p.value); err != nil {
		return err
	}
	return tx.Bucket(bucketOutboxDue).Put(p.index, nil)
}

// DueOutbox returns up to limit items due at or before now, critical
// first, then high, then normal, earliest first within a tier, with their
// payloads unsealed.
func (s *Store) DueOutbox(ctx context.Context, now time.Time, limit int) ([]paging.OutboxItem, error) {
	return s.DueOutboxExcept(ctx, now, limit, nil)
}

// DueOutboxExcept is DueOutbox passing over the items skip names (nil
// skips none): a sender that has published items and waits for their
// acknowledgement keeps them in memory and asks for the rest, with no
// write to defer them. Skipped items cost an index step, not an unseal.
func (s *Store) DueOutboxExcept(ctx context.Context, now time.Time, limit int, skip func(paging.ID) bool) ([]paging.OutboxItem, error) {
	var out []paging.OutboxItem
	end := dueBytes(now)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		c := tx.Bucket(bucketOutboxDue).Cursor()
		k, _ := c.First()
		for k != nil && len(out) < limit {
			if string(k[1:9]) > string(end) {
				// Nothing more due in this tier: skip to the next one.
				if k[0] == 0xFF {
					break
				}
				k, _ = c.Seek([]byte{k[0] + 1})
				continue
			}
			id := k[9:]
			if skip != nil && len(id) == len(paging.ID{}) && skip(paging.ID(id)) {
				k, _ = c.Next()
				continue
			}
			v := b.Get(id)
			if v == nil {
				return fmt.Errorf("%w: outbox index points at missing item %x", ErrCorrupt, id)
			}
			it, err := s.decodeOutbox(id, v)
			if err != nil {
				return err
			}
			out = append(out, it)
			k, _ = c.Next()
		}
		return nil
	})
	return out, err
}

func (s *Store) decodeOutbox(key, v []byte) (paging.OutboxItem, error) {
	var r outboxRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return paging.OutboxItem{}, fmt.Errorf("%w: outbox item %x: %v", ErrCorrupt, key, err)
	}
	p, err := s.sealer.open(bucketOutbox, key, fieldPayload, r.Payload)
	if err != nil {
		return paging.OutboxItem{}, err
	}
	return paging.OutboxItem{ID: r.ID, Due: r.Due, Priority: r.Priority, Topic: r.Topic,
		Payload: paging.NewPHI(string(p)), Tries: r.Tries}, nil
}

// Retry moves item id to due and counts a failed try. paging.ErrNotFound
// if there is no such item.
func (s *Store) Retry(ctx context.Context, id paging.ID, due time.Time) error {
	if due.IsZero() {
		return fmt.Errorf("retry %s: %w: no due time", id, paging.ErrInvalid)
	}
	due = due.UTC()
	err := s.do(ctx, func(tx *txn) error {
		b, idx := tx.Bucket(bucketOutbox), tx.Bucket(bucketOutboxDue)
		r, err := outboxGet(b, idx, id)
		if err != nil {
			return err
		}
		if r == nil {
			return paging.ErrNotFound
		}
		return outboxMove(b, idx, r, due)
	})
	if err != nil {
		return fmt.Errorf("retry %s: %w", id, err)
	}
	return nil
}

// Sent removes item id; removing one that does not exist is not an error.
func (s *Store) Sent(ctx context.Context, id paging.ID) error {
	_, err := s.SentBatch(ctx, []paging.ID{id})
	if err != nil {
		return fmt.Errorf("sent %s: %w", id, err)
	}
	return nil
}
