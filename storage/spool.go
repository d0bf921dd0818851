package storage

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"pagebridge/gateway/paging"
)

// The spool is a file of its own kind (meta "kind" = spoolKind), with its
// own schema steps. Job, item and seen keys are the 16 bytes of the
// idempotency key (a ULID).
//
//	jobs        key → record: device, received; never changed once added
//	jobs.state  key → starts (4 BE) || running (1); only for jobs started at least once
//	items       key → record: kind, created
//	items.order 0xFF-priority (1) || created (8) || key (16) → nothing
//	seen        class (1) || key (16) → when it was finished or acked (8)
//	seen.time   when (8) || class (1) || key (16) → nothing
//
// A job or item record is binary, so that the commit loop reads what it
// needs (an item's order key, at ack) without decoding the rest:
//
//	byte 0       record format (spoolRecordV1)
//	byte 1       priority
//	bytes 2-9    received (jobs) or created (items)
//	byte 10      n, the length of the name
//	bytes 11-    the name (device or kind), n bytes, then the sealed payload
//
// Times in keys and values are dueBytes: byte order is time order.
const spoolKind = "pagebridge-agent-spool"

var (
	bucketSpoolJobs       = []byte("jobs")
	bucketSpoolJobState   = []byte("jobs.state")
	bucketSpoolItems      = []byte("items")
	bucketSpoolItemsOrder = []byte("items.order")
	bucketSpoolSeen       = []byte("seen")
	bucketSpoolSeenTime   = []byte("seen.time")
)

// Classes of seen keys: a job's key and an outgoing item's key are
// remembered apart (a result may carry its job's key).
const (
	seenJob  byte = 'j'
	seenItem byte = 'i'
)

// spoolMigrations, in order. Append only, as migrations.
var spoolMigrations = []migration{
	{1, "create the spool buckets", migrateSpoolV1},
}

// SpoolSchemaVersion is the spool schema this code writes.
const SpoolSchemaVersion uint64 = 1

var spoolLayout = &layout{name: "spool", kind: spoolKind, migrations: spoolMigrations, version: SpoolSchemaVersion,
	appendOnly: [][]byte{bucketSpoolJobs, bucketSpoolJobState, bucketSpoolItems, bucketSpoolSeen, bucketSpoolSeenTime}}

func init() {
	if spoolMigrations[len(spoolMigrations)-1].to != SpoolSchemaVersion {
		panic("storage: SpoolSchemaVersion is not the last spool migration's version")
	}
}

func migrateSpoolV1(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketMeta, bucketKeys, bucketSpoolJobs, bucketSpoolJobState,
		bucketSpoolItems, bucketSpoolItemsOrder, bucketSpoolSeen, bucketSpoolSeenTime} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("bucket %s: %w", name, err)
		}
	}
	return tx.Bucket(bucketMeta).Put(metaKind, []byte(spoolKind))
}

// DefaultSeenFor is how long a spool remembers finished job keys and acked
// item keys, by default.
const DefaultSeenFor = 24 * time.Hour

// Limits of the spool's non-PHI fields.
const (
	MaxSpoolDeviceLen = 128
	MaxSpoolKindLen   = 32
)

// SpoolOptions configure OpenSpool. Keys is required.
type SpoolOptions struct {
	// Keys holds the KEK that wraps the spool's data keys; its file lives
	// outside the agent's data directory. Required.
	Keys *Keyring
	// Logger receives the line OpenSpool writes on creating the file.
	// Default: discard.
	Logger *slog.Logger
	// SeenFor is how long finished job keys and acked item keys are
	// remembered for dedupe (see PruneSeen); default DefaultSeenFor.
	SeenFor time.Duration
	// Now tells the time (when a key was seen, a default Received or
	// Created); default time.Now.
	Now func() time.Time
	// Timeout bounds the wait for the file lock; default DefaultTimeout.
	Timeout time.Duration
	// Linger is the commit loop's wait for more operations (see
	// Options.Linger); zero commits at once.
	Linger time.Duration
}

// Spool is the hardware agent's durable spool: jobs received from the
// gateway, and outgoing items (job results, inbound pages) until the
// gateway acknowledges them. Payloads are opaque to it and sealed at rest
// as in the Store. It is safe for concurrent use; writes from many
// goroutines share commits (one fdatasync for many callers), through the
// same commit loop as the Store's. It keeps no audit chain.
//
// Every write returns only after its commit; an error wrapping
// paging.ErrTemporary (disk full or failing, spool closed) means nothing of
// that call was stored, and one wrapping paging.ErrInvalid (or, from
// StartJobs, paging.ErrNotFound) means the call was refused as a whole.
type Spool struct {
	st      *Store
	seenFor time.Duration
}

