package at

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestEcho(t *testing.T) {
	t.Parallel()
	for _, echo := range []bool{false, true} {
		t.Run(fmt.Sprint("echo=", echo), func(t *testing.T) {
			t.Parallel()
			e, fm := start(t, fastOptions(nil))
			fm.set(func(fm *fakeModem) { fm.echo = echo })
			mustExec(t, e, "AT")
			mustExec(t, e, "AT+CSQ", "+CSQ: 20,99")
			mustExec(t, e, "AT+CGMI", "Pagebridge")
			mustExec(t, e, "at+csq", "+CSQ: 20,99") // echo matched case-insensitively, prefix derived upper-case
			mr, err := e.SendPDU(ctxT(t), 3, "00010203", 0)
			if err != nil || mr != 42 {
				t.Fatalf("SendPDU = %d, %v; want 42", mr, err)
			}
		})
	}
}

func TestDeviceErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		reply string
		check func(error) bool
		class Class
	}{
		{"+CME ERROR: 4", isCME(4), Permanent},
		{"+CME ERROR: operation not supported", isCME(4), Permanent},
		{"+CME ERROR: SIM busy", isCME(14), Temporary},
		{"+CME ERROR: 14", isCME(14), Temporary},
		{"+CME ERROR: 515", isCME(515), Temporary},
		{"+CME ERROR: SIM PIN required", isCME(11), Modem},
		{"+CME ERROR: \"incorrect password\"", isCME(16), Modem},
		{"+CME ERROR: something new", isCME(-1), Temporary},
		{"+CMS ERROR: 500", isCMS(500), Temporary},
		{"+CMS ERROR: unknown error", isCMS(500), Temporary},
		{"+CMS ERROR:331", isCMS(331), Temporary},
		{"+CMS ERROR: network timeout", isCMS(332), Temporary},
		{"+CMS ERROR: 304", isCMS(304), Permanent},
		{"+CMS ERROR: Invalid PDU mode parameter", isCMS(304), Permanent},
		{"+CMS ERROR: 305", isCMS(305), Permanent},
		{"+CMS ERROR: 321", isCMS(321), Permanent},
		{"+CMS ERROR: 330", isCMS(330), Modem},
		{"+CMS ERROR: 512", isCMS(512), Temporary},
		{"ERROR", isResult("ERROR"), Temporary},
		{"NO CARRIER", isResult("NO CARRIER"), Temporary},
	}
	e, fm := start(t, fastOptions(nil))
	for _, tt := range tests {
		fm.set(func(fm *fakeModem) {
			fm.handle = func(cmd string) string {
				if cmd == "AT+CPMS?" {
					return "\r\n" + tt.reply + "\r\n"
				}
				return defaultReply(cmd)
			}
		})
		info, err := e.Exec(ctxT(t), "AT+CPMS?")
		if info != nil || !tt.check(err) {
			t.Errorf("%q: info %q err %v", tt.reply, info, err)
		}
		if c := ClassOf(err); c != tt.class {
			t.Errorf("%q: class %v, want %v", tt.reply, c, tt.class)
		}
		if errors.Is(err, ErrTimeout) || errors.Is(err, ErrUnknown) {
			t.Errorf("%q: %v is not a device answer", tt.reply, err)
		}
	}
	mustExec(t, e, "AT+CSQ", "+CSQ: 20,99")
}

func isCME(n int) func(error) bool {
	return func(err error) bool {
		var c *CMEError
		return errors.As(err, &c) && c.Code == n
	}
}

func isCMS(n int) func(error) bool {
	return func(err error) bool {
		var c *CMSError
		return errors.As(err, &c) && c.Code == n
	}
}

func isResult(s string) func(error) bool {
	return func(err error) bool {
		var r *ResultError
		return errors.As(err, &r) && r.Result == s
	}
}

