package main

// The WCTP status and two-way side at the edge: wctp.Tracker over the
// store (bookkeeping in storage's WCTP records), the engine's routes
// (delivery states, acknowledgements) and page threads (reads, replies).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"pagebridge/gateway/engine"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/wctp"
	"pagebridge/storage"
)

// wctpKeep is how long after a page its sender can ask about it and poll
// for its status and replies. Older bookkeeping is deleted as new pages
// of the same sender are tracked.
const wctpKeep = 24 * time.Hour

// wctpTracker implements wctp.Tracker.
type wctpTracker struct {
	st    *storage.Store
	clock paging.Clock
	keep  time.Duration
}

var _ wctp.Tracker = (*wctpTracker)(nil)

func newWCTPTracker(st *storage.Store, clock paging.Clock) *wctpTracker {
	return &wctpTracker{st: st, clock: clock, keep: wctpKeep}
}

// wctpPage is the bookkeeping of one tracked page (no PHI).
type wctpPage struct {
	// Message and Received are not stored: the key holds the message's
	// ID, and the ID its time (setID). The record is written with every
	// WCTP page, so every byte counts.
	Message   paging.ID `json:"-"`
	Received  time.Time `json:"-"`
	Ref       string    `json:"ref,omitempty"`
	Recipient string    `json:"recipient"`
	Replies   bool      `json:"replies,omitempty"` // allowResponse
	Queued    bool      `json:"notify_queued,omitempty"`
	Delivered bool      `json:"notify_delivered,omitempty"`
	Read      bool      `json:"notify_read,omitempty"`
	// Reported is the rank of the newest status the sender confirmed.
	Reported int `json:"reported,omitempty"`
	// Confirmed are the replies the sender confirmed.
	Confirmed []paging.ID `json:"confirmed,omitempty"`
	// Seen is the thread's activity up to which every reply is
	// confirmed: a thread with none since is not read again.
	Seen time.Time `json:"seen,omitzero"`
}

// setID fills in what the record's key says: the message's ID and the
// time it was received (the ID's, to the millisecond).
func (p *wctpPage) setID(id paging.ID) {
	p.Message, p.Received = id, time.UnixMilli(int64(id.Time())).UTC()
}

// wanted returns the highest status rank up to rank that the sender asked
// to hear of: QUEUED, DELIVERED and READ when it set notifyWhen* for them,
// and the final outcome (acknowledged, expired) when it set any.
func (p *wctpPage) wanted(rank int) int {
	for r := rank; r > p.Reported; r-- {
		switch {
		case r == int(wctp.StateQueued) && p.Queued,
			r == int(wctp.StateDelivered) && p.Delivered,
			r == int(wctp.StateRead) && p.Read,
			r == int(wctp.StateAcknowledged) && (p.Queued || p.Delivered || p.Read):
			return r
		}
	}
	return 0
}

// wctpPoller is an enterprise sender's poll state: the messages handed out
// and not yet confirmed, with their sequence numbers.
type wctpPoller struct {
	Next uint64    `json:"next"`
	Out  []wctpOut `json:"out,omitempty"`
}

// wctpOut is one message handed out: a reply (Reply set) or a status of
// rank Rank.
type wctpOut struct {
	Seq     uint64    `json:"seq"`
	Message paging.ID `json:"message"`
	Reply   paging.ID `json:"reply,omitzero"`
	Rank    int       `json:"rank,omitempty"`
}

func (o wctpOut) same(p wctpOut) bool {
	return o.Message == p.Message && o.Reply == p.Reply && o.Rank == p.Rank
}

// Keys: a party's pages sort by message ID, so by time, under one prefix.
func wctpPrefix(p wctp.Party) string {
	kind := "s"
	if p.Client {
		kind = "c"
	}
	return "page\x00" + kind + "\x00" + p.ID + "\x00"
}

func wctpPageKey(p wctp.Party, id paging.ID) string { return wctpPrefix(p) + string(id[:]) }

// wctpPageID is the message ID at the end of a page record's key.
func wctpPageID(key string) (paging.ID, error) {
	var id paging.ID
	if len(key) < len(id) {
		return id, fmt.Errorf("wctp record key of %d bytes", len(key))
	}
	copy(id[:], key[len(key)-len(id):])
	return id, nil
}

func wctpPollerKey(sender string) string { return "poll\x00" + sender }

// idAt is the smallest ID of time t.
func idAt(t time.Time) paging.ID {
	var id paging.ID
	_ = id.SetTime(uint64(max(t.UnixMilli(), 0)))
	return id
}

