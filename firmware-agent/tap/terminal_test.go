package tap

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// sender drives ServeTerminal from a net.Pipe end, step by step.
type sender struct {
	t    *testing.T
	conn net.Conn
}

// send writes data and reads exactly want (nothing if want is empty).
func (s sender) send(data, want string) {
	s.t.Helper()
	if _, err := s.conn.Write([]byte(data)); err != nil {
		s.t.Fatalf("write %q: %v", data, err)
	}
	if want == "" {
		return
	}
	// In the bubble a deadline passes in fake time: a wrong answer fails
	// the test instead of leaving it reading for ever.
	if err := s.conn.SetReadDeadline(time.Now().Add(10 * time.Minute)); err != nil {
		s.t.Fatal(err)
	}
	got := make([]byte, len(want))
	if n, err := io.ReadFull(s.conn, got); err != nil || string(got) != want {
		s.t.Fatalf("sent %q, got %q, want %q (%v)", data, got[:n], want, err)
	}
}

// quiet checks that nothing was answered so far: the next bytes are the
// answer to a probe CR.
func (s sender) quiet() {
	s.t.Helper()
	s.send("\r", idPrompt)
}

// recorder is an accept function that records pages and answers with
// answer (Accepted if nil).
type recorder struct {
	mu     sync.Mutex
	pages  []Page
	answer func(Page) Reply
}

func (r *recorder) accept(_ context.Context, p Page) Reply {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pages = append(r.pages, p)
	if r.answer != nil {
		return r.answer(p)
	}
	return Accepted()
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, p := range r.pages {
		out = append(out, p.ID+":"+p.Text.Reveal())
	}
	return out
}

// withTerminal serves cfg on a pipe in a synctest bubble, runs f as the
// sender, hangs up and returns what ServeTerminal returned.
func withTerminal(t *testing.T, cfg TerminalConfig, rec *recorder, f func(s sender)) error {
	t.Helper()
	var serveErr error
	synctest.Test(t, func(t *testing.T) {
		ours, theirs := net.Pipe()
		errc := make(chan error, 1)
		go func() { errc <- ServeTerminal(t.Context(), serialEnd(ours), cfg, rec.accept) }()
		f(sender{t, theirs})
		theirs.Close()
		serveErr = <-errc
		ours.Close()
	})
	return serveErr
}

func wantPages(t *testing.T, rec *recorder, want ...string) {
	t.Helper()
	got := rec.got()
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("accepted %q, want %q", got, want)
	}
}

// noSum is block without its checksum, as senders that send none write
// it.
func noSum(block string) string {
	return block[:len(block)-4] + "\r"
}

// badSum is block with a wrong checksum.
func badSum(block string) string {
	return block[:len(block)-4] + "000\r"
}

// The reference's worked session from the terminal's side, byte for byte;
// the second page first arrives with a bad checksum.
func TestServeTerminalWorkedSession(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	err := withTerminal(t, TerminalConfig{}, rec, func(s sender) {
		s.send(hexBytes(t, "0D"), hexBytes(t, "49 44 3D 0D"))
		s.send(hexBytes(t, "1B 50 47 31 0D"), hexBytes(t, "31 31 30 20 31 2E 38 0D 06 0D")+hexBytes(t, "1B 5B 70 0D"))
		s.send(hexBytes(t, "02 31 30 30 31 0D")+"Code Blue 4W Rm 412"+hexBytes(t, "0D 03 36 34 35 0D"), "211 Page(s) Sent Successfully"+hexBytes(t, "0D 06 0D"))
		b1002 := hexBytes(t, "02 31 30 30 32 0D") + "Lab: K 6.1 Bed 7" + hexBytes(t, "0D 03 34 3C 3D 0D")
		s.send(badSum(b1002), "514 Checksum error"+hexBytes(t, "0D 15 0D"))
		s.send(b1002, "211 Page(s) Sent Successfully"+hexBytes(t, "0D 06 0D"))
		s.send(hexBytes(t, "04 0D"), "115 Goodbye"+hexBytes(t, "0D 1B 04 0D"))
	})
	if !errors.Is(err, ErrLine) {
		t.Errorf("ServeTerminal returned %v, want the hang-up", err)
	}
	wantPages(t, rec, "1001:Code Blue 4W Rm 412", "1002:Lab: K 6.1 Bed 7")
}

