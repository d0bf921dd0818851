package storage

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Keys of things the gateway has handled once and must not handle again
// when they come again (an agent re-sends what it did not see acknowledged):
// an SMS received, say. The bucket is created by the first write, so it
// needs no schema step; until then Seen finds nothing.
var bucketSeen = []byte("seen")

func seenKeyOf(scope, key string) []byte { return []byte(scope + "\x00" + key) }

// Seen reports whether key was marked in scope.
func (s *Store) Seen(ctx context.Context, scope, key string) (bool, error) {
	var seen bool
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketSeen); b != nil {
			seen = b.Get(seenKeyOf(scope, key)) != nil
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("seen %s: %w", scope, err)
	}
	return seen, nil
}

// MarkSeen marks key in scope as handled, with the time (for pruning).
func (s *Store) MarkSeen(ctx context.Context, scope, key string) error {
	at := []byte(s.now().UTC().Format(time.RFC3339))
	err := s.do(ctx, func(tx *txn) error {
		b, err := tx.CreateBucketIfNotExists(bucketSeen)
		if err != nil {
			return err
		}
		return b.Put(seenKeyOf(scope, key), at)
	})
	if err != nil {
		return fmt.Errorf("mark seen %s: %w", scope, err)
	}
	return nil
}