// OpenSpool opens (creating if needed, mode 0600) the spool at path; its
// directory must exist. Like Open, it fails with ErrWrongKey if opts.Keys
// cannot unwrap the file's data keys, ErrLocked if another process holds
// the file, ErrSchemaTooNew for a newer schema, and ErrNotDatabase for a
// file that is not a spool (the gateway's store, say), all before changing
// anything.
func OpenSpool(path string, opts SpoolOptions) (*Spool, error) {
	if opts.SeenFor <= 0 {
		opts.SeenFor = DefaultSeenFor
	}
	st, err := openLayout(path, Options{Keys: opts.Keys, Logger: opts.Logger, Now: opts.Now, Timeout: opts.Timeout, Linger: opts.Linger}, spoolLayout)
	if err != nil {
		return nil, err
	}
	return &Spool{st: st, seenFor: opts.SeenFor}, nil
}

// Close commits the writes already taken and closes the file; later calls
// return ErrClosed. Closing twice is not an error.
func (s *Spool) Close() error { return s.st.Close() }

// Path returns the spool file's path.
func (s *Spool) Path() string { return s.st.Path() }

// CommitStats returns the commit loop's counters (Ops/Commits is how many
// callers one fdatasync served).
func (s *Spool) CommitStats() Stats { return s.st.Stats() }

// SpoolJob is work for one device, received from the gateway.
type SpoolJob struct {
	// Key is the job's idempotency key.
	Key      paging.ID
	Device   string
	Priority paging.Priority
	// Payload is the encoded job; sealed at rest.
	Payload paging.PHI
	// Received is when the agent got it; AddJobs sets the current time if
	// it is zero.
	Received time.Time
	// Starts counts the times StartJobs marked it in flight (0: never).
	// AddJobs ignores it.
	Starts int
	// Running: started and not finished, in flight on the device. After a
	// crash, a running job may or may not have gone out. AddJobs ignores
	// it.
	Running bool
}

// SpoolItem is an outgoing item for the gateway: a job's result or an
// inbound page received on one of the agent's lines.
type SpoolItem struct {
	// Key is the item's idempotency key.
	Key paging.ID
	// Kind says what it is ("result", "inbound"); opaque to the spool, 1
	// to MaxSpoolKindLen bytes.
	Kind     string
	Priority paging.Priority
	// Payload is the encoded envelope; sealed at rest.
	Payload paging.PHI
	// Created is when the agent made it; the current time if zero.
	Created time.Time
}

// FinishedJob is a job done with its result, for FinishJobs.
type FinishedJob struct {
	Key    paging.ID
	Result SpoolItem
}

// SpoolStats counts what a spool holds.
type SpoolStats struct {
	Jobs    int // pending jobs
	Running int // of which in flight
	Items   int // outgoing items not yet acked
	Seen    int // remembered job and item keys
}

// spoolRecordV1 is the format byte of job and item records.
const spoolRecordV1 = 1

const spoolRecordHeader = 1 + 1 + 8 + 1

// spoolRecord is a job or an item as stored, its payload sealed.
type spoolRecord struct {
	priority paging.Priority
	at       time.Time
	name     string // device or kind
	sealed   []byte
}

func (r *spoolRecord) encode() []byte {
	v := make([]byte, 0, spoolRecordHeader+len(r.name)+len(r.sealed))
	v = append(v, spoolRecordV1, byte(r.priority))
	v = append(v, dueBytes(r.at)...)
	v = append(v, byte(len(r.name)))
	v = append(v, r.name...)
	return append(v, r.sealed...)
}