func TestServeTerminal(t *testing.T) {
	t.Parallel()
	b1 := block(t, "1001", "Code Blue 4W Rm 412")
	b2 := block(t, "1002", "Lab: K 6.1 Bed 7")
	long, err := EncodePage(page("1003", strings.Repeat("0123456789", 30)))
	if err != nil || len(long) != 2 {
		t.Fatal(len(long), err)
	}
	l0, l1 := string(long[0]), string(long[1])
	longText := "1003:" + strings.Repeat("0123456789", 30)
	nak514 := "514 Checksum error\r\x15\r"
	tests := []struct {
		name   string
		cfg    TerminalConfig
		answer func(Page) Reply
		steps  func(s sender)
		pages  []string
	}{
		{name: "no logon", steps: func(s sender) {
			s.send(b1, sent211)
			s.send(b2, sent211)
		}, pages: []string{"1001:Code Blue 4W Rm 412", "1002:Lab: K 6.1 Bed 7"}},
		{name: "three bad checksums, then RS", steps: func(s sender) {
			s.send(badSum(b1), nak514)
			s.send(badSum(b1), nak514)
			s.send(badSum(b1), nak514)
			s.send(badSum(b1), "503 Excessive checksum errors\r\x1e\r")
			s.send(badSum(b1), nak514) // the count starts again
			s.send(b1, sent211)
		}, pages: []string{"1001:Code Blue 4W Rm 412"}},
		{name: "format error", steps: func(s sender) {
			s.send("\x021001\rCode\x01Blue\r\x03000\r", "515 Message format error\r\x15\r")
			s.send("\x021001\rCode\r\x03\r", "515 Message format error\r\x15\r") // no checksum
			s.quiet()
		}},
		{name: "two blocks", steps: func(s sender) {
			s.send(l0, "\x06\r")
			s.send(l1, sent211)
		}, pages: []string{longText}},
		{name: "the reference's continued field", steps: func(s sender) {
			s.send("\x021003\rPart one of a long\x1f731\r", "\x06\r")
			s.send("\x02 message\r\x03317\r", sent211)
		}, pages: []string{"1003:Part one of a long message"}},
		{name: "NAK for a page of two blocks: the last is sent again", answer: nakFirst(), steps: func(s sender) {
			s.send(l0, "\x06\r")
			s.send(l1, "512 Try later\r\x15\r")
			s.send(l1, sent211)
		}, pages: []string{longText, longText}},
		{name: "bad second block resent", steps: func(s sender) {
			s.send(l0, "\x06\r")
			s.send(badSum(l1), nak514)
			s.send(l1, sent211)
		}, pages: []string{longText}},
		{name: "page too long", steps: func(s sender) {
			for range MaxBlocks - 1 {
				s.send("\x02x\x1f"+Checksum([]byte("\x02x\x1f"))+"\r", "\x06\r")
			}
			s.send("\x02x\x1f"+Checksum([]byte("\x02x\x1f"))+"\r", "513 Message too long\r\x1e\r")
			s.send(b1, sent211)
		}, pages: []string{"1001:Code Blue 4W Rm 412"}},
		{name: "no pager ID", steps: func(s sender) {
			s.send("\x02\rtext\r\x03"+Checksum([]byte("\x02\rtext\r\x03"))+"\r", "515 Message format error\r\x1e\r")
		}},
		{name: "garbage around blocks", steps: func(s sender) {
			s.send("+++ATH0\r\x00\n\xff\xfe junk", "")
			s.send(b1, sent211)
			s.send("\x15\x06\x1e\x03\x17\x1f", "") // stray control characters
			s.send("\x02junk"+b2, sent211)         // a block started over
			s.quiet()
		}, pages: []string{"1001:Code Blue 4W Rm 412", "1002:Lab: K 6.1 Bed 7"}},
		{name: "CR LF and the 8th bit", steps: func(s sender) {
			s.send("\r\n", idPrompt)
			s.send("\x1bPG1\r\n", logonOK)
			s.send(b1+"\n", sent211)
			// LF after each field, not counted in the checksum.
			s.send(strings.ReplaceAll(b2[:len(b2)-5], "\r", "\r\n")+b2[len(b2)-5:]+"\n", sent211)
			s.send(string(setBit8(b1)), sent211)
			s.send("\x04\r\n", goodbye)
			s.quiet()
		}, pages: []string{"1001:Code Blue 4W Rm 412", "1002:Lab: K 6.1 Bed 7", "1001:Code Blue 4W Rm 412"}},
		{name: "no CR after the checksum", steps: func(s sender) {
			s.send(b1[:len(b1)-1], sent211)
			s.send(b2[:len(b2)-1], sent211)
			s.send("\r", "") // late, taken for the block's
			s.quiet()
		}, pages: []string{"1001:Code Blue 4W Rm 412", "1002:Lab: K 6.1 Bed 7"}},
		{name: "no checksum", cfg: TerminalConfig{NoChecksum: true}, steps: func(s sender) {
			s.send(noSum(b1), sent211)
			s.send(b2, sent211) // with a checksum, still taken
			s.send(badSum(b1), nak514)
			s.send("\x021001\rCode\r\x0364\r", "515 Message format error\r\x15\r") // 2 of 3
			s.send(noSum(l0), "\x06\r")
			s.send(noSum(l1), sent211)
			s.send(noSum(b2)[:len(noSum(b2))-1], "") // no CR: the next STX ends it
			s.send(b1, sent211+sent211)
			s.quiet()
		}, pages: []string{"1001:Code Blue 4W Rm 412", "1002:Lab: K 6.1 Bed 7", longText, "1002:Lab: K 6.1 Bed 7", "1001:Code Blue 4W Rm 412"}},
		{name: "bare LF", cfg: TerminalConfig{BareLF: true, Password: "pw"}, steps: func(s sender) {
			s.send("\n", idPrompt)
			s.send("\r\n", idPrompt) // CR LF is one line end
			s.send("\x1bPG1pw\n", logonOK)
			s.send(b1[:len(b1)-1]+"\n", sent211)
			lfSent := "\x021002\nLab: K 6.1 Bed 7\n\x03"
			s.send(lfSent+Checksum([]byte(lfSent))+"\n", sent211)
			lfAsCR := "\x021003\nx\n\x03"
			s.send(lfAsCR+Checksum([]byte("\x021003\rx\r\x03"))+"\n", sent211)
			s.send(lfSent+"000\n", nak514)
			s.send(strings.ReplaceAll(b2[:len(b2)-5], "\r", "\r\n")+b2[len(b2)-5:]+"\n", sent211)
			s.send("\x04\n", goodbye)
			s.send("\n", idPrompt)
		}, pages: []string{"1001:Code Blue 4W Rm 412", "1002:Lab: K 6.1 Bed 7", "1003:x", "1002:Lab: K 6.1 Bed 7"}},
		{name: "bare LF is noise without BareLF", steps: func(s sender) {
			s.send("\n\n\x04\n", "")
			s.send("\r", goodbye)
			s.quiet()
		}},
		{name: "password", cfg: TerminalConfig{Password: "abc"}, steps: func(s sender) {
			s.send(b1, "507 Logon required\r\x1b\x04\r")
			s.send("\x1bPG1abd\r", "509 Invalid password\r\x15\r")
			s.send("\x1bPG1\r", "509 Invalid password\r\x15\r")
			s.send("\x1bPG1ab\r", "509 Invalid password\r\x1b\x04\r")
			s.send("\x1bPG1abc\r", logonOK)
			s.send(b1, sent211)
			s.send("\x04\r", goodbye)
			s.send(b2, "507 Logon required\r\x1b\x04\r")
		}, pages: []string{"1001:Code Blue 4W Rm 412"}},
		{name: "any password without one set", steps: func(s sender) {
			s.send("\x1bPG1secret\r", logonOK)
			s.send("\x1bPG3\r", logonOK)
			s.send("\x1bPG\r", "507 Invalid logon\r\x15\r")
		}},
		{name: "logon after garbage", steps: func(s sender) {
			s.send("garbage\x1bPG1\r", logonOK)
		}},
		{name: "sender gives up a block and logs on", steps: func(s sender) {
			s.send(b1[:10]+"\x1bPG1\r", logonOK)
			s.send(b2, sent211)
		}, pages: []string{"1002:Lab: K 6.1 Bed 7"}},
		{name: "EOT drops a page half sent", steps: func(s sender) {
			s.send(l0, "\x06\r")
			s.send("\x04\r", goodbye)
			s.send(l1, "515 Message format error\r\x1e\r") // a page of its own now, with no pager ID
		}},
		{name: "accept answers", answer: func(p Page) Reply {
			switch p.ID {
			case "511":
				return Rejected(CodeUnknownID, "Invalid Pager ID")
			case "512":
				return Resend(CodeTryLater, "Try later")
			case "0":
				return Reply{}
			case "eot":
				return Reply{Lines: []ReplyLine{{CodeGoodbye, "Bye"}}, Action: Disconnect}
			}
			return Reply{Lines: []ReplyLine{{CodeDeferred, "Held"}}, Action: ACK}
		}, steps: func(s sender) {
			s.send(block(t, "511", "x"), "511 Invalid Pager ID\r\x1e\r")
			s.send(block(t, "512", "x"), "512 Try later\r\x15\r")
			s.send(block(t, "0", "x"), "512 Try later\r\x15\r")
			s.send(block(t, "213", "x"), "213 Held\r\x06\r")
			s.send(block(t, "eot", "x"), "115 Bye\r\x1b\x04\r")
		}, pages: []string{"511:x", "512:x", "0:x", "213:x", "eot:x"}},
		{name: "silence drops a half block", cfg: TerminalConfig{IdleTimeout: time.Second}, steps: func(s sender) {
			s.send(b1[:12], "")
			time.Sleep(2 * time.Second)
			s.send(b1[12:], "")
			s.quiet()
			s.send(b2, sent211)
		}, pages: []string{"1002:Lab: K 6.1 Bed 7"}},
		{name: "silence drops a half page", cfg: TerminalConfig{IdleTimeout: time.Second}, steps: func(s sender) {
			s.send(l0, "\x06\r")
			time.Sleep(2 * time.Second)
			s.send(l1, "515 Message format error\r\x1e\r")
		}},
		{name: "pauses within the idle time are fine", cfg: TerminalConfig{IdleTimeout: time.Second}, steps: func(s sender) {
			for i := 0; i < len(b1); i += 10 {
				end, want := min(i+10, len(b1)), ""
				if i <= len(b1)-2 && len(b1)-2 < end { // the last checksum character
					want = sent211
				}
				s.send(b1[i:end], want)
				time.Sleep(500 * time.Millisecond)
			}
			s.quiet()
		}, pages: []string{"1001:Code Blue 4W Rm 412"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{answer: tt.answer}
			err := withTerminal(t, tt.cfg, rec, tt.steps)
			if !errors.Is(err, ErrLine) {
				t.Errorf("ServeTerminal returned %v", err)
			}
			wantPages(t, rec, tt.pages...)
		})
	}
}

