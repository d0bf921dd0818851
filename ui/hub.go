package ui

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"pagebridge/gateway/paging"
)

// The hub pushes what changed to the open pages of the people concerned,
// over one WebSocket per page (GET /app/ws, authenticated by the session
// cookie, Origin checked). Frames, server to page:
//
//	{"type":"hello","person":…}
//	{"type":"thread","change":…,"entry":{inbox entry},"message":…,"by":…}
//	{"type":"receipts","thread":…}
//	{"type":"resync"}                       events were dropped: reload the inbox
//	{"type":"signed_out","reason":…}        then the socket closes (4001)
//
// and page to server: {"type":"received","thread":…,"message":…} (the
// page got a message: "delivered" on the app) and {"type":"active"} (the
// user did something: the idle timeout starts again).
//
// No frame carries PHI: a thread event carries the inbox entry (a label
// made of staff data), and a page that shows the thread fetches its
// messages with an audited read.

// closeSignedOut is the close code of a socket whose session ended.
const closeSignedOut websocket.StatusCode = 4001

// Limits of the hub.
const (
	clientQueue = 64   // frames waiting for one page; beyond, it is dropped and reconnects
	noticeQueue = 4096 // changes waiting for the hub
	maxInFrame  = 4096 // bytes of a frame from a page
	writeWait   = 10 * time.Second
)

// notice is a change to tell the members of a thread.
type notice struct {
	thread   paging.ID
	members  []string
	message  paging.ID
	by       string
	change   string
	receipts bool // receipts or a page's delivery only: no new message
	// frame, if set, goes as it is to the open pages of sessions whose
	// role is one of roles (the console's and hardware page's frames).
	frame []byte
	roles []string
}

// client is one open page.
type client struct {
	sess Session
	hash [32]byte
	send chan []byte
	// end closes the page's socket with reason (once); done is closed
	// when its handler has returned.
	endOnce sync.Once
	ended   chan struct{}
	reason  atomic.Pointer[string]
}

func (c *client) end(reason string) {
	c.endOnce.Do(func() {
		c.reason.Store(&reason)
		close(c.ended)
	})
}

type hub struct {
	log *slog.Logger
	msg Messaging
	// sent counts frames handed to pages (tests, benchmarks).
	sent atomic.Uint64

	mu        sync.Mutex
	byPerson  map[string]map[*client]struct{}
	bySession map[paging.ID]map[*client]struct{}

	queue    chan notice
	overflow atomic.Bool
}

func newHub(msg Messaging, log *slog.Logger) *hub {
	return &hub{log: log, msg: msg, byPerson: map[string]map[*client]struct{}{},
		bySession: map[paging.ID]map[*client]struct{}{}, queue: make(chan notice, noticeQueue)}
}

func (h *hub) add(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	addTo(h.byPerson, c.sess.Person, c)
	addTo(h.bySession, c.sess.ID, c)
}

func (h *hub) remove(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	removeFrom(h.byPerson, c.sess.Person, c)
	removeFrom(h.bySession, c.sess.ID, c)
}

func addTo[K comparable](m map[K]map[*client]struct{}, k K, c *client) {
	set := m[k]
	if set == nil {
		set = map[*client]struct{}{}
		m[k] = set
	}
	set[c] = struct{}{}
}

func removeFrom[K comparable](m map[K]map[*client]struct{}, k K, c *client) {
	delete(m[k], c)
	if len(m[k]) == 0 {
		delete(m, k)
	}
}

// clientsOf returns the open pages of person.
func (h *hub) clientsOf(person string) []*client {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*client, 0, len(h.byPerson[person]))
	for c := range h.byPerson[person] {
		out = append(out, c)
	}
	return out
}

// all returns every open page.
func (h *hub) all() []*client {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*client
	for _, set := range h.bySession {
		for c := range set {
			out = append(out, c)
		}
	}
	return out
}

// publish queues a change without blocking (observers run on committing
// goroutines); a full queue drops it and makes every page resync.
func (h *hub) publish(n notice) {
	select {
	case h.queue <- n:
	default:
		h.overflow.Store(true)
	}
}

// endSessions signs out the open pages of sessions at once.
func (h *hub) endSessions(ids []paging.ID, reason string) {
	h.mu.Lock()
	var cs []*client
	for _, id := range ids {
		for c := range h.bySession[id] {
			cs = append(cs, c)
		}
	}
	h.mu.Unlock()
	for _, c := range cs {
		c.end(reason)
	}
}

// run dispatches changes until ctx ends, then ends every page.
func (h *hub) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			for _, c := range h.all() {
				c.end("")
			}
			return
		case n := <-h.queue:
			h.dispatch(ctx, n)
		}
		if h.overflow.Swap(false) {
			h.log.Warn("live updates dropped: every open page reloads its inbox")
			frame, _ := json.Marshal(map[string]string{"type": "resync"})
			for _, c := range h.all() {
				h.deliver(c, frame)
			}
		}
	}
}

// threadFrame is a thread event as a page gets it.
type threadFrame struct {
	Type    string     `json:"type"`
	Change  string     `json:"change"`
	Entry   InboxEntry `json:"entry"`
	Message string     `json:"message,omitempty"`
	By      string     `json:"by,omitempty"`
}

