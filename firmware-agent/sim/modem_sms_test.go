package sim

import (
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/pdumode"
	"github.com/warthog618/sms/encoding/tpdu"
)

const (
	ok   = "\r\nOK\r\n"
	errr = "\r\nERROR\r\n"
)

// fixedClock is the modem's clock in these tests, so that PDUs are the
// same every run.
func fixedClock() time.Time { return time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC) }

// runSteps feeds each step to a fresh responder whole and to another byte
// by byte, and compares the replies.
func runSteps(t *testing.T, opts ModemOptions, steps []step) {
	t.Helper()
	whole := NewModemResponder(opts)
	bytewise := NewModemResponder(opts)
	for _, s := range steps {
		if got := string(whole.Respond([]byte(s.in))); got != s.want {
			t.Errorf("Respond(%q) = %q, want %q", s.in, got, s.want)
		}
		if got := feedBytewise(bytewise, s.in); got != s.want {
			t.Errorf("Respond(%q) byte by byte = %q, want %q", s.in, got, s.want)
		}
	}
}

func TestModemResponderSMSCommands(t *testing.T) {
	t.Parallel()
	quiet := ModemOptions{NoEcho: true, Clock: fixedClock}
	locked := ModemOptions{NoEcho: true, SIMPIN: "1234", Clock: fixedClock}
	radioOff := []step{{"AT+CFUN=4\r", ok}}
	tests := []struct {
		name  string
		opts  ModemOptions
		steps []step
	}{
		{"CMGF", quiet, []step{
			{"AT+CMGF?\r", "\r\n+CMGF: 0\r\n" + ok},
			{"AT+CMGF=?\r", "\r\n+CMGF: (0)\r\n" + ok},
			{"AT+CMGF=0\r", ok},
			{"AT+CMGF=1\r", "\r\n+CMS ERROR: 303\r\n"},
			{"AT+CMGF=7\r", errr},
		}},
		{"CSMS", quiet, []step{
			{"AT+CSMS?\r", "\r\n+CSMS: 0,1,1,1\r\n" + ok},
			{"AT+CSMS=?\r", "\r\n+CSMS: (0,1)\r\n" + ok},
			{"AT+CSMS=1\r", "\r\n+CSMS: 1,1,1\r\n" + ok},
			{"AT+CSMS?\r", "\r\n+CSMS: 1,1,1,1\r\n" + ok},
			{"AT+CSMS=2\r", errr},
		}},
		{"CPMS", quiet, []step{
			{"AT+CPMS?\r", "\r\n+CPMS: \"SM\",0,30,\"SM\",0,30,\"SM\",0,30\r\n" + ok},
			{"AT+CPMS=?\r", "\r\n+CPMS: (\"SM\",\"ME\"),(\"SM\",\"ME\"),(\"SM\",\"ME\")\r\n" + ok},
			{"AT+CPMS=\"ME\"\r", "\r\n+CPMS: 0,100,0,30,0,30\r\n" + ok},
			{"AT+CPMS=\"ME\",\"ME\",\"ME\"\r", "\r\n+CPMS: 0,100,0,100,0,100\r\n" + ok},
			{"AT+CPMS?\r", "\r\n+CPMS: \"ME\",0,100,\"ME\",0,100,\"ME\",0,100\r\n" + ok},
			{"AT+CPMS=\"SR\"\r", "\r\n+CMS ERROR: 302\r\n"},
			{"AT+CPMS=\"SM\",\"SM\",\"SM\",\"SM\"\r", "\r\n+CMS ERROR: 302\r\n"},
		}},
		{"CPMS capacities", ModemOptions{NoEcho: true, SMCapacity: 5, MECapacity: 7}, []step{
			{"AT+CPMS=\"SM\",\"ME\"\r", "\r\n+CPMS: 0,5,0,7,0,5\r\n" + ok},
		}},
		{"CNMI", quiet, []step{
			{"AT+CNMI?\r", "\r\n+CNMI: 0,0,0,0,0\r\n" + ok},
			{"AT+CNMI=?\r", "\r\n+CNMI: (0-3),(0-3),(0,2),(0-2),(0,1)\r\n" + ok},
			{"AT+CNMI=2,1,0,2,0\r", ok},
			{"AT+CNMI?\r", "\r\n+CNMI: 2,1,0,2,0\r\n" + ok},
			{"AT+CNMI=1,2\r", ok},
			{"AT+CNMI?\r", "\r\n+CNMI: 1,2,0,2,0\r\n" + ok},
			{"AT+CNMI=4\r", "\r\n+CMS ERROR: 303\r\n"},
			{"AT+CNMI=2,1,1\r", "\r\n+CMS ERROR: 303\r\n"},
			{"AT+CNMI=2,1,0,3\r", "\r\n+CMS ERROR: 303\r\n"},
			{"AT+CNMI=x\r", "\r\n+CMS ERROR: 303\r\n"},
		}},
		{"CSCA", quiet, []step{
			{"AT+CSCA?\r", "\r\n+CSCA: \"+491710760000\",145\r\n" + ok},
			{"AT+CSCA=\"+447785016005\",145\r", ok},
			{"AT+CSCA?\r", "\r\n+CSCA: \"+447785016005\",145\r\n" + ok},
			{"AT+CSCA=\"01710760000\"\r", ok},
			{"AT+CSCA?\r", "\r\n+CSCA: \"01710760000\",129\r\n" + ok},
			{"AT+CSCA=\"nope\"\r", "\r\n+CMS ERROR: 302\r\n"},
		}},
		{"CSCS", quiet, []step{
			{"AT+CSCS?\r", "\r\n+CSCS: \"GSM\"\r\n" + ok},
			{"AT+CSCS=?\r", "\r\n+CSCS: (\"GSM\",\"IRA\",\"UCS2\")\r\n" + ok},
			{"AT+CSCS=\"UCS2\"\r", ok},
			{"AT+CSCS=\"KOI8\"\r", errr},
		}},
		{"network", quiet, []step{
			{"AT+CGATT?\r", "\r\n+CGATT: 1\r\n" + ok},
			{"AT+COPS?\r", "\r\n+COPS: 0,0,\"Pagebridge\"\r\n" + ok},
			{"AT+COPS=3,2\r", ok},
			{"AT+COPS?\r", "\r\n+COPS: 0,2,\"26201\"\r\n" + ok},
			{"AT+COPS=?\r", "\r\n+COPS: (2,\"Pagebridge\",\"Pagebridge\",\"26201\"),,(0-4),(0-2)\r\n" + ok},
			{"AT+CGREG?\r", "\r\n+CGREG: 0,1\r\n" + ok},
			{"AT+CEREG?\r", "\r\n+CEREG: 0,1\r\n" + ok},
			{"AT+GCAP\r", "\r\n+GCAP: +CGSM,+FCLASS,+DS\r\n" + ok},
			{"AT+CFUN?\r", "\r\n+CFUN: 1\r\n" + ok},
		}},
		{"radio off", quiet, append(radioOff,
			step{"AT+CFUN?\r", "\r\n+CFUN: 4\r\n" + ok},
			step{"AT+CREG?\r", "\r\n+CREG: 0,0\r\n" + ok},
			step{"AT+COPS?\r", "\r\n+COPS: 0\r\n" + ok},
			step{"AT+CGATT?\r", "\r\n+CGATT: 0\r\n" + ok},
			step{"AT+CFUN=1\r", ok},
			step{"AT+CREG?\r", "\r\n+CREG: 0,1\r\n" + ok},
		)},
		{"not registered", ModemOptions{NoEcho: true, Registration: RegDenied}, []step{
			{"AT+COPS?\r", "\r\n+COPS: 0\r\n" + ok},
			{"AT+CREG?\r", "\r\n+CREG: 0,3\r\n" + ok},
		}},
		{"SIM locked", locked, []step{
			{"AT+CPMS?\r", "\r\n+CMS ERROR: 311\r\n"},
			{"AT+CMGL=4\r", "\r\n+CMS ERROR: 311\r\n"},
			{"AT+CMGS=20\r", "\r\n+CMS ERROR: 311\r\n"},
			{"AT+CSCA?\r", "\r\n+CMS ERROR: 311\r\n"},
			{"AT+CMGF=0\r", ok},
			{"AT+CPIN=\"1234\"\r", ok},
			{"AT+CPMS?\r", "\r\n+CPMS: \"SM\",0,30,\"SM\",0,30,\"SM\",0,30\r\n" + ok},
		}},
		{"CMS errors verbose", quiet, []step{
			{"AT+CMEE=2\r", ok},
			{"AT+CNMA\r", "\r\n+CMS ERROR: no +CNMA acknowledgement expected\r\n"},
			{"AT+CMGR=99\r", "\r\n+CMS ERROR: invalid memory index\r\n"},
			{"AT+CMEE=1\r", ok},
			{"AT+CNMA\r", "\r\n+CMS ERROR: 340\r\n"},
		}},
		{"storage commands, empty", quiet, []step{
			{"AT+CMGL=4\r", ok},
			{"AT+CMGL\r", ok},
			{"AT+CMGL=?\r", "\r\n+CMGL: (0-4)\r\n" + ok},
			{"AT+CMGL=5\r", "\r\n+CMS ERROR: 304\r\n"},
			{"AT+CMGL=\"ALL\"\r", "\r\n+CMS ERROR: 304\r\n"},
			{"AT+CMGR=1\r", "\r\n+CMS ERROR: 321\r\n"},
			{"AT+CMGR=0\r", "\r\n+CMS ERROR: 321\r\n"},
			{"AT+CMGR=31\r", "\r\n+CMS ERROR: 321\r\n"},
			{"AT+CMGD=1\r", ok},
			{"AT+CMGD=31\r", "\r\n+CMS ERROR: 321\r\n"},
			{"AT+CMGD=1,4\r", ok},
			{"AT+CMGD=1,5\r", "\r\n+CMS ERROR: 302\r\n"},
			{"AT+CMGD=?\r", "\r\n+CMGD: (),(0-4)\r\n" + ok},
		}},
		{"CMGS bad length", quiet, []step{
			{"AT+CMGS=0\r", "\r\n+CMS ERROR: 304\r\n"},
			{"AT+CMGS=165\r", "\r\n+CMS ERROR: 304\r\n"},
			{"AT+CMGS\r", "\r\n+CMS ERROR: 304\r\n"},
			{"AT+CMGS=\"+4917012345\"\r", "\r\n+CMS ERROR: 304\r\n"},
		}},
		{"CMGS ESC aborts", quiet, []step{
			{"AT+CMGS=20\r", "\r\n> "},
			{"0011000A\x1b", ok},
			{"AT\r", ok},
		}},
		{"CMGS echoes the PDU, not Ctrl-Z or ESC", ModemOptions{}, []step{
			{"AT+CMGS=20\r", "AT+CMGS=20\r\r\n> "},
			{"00\r\n11\x1b", "00\r\n11" + ok},
		}},
		{"CMGS then commands chained after it are dropped", quiet, []step{
			{"AT+CSQ;+CMGS=20;+CGMI\r", "\r\n+CSQ: 20,99\r\n\r\n> "},
			{"\x1b", ok},
		}},
		{"init of Kannel", quiet, []step{
			{"ATZ\r", ok}, {"AT\r", ok}, {"AT&F\r", ok}, {"ATE0\r", ok},
			{"AT+CPIN?\r", "\r\n+CPIN: READY\r\n" + ok},
			{"AT+CMGF=0\r", ok},
			{"AT+CSMS=?\r", "\r\n+CSMS: (0,1)\r\n" + ok},
			{"AT+CNMI=2,1,0,1,0;+CMEE=1\r", ok},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			runSteps(t, tt.opts, tt.steps)
		})
	}
}

