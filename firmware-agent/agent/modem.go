package agent

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"
)

// modemSession checks that a cellular modem answers and keeps checking:
// AT until OK (the modem may still be booting, or echoing), then ATE0 and
// AT+CMEE=1, then ready, then AT every 30 s. A modem that stops answering
// ends the session, and the line reopens it. SMS itself (the AT engine,
// PDUs, the pool) is carried out by the modem driver, not by this probe;
// until then a modem takes no jobs.
func (d *device) modemSession(ctx context.Context, rw io.ReadWriter, ready func()) error {
	at := &atProbe{rw: rw}
	var err error
	for try := 0; try < 3; try++ {
		if err = at.command(ctx, "AT", 2*time.Second); err == nil {
			break
		}
	}
	if err != nil {
		return err
	}
	for _, c := range []string{"ATE0", "AT+CMEE=1"} {
		if err := at.command(ctx, c, 5*time.Second); err != nil {
			return err
		}
	}
	ready()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(30 * time.Second):
		}
		if err := at.command(ctx, "AT", 5*time.Second); err != nil {
			return err
		}
	}
}

// atProbe sends one AT command at a time and waits for its final result.
type atProbe struct {
	rw  io.ReadWriter
	buf []byte
}

func (p *atProbe) command(ctx context.Context, cmd string, timeout time.Duration) error {
	p.buf = p.buf[:0]
	if _, err := p.rw.Write([]byte(cmd + "\r")); err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	chunk := make([]byte, 256)
	for time.Now().Before(deadline) {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := p.rw.Read(chunk)
		if err != nil {
			return err
		}
		p.buf = append(p.buf, chunk[:n]...)
		for _, line := range bytes.Split(p.buf, []byte("\r\n")) {
			switch s := string(bytes.TrimSpace(line)); {
			case s == "OK":
				return nil
			case s == "ERROR" || bytes.HasPrefix(line, []byte("+CME ERROR")):
				return fmt.Errorf("modem answered %q to %s", s, cmd)
			}
		}
		if len(p.buf) > 4096 {
			p.buf = p.buf[len(p.buf)-1024:]
		}
	}
	return fmt.Errorf("%w: no OK to %s within %s", errLineQuiet, cmd, timeout)
}