// decodeSpoolRecord decodes v, whose sealed payload it keeps as a slice of
// v (copy it, or open it, before the transaction ends).
func decodeSpoolRecord(bucket, key, v []byte) (spoolRecord, error) {
	bad := func(why string) (spoolRecord, error) {
		return spoolRecord{}, fmt.Errorf("%w: %s/%x: %s", ErrCorrupt, bucket, key, why)
	}
	if len(v) < spoolRecordHeader {
		return bad("record too short")
	}
	if v[0] != spoolRecordV1 {
		return bad(fmt.Sprintf("unknown record format %d", v[0]))
	}
	r := spoolRecord{priority: paging.Priority(v[1]), at: dueFrom(v[2:10])}
	if !r.priority.Valid() {
		return bad(r.priority.String())
	}
	n := int(v[10])
	if len(v) < spoolRecordHeader+n {
		return bad("name runs past the record")
	}
	r.name = string(v[spoolRecordHeader : spoolRecordHeader+n])
	r.sealed = v[spoolRecordHeader+n:]
	return r, nil
}

// spoolPut is a record prepared outside the transaction: encoded, its
// payload sealed.
type spoolPut struct {
	key   []byte
	value []byte
	dek   uint64
	order []byte // items only: the items.order key
}

func seenKey(class byte, key []byte) []byte { return append([]byte{class}, key...) }

// jobState is the in-flight state of a job: jobs.state's value.
type jobState struct {
	starts  uint32
	running bool
}

func readJobState(v []byte) (jobState, error) {
	if v == nil {
		return jobState{}, nil
	}
	if len(v) != 5 || v[4] > 1 {
		return jobState{}, fmt.Errorf("%w: job state of %d bytes", ErrCorrupt, len(v))
	}
	return jobState{starts: binary.BigEndian.Uint32(v), running: v[4] == 1}, nil
}

func (j jobState) bytes() []byte {
	v := binary.BigEndian.AppendUint32(make([]byte, 0, 5), j.starts)
	if j.running {
		return append(v, 1)
	}
	return append(v, 0)
}

func itemOrderKey(p paging.Priority, created time.Time, key []byte) []byte {
	k := []byte{0xFF - byte(p)}
	k = append(k, dueBytes(created)...)
	return append(k, key...)
}

func (s *Spool) now() time.Time { return s.st.now().UTC() }

// prepareJob validates j and seals and encodes it.
func (s *Spool) prepareJob(j SpoolJob, now time.Time) (spoolPut, error) {
	switch {
	case j.Key == (paging.ID{}):
		return spoolPut{}, fmt.Errorf("%w job: no key", paging.ErrInvalid)
	case j.Device == "" || len(j.Device) > MaxSpoolDeviceLen:
		return spoolPut{}, fmt.Errorf("%w job %s: device must be 1 to %d bytes", paging.ErrInvalid, j.Key, MaxSpoolDeviceLen)
	case !j.Priority.Valid():
		return spoolPut{}, fmt.Errorf("%w job %s: %v", paging.ErrInvalid, j.Key, j.Priority)
	case j.Payload.Len() > MaxPayloadLen:
		return spoolPut{}, fmt.Errorf("%w job %s: payload longer than %d bytes", paging.ErrInvalid, j.Key, MaxPayloadLen)
	}
	return s.sealRecord(bucketSpoolJobs, j.Key, spoolRecord{priority: j.Priority, at: orNow(j.Received, now), name: j.Device}, j.Payload)
}

// prepareItem validates it and seals and encodes it.
func (s *Spool) prepareItem(it SpoolItem, now time.Time) (spoolPut, error) {
	switch {
	case it.Key == (paging.ID{}):
		return spoolPut{}, fmt.Errorf("%w item: no key", paging.ErrInvalid)
	case it.Kind == "" || len(it.Kind) > MaxSpoolKindLen:
		return spoolPut{}, fmt.Errorf("%w item %s: kind must be 1 to %d bytes", paging.ErrInvalid, it.Key, MaxSpoolKindLen)
	case !it.Priority.Valid():
		return spoolPut{}, fmt.Errorf("%w item %s: %v", paging.ErrInvalid, it.Key, it.Priority)
	case it.Payload.Len() > MaxPayloadLen:
		return spoolPut{}, fmt.Errorf("%w item %s: payload longer than %d bytes", paging.ErrInvalid, it.Key, MaxPayloadLen)
	}
	rec := spoolRecord{priority: it.Priority, at: orNow(it.Created, now), name: it.Kind}
	p, err := s.sealRecord(bucketSpoolItems, it.Key, rec, it.Payload)
	if err != nil {
		return p, err
	}
	p.order = itemOrderKey(rec.priority, rec.at, p.key)
	return p, nil
}

func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t.UTC()
}