// Track records a page and forgets, a few at a time, the party's pages
// older than keep. The gateway's accepter writes the same record in the
// page's own commit instead (record, via AcceptTracked).
func (w *wctpTracker) Track(ctx context.Context, t wctp.Tracked) error {
	return w.st.UpdateWCTP(ctx, nil, w.record(t))
}

// record writes t's bookkeeping and prunes the party's oldest.
func (w *wctpTracker) record(t wctp.Tracked) func(tx *storage.WCTPTx) error {
	rec := wctpPage{Message: t.Message, Ref: t.Ref, Recipient: t.Recipient, Received: t.Received,
		Replies: t.AllowResponse, Queued: t.NotifyQueued, Delivered: t.NotifyDelivered, Read: t.NotifyRead}
	prefix := wctpPrefix(t.Party)
	cutoff := prefix + string(idAt(w.clock.Now().Add(-w.keep)).Bytes())
	return func(tx *storage.WCTPTx) error {
		if _, err := tx.DeleteBefore(prefix, cutoff, 16); err != nil {
			return err
		}
		return tx.Put(wctpPageKey(t.Party, t.Message), rec)
	}
}

// Query answers a client's wctp-ClientQuery.
func (w *wctpTracker) Query(ctx context.Context, c wctp.Caller, tracking, recipient string) (wctp.Report, error) {
	id, err := paging.ParseID(tracking)
	if err != nil {
		return wctp.Report{}, wctp.ErrUnknownMessage
	}
	var rec wctpPage
	switch err := w.st.WCTPRecord(ctx, wctpPageKey(c.Party, id), &rec); {
	case errors.Is(err, paging.ErrNotFound):
		return wctp.Report{}, wctp.ErrUnknownMessage
	case err != nil:
		return wctp.Report{}, err
	}
	rec.setID(id)
	if rec.Recipient != recipient {
		return wctp.Report{}, wctp.ErrUnknownMessage
	}
	rep := wctp.Report{Received: rec.Received}
	if rep.Status, err = w.status(ctx, &rec); err != nil {
		return wctp.Report{}, err
	}
	if rec.Replies {
		replies, _, err := w.replies(ctx, c, &rec, true)
		if err != nil {
			return wctp.Report{}, err
		}
		rep.Replies = replies
	}
	return rep, nil
}

// status works out how far a page has come: acknowledged or expired from
// its route; otherwise read if a device reported it read or someone read
// its thread, delivered if a device reported it delivered, else queued.
// A page the engine found to repeat an earlier one has that page's
// status.
func (w *wctpTracker) status(ctx context.Context, rec *wctpPage) (wctp.Status, error) {
	st := wctp.Status{State: wctp.StateQueued, At: rec.Received}
	id := rec.Message
	var r engine.Route
	for range 2 {
		switch err := w.st.Route(ctx, id, &r); {
		case errors.Is(err, paging.ErrNotFound):
			return st, nil // not routed yet
		case err != nil:
			return st, err
		}
		if r.State != engine.StateDuplicate || r.DuplicateOf == (paging.ID{}) {
			break
		}
		id = r.DuplicateOf
	}
	raise := func(s wctp.State, at time.Time) {
		if s.Rank() > st.State.Rank() || s.Rank() == st.State.Rank() && at.After(st.At) {
			st = wctp.Status{State: s, At: at}
		}
	}
	for _, d := range r.Deliveries {
		for _, a := range d.Attempts {
			switch a.State {
			case paging.StateDelivered:
				raise(wctp.StateDelivered, a.Updated)
			case paging.StateRead:
				raise(wctp.StateRead, a.Updated)
			}
		}
	}
	switch t, err := w.st.Thread(ctx, id); {
	case err == nil:
		for _, m := range t.Members {
			// The page is the thread's first message (its ID is the
			// page's): a member who read anything read it. When is not
			// kept; the newest message they read is no later.
			if m.LastRead.Compare(id) >= 0 {
				raise(wctp.StateRead, time.UnixMilli(int64(m.LastRead.Time())))
			}
		}
	case !errors.Is(err, paging.ErrNotFound):
		return st, err
	}
	switch {
	case r.State == engine.StateAcknowledged && r.Acked != nil:
		st = wctp.Status{State: wctp.StateAcknowledged, At: r.Acked.At}
	case r.State == engine.StateAcknowledged:
		st.State = wctp.StateAcknowledged
	case r.State == engine.StateExpired:
		st.State = wctp.StateExpired
	}
	return st, nil
}

