package tap

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"testing/synctest"
)

const (
	sent211  = "211 Page(s) Sent Successfully\r\x06\r"
	logonAck = "110 1.8\r\x06\r\x1b[p\r"
	bye115   = "115 Goodbye\r\x1b\x04\r"
)

// block returns the single block of page id/text.
func block(t *testing.T, id, text string) string {
	t.Helper()
	b, err := EncodePage(page(id, text))
	if err != nil || len(b) != 1 {
		t.Fatalf("EncodePage(%s): %d blocks, %v", id, len(b), err)
	}
	return string(b[0])
}

// withClient runs f against a Client whose terminal follows steps, in a
// synctest bubble: the timeouts pass in fake time.
func withClient(t *testing.T, cfg ClientConfig, steps []exchange, f func(ctx context.Context, c *Client)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		ours, theirs := net.Pipe()
		done := script(t, theirs, steps)
		f(t.Context(), NewClient(serialEnd(ours), cfg))
		ours.Close()
		<-done
	})
}

func logonSteps() []exchange {
	return []exchange{{want: "\r", reply: "ID=\r"}, {want: "\x1bPG1\r", reply: logonAck}}
}

// The reference's worked session (paging-protocols.md §1), byte for byte
// both ways, from the sender's side.
func TestClientWorkedSession(t *testing.T) {
	t.Parallel()
	b1001 := hexBytes(t, "02 31 30 30 31 0D") + "Code Blue 4W Rm 412" + hexBytes(t, "0D 03 36 34 35 0D")
	b1002 := hexBytes(t, "02 31 30 30 32 0D") + "Lab: K 6.1 Bed 7" + hexBytes(t, "0D 03 34 3C 3D 0D")
	steps := []exchange{
		{want: hexBytes(t, "0D"), reply: hexBytes(t, "49 44 3D 0D")},
		{want: hexBytes(t, "1B 50 47 31 0D"), reply: hexBytes(t, "31 31 30 20 31 2E 38 0D 06 0D") + hexBytes(t, "1B 5B 70 0D")},
		{want: b1001, reply: "211 Page(s) Sent Successfully" + hexBytes(t, "0D 06 0D")},
		{want: b1002, reply: "514 Checksum error" + hexBytes(t, "0D 15 0D")},
		{want: b1002, reply: "211 Page(s) Sent Successfully" + hexBytes(t, "0D 06 0D")},
		{want: hexBytes(t, "04 0D"), reply: "115 Goodbye" + hexBytes(t, "0D 1B 04 0D")},
	}
	withClient(t, ClientConfig{}, steps, func(ctx context.Context, c *Client) {
		if err := c.Logon(ctx); err != nil {
			t.Fatal(err)
		}
		for _, p := range []Page{page("1001", "Code Blue 4W Rm 412"), page("1002", "Lab: K 6.1 Bed 7")} {
			r, err := c.Send(ctx, p)
			if err != nil || r.Code() != CodeSent || r.Action != ACK {
				t.Errorf("Send(%s) = %v, %v", p.ID, r, err)
			}
		}
		if err := c.Logoff(ctx); err != nil {
			t.Error(err)
		}
		if c.LoggedOn() {
			t.Error("logged on after Logoff")
		}
	})
}