// A burst of +CMS ERROR: 500 on sends: each is typed, temporary, and not
// "outcome unknown"; the engine stays in step.
func TestCMS500Burst(t *testing.T) {
	t.Parallel()
	e, fm := start(t, fastOptions(nil))
	fm.set(func(fm *fakeModem) { fm.onData = func(string) string { return "\r\n+CMS ERROR: 500\r\n" } })
	for i := range 20 {
		_, err := e.SendPDU(ctxT(t), 3, "00010203", 0)
		if !isCMS(500)(err) || !IsTemporary(err) || errors.Is(err, ErrUnknown) {
			t.Fatalf("send %d: %v, want temporary +CMS ERROR 500", i, err)
		}
	}
	// Also answered to the command itself, before any prompt.
	fm.set(func(fm *fakeModem) {
		fm.handle = func(cmd string) string {
			if strings.HasPrefix(cmd, "AT+CMGS") {
				return "\r\n+CMS ERROR: 500\r\n"
			}
			return defaultReply(cmd)
		}
	})
	for range 5 {
		if _, err := e.SendPDU(ctxT(t), 3, "00010203", 0); !isCMS(500)(err) || errors.Is(err, ErrUnknown) {
			t.Fatalf("send: %v", err)
		}
	}
	mustExec(t, e, "AT+CSQ", "+CSQ: 20,99")
}

