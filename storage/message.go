package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"pagebridge/gateway/paging"
)

// messageRecord is a message as stored: the non-PHI fields as JSON, the
// text sealed (paging.PHI would marshal as "[REDACTED]", so the text is
// sealed from Reveal explicitly).
type messageRecord struct {
	ID        paging.ID         `json:"id"`
	Source    paging.Source     `json:"source"`
	PagerID   string            `json:"pager_id"`
	Priority  paging.Priority   `json:"priority"`
	SenderRef string            `json:"sender_ref,omitempty"`
	Received  time.Time         `json:"received"`
	Bypassed  []paging.Endpoint `json:"bypassed,omitempty"`
	DeliverAt time.Time         `json:"deliver_at,omitzero"`
	// Text is the sealed text.
	Text []byte `json:"text"`
}

const fieldText = "text"

func objectMessage(id paging.ID) string { return "message/" + id.String() }

// Accept makes m durable. It validates m (an error wrapping
// paging.ErrInvalid refuses it), then queues the write: the message, its
// text sealed, and a "message.accept" audit entry for by, in one
// transaction. It returns nil only after that transaction is committed to
// disk, shared with whatever other writes were waiting (group commit).
//
// A message whose ID is already stored is not stored again, and Accept
// returns nil: senders retry. An error wrapping paging.ErrTemporary (disk
// full or failing, store closed) means nothing was stored. If ctx ends
// before the write is taken into a commit, Accept returns ctx.Err() and
// nothing is stored; once taken, it waits for the outcome.
func (s *Store) Accept(ctx context.Context, m *paging.Message, by paging.AuditEvent) error {
	return s.accept(ctx, m, by, nil)
}

// AcceptWCTP is Accept with the WCTP bookkeeping of the page written by
// wctp in the same commit (see UpdateWCTP), so that a sender who hears 200
// can always ask about its page, at the cost of no second commit. wctp runs
// only when the page is new (not for a retry of a stored one), and may
// run more than once.
func (s *Store) AcceptWCTP(ctx context.Context, m *paging.Message, by paging.AuditEvent, wctp func(t *WCTPTx) error) error {
	return s.accept(ctx, m, by, wctp)
}

func (s *Store) accept(ctx context.Context, m *paging.Message, by paging.AuditEvent, wctp func(t *WCTPTx) error) error {
	if m == nil {
		return fmt.Errorf("accept: %w message: nil", paging.ErrInvalid)
	}
	if err := m.Validate(); err != nil {
		return fmt.Errorf("accept: %w", err)
	}
	rec := messageRecord{
		ID:        m.ID,
		Source:    m.Source,
		PagerID:   m.PagerID,
		Priority:  m.Priority,
		SenderRef: m.SenderRef,
		Received:  m.Received.UTC(),
		Bypassed:  m.Bypassed,
		DeliverAt: m.DeliverAt.UTC(),
	}
	key := m.ID.Bytes()
	text, err := s.sealer.seal(bucketMessages, key, fieldText, []byte(m.Text.Reveal()))
	if err != nil {
		return fmt.Errorf("accept %s: %w", m.ID, err)
	}
	rec.Text = text.value
	v, err := json.Marshal(&rec)
	if err != nil {
		return fmt.Errorf("accept %s: %w", m.ID, err)
	}
	by.Action, by.Object = "message.accept", objectMessage(m.ID)
	d := draftAudit(s.now(), by)
	err = s.do(ctx, func(tx *txn) error {
		b := tx.Bucket(bucketMessages)
		if b.Get(key) != nil {
			return nil // a retry of a message already stored
		}
		if err := s.sealer.store(tx, text.dek); err != nil {
			return err
		}
		if err := b.Put(key, v); err != nil {
			return err
		}
		// Queued for the routing engine in the same commit: a page
		// accepted is a page routed, across any crash.
		if err := tx.Bucket(bucketRoutePending).Put(key, nil); err != nil {
			return err
		}
		if wctp != nil {
			b, err := tx.CreateBucketIfNotExists(bucketWCTP)
			if err != nil {
				return err
			}
			if err := wctp(&WCTPTx{b: b}); err != nil {
				return err
			}
		}
		return tx.appendAudit(d)
	})
	if err != nil {
		return fmt.Errorf("accept %s: %w", m.ID, err)
	}
	return nil
}

// getMessage reads and unseals one message inside tx.
func (s *Store) getMessage(tx *bolt.Tx, key []byte) (*paging.Message, error) {
	v := tx.Bucket(bucketMessages).Get(key)
	if v == nil {
		return nil, nil
	}
	return s.decodeMessage(key, v)
}

