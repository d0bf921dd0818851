package at

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// malformed is the shared table of odd modem output: raw bytes sent
// either as the answer to AT+CGMI ("reply") or while no command runs
// ("idle"). The engine survives each, and the next command gets exactly
// its own answer.
var malformed = []struct {
	name  string
	when  string // "reply" or "idle"
	raw   string
	check func(info []string, err error) bool // of AT+CGMI; nil: anything
}{
	{"garbage bytes", "reply", "\xff\xfe\x80garbage\x01\x02\r\n\r\nOK\r\n", ok("\xff\xfe\x80garbage\x01\x02")},
	{"garbage idle", "idle", "\xff\xfe\x80 noise \x7f", nil},
	{"lone CR", "reply", "\r", timedOut},
	{"lone CRs then the answer", "reply", "\r\r\r\rPagebridge\r\rOK\r", ok("Pagebridge")},
	{"LF only", "reply", "\nPagebridge\n\nOK\n", ok("Pagebridge")},
	{"overlong line", "reply", "\r\n" + strings.Repeat("A", 3*DefaultMaxLine) + "\r\nPagebridge\r\n\r\nOK\r\n", ok("Pagebridge")},
	{"overlong idle, no end", "idle", strings.Repeat("B", 3*DefaultMaxLine), nil},
	{"NUL bytes", "reply", "\x00\r\n\x00Page\x00bridge\r\n\x00\r\nO\x00K\x00\r\n", ok("Pagebridge")},
	{"unknown final code", "reply", "\r\nFOO BAR\r\n", timedOut},
	{"numeric result codes (ATV0)", "reply", "0\r", timedOut},
	{"OK without a line end", "reply", "\r\nOK", timedOut},
	{"prompt with no command waiting", "idle", "\r\n> ", nil},
	{"prompt as an answer", "reply", "\r\n> ", timedOut},
	{"prompt then OK on its line", "reply", "\r\n> OK\r\n", ok()},
	{"double OK", "reply", "\r\nPagebridge\r\n\r\nOK\r\n\r\nOK\r\n", ok("Pagebridge")},
	{"stray final idle", "idle", "\r\n+CME ERROR: 3\r\n\r\nOK\r\nERROR\r\n", nil},
	{"CME with garbage code", "reply", "\r\n+CME ERROR: \xff\xfe\r\n", func(_ []string, err error) bool { return isCME(-1)(err) }},
	{"CMS with no code", "reply", "\r\n+CMS ERROR:\r\n", func(_ []string, err error) bool { return isCMS(-1)(err) }},
	{"CME with a huge number", "reply", "\r\n+CME ERROR: 99999999999999999999999\r\n", func(_ []string, err error) bool { return isCME(-1)(err) }},
	{"two-line URC header without data", "reply", "\r\n+CMT: ,22\r\n\r\nOK\r\n", ok()},
	{"two-line URC header at the end", "idle", "\r\n+CDS: 25\r\n", nil},
	{"ESC and Ctrl-Z from the modem", "reply", "\x1b\x1a\r\nPage\x1abridge\r\n\x1b\r\nOK\r\n", ok("Pagebridge")},
	{"thousand empty lines", "reply", strings.Repeat("\r\n", 1000) + "OK\r\n", ok()},
	{"spaces only lines", "reply", "\r\n   \r\n\t\r\nOK \r\n", ok()},
	{"half a URC then the answer", "idle", "+CMT", nil},
	{"info flood", "reply", strings.Repeat("\r\nx\r\n", maxInfo+10) + "\r\nOK\r\n", func(info []string, err error) bool { return err == nil && len(info) == maxInfo }},
}

func ok(want ...string) func([]string, error) bool {
	return func(info []string, err error) bool { return err == nil && equal(info, want) }
}

func timedOut(_ []string, err error) bool { return errors.Is(err, ErrTimeout) }

func TestMalformed(t *testing.T) {
	t.Parallel()
	for _, tt := range malformed {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, fm := start(t, fastOptions(make(urcs, 100)))
			fm.set(func(fm *fakeModem) {
				fm.handle = func(cmd string) string {
					if cmd == "AT+CGMI" && tt.when == "reply" {
						return tt.raw
					}
					return defaultReply(cmd)
				}
			})
			if tt.when == "idle" {
				fm.send(tt.raw)
				// What the modem sent while idle must reach the engine
				// before the command is written: bytes still on the line
				// then would be taken for its answer, as on a real line.
				settled(t, e, fm)
			}
			// Cases that must time out get a short timeout; the others a
			// long one, which a loaded machine cannot run out.
			timeout := 5 * time.Second
			if tt.check != nil && tt.check(nil, ErrTimeout) {
				timeout = 100 * time.Millisecond
			}
			info, err := e.Do(context.Background(), Command{Line: "AT+CGMI", Timeout: timeout})
			if tt.check != nil && !tt.check(info, err) {
				t.Errorf("AT+CGMI: info %q, err %v", info, err)
			}
			// The next commands get exactly their own answers.
			mustExec(t, e, "AT+CSQ", "+CSQ: 20,99")
			mustExec(t, e, "AT+CREG?", "+CREG: 0,1")
			mustExec(t, e, "AT")
		})
	}
}

// settled waits until the engine has taken every byte the modem sent: the
// line's buffer empty and nothing waiting between the reader and the
// owner, twice in a row a little apart (the reader may hold bytes it just
// read).
func settled(t *testing.T, e *Engine, fm *fakeModem) {
	t.Helper()
	empty := func() bool {
		fm.port.out.mu.Lock()
		n := len(fm.port.out.buf)
		fm.port.out.mu.Unlock()
		return n == 0 && len(e.in) == 0
	}
	deadline := time.Now().Add(wait)
	for streak := 0; streak < 2; {
		if time.Now().After(deadline) {
			t.Fatal("the engine did not take the modem's bytes")
		}
		time.Sleep(10 * time.Millisecond)
		if empty() {
			streak++
		} else {
			streak = 0
		}
	}
}