// sealRecord seals payload into rec and encodes it.
func (s *Spool) sealRecord(bucket []byte, id paging.ID, rec spoolRecord, payload paging.PHI) (spoolPut, error) {
	key := id.Bytes()
	sv, err := s.st.sealer.seal(bucket, key, fieldPayload, []byte(payload.Reveal()))
	if err != nil {
		return spoolPut{}, err
	}
	rec.sealed = sv.value
	return spoolPut{key: key, value: rec.encode(), dek: sv.dek}, nil
}

// seen records key of class as seen at (already seen: left as it was).
func markSeen(tx *txn, class byte, key, at []byte) error {
	sk := seenKey(class, key)
	b := tx.Bucket(bucketSpoolSeen)
	if b.Get(sk) != nil {
		return nil
	}
	if err := b.Put(sk, at); err != nil {
		return err
	}
	return tx.Bucket(bucketSpoolSeenTime).Put(append(slices.Clip(at), sk...), nil)
}

// putItem stores p unless its key is pending or seen; it reports whether it
// did.
func (s *Spool) putItem(tx *txn, p spoolPut) (bool, error) {
	items := tx.Bucket(bucketSpoolItems)
	if items.Get(p.key) != nil || tx.Bucket(bucketSpoolSeen).Get(seenKey(seenItem, p.key)) != nil {
		return false, nil
	}
	if err := s.st.sealer.store(tx, p.dek); err != nil {
		return false, err
	}
	if err := items.Put(p.key, p.value); err != nil {
		return false, err
	}
	return true, tx.Bucket(bucketSpoolItemsOrder).Put(p.order, nil)
}

// putJob stores p unless its key is pending or seen; it reports whether it
// did.
func (s *Spool) putJob(tx *txn, p spoolPut) (bool, error) {
	b := tx.Bucket(bucketSpoolJobs)
	if b.Get(p.key) != nil || tx.Bucket(bucketSpoolSeen).Get(seenKey(seenJob, p.key)) != nil {
		return false, nil
	}
	if err := s.st.sealer.store(tx, p.dek); err != nil {
		return false, err
	}
	return true, b.Put(p.key, p.value)
}