func TestClientLogon(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cfg   ClientConfig
		steps []exchange
		err   error
	}{
		{"go-ahead without ACK", ClientConfig{}, []exchange{{want: "\r", reply: "ID=\r"}, {want: "\x1bPG1\r", reply: "110 1.8\r\x1b[p\r"}}, nil},
		{"ID= without CR, go-ahead late", ClientConfig{}, []exchange{{want: "\r", reply: "ID="}, {want: "\x1bPG1\r", reply: "\x06\r"}, {reply: "114 Welcome\r\x1b[p\r"}}, nil},
		{"Zetron ID= CR LF", ClientConfig{}, []exchange{{want: "\r", reply: "ID=\r\n"}, {want: "\x1bPG1\r", reply: "110 1.8\r\n\x06\r\n\x1b[p\r\n"}}, nil},
		{"8th bit and noise", ClientConfig{}, []exchange{{want: "\r", reply: "\x00\xff\xc9\xc4\xbd\x8d"}, {want: "\x1bPG1\r", reply: "\n+++\r\xb1\xb1\xb0 1.8\r\x86\r\x9b[p\r"}}, nil},
		{"password", ClientConfig{Password: "abc123"}, []exchange{{want: "\r", reply: "ID=\r"}, {want: "\x1bPG1abc123\r", reply: logonAck}}, nil},
		{"second CR answered", ClientConfig{}, []exchange{{want: "\r"}, {want: "\r", reply: "ID=\r"}, {want: "\x1bPG1\r", reply: logonAck}}, nil},
		{"NAK, then ACK", ClientConfig{}, []exchange{{want: "\r", reply: "ID=\r"}, {want: "\x1bPG1\r", reply: "\x15\r"}, {want: "\x1bPG1\r", reply: logonAck}}, nil},
		{"silence, then ACK", ClientConfig{}, []exchange{{want: "\r", reply: "ID=\r"}, {want: "\x1bPG1\r"}, {want: "\x1bPG1\r", reply: logonAck}}, nil},
		{"NAK three times", ClientConfig{}, []exchange{{want: "\r", reply: "ID=\r"}, {want: "\x1bPG1\r", reply: "\x15\r"}, {want: "\x1bPG1\r", reply: "\x15\r"}, {want: "\x1bPG1\r", reply: "509 Invalid password\r\x15\r"}}, ErrRefused},
		{"refused", ClientConfig{}, []exchange{{want: "\r", reply: "ID=\r"}, {want: "\x1bPG1\r", reply: "508 Service not supported\r\x1b\x04\r"}}, ErrRefused},
		{"no go-ahead after ACK", ClientConfig{}, []exchange{{want: "\r", reply: "ID=\r"}, {want: "\x1bPG1\r", reply: "\x06\r"}}, ErrTimeout},
		{"no ID= at all", ClientConfig{}, []exchange{{want: "\r"}, {want: "\r"}, {want: "\r"}, {want: "\x04\r"}, {want: "\r"}, {want: "\r"}, {want: "\r"}}, ErrNoPrompt},
		{"stuck in a session", ClientConfig{}, []exchange{{want: "\r"}, {want: "\r"}, {want: "\r"}, {want: "\x04\r", reply: bye115}, {want: "\r", reply: "ID=\r"}, {want: "\x1bPG1\r", reply: logonAck}}, nil},
		{"password too long", ClientConfig{Password: "1234567"}, nil, ErrPassword},
		{"password with a control character", ClientConfig{Password: "a\rb"}, nil, ErrPassword},
		{"no logon", ClientConfig{NoLogon: true}, nil, nil},
		{"line gone", ClientConfig{}, []exchange{{want: "\r", close: true}}, ErrLine},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			withClient(t, tt.cfg, tt.steps, func(ctx context.Context, c *Client) {
				err := c.Logon(ctx)
				if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
					t.Fatalf("Logon: %v, want %v", err, tt.err)
				}
				if c.LoggedOn() != (err == nil) {
					t.Errorf("LoggedOn() = %v after %v", c.LoggedOn(), err)
				}
			})
		})
	}
}

// sendCase is a Send against a scripted terminal after a normal logon.
type sendCase struct {
	name    string
	page    Page
	steps   []exchange // after the logon
	outcome error      // nil: accepted
	cause   error
	code    int
	sends   int
	logged  bool // still logged on afterwards
}