// replies returns the replies in the page's thread that the sender has
// not confirmed (all of them with all set), oldest first, and the
// thread's activity when read. The thread is read, audited as the
// party's read, only when it has had activity since rec.Seen.
func (w *wctpTracker) replies(ctx context.Context, c wctp.Caller, rec *wctpPage, all bool) ([]wctp.Reply, time.Time, error) {
	t, err := w.st.Thread(ctx, rec.Message)
	switch {
	case errors.Is(err, paging.ErrNotFound):
		return nil, time.Time{}, nil // not on the app (yet), or swept
	case err != nil:
		return nil, time.Time{}, err
	case !t.LastActivity.After(t.Created) || !all && !t.LastActivity.After(rec.Seen):
		return nil, t.LastActivity, nil // nothing posted (since)
	}
	v, err := w.st.ThreadMessages(ctx, rec.Message, paging.AuditEvent{Actor: c.Actor(), Source: c.Remote})
	if err != nil {
		if errors.Is(err, paging.ErrNotFound) {
			return nil, time.Time{}, nil // swept meanwhile
		}
		return nil, time.Time{}, err
	}
	var out []wctp.Reply
	for _, m := range v.Messages {
		if m.Kind != storage.PostText || !all && slices.Contains(rec.Confirmed, m.ID) {
			continue
		}
		out = append(out, wctp.Reply{ID: m.ID.String(), From: m.Author, At: m.At, Text: m.Text})
	}
	return out, t.LastActivity, nil
}

