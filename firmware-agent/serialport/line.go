package serialport

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// State of a line, as reported to the onState callback and in Stats.
type State string

const (
	// StateClosed: Run is not running (before it starts, after it returns).
	StateClosed State = "closed"
	// StateAbsent: the device is not there (no such path, connection
	// refused); Run retries with backoff.
	StateAbsent State = "absent"
	// StateInitialising: the port is open and the session runs, but has
	// not yet called ready.
	StateInitialising State = "initialising"
	// StateReady: the session called ready; the device is initialised.
	StateReady State = "ready"
	// StateFailing: the port failed to open for another reason than
	// absence, or the session ended; Run reopens with backoff.
	StateFailing State = "failing"
)

// Session runs while the port is open. It owns rw: it is the only reader and
// writer, and must not use rw after it returns. It returns when rw fails
// (the device went away) or ctx ends; a nil return also closes the port and
// reopens it after backoff. Reads on rw return (0, nil) when ReadTimeout
// passes with no data, so that the session can check ctx. ready marks the
// device initialised (StateReady); calls after the session returned are
// ignored.
type Session func(ctx context.Context, rw io.ReadWriter, ready func()) error

// Stats of a line. Counters run from New.
type Stats struct {
	State     State
	Opens     uint64 // successful opens
	Failures  uint64 // failed opens and sessions that ended with an error
	BytesIn   uint64 // read by sessions
	BytesOut  uint64 // written by sessions
	LastError error  // the latest failure, nil if none yet
}

// ErrRunning is returned by Run when the line is already running.
var ErrRunning = errors.New("serialport: line already running")

// Line owns one serial line: Run opens it, hands it to a session, and
// reopens it when the device goes away.
type Line struct {
	cfg     Config
	log     *slog.Logger
	onState func(State, error)
	now     func() time.Time // tests replace it

	running atomic.Bool
	in, out atomic.Uint64

	// stateMu serialises state changes and onState calls, so the callback
	// sees them in order.
	stateMu sync.Mutex
	session uint64 // number of the running session; guarded by stateMu

	mu    sync.Mutex // guards stats
	stats Stats      // State, Opens, Failures, LastError

	logMu sync.Mutex // guards th
	th    throttle   // which errors reach the log
}

// Log keys.
const (
	keyLine     = "line"
	keyErr      = "err"
	keyRepeated = "repeated"
	keyErrors   = "errors"
)

// repeatInterval is how often a repeated error reaches the log.
const repeatInterval = time.Minute

// New checks cfg, fills in its defaults, and returns a Line that is not yet
// running. log may be nil (nothing is logged); onState may be nil. onState
// is called, in order, on each change of state and on each failure (with
// the error, even if the state stays absent or failing), from Run's
// goroutine or from the session calling ready; it must not block and must
// not call ready. A bad cfg gives an error wrapping ErrConfig.
func New(cfg Config, log *slog.Logger, onState func(State, error)) (*Line, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if onState == nil {
		onState = func(State, error) {}
	}
	return &Line{
		cfg:     cfg,
		log:     log.With(keyLine, cfg.Path),
		onState: onState,
		now:     time.Now,
		stats:   Stats{State: StateClosed},
		th:      throttle{interval: repeatInterval},
	}, nil
}

// Stats returns a snapshot of the line's counters and state.
func (l *Line) Stats() Stats {
	l.mu.Lock()
	s := l.stats
	l.mu.Unlock()
	s.BytesIn, s.BytesOut = l.in.Load(), l.out.Load()
	return s
}

// setState records st and err (err non-nil counts as a failure) and tells
// onState. If session is non-zero the change only happens while that
// session is the running one. It reports whether the state changed.
func (l *Line) setState(session uint64, st State, err error) bool {
	l.stateMu.Lock()
	defer l.stateMu.Unlock()
	if session != 0 && session != l.session {
		return false
	}
	l.mu.Lock()
	changed := l.stats.State != st
	l.stats.State = st
	if err != nil {
		l.stats.Failures++
		l.stats.LastError = err
	}
	l.mu.Unlock()
	if changed || err != nil {
		l.onState(st, err)
	}
	return changed
}

// Run opens the line and runs s on it, again and again: open → initialising
// → s → close → failing or absent → backoff → open. Errors are logged,
// throttled, not returned. When ctx ends Run closes the port, sets
// StateClosed and returns ctx.Err(); it returns ErrRunning at once if the
// line is already running.
func (l *Line) Run(ctx context.Context, s Session) error {
	if !l.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer l.running.Store(false)
	defer l.setState(0, StateClosed, nil)

	backoff := l.cfg.MinBackoff
	for ctx.Err() == nil {
		p, err := open(ctx, l.cfg)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			st := StateFailing
			if errors.Is(err, ErrAbsent) {
				st = StateAbsent
			}
			l.setState(0, st, err)
			l.logFailure(err)
		} else {
			started := time.Now()
			err = l.runSession(ctx, p, s)
			if ctx.Err() != nil {
				break
			}
			if err != nil {
				l.logFailure(err)
			}
			l.setState(0, StateFailing, err)
			if time.Since(started) > l.cfg.MaxBackoff {
				backoff = l.cfg.MinBackoff
			}
		}
		if sleep(ctx, backoff) != nil {
			break
		}
		backoff = min(2*backoff, l.cfg.MaxBackoff)
	}
	return ctx.Err()
}

// runSession runs s on the open port p and closes p when s returns or ctx
// ends, whichever is first.
func (l *Line) runSession(ctx context.Context, p port, s Session) error {
	g := &guard{p: p}
	stop := context.AfterFunc(ctx, func() { g.Close() })
	defer stop()
	defer g.Close() // waits for a close already started by AfterFunc

	l.mu.Lock()
	l.stats.Opens++
	l.mu.Unlock()

	l.stateMu.Lock()
	l.session++
	id := l.session
	l.stateMu.Unlock()
	defer func() {
		l.stateMu.Lock()
		l.session = 0
		l.stateMu.Unlock()
	}()
	l.setState(id, StateInitialising, nil)

	ready := func() {
		if l.setState(id, StateReady, nil) {
			l.logRecovery()
		}
	}
	return s(ctx, counter{rw: g, in: &l.in, out: &l.out}, ready)
}

// logFailure logs err unless the throttle holds it back.
func (l *Line) logFailure(err error) {
	l.logMu.Lock()
	ok, n := l.th.fail(l.now(), err.Error())
	l.logMu.Unlock()
	switch {
	case ok && n > 0:
		l.log.Warn("line error repeated", keyErr, err, keyRepeated, n)
	case ok:
		l.log.Warn("line error", keyErr, err)
	}
}

// logRecovery logs that the line works again, if it had failed.
func (l *Line) logRecovery() {
	l.logMu.Lock()
	ok, n := l.th.recover()
	l.logMu.Unlock()
	if ok {
		l.log.Info("line recovered", keyErrors, n)
	}
}

// sleep waits for d or until ctx ends, and returns ctx.Err() in the latter
// case.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
