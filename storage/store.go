package storage

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"pagebridge/gateway/paging"
)

// Defaults for Options.
const (
	DefaultTimeout  = 2 * time.Second
	DefaultMaxBatch = 256
	// DefaultAuditRetention is six years, leap days included.
	DefaultAuditRetention = (6*365 + 2) * 24 * time.Hour
)

// Log keys of the few lines Open writes.
const (
	logPath   = "path"
	logSchema = "schema"
	logFrom   = "from"
	logTo     = "to"
	logSeq    = "seq"
)

// appendFill is how full bbolt fills a page before splitting it in
// buckets whose keys only grow (audit sequence numbers, ULIDs): they are
// appended to at the end and never filled in later, so the default half
// would leave every page half empty and write twice as many.
const appendFill = 0.95

// Options configure Open. Keys and AuditKey are required; the rest have
// defaults.
type Options struct {
	// Keys holds the KEK that wraps the data keys. Required.
	Keys *Keyring
	// AuditKey is the 32-byte HMAC key of the audit chain. Required.
	AuditKey []byte
	// Timeout bounds the wait for the file lock; zero or less means
	// DefaultTimeout (bbolt itself would wait forever).
	Timeout time.Duration
	// Now tells the time; default time.Now.
	Now func() time.Time
	// Logger receives the few things worth saying at Open (a migration and
	// its backup, an audit head that does not verify). Default: discard.
	Logger *slog.Logger
	// BackupDir is where a backup is written before a schema migration.
	// Default: the directory of the database file.
	BackupDir string
	// AuditRetention is how long PruneAudit keeps audit entries; default
	// DefaultAuditRetention.
	AuditRetention time.Duration
	// MaxBatch is the most operations one commit carries; default
	// DefaultMaxBatch.
	MaxBatch int
	// Linger, if set, is how long the commit loop waits for more
	// operations when a batch is not full, as PostgreSQL's commit_delay
	// does: fewer, larger commits (pages written once for many
	// operations) for a little more latency. Zero: commit at once.
	Linger time.Duration

	// sealLimit is how many values a data key seals before a new one is
	// made; tests lower it.
	sealLimit uint64
}

// ensureDefaults checks what every file needs (the keyring) and fills in
// defaults; Open checks the audit key itself, which a spool has none of.
func (o *Options) ensureDefaults(path string) error {
	if o.Keys == nil || !o.Keys.Has(o.Keys.ActiveID()) {
		return fmt.Errorf("%w: no keyring (load one with LoadKeyring)", ErrOptions)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.BackupDir == "" {
		o.BackupDir = filepath.Dir(path)
	}
	if o.AuditRetention <= 0 {
		o.AuditRetention = DefaultAuditRetention
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.sealLimit == 0 {
		o.sealLimit = defaultSealLimit
	}
	return nil
}

// Store is Pagebridge's bbolt store. It implements paging.Store. All its
// methods are safe for concurrent use; all writes go through one commit
// loop (see Accept).
type Store struct {
	db       *bolt.DB
	path     string
	layout   *layout // the store's, or a spool's (see OpenSpool)
	opts     Options
	log      *slog.Logger
	auditKey []byte
	keys     atomic.Pointer[Keyring]
	sealer   *sealer

	ops      chan *op
	quit     chan struct{}
	loopDone chan struct{}

	closeOnce sync.Once
	closed    atomic.Bool

	headMu sync.Mutex
	head   ChainHead // last committed audit head

	// pagerIDs is the committed pagerids bucket, immutable; replaced only
	// by the one writer's commit handlers (applyPagerIDs).
	pagerIDs atomic.Pointer[pagerIndex]
	// dirVersion counts committed writes of directory and configuration
	// records (DirectoryVersion).
	dirVersion atomic.Uint64

	stats      stats
	lastErr    atomic.Pointer[error]        // the last commit's failure; nil after a success
	commitHook atomic.Pointer[func() error] // tests: fail commits on demand
}

var _ paging.Store = (*Store)(nil)

// openBolt opens the file with a lock timeout and maps bbolt's errors to
// ours.
func openBolt(path string, timeout time.Duration, readOnly bool) (*bolt.DB, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      timeout,
		ReadOnly:     readOnly,
		FreelistType: bolt.FreelistMapType,
		// The freelist is rebuilt by a scan at open instead of being
		// written at every commit (as etcd runs bbolt): fewer pages per
		// commit on the hot path, a slower open of a large file.
		NoFreelistSync: true,
	})
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s (is pagebridge running?)", ErrLocked, path)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch),
		errors.Is(err, berrors.ErrChecksum):
		return nil, fmt.Errorf("%w: %s: %w", ErrNotDatabase, path, err)
	default:
		return nil, err
	}
}

// Open opens (creating if needed) the store at path.
//
// In order, it: takes the file lock (ErrLocked after opts.Timeout), refuses
// a file of a newer schema (ErrSchemaTooNew), unwraps every data key with
// opts.Keys (ErrWrongKey) and checks opts.AuditKey against the chain's key
// check (ErrWrongAuditKey) — all before changing anything — then backs the
// file up and migrates it if its schema is older, makes a fresh data key,
// and starts the commit loop.
func Open(path string, opts Options) (*Store, error) {
	if len(opts.AuditKey) != KeySize {
		return nil, fmt.Errorf("open store: %w: audit key is %d bytes, want %d", ErrOptions, len(opts.AuditKey), KeySize)
	}
	return openLayout(path, opts, storeLayout)
}

