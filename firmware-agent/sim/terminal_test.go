package sim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"pagebridge/firmware-agent/tap"
	"pagebridge/gateway/paging"
)

// ttyRW reads a port as serialport hands it to a session: a read that
// times out returns (0, nil).
type ttyRW struct{ f *os.File }

func (p ttyRW) Read(b []byte) (int, error) {
	if err := p.f.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		return 0, err
	}
	n, err := p.f.Read(b)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return n, nil
	}
	return n, err
}

func (p ttyRW) Write(b []byte) (int, error) { return p.f.Write(b) }

func mustTerminal(t *testing.T, opts TerminalOptions) *PagingTerminal {
	t.Helper()
	pt, err := NewPagingTerminal(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pt.Close() })
	return pt
}

func ids(pages []tap.Page) string {
	var b strings.Builder
	for _, p := range pages {
		fmt.Fprintf(&b, "%s:%s|", p.ID, p.Text.Reveal())
	}
	return b.String()
}

// A tap.Client pages the simulated terminal over the pty; the terminal
// records exactly the pages it took, across a power cycle.
func TestPagingTerminalTakesPages(t *testing.T) {
	t.Parallel()
	pt := mustTerminal(t, TerminalOptions{Password: "pw", Answer: answerByID})
	ctx, cancel := context.WithTimeout(t.Context(), safety)
	defer cancel()
	var want strings.Builder
	session := func(first, n int) {
		c := tap.NewClient(ttyRW{openPort(t, pt.Path())}, tap.ClientConfig{Password: "pw"})
		if err := c.Logon(ctx); err != nil {
			t.Fatal(err)
		}
		for i := first; i < first+n; i++ {
			id, text := fmt.Sprint(1000+i), fmt.Sprintf("Room %d: %s", i, strings.Repeat("call ", i%80))
			if i%50 == 7 {
				id = "511"
			}
			r, err := c.Send(ctx, tap.Page{ID: id, Text: paging.NewPHI(text)})
			switch {
			case id == "511":
				if !errors.Is(err, tap.ErrPermanent) || r.Code() != tap.CodeUnknownID {
					t.Fatalf("page %d: %v, %v", i, r, err)
				}
			case err != nil || r.Code() != tap.CodeSent:
				t.Fatalf("page %d: %v, %v", i, r, err)
			default:
				fmt.Fprintf(&want, "%s:%s|", id, text)
			}
		}
		if err := c.Logoff(ctx); err != nil {
			t.Error(err)
		}
	}
	session(0, 150)
	if err := pt.Unplug(); err != nil {
		t.Fatal(err)
	}
	if err := pt.Plug(); err != nil {
		t.Fatal(err)
	}
	session(150, 100)
	if got := ids(pt.Pages()); got != want.String() {
		t.Errorf("the terminal took %d pages, not the %d it answered 211", len(pt.Pages()), strings.Count(want.String(), "|"))
	}
}