func (h *hub) dispatch(ctx context.Context, n notice) {
	if n.frame != nil {
		h.toRoles(n)
		return
	}
	if n.members == nil {
		ms, err := h.msg.Members(ctx, n.thread)
		if err != nil {
			if !errors.Is(err, paging.ErrNotFound) {
				h.log.Warn("live update: members", "thread", n.thread, "err", err)
			}
			return
		}
		n.members = ms
	}
	var receipts []byte
	for _, person := range n.members {
		cs := h.clientsOf(person)
		if len(cs) == 0 {
			continue
		}
		var frame []byte
		if n.receipts {
			if receipts == nil {
				receipts, _ = json.Marshal(map[string]string{"type": "receipts", "thread": n.thread.String()})
			}
			frame = receipts
		} else {
			e, err := h.msg.InboxEntry(ctx, person, n.thread)
			if err != nil {
				if !errors.Is(err, paging.ErrNotFound) && !errors.Is(err, ErrForbidden) {
					h.log.Warn("live update: inbox entry", "thread", n.thread, "person", person, "err", err)
				}
				continue
			}
			f := threadFrame{Type: "thread", Change: n.change, Entry: e, By: n.by}
			if n.message != (paging.ID{}) {
				f.Message = n.message.String()
			}
			frame, _ = json.Marshal(f)
		}
		for _, c := range cs {
			h.deliver(c, frame)
		}
	}
}

// deliver queues a frame for a page; a page too slow to take it is
// dropped (it reconnects and reloads).
func (h *hub) deliver(c *client, frame []byte) {
	select {
	case c.send <- frame:
	default:
		c.end("")
	}
}

// serve runs one page's socket until it closes or its session ends. The
// handler's goroutine reads; a second one writes, and is waited for.
func (w *Web) serveSocket(rw http.ResponseWriter, r *http.Request, s Session, hash [32]byte) {
	// The server's read and write timeouts were set on the connection
	// for the request; a socket lives on past them.
	rc := http.NewResponseController(rw)
	rc.SetReadDeadline(time.Time{})
	rc.SetWriteDeadline(time.Time{})
	conn, err := websocket.Accept(rw, r, nil) // checks Origin against Host
	if err != nil {
		return
	}
	conn.SetReadLimit(maxInFrame)
	c := &client{sess: s, hash: hash, send: make(chan []byte, clientQueue), ended: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	hello, _ := json.Marshal(map[string]any{"type": "hello", "person": s.Person, "idle_timeout": w.auth.pol.IdleTimeout.Seconds()})
	c.send <- hello
	w.hub.add(c)
	defer w.hub.remove(c)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer cancel()
		for {
			select {
			case frame := <-c.send:
				wctx, wcancel := context.WithTimeout(ctx, writeWait)
				err := conn.Write(wctx, websocket.MessageText, frame)
				wcancel()
				if err != nil {
					return
				}
				w.hub.sent.Add(1)
			case <-c.ended:
				if reason := *c.reason.Load(); reason != "" {
					// Signed out: say so, then close with our code.
					frame, _ := json.Marshal(map[string]string{"type": "signed_out", "reason": reason})
					wctx, wcancel := context.WithTimeout(ctx, writeWait)
					conn.Write(wctx, websocket.MessageText, frame)
					wcancel()
					conn.Close(closeSignedOut, "signed out")
					return
				}
				conn.Close(websocket.StatusGoingAway, "")
				return
			case <-ctx.Done():
				conn.CloseNow()
				return
			}
		}
	}()
	w.readSocket(ctx, conn, c)
	c.end("")
	wg.Wait()
}

// inFrame is what a page sends.
type inFrame struct {
	Type    string `json:"type"`
	Thread  string `json:"thread"`
	Message string `json:"message"`
}

// readSocket reads a page's frames until the socket closes.
func (w *Web) readSocket(ctx context.Context, conn *websocket.Conn, c *client) {
	as := callerOf(c.sess)
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			return
		}
		var f inFrame
		if json.Unmarshal(data, &f) != nil {
			continue
		}
		switch f.Type {
		case "active":
			if _, err := w.auth.checkHash(ctx, c.hash, true); errors.Is(err, ErrSessionOver) {
				c.end("session ended")
				return
			}
		case "received":
			thread, err1 := paging.ParseID(f.Thread)
			msg, err2 := paging.ParseID(f.Message)
			if err1 != nil || err2 != nil {
				continue
			}
			if err := w.msg.Received(ctx, as, thread, msg); err != nil && !errors.Is(err, ErrForbidden) && !errors.Is(err, paging.ErrNotFound) && !errors.Is(err, paging.ErrInvalid) {
				w.log.Warn("delivered receipt not recorded", "thread", thread, "message", msg, "err", err)
			}
		}
	}
}

// sweep checks the session of every open page and signs out those whose
// session is over (idle, past its lifetime, ended elsewhere).
func (w *Web) sweep(ctx context.Context) {
	for _, c := range w.hub.all() {
		_, err := w.auth.checkHash(ctx, c.hash, false)
		switch {
		case errors.Is(err, ErrSessionOver):
			c.end("session ended")
		case err != nil && ctx.Err() == nil:
			w.log.Warn("session check of an open page", "err", err)
		}
	}
}
