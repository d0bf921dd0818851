package espa

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"pagebridge/gateway/paging"
)

// unhex turns the reference's "01 31 02 …" into bytes; "quoted" parts are
// taken as text.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	var out []byte
	for len(s) > 0 {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			break
		}
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			out = append(out, s[1:end+1]...)
			s = s[end+2:]
			continue
		}
		b, err := hex.DecodeString(s[:2])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
		s = s[2:]
	}
	return out
}

// The reference's worked examples (paging-protocols.md §4): the block up
// to ETX, and its BCC.
var referenceVectors = []struct {
	name  string
	block string
	bcc   byte
	want  Block
}{
	{
		name:  "code blue call",
		block: `01 31 02 31 1F 31 30 30 31 1E 32 1F "Code Blue 4W Rm 412" 1E 34 1F 33 1E 36 1F 31 03`,
		bcc:   0x55,
		want: Block{Header: HeaderCall, Records: []Record{
			{'1', "1001"}, {'2', "Code Blue 4W Rm 412"}, {'4', "3"}, {'6', "1"},
		}},
	},
	{
		name:  "status paged",
		block: `01 32 02 31 1F 31 30 30 31 1E 37 1F 33 03`,
		bcc:   0x18,
		want:  Block{Header: HeaderStatus, Records: []Record{{'1', "1001"}, {'7', "3"}}},
	},
	{
		name:  "minimal",
		block: `01 31 02 31 1F 41 03`,
		bcc:   0x5f,
		want:  Block{Header: HeaderCall, Records: []Record{{'1', "A"}}},
	},
}

func TestBCCReferenceVectors(t *testing.T) {
	for _, v := range referenceVectors {
		t.Run(v.name, func(t *testing.T) {
			raw := unhex(t, v.block)
			if got := BCC(raw); got != v.bcc {
				t.Errorf("BCC = 0x%02x, want 0x%02x", got, v.bcc)
			}
			if got := BCC(raw[1:]); got != v.bcc {
				t.Errorf("BCC without SOH = 0x%02x, want 0x%02x", got, v.bcc)
			}
			full := append(raw, v.bcc)
			b, err := DecodeBlock(full)
			if err != nil {
				t.Fatalf("DecodeBlock: %v", err)
			}
			if !reflect.DeepEqual(b, v.want) {
				t.Errorf("DecodeBlock = %#v, want %#v", b.Records, v.want.Records)
			}
			enc, err := EncodeBlock(v.want)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(enc, full) {
				t.Errorf("EncodeBlock = % x\nwant          % x", enc, full)
			}
		})
	}
}

// The reference's call, written from a Call, is the reference's bytes.
func TestCallEncodesLikeReference(t *testing.T) {
	c := Call{Address: "1001", Text: paging.NewPHI("Code Blue 4W Rm 412"), Type: CallStandard, Priority: PriorityAlarm}
	got, err := c.Encode(Standard)
	if err != nil {
		t.Fatal(err)
	}
	want := append(unhex(t, referenceVectors[0].block), 0x55)
	if !bytes.Equal(got, want) {
		t.Errorf("Encode = % x\nwant     % x", got, want)
	}
	s := Status{Address: "1001", Call: StatusPaged}
	got, err = s.Encode(Standard)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(unhex(t, referenceVectors[1].block), 0x18); !bytes.Equal(got, want) {
		t.Errorf("status Encode = % x\nwant            % x", got, want)
	}
}

// withBCC appends the right BCC to a block written up to ETX.
func withBCC(s string) string { return s + string([]byte{BCC([]byte(s))}) }