func TestClientSend(t *testing.T) {
	t.Parallel()
	p := page("1002", "Lab: K 6.1 Bed 7")
	b := block(t, "1002", "Lab: K 6.1 Bed 7")
	long := page("1003", strings.Repeat("0123456789", 30)) // 2 blocks
	lb, err := EncodePage(long)
	if err != nil || len(lb) != 2 {
		t.Fatalf("%d blocks, %v", len(lb), err)
	}
	l0, l1 := string(lb[0]), string(lb[1])
	nak := "514 Checksum error\r\x15\r"
	tests := []sendCase{
		{name: "sent", page: p, steps: []exchange{{want: b, reply: sent211}}, code: 211, sends: 1, logged: true},
		{name: "truncated", page: p, steps: []exchange{{want: b, reply: "212 Long message truncated and sent\r\x06\r"}}, code: 212, sends: 1, logged: true},
		{name: "wait, then sent", page: p, steps: []exchange{{want: b, reply: "111 Please wait\r"}, {reply: sent211}}, code: 211, sends: 1, logged: true},
		{name: "noise before the reply", page: p, steps: []exchange{{want: b, reply: "\n\x00\x7f garbage\r\x1b[p\r\xb2\xb1\xb1 Sent\r\n\x86\r\n"}}, code: 211, sends: 1, logged: true},
		{name: "Scope, no code", page: p, steps: []exchange{{want: b, reply: "Processing-Please Wait\r\x06\r"}}, code: 0, sends: 1, logged: true},
		{name: "NAK, then sent", page: p, steps: []exchange{{want: b, reply: nak}, {want: b, reply: sent211}}, code: 211, sends: 2, logged: true},
		{name: "NAK four times", page: p, steps: []exchange{{want: b, reply: nak}, {want: b, reply: nak}, {want: b, reply: nak}, {want: b, reply: "512 Try later\r\x15\r"}},
			outcome: ErrTemporary, cause: ErrNAK, code: 512, sends: 4, logged: true},
		{name: "RS", page: p, steps: []exchange{{want: b, reply: "511 Invalid Pager ID\r\x1e\r"}}, outcome: ErrPermanent, cause: ErrRS, code: 511, sends: 1, logged: true},
		{name: "NAK, then RS 503", page: p, steps: []exchange{{want: b, reply: nak}, {want: b, reply: "503 Excessive checksum errors\r\x1e\r"}}, outcome: ErrPermanent, cause: ErrRS, code: 503, sends: 2, logged: true},
		{name: "ESC EOT", page: p, steps: []exchange{{want: b, reply: "501 Timeout\r\x1b\x04\r"}}, outcome: ErrTemporary, cause: ErrDisconnected, code: 501, sends: 1},
		{name: "silence", page: p, steps: []exchange{{want: b}}, outcome: ErrUnknown, cause: ErrTimeout, sends: 1},
		{name: "silence after a NAK", page: p, steps: []exchange{{want: b, reply: nak}, {want: b}}, outcome: ErrUnknown, cause: ErrTimeout, code: 514, sends: 2},
		{name: "hang-up after the block", page: p, steps: []exchange{{want: b, close: true}}, outcome: ErrUnknown, cause: ErrLine, sends: 1},
		{name: "hang-up in the reply", page: p, steps: []exchange{{want: b, reply: "211 Page"}, {close: true}}, outcome: ErrUnknown, cause: ErrLine, sends: 1},
		{name: "ACK without CR, then silence", page: p, steps: []exchange{{want: b, reply: "211 Sent\r\x06"}}, outcome: ErrUnknown, cause: ErrTimeout, sends: 1},
		{name: "invalid page", page: page("1", "naïve"), outcome: ErrPermanent, cause: ErrInvalidPage, logged: true},
		{name: "two blocks", page: long, steps: []exchange{{want: l0, reply: "\x06\r"}, {want: l1, reply: sent211}}, code: 211, sends: 2, logged: true},
		{name: "two blocks, first NAK", page: long, steps: []exchange{{want: l0, reply: nak}, {want: l0, reply: "\x06\r"}, {want: l1, reply: sent211}}, code: 211, sends: 3, logged: true},
		{name: "two blocks, silence after the first", page: long, steps: []exchange{{want: l0}}, outcome: ErrTemporary, cause: ErrTimeout, sends: 1},
		{name: "two blocks, silence after the last", page: long, steps: []exchange{{want: l0, reply: "\x06\r"}, {want: l1}}, outcome: ErrUnknown, cause: ErrTimeout, sends: 2},
		{name: "two blocks, second NAK four times", page: long, steps: []exchange{{want: l0, reply: "\x06\r"}, {want: l1, reply: nak}, {want: l1, reply: nak}, {want: l1, reply: nak}, {want: l1, reply: nak}},
			outcome: ErrTemporary, cause: ErrNAK, code: 514, sends: 5},
		{name: "two blocks, first RS", page: long, steps: []exchange{{want: l0, reply: "513 Too long\r\x1e\r"}}, outcome: ErrPermanent, cause: ErrRS, code: 513, sends: 1, logged: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			withClient(t, ClientConfig{}, append(logonSteps(), tt.steps...), func(ctx context.Context, c *Client) {
				if err := c.Logon(ctx); err != nil {
					t.Fatal(err)
				}
				checkSend(t, c, ctx, tt)
			})
		})
	}
}

