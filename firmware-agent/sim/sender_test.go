package sim

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"pagebridge/firmware-agent/tap"
)

// recorder accepts pages for ServeTerminal and counts them.
type recorder struct {
	mu    sync.Mutex
	pages []tap.Page
}

func (r *recorder) accept(_ context.Context, p tap.Page) tap.Reply {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pages = append(r.pages, p)
	return tap.Accepted()
}

func (r *recorder) got() []tap.Page {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]tap.Page(nil), r.pages...)
}

// serve runs tap.ServeTerminal on path until it returns.
func serve(t *testing.T, path string, rec *recorder) <-chan error {
	t.Helper()
	f := openPort(t, path)
	done := make(chan error, 1)
	go func() { done <- tap.ServeTerminal(t.Context(), ttyRW{f}, tap.TerminalConfig{}, rec.accept) }()
	return done
}

func mustSender(t *testing.T, opts SenderOptions) *Sender {
	t.Helper()
	s, err := NewSender(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Senders with and without a logon page the terminal role through the
// pty, with noise in between and a hang-up in the middle of a block.
func TestSenderPages(t *testing.T) {
	t.Parallel()
	for _, cfg := range []tap.ClientConfig{{}, {NoLogon: true}} {
		t.Run(fmt.Sprintf("NoLogon=%v", cfg.NoLogon), func(t *testing.T) {
			t.Parallel()
			s := mustSender(t, SenderOptions{Client: cfg})
			if !strings.HasSuffix(s.Path(), "/nursecall0") {
				t.Errorf("path %s", s.Path())
			}
			ctx, cancel := context.WithTimeout(t.Context(), safety)
			defer cancel()
			rec := &recorder{}
			done := serve(t, s.Path(), rec)
			var want strings.Builder
			page := func(i int) {
				t.Helper()
				id, text := fmt.Sprint(2000+i), fmt.Sprintf("Bed %d call %s", i, strings.Repeat("x", i%300))
				r, err := s.Page(ctx, id, text)
				if err != nil || r.Code() != tap.CodeSent {
					t.Fatalf("page %d: %v, %v", i, r, err)
				}
				fmt.Fprintf(&want, "%s:%s|", id, text)
			}
			for i := range 100 {
				page(i)
			}
			if err := s.SendRaw([]byte("\x00\xff+++ATH0\r\x1b\x1b\n\r")); err != nil {
				t.Fatal(err)
			}
			for i := 100; i < 200; i++ {
				page(i)
			}
			if err := s.HangUpMidBlock("9999", "never whole"); err != nil {
				t.Fatal(err)
			}
			if err := <-done; !errors.Is(err, tap.ErrLine) {
				t.Errorf("ServeTerminal after the hang-up: %v", err)
			}
			if _, err := s.Page(ctx, "1", "unplugged"); err == nil {
				t.Error("paged while unplugged")
			}
			if err := s.Plug(); err != nil {
				t.Fatal(err)
			}
			done = serve(t, s.Path(), rec)
			page(200)
			if err := s.Logoff(ctx); err != nil {
				t.Error(err)
			}
			if got := ids(rec.got()); got != want.String() {
				t.Errorf("accepted %d pages, want the %d answered 211", len(rec.got()), strings.Count(want.String(), "|"))
			}
			if !strings.Contains(string(s.Received()), "211 Page(s) Sent Successfully") {
				t.Error("Received() has no 211")
			}
			if half := blockOf("9999", "never whole"); !strings.Contains(string(s.Sent()), half[:len(half)/2]) {
				t.Error("Sent() lacks the raw bytes")
			}
			s.Unplug()
			<-done
		})
	}
}

// The faults a test of the agent's terminal role needs, from the sender's
// side: no checksum and no logon, a bad checksum (514, then 503), an
// unknown pager ID (511 RS), garbage, and half a block before a hang-up.
func TestSenderFaults(t *testing.T) {
	t.Parallel()
	s := mustSender(t, SenderOptions{Client: tap.ClientConfig{NoLogon: true, NoChecksum: true}})
	ctx, cancel := context.WithTimeout(t.Context(), safety)
	defer cancel()
	rec := &recorder{}
	f := openPort(t, s.Path())
	done := make(chan error, 1)
	cfg := tap.TerminalConfig{NoChecksum: true, MaxBadBlocks: 2}
	go func() {
		done <- tap.ServeTerminal(t.Context(), ttyRW{f}, cfg, func(ctx context.Context, p tap.Page) tap.Reply {
			if p.ID == "9999" {
				return tap.Rejected(tap.CodeUnknownID, "Invalid Pager ID")
			}
			return rec.accept(ctx, p)
		})
	}()
	if r, err := s.Page(ctx, "1001", "no checksum, no logon"); err != nil || r.Code() != tap.CodeSent {
		t.Fatalf("page: %v, %v", r, err)
	}
	if !strings.Contains(string(s.Sent()), "\x021001\rno checksum, no logon\r\x03\r") {
		t.Errorf("the block went with a checksum: %q", s.Sent())
	}
	var se *tap.SendError
	if r, err := s.Page(ctx, "9999", "unknown"); !errors.As(err, &se) || !errors.Is(err, tap.ErrPermanent) || r.Code() != tap.CodeUnknownID {
		t.Fatalf("unknown pager ID: %v, %v", r, err)
	}
	bad := CorruptChecksum([]byte(blockOf("1002", "bad checksum")))
	for i, want := range []tap.Reply{tap.Resend(tap.CodeChecksum, ""), tap.Resend(tap.CodeChecksum, ""), tap.Rejected(tap.CodeChecksumMany, "")} {
		r, err := s.Exchange(ctx, bad)
		if err != nil || r.Code() != want.Code() || r.Action != want.Action {
			t.Fatalf("bad checksum %d: %v, %v; want %v", i, r, err, want)
		}
	}
	if err := s.SendRaw([]byte("\x00\xffgarbage\x15\x06")); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Page(ctx, "1003", "after the garbage"); err != nil || r.Code() != tap.CodeSent {
		t.Fatalf("page after the garbage: %v, %v", r, err)
	}
	if err := s.HangUpMidBlock("6666", "cut off by the hang-up"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, tap.ErrLine) {
		t.Errorf("ServeTerminal after the hang-up: %v", err)
	}
	if got := ids(rec.got()); got != "1001:no checksum, no logon|1003:after the garbage|" {
		t.Errorf("accepted %q", got)
	}
}