// AddJobs stores jobs durably, in one commit. added[i] is false when
// jobs[i].Key is already known: pending, or finished and still remembered
// (see PruneSeen); receivers dedupe by key. A key twice in jobs is added
// once. It returns only after the commit; an invalid job refuses the whole
// call.
func (s *Spool) AddJobs(ctx context.Context, jobs []SpoolJob) (added []bool, err error) {
	now := s.now()
	puts := make([]spoolPut, len(jobs))
	for i, j := range jobs {
		if puts[i], err = s.prepareJob(j, now); err != nil {
			return nil, fmt.Errorf("spool: add jobs: %w", err)
		}
	}
	if len(jobs) == 0 {
		return []bool{}, nil
	}
	added = make([]bool, len(jobs))
	err = s.st.do(ctx, func(tx *txn) error {
		clear(added) // the op may run again
		for i, p := range puts {
			ok, err := s.putJob(tx, p)
			if err != nil {
				return err
			}
			added[i] = ok
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("spool: add jobs: %w", err)
	}
	return added, nil
}

// StartJobs marks the jobs in flight (Running, and Starts counted) durably;
// call it before writing them to a device. A key that is not a pending job
// refuses the call (paging.ErrNotFound).
func (s *Spool) StartJobs(ctx context.Context, keys []paging.ID) error {
	err := s.setRunning(ctx, keys, true)
	if err != nil {
		return fmt.Errorf("spool: start jobs: %w", err)
	}
	return nil
}

// UnstartJobs marks started jobs as not running, their Starts kept: the
// device never got them (the port failed before the write). Keys of jobs
// never started, or no longer pending, are skipped.
func (s *Spool) UnstartJobs(ctx context.Context, keys []paging.ID) error {
	err := s.setRunning(ctx, keys, false)
	if err != nil {
		return fmt.Errorf("spool: unstart jobs: %w", err)
	}
	return nil
}

func (s *Spool) setRunning(ctx context.Context, keys []paging.ID, running bool) error {
	if len(keys) == 0 {
		return nil
	}
	return s.st.do(ctx, func(tx *txn) error { return setRunningTx(tx, keys, running) })
}

func setRunningTx(tx *txn, keys []paging.ID, running bool) error {
	jobs, state := tx.Bucket(bucketSpoolJobs), tx.Bucket(bucketSpoolJobState)
	for _, id := range keys {
		k := id.Bytes()
		if jobs.Get(k) == nil {
			if !running {
				continue // finished meanwhile: nothing to undo
			}
			return fmt.Errorf("%w: job %s is not pending", paging.ErrNotFound, id)
		}
		js, err := readJobState(state.Get(k))
		if err != nil {
			return fmt.Errorf("job %s: %w", id, err)
		}
		switch {
		case running:
			js.starts++
		case js.starts == 0:
			continue // never started: nothing to undo
		}
		js.running = running
		if err := state.Put(k, js.bytes()); err != nil {
			return err
		}
	}
	return nil
}

// FinishJobs, in one commit, deletes each job, remembers its key as seen
// and queues its result as an outgoing item: a crash leaves either the job
// or its result, never neither or both. A key that was never added (a job
// refused on receipt) is remembered and its result queued all the same. A
// job already finished (its key seen) is skipped, so a repeated call is
// harmless. An invalid result refuses the call (paging.ErrInvalid). A
// result whose key is already pending or seen as an item is not queued
// again. A result with no key queues nothing: the job was the agent's own
// (a bypass) and nobody waits for its result.
func (s *Spool) FinishJobs(ctx context.Context, done []FinishedJob) error {
	if err := s.Advance(ctx, done, nil); err != nil {
		return fmt.Errorf("spool: finish jobs: %w", err)
	}
	return nil
}

// Advance finishes done (as FinishJobs) and starts start (as StartJobs)
// in one commit: a device's driver hands in the results of one batch and
// takes the next with a single fdatasync. A key in start that is not a
// pending job refuses the whole call (paging.ErrNotFound); nothing is
// finished then either.
func (s *Spool) Advance(ctx context.Context, done []FinishedJob, start []paging.ID) error {
	now := s.now()
	puts := make([]spoolPut, len(done))
	for i, d := range done {
		if d.Result.Key == (paging.ID{}) {
			continue // a job the agent made itself: no result to report
		}
		var err error
		if puts[i], err = s.prepareItem(d.Result, now); err != nil {
			return fmt.Errorf("job %s: %w", d.Key, err)
		}
	}
	if len(done) == 0 && len(start) == 0 {
		return nil
	}
	at := dueBytes(now)
	return s.st.do(ctx, func(tx *txn) error {
		jobs, state, seen := tx.Bucket(bucketSpoolJobs), tx.Bucket(bucketSpoolJobState), tx.Bucket(bucketSpoolSeen)
		for i, d := range done {
			k := d.Key.Bytes()
			if seen.Get(seenKey(seenJob, k)) != nil {
				continue // finished already
			}
			if err := jobs.Delete(k); err != nil {
				return err
			}
			if err := state.Delete(k); err != nil {
				return err
			}
			if err := markSeen(tx, seenJob, k, at); err != nil {
				return err
			}
			if puts[i].key == nil {
				continue
			}
			if _, err := s.putItem(tx, puts[i]); err != nil {
				return err
			}
		}
		return setRunningTx(tx, start, true)
	})
}

// Jobs returns every pending job, with its in-flight state, critical first,
// then high, then normal, oldest Received first within a tier. The agent
// calls it at start: a Running job was in flight when it stopped.
func (s *Spool) Jobs(ctx context.Context) ([]SpoolJob, error) {
	var out []SpoolJob
	err := s.st.view(ctx, func(tx *bolt.Tx) error {
		state := tx.Bucket(bucketSpoolJobState)
		return tx.Bucket(bucketSpoolJobs).ForEach(func(k, v []byte) error {
			id, err := spoolKeyID(k)
			if err != nil {
				return err
			}
			r, err := decodeSpoolRecord(bucketSpoolJobs, k, v)
			if err != nil {
				return err
			}
			p, err := s.st.sealer.open(bucketSpoolJobs, k, fieldPayload, r.sealed)
			if err != nil {
				return err
			}
			js, err := readJobState(state.Get(k))
			if err != nil {
				return fmt.Errorf("job %s: %w", id, err)
			}
			out = append(out, SpoolJob{Key: id, Device: r.name, Priority: r.priority,
				Payload: paging.NewPHI(string(p)), Received: r.at, Starts: int(js.starts), Running: js.running})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("spool: jobs: %w", err)
	}
	slices.SortFunc(out, func(a, b SpoolJob) int {
		return cmp.Or(cmp.Compare(b.Priority, a.Priority), a.Received.Compare(b.Received), a.Key.Compare(b.Key))
	})
	return out, nil
}

func spoolKeyID(k []byte) (paging.ID, error) {
	var id paging.ID
	if len(k) != len(id) {
		return id, fmt.Errorf("%w: spool key of %d bytes", ErrCorrupt, len(k))
	}
	copy(id[:], k)
	return id, nil
}

// PutItems stores outgoing items durably, in one commit: an inbound page
// is acknowledged to its sender only after this returns. added[i] is false
// when items[i].Key is already pending or was acked and is still
// remembered. An invalid item refuses the whole call.
func (s *Spool) PutItems(ctx context.Context, items []SpoolItem) (added []bool, err error) {
	now := s.now()
	puts := make([]spoolPut, len(items))
	for i, it := range items {
		if puts[i], err = s.prepareItem(it, now); err != nil {
			return nil, fmt.Errorf("spool: put items: %w", err)
		}
	}
	if len(items) == 0 {
		return []bool{}, nil
	}
	added = make([]bool, len(items))
	err = s.st.do(ctx, func(tx *txn) error {
		clear(added)
		for i, p := range puts {
			ok, err := s.putItem(tx, p)
			if err != nil {
				return err
			}
			added[i] = ok
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("spool: put items: %w", err)
	}
	return added, nil
}

// PendingItems returns up to limit items not yet acked, critical first,
// then high, then normal, oldest Created first within a tier.
func (s *Spool) PendingItems(ctx context.Context, limit int) ([]SpoolItem, error) {
	var out []SpoolItem
	err := s.st.view(ctx, func(tx *bolt.Tx) error {
		items := tx.Bucket(bucketSpoolItems)
		c := tx.Bucket(bucketSpoolItemsOrder).Cursor()
		for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
			if len(k) != 1+8+16 {
				return fmt.Errorf("%w: item order key of %d bytes", ErrCorrupt, len(k))
			}
			key := k[9:]
			id, _ := spoolKeyID(key)
			v := items.Get(key)
			if v == nil {
				return fmt.Errorf("%w: item order points at missing item %s", ErrCorrupt, id)
			}
			r, err := decodeSpoolRecord(bucketSpoolItems, key, v)
			if err != nil {
				return err
			}
			p, err := s.st.sealer.open(bucketSpoolItems, key, fieldPayload, r.sealed)
			if err != nil {
				return err
			}
			out = append(out, SpoolItem{Key: id, Kind: r.name, Priority: r.priority,
				Payload: paging.NewPHI(string(p)), Created: r.at})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("spool: pending items: %w", err)
	}
	return out, nil
}

// AckItems deletes the items the gateway acknowledged and remembers their
// keys as seen, in one commit. Keys of no pending item (acked twice, say)
// are not an error and change nothing.
func (s *Spool) AckItems(ctx context.Context, keys []paging.ID) error {
	return s.ackItems(ctx, keys, 0)
}

// AckItemsRiding is AckItems without a commit of its own: the deletions
// ride with the spool's next write (a job's result, a received page) or,
// if none comes within wait, commit alone. It returns once they are
// committed. A busy agent so deletes what the gateway has for free; after
// a crash before that commit the items are published again and the
// gateway, which dedupes them, acknowledges them again.
func (s *Spool) AckItemsRiding(ctx context.Context, keys []paging.ID, wait time.Duration) error {
	return s.ackItems(ctx, keys, max(wait, time.Nanosecond))
}

func (s *Spool) ackItems(ctx context.Context, keys []paging.ID, ride time.Duration) error {
	if len(keys) == 0 {
		return nil
	}
	at := dueBytes(s.now())
	fn := func(tx *txn) error {
		items, order := tx.Bucket(bucketSpoolItems), tx.Bucket(bucketSpoolItemsOrder)
		for _, id := range keys {
			k := id.Bytes()
			v := items.Get(k)
			if v == nil {
				continue
			}
			r, err := decodeSpoolRecord(bucketSpoolItems, k, v)
			if err != nil {
				return err
			}
			if err := order.Delete(itemOrderKey(r.priority, r.at, k)); err != nil {
				return err
			}
			if err := items.Delete(k); err != nil {
				return err
			}
			if err := markSeen(tx, seenItem, k, at); err != nil {
				return err
			}
		}
		return nil
	}
	var err error
	if ride > 0 {
		err = s.st.doRiding(ctx, ride, fn)
	} else {
		err = s.st.do(ctx, fn)
	}
	if err != nil {
		return fmt.Errorf("spool: ack items: %w", err)
	}
	return nil
}

// PruneSeen forgets the job and item keys seen before now minus SeenFor,
// oldest first, and returns how many. A key forgotten is no longer
// deduplicated: run it now and then (hourly, say), not with a now ahead of
// the clock. It deletes at most pruneChunk keys per commit, so a large
// first prune does not hold up the other writers.
func (s *Spool) PruneSeen(ctx context.Context, now time.Time) (int, error) {
	cutoff := dueBytes(now.Add(-s.seenFor))
	total := 0
	for {
		n := 0
		err := s.st.do(ctx, func(tx *txn) error {
			n = 0
			seen, byTime := tx.Bucket(bucketSpoolSeen), tx.Bucket(bucketSpoolSeenTime)
			var dead [][]byte
			c := byTime.Cursor()
			for k, _ := c.First(); k != nil && len(dead) < pruneChunk; k, _ = c.Next() {
				if len(k) != 8+1+16 {
					return fmt.Errorf("%w: seen key of %d bytes", ErrCorrupt, len(k))
				}
				if string(k[:8]) >= string(cutoff) {
					break
				}
				dead = append(dead, k)
			}
			for _, k := range dead {
				if err := seen.Delete(k[8:]); err != nil {
					return err
				}
				if err := byTime.Delete(k); err != nil {
					return err
				}
			}
			n = len(dead)
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("spool: prune seen: %w", err)
		}
		total += n
		if n < pruneChunk {
			return total, nil
		}
	}
}

// Stats counts the spool's jobs, running jobs, items and seen keys.
func (s *Spool) Stats(ctx context.Context) (SpoolStats, error) {
	var st SpoolStats
	err := s.st.view(ctx, func(tx *bolt.Tx) error {
		st.Jobs = tx.Bucket(bucketSpoolJobs).Stats().KeyN
		st.Items = tx.Bucket(bucketSpoolItems).Stats().KeyN
		st.Seen = tx.Bucket(bucketSpoolSeen).Stats().KeyN
		return tx.Bucket(bucketSpoolJobState).ForEach(func(k, v []byte) error {
			js, err := readJobState(v)
			if err != nil {
				return err
			}
			if js.running {
				st.Running++
			}
			return nil
		})
	})
	if err != nil {
		return st, fmt.Errorf("spool: stats: %w", err)
	}
	return st, nil
}

// Bypass stores it with jobs, in one commit: a page received on a line
// that the agent also passes straight to a paging terminal while the
// gateway is unreachable. it replaces the pending item of the same key (the
// page, now marked bypassed) or is added if there is none; but if its key
// was already acknowledged (seen), the gateway has the page and nothing is
// stored: ok is false. Jobs whose keys are known are not added again.
func (s *Spool) Bypass(ctx context.Context, it SpoolItem, jobs []SpoolJob) (ok bool, err error) {
	now := s.now()
	ip, err := s.prepareItem(it, now)
	if err != nil {
		return false, fmt.Errorf("spool: bypass: %w", err)
	}
	jps := make([]spoolPut, len(jobs))
	for i, j := range jobs {
		if jps[i], err = s.prepareJob(j, now); err != nil {
			return false, fmt.Errorf("spool: bypass: %w", err)
		}
	}
	err = s.st.do(ctx, func(tx *txn) error {
		ok = false
		items, order := tx.Bucket(bucketSpoolItems), tx.Bucket(bucketSpoolItemsOrder)
		if tx.Bucket(bucketSpoolSeen).Get(seenKey(seenItem, ip.key)) != nil {
			return nil
		}
		if old := items.Get(ip.key); old != nil {
			r, err := decodeSpoolRecord(bucketSpoolItems, ip.key, old)
			if err != nil {
				return err
			}
			if err := order.Delete(itemOrderKey(r.priority, r.at, ip.key)); err != nil {
				return err
			}
			if err := items.Delete(ip.key); err != nil {
				return err
			}
		}
		if _, err := s.putItem(tx, ip); err != nil {
			return err
		}
		for _, p := range jps {
			if _, err := s.putJob(tx, p); err != nil {
				return err
			}
		}
		ok = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("spool: bypass: %w", err)
	}
	return ok, nil
}