// nakFirst answers the first page NAK, the others 211.
func nakFirst() func(Page) Reply {
	n := 0
	return func(Page) Reply {
		if n++; n == 1 {
			return Resend(CodeTryLater, "Try later")
		}
		return Accepted()
	}
}

func setBit8(s string) []byte {
	b := []byte(s)
	for i := range b {
		b[i] |= 0x80
	}
	return b
}

// A hang-up mid-block or mid-page accepts nothing; what was accepted stays.
func TestServeTerminalHangUp(t *testing.T) {
	t.Parallel()
	b1 := block(t, "1001", "Code Blue 4W Rm 412")
	long, _ := EncodePage(page("1003", strings.Repeat("0123456789", 30)))
	for _, cut := range []func(s sender){
		func(s sender) { s.send(b1[:len(b1)/2], "") },
		func(s sender) { s.send(b1[:len(b1)-4], "") }, // up to ETX
		func(s sender) { s.send(b1[:len(b1)-2], "") }, // 2 of 3 checksum characters
		func(s sender) { s.send(string(long[0]), "\x06\r"); s.send(string(long[1][:20]), "") },
		func(s sender) { s.send(string(long[0]), "\x06\r") },
	} {
		rec := &recorder{}
		err := withTerminal(t, TerminalConfig{}, rec, func(s sender) {
			s.send(block(t, "1", "before"), sent211)
			cut(s)
		})
		if !errors.Is(err, ErrLine) {
			t.Errorf("ServeTerminal returned %v", err)
		}
		wantPages(t, rec, "1:before")
	}
}

