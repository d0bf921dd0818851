package storage

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"pagebridge/gateway/paging"
)

// op is one write waiting for the commit loop.
//
// fn runs inside the batch's write transaction. It may run more than once
// (when another op in its batch fails, the batch is re-run without that
// op), so it must compute everything from tx and its own captured inputs,
// and register side effects with tx.OnCommit. An error from fn fails only
// this op; an error committing fails every op in the batch.
//
// Whatever can be done before the transaction (validation, sealing,
// encoding) is done by the caller, in its own goroutine: the loop is the
// one writer, and time spent in fn delays every caller in the batch.
type op struct {
	fn   func(tx *txn) error
	done chan error // buffered: the loop never blocks answering
	// ride, when set, lets the op wait up to that long for another op's
	// commit to carry it instead of committing on its own (see doRiding).
	ride time.Duration
}

// txn is one write transaction of the commit loop, with what its ops
// share: the audit chain's head, read once and written once per
// transaction, and the data keys already stored in it.
type txn struct {
	*bolt.Tx
	s *Store

	headLoaded bool
	headDirty  bool
	nextSeq    uint64    // seq of the next audit entry
	prev       []byte    // hash of the last entry (or the anchor's)
	headTime   time.Time // time of the last entry appended here

	dekStored map[uint64]bool

	// pagerIDs are the pager ID puts (and deletes, nil) of this
	// transaction's ops, for the index once it has committed.
	pagerIDs map[string]*paging.PagerID
}

// finish writes what the ops left to write once, the audit head, and
// registers what must follow the commit (never before it, never if it
// fails): the head and the pager ID index into memory.
func (t *txn) finish() error {
	if changes := t.pagerIDs; len(changes) > 0 {
		t.OnCommit(func() { t.s.applyPagerIDs(changes) })
	}
	if !t.headDirty {
		return nil
	}
	seq := t.nextSeq - 1
	h := ChainHead{Seq: seq, Hash: hex.EncodeToString(t.prev), Time: t.headTime,
		MAC: hex.EncodeToString(auditMAC(t.s.auditKey, macHead, seq, t.prev))}
	v, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if err := t.Bucket(bucketMeta).Put(metaAuditHead, v); err != nil {
		return err
	}
	t.OnCommit(func() {
		t.s.headMu.Lock()
		t.s.head = h
		t.s.headMu.Unlock()
	})
	return nil
}

// update runs fn in a write transaction outside the commit loop (at Open,
// before the loop starts).
func (s *Store) update(fn func(t *txn) error) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		t := &txn{Tx: tx, s: s}
		if err := fn(t); err != nil {
			return err
		}
		return t.finish()
	})
}

// errOpFailed rolls back a batch in which one op failed.
var errOpFailed = errors.New("op failed")

// Stats counts the work of the commit loop since Open.
type Stats struct {
	// Commits is the number of write transactions committed.
	Commits uint64
	// Ops is the number of operations those commits carried. Ops/Commits
	// is the mean batch size: how many callers one fdatasync served.
	Ops uint64
	// FailedCommits is the number of commits that failed (every op in
	// them was answered with an error wrapping paging.ErrTemporary).
	FailedCommits uint64
	// MaxBatch is the most ops carried by one commit.
	MaxBatch uint64
	// Busy is the time the loop spent committing (writing and syncing),
	// linger excluded: its growth over wall time is the loop's
	// utilisation, near 1 when the disk is the bottleneck.
	Busy time.Duration
}

type stats struct {
	commits, ops, failed, maxBatch atomic.Uint64
	busy                           atomic.Int64 // nanoseconds
}

// Stats returns the commit loop's counters.
func (s *Store) Stats() Stats {
	return Stats{
		Commits:       s.stats.commits.Load(),
		Ops:           s.stats.ops.Load(),
		FailedCommits: s.stats.failed.Load(),
		MaxBatch:      s.stats.maxBatch.Load(),
		Busy:          time.Duration(s.stats.busy.Load()),
	}
}

// do hands fn to the commit loop and waits for the commit's outcome.
//
// If ctx ends before the loop has taken the op, do returns ctx.Err() and
// the op never runs. Once taken, do waits for the commit whatever ctx does:
// the caller must learn whether its write is durable.
func (s *Store) do(ctx context.Context, fn func(tx *txn) error) error {
	return s.submit(ctx, &op{fn: fn, done: make(chan error, 1)})
}

