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