// openLayout opens (creating if needed) a file of layout l: the gateway's
// store or an agent's spool.
func openLayout(path string, opts Options, l *layout) (*Store, error) {
	if err := opts.ensureDefaults(path); err != nil {
		return nil, fmt.Errorf("open %s: %w", l.name, err)
	}
	db, err := openBolt(path, opts.Timeout, false)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", l.name, err)
	}
	s := &Store{
		db:       db,
		path:     path,
		layout:   l,
		opts:     opts,
		log:      opts.Logger,
		auditKey: opts.AuditKey,
		ops:      make(chan *op),
		quit:     make(chan struct{}),
		loopDone: make(chan struct{}),
	}
	s.keys.Store(opts.Keys)
	s.sealer = newSealer(&s.keys, opts.Now, opts.sealLimit)
	if err := s.open(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s %s: %w", l.name, path, err)
	}
	go s.loop()
	return s, nil
}

func (s *Store) open() error {
	// Checks that change nothing.
	l := s.layout
	err := s.db.View(func(tx *bolt.Tx) error {
		if _, err := l.check(tx); err != nil {
			return err
		}
		if err := s.sealer.load(tx); err != nil {
			return err
		}
		if !l.gateway {
			return nil
		}
		return checkAuditKey(tx, s.auditKey)
	})
	if err != nil {
		return err
	}
	from, err := migrate(s.db, l, s.backupBeforeMigration)
	if err != nil {
		return err
	}
	switch {
	case from == 0:
		s.log.Info("storage: created", logPath, s.path, logSchema, l.version)
	case from != l.version:
		s.log.Info("storage: migrated schema", logPath, s.path, logFrom, from, logTo, l.version)
	}
	// The session's fresh data key.
	dek, err := s.sealer.roll()
	if err != nil {
		return err
	}
	if !l.gateway {
		return s.update(func(t *txn) error { return s.sealer.store(t, dek) })
	}
	// The pager ID index, from the migrated file; the commit handlers of
	// later transactions keep it current.
	err = s.db.View(func(tx *bolt.Tx) error {
		ix, err := loadPagerIndex(tx)
		if err == nil {
			s.pagerIDs.Store(ix)
		}
		return err
	})
	if err != nil {
		return err
	}
	// The audit key check on a new chain, and the head into memory.
	return s.update(func(t *txn) error {
		meta := t.Bucket(bucketMeta)
		if meta.Get(metaAuditKeyCheck) == nil {
			if err := meta.Put(metaAuditKeyCheck, auditKeyCheck(s.auditKey)); err != nil {
				return err
			}
		}
		h, err := readHead(meta)
		if err != nil {
			return err
		}
		s.head = h
		if h.Seq > 0 && !h.valid(s.auditKey) {
			// Someone without the audit key rewrote the head (to hide a
			// truncation, say). Paging must go on, so the chain goes on from
			// it, but the next head will be validly signed: record the
			// break in the chain itself, where removing it breaks the chain.
			s.log.Warn("storage: audit head does not verify; run audit verify", logSeq, h.Seq)
			err := t.appendAudit(draftAudit(s.now(), paging.AuditEvent{
				Actor:  "system",
				Action: actionHeadInvalid,
				Object: fmt.Sprintf("audit/%d", h.Seq),
				Detail: fmt.Sprintf("the head did not verify at open (it claimed seq %d); compare with the heads in the system log", h.Seq),
			}))
			if err != nil {
				return err
			}
		}
		return s.sealer.store(t, dek)
	})
}

// backupBeforeMigration copies the file, as it is, into BackupDir as
// <name>.v<from>-<UTC time>.bak.
func (s *Store) backupBeforeMigration(from uint64) error {
	if err := os.MkdirAll(s.opts.BackupDir, 0o700); err != nil {
		return err
	}
	name := fmt.Sprintf("%s.v%d-%s.bak", filepath.Base(s.path), from, s.opts.Now().UTC().Format("20060102T150405.000000000Z"))
	dest := filepath.Join(s.opts.BackupDir, name)
	err := writeFileAtomic(dest, 0o600, false, func(w io.Writer) error {
		return s.db.View(func(tx *bolt.Tx) error {
			_, err := tx.WriteTo(w)
			return err
		})
	})
	if err != nil {
		return err
	}
	s.log.Info("storage: backup before migration", logPath, dest, logSchema, from)
	return nil
}

// Close stops taking writes, commits the ones already taken, waits for the
// commit loop and closes the file. Later calls to the store's methods
// return ErrClosed (which wraps paging.ErrTemporary). Closing twice is not
// an error.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.quit)
		<-s.loopDone
		err = s.db.Close()
	})
	return err
}

// Ping reports whether the store can be expected to take writes: it is
// open, readable, and its last commit did not fail (a full or failing
// disk). It is the gateway's readiness check; it writes nothing.
func (s *Store) Ping(ctx context.Context) error {
	if p := s.lastErr.Load(); p != nil {
		return fmt.Errorf("store: last commit failed: %w", *p)
	}
	return s.view(ctx, func(tx *bolt.Tx) error {
		_, err := schemaVersion(tx)
		return err
	})
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// view runs fn in a read transaction, mapping a closed database to
// ErrClosed. fn must copy out any bytes it keeps.
func (s *Store) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.View(fn)
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

func (s *Store) now() time.Time { return s.opts.Now() }

// checkAuditKey compares the audit key with the check value the chain was
// started with; a new chain (no check value yet) accepts any key.
func checkAuditKey(tx *bolt.Tx, key []byte) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return nil
	}
	v := meta.Get(metaAuditKeyCheck)
	if v != nil && !hmac.Equal(v, auditKeyCheck(key)) {
		return fmt.Errorf("%w (key check value differs: another database's audit key?)", ErrWrongAuditKey)
	}
	return nil
}
