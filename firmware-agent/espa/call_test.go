package espa

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"pagebridge/gateway/paging"
)

func TestCallRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		d    Dialect
		c    Call
	}{
		{"address only", Standard, Call{Address: "1001"}},
		{"every record", Standard, Call{Address: "4711", Text: paging.NewPHI("Bed 7 call"), Beep: 9,
			Type: CallSpeech, Transmissions: 12, Priority: PriorityHigh}},
		{"Latin-1 text", Standard, Call{Address: "12", Text: paging.NewPHI("Küche Zimmer 3 ß")}},
		{"unknown records kept", Standard, Call{Address: "12", Extra: []Record{{'D', "17"}, {'Z', "x"}}}},
		{"Ascom records", Ascom, Call{Address: "12", Type: CallErase, ID: "A7", Mailbox: "3", Infopage: "9", RunningNumber: "0042"}},
		{"Ascom with extra", Ascom, Call{Address: "12", RunningNumber: "1", Extra: []Record{{'F', "x"}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw, err := c.c.Encode(c.d)
			if err != nil {
				t.Fatal(err)
			}
			b, err := DecodeBlock(raw)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeCall(b, c.d)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.c) || got.Text.Reveal() != c.c.Text.Reveal() {
				t.Errorf("round trip: %#v (%q)\nwant %#v", got, got.Text.Reveal(), c.c)
			}
		})
	}
}

func TestStatusRoundTrip(t *testing.T) {
	for _, c := range []struct {
		d Dialect
		s Status
	}{
		{Standard, Status{Address: "1001", Call: StatusAcknowledged}},
		{Standard, Status{System: SystemTXFailure}},
		{Standard, Status{Address: "1001", Call: StatusFault, Extra: []Record{{'D', "5"}}}},
		{Ascom, Status{Address: "1001", Call: StatusPaged, ID: "x1", RunningNumber: "77"}},
	} {
		raw, err := c.s.Encode(c.d)
		if err != nil {
			t.Fatal(err)
		}
		b, err := DecodeBlock(raw)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeStatus(b, c.d)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c.s) {
			t.Errorf("round trip: %#v, want %#v", got, c.s)
		}
	}
}

// The Ascom records are Extra with the standard dialect, and typed with
// the Ascom one.
func TestDialectRecords(t *testing.T) {
	b := Block{Header: HeaderCall, Records: []Record{{'1', "5"}, {'D', "0042"}, {'4', "6"}}}
	if _, err := DecodeCall(b, Standard); !errors.Is(err, ErrMalformed) {
		t.Errorf("call type 6 with the standard dialect: %v, want ErrMalformed", err)
	}
	b.Records[2].Value = "3"
	std, err := DecodeCall(b, Standard)
	if err != nil || std.RunningNumber != "" || !reflect.DeepEqual(std.Extra, []Record{{'D', "0042"}}) {
		t.Errorf("standard: %#v, %v", std, err)
	}
	asc, err := DecodeCall(b, Ascom)
	if err != nil || asc.RunningNumber != "0042" || asc.Extra != nil {
		t.Errorf("ascom: %#v, %v", asc, err)
	}
	if _, err := (Call{Address: "1", RunningNumber: "1"}).Encode(Standard); !errors.Is(err, ErrInvalid) {
		t.Errorf("running number with the standard dialect: %v, want ErrInvalid", err)
	}
}

func TestPriorityTier(t *testing.T) {
	for p, want := range map[Priority]paging.Priority{
		PriorityAlarm: paging.PriorityCritical, PriorityHigh: paging.PriorityHigh, PriorityNormal: paging.PriorityNormal,
	} {
		if got, ok := p.Tier(); !ok || got != want {
			t.Errorf("%d.Tier() = %v, %v; want %v", p, got, ok, want)
		}
	}
	if _, ok := Priority(0).Tier(); ok {
		t.Error("absent priority has a tier")
	}
}

