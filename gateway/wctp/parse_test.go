package wctp

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pagebridge/gateway/paging"
)

func TestRoundTrip(t *testing.T) {
	for _, r := range []SubmitRequest{
		{Version: "wctp-dtd-v1r3", SenderID: "nursecall-4w", SecurityCode: "s3cret", MessageID: "1", RecipientID: "4711", Text: paging.NewPHI("hello")},
		{Version: "wctp-dtd-v1r1", SenderID: "a", MessageID: "m", RecipientID: "", DeliveryPriority: "HIGH", Text: paging.NewPHI("")},
		{Version: "1.0", SenderID: `<&"'>`, SecurityCode: "]]>", MessageID: "&amp;", RecipientID: "x y", DeliveryPriority: "LOW",
			Text: paging.NewPHI("tab\there\nCR\r<b>&amp;</b> ]]> é 日本 😀")},
		{Client: true, Version: "wctp-dtd-v1r3", SenderID: "answering-svc", SecurityCode: "pw", RecipientID: "8005551212", Text: paging.NewPHI("x")},
		{Client: true, Version: "wctp-dtd-v1r2", SenderID: "c", RecipientID: "r", DeliveryPriority: "NORMAL", Text: paging.NewPHI("  padded  ")},
	} {
		b, err := Encode(r)
		if err != nil {
			t.Errorf("Encode(%v): %v", r, err)
			continue
		}
		got, err := Parse(b)
		if err != nil {
			t.Errorf("Parse(Encode(%v)): %v\n%s", r, err, b)
			continue
		}
		if got != r {
			t.Errorf("Parse(Encode(x)) = %#v,\nwant %#v", got, r)
		}
	}

	// An empty Version encodes as DefaultVersion.
	b, err := Encode(SubmitRequest{SenderID: "a", MessageID: "m", RecipientID: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Parse(b); err != nil || got.Version != DefaultVersion {
		t.Errorf("Parse(Encode(no version)) = %v, %v", got.Version, err)
	}
}

func TestEncodeRefuses(t *testing.T) {
	ok := SubmitRequest{SenderID: "a", MessageID: "m", RecipientID: "r"}
	for name, edit := range map[string]func(*SubmitRequest){
		"unknown version":        func(r *SubmitRequest) { r.Version = "wctp-dtd-v9r9" },
		"bad priority":           func(r *SubmitRequest) { r.DeliveryPriority = "high" },
		"client with messageID":  func(r *SubmitRequest) { r.Client = true },
		"no messageID":           func(r *SubmitRequest) { r.MessageID = "" },
		"long messageID":         func(r *SubmitRequest) { r.MessageID = strings.Repeat("m", paging.MaxSenderRefLen+1) },
		"control in senderID":    func(r *SubmitRequest) { r.SenderID = "a\nb" },
		"invalid UTF-8 in code":  func(r *SubmitRequest) { r.SecurityCode = "\xff" },
		"NUL in text":            func(r *SubmitRequest) { r.Text = paging.NewPHI("a\x00b") },
		"escape in text":         func(r *SubmitRequest) { r.Text = paging.NewPHI("\x1b[2J") },
		"non-character in text":  func(r *SubmitRequest) { r.Text = paging.NewPHI("\uFFFE") },
		"invalid UTF-8 in text":  func(r *SubmitRequest) { r.Text = paging.NewPHI("\xc0\xaf") },
		"DEL in recipient":       func(r *SubmitRequest) { r.RecipientID = "\x7f" },
		"C1 control in senderID": func(r *SubmitRequest) { r.SenderID = "\u0085" },
	} {
		r := ok
		edit(&r)
		if _, err := Encode(r); !errors.Is(err, ErrEncode) {
			t.Errorf("%s: Encode error = %v, want ErrEncode", name, err)
		}
	}
}

func TestRequestRedacts(t *testing.T) {
	r := SubmitRequest{SenderID: "s", SecurityCode: "topsecret", MessageID: "m", RecipientID: "r", Text: paging.NewPHI(phiMarker)}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		if s := fmt.Sprintf(verb, r); strings.Contains(s, "topsecret") || strings.Contains(s, phiMarker) {
			t.Errorf("%s leaks: %s", verb, s)
		}
	}
	if s := r.LogValue().String(); strings.Contains(s, "topsecret") || strings.Contains(s, phiMarker) {
		t.Errorf("LogValue leaks: %s", s)
	}
}

func TestParseErrorsAreTyped(t *testing.T) {
	for _, in := range []string{"", "<", "<x/>", `<wctp-Operation wctpVersion="0"/>`} {
		_, err := Parse([]byte(in))
		var we *Error
		if !errors.As(err, &we) || CodeText(we.Code) == "" {
			t.Errorf("Parse(%q) error = %v, want *Error with a known code", in, err)
		}
	}
}

// FuzzParse checks that Parse never panics, refuses only with *Error, and
// that what it accepts survives Encode and Parse unchanged.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/*.xml")
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"",
		"\ufeff<wctp-Operation/>",
		`<!DOCTYPE wctp-Operation [<!ENTITY a "b">]><wctp-Operation wctpVersion="wctp-dtd-v1r3">&a;</wctp-Operation>`,
		`<wctp-Operation wctpVersion="1.0"><wctp-SubmitClientMessage><wctp-SubmitClientHeader><wctp-ClientOriginator senderID="c" miscInfo="p"/><wctp-Recipient recipientID="r"/></wctp-SubmitClientHeader><wctp-Payload><wctp-Alphanumeric><![CDATA[<x>]]>&#xD;</wctp-Alphanumeric></wctp-Payload></wctp-SubmitClientMessage></wctp-Operation>`,
		`<wctp-Operation wctpVersion="wctp-dtd-v1r3"><wctp-PollForMessages pollerID="x"/></wctp-Operation>`,
		`<wctp-Operation wctpVersion="wctp-dtd-v1r3"><wctp-PollForMessages pollerID="x" securityCode="y" maxMessagesInBatch="3"><wctp-MessageReceived sequenceNo="1"><wctp-Success successCode="200"/></wctp-MessageReceived><wctp-MessageReceived sequenceNo="2"><wctp-Failure errorCode="604"/></wctp-MessageReceived></wctp-PollForMessages></wctp-Operation>`,
		`<wctp-Operation wctpVersion="wctp-dtd-v1r1"><wctp-ClientQuery senderID="c" miscInfo="p" recipientID="r" trackingNumber="01KX"/></wctp-Operation>`,
		`<wctp-Operation wctpVersion="wctp-dtd-v1r3"><wctp-VersionQuery inquirer="i" dateTime="2026-03-01T10:00:00"/></wctp-Operation>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		// ParseRequest reads the query operations too: the same refusals.
		if q, err := ParseRequest(body); err != nil {
			var we *Error
			if !errors.As(err, &we) || CodeText(we.Code) == "" {
				t.Fatalf("ParseRequest error %v is not an *Error with a known code", err)
			}
		} else if q.Op == "" || q.Poll.MaxMessages < 0 || q.Poll.MaxMessages > MaxPollBatch {
			t.Fatalf("ParseRequest = %+v", q)
		}
		r, err := Parse(body)
		if err != nil {
			var we *Error
			if !errors.As(err, &we) || CodeText(we.Code) == "" {
				t.Fatalf("error %v is not an *Error with a known code", err)
			}
			return
		}
		enc, err := Encode(r)
		if err != nil {
			t.Fatalf("Encode(Parse(x)): %v", err)
		}
		r2, err := Parse(enc)
		if err != nil {
			t.Fatalf("Parse(Encode(Parse(x))): %v\n%s", err, enc)
		}
		if r2 != r || r2.Text.Reveal() != r.Text.Reveal() {
			t.Fatalf("round trip changed the request:\n%#v\n%#v", r, r2)
		}
	})
}