// URCs never reach a reply, wherever they come.
func TestURCInReply(t *testing.T) {
	t.Parallel()
	const cmtPDU = "07919471060040340409D039BD0C0000122011918041800BC8329BFD06DDDF723619"
	tests := []struct {
		name     string
		cmd      string
		reply    string
		want     []string
		wantURCs []URC
	}{
		{"CMTI between info and OK", "AT+CSQ",
			"\r\n+CSQ: 20,99\r\n\r\n+CMTI: \"ME\",3\r\n\r\nOK\r\n",
			[]string{"+CSQ: 20,99"}, []URC{{"+CMTI:", `+CMTI: "ME",3`, ""}}},
		{"CMTI before info", "AT+CSQ",
			"\r\n+CMTI: \"SM\",1\r\n\r\n+CSQ: 20,99\r\n\r\nOK\r\n",
			[]string{"+CSQ: 20,99"}, []URC{{"+CMTI:", `+CMTI: "SM",1`, ""}}},
		{"CMT with its PDU between info lines", "AT+CGMI",
			"\r\nPagebridge\r\n\r\n+CMT: ,33\r\n" + cmtPDU + "\r\n\r\nModel X\r\n\r\nOK\r\n",
			[]string{"Pagebridge", "Model X"}, []URC{{"+CMT:", "+CMT: ,33", cmtPDU}}},
		{"CDS and RING and SMMEMFULL", "AT+CGMI",
			"\r\n+CDS: 25\r\n0791947106004034060A0A81...\r\nRING\r\n\r\nPagebridge\r\n^SMMEMFULL: \"SM\"\r\n\r\nOK\r\n",
			[]string{"Pagebridge"}, []URC{{"+CDS:", "+CDS: 25", "0791947106004034060A0A81..."}, {"RING", "RING", ""}, {"^SMMEMFULL", `^SMMEMFULL: "SM"`, ""}}},
		{"CREG reply is the command's", "AT+CREG?",
			"\r\n+CREG: 0,1\r\n\r\n+CMTI: \"ME\",4\r\n\r\nOK\r\n",
			[]string{"+CREG: 0,1"}, []URC{{"+CMTI:", `+CMTI: "ME",4`, ""}}},
		{"CREG URC during another command", "AT+CSQ",
			"\r\n+CREG: 5\r\n\r\n+CSQ: 20,99\r\n\r\nOK\r\n",
			[]string{"+CSQ: 20,99"}, []URC{{"+CREG:", "+CREG: 5", ""}}},
		{"RING word is not a prefix", "AT+CGMI",
			"\r\nRINGMASTER\r\n\r\nOK\r\n",
			[]string{"RINGMASTER"}, nil},
		{"CUSD", "AT+CSQ",
			"\r\n+CSQ: 9,99\r\n+CUSD: 0,\"Balance 5\",15\r\n\r\nOK\r\n",
			[]string{"+CSQ: 9,99"}, []URC{{"+CUSD:", `+CUSD: 0,"Balance 5",15`, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, chunked := range []bool{false, true} {
				got := make(urcs, 10)
				e, fm := start(t, fastOptions(got))
				fm.set(func(fm *fakeModem) {
					fm.handle = func(cmd string) string {
						if cmd != tt.cmd {
							return defaultReply(cmd)
						}
						if !chunked {
							return tt.reply
						}
						for i := range len(tt.reply) { // byte by byte
							fm.send(tt.reply[i : i+1])
						}
						return ""
					}
				})
				mustExec(t, e, tt.cmd, tt.want...)
				for _, want := range tt.wantURCs {
					if u := got.next(t); u != want {
						t.Fatalf("chunked=%v: URC %+v, want %+v", chunked, u, want)
					}
				}
				mustExec(t, e, "AT")
				select {
				case u := <-got:
					t.Fatalf("unexpected URC %+v", u)
				default:
				}
			}
		})
	}
}

// The late OK of a command that timed out is never the next command's.
func TestLateOKAfterTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cmd  string // the command that times out
		// when the late answer comes: "probe" = just before the answer
		// to the first probe; "drain" = while the engine waits for quiet;
		// "next" = never before the probe is answered.
		when       string
		late       string
		wantProbes []string
	}{
		{"late OK before the probe's answer", "AT+CGMI", "probe", "\r\nPagebridge\r\n\r\nOK\r\n", []string{"AT+CMEE?"}},
		{"late OK during the drain", "AT+CGMI", "drain", "\r\nOK\r\n", []string{"AT+CMEE?"}},
		{"late answer looks like the first probe's", "AT+CMEE?", "probe", "\r\n+CMEE: 1\r\n\r\nOK\r\n", []string{"AT+CSQ"}},
		{"late ERROR", "AT+CGMI", "probe", "\r\nERROR\r\n", []string{"AT+CMEE?"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, fm := start(t, fastOptions(nil))
			first := true
			fm.set(func(fm *fakeModem) {
				fm.handle = func(cmd string) string {
					switch {
					case cmd == tt.cmd && first:
						first = false
						return "" // answered late
					case cmd == "AT+CMEE?" || cmd == "AT+CSQ":
						if tt.when == "probe" && tt.late != "" {
							late := tt.late
							tt.late = ""
							return late + defaultReply(cmd)
						}
					}
					return defaultReply(cmd)
				}
			})
			_, err := e.Do(ctxT(t), Command{Line: tt.cmd, Timeout: 50 * time.Millisecond})
			if !errors.Is(err, ErrTimeout) {
				t.Fatalf("first command: %v, want ErrTimeout", err)
			}
			if tt.when == "drain" {
				fm.waitGot(func(s string) bool { return s == "ESC" })
				fm.send(tt.late)
			}
			// The next command gets its own answer: with the stale OK it
			// would get no information line.
			mustExec(t, e, "AT+CSQ", "+CSQ: 20,99")
			mustExec(t, e, "AT+CGMI", "Pagebridge")
			got := fm.received()
			var probes []string
			for _, g := range got[1:] {
				if g == "ESC" {
					continue
				}
				if g == "AT+CSQ" && len(probes) > 0 {
					break
				}
				probes = append(probes, g)
			}
			if got[1] != "ESC" || !equal(probes[:len(tt.wantProbes)], tt.wantProbes) {
				t.Fatalf("modem received %q; want ESC then probes %q", got, tt.wantProbes)
			}
		})
	}
}