// Poll applies what the sender confirmed, then hands out what it has not.
func (w *wctpTracker) Poll(ctx context.Context, c wctp.Caller, received []wctp.Received, max int) ([]wctp.Item, error) {
	if err := w.confirm(ctx, c, received); err != nil {
		return nil, err
	}
	var (
		cands []wctpOut
		items []wctp.Item
		seen  = map[paging.ID]time.Time{} // threads with no reply left to confirm
	)
	from := wctpPrefix(c.Party) + string(idAt(w.clock.Now().Add(-w.keep)).Bytes())
	var recs []wctpPage
	err := w.st.WCTPRecords(ctx, wctpPrefix(c.Party), from, func(key string, val json.RawMessage) error {
		var rec wctpPage
		id, err := wctpPageID(key)
		if err != nil {
			return err
		}
		rec.setID(id)
		if err := json.Unmarshal(val, &rec); err != nil {
			return fmt.Errorf("wctp page record: %w", err)
		}
		recs = append(recs, rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range recs {
		rec := &recs[i]
		if len(items) >= max {
			break
		}
		item := wctp.Item{Message: rec.Message, Ref: rec.Ref, Recipient: rec.Recipient, Received: rec.Received}
		if rec.Queued || rec.Delivered || rec.Read {
			st, err := w.status(ctx, rec)
			if err != nil {
				return nil, err
			}
			if rank := rec.wanted(st.State.Rank()); rank > 0 {
				if rank < st.State.Rank() {
					// What the sender asked for was passed on the way:
					// say that, as of now.
					st.State = wctp.State(rank)
				}
				it := item
				it.Status = st
				items = append(items, it)
				cands = append(cands, wctpOut{Message: rec.Message, Rank: rank})
			}
		}
		if !rec.Replies {
			continue
		}
		replies, activity, err := w.replies(ctx, c, rec, false)
		if err != nil {
			return nil, err
		}
		if len(replies) == 0 && activity.After(rec.Seen) {
			seen[rec.Message] = activity
		}
		for _, r := range replies {
			if len(items) >= max {
				break
			}
			rid, err := paging.ParseID(r.ID)
			if err != nil {
				return nil, err
			}
			it := item
			it.Reply = &r
			items = append(items, it)
			cands = append(cands, wctpOut{Message: rec.Message, Reply: rid})
		}
	}
	if len(cands) == 0 && len(seen) == 0 {
		return nil, nil
	}
	// Number what goes out, reusing the number of anything handed out
	// before, and remember it until confirmed.
	var seqs []uint64
	err = w.st.UpdateWCTP(ctx, nil, func(tx *storage.WCTPTx) error {
		var p wctpPoller
		if err := tx.Get(wctpPollerKey(c.ID), &p); err != nil && !errors.Is(err, paging.ErrNotFound) {
			return err
		}
		seqs = seqs[:0]
		for _, o := range cands {
			if j := slices.IndexFunc(p.Out, o.same); j >= 0 {
				seqs = append(seqs, p.Out[j].Seq)
				continue
			}
			if o.Reply == (paging.ID{}) {
				// A newer status supersedes one not yet confirmed.
				p.Out = slices.DeleteFunc(p.Out, func(x wctpOut) bool {
					return x.Message == o.Message && x.Reply == (paging.ID{})
				})
			}
			p.Next++
			o.Seq = p.Next
			p.Out = append(p.Out, o)
			seqs = append(seqs, o.Seq)
		}
		for id, at := range seen {
			key := wctpPageKey(c.Party, id)
			var rec wctpPage
			if err := tx.Get(key, &rec); err != nil {
				if errors.Is(err, paging.ErrNotFound) {
					continue
				}
				return err
			}
			rec.setID(id)
			if at.After(rec.Seen) {
				rec.Seen = at
				if err := tx.Put(key, rec); err != nil {
					return err
				}
			}
		}
		return tx.Put(wctpPollerKey(c.ID), p)
	})
	if err != nil {
		return nil, err
	}
	for i := range items {
		items[i].Seq = strconv.FormatUint(seqs[i], 10)
	}
	return items, nil
}

// confirm records, in one commit with an audit entry, what the sender
// confirmed it received (wctp-MessageReceived with wctp-Success): a reply
// is never handed out again, nor a status at or below the rank
// confirmed. A wctp-Failure, or a number not handed out (or already
// confirmed), changes nothing: what failed goes out again.
func (w *wctpTracker) confirm(ctx context.Context, c wctp.Caller, received []wctp.Received) error {
	var ok []uint64
	for _, r := range received {
		if n, err := strconv.ParseUint(r.Seq, 10, 64); err == nil && r.OK {
			ok = append(ok, n)
		}
	}
	if len(ok) == 0 {
		return nil
	}
	var p wctpPoller
	if err := w.st.WCTPRecord(ctx, wctpPollerKey(c.ID), &p); err != nil {
		if errors.Is(err, paging.ErrNotFound) {
			return nil
		}
		return err
	}
	if !slices.ContainsFunc(p.Out, func(o wctpOut) bool { return slices.Contains(ok, o.Seq) }) {
		return nil // a repeated confirmation
	}
	ev := paging.AuditEvent{Actor: c.Actor(), Action: "wctp.confirm", Object: "wctp/" + c.ID, Source: c.Remote,
		Detail: fmt.Sprintf("%d messages of earlier polls confirmed", len(ok))}
	return w.st.UpdateWCTP(ctx, []paging.AuditEvent{ev}, func(tx *storage.WCTPTx) error {
		var p wctpPoller
		if err := tx.Get(wctpPollerKey(c.ID), &p); err != nil {
			return err
		}
		var keep []wctpOut
		for _, o := range p.Out {
			if !slices.Contains(ok, o.Seq) {
				keep = append(keep, o)
				continue
			}
			key := wctpPageKey(c.Party, o.Message)
			var rec wctpPage
			switch err := tx.Get(key, &rec); {
			case errors.Is(err, paging.ErrNotFound):
				continue // forgotten meanwhile
			case err != nil:
				return err
			default:
				rec.setID(o.Message)
			}
			if o.Reply != (paging.ID{}) {
				if !slices.Contains(rec.Confirmed, o.Reply) {
					rec.Confirmed = append(rec.Confirmed, o.Reply)
				}
			} else {
				rec.Reported = max(rec.Reported, o.Rank)
			}
			if err := tx.Put(key, rec); err != nil {
				return err
			}
		}
		p.Out = keep
		return tx.Put(wctpPollerKey(c.ID), p)
	})
}

// withWCTPTracker gives the WCTP handler's configuration the tracker over
// m's store: status queries, polls and replies.
func (m *Main) withWCTPTracker(c wctp.Config) wctp.Config {
	m.wctpTracker = newWCTPTracker(m.store, paging.SystemClock{})
	c.Tracker = m.wctpTracker
	return c
}

// AcceptTracked implements wctp.TrackedAccepter: the page and its WCTP
// bookkeeping in one commit.
func (a routedAccepter) AcceptTracked(ctx context.Context, msg *paging.Message, by paging.AuditEvent, t wctp.Tracked) error {
	a.m.settlePriority(ctx, msg)
	if err := a.m.store.AcceptWCTP(ctx, msg, by, a.m.wctpTracker.record(t)); err != nil {
		return err
	}
	a.m.accepted(msg)
	return nil
}