func checkSend(t *testing.T, c *Client, ctx context.Context, tt sendCase) {
	t.Helper()
	r, err := c.Send(ctx, tt.page)
	if tt.outcome == nil {
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
	} else {
		var se *SendError
		if !errors.As(err, &se) || !errors.Is(err, tt.outcome) || !errors.Is(err, tt.cause) {
			t.Fatalf("Send: %v, want %v and %v", err, tt.outcome, tt.cause)
		}
		if se.Sends != tt.sends {
			t.Errorf("Sends = %d, want %d", se.Sends, tt.sends)
		}
		if se.Reply.Code() != tt.code {
			t.Errorf("SendError.Reply = %v, want code %d", se.Reply, tt.code)
		}
		for _, other := range []error{ErrPermanent, ErrTemporary, ErrUnknown} {
			if other != tt.outcome && errors.Is(err, other) {
				t.Errorf("%v is also %v", err, other)
			}
		}
		if strings.Contains(err.Error(), tt.page.Text.Reveal()) && tt.page.Text.Len() > 3 {
			t.Errorf("error %q quotes the text", err)
		}
	}
	if r.Code() != tt.code {
		t.Errorf("reply %v, want code %d", r, tt.code)
	}
	if c.LoggedOn() != tt.logged {
		t.Errorf("LoggedOn() = %v, want %v", c.LoggedOn(), tt.logged)
	}
}

