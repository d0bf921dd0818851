package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Operations the socket serves.
const (
	OpBackup      = "backup"
	OpAuditVerify = "audit-verify"
	OpKeysRotate  = "keys-rotate"
	OpStatus      = "status"
	OpTestPage    = "test-page"
	OpJobResults  = "job-results"
	OpPages       = "pages"
	OpAck         = "ack"
	OpTokenCreate = "token-create"
	// OpAccountCreate makes a web account (the first administrator's,
	// on a new box) with a one-time password.
	OpAccountCreate = "account-create"
)

type peerKey struct{}

// PeerUID returns the uid of the client an Ops method is serving.
func PeerUID(ctx context.Context) (uint32, bool) {
	uid, ok := ctx.Value(peerKey{}).(uint32)
	return uid, ok
}

// ErrNotRunning means no daemon answers on the socket.
var ErrNotRunning = errors.New("no daemon is listening on the admin socket")

// Request is what a client asks.
type Request struct {
	Op string `json:"op"`
	// TestPage is the argument of OpTestPage.
	TestPage *TestPage `json:"test_page,omitempty"`
	// Jobs are the job keys OpJobResults asks about.
	Jobs []string `json:"jobs,omitempty"`
	// Limit bounds OpPages.
	Limit int `json:"limit,omitempty"`
	// Ack is the argument of OpAck.
	Ack *Ack `json:"ack,omitempty"`
	// Token is the argument of OpTokenCreate.
	Token *Token `json:"token,omitempty"`
	// Account is the argument of OpAccountCreate.
	Account *Account `json:"account,omitempty"`
}

// Account asks for a new web account for a person of the directory, or
// for a new person of that ID and Name.
type Account struct {
	Username string `json:"username"`
	Person   string `json:"person"`
	// Name, when set, creates the person (stage app, no endpoints) if the
	// directory lacks it.
	Name string `json:"name,omitempty"`
	Role string `json:"role"`
}

// Token asks for a new API token.
type Token struct {
	Name   string        `json:"name"`
	Role   string        `json:"role"`
	Person string        `json:"person,omitempty"`
	TTL    time.Duration `json:"ttl,omitempty"`
}

// Ack acknowledges a page on someone's behalf (an operator taking a call
// at the console).
type Ack struct {
	Message string `json:"message"`
	Person  string `json:"person"`
	Channel string `json:"channel,omitempty"`
}

// TestPage asks the gateway to send Count test pages through one device of
// one agent, to check the hardware path end to end.
type TestPage struct {
	Agent    string `json:"agent"`
	Device   string `json:"device"`
	To       string `json:"to"`
	Text     string `json:"text"`
	Priority string `json:"priority,omitempty"`
	Count    int    `json:"count,omitempty"`
}

