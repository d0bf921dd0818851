package storage

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Buckets. Keys of messages, timers and outbox items are the 16 bytes of
// their ULID, so they sort by creation time.
var (
	bucketMeta     = []byte("meta")     // schema version, audit head and anchor, audit key check
	bucketKeys     = []byte("keys")     // data keys by ID (8 bytes BE), wrapped under a KEK
	bucketMessages = []byte("messages") // message records, text sealed
	bucketAudit    = []byte("audit")    // audit entries by seq (8 bytes BE)
	bucketPeople   = []byte("people")
	bucketRoles    = []byte("roles")
	bucketGroups   = []byte("groups")
	bucketPagerIDs = []byte("pagerids")
	bucketAccounts = []byte("accounts")

	bucketTimers    = []byte("timers")     // timers by ID
	bucketTimersDue = []byte("timers.due") // (due BE, ID) → nothing
	bucketOutbox    = []byte("outbox")     // outbox items by ID, payload sealed
	bucketOutboxDue = []byte("outbox.due") // (inverted priority, due BE, ID) → nothing

	bucketJobResults = []byte("jobresults") // agents' job results by job ID
)

// Keys in the meta bucket.
var (
	metaSchema        = []byte("schema")
	metaKind          = []byte("kind") // absent in the gateway's store, whose first files had none
	metaAuditHead     = []byte("audit.head")
	metaAuditAnchor   = []byte("audit.anchor")
	metaAuditKeyCheck = []byte("audit.keycheck")
)

// migration moves the schema from version to-1 to version to. It runs in
// one write transaction, which also records the new version.
type migration struct {
	to   uint64
	name string
	fn   func(tx *bolt.Tx) error
}

// migrations, in order. Append only: a released step is never changed.
var migrations = []migration{
	{1, "create the base buckets", migrateV1},
	{2, "add timers and outbox, indexed by due time", migrateV2},
	{3, "add agents' job results", migrateV3},
	{4, "add the routing engine's records", migrateV4},
	{5, "add the agents seen", migrateV5},
	{6, "add secure threads, their receipts and indexes, and message templates", migrateV6},
	{7, "add web sign-in: account security (second factor, lockout) and sessions", migrateV7},
	{8, "add the attachments of thread messages", migrateV8},
}

// SchemaVersion is the schema this code writes: the last migration's.
const SchemaVersion uint64 = 8

// layout is one kind of file this package keeps: the gateway's store or
// an agent's spool. Both share the meta and keys buckets, the sealer and
// the commit loop; each has its own buckets and schema steps.
type layout struct {
	name string // "store", "spool": in errors and log lines
	// kind is the meta bucket's "kind" value. The gateway's store has
	// none (its files predate kinds), so a file without one is the
	// store's.
	kind       string
	migrations []migration
	version    uint64
	// gateway: the file has an audit chain and a directory (pager ID
	// index) to load at Open.
	gateway bool
	// appendOnly names the buckets whose keys grow with time (ULIDs,
	// sequence numbers, time-led index keys): written at the end, so their
	// pages are filled before they split (appendFill) instead of half.
	appendOnly [][]byte
}

// storeLayout is the gateway's store.
var storeLayout = &layout{name: "store", migrations: migrations, version: SchemaVersion, gateway: true,
	appendOnly: [][]byte{bucketMessages, bucketAudit, bucketOutbox, bucketJobResults, bucketRoutes, bucketRoutePending}}

func init() {
	if migrations[len(migrations)-1].to != SchemaVersion {
		panic("storage: SchemaVersion is not the last migration's version")
	}
}

// check reads the file's schema version and refuses a newer schema or a
// file of another kind (a spool opened as the store, or the reverse). A
// new, empty file passes with version 0.
func (l *layout) check(tx *bolt.Tx) (uint64, error) {
	v, err := schemaVersion(tx)
	if err != nil || v == 0 {
		return v, err
	}
	var kind string
	if meta := tx.Bucket(bucketMeta); meta != nil {
		kind = string(meta.Get(metaKind))
	}
	if kind != l.kind {
		return v, fmt.Errorf("%w: the file is %s, not %s", ErrNotDatabase, kindName(kind), kindName(l.kind))
	}
	if v > l.version {
		return v, fmt.Errorf("%w: file has schema %d, this program knows up to %d; run the newer pagebridge or restore a backup taken before the upgrade", ErrSchemaTooNew, v, l.version)
	}
	return v, nil
}

func kindName(kind string) string {
	switch kind {
	case "":
		return "the gateway's store"
	case spoolKind:
		return "an agent's spool"
	}
	return fmt.Sprintf("of unknown kind %q", kind)
}

func migrateV1(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketMeta, bucketKeys, bucketMessages, bucketAudit,
		bucketPeople, bucketRoles, bucketGroups, bucketPagerIDs, bucketAccounts} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("bucket %s: %w", name, err)
		}
	}
	return nil
}

// migrateV2 adds the timer and outbox buckets with their due-time indexes,
// and (re)builds each index from its primary bucket, so the step also
// repairs an index that was lost.
func migrateV2(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketTimers, bucketOutbox} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("bucket %s: %w", name, err)
		}
	}
	for _, name := range [][]byte{bucketTimersDue, bucketOutboxDue} {
		if tx.Bucket(name) != nil {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		if _, err := tx.CreateBucket(name); err != nil {
			return fmt.Errorf("bucket %s: %w", name, err)
		}
	}
	return reindexDue(tx)
}

// migrateV3 adds the job results bucket.
func migrateV3(tx *bolt.Tx) error {
	if _, err := tx.CreateBucketIfNotExists(bucketJobResults); err != nil {
		return fmt.Errorf("bucket %s: %w", bucketJobResults, err)
	}
	return nil
}

// schemaVersion reads the version; 0 for a new, empty file.
func schemaVersion(tx *bolt.Tx) (uint64, error) {
	b := tx.Bucket(bucketMeta)
	if b == nil {
		return 0, nil
	}
	v := b.Get(metaSchema)
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: schema version of %d bytes", ErrNotDatabase, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// migrate runs each of l's steps from the file's version up to
// l.version, one transaction per step. before is called once, before the
// first step, when there is existing data to protect (version > 0).
func migrate(db *bolt.DB, l *layout, before func(from uint64) error) (from uint64, err error) {
	err = db.View(func(tx *bolt.Tx) error {
		from, err = l.check(tx)
		return err
	})
	if err != nil {
		return from, err
	}
	if from == l.version {
		return from, nil
	}
	if from > 0 {
		if err := before(from); err != nil {
			return from, fmt.Errorf("backup before migration from schema %d: %w", from, err)
		}
	}
	for _, m := range l.migrations {
		if m.to <= from {
			continue
		}
		err := db.Update(func(tx *bolt.Tx) error {
			if err := m.fn(tx); err != nil {
				return err
			}
			meta, err := tx.CreateBucketIfNotExists(bucketMeta)
			if err != nil {
				return err
			}
			return meta.Put(metaSchema, be64(m.to))
		})
		if err != nil {
			return from, fmt.Errorf("migrate to schema %d (%s): %w", m.to, m.name, err)
		}
	}
	return from, nil
}