// A terminal that takes a page and stays silent leaves its sender in
// doubt; one that drops it silently too. Only the first records it.
func TestPagingTerminalSilent(t *testing.T) {
	t.Parallel()
	pt := mustTerminal(t, TerminalOptions{Answer: answerByID})
	ctx, cancel := context.WithTimeout(t.Context(), safety)
	defer cancel()
	rw := ttyRW{openPort(t, pt.Path())}
	c := tap.NewClient(rw, tap.ClientConfig{ReplyWait: 200 * time.Millisecond})
	for _, id := range []string{"000", "001"} {
		if err := c.Logon(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Send(ctx, tap.Page{ID: id, Text: paging.NewPHI("x")}); !errors.Is(err, tap.ErrUnknown) {
			t.Fatalf("page %s: %v, want ErrUnknown", id, err)
		}
	}
	// The next Logon ends the session left in doubt; a client with the
	// default reply timeout takes over from there.
	if err := c.Logon(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Logoff(ctx); err != nil {
		t.Fatal(err)
	}
	c = tap.NewClient(rw, tap.ClientConfig{})
	if err := c.Logon(ctx); err != nil {
		t.Fatal(err)
	}
	if r, err := c.Send(ctx, tap.Page{ID: "1", Text: paging.NewPHI("after")}); err != nil || r.Code() != tap.CodeSent {
		t.Fatalf("page after: %v, %v", r, err)
	}
	if got := ids(pt.Pages()); got != "000:x|1:after|" {
		t.Errorf("took %q", got)
	}
}

// A terminal that garbles every third block and truncates long texts: the
// client resends what was answered NAK, and every page is taken exactly
// once, truncated where it was too long.
func TestPagingTerminalFaults(t *testing.T) {
	t.Parallel()
	pt := mustTerminal(t, TerminalOptions{NAKEvery: 3, MaxText: 30, MaxBadBlocks: 3})
	ctx, cancel := context.WithTimeout(t.Context(), safety)
	defer cancel()
	c := tap.NewClient(ttyRW{openPort(t, pt.Path())}, tap.ClientConfig{})
	if err := c.Logon(ctx); err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := range 60 {
		id, text := fmt.Sprint(3000+i), fmt.Sprintf("Bed %d %s", i, strings.Repeat("help ", i%90))
		r, err := c.Send(ctx, tap.Page{ID: id, Text: paging.NewPHI(text)})
		wantCode := tap.CodeSent
		if len(text) > 30 {
			wantCode, text = tap.CodeTruncated, text[:30]
		}
		if err != nil || r.Code() != wantCode {
			t.Fatalf("page %d: %v, %v; want %d", i, r, err, wantCode)
		}
		fmt.Fprintf(&want, "%s:%s|", id, text)
	}
	if got := ids(pt.Pages()); got != want.String() {
		t.Errorf("took %q,\nwant %q", got, want.String())
	}
	blocks := strings.Count(string(pt.Received()), "\x02")
	if naks := strings.Count(string(pt.Sent()), TAPChecksum); naks != blocks/3 || naks == 0 {
		t.Errorf("%d blocks answered 514, want every third of %d", naks, blocks)
	}
}

// A paced terminal takes and answers pages as the plain one does. Pacing
// can only make the exchange slower: the time it took is checked against
// the least the line's byte time allows, never against an upper bound.
func TestPagingTerminalPaced(t *testing.T) {
	t.Parallel()
	const baud = 9600
	const delay = 20 * time.Millisecond
	pt := mustTerminal(t, TerminalOptions{Baud: baud, Delay: delay})
	ctx, cancel := context.WithTimeout(t.Context(), safety)
	defer cancel()
	c := tap.NewClient(ttyRW{openPort(t, pt.Path())}, tap.ClientConfig{})
	t0 := time.Now()
	if err := c.Logon(ctx); err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := range 8 {
		id, text := fmt.Sprint(5000+i), fmt.Sprintf("Paced page %d %s", i, strings.Repeat("x", 40))
		if r, err := c.Send(ctx, tap.Page{ID: id, Text: paging.NewPHI(text)}); err != nil || r.Code() != tap.CodeSent {
			t.Fatalf("page %d: %v, %v", i, r, err)
		}
		fmt.Fprintf(&want, "%s:%s|", id, text)
	}
	elapsed := time.Since(t0)
	if got := ids(pt.Pages()); got != want.String() {
		t.Errorf("took %q", got)
	}
	// Each answer follows the whole of what it answers, so the bytes both
	// ways and the delays add up.
	bytes := len(pt.Received()) + len(pt.Sent())
	least := time.Duration(bytes)*10*time.Second/baud + 10*delay // ID=, logon, 8 pages
	if elapsed < least {
		t.Errorf("%d bytes and 10 replies took %v, less than the line allows (%v)", bytes, elapsed, least)
	}
}

// Unplug does not wait for a slow terminal to finish thinking.
func TestPagingTerminalUnplugWhileSlow(t *testing.T) {
	t.Parallel()
	pt := mustTerminal(t, TerminalOptions{Delay: time.Hour, Baud: 300})
	f := openPort(t, pt.Path())
	if _, err := f.Write([]byte("\r")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), safety)
	defer cancel()
	if err := pt.WaitFor(ctx, func(rec []byte) bool { return len(rec) > 0 }); err != nil {
		t.Fatal(err)
	}
	if err := pt.Unplug(); err != nil { // holds the test up for an hour if it waits
		t.Fatal(err)
	}
	if len(pt.Sent()) != 0 {
		t.Errorf("sent %q before the delay was over", pt.Sent())
	}
}