// submitPDU builds what a driver sends after AT+CMGS=n: the PDU in hex
// (SMSC octet 00, or smsc) and n, the TPDU length; one per part.
func submitPDU(t *testing.T, to string, ton tpdu.TypeOfNumber, text string, srr bool, smsc string) (hexes []string, ns []int) {
	t.Helper()
	tmpl, _ := tpdu.NewSubmit()
	if srr {
		tmpl.FirstOctet |= tpdu.FoSRR
	}
	da := tpdu.NewAddress()
	da.SetTypeOfNumber(ton)
	da.SetNumberingPlan(tpdu.NpISDN)
	da.Addr = to
	enc := sms.NewEncoder(sms.WithTemplate(*tmpl))
	tps, err := enc.Encode([]byte(text), sms.WithTemplateOption(tpdu.WithDA(da)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range tps {
		b, err := tp.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		p := pdumode.PDU{TPDU: b}
		if smsc != "" {
			p.SMSC.Address = tpdu.NewAddress()
			p.SMSC.SetNumber(smsc)
		}
		h, err := p.MarshalHexString()
		if err != nil {
			t.Fatal(err)
		}
		hexes = append(hexes, strings.ToUpper(h))
		ns = append(ns, len(b))
	}
	return hexes, ns
}

// recordingModem is a responder with its sent messages recorded.
func recordingModem(opts ModemOptions) (*ModemResponder, *[]SentMessage) {
	var sent []SentMessage
	opts.OnMessage = func(m SentMessage) { sent = append(sent, m) }
	if opts.Clock == nil {
		opts.Clock = fixedClock
	}
	return NewModemResponder(opts), &sent
}

func send(t *testing.T, r *ModemResponder, hexPDU string, n int) string {
	t.Helper()
	out := string(r.Respond(fmt.Appendf(nil, "AT+CMGS=%d\r", n)))
	return out + string(r.Respond([]byte(hexPDU+"\x1a")))
}

func TestModemResponderSend(t *testing.T) {
	t.Parallel()
	r, sent := recordingModem(ModemOptions{NoEcho: true})
	hexes, ns := submitPDU(t, "4917012345", tpdu.TonInternational, "CODE BLUE 4W Rm 412", true, "")
	if got := send(t, r, hexes[0], ns[0]); got != "\r\n> \r\n+CMGS: 1\r\n"+ok {
		t.Errorf("send: %q", got)
	}
	// A long UCS-2 text to a national number, with the SMSC in the PDU
	// and no report asked for: two parts, references 2 and 3.
	long := strings.Repeat("Ärztin Çağrı 4W ж ", 6)
	hexes2, ns2 := submitPDU(t, "017012345", tpdu.TonUnknown, long, false, "+447785016005")
	if len(hexes2) != 2 {
		t.Fatalf("%d parts, want 2", len(hexes2))
	}
	for i := range hexes2 {
		if got, want := send(t, r, strings.ToLower(hexes2[i]), ns2[i]), fmt.Sprintf("\r\n> \r\n+CMGS: %d\r\n%s", i+2, ok); got != want {
			t.Errorf("part %d: %q, want %q", i+1, got, want)
		}
	}
	if len(*sent) != 3 {
		t.Fatalf("recorded %d messages, want 3", len(*sent))
	}
	m := (*sent)[0]
	if m.MR != 1 || m.To != "4917012345" || m.TON != 1 || m.NPI != 1 || m.Number() != "+4917012345" || m.Text != "CODE BLUE 4W Rm 412" ||
		!m.SRR || m.SMSC != "" || m.Concat != (Concat{}) || hex.EncodeToString(m.PDU) != strings.ToLower(hexes[0]) || m.DCS != 0 {
		t.Errorf("first message recorded as %+v", m)
	}
	p1, p2 := (*sent)[1], (*sent)[2]
	if p1.To != "017012345" || p1.TON != 0 || p1.Number() != "017012345" || p1.SRR || p1.SMSC != "+447785016005" || p1.DCS != 0x08 ||
		p1.Concat.Total != 2 || p1.Concat.Seq != 1 || p2.Concat.Seq != 2 || p1.Concat.Ref != p2.Concat.Ref {
		t.Errorf("long message parts recorded as %+v, %+v", p1, p2)
	}
	joined := JoinParts(*sent)
	if len(joined) != 2 || joined[0].Text != m.Text || joined[1].Text != long || joined[1].MR != 2 {
		t.Errorf("JoinParts: %+v", joined)
	}
}

func TestModemResponderSendRefused(t *testing.T) {
	t.Parallel()
	hexes, ns := submitPDU(t, "4917012345", tpdu.TonInternational, "page", false, "")
	good, n := hexes[0], ns[0]
	tests := []struct {
		name string
		opts ModemOptions
		pre  []string // lines before the send
		hex  string
		n    int
		want string
	}{
		{"not hex", ModemOptions{}, nil, "00ZZ", n, "\r\n+CMS ERROR: 304\r\n"},
		{"odd length", ModemOptions{}, nil, good + "0", n, "\r\n+CMS ERROR: 304\r\n"},
		{"length one short", ModemOptions{}, nil, good, n - 1, "\r\n+CMS ERROR: 304\r\n"},
		{"length one long", ModemOptions{}, nil, good, n + 1, "\r\n+CMS ERROR: 304\r\n"},
		{"truncated", ModemOptions{}, nil, good[:len(good)-2], n - 1, "\r\n+CMS ERROR: 304\r\n"},
		{"empty", ModemOptions{}, nil, "", n, "\r\n+CMS ERROR: 304\r\n"},
		{"a DELIVER, not a SUBMIT", ModemOptions{}, nil, "00040B911234567890F0000062114120000000" + "00", 19, "\r\n+CMS ERROR: 304\r\n"},
		{"too long", ModemOptions{}, nil, strings.Repeat("00", 200), n, "\r\n+CMS ERROR: 304\r\n"},
		{"verbose", ModemOptions{}, []string{"AT+CMEE=2"}, "00ZZ", n, "\r\n+CMS ERROR: invalid PDU mode parameter\r\n"},
		{"no network", ModemOptions{Registration: RegSearching}, nil, good, n, "\r\n+CMS ERROR: 331\r\n"},
		{"radio off", ModemOptions{}, []string{"AT+CFUN=0"}, good, n, "\r\n+CMS ERROR: 331\r\n"},
		{"no SMSC anywhere", ModemOptions{}, []string{`AT+CSCA=""`}, good, n, "\r\n+CMS ERROR: 330\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.opts.NoEcho = true
			r, sent := recordingModem(tt.opts)
			for _, l := range tt.pre {
				if got := string(r.Respond([]byte(l + "\r"))); got != ok {
					t.Fatalf("%s: %q", l, got)
				}
			}
			if got := send(t, r, tt.hex, tt.n); got != "\r\n> "+tt.want {
				t.Errorf("send: %q, want %q", got, "\r\n> "+tt.want)
			}
			if len(*sent) != 0 {
				t.Errorf("recorded %+v", *sent)
			}
			// The modem is back in command mode, and the next good send
			// gets the first reference.
			r.Respond([]byte("AT+CFUN=1;+CSCA=\"+491710760000\"\r"))
			if got := send(t, r, good, n); tt.opts.Registration == RegHome && got != "\r\n> \r\n+CMGS: 1\r\n"+ok {
				t.Errorf("good send after: %q", got)
			}
		})
	}
}

// decodeURCs finds every +CMT and +CDS in out and decodes its PDU with
// warthog618/sms, checking the announced length.
func decodeURCs(t *testing.T, out string) (cmt, cds []*tpdu.TPDU) {
	t.Helper()
	re := regexp.MustCompile(`\r\n\+(CMT: ,|CDS: )(\d+)\r\n([0-9A-F]+)\r\n`)
	for _, m := range re.FindAllStringSubmatch(out, -1) {
		p, err := pdumode.UnmarshalHexString(m[3])
		if err != nil {
			t.Fatalf("%q: %v", m[0], err)
		}
		if n, _ := strconv.Atoi(m[2]); n != len(p.TPDU) {
			t.Errorf("%q announces %d octets, TPDU has %d", m[0], n, len(p.TPDU))
		}
		if p.SMSC.Number() != "+491710760000" || p.SMSC.TOA != 0x91 {
			t.Errorf("%q: SMSC %q TOA %#x", m[0], p.SMSC.Number(), p.SMSC.TOA)
		}
		tp, err := sms.Unmarshal(p.TPDU)
		if err != nil {
			t.Fatalf("%q: %v", m[0], err)
		}
		if m[1] == "CDS: " {
			cds = append(cds, tp)
		} else {
			cmt = append(cmt, tp)
		}
	}
	return cmt, cds
}

// Routed messages (+CMT) decode with warthog618/sms: sender, type of
// number, time stamp, text, and the parts of a long one joined.
func TestModemResponderInboundRouted(t *testing.T) {
	t.Parallel()
	r, _ := recordingModem(ModemOptions{NoEcho: true})
	if got := string(r.Respond([]byte("AT+CSMS=1;+CNMI=2,2,0,1,0\r"))); got != "\r\n+CSMS: 1,1,1\r\n"+ok {
		t.Fatalf("setup: %q", got)
	}
	long := strings.Repeat("Rückruf bitte, 4W. ", 12)
	inbound := []struct {
		from      string
		ton       tpdu.TypeOfNumber
		number    string
		text      string
		wantParts int
	}{
		{"+4917012345", tpdu.TonInternational, "+4917012345", "ACK", 1},
		{"017012345", tpdu.TonUnknown, "017012345", long, 2},
		{"Pagebridge", tpdu.TonAlphanumeric, "Pagebridge", "Привет", 1},
		{"112", tpdu.TonUnknown, "112", "", 1},
	}
	for _, in := range inbound {
		out, parts, err := r.Deliver(Inbound{From: in.from, Text: in.text})
		if err != nil || parts != in.wantParts {
			t.Fatalf("Deliver(%q): %d parts, %v", in.from, parts, err)
		}
		cmt, _ := decodeURCs(t, string(out))
		if len(cmt) != parts || strings.Count(string(out), "+CMT:") != parts {
			t.Fatalf("Deliver(%q): %q", in.from, out)
		}
		for _, tp := range cmt {
			if tp.SmsType() != tpdu.SmsDeliver || tp.OA.Number() != in.number || tp.OA.TypeOfNumber() != in.ton || !tp.SCTS.Equal(fixedClock()) {
				t.Errorf("Deliver(%q): %v from %q TON %d at %v", in.from, tp.SmsType(), tp.OA.Number(), tp.OA.TypeOfNumber(), tp.SCTS)
			}
		}
		if parts > 1 && !sms.IsCompleteMessage(cmt) {
			t.Errorf("Deliver(%q): parts do not make a message", in.from)
		}
		text, err := sms.Decode(cmt)
		if err != nil || string(text) != in.text {
			t.Errorf("Deliver(%q): text %q, %v; want %q", in.from, text, err, in.text)
		}
	}
	// Each routed message owes an AT+CNMA: five parts, five acks.
	for i := range 5 {
		if got := string(r.Respond([]byte("AT+CNMA\r"))); got != ok {
			t.Errorf("ack %d: %q", i+1, got)
		}
	}
	if got := string(r.Respond([]byte("AT+CNMA\r"))); got != "\r\n+CMS ERROR: 340\r\n" {
		t.Errorf("ack too many: %q", got)
	}
	// Two long messages get different concatenation references.
	out1, _, _ := r.Deliver(Inbound{From: "+49", Text: long})
	out2, _, _ := r.Deliver(Inbound{From: "+49", Text: long})
	c1, _ := decodeURCs(t, string(out1))
	c2, _ := decodeURCs(t, string(out2))
	_, _, ref1, _ := c1[0].ConcatInfo()
	_, _, ref2, _ := c2[0].ConcatInfo()
	if ref1 == ref2 {
		t.Errorf("two long messages share concatenation reference %d", ref1)
	}
	if _, _, err := r.Deliver(Inbound{From: "not a number at all", Text: "x"}); !errors.Is(err, ErrBadAddress) {
		t.Errorf("Deliver from a bad address: %v", err)
	}
}

// Stored messages: +CMTI per part, listed, read (unread becomes read),
// deleted; memory full refuses the whole message.
func TestModemResponderStorage(t *testing.T) {
	t.Parallel()
	r, _ := recordingModem(ModemOptions{NoEcho: true, SMCapacity: 3})
	// CNMI 0,0: stored silently.
	if out, n, err := r.Deliver(Inbound{From: "+4917012345", Text: "first"}); err != nil || n != 1 || len(out) != 0 {
		t.Fatalf("silent Deliver: %q %d %v", out, n, err)
	}
	r.Respond([]byte("AT+CNMI=2,1,0,0,0\r"))
	long := strings.Repeat("x", 200)
	out, n, err := r.Deliver(Inbound{From: "+4917012345", Text: long})
	if err != nil || n != 2 || string(out) != "\r\n+CMTI: \"SM\",2\r\n\r\n+CMTI: \"SM\",3\r\n" {
		t.Fatalf("Deliver: %q %d %v", out, n, err)
	}
	if got := string(r.Respond([]byte("AT+CPMS?\r"))); got != "\r\n+CPMS: \"SM\",3,3,\"SM\",3,3,\"SM\",3,3\r\n"+ok {
		t.Errorf("CPMS: %q", got)
	}
	if _, _, err := r.Deliver(Inbound{From: "+4917012345", Text: "no room"}); !errors.Is(err, ErrMemoryFull) {
		t.Errorf("Deliver into a full memory: %v", err)
	}

	list := string(r.Respond([]byte("AT+CMGL=0\r")))
	re := regexp.MustCompile(`^\r\n\+CMGL: 1,0,,(\d+)\r\n([0-9A-F]+)\r\n\+CMGL: 2,0,,(\d+)\r\n([0-9A-F]+)\r\n\+CMGL: 3,0,,(\d+)\r\n([0-9A-F]+)\r\n\r\nOK\r\n$`)
	m := re.FindStringSubmatch(list)
	if m == nil {
		t.Fatalf("CMGL=0: %q", list)
	}
	var tps []*tpdu.TPDU
	for i := 1; i < len(m); i += 2 {
		p, err := pdumode.UnmarshalHexString(m[i+1])
		if err != nil || strconv.Itoa(len(p.TPDU)) != m[i] {
			t.Fatalf("entry %q: %v", m[i+1], err)
		}
		tp, err := sms.Unmarshal(p.TPDU)
		if err != nil {
			t.Fatal(err)
		}
		tps = append(tps, tp)
	}
	if text, _ := sms.Decode(tps[:1]); string(text) != "first" {
		t.Errorf("first message %q", text)
	}
	if text, _ := sms.Decode(tps[1:]); string(text) != long {
		t.Errorf("long message %q", text)
	}
	// Listed unread, now read: CMGL=0 is empty, CMGL=1 has them all.
	if got := string(r.Respond([]byte("AT+CMGL=0\r"))); got != ok {
		t.Errorf("CMGL=0 again: %q", got)
	}
	if got := string(r.Respond([]byte("AT+CMGL=1\r"))); strings.Count(got, "+CMGL: ") != 3 {
		t.Errorf("CMGL=1: %q", got)
	}
	read := string(r.Respond([]byte("AT+CMGR=1\r")))
	if !strings.HasPrefix(read, "\r\n+CMGR: 1,,") || !strings.Contains(list, strings.TrimSuffix(strings.TrimPrefix(read, "\r\n+CMGR: 1,,"), ok)) {
		t.Errorf("CMGR=1: %q", read)
	}
	if got := string(r.Respond([]byte("AT+CMGD=1\r"))); got != ok {
		t.Errorf("CMGD=1: %q", got)
	}
	if got := string(r.Respond([]byte("AT+CMGR=1\r"))); got != "\r\n+CMS ERROR: 321\r\n" {
		t.Errorf("CMGR of a deleted message: %q", got)
	}
	if got := string(r.Respond([]byte("AT+CMGD=?\r"))); got != "\r\n+CMGD: (2,3),(0-4)\r\n"+ok {
		t.Errorf("CMGD=?: %q", got)
	}
	// A new message goes into the free slot, unread; delflag 1 deletes
	// the read ones and keeps it.
	if out, _, _ := r.Deliver(Inbound{From: "+4917012345", Text: "new"}); string(out) != "\r\n+CMTI: \"SM\",1\r\n" {
		t.Errorf("Deliver into the free slot: %q", out)
	}
	r.Respond([]byte("AT+CMGD=1,1\r"))
	if got := string(r.Respond([]byte("AT+CMGL=4\r"))); !strings.HasPrefix(got, "\r\n+CMGL: 1,0,,") || strings.Count(got, "+CMGL:") != 1 {
		t.Errorf("after CMGD=1,1: %q", got)
	}
	r.Respond([]byte("AT+CMGD=0,4\r"))
	if got := string(r.Respond([]byte("AT+CMGL=4\r"))); got != ok {
		t.Errorf("after CMGD=0,4: %q", got)
	}
	// mem3 "ME" receives into the modem's memory, mem1 "SM" does not see it.
	r.Respond([]byte("AT+CPMS=\"SM\",\"SM\",\"ME\"\r"))
	if out, _, _ := r.Deliver(Inbound{From: "+4917012345", Text: "to ME"}); string(out) != "\r\n+CMTI: \"ME\",1\r\n" {
		t.Errorf("Deliver into ME: %q", out)
	}
	if got := string(r.Respond([]byte("AT+CMGL=4\r"))); got != ok {
		t.Errorf("CMGL on SM: %q", got)
	}
	r.Respond([]byte("AT+CPMS=\"ME\"\r"))
	if got := string(r.Respond([]byte("AT+CMGL=4\r"))); !strings.HasPrefix(got, "\r\n+CMGL: 1,0,,") {
		t.Errorf("CMGL on ME: %q", got)
	}
}

// Storage survives AT+CFUN=1,1; CNMI does not.
func TestModemResponderStorageSurvivesReboot(t *testing.T) {
	t.Parallel()
	r, _ := recordingModem(ModemOptions{NoEcho: true})
	r.Respond([]byte("AT+CNMI=2,1\r"))
	r.Deliver(Inbound{From: "+4917012345", Text: "kept"})
	if got := string(r.Respond([]byte("AT+CFUN=1,1\r"))); got != ok {
		t.Fatalf("reboot: %q", got)
	}
	steps := []step{
		{"AT+CNMI?\r", "\r\n+CNMI: 0,0,0,0,0\r\n" + ok},
		{"AT+CPMS?\r", "\r\n+CPMS: \"SM\",1,30,\"SM\",1,30,\"SM\",1,30\r\n" + ok},
	}
	for _, s := range steps {
		if got := string(r.Respond([]byte(s.in))); got != s.want {
			t.Errorf("%q: %q, want %q", s.in, got, s.want)
		}
	}
}

func TestModemResponderStatusReports(t *testing.T) {
	t.Parallel()
	hexes, ns := submitPDU(t, "4917012345", tpdu.TonInternational, "page", true, "")
	noSRR, noSRRn := submitPDU(t, "4917012345", tpdu.TonInternational, "page", false, "")
	const sent = "\r\n> \r\n+CMGS: 1\r\n" + ok

	t.Run("routed +CDS", func(t *testing.T) {
		t.Parallel()
		r, _ := recordingModem(ModemOptions{NoEcho: true})
		r.Respond([]byte("AT+CSMS=1;+CNMI=2,1,0,1,0\r"))
		out := send(t, r, hexes[0], ns[0])
		if !strings.HasPrefix(out, sent+"\r\n+CDS: ") {
			t.Fatalf("send: %q", out)
		}
		_, cds := decodeURCs(t, out)
		if len(cds) != 1 {
			t.Fatalf("reports in %q", out)
		}
		sr := cds[0]
		if sr.SmsType() != tpdu.SmsStatusReport || sr.MR != 1 || sr.RA.Number() != "+4917012345" || sr.ST != byte(ReportDelivered) ||
			!sr.SCTS.Equal(fixedClock()) || !sr.DT.Equal(fixedClock()) {
			t.Errorf("report %v MR %d RA %q ST %#x SCTS %v DT %v", sr.SmsType(), sr.MR, sr.RA.Number(), sr.ST, sr.SCTS, sr.DT)
		}
		if got := string(r.Respond([]byte("AT+CNMA\r"))); got != ok {
			t.Errorf("CNMA: %q", got)
		}
	})
	t.Run("stored +CDSI", func(t *testing.T) {
		t.Parallel()
		r, _ := recordingModem(ModemOptions{NoEcho: true})
		r.Respond([]byte("AT+CNMI=2,1,0,2,0\r"))
		if out := send(t, r, hexes[0], ns[0]); out != sent+"\r\n+CDSI: \"SM\",1\r\n" {
			t.Fatalf("send: %q", out)
		}
		read := string(r.Respond([]byte("AT+CMGR=1\r")))
		m := regexp.MustCompile(`^\r\n\+CMGR: 0,,(\d+)\r\n([0-9A-F]+)\r\n\r\nOK\r\n$`).FindStringSubmatch(read)
		if m == nil {
			t.Fatalf("CMGR=1: %q", read)
		}
		p, err := pdumode.UnmarshalHexString(m[2])
		if err != nil {
			t.Fatal(err)
		}
		sr, err := sms.Unmarshal(p.TPDU)
		if err != nil || sr.SmsType() != tpdu.SmsStatusReport || sr.MR != 1 {
			t.Errorf("stored report: %+v, %v", sr, err)
		}
	})
	t.Run("not routed with ds 0", func(t *testing.T) {
		t.Parallel()
		r, _ := recordingModem(ModemOptions{NoEcho: true})
		r.Respond([]byte("AT+CNMI=2,1,0,0,0\r"))
		if out := send(t, r, hexes[0], ns[0]); out != sent {
			t.Errorf("send: %q", out)
		}
	})
	t.Run("none without SRR", func(t *testing.T) {
		t.Parallel()
		r, _ := recordingModem(ModemOptions{NoEcho: true})
		r.Respond([]byte("AT+CNMI=2,1,0,1,0\r"))
		if out := send(t, r, noSRR[0], noSRRn[0]); out != sent {
			t.Errorf("send: %q", out)
		}
		if _, err := r.Report(1, ReportDelivered); !errors.Is(err, ErrNoReportRequested) {
			t.Errorf("Report without SRR: %v", err)
		}
	})
	t.Run("after ReportDelay, status chosen", func(t *testing.T) {
		t.Parallel()
		r, _ := recordingModem(ModemOptions{NoEcho: true, ReportDelay: 5 * time.Second,
			ReportStatus: func(SentMessage) ReportStatus { return ReportFailed }})
		r.Respond([]byte("AT+CNMI=2,1,0,1,0\r"))
		if out := send(t, r, hexes[0], ns[0]); out != sent {
			t.Errorf("send: %q", out)
		}
		if d, ok := r.Next(); !ok || d != 5*time.Second {
			t.Errorf("Next() = %v, %v; want 5s", d, ok)
		}
		if out := r.Advance(5*time.Second - 1); len(out) != 0 {
			t.Errorf("report early: %q", out)
		}
		_, cds := decodeURCs(t, string(r.Advance(1)))
		if len(cds) != 1 || cds[0].ST != byte(ReportFailed) {
			t.Errorf("reports %+v", cds)
		}
	})
	t.Run("manual", func(t *testing.T) {
		t.Parallel()
		r, _ := recordingModem(ModemOptions{NoEcho: true, ManualReports: true})
		r.Respond([]byte("AT+CNMI=2,1,0,1,0\r"))
		if out := send(t, r, hexes[0], ns[0]); out != sent {
			t.Errorf("send: %q", out)
		}
		if _, ok := r.Next(); ok {
			t.Error("a report is owed with ManualReports")
		}
		out, err := r.Report(1, ReportPending)
		_, cds := decodeURCs(t, string(out))
		if err != nil || len(cds) != 1 || cds[0].ST != byte(ReportPending) || cds[0].MR != 1 {
			t.Errorf("Report: %q, %v", out, err)
		}
		if _, err := r.Report(2, ReportDelivered); !errors.Is(err, ErrUnknownMR) {
			t.Errorf("Report of an unknown MR: %v", err)
		}
	})
	t.Run("buffered in CNMI mode 0 until mode 2", func(t *testing.T) {
		t.Parallel()
		r, _ := recordingModem(ModemOptions{NoEcho: true})
		r.Respond([]byte("AT+CNMI=0,1,0,1,0\r"))
		if out := send(t, r, hexes[0], ns[0]); out != sent {
			t.Errorf("send: %q", out)
		}
		out := string(r.Respond([]byte("AT+CNMI=2,1,0,1,0\r")))
		if _, cds := decodeURCs(t, out); !strings.HasPrefix(out, ok) || len(cds) != 1 {
			t.Errorf("CNMI=2: %q", out)
		}
		r.Respond([]byte("AT+CNMI=0,1,0,1,0\r"))
		send(t, r, hexes[0], ns[0])
		if out := string(r.Respond([]byte("AT+CNMI=2,1,0,1,1\r"))); out != ok {
			t.Errorf("CNMI=…,1 should clear the buffer: %q", out)
		}
	})
}
