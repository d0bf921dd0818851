package storage

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"pagebridge/gateway/paging"
)

// RotateKEK replaces the key-encryption key of the store s, whose key file
// is keyPath, and returns the new key's ID. The data keys stay; only their
// wrapping changes, so no message is re-encrypted.
//
// The steps, each of which leaves a usable state if the process dies after
// it:
//
//  1. Load keyPath, add a new random KEK and make it active, and write the
//     file with both keys (atomically). A crash now: the database is still
//     under the old key, which the file still holds.
//  2. In one transaction through the commit loop, re-wrap every data key
//     under the new KEK, with a "keys.rotate" audit entry. A crash now: the
//     database is under the new key, which the file holds.
//  3. Write the file with only the new key. The old key file no longer
//     opens the database.
//
// If keyPath already holds more than one key (a rotation that stopped
// after step 1 or 2), RotateKEK finishes that rotation, towards the file's
// active key, instead of adding another: run it again after a crash.
//
// Backups taken before the rotation still need the old key: keep it in
// escrow as long as those backups are kept.
func RotateKEK(ctx context.Context, s *Store, keyPath string) (string, error) {
	kr, err := LoadKeyring(keyPath)
	if err != nil {
		return "", fmt.Errorf("rotate keys: %w", err)
	}
	// The file must be this database's: it must unwrap every data key.
	err = s.view(ctx, func(tx *bolt.Tx) error {
		_, err := unwrapAll(tx.Bucket(bucketKeys), kr)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("rotate keys: %s: %w", keyPath, err)
	}
	if len(kr.keys) == 1 {
		if kr, err = kr.withNewKey(); err != nil {
			return "", fmt.Errorf("rotate keys: %w", err)
		}
		if err := writeKeyring(keyPath, kr, true); err != nil {
			return "", fmt.Errorf("rotate keys: write key file with old and new key: %w", err)
		}
	}
	by := paging.AuditEvent{Actor: "system", Source: "keys rotate"}
	if err := s.rewrap(ctx, kr, by); err != nil {
		return "", fmt.Errorf("rotate keys: %w (key file %s holds old and new key; run the rotation again)", err, keyPath)
	}
	final := kr.onlyActive()
	if err := writeKeyring(keyPath, final, true); err != nil {
		return "", fmt.Errorf("rotate keys: write key file with the new key only: %w (database is under the new key; run the rotation again)", err)
	}
	s.keys.Store(final)
	return final.active, nil
}

// rewrap wraps every data key under kr's active KEK, in one transaction,
// and makes kr the store's keyring. kr must hold every KEK the data keys
// are wrapped under now.
func (s *Store) rewrap(ctx context.Context, kr *Keyring, by paging.AuditEvent) error {
	by.Action, by.Object = "keys.rotate", "keys"
	at := s.now()
	return s.do(ctx, func(tx *txn) error {
		b := tx.Bucket(bucketKeys)
		deks, err := unwrapAll(b, kr)
		if err != nil {
			return err
		}
		for id, dek := range deks {
			var old dekRecord
			if err := json.Unmarshal(b.Get(be64(id)), &old); err != nil {
				return fmt.Errorf("%w: data key %d: %v", ErrCorrupt, id, err)
			}
			v, err := json.Marshal(kr.wrap(id, dek, old.Created))
			if err != nil {
				return err
			}
			if err := b.Put(binary.BigEndian.AppendUint64(nil, id), v); err != nil {
				return err
			}
		}
		// New data keys are wrapped under the new KEK from now on, even
		// later in this same batch. Should the batch roll back, that is
		// still safe: kr holds the old key too, and so does the file.
		s.keys.Store(kr)
		ev := by
		ev.Detail = fmt.Sprintf("%d data keys wrapped under %s", len(deks), kr.active)
		return tx.appendAudit(draftAudit(at, ev))
	})
}