// The late OK comes first and the probe's own answer only later: an
// engine that took any OK for the probe's would write the next command at
// once and get the probe's "+CMEE: 1" as its answer. The modem holds the
// probe's answer until the next line or 100ms, whichever comes first.
func TestLateOKProbeAnswerLater(t *testing.T) {
	t.Parallel()
	e, fm := start(t, fastOptions(nil))
	var mu sync.Mutex
	first, pending := true, ""
	flush := func() {
		mu.Lock()
		p := pending
		pending = ""
		mu.Unlock()
		fm.send(p)
	}
	fm.set(func(fm *fakeModem) {
		fm.handle = func(cmd string) string {
			flush()
			mu.Lock()
			defer mu.Unlock()
			switch {
			case cmd == "AT+CGMI" && first:
				first = false
				return ""
			case cmd == "AT+CMEE?":
				pending = defaultReply(cmd)
				time.AfterFunc(100*time.Millisecond, flush)
				return "\r\nPagebridge\r\n\r\nOK\r\n" // the late answer of AT+CGMI
			}
			return defaultReply(cmd)
		}
	})
	if _, err := e.Do(ctxT(t), Command{Line: "AT+CGMI", Timeout: 50 * time.Millisecond}); !errors.Is(err, ErrTimeout) {
		t.Fatalf("first command: %v", err)
	}
	mustExec(t, e, "AT+CSQ", "+CSQ: 20,99")
	mustExec(t, e, "AT+CGMI", "Pagebridge")
}

