package tap

import (
	"encoding/hex"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"pagebridge/firmware-agent/serialport"
)

// serialEnd gives one end of net.Pipe the reads of a serial port with a
// read timeout, as serialport hands a session: a read that times out
// returns (0, nil).
func serialEnd(c net.Conn) net.Conn { return serialport.LineConn(c, readTimeout) }

const readTimeout = 100 * time.Millisecond

// exchange is one step of a scripted peer: it reads exactly want, then
// writes reply (nothing if empty). close hangs up instead of replying.
type exchange struct {
	want, reply string
	close       bool
}

// script plays a scripted peer on conn and returns a channel closed when
// it is done: after the last exchange it reads until conn fails, so the
// other side's writes never block. Close the other end to finish it.
func script(t *testing.T, conn net.Conn, steps []exchange) <-chan struct{} {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer conn.Close()
		for i, s := range steps {
			got := make([]byte, len(s.want))
			if n, err := io.ReadFull(conn, got); err != nil {
				t.Errorf("step %d: read %q, want %q: %v", i, got[:n], s.want, err)
				return
			}
			if string(got) != s.want {
				t.Errorf("step %d: peer got %q, want %q", i, got, s.want)
				return
			}
			if s.close {
				return
			}
			if s.reply != "" {
				if _, err := conn.Write([]byte(s.reply)); err != nil {
					t.Errorf("step %d: write reply: %v", i, err)
					return
				}
			}
		}
		extra, _ := io.ReadAll(conn)
		if len(extra) > 0 {
			t.Errorf("peer got %q after the script", extra)
		}
	}()
	return done
}

// hexBytes decodes "02 31 0D" as the reference writes bytes.
func hexBytes(t *testing.T, s string) string {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