// malformedCalls are well-framed blocks that are no call.
var malformedCalls = []struct {
	name   string
	b      Block
	phrase string
}{
	{"status header", Block{Header: HeaderStatus, Records: []Record{{'1', "1"}}}, "not a call"},
	{"no address", Block{Header: HeaderCall, Records: []Record{{'2', "hi"}}}, "no call address"},
	{"empty address", Block{Header: HeaderCall, Records: []Record{{'1', ""}}}, "record 1: empty"},
	{"long address", Block{Header: HeaderCall, Records: []Record{{'1', strings.Repeat("9", MaxAddressLen+1)}}}, "record 1"},
	{"8-bit address", Block{Header: HeaderCall, Records: []Record{{'1', "1\xe9"}}}, "record 1"},
	{"address twice", Block{Header: HeaderCall, Records: []Record{{'1', "1"}, {'1', "2"}}}, "twice"},
	{"beep 0", Block{Header: HeaderCall, Records: []Record{{'1', "1"}, {'3', "0"}}}, "record 3"},
	{"beep 10", Block{Header: HeaderCall, Records: []Record{{'1', "1"}, {'3', "10"}}}, "record 3"},
	{"beep letter", Block{Header: HeaderCall, Records: []Record{{'1', "1"}, {'3', "a"}}}, "record 3"},
	{"call type 4", Block{Header: HeaderCall, Records: []Record{{'1', "1"}, {'4', "4"}}}, "record 4"},
	{"transmissions 100", Block{Header: HeaderCall, Records: []Record{{'1', "1"}, {'5', "100"}}}, "record 5"},
	{"transmissions empty", Block{Header: HeaderCall, Records: []Record{{'1', "1"}, {'5', ""}}}, "record 5"},
	{"priority 4", Block{Header: HeaderCall, Records: []Record{{'1', "1"}, {'6', "4"}}}, "record 6"},
	{"long text", Block{Header: HeaderCall, Records: []Record{{'1', "1"}, {'2', strings.Repeat("x", MaxTextLen+1)}}}, "text"},
}

func TestDecodeCallMalformed(t *testing.T) {
	for _, c := range malformedCalls {
		t.Run(c.name, func(t *testing.T) {
			call, err := DecodeCall(c.b, Standard)
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLong) {
				t.Fatalf("DecodeCall = %#v, %v; want ErrMalformed", call, err)
			}
			if !strings.Contains(err.Error(), c.phrase) {
				t.Errorf("error %q does not say %q", err, c.phrase)
			}
		})
	}
}

func TestDecodeStatusMalformed(t *testing.T) {
	for name, b := range map[string]Block{
		"call header":   {Header: HeaderCall, Records: []Record{{'7', "3"}}},
		"no status":     {Header: HeaderStatus, Records: []Record{{'1', "1001"}}},
		"status 9":      {Header: HeaderStatus, Records: []Record{{'1', "1"}, {'7', "9"}}},
		"status twice":  {Header: HeaderStatus, Records: []Record{{'7', "3"}, {'7', "6"}}},
		"empty address": {Header: HeaderStatus, Records: []Record{{'1', ""}, {'7', "3"}}},
	} {
		if s, err := DecodeStatus(b, Standard); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: DecodeStatus = %#v, %v; want ErrMalformed", name, s, err)
		}
	}
}

func TestEncodeCallInvalid(t *testing.T) {
	for name, c := range map[string]Call{
		"no address":       {},
		"control address":  {Address: "1\r"},
		"euro sign":        {Address: "1", Text: paging.NewPHI("5 \u20ac")},
		"CR in text":       {Address: "1", Text: paging.NewPHI("a\rb")},
		"not UTF-8":        {Address: "1", Text: paging.NewPHI("\xff")},
		"beep 10":          {Address: "1", Beep: 10},
		"type 5 std":       {Address: "1", Type: CallRemoteAck},
		"priority 4":       {Address: "1", Priority: 4},
		"long running no.": {Address: "1", Extra: nil, RunningNumber: strings.Repeat("1", 40)},
	} {
		if raw, err := c.Encode(Standard); err == nil {
			t.Errorf("%s: Encode = % x, want an error", name, raw)
		}
	}
	for name, s := range map[string]Status{
		"nothing":   {Address: "1"},
		"status 9":  {Address: "1", Call: 9},
		"system 10": {System: 10},
	} {
		if raw, err := s.Encode(Standard); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Encode = % x, %v; want ErrInvalid", name, raw, err)
		}
	}
}

func TestParseDialect(t *testing.T) {
	for s, want := range map[string]Dialect{"": Standard, "standard": Standard, "ascom": Ascom, "ericsson": Ascom} {
		if got, err := ParseDialect(s); err != nil || got != want {
			t.Errorf("ParseDialect(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseDialect("multitone"); err == nil {
		t.Error("ParseDialect(multitone) took it")
	}
}