// A modem that stops answering: the command times out, no probe is
// answered, and the engine ends telling the caller to reset.
func TestUnresponsive(t *testing.T) {
	t.Parallel()
	opts := fastOptions(nil)
	opts.ResyncTimeout = 30 * time.Millisecond
	e, fm := start(t, opts)
	mustExec(t, e, "AT")
	fm.set(func(fm *fakeModem) { fm.silent = true })
	if _, err := e.Do(ctxT(t), Command{Line: "AT+CGMI", Timeout: 30 * time.Millisecond}); !errors.Is(err, ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
	_, err := e.Exec(ctxT(t), "AT")
	if !errors.Is(err, ErrUnresponsive) {
		t.Fatalf("got %v, want ErrUnresponsive", err)
	}
	select {
	case <-e.Done():
	case <-time.After(wait):
		t.Fatal("engine did not end")
	}
	if !errors.Is(e.Err(), ErrUnresponsive) {
		t.Fatalf("Err() = %v", e.Err())
	}
	// Both probes were tried, after ESC.
	got := fm.received()
	if !strings.Contains(strings.Join(got, "|"), "AT+CGMI|ESC|AT+CMEE?|AT+CSQ") {
		t.Fatalf("modem received %q", got)
	}
}

// The port vanishes under a pending command: it gets the port error, and
// so does the engine; a plain command is not "outcome unknown".
func TestPortVanishes(t *testing.T) {
	t.Parallel()
	t.Run("command pending", func(t *testing.T) {
		t.Parallel()
		e, fm := start(t, fastOptions(nil))
		fm.set(func(fm *fakeModem) {
			fm.handle = func(cmd string) string {
				if cmd == "AT+CSQ" {
					go fm.unplug()
					return ""
				}
				return defaultReply(cmd)
			}
		})
		_, err := e.Exec(ctxT(t), "AT+CSQ")
		if !errors.Is(err, ErrPort) || errors.Is(err, ErrUnknown) {
			t.Fatalf("got %v, want ErrPort", err)
		}
		<-e.Done()
		if !errors.Is(e.Err(), ErrPort) {
			t.Fatalf("Err() = %v", e.Err())
		}
		if _, err := e.Exec(ctxT(t), "AT"); !errors.Is(err, ErrPort) {
			t.Fatalf("after: %v", err)
		}
	})
	t.Run("CMGS after the PDU", func(t *testing.T) {
		t.Parallel()
		e, fm := start(t, fastOptions(nil))
		fm.set(func(fm *fakeModem) {
			fm.onData = func(string) string { go fm.unplug(); return "" }
		})
		_, err := e.SendPDU(ctxT(t), 3, "00010203", 0)
		if !errors.Is(err, ErrUnknown) || !errors.Is(err, ErrPort) || !strings.Contains(err.Error(), "outcome unknown") {
			t.Fatalf("got %v, want ErrUnknown and ErrPort", err)
		}
	})
	t.Run("CMGS before the prompt", func(t *testing.T) {
		t.Parallel()
		e, fm := start(t, fastOptions(nil))
		fm.set(func(fm *fakeModem) {
			fm.handle = func(cmd string) string { go fm.unplug(); return "" }
		})
		_, err := e.SendPDU(ctxT(t), 3, "00010203", 0)
		if errors.Is(err, ErrUnknown) || !errors.Is(err, ErrPort) || !strings.Contains(err.Error(), "not sent") {
			t.Fatalf("got %v, want not sent, ErrPort", err)
		}
	})
	t.Run("idle", func(t *testing.T) {
		t.Parallel()
		e, fm := start(t, fastOptions(nil))
		mustExec(t, e, "AT")
		fm.unplug()
		<-e.Done()
		if !errors.Is(e.Err(), ErrPort) {
			t.Fatalf("Err() = %v", e.Err())
		}
	})
}

func TestPrompt(t *testing.T) {
	t.Parallel()
	const pdu = "0011000B914961808041F00000AA05E8329BFD06"
	t.Run("split prompt, URC while open, echo", func(t *testing.T) {
		t.Parallel()
		got := make(urcs, 4)
		e, fm := start(t, fastOptions(got))
		fm.set(func(fm *fakeModem) {
			fm.echo = true
			fm.handle = func(cmd string) string {
				if strings.HasPrefix(cmd, "AT+CMGS=") {
					fm.send("\r\n>")
					fm.send(" ")
					fm.send("\r\n+CMTI: \"ME\",9\r\n")
					return "> "
				}
				return defaultReply(cmd)
			}
			fm.onData = func(string) string { return "\r\n+CMGS: 7\r\n\r\nOK\r\n" }
		})
		mr, err := e.SendPDU(ctxT(t), 19, pdu, 0)
		if err != nil || mr != 7 {
			t.Fatalf("SendPDU = %d, %v", mr, err)
		}
		if u := got.next(t); u.Line != `+CMTI: "ME",9` {
			t.Fatalf("URC %+v", u)
		}
		r := fm.received()
		if r[0] != "AT+CMGS=19" || r[1] != "DATA:"+pdu {
			t.Fatalf("modem received %q", r)
		}
		mustExec(t, e, "AT+CSQ", "+CSQ: 20,99")
	})
	t.Run("no prompt: ESC, not sent", func(t *testing.T) {
		t.Parallel()
		e, fm := start(t, fastOptions(nil))
		fm.set(func(fm *fakeModem) {
			fm.handle = func(cmd string) string {
				if strings.HasPrefix(cmd, "AT+CMGS=") {
					return "" // prompt never comes
				}
				return defaultReply(cmd)
			}
		})
		_, err := e.Do(ctxT(t), Command{Line: "AT+CMGS=19", Data: pdu, PromptTimeout: 50 * time.Millisecond})
		if !errors.Is(err, ErrTimeout) || errors.Is(err, ErrUnknown) || !strings.Contains(err.Error(), "not sent") {
			t.Fatalf("got %v, want not sent", err)
		}
		mustExec(t, e, "AT+CSQ", "+CSQ: 20,99")
		for _, g := range fm.received() {
			if strings.HasPrefix(g, "DATA:") {
				t.Fatalf("PDU written without a prompt: %q", fm.received())
			}
		}
		if r := fm.received(); r[1] != "ESC" {
			t.Fatalf("no ESC after the prompt timeout: %q", r)
		}
	})
	t.Run("timeout after the PDU: outcome unknown", func(t *testing.T) {
		t.Parallel()
		opts := fastOptions(nil)
		e, fm := start(t, opts)
		fm.set(func(fm *fakeModem) { fm.onData = func(string) string { return "" } })
		_, err := e.SendPDU(ctxT(t), 19, pdu, 50*time.Millisecond)
		if !errors.Is(err, ErrUnknown) || !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "outcome unknown") {
			t.Fatalf("got %v, want ErrUnknown", err)
		}
		// Its late +CMGS and OK do not answer the next command.
		fm.send("\r\n+CMGS: 8\r\n\r\nOK\r\n")
		mustExec(t, e, "AT+CSQ", "+CSQ: 20,99")
	})
	t.Run("error after the PDU: not sent", func(t *testing.T) {
		t.Parallel()
		e, fm := start(t, fastOptions(nil))
		fm.set(func(fm *fakeModem) { fm.onData = func(string) string { return "\r\n+CMS ERROR: 304\r\n" } })
		_, err := e.SendPDU(ctxT(t), 19, pdu, 0)
		if !IsPermanent(err) || errors.Is(err, ErrUnknown) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("malformed PDUs are refused unwritten", func(t *testing.T) {
		t.Parallel()
		e, fm := start(t, fastOptions(nil))
		for _, c := range []struct {
			n   int
			pdu string
		}{{19, pdu + "\x1a"}, {19, pdu[:len(pdu)-1]}, {0, pdu}, {30, pdu}, {2, pdu}, {19, "zz" + pdu[2:]}} {
			if _, err := e.SendPDU(ctxT(t), c.n, c.pdu, 0); !errors.Is(err, ErrInvalid) {
				t.Errorf("SendPDU(%d, %q) = %v, want ErrInvalid", c.n, c.pdu, err)
			}
		}
		for _, c := range []string{"AT+CSQ\rATZ", "ATD123;\x1a", "CSQ", ""} {
			if _, err := e.Exec(ctxT(t), c); !errors.Is(err, ErrInvalid) {
				t.Errorf("Exec(%q) = %v, want ErrInvalid", c, err)
			}
		}
		if r := fm.received(); len(r) != 0 {
			t.Fatalf("modem received %q", r)
		}
	})
}

// A ctx that ends before the command is written: nothing is written. A
// ctx that ends while it runs: like a timeout, and the engine resyncs.
func TestCancel(t *testing.T) {
	t.Parallel()
	e, fm := start(t, fastOptions(nil))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Exec(ctx, "AT+CGMI"); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "not sent") {
		t.Fatalf("got %v", err)
	}
	fm.set(func(fm *fakeModem) {
		fm.handle = func(cmd string) string {
			if cmd == "AT+CGMI" {
				return ""
			}
			return defaultReply(cmd)
		}
	})
	ctx, cancel = context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := e.Exec(ctx, "AT+CGMI"); errc <- err }()
	fm.waitGot(func(s string) bool { return s == "AT+CGMI" })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "not sent") {
		t.Fatalf("got %v", err)
	}
	fm.send("\r\nOK\r\n") // its late answer
	mustExec(t, e, "AT+CSQ", "+CSQ: 20,99")
}