func (s *Store) decodeMessage(key, v []byte) (*paging.Message, error) {
	return s.decodeMessageText(key, v, true)
}

// decodeMessageText decodes a message record, unsealing its text only if
// withText is set.
func (s *Store) decodeMessageText(key, v []byte, withText bool) (*paging.Message, error) {
	var r messageRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("%w: message %x: %v", ErrCorrupt, key, err)
	}
	if string(r.ID.Bytes()) != string(key) {
		return nil, fmt.Errorf("%w: message record %s stored under key %x", ErrCorrupt, r.ID, key)
	}
	m := &paging.Message{
		ID:        r.ID,
		Source:    r.Source,
		PagerID:   r.PagerID,
		Priority:  r.Priority,
		SenderRef: r.SenderRef,
		Received:  r.Received,
		Bypassed:  r.Bypassed,
		DeliverAt: r.DeliverAt,
	}
	if withText {
		text, err := s.sealer.open(bucketMessages, key, fieldText, r.Text)
		if err != nil {
			return nil, err
		}
		m.Text = paging.NewPHI(string(text))
	}
	return m, nil
}

// Message returns the stored message id with its text, after recording
// the read in the audit log ("message.read" on behalf of by). It returns an
// error wrapping paging.ErrNotFound if there is none (that is not audited),
// ErrCorrupt if the record fails its integrity check, and an error wrapping
// paging.ErrTemporary if the audit entry could not be committed: the text is
// not handed out unaudited.
func (s *Store) Message(ctx context.Context, id paging.ID, by paging.AuditEvent) (*paging.Message, error) {
	var m *paging.Message
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		m, err = s.getMessage(tx, id.Bytes())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("message %s: %w", id, err)
	}
	if m == nil {
		return nil, fmt.Errorf("message %s: %w", id, paging.ErrNotFound)
	}
	by.Action, by.Object = "message.read", objectMessage(id)
	if err := s.Audit(ctx, s.now(), by); err != nil {
		return nil, fmt.Errorf("message %s: audit read: %w", id, err)
	}
	return m, nil
}

// messagePage is how many messages Messages reads per read transaction. No
// transaction is held while fn runs, so fn may write to the store.
const messagePage = 256

// Messages calls fn for every stored message, oldest ID first, with its
// text. It stops at fn's first error and returns it. The reads are recorded
// as one "message.read" audit entry on behalf of by, Object "messages" and
// Detail "n messages", written when the iteration ends; if that entry
// cannot be committed Messages returns an error wrapping
// paging.ErrTemporary.
func (s *Store) Messages(ctx context.Context, by paging.AuditEvent, fn func(*paging.Message) error) error {
	n := 0
	var after []byte
	var ferr error
	for ferr == nil {
		var page []*paging.Message
		err := s.view(ctx, func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketMessages).Cursor()
			k, v := c.First()
			if after != nil {
				if k, v = c.Seek(after); k != nil && string(k) == string(after) {
					k, v = c.Next()
				}
			}
			for ; k != nil && len(page) < messagePage; k, v = c.Next() {
				m, err := s.decodeMessage(k, v)
				if err != nil {
					return err
				}
				page = append(page, m)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("messages: %w", err)
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].ID.Bytes()
		for _, m := range page {
			if ferr = ctx.Err(); ferr != nil {
				break
			}
			n++
			if ferr = fn(m); ferr != nil {
				break
			}
		}
	}
	if n > 0 {
		by.Action, by.Object, by.Detail = "message.read", "messages", fmt.Sprintf("%d messages", n)
		// The reads happened: record them even if ctx has ended.
		if err := s.Audit(context.WithoutCancel(ctx), s.now(), by); err != nil {
			return fmt.Errorf("messages: audit read: %w", err)
		}
	}
	return ferr
}

// seekAfter moves c to the first key after the ID after, or to the first
// key for the zero ID: where a listing that pages by ID resumes.
func seekAfter(c *bolt.Cursor, after paging.ID) (k, v []byte) {
	if after == (paging.ID{}) {
		return c.First()
	}
	if k, v = c.Seek(after.Bytes()); k != nil && string(k) == string(after.Bytes()) {
		return c.Next()
	}
	return k, v
}

// MessageIDs returns the IDs of stored messages after after (all, for the
// zero ID), oldest first, at most limit. It reads no PHI and is not
// audited.
func (s *Store) MessageIDs(ctx context.Context, after paging.ID, limit int) ([]paging.ID, error) {
	var out []paging.ID
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketMessages).Cursor()
		for k, _ := seekAfter(c, after); k != nil && len(out) < limit; k, _ = c.Next() {
			var id paging.ID
			copy(id[:], k)
			out = append(out, id)
		}
		return nil
	})
	return out, err
}