func TestDecodeBlockTolerates(t *testing.T) {
	cases := []struct {
		name, in string
		want     Block
	}{
		{"RS before ETX", withBCC("\x011\x021\x1f1001\x1e2\x1fHello\x1e\x03"),
			Block{HeaderCall, []Record{{'1', "1001"}, {'2', "Hello"}}}},
		{"stray space after STX (Zenitel)", withBCC("\x011\x02 1\x1f1001\x1e2\x1fHi\x03"),
			Block{HeaderCall, []Record{{'1', "1001"}, {'2', "Hi"}}}},
		{"no records", withBCC("\x013\x02\x03"), Block{Header: HeaderStatusRequest}},
		{"only RS", withBCC("\x013\x02\x1e\x03"), Block{Header: HeaderStatusRequest}},
		{"empty value", withBCC("\x011\x021\x1f1\x1e2\x1f\x03"), Block{HeaderCall, []Record{{'1', "1"}, {'2', ""}}}},
		{"8-bit text", withBCC("\x011\x021\x1f7\x1e2\x1fK\xfcche\x03"), Block{HeaderCall, []Record{{'1', "7"}, {'2', "K\xfcche"}}}},
		{"BCC is a control character", withBCC("\x011\x021\x1f\x40\x03"), Block{HeaderCall, []Record{{'1', "@"}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := DecodeBlock([]byte(c.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(b, c.want) {
				t.Errorf("got %v %q, want %q", b, b.Records, c.want.Records)
			}
		})
	}
}

// malformedBlocks are blocks DecodeBlock must refuse, with the sentinel
// and a phrase of the error.
var malformedBlocks = []struct {
	name, in string
	want     error
	phrase   string
}{
	{"empty", "", ErrMalformed, "SOH"},
	{"no SOH", withBCC("x1\x021\x1f1\x03"), ErrMalformed, "SOH"},
	{"too short", "\x011\x03\x31", ErrMalformed, "short"},
	{"no ETX", "\x011\x021\x1f100", ErrMalformed, "ETX"},
	{"bad BCC", "\x011\x021\x1f1001\x03\x00", ErrBCC, "0x"},
	{"BCC off by one bit", "\x011\x021\x1fA\x03\x5e", ErrBCC, "0x5f"},
	{"two-character header", withBCC("\x0112\x021\x1f1\x03"), ErrMalformed, "header"},
	{"header not printable", withBCC("\x01\x7f\x021\x1f1\x03"), ErrMalformed, "header"},
	{"no STX", withBCC("\x011\x1f1\x1f1\x03"), ErrMalformed, "STX"},
	{"record without US", withBCC("\x011\x021001\x03"), ErrMalformed, "US"},
	{"empty record in the middle", withBCC("\x011\x021\x1f1\x1e\x1e2\x1fx\x03"), ErrMalformed, "empty"},
	{"control character in data", withBCC("\x011\x021\x1f10\r01\x03"), ErrMalformed, "control character 0x0d"},
	{"STX in data", withBCC("\x011\x021\x1f1\x02\x03"), ErrMalformed, "control character 0x02"},
	{"ETX in data", withBCC("\x011\x021\x1f1\x03\x1e2\x1fx\x03"), ErrMalformed, "control character 0x03"},
	{"identifier not printable", withBCC("\x011\x02\x7f\x1f1\x03"), ErrMalformed, "identifier"},
	{"two-character identifier", withBCC("\x011\x0212\x1f1\x03"), ErrMalformed, "identifier"},
	{"too long", withBCC("\x011\x022\x1f" + strings.Repeat("x", MaxBlockLen) + "\x03"), ErrTooLong, "bytes"},
}

func TestDecodeBlockMalformed(t *testing.T) {
	for _, c := range malformedBlocks {
		t.Run(c.name, func(t *testing.T) {
			b, err := DecodeBlock([]byte(c.in))
			if !errors.Is(err, c.want) {
				t.Fatalf("DecodeBlock = %v, %v; want %v", b, err, c.want)
			}
			if !strings.Contains(err.Error(), c.phrase) {
				t.Errorf("error %q does not say %q", err, c.phrase)
			}
		})
	}
}

func TestEncodeBlockInvalid(t *testing.T) {
	for name, b := range map[string]Block{
		"header":        {Header: 0x02},
		"space header":  {Header: ' '},
		"identifier":    {Header: '1', Records: []Record{{US, "1"}}},
		"control":       {Header: '1', Records: []Record{{'2', "a\x1eb"}}},
		"CR":            {Header: '1', Records: []Record{{'2', "a\rb"}}},
		"zero id":       {Header: '1', Records: []Record{{0, "1"}}},
		"overlong text": {Header: '1', Records: []Record{{'2', strings.Repeat("x", MaxBlockLen)}}},
	} {
		t.Run(name, func(t *testing.T) {
			if raw, err := EncodeBlock(b); err == nil {
				t.Fatalf("EncodeBlock = % x, want an error", raw)
			} else if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrTooLong) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
		})
	}
}

// No error, Format or LogValue of a block or call shows the text.
func TestNoTextInFormats(t *testing.T) {
	const secret = "Patient Smith"
	raw := []byte(withBCC("\x011\x021\x1f1001\x1e2\x1f" + secret + "\x1e3\x1fx\x03"))
	b, err := DecodeBlock(raw)
	if err != nil {
		t.Fatal(err)
	}
	_, cerr := DecodeCall(b, Standard)
	c := Call{Address: "1", Text: paging.NewPHI(secret)}
	_, eerr := Call{Address: "1", Text: paging.NewPHI(secret + "\u20ac")}.Encode(Standard)
	for _, s := range []string{
		fmt.Sprint(b), fmt.Sprintf("%v %+v %#v", b, b, b), b.LogValue().String(), c.LogValue().String(),
		fmt.Sprint(cerr), fmt.Sprint(eerr), fmt.Sprintf("%v", c),
	} {
		if strings.Contains(s, "Smith") {
			t.Errorf("%q shows the text", s)
		}
	}
	if cerr == nil || eerr == nil {
		t.Fatalf("want errors, got %v and %v", cerr, eerr)
	}
}