// OnURC may run commands; Close delivers what was queued.
func TestURCHandlerRunsCommands(t *testing.T) {
	t.Parallel()
	results := make(chan []string, 1)
	var e *Engine
	var once sync.Once
	ready := make(chan struct{})
	opts := fastOptions(nil)
	opts.OnURC = func(u URC) {
		<-ready
		once.Do(func() {
			info, _ := e.Exec(context.Background(), "AT+CSQ")
			results <- info
		})
	}
	e, fm := start(t, opts)
	close(ready)
	fm.send("\r\n+CMTI: \"ME\",1\r\n")
	select {
	case info := <-results:
		if !equal(info, []string{"+CSQ: 20,99"}) {
			t.Fatalf("info %q", info)
		}
	case <-time.After(wait):
		t.Fatal("handler's command never answered")
	}
}

// No PDU, no information line, no PIN reaches the log.
func TestNoPHIInLogs(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	opts := fastOptions(make(urcs, 10))
	opts.Log = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e, fm := start(t, opts)
	const pdu = "0011000B914961808041F00000AA05E8329BFD06"
	const body = "07919471060040340409D039BD0C00001220119180418005E8329BFD06"
	fm.set(func(fm *fakeModem) {
		fm.handle = func(cmd string) string {
			switch {
			case cmd == "AT+CMGR=3":
				return "\r\n+CMGR: 0,,24\r\n" + body + "\r\n\r\nOK\r\n"
			case strings.HasPrefix(cmd, "AT+CPIN="):
				return "\r\n+CME ERROR: 16\r\n"
			case cmd == "AT+CMGS=\"+4917012345\"":
				return ""
			}
			return defaultReply(cmd)
		}
	})
	fm.send("\r\n+CMT: ,24\r\n" + body + "\r\n")
	if _, err := e.SendPDU(ctxT(t), 19, pdu, 0); err != nil {
		t.Fatal(err)
	}
	info, err := e.Exec(ctxT(t), "AT+CMGR=3")
	if err != nil || len(info) != 2 || info[1] != body {
		t.Fatalf("CMGR: %q %v", info, err)
	}
	_, err = e.Exec(ctxT(t), `AT+CPIN="4711"`)
	if strings.Contains(err.Error(), "4711") {
		t.Fatalf("PIN in error: %v", err)
	}
	_, err = e.Do(ctxT(t), Command{Line: `AT+CMGS="+4917012345"`, Data: "call me", PromptTimeout: 50 * time.Millisecond})
	if err == nil || strings.Contains(err.Error(), "4917012345") {
		t.Fatalf("number in error: %v", err)
	}
	mustExec(t, e, "AT")
	log := buf.String()
	for _, phi := range []string{pdu, body, "4711", "4917012345", "call me", "+CMGR: 0"} {
		if strings.Contains(log, phi) {
			t.Errorf("log holds %q:\n%s", phi, log)
		}
	}
	if !strings.Contains(log, "AT+CMGS=19") || !strings.Contains(log, "AT+CPIN=…") {
		t.Errorf("log lacks the redacted commands:\n%s", log)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Gap: the next command is written no sooner than Gap after the last
// line. This is a lower bound, which a slow machine cannot break.
func TestGap(t *testing.T) {
	t.Parallel()
	const gap = 30 * time.Millisecond
	opts := fastOptions(nil)
	opts.Gap = gap
	e, fm := start(t, opts)
	var mu sync.Mutex
	var lastReply time.Time
	var gaps []time.Duration
	fm.set(func(fm *fakeModem) {
		fm.handle = func(cmd string) string {
			mu.Lock()
			defer mu.Unlock()
			if !lastReply.IsZero() {
				gaps = append(gaps, time.Since(lastReply))
			}
			lastReply = time.Now() // before the reply is written, so before the engine sees it
			return defaultReply(cmd)
		}
	})
	for range 4 {
		mustExec(t, e, "AT+CSQ", "+CSQ: 20,99")
	}
	mu.Lock()
	defer mu.Unlock()
	for _, g := range gaps {
		if g < gap {
			t.Fatalf("gaps %v, want each ≥ %v", gaps, gap)
		}
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"AT":                   "AT",
		"AT+CSQ":               "AT+CSQ",
		"AT+CMGS=23":           "AT+CMGS=23",
		`AT+CMGS="+4917012"`:   "AT+CMGS=…",
		`AT+CPIN="1234"`:       "AT+CPIN=…",
		"AT+CPIN?":             "AT+CPIN?",
		"ATD+4917012;":         "ATD…",
		"AT+CMGR=3":            "AT+CMGR=3",
		`AT+CUSD=1,"*100#",15`: "AT+CUSD=…",
		"garbage":              "AT…",
	} {
		if got := redact(in, false); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
	if got := redact("AT+CMGR=3", true); got != "AT+CMGR=…" {
		t.Errorf("private: %q", got)
	}
}
