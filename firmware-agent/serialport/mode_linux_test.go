package serialport

import (
	"context"
	"io"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPTYMode checks that the Config's serial settings, RTS/CTS flow
// control included, reach the tty. A Linux pty forces CS8 and clears
// PARENB in pty_set_termios, so data bits and parity cannot be seen here.
func TestPTYMode(t *testing.T) {
	t.Parallel()
	slave, _ := openPTY(t)
	f, err := os.OpenFile(slave, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg := fastConfig(slave)
	cfg.DataBits, cfg.StopBits, cfg.Parity, cfg.Flow = 7, 2, "even", "rtscts"
	rec := newRecorder()
	l, err := New(cfg, nil, rec.onState)
	if err != nil {
		t.Fatal(err)
	}
	runLine(t, l, func(ctx context.Context, _ io.ReadWriter, ready func()) error {
		ready()
		<-ctx.Done()
		return ctx.Err()
	})
	rec.waitFor(t, StateReady)

	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name       string
		mask, want uint32
	}{
		{"CSTOPB", unix.CSTOPB, unix.CSTOPB},
		{"CRTSCTS", unix.CRTSCTS, unix.CRTSCTS},
	} {
		if got := tio.Cflag & c.mask; got != c.want {
			t.Errorf("%s: cflag bits %#o, want %#o", c.name, got, c.want)
		}
	}
}
