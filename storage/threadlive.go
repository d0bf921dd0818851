package storage

// What the web app's live updates read of a thread without its PHI: one
// person's inbox entry, and the receipts of every message. Neither reads
// a text or a subject, so neither is audited.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"pagebridge/gateway/paging"
)

// InboxEntryOf returns thread as person's inbox shows it, with their
// unread count. ErrNotMember if they are not a member; paging.ErrNotFound
// for an unknown thread.
func (s *Store) InboxEntryOf(ctx context.Context, thread paging.ID, person string) (InboxEntry, error) {
	var out InboxEntry
	err := s.view(ctx, func(tx *bolt.Tx) error {
		r, err := getThread(tx, thread)
		if err != nil {
			return err
		}
		m, ok := r.Member(person)
		if !ok {
			return ErrNotMember
		}
		n, err := countUnread(tx, thread, person, m.LastRead)
		if err != nil {
			return err
		}
		out = InboxEntry{Thread: r.Thread, Unread: n}
		return nil
	})
	if err != nil {
		return InboxEntry{}, fmt.Errorf("inbox entry of thread %s for %s: %w", thread, person, err)
	}
	return out, nil
}

// MessageReceipts are the receipts of one thread message, without its
// text.
type MessageReceipts struct {
	Message paging.ID `json:"message"`
	Kind    PostKind  `json:"kind"`
	Author  string    `json:"author,omitempty"`
	// Receipts of a text message, by person; a page's are its route's
	// deliveries, which the routing engine keeps.
	Receipts []Receipt `json:"receipts,omitempty"`
}

// ThreadReceipts returns the receipts of every message of a thread, oldest
// message first, without texts. paging.ErrNotFound for an unknown thread.
func (s *Store) ThreadReceipts(ctx context.Context, thread paging.ID) ([]MessageReceipts, error) {
	var out []MessageReceipts
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if _, err := getThread(tx, thread); err != nil {
			return err
		}
		c := tx.Bucket(bucketThreadPosts).Cursor()
		rc := tx.Bucket(bucketThreadReceipts).Cursor()
		for k, v := c.Seek(thread[:]); k != nil && bytes.HasPrefix(k, thread[:]); k, v = c.Next() {
			p, err := decodePost(k, v)
			if err != nil {
				return err
			}
			mr := MessageReceipts{Message: p.ID, Kind: p.Kind, Author: p.Author}
			for rk, rv := rc.Seek(k); rk != nil && bytes.HasPrefix(rk, k); rk, rv = rc.Next() {
				var r Receipt
				if err := json.Unmarshal(rv, &r); err != nil {
					return fmt.Errorf("%w: receipt %x: %v", ErrCorrupt, rk, err)
				}
				mr.Receipts = append(mr.Receipts, r)
			}
			out = append(out, mr)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("receipts of thread %s: %w", thread, err)
	}
	return out, nil
}