// After an unknown outcome the next Logon ends the session with EOT first,
// so a late answer is not taken for the next page's.
func TestClientResyncAfterUnknown(t *testing.T) {
	t.Parallel()
	b1 := block(t, "1001", "Code Blue 4W Rm 412")
	b2 := block(t, "1002", "Lab: K 6.1 Bed 7")
	steps := append(logonSteps(),
		exchange{want: b1}, // no answer in time
		exchange{want: "\x04\r", reply: sent211 + bye115},
		exchange{want: "\r", reply: "ID=\r"},
		exchange{want: "\x1bPG1\r", reply: logonAck},
		exchange{want: b2, reply: sent211},
	)
	withClient(t, ClientConfig{}, steps, func(ctx context.Context, c *Client) {
		if err := c.Logon(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Send(ctx, page("1001", "Code Blue 4W Rm 412")); !errors.Is(err, ErrUnknown) {
			t.Fatalf("first page: %v, want ErrUnknown", err)
		}
		if _, err := c.Send(ctx, page("1002", "Lab: K 6.1 Bed 7")); !errors.Is(err, ErrNotLoggedOn) || !errors.Is(err, ErrTemporary) {
			t.Fatalf("Send before Logon: %v", err)
		}
		if err := c.Logon(ctx); err != nil {
			t.Fatal(err)
		}
		if r, err := c.Send(ctx, page("1002", "Lab: K 6.1 Bed 7")); err != nil || r.Code() != CodeSent {
			t.Fatalf("second page: %v, %v", r, err)
		}
	})
}

func TestClientSendWithoutLogon(t *testing.T) {
	t.Parallel()
	b := block(t, "1001", "Code Blue 4W Rm 412")
	withClient(t, ClientConfig{NoLogon: true}, []exchange{{want: b, reply: sent211}}, func(ctx context.Context, c *Client) {
		if _, err := c.Send(ctx, page("1001", "Code Blue 4W Rm 412")); !errors.Is(err, ErrNotLoggedOn) {
			t.Fatalf("Send before Logon: %v", err)
		}
		if err := c.Logon(ctx); err != nil {
			t.Fatal(err)
		}
		if r, err := c.Send(ctx, page("1001", "Code Blue 4W Rm 412")); err != nil || r.Code() != CodeSent {
			t.Fatalf("Send: %v, %v", r, err)
		}
	})
}

func TestClientContextEnded(t *testing.T) {
	t.Parallel()
	withClient(t, ClientConfig{}, logonSteps(), func(ctx context.Context, c *Client) {
		if err := c.Logon(ctx); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := c.Send(ctx, page("1001", "x"))
		if !errors.Is(err, ErrTemporary) || !errors.Is(err, context.Canceled) {
			t.Fatalf("Send: %v", err)
		}
		if !c.LoggedOn() {
			t.Error("nothing was written, yet the session is given up")
		}
	})
}

func TestClientLogoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		reply string
		err   error
	}{
		{"goodbye", bye115, nil},
		{"ESC EOT alone", "\x1b\x04\r", nil},
		{"broken", "\x1e\r", errors.New("RS")},
		{"silence", "", ErrTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			withClient(t, ClientConfig{}, append(logonSteps(), exchange{want: "\x04\r", reply: tt.reply}), func(ctx context.Context, c *Client) {
				if err := c.Logon(ctx); err != nil {
					t.Fatal(err)
				}
				err := c.Logoff(ctx)
				switch {
				case tt.err == nil && err != nil,
					tt.err != nil && err == nil,
					errors.Is(tt.err, ErrTimeout) && !errors.Is(err, ErrTimeout):
					t.Fatalf("Logoff: %v, want %v", err, tt.err)
				}
				if c.LoggedOn() {
					t.Error("logged on after Logoff")
				}
			})
		})
	}
}

