package tap_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"pagebridge/firmware-agent/serialport"
	"pagebridge/firmware-agent/sim"
	"pagebridge/firmware-agent/tap"
	"pagebridge/gateway/paging"
)

// These tests run both roles over the agent's real serial path:
// serialport opens the pty slave of a simulated device through
// go.bug.st/serial, whose reads time out with (0, nil).

// safety bounds a test that would otherwise hang; no assertion rests on it.
const safety = time.Minute

func page(id, text string) tap.Page { return tap.Page{ID: id, Text: paging.NewPHI(text)} }

func list(pages []tap.Page) string {
	var b strings.Builder
	for _, p := range pages {
		fmt.Fprintf(&b, "%s:%s|", p.ID, p.Text.Reveal())
	}
	return b.String()
}

// runLine runs a serialport.Line on path with session s until ctx ends,
// and returns a function that stops it and waits.
func runLine(t *testing.T, path string, s serialport.Session) (stop func()) {
	t.Helper()
	l, err := serialport.New(serialport.Config{Path: path, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Run(ctx, s)
	}()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

// onLine runs f as the session of a line on path, once, and returns its
// error.
func onLine(t *testing.T, path string, f func(ctx context.Context, rw io.ReadWriter) error) error {
	t.Helper()
	result := make(chan error, 1)
	stop := runLine(t, path, func(ctx context.Context, rw io.ReadWriter, ready func()) error {
		ready()
		result <- f(ctx, rw)
		<-ctx.Done()
		return nil
	})
	defer stop()
	select {
	case err := <-result:
		return err
	case <-time.After(safety):
		t.Fatal("session did not finish")
		return nil
	}
}

func mustTerminal(t *testing.T, opts sim.TerminalOptions) *sim.PagingTerminal {
	t.Helper()
	pt, err := sim.NewPagingTerminal(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pt.Close() })
	return pt
}

// The reference's worked session on a serial line against the simulated
// terminal, which asks for the second page again: every byte both ways.
func TestWorkedSessionOverSerialLine(t *testing.T) {
	t.Parallel()
	naked := false
	pt := mustTerminal(t, sim.TerminalOptions{Answer: func(p tap.Page) sim.Answer {
		if p.ID == "1002" && !naked {
			naked = true
			return sim.AnswerNAK
		}
		return sim.AnswerAccept
	}})
	err := onLine(t, pt.Path(), func(ctx context.Context, rw io.ReadWriter) error {
		c := tap.NewClient(rw, tap.ClientConfig{})
		if err := c.Logon(ctx); err != nil {
			return err
		}
		for _, p := range []tap.Page{page("1001", "Code Blue 4W Rm 412"), page("1002", "Lab: K 6.1 Bed 7")} {
			if r, err := c.Send(ctx, p); err != nil || r.Code() != tap.CodeSent {
				return fmt.Errorf("page %s: %v, %w", p.ID, r, err)
			}
		}
		return c.Logoff(ctx)
	})
	if err != nil {
		t.Fatal(err)
	}
	b1001 := "\x021001\rCode Blue 4W Rm 412\r\x03645\r"
	b1002 := "\x021002\rLab: K 6.1 Bed 7\r\x034<=\r"
	if got, want := string(pt.Received()), "\r\x1bPG1\r"+b1001+b1002+b1002+"\x04\r"; got != want {
		t.Errorf("terminal received %q, want %q", got, want)
	}
	if got, want := string(pt.Sent()), sim.TAPIDPrompt+sim.TAPLogonOK+sim.TAPGoAhead+sim.TAPPageSent+sim.TAPTryLater+sim.TAPPageSent+sim.TAPGoodbye; got != want {
		t.Errorf("terminal sent %q, want %q", got, want)
	}
	if got := list(pt.Pages()); got != "1001:Code Blue 4W Rm 412|1002:Lab: K 6.1 Bed 7|" {
		t.Errorf("terminal took %q", got)
	}
}

// Hundreds of pages from a Client to the simulated terminal: what the
// terminal took is exactly what Send reported accepted, once each; pages
// it rejects, keeps asking for again, or takes without answering come out
// as permanent, temporary and unknown.
func TestClientOverSerialLine(t *testing.T) {
	t.Parallel()
	nakOnce := map[string]bool{}
	pt := mustTerminal(t, sim.TerminalOptions{Password: "4711", Answer: func(p tap.Page) sim.Answer {
		switch {
		case strings.HasPrefix(p.ID, "9"):
			return sim.AnswerReject
		case p.ID == "5555":
			return sim.AnswerNAK
		case p.ID == "7777":
			return sim.AnswerSilent
		case strings.HasPrefix(p.ID, "8") && !nakOnce[p.Text.Reveal()]:
			nakOnce[p.Text.Reveal()] = true
			return sim.AnswerNAK
		}
		return sim.AnswerAccept
	}})
	var accepted []tap.Page
	err := onLine(t, pt.Path(), func(ctx context.Context, rw io.ReadWriter) error {
		c := tap.NewClient(rw, tap.ClientConfig{Password: "4711"})
		if err := c.Logon(ctx); err != nil {
			return err
		}
		for i := range 300 {
			id := fmt.Sprint(1000 + i)
			switch i % 10 {
			case 8:
				id = fmt.Sprint(8000 + i)
			case 9:
				id = fmt.Sprint(9000 + i)
			}
			p := page(id, fmt.Sprintf("Bed %d: %s", i, strings.Repeat("nurse call ", i%70)))
			r, err := c.Send(ctx, p)
			var se *tap.SendError
			switch {
			case i%10 == 9:
				if !errors.As(err, &se) || !errors.Is(err, tap.ErrPermanent) || se.Reply.Code() != tap.CodeUnknownID {
					return fmt.Errorf("page %d: %v, %v", i, r, err)
				}
			case err != nil || r.Code() != tap.CodeSent:
				return fmt.Errorf("page %d: %v, %w", i, r, err)
			default:
				accepted = append(accepted, p)
			}
		}
		var se *tap.SendError
		if _, err := c.Send(ctx, page("5555", "always NAK")); !errors.As(err, &se) || !errors.Is(err, tap.ErrTemporary) || !errors.Is(err, tap.ErrNAK) || se.Sends != 4 {
			return fmt.Errorf("NAK forever: %v", err)
		}
		if err := c.Logoff(ctx); err != nil {
			return err
		}

		// A terminal that takes the page and says nothing: unknown.
		quick := tap.NewClient(rw, tap.ClientConfig{Password: "4711", ReplyWait: 300 * time.Millisecond})
		if err := quick.Logon(ctx); err != nil {
			return err
		}
		if _, err := quick.Send(ctx, page("7777", "went out, no answer")); !errors.Is(err, tap.ErrUnknown) || !errors.Is(err, tap.ErrTimeout) {
			return fmt.Errorf("silent terminal: %v", err)
		}
		accepted = append(accepted, page("7777", "went out, no answer"))
		if err := quick.Logon(ctx); err != nil { // ends the session in doubt
			return err
		}
		if err := quick.Logoff(ctx); err != nil {
			return err
		}
		if err := c.Logon(ctx); err != nil {
			return err
		}
		if r, err := c.Send(ctx, page("1", "after")); err != nil || r.Code() != tap.CodeSent {
			return fmt.Errorf("page after: %v, %w", r, err)
		}
		accepted = append(accepted, page("1", "after"))
		return c.Logoff(ctx)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := list(pt.Pages()), list(accepted); got != want {
		t.Errorf("terminal took %d pages, Send accepted %d:\n%s\n%s", len(pt.Pages()), len(accepted), got, want)
	}
}

// recorder is an accept function that records pages.
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

// Hundreds of inbound pages from simulated senders, with and without a
// logon, through ServeTerminal on a serial line: what was answered 211 is
// exactly what accept took. Noise on the line changes nothing; a hang-up in
// the middle of a block accepts nothing, and the line comes back.
func TestServeTerminalOverSerialLine(t *testing.T) {
	t.Parallel()
	for _, cfg := range []tap.ClientConfig{{Password: "pw"}, {NoLogon: true}} {
		t.Run(fmt.Sprintf("NoLogon=%v", cfg.NoLogon), func(t *testing.T) {
			t.Parallel()
			s, err := sim.NewSender(t.TempDir(), sim.SenderOptions{Name: "nursecall-4w", Client: cfg})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			rec := &recorder{}
			sessions := make(chan struct{}, 8)
			runLine(t, s.Path(), func(ctx context.Context, rw io.ReadWriter, ready func()) error {
				ready()
				sessions <- struct{}{}
				return tap.ServeTerminal(ctx, rw, tap.TerminalConfig{}, rec.accept)
			})
			waitSession := func() {
				t.Helper()
				select {
				case <-sessions:
				case <-time.After(safety):
					t.Fatal("the line did not open")
				}
			}
			ctx, cancel := context.WithTimeout(t.Context(), safety)
			defer cancel()
			var acked []tap.Page
			send := func(i int) {
				t.Helper()
				p := page(fmt.Sprint(4000+i), fmt.Sprintf("4W bed %d %s", i, strings.Repeat("assist ", i%90)))
				r, err := s.Page(ctx, p.ID, p.Text.Reveal())
				if err != nil || r.Code() != tap.CodeSent {
					t.Fatalf("page %d: %v, %v", i, r, err)
				}
				acked = append(acked, p)
			}
			waitSession()
			for i := range 150 {
				send(i)
			}
			if err := s.SendRaw([]byte("\x00\xff\n+++\rATH0\r\x15\x06\x1e\r")); err != nil {
				t.Fatal(err)
			}
			for i := 150; i < 300; i++ {
				send(i)
			}
			half, err := tap.EncodePage(page("6666", "cut off by the hang-up"))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SendRaw(half[0][:20]); err != nil {
				t.Fatal(err)
			}
			if err := s.Unplug(); err != nil {
				t.Fatal(err)
			}
			if err := s.Plug(); err != nil {
				t.Fatal(err)
			}
			waitSession()
			for i := 300; i < 320; i++ {
				send(i)
			}
			if err := s.Logoff(ctx); err != nil {
				t.Error(err)
			}
			if got, want := list(rec.got()), list(acked); got != want {
				t.Errorf("accepted %d pages, the sender got 211 for %d", len(rec.got()), len(acked))
			}
		})
	}
}

// A PageGate-like session limit on a terminal that garbles every fourth
// block and truncates long texts, over the agent's serial path: the
// client logs on anew every 25 pages, resends what was garbled, and every
// page is taken exactly once.
func TestClientQuirksOverSerialLine(t *testing.T) {
	t.Parallel()
	pt := mustTerminal(t, sim.TerminalOptions{NAKEvery: 4, MaxText: 128})
	const n = 110
	var want []tap.Page
	err := onLine(t, pt.Path(), func(ctx context.Context, rw io.ReadWriter) error {
		c := tap.NewClient(rw, tap.ClientConfig{MaxPagesPerSession: 25})
		if err := c.Logon(ctx); err != nil {
			return err
		}
		for i := range n {
			text := fmt.Sprintf("Bed %d %s", i, strings.Repeat("assist ", i%40))
			code := tap.CodeSent
			if len(text) > 128 {
				code = tap.CodeTruncated
			}
			if r, err := c.Send(ctx, page(fmt.Sprint(7000+i), text)); err != nil || r.Code() != code {
				return fmt.Errorf("page %d: %v, %w", i, r, err)
			}
			want = append(want, page(fmt.Sprint(7000+i), text[:min(len(text), 128)]))
		}
		return c.Logoff(ctx)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := list(pt.Pages()); got != list(want) {
		t.Errorf("terminal took %d pages, want the %d sent once each", len(pt.Pages()), n)
	}
	rec := string(pt.Received())
	if logons, eots := strings.Count(rec, "\x1bPG1\r"), strings.Count(rec, "\x04\r"); logons != (n+24)/25 || eots != logons {
		t.Errorf("%d logons and %d EOTs for %d pages, want %d of each", logons, eots, n, (n+24)/25)
	}
}

// Senders that send no checksum, with and without a logon, and one whose
// block has a wrong checksum, through ServeTerminal on a serial line.
func TestServeTerminalNoChecksumOverSerialLine(t *testing.T) {
	t.Parallel()
	s, err := sim.NewSender(t.TempDir(), sim.SenderOptions{Client: tap.ClientConfig{NoChecksum: true, Password: "pw"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec := &recorder{}
	runLine(t, s.Path(), func(ctx context.Context, rw io.ReadWriter, ready func()) error {
		ready()
		return tap.ServeTerminal(ctx, rw, tap.TerminalConfig{Password: "pw", NoChecksum: true}, rec.accept)
	})
	ctx, cancel := context.WithTimeout(t.Context(), safety)
	defer cancel()
	var acked []tap.Page
	for i := range 50 {
		p := page(fmt.Sprint(4000+i), fmt.Sprintf("4W bed %d %s", i, strings.Repeat("assist ", i%60)))
		if r, err := s.Page(ctx, p.ID, p.Text.Reveal()); err != nil || r.Code() != tap.CodeSent {
			t.Fatalf("page %d: %v, %v", i, r, err)
		}
		acked = append(acked, p)
		if i%10 == 5 {
			blocks, err := tap.EncodePage(page("1", "garbled"))
			if err != nil {
				t.Fatal(err)
			}
			if r, err := s.Exchange(ctx, sim.CorruptChecksum(blocks[0])); err != nil || r.Code() != tap.CodeChecksum || r.Action != tap.NAK {
				t.Fatalf("bad checksum: %v, %v", r, err)
			}
		}
	}
	if err := s.Logoff(ctx); err != nil {
		t.Error(err)
	}
	if got, want := list(rec.got()), list(acked); got != want {
		t.Errorf("accepted %d pages, the sender got 211 for %d", len(rec.got()), len(acked))
	}
}
