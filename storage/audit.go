package storage

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"pagebridge/gateway/paging"
)

// AuditEntry is one record of the audit chain.
//
//	hash = SHA-256(prev || canonical(seq, time, actor, action, object, source, detail))
//	mac  = HMAC-SHA256(audit key, "pagebridge-audit-entry-v1" || seq || hash)
//
// canonical is a length-prefixed encoding (see entryHash); prev is the
// previous entry's hash (32 zero bytes before the first entry).
type AuditEntry struct {
	Seq uint64 `json:"seq"`
	// Time is UTC, RFC 3339 with nanoseconds, exactly as hashed.
	Time   string `json:"time"`
	Actor  string `json:"actor"`
	Action string `json:"action"`
	Object string `json:"object"`
	Source string `json:"source,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Prev, Hash and MAC are lower-case hex.
	Prev string `json:"prev"`
	Hash string `json:"hash"`
	MAC  string `json:"mac"`
}

// Event returns the entry's event fields.
func (e *AuditEntry) Event() paging.AuditEvent {
	return paging.AuditEvent{Actor: e.Actor, Action: e.Action, Object: e.Object, Source: e.Source, Detail: e.Detail}
}

// At parses the entry's time.
func (e *AuditEntry) At() (time.Time, error) { return time.Parse(time.RFC3339Nano, e.Time) }

// ChainHead is the signed head of the audit chain, kept in the meta bucket:
// the last entry's seq and hash, with
//
//	mac = HMAC-SHA256(audit key, "pagebridge-audit-head-v1" || seq || hash)
//
// The prefix differs from an entry's, so an entry's MAC cannot pass as a
// head's.
type ChainHead struct {
	Seq  uint64    `json:"seq"`
	Hash string    `json:"hash"`
	Time time.Time `json:"time"`
	MAC  string    `json:"mac"`
}

// ChainAnchor records where a pruned chain now starts: the first seq kept
// and the hash of the last entry deleted, with
//
//	mac = HMAC-SHA256(audit key, "pagebridge-audit-anchor-v1" || first || prev)
type ChainAnchor struct {
	First  uint64    `json:"first"`
	Prev   string    `json:"prev"`
	Pruned time.Time `json:"pruned"`
	MAC    string    `json:"mac"`
}

// Domain separation prefixes for the three MACs and the key check.
const (
	macEntry    = "pagebridge-audit-entry-v1\x00"
	macHead     = "pagebridge-audit-head-v1\x00"
	macAnchor   = "pagebridge-audit-anchor-v1\x00"
	macKeyCheck = "pagebridge-audit-keycheck-v1\x00"
)

// Limits on audit fields. Longer values are cut (at a rune boundary), not
// refused: an accept must not fail because a sender's name is long.
const (
	maxAuditField  = 256
	maxAuditDetail = 1024
)

var zeroHash = make([]byte, sha256.Size)

func auditMAC(key []byte, domain string, seq uint64, h []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(domain))
	m.Write(be64(seq))
	m.Write(h)
	return m.Sum(nil)
}

func auditKeyCheck(key []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(macKeyCheck))
	return m.Sum(nil)
}

// canonicalFields is the length-prefixed encoding of an entry's fields
// after its seq: time, actor, action, object, source, detail.
func canonicalFields(e *AuditEntry) []byte {
	var buf []byte
	for _, f := range []string{e.Time, e.Actor, e.Action, e.Object, e.Source, e.Detail} {
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(f)))
		buf = append(buf, f...)
	}
	return buf
}

// entryHash is SHA-256(prev || "pagebridge-audit-v1" 0 || seq || fields).
func entryHash(prev []byte, seq uint64, fields []byte) []byte {
	h := sha256.New()
	h.Write(prev)
	h.Write([]byte("pagebridge-audit-v1\x00"))
	h.Write(be64(seq))
	h.Write(fields)
	return h.Sum(nil)
}

// ChainHash returns the hash the chain holds for e when the entry before
// it has hash prev (lower-case hex, as in AuditEntry.Prev; for the first
// entry, 64 zeros or the prune anchor's Prev): SHA-256 over prev, e.Seq
// and e's fields, ignoring e.Prev, e.Hash and e.MAC. Verification
// recomputes it and compares it with e.Hash.
//
// It needs no key: anyone can recompute the hashes of a chain they have
// edited. What they cannot redo is the MACs, and that is what shows the
// edit. Tools that stage such an edit (storagetest.TamperAudit) use it.
func ChainHash(prev string, e *AuditEntry) (string, error) {
	p, err := hex.DecodeString(prev)
	if err != nil || len(p) != sha256.Size {
		return "", fmt.Errorf("chain hash of entry %d: prev %q is not a hex SHA-256", e.Seq, prev)
	}
	return hex.EncodeToString(entryHash(p, e.Seq, canonicalFields(e))), nil
}

func (h ChainHead) valid(key []byte) bool {
	raw, err := hex.DecodeString(h.Hash)
	if err != nil {
		return false
	}
	mac, err := hex.DecodeString(h.MAC)
	return err == nil && hmac.Equal(mac, auditMAC(key, macHead, h.Seq, raw))
}

func (a ChainAnchor) valid(key []byte) bool {
	raw, err := hex.DecodeString(a.Prev)
	if err != nil {
		return false
	}
	mac, err := hex.DecodeString(a.MAC)
	return err == nil && hmac.Equal(mac, auditMAC(key, macAnchor, a.First, raw))
}

func readHead(meta *bolt.Bucket) (ChainHead, error) {
	var h ChainHead
	v := meta.Get(metaAuditHead)
	if v == nil {
		return h, nil
	}
	if err := json.Unmarshal(v, &h); err != nil {
		return h, fmt.Errorf("%w: audit head: %v", ErrCorrupt, err)
	}
	return h, nil
}

func readAnchor(meta *bolt.Bucket) (*ChainAnchor, error) {
	v := meta.Get(metaAuditAnchor)
	if v == nil {
		return nil, nil
	}
	var a ChainAnchor
	if err := json.Unmarshal(v, &a); err != nil {
		return nil, fmt.Errorf("%w: audit anchor: %v", ErrCorrupt, err)
	}
	return &a, nil
}

// clip makes s valid UTF-8 and at most n bytes, so that what is hashed is
// exactly what JSON stores and reads back.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func normalizeEvent(ev paging.AuditEvent) paging.AuditEvent {
	ev.Actor = clip(ev.Actor, maxAuditField)
	ev.Action = clip(ev.Action, maxAuditField)
	ev.Object = clip(ev.Object, maxAuditField)
	ev.Source = clip(ev.Source, maxAuditField)
	ev.Detail = clip(ev.Detail, maxAuditDetail)
	if ev.Actor == "" {
		ev.Actor = "system"
	}
	return ev
}

// auditDraft is an audit entry prepared outside the transaction: all but
// its place in the chain.
type auditDraft struct {
	e      AuditEntry
	at     time.Time
	fields []byte
}

// draftAudit prepares an entry for ev at time at; it normalizes ev.
func draftAudit(at time.Time, ev paging.AuditEvent) auditDraft {
	ev = normalizeEvent(ev)
	at = at.UTC()
	d := auditDraft{at: at, e: AuditEntry{
		Time:   at.Format(time.RFC3339Nano),
		Actor:  ev.Actor,
		Action: ev.Action,
		Object: ev.Object,
		Source: ev.Source,
		Detail: ev.Detail,
	}}
	d.fields = canonicalFields(&d.e)
	return d
}

// loadHead reads where the chain goes on, once per transaction.
func (t *txn) loadHead() error {
	if t.headLoaded {
		return nil
	}
	meta := t.Bucket(bucketMeta)
	head, err := readHead(meta)
	if err != nil {
		return err
	}
	switch {
	case head.Seq > 0:
		t.nextSeq = head.Seq + 1
		if t.prev, err = hex.DecodeString(head.Hash); err != nil || len(t.prev) != sha256.Size {
			return fmt.Errorf("%w: audit head hash", ErrCorrupt)
		}
	default:
		a, err := readAnchor(meta)
		if err != nil {
			return err
		}
		t.nextSeq, t.prev = 1, zeroHash
		if a != nil { // everything was pruned: go on from the anchor
			t.nextSeq = a.First
			if t.prev, err = hex.DecodeString(a.Prev); err != nil {
				return fmt.Errorf("%w: audit anchor hash", ErrCorrupt)
			}
		}
	}
	t.headLoaded = true
	return nil
}

// appendAudit adds d to the chain inside the transaction; the head is
// written once, when the transaction's ops are done (txn.finish).
func (t *txn) appendAudit(d auditDraft) error {
	if err := t.loadHead(); err != nil {
		return err
	}
	e := d.e
	e.Seq = t.nextSeq
	e.Prev = hex.EncodeToString(t.prev)
	h := entryHash(t.prev, e.Seq, d.fields)
	e.Hash = hex.EncodeToString(h)
	e.MAC = hex.EncodeToString(auditMAC(t.s.auditKey, macEntry, e.Seq, h))
	v, err := json.Marshal(&e)
	if err != nil {
		return err
	}
	if err := t.Bucket(bucketAudit).Put(be64(e.Seq), v); err != nil {
		return err
	}
	t.headTime = d.at
	t.nextSeq, t.prev, t.headDirty = e.Seq+1, h, true
	return nil
}

// Audit appends ev to the audit chain at time at (now, if zero). It returns
// nil once the entry is committed; an error wrapping paging.ErrTemporary
// means it was not. ev.Action is required; over-long fields are cut.
func (s *Store) Audit(ctx context.Context, at time.Time, ev paging.AuditEvent) error {
	if ev.Action == "" {
		return fmt.Errorf("audit: %w event: no action", paging.ErrInvalid)
	}
	if at.IsZero() {
		at = s.now()
	}
	d := draftAudit(at, ev)
	return s.do(ctx, func(t *txn) error { return t.appendAudit(d) })
}

// AuditHead returns the last committed head of the audit chain (Seq 0 for
// an empty chain), for the gateway to write to the system log now and
// then: someone who later rewrites or truncates the chain cannot take back
// a head already logged elsewhere.
func (s *Store) AuditHead() ChainHead {
	s.headMu.Lock()
	defer s.headMu.Unlock()
	return s.head
}

// AuditEntries returns up to limit entries from seq from on, in order.
func (s *Store) AuditEntries(ctx context.Context, from uint64, limit int) ([]AuditEntry, error) {
	var out []AuditEntry
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		for k, v := c.Seek(be64(from)); k != nil && len(out) < limit; k, v = c.Next() {
			var e AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("%w: audit entry %x: %v", ErrCorrupt, k, err)
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// VerifyReport is what a successful verification saw.
type VerifyReport struct {
	// Entries is the number of entries checked.
	Entries uint64
	// First is the seq of the first entry kept (1 unless pruned).
	First uint64
	// Head is the verified head; Seq 0 for an empty chain.
	Head ChainHead
	// Anchor is set when the chain was pruned.
	Anchor *ChainAnchor
}

// String summarises the report in one line.
func (r VerifyReport) String() string {
	if r.Head.Seq == 0 {
		return "empty chain"
	}
	s := fmt.Sprintf("%d entries, seq %d to %d, head hash %s", r.Entries, r.First, r.Head.Seq, r.Head.Hash)
	if r.Anchor != nil {
		s += fmt.Sprintf(" (pruned before %d on %s)", r.Anchor.First, r.Anchor.Pruned.Format(time.DateOnly))
	}
	return s
}

// VerifyAudit checks the whole chain in one read transaction: every
// entry's seq, link, hash and MAC, the prune anchor, and the head. It
// returns a *AuditError naming the first place that fails.
//
// What it cannot see: an attacker with a copy of an older, genuine file
// can put back an older chain with its signed head (a replay). Compare the
// head with the ones logged to the system log (AuditHead).
func (s *Store) VerifyAudit(ctx context.Context) (VerifyReport, error) {
	var r VerifyReport
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		r, err = verifyChain(ctx, tx, s.auditKey)
		return err
	})
	return r, err
}

// VerifyAuditFile verifies the audit chain of the database file at path,
// opened read-only; no KEK is needed. It fails with ErrLocked while the
// daemon holds the file: use the daemon's admin socket then.
func VerifyAuditFile(ctx context.Context, path string, auditKey []byte) (VerifyReport, error) {
	var r VerifyReport
	db, err := openReadOnly(path)
	if err != nil {
		return r, fmt.Errorf("verify audit: %w", err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		if _, err := storeLayout.check(tx); err != nil {
			return err
		}
		if tx.Bucket(bucketAudit) == nil {
			return fmt.Errorf("%w: %s has no audit bucket", ErrNotDatabase, path)
		}
		r, err = verifyChain(ctx, tx, auditKey)
		return err
	})
	return r, err
}

// readOnlyTimeout bounds the wait for a shared lock on a file the daemon
// may hold: the tools that open files read-only say ErrLocked quickly.
const readOnlyTimeout = 500 * time.Millisecond

func openReadOnly(path string) (*bolt.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	return openBolt(path, readOnlyTimeout, true)
}

// actionHeadInvalid is the audit action Open records when it finds the
// head forged. Verify reports a chain holding one as broken.
const actionHeadInvalid = "audit.head.invalid"

func verifyChain(ctx context.Context, tx *bolt.Tx, key []byte) (VerifyReport, error) {
	var r VerifyReport
	if err := checkAuditKey(tx, key); err != nil {
		return r, err
	}
	meta := tx.Bucket(bucketMeta)
	head, err := readHead(meta)
	if err != nil {
		return r, err
	}
	anchor, err := readAnchor(meta)
	if err != nil {
		return r, err
	}
	want, prev := uint64(1), zeroHash
	if anchor != nil {
		if !anchor.valid(key) {
			return r, &AuditError{Seq: anchor.First, Reason: "prune anchor MAC does not verify (anchor forged)"}
		}
		want = anchor.First
		if prev, err = hex.DecodeString(anchor.Prev); err != nil {
			return r, &AuditError{Seq: anchor.First, Reason: "prune anchor hash unreadable"}
		}
		r.Anchor = anchor
	}
	r.First = want
	c := tx.Bucket(bucketAudit).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if r.Entries%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return r, err
			}
		}
		if len(k) != 8 {
			return r, &AuditError{Seq: want, Reason: fmt.Sprintf("stray key %x in the audit bucket", k)}
		}
		seq := binary.BigEndian.Uint64(k)
		switch {
		case seq < want:
			return r, &AuditError{Seq: seq, Reason: fmt.Sprintf("entry %d lies before the chain's start %d (inserted?)", seq, want)}
		case seq > want:
			return r, &AuditError{Seq: want, Reason: fmt.Sprintf("entry %d missing (next present is %d)", want, seq)}
		}
		var e AuditEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return r, &AuditError{Seq: seq, Reason: "entry unreadable: " + err.Error()}
		}
		if e.Seq != seq {
			return r, &AuditError{Seq: seq, Reason: fmt.Sprintf("slot %d holds entry %d (entries moved or swapped)", seq, e.Seq)}
		}
		if e.Prev != hex.EncodeToString(prev) {
			return r, &AuditError{Seq: seq, Reason: fmt.Sprintf("prev does not match the hash of entry %d (chain relinked)", seq-1)}
		}
		h := entryHash(prev, seq, canonicalFields(&e))
		if e.Hash != hex.EncodeToString(h) {
			return r, &AuditError{Seq: seq, Reason: "hash mismatch: the entry's fields were changed"}
		}
		mac, err := hex.DecodeString(e.MAC)
		if err != nil || !hmac.Equal(mac, auditMAC(key, macEntry, seq, h)) {
			return r, &AuditError{Seq: seq, Reason: "MAC mismatch: the entry was rewritten by someone without the audit key"}
		}
		if e.Action == actionHeadInvalid {
			// The store found the head forged when it opened and
			// recorded it here, signed. The chain since verifies, but the
			// break it records stands until someone investigates.
			var claimed uint64
			fmt.Sscanf(e.Object, "audit/%d", &claimed)
			return r, &AuditError{Seq: claimed + 1, Reason: fmt.Sprintf(
				"entries from %d on were removed or rewritten while the store was closed: the head found at open claimed seq %d and did not verify (recorded as entry %d)",
				claimed+1, claimed, seq)}
		}
		prev = h
		want++
		r.Entries++
	}
	last := want - 1
	if head.Seq == 0 && head.Hash == "" {
		if r.Entries > 0 {
			return r, &AuditError{Seq: last, Reason: "entries present but no head record (head deleted)"}
		}
		return r, nil
	}
	if !head.valid(key) {
		return r, &AuditError{Seq: head.Seq, Reason: fmt.Sprintf("head MAC does not verify (head record forged; it claims seq %d)", head.Seq)}
	}
	switch {
	case head.Seq > last:
		return r, &AuditError{Seq: last + 1, Reason: fmt.Sprintf("chain ends at %d but the head says %d (entries truncated)", last, head.Seq)}
	case head.Seq < last:
		return r, &AuditError{Seq: head.Seq + 1, Reason: fmt.Sprintf("head says %d but the chain goes on to %d (old head put back?)", head.Seq, last)}
	case head.Hash != hex.EncodeToString(prev):
		return r, &AuditError{Seq: head.Seq, Reason: "head hash does not match the last entry"}
	}
	r.Head = head
	return r, nil
}

// pruneChunk is how many entries one prune transaction deletes, so that a
// first prune of years of entries does not make one huge transaction.
const pruneChunk = 10000

// PruneAudit deletes the entries older than Options.AuditRetention before
// now, oldest first, stopping at the first entry young enough to keep. It
// records a signed anchor (first seq kept, hash of the last entry deleted)
// so that the rest still verifies, and appends an "audit.prune" entry.
//
// It verifies the chain first and prunes nothing if that fails: pruning
// must not destroy the evidence. It returns the number of entries deleted.
func (s *Store) PruneAudit(ctx context.Context, now time.Time) (int, error) {
	if _, err := s.VerifyAudit(ctx); err != nil {
		return 0, fmt.Errorf("prune audit: chain does not verify, nothing pruned: %w", err)
	}
	cutoff := now.Add(-s.opts.AuditRetention)
	total := 0
	for {
		var n int
		var more bool
		err := s.do(ctx, func(tx *txn) error {
			n, more = 0, false
			var dead [][]byte
			var last AuditEntry
			c := tx.Bucket(bucketAudit).Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if len(dead) == pruneChunk {
					more = true
					break
				}
				var e AuditEntry
				if err := json.Unmarshal(v, &e); err != nil {
					return fmt.Errorf("%w: audit entry %x: %v", ErrCorrupt, k, err)
				}
				at, err := e.At()
				if err != nil {
					return fmt.Errorf("%w: audit entry %d time: %v", ErrCorrupt, e.Seq, err)
				}
				if !at.Before(cutoff) {
					break
				}
				dead = append(dead, k)
				last = e
			}
			b := tx.Bucket(bucketAudit)
			for _, k := range dead {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			n = len(dead)
			if n > 0 {
				prev, err := hex.DecodeString(last.Hash)
				if err != nil {
					return fmt.Errorf("%w: audit entry %d hash", ErrCorrupt, last.Seq)
				}
				a := ChainAnchor{First: last.Seq + 1, Prev: last.Hash, Pruned: now.UTC(),
					MAC: hex.EncodeToString(auditMAC(s.auditKey, macAnchor, last.Seq+1, prev))}
				av, err := json.Marshal(a)
				if err != nil {
					return err
				}
				if err := tx.Bucket(bucketMeta).Put(metaAuditAnchor, av); err != nil {
					return err
				}
			}
			if !more && total+n > 0 {
				a, err := readAnchor(tx.Bucket(bucketMeta))
				if err != nil || a == nil {
					return fmt.Errorf("%w: audit anchor missing after prune", ErrCorrupt)
				}
				return tx.appendAudit(draftAudit(now, paging.AuditEvent{
					Actor:  "system",
					Action: "audit.prune",
					Object: "audit",
					Detail: fmt.Sprintf("deleted %d entries older than %s; chain now starts at seq %d", total+n, cutoff.UTC().Format(time.RFC3339), a.First),
				}))
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("prune audit: %w", err)
		}
		total += n
		if !more {
			return total, nil
		}
	}
}