// Response is the server's answer. For a backup, Size bytes of the database
// follow the response line.
type Response struct {
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`
	Result string `json:"result,omitempty"`
	Size   int64  `json:"size,omitempty"`
}

// Ops is what the daemon does for the socket. Each method's error is sent
// to the client as text: it must not carry PHI.
type Ops interface {
	// Backup writes a consistent copy of the database to w and returns
	// its size first through size, before writing.
	Backup(ctx context.Context, size func(int64) error, w io.Writer) error
	VerifyAudit(ctx context.Context) (string, error)
	RotateKeys(ctx context.Context) (string, error)
	Status(ctx context.Context) (string, error)
	// TestPage queues test pages and returns their job keys, one per
	// line.
	TestPage(ctx context.Context, p TestPage) (string, error)
	// JobResults returns one line per job: its key and what became of
	// it, or "pending".
	JobResults(ctx context.Context, jobs []string) (string, error)
	// Pages returns the routes of the newest pages, one JSON object per
	// line (no PHI).
	Pages(ctx context.Context, limit int) (string, error)
	// Ack acknowledges a page and returns its route.
	Ack(ctx context.Context, a Ack) (string, error)
	// CreateToken makes an API token and returns its text (once).
	CreateToken(ctx context.Context, t Token) (string, error)
	// CreateAccount makes a web account and returns its one-time
	// password (once).
	CreateAccount(ctx context.Context, a Account) (string, error)
}

// Server serves Ops on a Unix socket.
type Server struct {
	ln   *net.UnixListener
	ops  Ops
	log  *slog.Logger
	path string
	// allowed holds the uids served: root and the daemon's own.
	allowed map[uint32]bool

	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]bool
	closed bool
}

// Listen creates the socket at path (removing a stale one) and starts
// serving. The directory is created 0750 if missing.
func Listen(path string, ops Ops, log *slog.Logger) (*Server, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("admin socket dir: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("admin socket %s: another daemon is already listening", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale admin socket: %w", err)
	}
	// The umask makes the socket 0660 from its creation on, with no window
	// in which anyone else could connect.
	old := syscall.Umask(0o117)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	s := &Server{ln: ln, ops: ops, log: log, path: path, conns: map[net.Conn]bool{},
		allowed: map[uint32]bool{0: true, uint32(os.Getuid()): true}}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// Addr is the socket path.
func (s *Server) Addr() string { return s.path }

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return
			}
			s.log.Warn("admin socket accept", "err", err)
			continue
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = true
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.handle(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

func peerUID(c *net.UnixConn) (uint32, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if cerr != nil {
		return 0, cerr
	}
	return cred.Uid, nil
}

// maxRequest bounds a request line: a job-results request carries up to
// 10,000 job keys.
const maxRequest = 1 << 20

func (s *Server) handle(c *net.UnixConn) {
	ctx := context.Background()
	enc := json.NewEncoder(c)
	// Read the request before judging the peer, so that a refused client
	// reads its refusal instead of a broken pipe.
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, rerr := bufio.NewReader(io.LimitReader(c, maxRequest)).ReadBytes('\n')
	c.SetReadDeadline(time.Time{})
	uid, err := peerUID(c)
	if err != nil || !s.allowed[uid] {
		s.log.Warn("admin socket: refused peer", "uid", uid, "err", err)
		enc.Encode(Response{Error: "permission denied: only root and the service user may use the admin socket"})
		return
	}
	if rerr != nil {
		enc.Encode(Response{Error: "bad request: " + rerr.Error()})
		return
	}
	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
		enc.Encode(Response{Error: "bad request: " + err.Error()})
		return
	}
	s.log.Info("admin request", "op", req.Op, "uid", uid)
	ctx = context.WithValue(ctx, peerKey{}, uid)
	var result string
	switch req.Op {
	case OpBackup:
		err = s.ops.Backup(ctx, func(n int64) error { return enc.Encode(Response{OK: true, Size: n}) }, c)
		if err != nil {
			s.log.Error("admin backup", "err", err)
			// If the header already went out, the client sees a short
			// stream and fails; otherwise it gets the error.
			enc.Encode(Response{Error: err.Error()})
		}
		return
	case OpAuditVerify:
		result, err = s.ops.VerifyAudit(ctx)
	case OpKeysRotate:
		result, err = s.ops.RotateKeys(ctx)
	case OpStatus:
		result, err = s.ops.Status(ctx)
	case OpTestPage:
		if req.TestPage == nil {
			err = errors.New("test-page: no arguments")
			break
		}
		result, err = s.ops.TestPage(ctx, *req.TestPage)
	case OpJobResults:
		result, err = s.ops.JobResults(ctx, req.Jobs)
	case OpPages:
		result, err = s.ops.Pages(ctx, req.Limit)
	case OpAck:
		if req.Ack == nil {
			err = errors.New("ack: no arguments")
			break
		}
		result, err = s.ops.Ack(ctx, *req.Ack)
	case OpTokenCreate:
		if req.Token == nil {
			err = errors.New("token-create: no arguments")
			break
		}
		result, err = s.ops.CreateToken(ctx, *req.Token)
	case OpAccountCreate:
		if req.Account == nil {
			err = errors.New("account-create: no arguments")
			break
		}
		result, err = s.ops.CreateAccount(ctx, *req.Account)
	default:
		err = fmt.Errorf("unknown operation %q", req.Op)
	}
	if err != nil {
		enc.Encode(Response{Error: err.Error(), Result: result})
		return
	}
	enc.Encode(Response{OK: true, Result: result})
}

// Close stops listening, waits for requests in progress and removes the
// socket file.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

// Call sends one request and returns the response. For OpBackup use
// Backup instead.
func Call(ctx context.Context, path string, op string) (Response, error) {
	return Do(ctx, path, Request{Op: op})
}

// Do sends req and returns the response.
func Do(ctx context.Context, path string, req Request) (Response, error) {
	c, err := dial(ctx, path)
	if err != nil {
		return Response{}, err
	}
	defer c.Close()
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return Response{}, err
	}
	var resp Response
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return Response{}, fmt.Errorf("admin socket: read response: %w", err)
	}
	return resp, nil
}

// Backup asks the daemon for a backup and copies it to w. It fails unless
// exactly the announced number of bytes arrived.
func Backup(ctx context.Context, path string, w io.Writer) (int64, error) {
	c, err := dial(ctx, path)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if err := json.NewEncoder(c).Encode(Request{Op: OpBackup}); err != nil {
		return 0, err
	}
	br := bufio.NewReader(c)
	line, err := br.ReadBytes('\n')
	if err != nil {
		return 0, fmt.Errorf("admin socket: read response: %w", err)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return 0, fmt.Errorf("admin socket: bad response: %w", err)
	}
	if !resp.OK {
		return 0, errors.New(resp.Error)
	}
	n, err := io.Copy(w, io.LimitReader(br, resp.Size))
	if err != nil {
		return n, err
	}
	if n != resp.Size {
		return n, fmt.Errorf("backup stream ended after %d of %d bytes", n, resp.Size)
	}
	return n, nil
}

func dial(ctx context.Context, path string) (net.Conn, error) {
	if path == "" {
		return nil, fmt.Errorf("%w (no socket configured)", ErrNotRunning)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("%w (%s)", ErrNotRunning, path)
		}
		return nil, err
	}
	return c, nil
}
