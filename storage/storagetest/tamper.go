package storagetest

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"

	"pagebridge/storage"
)

// Tamper is an edit of the audit chain, as TamperAudit makes it.
type Tamper int

const (
	// TamperModify changes the Detail of entry seq.
	TamperModify Tamper = iota
	// TamperDelete removes entry seq and renumbers the entries after it
	// down by one, so that the seqs run on without a gap.
	TamperDelete
	// TamperSwap exchanges entries seq and seq+1, each taking the other's
	// seq.
	TamperSwap
	// TamperTruncate removes entry seq and every entry after it.
	TamperTruncate
)

func (t Tamper) String() string {
	switch t {
	case TamperModify:
		return "modify"
	case TamperDelete:
		return "delete"
	case TamperSwap:
		return "swap"
	case TamperTruncate:
		return "truncate"
	}
	return fmt.Sprintf("Tamper(%d)", int(t))
}

// Where storage keeps the chain (storage/schema.go); the layout is part of
// the file format, so these do not change.
var (
	bucketAudit   = []byte("audit")
	bucketMeta    = []byte("meta")
	metaAuditHead = []byte("audit.head")
)

// ErrTamper means TamperAudit was asked for an edit it cannot make, or for
// one the file alone could not show.
var ErrTamper = errors.New("tamper audit")

// TamperAudit edits the audit chain of the closed database at path as an
// attacker without the audit key could, and returns the seq that
// storage.VerifyAuditFile must name in its *storage.AuditError.
//
// After the edit it makes the chain as consistent as it can be made
// without the key: every entry from seq on gets its seq by slot, its
// prev link and its hash recomputed (storage.ChainHash), and the head
// record gets the new last seq and hash. The MACs of those entries and of
// the head stay as they were, since redoing them needs the key; that is
// what verification finds:
//
//   - modify, swap, and delete of an entry before the last: entry seq's
//     MAC, so want is seq;
//   - truncate at seq, and delete of the last entry (a truncation of one):
//     the head's MAC, and the head now claims seq-1, so want is seq-1.
//
// The chain must keep at least one entry: an attacker who empties it and
// deletes the head leaves a file that verifies, which only a head logged
// elsewhere shows (see the storage package's caveats); TamperAudit
// refuses that with ErrTamper, as it does a seq outside the chain (for
// TamperSwap, seq+1 must be in it too).
//
// It opens the file with bbolt directly and fails (bbolt's timeout, after
// a second) while a store has it open. Work on a copy: the edit is in
// place.
func TamperAudit(path string, how Tamper, seq uint64) (want uint64, err error) {
	if _, err := os.Stat(path); err != nil { // bolt.Open would create it
		return 0, fmt.Errorf("%w: %w", ErrTamper, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %w", ErrTamper, path, err)
	}
	defer func() {
		if cerr := db.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("%w: %w", ErrTamper, cerr)
		}
	}()
	err = db.Update(func(tx *bolt.Tx) error {
		want, err = tamper(tx, how, seq)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("%w: %s %d: %w", ErrTamper, how, seq, err)
	}
	return want, nil
}

func tamper(tx *bolt.Tx, how Tamper, seq uint64) (uint64, error) {
	audit, meta := tx.Bucket(bucketAudit), tx.Bucket(bucketMeta)
	if audit == nil || meta == nil {
		return 0, errors.New("no audit chain in the file")
	}
	c := audit.Cursor()
	fk, _ := c.First()
	lk, _ := c.Last()
	if fk == nil {
		return 0, errors.New("the chain has no entries")
	}
	first, last := binary.BigEndian.Uint64(fk), binary.BigEndian.Uint64(lk)
	if seq < first || seq > last {
		return 0, fmt.Errorf("seq outside the chain (%d to %d)", first, last)
	}
	switch how {
	case TamperModify:
	case TamperDelete:
		if first == last {
			return 0, errors.New("deleting the only entry empties the chain")
		}
	case TamperSwap:
		if seq == last {
			return 0, fmt.Errorf("no entry after %d to swap with", seq)
		}
	case TamperTruncate:
		if seq == first {
			return 0, errors.New("truncating at the first entry empties the chain")
		}
	default:
		return 0, fmt.Errorf("unknown edit %d", int(how))
	}

	// The entries from seq on, which the edit moves or changes.
	var tail []storage.AuditEntry
	for k, v := c.Seek(be64(seq)); k != nil; k, v = c.Next() {
		var e storage.AuditEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return 0, fmt.Errorf("entry %x: %w", k, err)
		}
		tail = append(tail, e)
	}
	if uint64(len(tail)) != last-seq+1 {
		return 0, fmt.Errorf("the chain has gaps after %d already", seq)
	}
	prev := tail[0].Prev // the link into the edited part stays genuine
	want := seq
	switch how {
	case TamperModify:
		tail[0].Detail += " (altered)"
	case TamperDelete:
		tail = tail[1:]
		if len(tail) == 0 {
			want = seq - 1
		}
	case TamperSwap:
		tail[0], tail[1] = tail[1], tail[0]
	case TamperTruncate:
		tail, want = nil, seq-1
	}

	for s := seq; s <= last; s++ {
		if err := audit.Delete(be64(s)); err != nil {
			return 0, err
		}
	}
	for i := range tail {
		e := &tail[i]
		e.Seq = seq + uint64(i)
		h, err := storage.ChainHash(prev, e)
		if err != nil {
			return 0, err
		}
		e.Prev, e.Hash = prev, h
		prev = h
		v, err := json.Marshal(e)
		if err != nil {
			return 0, err
		}
		if err := audit.Put(be64(e.Seq), v); err != nil {
			return 0, err
		}
	}

	// The head: new seq and hash, old MAC (and time).
	raw := meta.Get(metaAuditHead)
	if raw == nil {
		return 0, errors.New("no head record")
	}
	var h storage.ChainHead
	if err := json.Unmarshal(raw, &h); err != nil {
		return 0, fmt.Errorf("head: %w", err)
	}
	h.Seq, h.Hash = seq+uint64(len(tail))-1, prev
	v, err := json.Marshal(h)
	if err != nil {
		return 0, err
	}
	if err := meta.Put(metaAuditHead, v); err != nil {
		return 0, err
	}
	return want, nil
}

func be64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }
