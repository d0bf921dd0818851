package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"pagebridge/gateway/paging"
)

// JobResult is what an agent reported of a job the gateway sent it: the
// outcome on its device. None of it is PHI, and none of it is sealed.
type JobResult struct {
	// Job is the job's idempotency key (its outbox item's ID).
	Job    paging.ID `json:"job"`
	Agent  string    `json:"agent"`
	Device string    `json:"device"`
	// Outcome is the agent's word for it ("sent", "fail-temp",
	// "fail-perm", "unknown"); opaque to the store.
	Outcome string `json:"outcome"`
	// Code is the device's own code ("211", "+CMS ERROR: 500").
	Code string `json:"code,omitempty"`
	// Note is a short non-PHI detail.
	Note string `json:"note,omitempty"`
	// At is when the device finished, by the agent's clock.
	At time.Time `json:"at"`
	// Received is when the gateway got the result; RecordJobResult sets
	// the store's time if it is zero.
	Received time.Time `json:"received"`
	// Attempt is the send of the job the result is for (1 for the first).
	Attempt int `json:"attempt"`
	// Resent: the job was in flight when the agent lost track of it (a
	// crash, a line that failed mid-write) and was sent again, so the
	// device may have sent it twice.
	Resent bool `json:"resent,omitempty"`
}

// Limits of a JobResult's fields, in bytes.
const (
	MaxJobResultField = 128 // Agent, Device, Code
	MaxJobResultNote  = 1024
	maxOutcomeLen     = 32
)

func (r *JobResult) validate() error {
	switch {
	case r.Job == (paging.ID{}):
		return fmt.Errorf("%w job result: no job", paging.ErrInvalid)
	case r.Agent == "" || len(r.Agent) > MaxJobResultField:
		return fmt.Errorf("%w job result %s: agent must be 1 to %d bytes", paging.ErrInvalid, r.Job, MaxJobResultField)
	case r.Device == "" || len(r.Device) > MaxJobResultField:
		return fmt.Errorf("%w job result %s: device must be 1 to %d bytes", paging.ErrInvalid, r.Job, MaxJobResultField)
	case r.Outcome == "" || len(r.Outcome) > maxOutcomeLen:
		return fmt.Errorf("%w job result %s: outcome must be 1 to %d bytes", paging.ErrInvalid, r.Job, maxOutcomeLen)
	case len(r.Code) > MaxJobResultField:
		return fmt.Errorf("%w job result %s: code longer than %d bytes", paging.ErrInvalid, r.Job, MaxJobResultField)
	case len(r.Note) > MaxJobResultNote:
		return fmt.Errorf("%w job result %s: note longer than %d bytes", paging.ErrInvalid, r.Job, MaxJobResultNote)
	case r.At.IsZero():
		return fmt.Errorf("%w job result %s: no time", paging.ErrInvalid, r.Job)
	case r.Attempt < 0:
		return fmt.Errorf("%w job result %s: negative attempt", paging.ErrInvalid, r.Job)
	}
	return nil
}

func objectJob(id paging.ID) string { return "job/" + id.String() }

// RecordJobResult stores r, once per job: the first result recorded for
// r.Job wins, and later ones (a redelivery, or a second opinion after a
// re-send) return added false and change nothing. A delivery report
// (outcome "delivered" or "undelivered", an SMS status report) is kept
// once beside the job's result, audited as "job.report". With the result it
// appends a "job.result" audit entry (actor "agent:<Agent>"; the detail
// names the outcome, device, code and attempt, never the note), in the same
// commit. An invalid result is refused with paging.ErrInvalid; an error
// wrapping paging.ErrTemporary means nothing was stored.
func (s *Store) RecordJobResult(ctx context.Context, r JobResult) (added bool, err error) {
	if err := r.validate(); err != nil {
		return false, fmt.Errorf("record job result: %w", err)
	}
	now := s.now()
	r.At = r.At.UTC()
	if r.Received.IsZero() {
		r.Received = now
	}
	r.Received = r.Received.UTC()
	v, err := json.Marshal(&r)
	if err != nil {
		return false, fmt.Errorf("record job result %s: %w", r.Job, err)
	}
	action, key := "job.result", r.Job.Bytes()
	if r.Outcome == "delivered" || r.Outcome == "undelivered" {
		// A delivery report follows the job's own result and is kept
		// beside it, once.
		action, key = "job.report", append(key, 'r')
	}
	d := draftAudit(now, paging.AuditEvent{
		Actor:  "agent:" + r.Agent,
		Action: action,
		Object: objectJob(r.Job),
		Detail: resultDetail(&r),
	})
	err = s.do(ctx, func(tx *txn) error {
		added = false
		b := tx.Bucket(bucketJobResults)
		if b.Get(key) != nil {
			return nil
		}
		if err := b.Put(key, v); err != nil {
			return err
		}
		added = true
		return tx.appendAudit(d)
	})
	if err != nil {
		return false, fmt.Errorf("record job result %s: %w", r.Job, err)
	}
	return added, nil
}

// resultDetail is the audit detail of a result: its non-PHI fields but
// the free-text note.
func resultDetail(r *JobResult) string {
	d := fmt.Sprintf("outcome %s on device %s, attempt %d, code %q", r.Outcome, r.Device, r.Attempt, r.Code)
	if r.Resent {
		d += ", re-sent after an unknown outcome"
	}
	return d
}

// JobResult returns the result recorded for job; paging.ErrNotFound if
// there is none.
func (s *Store) JobResult(ctx context.Context, job paging.ID) (JobResult, error) {
	var r JobResult
	found := false
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketJobResults).Get(job.Bytes())
		if v == nil {
			return nil
		}
		found = true
		return decodeJobResult(job.Bytes(), v, &r)
	})
	switch {
	case err != nil:
		return JobResult{}, fmt.Errorf("job result %s: %w", job, err)
	case !found:
		return JobResult{}, fmt.Errorf("job result %s: %w", job, paging.ErrNotFound)
	}
	return r, nil
}

// JobResults returns up to limit results in job ID order (the order the
// jobs were made), starting after job after (the zero ID: from the first).
func (s *Store) JobResults(ctx context.Context, after paging.ID, limit int) ([]JobResult, error) {
	var out []JobResult
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketJobResults).Cursor()
		for k, v := seekAfter(c, after); k != nil && len(out) < limit; k, v = c.Next() {
			var r JobResult
			if err := decodeJobResult(k, v, &r); err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("job results: %w", err)
	}
	return out, nil
}

func decodeJobResult(key, v []byte, r *JobResult) error {
	if err := json.Unmarshal(v, r); err != nil {
		return fmt.Errorf("%w: job result %x: %v", ErrCorrupt, key, err)
	}
	if string(r.Job.Bytes()) != string(key) {
		return fmt.Errorf("%w: job result %s stored under key %x", ErrCorrupt, r.Job, key)
	}
	return nil
}