// doRiding is do for a write that is not urgent: it is committed with the
// next ops that come (no fdatasync of its own) or, if none comes within
// wait, on its own. Deleting what the other side already has is such a
// write: done a little late it only costs a redelivery after a crash.
func (s *Store) doRiding(ctx context.Context, wait time.Duration, fn func(tx *txn) error) error {
	return s.submit(ctx, &op{fn: fn, done: make(chan error, 1), ride: max(wait, time.Nanosecond)})
}

func (s *Store) submit(ctx context.Context, o *op) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case s.ops <- o:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.quit:
		return ErrClosed
	}
	return <-o.done
}

// loop is the only writer. It takes every op waiting (up to MaxBatch),
// commits them in one transaction, answers each caller, and goes straight
// back for the next batch: no timer, no delay. Callers that arrive during a
// commit queue up and form the next batch. Riding ops (doRiding) wait
// aside for the next batch, or for the first one's wait to run out.
func (s *Store) loop() {
	defer close(s.loopDone)
	batch := make([]*op, 0, s.opts.MaxBatch)
	var (
		riders []*op
		rideT  *time.Timer
		rideC  <-chan time.Time // nil while nobody rides
	)
	for {
		select {
		case o := <-s.ops:
			if o.ride > 0 {
				riders = append(riders, o)
				if rideC == nil {
					rideT = time.NewTimer(o.ride)
					rideC = rideT.C
				}
				continue
			}
			batch = append(batch[:0], o)
		case <-rideC:
			batch = batch[:0]
		case <-s.quit:
			s.drain(append(batch[:0], riders...))
			return
		}
	fill:
		for len(batch) < s.opts.MaxBatch {
			select {
			case o := <-s.ops:
				batch = append(batch, o)
			default:
				break fill
			}
		}
		if s.opts.Linger > 0 && len(batch) < s.opts.MaxBatch {
			batch = s.linger(batch)
		}
		if rideC != nil {
			batch = append(batch, riders...)
			clear(riders)
			riders = riders[:0]
			rideT.Stop()
			rideC = nil
		}
		t0 := time.Now()
		s.commit(batch)
		s.stats.busy.Add(int64(time.Since(t0)))
		clear(batch) // let answered ops be collected
	}
}

// linger waits up to Linger for more ops to join batch.
func (s *Store) linger(batch []*op) []*op {
	t := time.NewTimer(s.opts.Linger)
	defer t.Stop()
	for len(batch) < s.opts.MaxBatch {
		select {
		case o := <-s.ops:
			batch = append(batch, o)
		case <-t.C:
			return batch
		case <-s.quit:
			return batch
		}
	}
	return batch
}

// drain commits whatever callers still offer once Close has begun, then
// returns. Callers that lose the race see ErrClosed instead.
func (s *Store) drain(batch []*op) {
	for {
		select {
		case o := <-s.ops:
			batch = append(batch, o)
			if len(batch) == s.opts.MaxBatch {
				s.commit(batch)
				batch = batch[:0]
			}
		default:
			if len(batch) > 0 {
				s.commit(batch)
			}
			return
		}
	}
}

// commit runs batch in one write transaction and answers every op.
// Only called from the loop.
func (s *Store) commit(batch []*op) {
	live := slices.Clone(batch)
	for len(live) > 0 {
		failed, ferr := -1, error(nil)
		err := s.db.Update(func(tx *bolt.Tx) error {
			t := &txn{Tx: tx, s: s}
			for _, name := range s.layout.appendOnly {
				if b := tx.Bucket(name); b != nil {
					b.FillPercent = appendFill
				}
			}
			for i, o := range live {
				if err := o.fn(t); err != nil {
					failed, ferr = i, err
					return errOpFailed
				}
			}
			if err := t.finish(); err != nil {
				return err
			}
			if h := s.commitHook.Load(); h != nil {
				if err := (*h)(); err != nil {
					return err
				}
			}
			return nil
		})
		if failed >= 0 && errors.Is(err, errOpFailed) {
			// bbolt has no savepoints: drop the failing op, answer it, and
			// run the rest again in a fresh transaction.
			live[failed].done <- ferr
			live = slices.Delete(live, failed, failed+1)
			continue
		}
		if err != nil {
			s.stats.failed.Add(1)
			if errors.Is(err, berrors.ErrDatabaseNotOpen) {
				err = ErrClosed
			}
			err = temporary("commit", err)
			s.lastErr.Store(&err)
			for _, o := range live {
				o.done <- err
			}
			return
		}
		s.lastErr.Store(nil)
		n := uint64(len(live))
		s.stats.commits.Add(1)
		s.stats.ops.Add(n)
		if n > s.stats.maxBatch.Load() {
			s.stats.maxBatch.Store(n)
		}
		for _, o := range live {
			o.done <- nil
		}
		return
	}
}
