package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"pagebridge/gateway/paging"
)

// limiter caps the pages one person gets on one pager or phone (limit per
// window): beyond it, non-critical pages wait and go out as one bundle
// notice ("3 more pages - open Pagebridge") when the window allows. The
// app is never limited, nor are critical pages. It lives in memory: a
// restart forgets the counts (a few more pages may go out) and the
// bundles waiting (their attempts stay queued; each page still escalates
// on its other channels and steps).
type limiter struct {
	limit  int
	window time.Duration

	mu      sync.Mutex
	sent    map[limitKey][]time.Time
	bundles map[limitKey]*bundle
}

type limitKey struct {
	person   string
	endpoint paging.Endpoint
}

type bundle struct {
	due   time.Time
	items []bundled // oldest first
}

type bundled struct {
	msg, attempt paging.ID
	priority     paging.Priority
	source       string
}

func newLimiter(limit int, window time.Duration) *limiter {
	if limit <= 0 || window <= 0 {
		return nil
	}
	return &limiter{limit: limit, window: window, sent: map[limitKey][]time.Time{}, bundles: map[limitKey]*bundle{}}
}

// allow records a send to k at now if it is within the limit and no
// bundle is waiting for k (which must go first).
func (l *limiter) allow(k limitKey, now time.Time) bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.bundles[k] != nil {
		return false
	}
	return l.take(k, now)
}

func (l *limiter) take(k limitKey, now time.Time) bool {
	recent := l.sent[k][:0]
	for _, t := range l.sent[k] {
		if now.Sub(t) < l.window {
			recent = append(recent, t)
		}
	}
	if len(recent) >= l.limit {
		l.sent[k] = recent
		return false
	}
	l.sent[k] = append(recent, now)
	return true
}

// hold adds an attempt to k's bundle, due when a send is next allowed.
func (l *limiter) hold(k limitKey, now time.Time, b bundled) {
	l.mu.Lock()
	defer l.mu.Unlock()
	bu := l.bundles[k]
	if bu == nil {
		due := now
		if s := l.sent[k]; len(s) > 0 {
			due = s[0].Add(l.window)
		}
		bu = &bundle{due: due}
		l.bundles[k] = bu
	}
	bu.items = append(bu.items, b)
}

// dueBundles takes the bundles whose time has come, recording each as a
// send.
func (l *limiter) dueBundles(now time.Time) map[limitKey]*bundle {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[limitKey]*bundle{}
	for k, b := range l.bundles {
		if !b.due.After(now) && l.take(k, now) {
			out[k] = b
			delete(l.bundles, k)
		}
	}
	return out
}

// flushBundles sends every bundle due: one notice per person and
// endpoint, carried as the job of the newest bundled attempt; the others
// are marked sent in it.
func (e *Engine) flushBundles(ctx context.Context) error {
	var errs []error
	due := e.limit.dueBundles(e.clock.Now())
	keys := make([]limitKey, 0, len(due))
	for k := range due {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].person < keys[j].person })
	for _, k := range keys {
		if err := e.flushBundle(ctx, k, due[k]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (e *Engine) flushBundle(ctx context.Context, k limitKey, b *bundle) error {
	now := e.clock.Now()
	// Only what is still pending counts: pages acknowledged meanwhile are
	// left out, and nothing is sent if none is left.
	var live []bundled
	top := paging.PriorityNormal
	for _, it := range b.items {
		var r Route
		if err := e.st.Route(ctx, it.msg, &r); err != nil {
			return err
		}
		if _, a := r.attempt(it.attempt); a != nil && a.State == paging.StateQueued && r.State != StateAcknowledged {
			live = append(live, it)
			top = max(top, it.priority)
		}
	}
	if len(live) == 0 {
		return nil
	}
	last := live[len(live)-1]
	text := fmt.Sprintf("%d more %s for you, latest from %s - open Pagebridge", len(live), plural(len(live), "page", "pages"), last.source)
	for i, it := range live {
		if err := e.markBundled(ctx, it, i == len(live)-1, k, top, text, len(live), now); err != nil {
			return err
		}
	}
	return nil
}

// markBundled updates one bundled attempt: the newest carries the
// notice's job, the others are sent in it.
func (e *Engine) markBundled(ctx context.Context, it bundled, carrier bool, k limitKey, prio paging.Priority, text string, n int, now time.Time) error {
	defer e.lock(it.msg)()
	var r Route
	if err := e.st.Route(ctx, it.msg, &r); err != nil {
		return err
	}
	_, a := r.attempt(it.attempt)
	if a == nil || a.State != paging.StateQueued {
		return nil
	}
	ch := e.newChange(&r, false)
	if !carrier {
		a.State, a.Updated, a.Note = paging.StateSent, now, fmt.Sprintf("in a bundle notice of %d pages", n)
		return e.commit(ctx, ch)
	}
	err := e.sendJob(ch, a, prio, text)
	a.Note = fmt.Sprintf("bundle notice of %d pages", n)
	if err != nil {
		a.State, a.Note = paging.StateFailedPerm, err.Error()
	}
	ch.audit(&r, actionSend, fmt.Sprintf("bundle notice of %d pages on %s to %s", n, k.endpoint.Channel, k.person))
	return e.commit(ctx, ch)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
