package threads

import (
	"context"
	"errors"
	"fmt"
	"time"

	"pagebridge/gateway/engine"
	"pagebridge/gateway/paging"
	"pagebridge/storage"
)

// engineActor is who opens page threads in the audit chain, as the
// engine's own entries name it.
const engineActor = "system:engine"

// PageLabel is a page thread's label: where the page came from and the
// pager ID it was sent to ("4W nurse call · pager 1002"), with the pager
// ID's label if it has one. None of it is PHI.
func PageLabel(r engine.Route) string {
	src := r.Source
	if src == "" {
		src = "page"
	}
	l := fmt.Sprintf("%s · pager %s", src, r.PagerID)
	if r.Label != "" {
		l += " (" + r.Label + ")"
	}
	return cut(l, storage.MaxLabelLen)
}

// PageThreadOf returns the thread a route calls for, and false if it
// calls for none yet (nobody reached on the app). Its members are the
// people the engine delivered the page to on the app channel, each added
// by the escalation step that reached them ("escalation step 2", or
// "fallback") with the delivery's reason as the note. Creating it again
// as the route goes on adds whoever later steps reached
// (storage.CreateThread).
//
// The step is worked out from the app attempt's time against the route's
// policy: steps run late together (after an outage) are credited to the
// last of them.
func PageThreadOf(r engine.Route) (storage.NewThread, bool) {
	var members []storage.NewMember
	for _, d := range r.Deliveries {
		for _, a := range d.Attempts {
			if a.Channel != paging.ChannelApp || !inThread(a.State) {
				continue
			}
			members = append(members, storage.NewMember{Person: d.PersonID, AddedBy: stepOf(r, a), Note: d.Reason})
			break
		}
	}
	if len(members) == 0 {
		return storage.NewThread{}, false
	}
	return storage.NewThread{Kind: storage.ThreadPage, Page: r.Message, Label: PageLabel(r), Priority: r.Priority,
		CreatedBy: engineActor, Target: r.Target, Members: members}, true
}

// inThread reports whether an app attempt in state put the page in the
// person's thread: the engine marks app attempts sent at once, and what
// came after (read, acknowledged, cancelled by someone else's ack)
// does not take it out.
func inThread(s paging.State) bool {
	switch s {
	case paging.StateQueued, paging.StateFailedTemp, paging.StateFailedPerm:
		return false
	}
	return s.Valid()
}

// stepOf names the escalation step that made attempt a.
func stepOf(r engine.Route, a paging.Attempt) string {
	at := time.UnixMilli(int64(a.ID.Time()))
	n := r.Policy.Len()
	if r.State != engine.StateActive && r.Done >= n-1 && !at.Before(r.Policy.FallbackAt(r.Start).Truncate(time.Millisecond)) {
		return "fallback" // every step had run; the fallback role reached them
	}
	for k := min(r.Done, n-1); k > 0; k-- {
		if !r.Policy.At(r.Start, k).Truncate(time.Millisecond).After(at) {
			return fmt.Sprintf("escalation step %d", k+1)
		}
	}
	return "escalation step 1"
}

// OpenForPage opens the thread of a routed page, or adds to it whoever
// the route has reached on the app since; it reports false, and stores
// nothing, while the route has reached nobody on the app. It is
// idempotent: a route with nobody new writes nothing.
//
// The engine should call it after every step it commits (see the
// package doc for doing it in the step's own commit instead).
func (s *Service) OpenForPage(ctx context.Context, r engine.Route) (storage.Thread, bool, error) {
	nt, ok := PageThreadOf(r)
	t, err := s.st.Thread(ctx, r.Message)
	switch {
	case err == nil && !ok:
		return t, true, nil
	case errors.Is(err, paging.ErrNotFound) && !ok:
		return storage.Thread{}, false, nil
	case err == nil && hasAll(t, nt.Members):
		return t, true, nil
	case err != nil && !errors.Is(err, paging.ErrNotFound):
		return storage.Thread{}, false, fmt.Errorf("open thread of page %s: %w", r.Message, err)
	}
	t, _, err = s.st.CreateThread(ctx, nt, paging.AuditEvent{Actor: engineActor})
	if err != nil {
		return storage.Thread{}, false, fmt.Errorf("open thread of page %s: %w", r.Message, err)
	}
	return t, true, nil
}

func hasAll(t storage.Thread, ms []storage.NewMember) bool {
	for _, m := range ms {
		if !t.IsMember(m.Person) {
			return false
		}
	}
	return true
}
