package storage

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Sealed value layout:
//
//	byte 0      format version (sealVersion)
//	bytes 1-8   data key ID, big-endian
//	bytes 9-20  GCM nonce (random)
//	bytes 21-   ciphertext and tag
//
// The additional data binds the value to its bucket, its key and the field
// within the record, and covers the header, so a sealed value copied to
// another record, or another field, does not open.
const (
	sealVersion   = 1
	sealHeaderLen = 1 + 8
	nonceLen      = 12
)

// defaultSealLimit is how many values one data key seals before a new one
// is made. Random 96-bit nonces stay far below the 2^32 bound NIST gives for
// one GCM key.
const defaultSealLimit = 1 << 20

// sealer seals and opens PHI with data keys (DEKs) kept in the keys bucket,
// wrapped by the keyring's active KEK.
//
// Callers seal before they queue their write, in their own goroutine, so
// the commit loop does no encryption. A data key made for that is
// "pending" until a transaction stores it: every write op whose value was
// sealed with a pending key calls store in its own transaction, so a value
// never commits without its key.
type sealer struct {
	limit uint64
	now   func() time.Time
	keys  *atomic.Pointer[Keyring]

	mu      sync.RWMutex
	deks    map[uint64]cipher.AEAD // every key known, stored or pending
	pending map[uint64]pendingDEK  // made, not yet stored
	cur     uint64                 // the key sealing now; 0: none yet
	count   uint64                 // values sealed with cur
	nextID  uint64
}

type pendingDEK struct {
	raw     []byte
	created time.Time
}

func newSealer(keys *atomic.Pointer[Keyring], now func() time.Time, limit uint64) *sealer {
	return &sealer{limit: limit, now: now, keys: keys,
		deks: make(map[uint64]cipher.AEAD), pending: make(map[uint64]pendingDEK), nextID: 1}
}

// load unwraps every data key in the keys bucket. A key the keyring cannot
// unwrap means the wrong key file: ErrWrongKey.
func (s *sealer) load(tx *bolt.Tx) error {
	b := tx.Bucket(bucketKeys)
	if b == nil {
		return nil
	}
	deks, err := unwrapAll(b, s.keys.Load())
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, dek := range deks {
		aead, err := newAEAD(dek)
		if err != nil {
			return err
		}
		s.deks[id] = aead
		s.nextID = max(s.nextID, id+1)
	}
	return nil
}

// unwrapAll unwraps every data key in b with kr.
func unwrapAll(b *bolt.Bucket, kr *Keyring) (map[uint64][]byte, error) {
	out := make(map[uint64][]byte)
	err := b.ForEach(func(k, v []byte) error {
		if len(k) != 8 {
			return fmt.Errorf("%w: keys bucket: key of %d bytes", ErrCorrupt, len(k))
		}
		id := binary.BigEndian.Uint64(k)
		var r dekRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("%w: data key %d: %v", ErrCorrupt, id, err)
		}
		dek, err := kr.unwrap(id, r)
		if err != nil {
			return err
		}
		out[id] = dek
		return nil
	})
	return out, err
}

// roll makes a new pending data key the one that seals. Call with mu held.
func (s *sealer) rollLocked() error {
	raw := randomKey()
	aead, err := newAEAD(raw)
	if err != nil {
		return err
	}
	id := s.nextID
	s.nextID++
	s.deks[id] = aead
	s.pending[id] = pendingDEK{raw: raw, created: s.now().UTC()}
	s.cur, s.count = id, 0
	return nil
}

// roll makes a new data key the one that seals (one per Open).
func (s *sealer) roll() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.rollLocked(); err != nil {
		return 0, err
	}
	return s.cur, nil
}

// store puts data key id in the transaction if it is still pending,
// wrapped under the keyring's active KEK as it is now. It is forgotten as
// pending only when the transaction commits.
func (s *sealer) store(t *txn, id uint64) error {
	if t.dekStored[id] {
		return nil
	}
	s.mu.RLock()
	p, ok := s.pending[id]
	s.mu.RUnlock()
	if !ok {
		return nil
	}
	v, err := json.Marshal(s.keys.Load().wrap(id, p.raw, p.created))
	if err != nil {
		return err
	}
	if err := t.Bucket(bucketKeys).Put(be64(id), v); err != nil {
		return err
	}
	if t.dekStored == nil {
		t.dekStored = make(map[uint64]bool)
	}
	t.dekStored[id] = true
	t.OnCommit(func() {
		s.mu.Lock()
		delete(s.pending, id)
		s.mu.Unlock()
	})
	return nil
}

// sealed is a value sealed outside the transaction, with the data key the
// transaction must store along with it.
type sealed struct {
	value []byte
	dek   uint64
}

// seal encrypts plain for field of the record at bucket/key.
func (s *sealer) seal(bucket, key []byte, field string, plain []byte) (sealed, error) {
	s.mu.Lock()
	if s.cur == 0 || s.count >= s.limit {
		if err := s.rollLocked(); err != nil {
			s.mu.Unlock()
			return sealed{}, fmt.Errorf("new data key: %w", err)
		}
	}
	s.count++
	id, aead := s.cur, s.deks[s.cur]
	s.mu.Unlock()

	out := make([]byte, sealHeaderLen+nonceLen, sealHeaderLen+nonceLen+len(plain)+aead.Overhead())
	out[0] = sealVersion
	binary.BigEndian.PutUint64(out[1:9], id)
	nonce := out[sealHeaderLen:]
	rand.Read(nonce)
	return sealed{value: aead.Seal(out, nonce, plain, sealAAD(bucket, key, field, out[:sealHeaderLen])), dek: id}, nil
}

// open decrypts a value sealed by seal for the same bucket, key and field.
func (s *sealer) open(bucket, key []byte, field string, value []byte) ([]byte, error) {
	if len(value) < sealHeaderLen+nonceLen+16 {
		return nil, fmt.Errorf("%w: %s/%x %s: sealed value too short", ErrCorrupt, bucket, key, field)
	}
	if value[0] != sealVersion {
		return nil, fmt.Errorf("%w: %s/%x %s: unknown seal format %d", ErrCorrupt, bucket, key, field, value[0])
	}
	id := binary.BigEndian.Uint64(value[1:9])
	s.mu.RLock()
	aead := s.deks[id]
	s.mu.RUnlock()
	if aead == nil {
		return nil, fmt.Errorf("%w: %s/%x %s: data key %d is missing", ErrCorrupt, bucket, key, field, id)
	}
	nonce := value[sealHeaderLen : sealHeaderLen+nonceLen]
	plain, err := aead.Open(nil, nonce, value[sealHeaderLen+nonceLen:], sealAAD(bucket, key, field, value[:sealHeaderLen]))
	if err != nil {
		return nil, fmt.Errorf("%w: %s/%x %s: sealed value does not authenticate (altered, or moved from another record)", ErrCorrupt, bucket, key, field)
	}
	return plain, nil
}

// sealAAD encodes bucket, key, field and header unambiguously (each
// length-prefixed).
func sealAAD(bucket, key []byte, field string, header []byte) []byte {
	aad := make([]byte, 0, 32+len(bucket)+len(key)+len(field)+len(header))
	aad = append(aad, "pagebridge-seal-v1\x00"...)
	for _, p := range [][]byte{bucket, key, []byte(field), header} {
		aad = binary.BigEndian.AppendUint32(aad, uint32(len(p)))
		aad = append(aad, p...)
	}
	return aad
}

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