// The reply to an accepted page cannot be written: the page stays accepted
// and ServeTerminal returns the write error.
func TestServeTerminalReplyLost(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	var serveErr error
	synctest.Test(t, func(t *testing.T) {
		ours, theirs := net.Pipe()
		rec.answer = func(Page) Reply { theirs.Close(); return Accepted() }
		errc := make(chan error, 1)
		go func() { errc <- ServeTerminal(t.Context(), serialEnd(ours), TerminalConfig{}, rec.accept) }()
		if _, err := theirs.Write([]byte(block(t, "1001", "Code Blue"))); err != nil {
			t.Fatal(err)
		}
		serveErr = <-errc
		ours.Close()
	})
	if !errors.Is(serveErr, ErrLine) || !strings.Contains(serveErr.Error(), "write") {
		t.Errorf("ServeTerminal returned %v, want a write error", serveErr)
	}
	wantPages(t, rec, "1001:Code Blue")
}

func TestServeTerminalContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ours, theirs := net.Pipe()
		defer theirs.Close()
		defer ours.Close()
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() {
			errc <- ServeTerminal(ctx, serialEnd(ours), TerminalConfig{}, (&recorder{}).accept)
		}()
		synctest.Wait()
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("ServeTerminal returned %v, want context.Canceled", err)
		}
	})
}

