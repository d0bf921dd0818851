package paging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

const secret = "PATIENT-JANE-DOE-RM-412"

func TestPHINeverFormats(t *testing.T) {
	p := NewPHI(secret)
	outs := []string{
		fmt.Sprint(p), fmt.Sprintf("%v %+v %#v %s %q %x %X", p, p, p, p, p, p, p),
		fmt.Sprintf("%v", &p), fmt.Sprintf("%+v", Message{Text: p}), fmt.Sprintf("%#v", Message{Text: p}),
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("page", "text", p, "msg", Message{Text: p})
	slog.New(slog.NewTextHandler(&buf, nil)).Info("page", "text", p)
	outs = append(outs, buf.String())
	j, err := json.Marshal(struct {
		M Message
		P PHI
	}{Message{Text: p}, p})
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(j))
	for _, o := range outs {
		if strings.Contains(o, "JANE") || strings.Contains(o, fmt.Sprintf("%x", "JANE")) {
			t.Errorf("PHI leaked: %s", o)
		}
	}
	if p.Reveal() != secret || p.Len() != len(secret) || p.IsZero() {
		t.Error("Reveal/Len/IsZero")
	}
}

func TestMessageValidate(t *testing.T) {
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	good := func() Message {
		return Message{ID: NewID(at), Source: Source{Protocol: ProtocolWCTP}, PagerID: "1002",
			Text: NewPHI("call 4W"), Received: at}
	}
	m := good()
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(*Message){
		"no id":        func(m *Message) { m.ID = ID{} },
		"no protocol":  func(m *Message) { m.Source.Protocol = "" },
		"no pager id":  func(m *Message) { m.PagerID = "" },
		"long pager":   func(m *Message) { m.PagerID = strings.Repeat("1", MaxPagerIDLen+1) },
		"long ref":     func(m *Message) { m.SenderRef = strings.Repeat("r", MaxSenderRefLen+1) },
		"priority":     func(m *Message) { m.Priority = 9 },
		"long text":    func(m *Message) { m.Text = NewPHI(strings.Repeat("x", MaxTextLen+1)) },
		"invalid utf8": func(m *Message) { m.Text = NewPHI("\xff\xfe") },
		"no time":      func(m *Message) { m.Received = time.Time{} },
	}
	for name, mutate := range cases {
		m := good()
		mutate(&m)
		if err := m.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestPriorityText(t *testing.T) {
	for _, p := range []Priority{PriorityNormal, PriorityHigh, PriorityCritical} {
		b, err := p.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var q Priority
		if err := q.UnmarshalText(b); err != nil || q != p {
			t.Errorf("%v round trip: %v %v", p, q, err)
		}
	}
	if _, err := ParsePriority("urgent"); err == nil {
		t.Error("unknown priority accepted")
	}
	if _, err := Priority(7).MarshalText(); err == nil {
		t.Error("invalid priority marshalled")
	}
}

func TestIDsSortByTime(t *testing.T) {
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	prev := NewID(at)
	for i := 0; i < 1000; i++ {
		id := NewID(at)
		if id.Compare(prev) <= 0 {
			t.Fatalf("id %d not increasing", i)
		}
		prev = id
	}
	if got, err := ParseID(prev.String()); err != nil || got != prev {
		t.Errorf("ParseID: %v %v", got, err)
	}
}

func TestEndpointAndPagerIDValidate(t *testing.T) {
	bad := []Endpoint{{Channel: "fax", Address: "1"}, {Channel: ChannelSMS, Address: "0711234567"},
		{Channel: ChannelPager, Address: "1234"}, {Channel: ChannelApp},
		{Channel: ChannelPager, Address: "2097152", Via: "tx1", POCSAG: POCSAG{Rate: 1200, Function: 3, Kind: POCSAGAlpha}},
		{Channel: ChannelPager, Address: "12ab", Via: "tx1", POCSAG: POCSAG{Rate: 1200, Function: 3, Kind: POCSAGAlpha}},
		{Channel: ChannelPager, Address: "1234", Via: "tx1", POCSAG: POCSAG{Rate: 9600, Function: 3, Kind: POCSAGAlpha}},
		{Channel: ChannelPager, Address: "1234", Via: "tx1", POCSAG: POCSAG{Rate: 1200, Function: 4, Kind: POCSAGAlpha}},
		{Channel: ChannelPager, Address: "1234", Via: "tx1", POCSAG: POCSAG{Rate: 1200, Function: 0, Kind: "flex"}},
		{Channel: ChannelSMS, Address: "+4915112345678", POCSAG: POCSAG{Rate: 1200, Kind: POCSAGTone}}}
	for _, e := range bad {
		if e.Validate() == nil {
			t.Errorf("%+v accepted", e)
		}
	}
	good := []Endpoint{{Channel: ChannelSMS, Address: "+4915112345678"}, {Channel: ChannelPager, Address: "1234", Via: "term1"},
		{Channel: ChannelApp, Address: "dr-lee"},
		{Channel: ChannelPager, Address: "2097151", Via: "agent-1/tx1", POCSAG: POCSAG{Rate: 2400, Function: 0, Kind: POCSAGNumeric, Group: true}},
		{Channel: ChannelPager, Address: "0", Via: "tx1", POCSAG: POCSAG{Rate: 512, Function: 1, Kind: POCSAGTone}}}
	for _, e := range good {
		if err := e.Validate(); err != nil {
			t.Errorf("%+v: %v", e, err)
		}
	}
	p := PagerID{ID: "1002", Target: Target{Kind: TargetRole, ID: "cardiology"}}
	if err := p.Validate(); err != nil {
		t.Error(err)
	}
	p.Target.Kind = "ward"
	if p.Validate() == nil {
		t.Error("bad target kind accepted")
	}
	person := Person{ID: "x", Name: "X", Stage: "retired"}
	if person.Validate() == nil {
		t.Error("bad stage accepted")
	}
}
