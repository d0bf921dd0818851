package tap

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func lines(ls ...ReplyLine) []ReplyLine { return ls }

func TestParseReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want Reply
		n    int // bytes taken; -1 for all of in
	}{
		{"sent", "211 Page(s) Sent Successfully\r\x06\r", Reply{lines(ReplyLine{211, "Page(s) Sent Successfully"}), ACK}, -1},
		{"checksum error", "514 Checksum error\r\x15\r", Reply{lines(ReplyLine{514, "Checksum error"}), NAK}, -1},
		{"unknown ID", "511 Invalid Pager ID\r\x1e\r", Reply{lines(ReplyLine{511, "Invalid Pager ID"}), RS}, -1},
		{"goodbye", "115 Goodbye\r\x1b\x04\r", Reply{lines(ReplyLine{115, "Goodbye"}), Disconnect}, -1},
		{"logon takes ACK only", "110 1.8\r\x06\r\x1b[p\r", Reply{lines(ReplyLine{110, "1.8"}), ACK}, 10},
		{"go-ahead", "\x1b[p\r", Reply{nil, GoAhead}, -1},
		{"bare ACK", "\x06\r", Reply{nil, ACK}, -1},
		{"Scope, no code", "Processing-Please Wait\r\x06\r", Reply{lines(ReplyLine{0, "Processing-Please Wait"}), ACK}, -1},
		{"WaveWare non-verbose", "211\r\x06\r", Reply{lines(ReplyLine{211, ""}), ACK}, -1},
		{"wait, then sent", "111 Please wait\r211 Sent\r\x06\r", Reply{lines(ReplyLine{111, "Please wait"}, ReplyLine{211, "Sent"}), ACK}, -1},
		{"LF noise", "\n211 Sent\r\n\x06\r\n", Reply{lines(ReplyLine{211, "Sent"}), ACK}, 13},
		{"CR LF before, stricttap lead", "\r\n\r\x06\r", Reply{nil, ACK}, -1},
		{"8th bit set", "\xb2\xb1\xb1 Sent\x8d\x86\x8d", Reply{lines(ReplyLine{211, "Sent"}), ACK}, -1},
		{"action on the text line", "211 Sent\x06\r", Reply{lines(ReplyLine{211, "Sent"}), ACK}, -1},
		{"garbage after the action", "\x15junk\r", Reply{nil, NAK}, -1},
		{"ID= before", "ID=\r110 1.8\r\x06\r", Reply{lines(ReplyLine{0, "ID="}, ReplyLine{110, "1.8"}), ACK}, -1},
		{"four digits are text", "2110 x\r\x06\r", Reply{lines(ReplyLine{0, "2110 x"}), ACK}, -1},
		{"control characters dropped", "21\x011 ok\x07\r\x06\r", Reply{lines(ReplyLine{211, "ok"}), ACK}, -1},
		{"ESC alone is no action", "\x1bX\r\x1e\r", Reply{lines(ReplyLine{0, "X"}), RS}, -1},
	}
	for _, tt := range tests {
		r, n, err := ParseReply([]byte(tt.in))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if tt.n < 0 {
			tt.n = len(tt.in)
		}
		if !reflect.DeepEqual(r, tt.want) || n != tt.n {
			t.Errorf("%s: ParseReply(%q) = %+v, %d; want %+v, %d", tt.name, tt.in, r, n, tt.want, tt.n)
		}
	}
}

func TestParseReplyIncomplete(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "211 Sent\r", "211 Sent\r\x06", "\x1b", "\x1b\r", "\x1b[", "ID=\r", strings.Repeat("x", maxReply-1)} {
		if _, _, err := ParseReply([]byte(in)); !errors.Is(err, ErrIncomplete) {
			t.Errorf("ParseReply(%.40q) = %v, want ErrIncomplete", in, err)
		}
	}
	if _, _, err := ParseReply([]byte(strings.Repeat("garbage\r", 600))); !errors.Is(err, ErrTooLong) {
		t.Errorf("4800 bytes without an action: %v, want ErrTooLong", err)
	}
}

func TestEncodeReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		r    Reply
		want string
	}{
		{Accepted(), "211 Page(s) Sent Successfully\r\x06\r"},
		{Rejected(CodeUnknownID, "Invalid Pager ID"), "511 Invalid Pager ID\r\x1e\r"},
		{Resend(CodeTryLater, "Try later"), "512 Try later\r\x15\r"},
		{Reply{lines(ReplyLine{115, "Goodbye"}), Disconnect}, "115 Goodbye\r\x1b\x04\r"},
		{Reply{nil, GoAhead}, "\x1b[p\r"},
		{Reply{lines(ReplyLine{0, "Processing-Please Wait"}), ACK}, "Processing-Please Wait\r\x06\r"},
		{Reply{lines(ReplyLine{211, ""}), ACK}, "211\r\x06\r"},
		{Reply{lines(ReplyLine{211, "a\x06b"}), ACK}, "211 ab\r\x06\r"},
		{Reply{lines(ReplyLine{1000, "x"}), NAK}, "x\r\x15\r"},
		{Reply{lines(ReplyLine{7, "x"}), NoAction}, "007 x\r"},
	}
	for _, tt := range tests {
		if got := string(EncodeReply(tt.r)); got != tt.want {
			t.Errorf("EncodeReply(%+v) = %q, want %q", tt.r, got, tt.want)
		}
	}
}

func TestReplyCode(t *testing.T) {
	t.Parallel()
	r := Reply{lines(ReplyLine{212, "truncated"}, ReplyLine{0, "more"}), ACK}
	if r.Code() != 212 || !r.Truncated() || r.Deferred() {
		t.Errorf("%+v: code %d truncated %v deferred %v", r, r.Code(), r.Truncated(), r.Deferred())
	}
	if (Reply{}).Code() != 0 {
		t.Error("empty reply has a code")
	}
	if s := Rejected(511, "x").String(); s != "511 RS" {
		t.Errorf("String() = %q", s)
	}
	if !(Reply{lines(ReplyLine{213, ""}), ACK}).Deferred() {
		t.Error("213 not deferred")
	}
}