// The Client and ServeTerminal agree: many pages, some in several blocks,
// over one session.
func TestClientAgainstServeTerminal(t *testing.T) {
	t.Parallel()
	rec := &recorder{answer: func(p Page) Reply {
		if strings.HasPrefix(p.ID, "9") {
			return Rejected(CodeUnknownID, "Invalid Pager ID")
		}
		return Accepted()
	}}
	var want []string
	synctest.Test(t, func(t *testing.T) {
		ours, theirs := net.Pipe()
		errc := make(chan error, 1)
		go func() { errc <- ServeTerminal(t.Context(), serialEnd(theirs), TerminalConfig{}, rec.accept) }()
		c := NewClient(serialEnd(ours), ClientConfig{Password: "pw"})
		ctx := t.Context()
		if err := c.Logon(ctx); err != nil {
			t.Fatal(err)
		}
		for i := range 300 {
			id := []string{"1001", "2002", "9009"}[i%3]
			text := strings.Repeat("Code Blue 4W Rm 412 ", 1+i%40)
			r, err := c.Send(ctx, page(id, text))
			want = append(want, id+":"+text)
			switch {
			case id == "9009" && (!errors.Is(err, ErrPermanent) || r.Code() != CodeUnknownID):
				t.Fatalf("page %d: %v, %v", i, r, err)
			case id != "9009" && (err != nil || r.Code() != CodeSent):
				t.Fatalf("page %d: %v, %v", i, r, err)
			}
		}
		if err := c.Logoff(ctx); err != nil {
			t.Error(err)
		}
		ours.Close()
		<-errc
	})
	wantPages(t, rec, want...)
}

// chunkRW reads in from chunks of n bytes, then io.EOF, and records what is
// written.
type chunkRW struct {
	in  []byte
	n   int
	out bytes.Buffer
}

func (c *chunkRW) Read(p []byte) (int, error) {
	if len(c.in) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), c.n)], c.in)
	c.in = c.in[k:]
	return k, nil
}

func (c *chunkRW) Write(p []byte) (int, error) { return c.out.Write(p) }

// FuzzServeTerminal: any byte stream, in any chunks, is served without a
// panic, the same way whatever the chunks; and every page the terminal
// accepts is one a Client could send.
func FuzzServeTerminal(f *testing.F) {
	for _, s := range blockSeeds {
		f.Add([]byte("\r\x1bPG1\r"+s+"\x04\r"), uint8(3))
	}
	f.Add([]byte("\x021001\rCode\x1f"+Checksum([]byte("\x021001\rCode\x1f"))+"\r\x02 Blue\r\x03"+Checksum([]byte("\x02 Blue\r\x03"))), uint8(1))
	f.Add([]byte("junk\x02\x021\rx\r\x03"), uint8(7))
	f.Add([]byte("\n\x1bPG1\n\x021\nx\n\x03\r\x021\rx\r\x03\n\x04\n"), uint8(0x18))
	f.Fuzz(func(t *testing.T, in []byte, split uint8) {
		// split's low 3 bits size the chunks, the next two pick quirks.
		cfg := TerminalConfig{NoChecksum: split&0x08 != 0, BareLF: split&0x10 != 0}
		serve := func(n int) (string, []Page) {
			var pages []Page
			rw := &chunkRW{in: in, n: n}
			err := ServeTerminal(context.Background(), rw, cfg, func(_ context.Context, p Page) Reply {
				pages = append(pages, p)
				return Accepted()
			})
			if !errors.Is(err, io.EOF) {
				t.Fatalf("ServeTerminal returned %v, want the read's EOF", err)
			}
			return rw.out.String(), pages
		}
		whole, pages := serve(len(in) + 1)
		chunked, pages2 := serve(int(split)%8 + 1)
		if whole != chunked || !reflect.DeepEqual(pages, pages2) {
			t.Fatalf("chunks of %d: %q, whole: %q", int(split)%8+1, chunked, whole)
		}
		for _, p := range pages {
			if _, err := EncodePage(p); err != nil && !errors.Is(err, ErrTooLong) {
				t.Fatalf("accepted page %q cannot be sent on: %v", p.ID, err)
			}
		}
	})
}
