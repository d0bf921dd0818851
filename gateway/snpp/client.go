package snpp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"pagebridge/gateway/paging"
)

// ErrRefused wraps an answer other than the one the step needed; its text
// is the server's line (a code and its words, never the page's text).
var ErrRefused = errors.New("snpp: refused")

// Send pages pagerIDs with text over SNPP level 2, as a switchboard or
// answering service does: PAGE for each recipient, then MESS (DATA for
// text over one line), then SEND and QUIT. It returns nil only once the
// server answered SEND with 250. For the demo's simulated sender and for
// tests; senders in the field bring their own client.
func Send(ctx context.Context, addr string, pagerIDs []string, text paging.PHI) error {
	if len(pagerIDs) == 0 {
		return errors.New("snpp: no pager ID")
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	} else {
		conn.SetDeadline(time.Now().Add(time.Minute))
	}
	r := bufio.NewReader(conn)
	expect := func(step string, codes ...string) error {
		line, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("snpp: %s: %w", step, err)
		}
		line = strings.TrimRight(line, "\r\n")
		for _, c := range codes {
			if strings.HasPrefix(line, c) {
				return nil
			}
		}
		return fmt.Errorf("%w: %s: %q", ErrRefused, step, line)
	}
	do := func(step, cmd string, codes ...string) error {
		if _, err := fmt.Fprintf(conn, "%s\r\n", cmd); err != nil {
			return fmt.Errorf("snpp: %s: %w", step, err)
		}
		return expect(step, codes...)
	}
	if err := expect("greeting", "220"); err != nil {
		return err
	}
	for _, id := range pagerIDs {
		if strings.ContainsAny(id, " \r\n") {
			return fmt.Errorf("snpp: pager ID %q has blanks", id)
		}
		if err := do("PAGE "+id, "PAGE "+id, "250"); err != nil {
			return err
		}
	}
	t := text.Reveal()
	if strings.ContainsAny(t, "\r\n") {
		if err := do("DATA", "DATA", "354"); err != nil {
			return err
		}
		var b strings.Builder
		for _, l := range strings.Split(strings.ReplaceAll(t, "\r\n", "\n"), "\n") {
			if strings.HasPrefix(l, ".") {
				l = "." + l // dot-stuffing
			}
			b.WriteString(l + "\r\n")
		}
		b.WriteString(".\r\n")
		if _, err := conn.Write([]byte(b.String())); err != nil {
			return fmt.Errorf("snpp: DATA: %w", err)
		}
		if err := expect("DATA", "250"); err != nil {
			return err
		}
	} else if err := do("MESS", "MESS "+t, "250"); err != nil {
		return err
	}
	if err := do("SEND", "SEND", "250"); err != nil {
		return err
	}
	do("QUIT", "QUIT", "221")
	return nil
}
