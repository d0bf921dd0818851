package storage

import (
	"bytes"
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"pagebridge/gateway/paging"
)

// Search in a person's own threads. Texts are sealed, so there is no
// index to look in: SearchThreads opens the texts of the person's most
// recent threads in memory, one read transaction, and hands each to the
// caller's matcher. Nothing it opens is written anywhere; the search is
// audited once, without what was looked for.

// SearchHit is a message that matched, with its thread.
type SearchHit struct {
	Thread Thread
	// Message is the message that matched; the thread's ID with Subject
	// set when the subject did.
	Message paging.ID
	Subject bool
	At      time.Time
	Author  string
	// Text is the matching text (the subject, the message's text, or an
	// attachment's name).
	Text paging.PHI
}

// SearchReport says how much a search looked through.
type SearchReport struct {
	Threads, Messages int
	// More: the person has threads beyond maxThreads, not searched.
	More bool
}

// SearchThreads looks through person's threads, newest activity first, at
// most maxThreads of them: each subject, message text (a page's too) and
// attachment name goes to match, and those it accepts are returned (at
// most maxHits, newest thread first). Only threads person is a member of
// are opened. The search is audited as "thread.search" for by with how
// much was searched and which messages were found (their IDs), never the
// query, before any hit is returned.
func (s *Store) SearchThreads(ctx context.Context, person string, match func(text string) bool, maxThreads, maxHits int, by paging.AuditEvent) ([]SearchHit, SearchReport, error) {
	var (
		hits []SearchHit
		rep  SearchReport
	)
	if err := validPerson(person); err != nil {
		return nil, rep, fmt.Errorf("search: %w", err)
	}
	prefix := inboxPrefix(person)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketThreadInbox).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if rep.Threads == maxThreads {
				rep.More = true
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			id, err := toID(k[len(k)-16:])
			if err != nil {
				return err
			}
			r, err := getThread(tx, id)
			if err != nil {
				return err
			}
			if !r.IsMember(person) {
				continue // an index entry left behind: not theirs to search
			}
			rep.Threads++
			if len(r.Subject) > 0 {
				sub, err := s.sealer.open(bucketThreads, id[:], fieldSubject, r.Subject)
				if err != nil {
					return err
				}
				if match(string(sub)) {
					hits = append(hits, SearchHit{Thread: r.Thread, Message: id, Subject: true, At: r.Created,
						Author: r.CreatedBy, Text: paging.NewPHI(string(sub))})
				}
			}
			pc := tx.Bucket(bucketThreadPosts).Cursor()
			for pk, pv := pc.Seek(id[:]); pk != nil && bytes.HasPrefix(pk, id[:]); pk, pv = pc.Next() {
				p, err := decodePost(pk, pv)
				if err != nil {
					return err
				}
				rep.Messages++
				texts, err := s.postTexts(tx, pk, p)
				if err != nil {
					return err
				}
				for _, text := range texts {
					if match(text) {
						hits = append(hits, SearchHit{Thread: r.Thread, Message: p.ID, At: p.At, Author: p.Author, Text: paging.NewPHI(text)})
						break
					}
				}
			}
			if maxHits > 0 && len(hits) >= maxHits {
				hits = hits[:maxHits]
				rep.More = true
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return nil, rep, fmt.Errorf("search threads of %s: %w", person, err)
	}
	at := s.now().UTC()
	err = s.do(context.WithoutCancel(ctx), func(tx *txn) error {
		ev := by
		ev.Action, ev.Object = "thread.search", "person/"+person
		ev.Detail = fmt.Sprintf("searched %d threads, %d messages; %d found", rep.Threads, rep.Messages, len(hits))
		// Which messages the hits showed (IDs, no text): the read the
		// search made.
		for i, h := range hits {
			if i == 0 {
				ev.Detail += ":"
			}
			ev.Detail += " " + h.Thread.ID.String() + "/" + h.Message.String()
		}
		return tx.appendAudit(draftAudit(at, ev))
	})
	if err != nil {
		return nil, rep, fmt.Errorf("search threads of %s: audit: %w", person, err)
	}
	return hits, rep, nil
}

// postTexts opens what of a post a search looks at: its text (a page's,
// from the stored page) and its attachments' names.
func (s *Store) postTexts(tx *bolt.Tx, k []byte, p *postRecord) ([]string, error) {
	switch p.Kind {
	case PostPage:
		page, err := s.getMessage(tx, p.ID[:])
		if err != nil || page == nil {
			return nil, err
		}
		return []string{page.Text.Reveal()}, nil
	case PostText:
		text, err := s.sealer.open(bucketThreadPosts, k, fieldText, p.Text)
		if err != nil {
			return nil, err
		}
		out := []string{string(text)}
		atts, err := s.openAttachments(k, p.Attachments)
		for _, a := range atts {
			out = append(out, a.Name.Reveal())
		}
		return out, err
	}
	return nil, fmt.Errorf("%w: thread message %s of kind %q", ErrCorrupt, p.ID, p.Kind)
}