func TestClientQuirks(t *testing.T) {
	t.Parallel()
	b1 := block(t, "1001", "Code Blue 4W Rm 412")
	b2 := block(t, "1002", "Lab: K 6.1 Bed 7")
	relogon := []exchange{{want: "\x04\r", reply: bye115}, {want: "\r", reply: "ID=\r"}, {want: "\x1bPG1\r", reply: logonAck}}
	steps := func(s ...[]exchange) []exchange {
		var out []exchange
		for _, x := range s {
			out = append(out, x...)
		}
		return out
	}
	type send struct {
		p       Page
		code    int
		outcome error // nil: accepted
		cause   error
		sends   int
	}
	p1, p2 := page("1001", "Code Blue 4W Rm 412"), page("1002", "Lab: K 6.1 Bed 7")
	tests := []struct {
		name  string
		cfg   ClientConfig
		steps []exchange
		sends []send
	}{
		{"two pages per session", ClientConfig{MaxPagesPerSession: 2}, steps(logonSteps(),
			[]exchange{{want: b1, reply: sent211}, {want: b2, reply: sent211}}, relogon,
			[]exchange{{want: b1, reply: sent211}, {want: b2, reply: sent211}}, relogon,
			[]exchange{{want: b1, reply: sent211}}),
			[]send{{p: p1, code: 211}, {p: p2, code: 211}, {p: p1, code: 211}, {p: p2, code: 211}, {p: p1, code: 211}}},
		{"112 with ACK: taken, new session next", ClientConfig{}, steps(logonSteps(),
			[]exchange{{want: b1, reply: "211 Sent\r112 Maximum pages entered\r\x06\r"}}, relogon,
			[]exchange{{want: b2, reply: sent211}}),
			[]send{{p: p1, code: 112}, {p: p2, code: 211}}},
		{"112 with NAK: again in a new session", ClientConfig{}, steps(logonSteps(),
			[]exchange{{want: b1, reply: sent211}, {want: b2, reply: "112 Maximum pages entered\r\x15\r"}}, relogon,
			[]exchange{{want: b2, reply: sent211}, {want: b1, reply: sent211}}),
			[]send{{p: p1, code: 211}, {p: p2, code: 211}, {p: p1, code: 211}}},
		{"113 with RS, twice: temporary", ClientConfig{}, steps(logonSteps(),
			[]exchange{{want: b1, reply: "113 Maximum time reached\r\x1e\r"}}, relogon,
			[]exchange{{want: b1, reply: "113 Maximum time reached\r\x1e\r"}}, relogon,
			[]exchange{{want: b2, reply: sent211}}),
			[]send{{p: p1, code: 113, outcome: ErrTemporary, cause: ErrRS, sends: 2}, {p: p2, code: 211}}},
		{"113 with ESC EOT: disconnected", ClientConfig{}, steps(logonSteps(),
			[]exchange{{want: b1, reply: "113 Maximum time reached\r\x1b\x04\r"}}),
			[]send{{p: p1, code: 113, outcome: ErrTemporary, cause: ErrDisconnected, sends: 1}}},
		{"new session refused", ClientConfig{MaxPagesPerSession: 1}, steps(logonSteps(),
			[]exchange{{want: b1, reply: sent211}, {want: "\x04\r", reply: bye115}, {want: "\r", reply: "ID=\r"},
				{want: "\x1bPG1\r", reply: "\x1b\x04\r"}}),
			[]send{{p: p1, code: 211}, {p: p2, outcome: ErrTemporary, cause: ErrRefused}}},
		{"no checksum", ClientConfig{NoChecksum: true}, steps(logonSteps(),
			[]exchange{{want: "\x021001\rCode Blue 4W Rm 412\r\x03\r", reply: sent211}}),
			[]send{{p: p1, code: 211}}},
		{"bare LF", ClientConfig{BareLF: true}, []exchange{
			{want: "\r", reply: "ID=\n"}, {want: "\x1bPG1\r", reply: "110 1.8\n\x06\n\x1b[p\n"},
			{want: b1, reply: "211 Sent\n\x06\n"}, {want: b2, reply: "211 Sent\r\n\x06\r\n"}},
			[]send{{p: p1, code: 211}, {p: p2, code: 211}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			withClient(t, tt.cfg, tt.steps, func(ctx context.Context, c *Client) {
				if err := c.Logon(ctx); err != nil {
					t.Fatal(err)
				}
				for i, s := range tt.sends {
					r, err := c.Send(ctx, s.p)
					var se *SendError
					switch {
					case s.outcome == nil && err != nil,
						s.outcome != nil && (!errors.As(err, &se) || !errors.Is(err, s.outcome) || !errors.Is(err, s.cause)):
						t.Fatalf("page %d: %v, %v; want %v, %v", i, r, err, s.outcome, s.cause)
					case r.Code() != s.code:
						t.Fatalf("page %d: reply %v, want code %d", i, r, s.code)
					case se != nil && s.sends != 0 && se.Sends != s.sends:
						t.Fatalf("page %d: %d sends, want %d", i, se.Sends, s.sends)
					}
				}
			})
		})
	}
}
