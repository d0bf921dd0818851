package sim

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"pagebridge/firmware-agent/tap"
	"pagebridge/gateway/paging"
)

// step is one chunk fed to a responder and the exact reply expected.
type step struct{ in, want string }

func TestModemResponder(t *testing.T) {
	t.Parallel()
	quiet := ModemOptions{NoEcho: true}
	locked := ModemOptions{NoEcho: true, SIMPIN: "1234"}
	const ok = "\r\nOK\r\n"
	const errr = "\r\nERROR\r\n"
	tests := []struct {
		name  string
		opts  ModemOptions
		steps []step
	}{
		{"AT with echo", ModemOptions{}, []step{{"AT\r", "AT\r" + ok}}},
		{"AT without echo", quiet, []step{{"AT\r", ok}}},
		{"lower case", quiet, []step{{"at\r", ok}}},
		{"CR LF answered once", quiet, []step{{"AT\r\n", ok}}},
		{"LF alone ends a command", quiet, []step{{"AT\n", ok}}},
		{"CR CR is two lines, one empty", quiet, []step{{"AT\r\r", ok}}},
		{"ATE0 echoes itself, then stops", ModemOptions{}, []step{{"ATE0\r", "ATE0\r" + ok}, {"AT\r", ok}}},
		{"ATE1 turns echo on", quiet, []step{{"ATE1\r", ok}, {"AT\r", "AT\r" + ok}}},
		{"echo includes the LF", ModemOptions{}, []step{{"AT\r\n", "AT\r" + ok + "\n"}}},
		{"garbage line ignored", quiet, []step{{"hello\r", ""}}},
		{"text before AT ignored", quiet, []step{{"\x1bAT\r", ok}}},
		{"backspace", quiet, []step{{"ATX\x08\r", ok}}},
		{"ATZ restores echo", quiet, []step{{"ATE1\r", ok}, {"ATE0\r", "ATE0\r" + ok}, {"ATZ\r", ok}, {"AT\r", ok}}},
		{"basic commands chained", quiet, []step{{"ATE0V1Q0\r", ok}}},
		{"unknown command", quiet, []step{{"AT+MODE=2\r", errr}}},
		{"unknown command CMEE=1", quiet, []step{{"AT+CMEE=1\r", ok}, {"AT+MODE=2\r", "\r\n+CME ERROR: 4\r\n"}}},
		{"unknown command CMEE=2", quiet, []step{{"AT+CMEE=2\r", ok}, {"AT+MODE=2\r", "\r\n+CME ERROR: operation not supported\r\n"}}},
		{"unknown basic command", quiet, []step{{"ATX1\r", errr}}},
		{"CMEE read", quiet, []step{{"AT+CMEE=1\r", ok}, {"AT+CMEE?\r", "\r\n+CMEE: 1\r\n" + ok}}},
		{"bad CMEE value", quiet, []step{{"AT+CMEE=7\r", errr}}},
		{"CPIN ready", quiet, []step{{"AT+CPIN?\r", "\r\n+CPIN: READY\r\n" + ok}}},
		{"CPIN locked, unlocked", locked, []step{
			{"AT+CPIN?\r", "\r\n+CPIN: SIM PIN\r\n" + ok},
			{"AT+CPIN=\"1234\"\r", ok},
			{"AT+CPIN?\r", "\r\n+CPIN: READY\r\n" + ok},
		}},
		{"CPIN unquoted", locked, []step{{"AT+CPIN=1234\r", ok}}},
		{"CPIN wrong", locked, []step{{"AT+CMEE=1\r", ok}, {"AT+CPIN=\"0000\"\r", "\r\n+CME ERROR: 16\r\n"}, {"AT+CPIN?\r", "\r\n+CPIN: SIM PIN\r\n" + ok}}},
		{"CPIN when ready", quiet, []step{{"AT+CMEE=1\r", ok}, {"AT+CPIN=\"1234\"\r", "\r\n+CME ERROR: 3\r\n"}}},
		{"CSQ default", quiet, []step{{"AT+CSQ\r", "\r\n+CSQ: 20,99\r\n" + ok}}},
		{"CSQ unknown", ModemOptions{NoEcho: true, RSSI: 99}, []step{{"AT+CSQ\r", "\r\n+CSQ: 99,99\r\n" + ok}}},
		{"CREG home", quiet, []step{{"AT+CREG?\r", "\r\n+CREG: 0,1\r\n" + ok}}},
		{"CREG roaming", ModemOptions{NoEcho: true, Registration: RegRoaming}, []step{{"AT+CREG?\r", "\r\n+CREG: 0,5\r\n" + ok}}},
		{"CREG searching", ModemOptions{NoEcho: true, Registration: RegSearching}, []step{{"AT+CREG?\r", "\r\n+CREG: 0,2\r\n" + ok}}},
		{"CREG with SIM locked", locked, []step{{"AT+CREG?\r", "\r\n+CREG: 0,0\r\n" + ok}}},
		{"smstools chain", quiet, []step{{"AT+CMEE=1;+CREG=2\r", ok}, {"AT+CREG?\r", "\r\n+CREG: 2,1,\"00C3\",\"1A2B\"\r\n" + ok}}},
		{"chain stops at the first error", quiet, []step{{"AT+CSQ;+NOPE;+CGMI\r", "\r\n+CSQ: 20,99\r\n" + errr}}},
		{"identity", quiet, []step{
			{"AT+CGMI\r", "\r\nPagebridge\r\n" + ok},
			{"AT+CGMM\r", "\r\nSIMULATED\r\n" + ok},
			{"AT+CGMR\r", "\r\nsim-1.0\r\n" + ok},
			{"AT+CGSN\r", "\r\n356938035643809\r\n" + ok},
			{"AT+CIMI\r", "\r\n262011234567890\r\n" + ok},
			{"ATI\r", "\r\nPagebridge\r\n\r\nSIMULATED\r\n\r\nRevision: sim-1.0\r\n" + ok},
		}},
		{"CIMI needs the SIM", locked, []step{{"AT+CMEE=1\r", ok}, {"AT+CIMI\r", "\r\n+CME ERROR: 11\r\n"}}},
		{"CFUN reboot restores power-on state", ModemOptions{SIMPIN: "1"}, []step{
			{"ATE0\r", "ATE0\r" + ok},
			{"AT+CPIN=1\r", ok},
			{"AT+CFUN=1,1\r", ok},
			{"AT+CPIN?\r", "AT+CPIN?\r\r\n+CPIN: SIM PIN\r\n" + ok},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			runSteps(t, tt.opts, tt.steps)
		})
	}
}

func TestTerminalResponder(t *testing.T) {
	t.Parallel()
	const logon = "110 1.8\r\x06\r\x1b[p\r"
	const sent = "211 Page(s) Sent Successfully\r\x06\r"
	tests := []struct {
		name  string
		opts  TerminalOptions
		steps []step
	}{
		// The reference's worked session (paging-protocols.md §1), entry and exit.
		{"worked session", TerminalOptions{}, []step{
			{"\r", "ID=\r"},
			{"\x1bPG1\r", logon},
			{"\x04\r", "115 Goodbye\r\x1b\x04\r"},
		}},
		{"CR repeated while waiting", TerminalOptions{}, []step{{"\r\r", "ID=\rID=\r"}}},
		{"LF ignored", TerminalOptions{}, []step{{"\r\n", "ID=\r"}}},
		{"eighth bit ignored", TerminalOptions{}, []step{{"\x8d", "ID=\r"}, {"\x9bPG1\x8d", logon}}},
		{"logon without the ID probe", TerminalOptions{}, []step{{"\x1bPG1000000\r", logon}}},
		{"password", TerminalOptions{Password: "secret"}, []step{{"\x1bPG1secret\r", logon}}},
		{"wrong password thrice", TerminalOptions{Password: "secret"}, []step{
			{"\x1bPG1nope\r", "\x15\r"},
			{"\x1bPG1\r", "\x15\r"},
			{"\x1bPG1x\r", "\x1b\x04\r"},
			{"\x1bPG1secret\r", logon},
		}},
		{"garbage before logon ignored", TerminalOptions{}, []step{{"hello\r", ""}}},
		{"worked session with pages", TerminalOptions{}, []step{
			{"\r", "ID=\r"},
			{"\x1bPG1\r", logon},
			{"\x021001\rCode Blue 4W Rm 412\r\x03645\r", sent},
			{"\x021002\rLab: K 6.1 Bed 7\r\x03645\r", "514 Checksum error\r\x15\r"},
			{"\x021002\rLab: K 6.1 Bed 7\r\x034<=\r", sent},
			{"\x04\r", "115 Goodbye\r\x1b\x04\r"},
		}},
		{"blocks before the logon not answered", TerminalOptions{}, []step{
			{"\x021001\rCode Blue 4W Rm 412\r\x03645\r", ""},
		}},
		{"CR after a block swallowed, LF ignored", TerminalOptions{}, []step{
			{"\x1bPG1\r", logon},
			{"\x021001\rCode Blue 4W Rm 412\r\x03645", sent},
			{"\r\n", ""},
			{"\r", ""},
		}},
		{"the reference's continued field", TerminalOptions{}, []step{
			{"\x1bPG1\r", logon},
			{"\x021003\rPart one of a long\x1f731\r", "\x06\r"},
			{"\x02 message\r\x03317\r", sent},
		}},
		{"block started over", TerminalOptions{}, []step{
			{"\x1bPG1\r", logon},
			{"\x021001\rCo\x021001\rCode Blue 4W Rm 412\r\x03645\r", sent},
		}},
		{"malformed block", TerminalOptions{}, []step{
			{"\x1bPG1\r", logon},
			{"\x021001\rCode\x01\r\x03000\r", "515 Message format error\r\x15\r"},
			{"\x02\rno ID\r\x03" + tap.Checksum([]byte("\x02\rno ID\r\x03")) + "\r", "515 Message format error\r\x1e\r"},
		}},
		{"no logon needed", TerminalOptions{NoLogon: true}, []step{
			{blockOf("1001", "x"), sent},
			{"\x04\r", "115 Goodbye\r\x1b\x04\r"},
			{"\r", "ID=\r"},
			{"\x1bPG1\r", logon},
			{blockOf("1002", "y"), sent},
		}},
		{"503 after too many bad blocks", TerminalOptions{MaxBadBlocks: 2}, []step{
			{"\x1bPG1\r", logon},
			{string(CorruptChecksum([]byte(blockOf("1", "x")))), TAPChecksum},
			{"\x021\rx\x01\r\x03000\r", TAPFormat},
			{string(CorruptChecksum([]byte(blockOf("1", "x")))), TAPTooMany},
			{string(CorruptChecksum([]byte(blockOf("1", "x")))), TAPChecksum}, // counted anew
			{blockOf("1", "x"), sent},
		}},
		{"503 drops the page so far", TerminalOptions{MaxBadBlocks: 1}, []step{
			{"\x1bPG1\r", logon},
			{"\x021\r\x17" + tap.Checksum([]byte("\x021\r\x17")) + "\r", TAPBlockOK},
			{string(CorruptChecksum([]byte("\x02x\r\x03" + tap.Checksum([]byte("\x02x\r\x03")) + "\r"))), TAPChecksum},
			{string(CorruptChecksum([]byte("\x02x\r\x03" + tap.Checksum([]byte("\x02x\r\x03")) + "\r"))), TAPTooMany},
			{"\x02x\r\x03" + tap.Checksum([]byte("\x02x\r\x03")) + "\r", sent}, // a page of its own: ID "x"
		}},
		{"NAK every 2nd block", TerminalOptions{NAKEvery: 2}, []step{
			{"\x1bPG1\r", logon},
			{blockOf("1", "a"), sent},
			{blockOf("2", "b"), TAPChecksum},
			{blockOf("2", "b"), sent},
			{string(CorruptChecksum([]byte(blockOf("3", "c")))), TAPChecksum},
			{blockOf("3", "c"), sent},
		}},
		{"text over MaxText truncated", TerminalOptions{MaxText: 5}, []step{
			{"\x1bPG1\r", logon},
			{blockOf("1", "abcdefgh"), TAPTruncated},
			{blockOf("1", "abcde"), sent},
		}},
		{"answers", TerminalOptions{Answer: answerByID}, []step{
			{"\x1bPG1\r", logon},
			{blockOf("511", "x"), "511 Invalid Pager ID\r\x1e\r"},
			{blockOf("512", "x"), "512 Temporarily cannot deliver - try later\r\x15\r"},
			{blockOf("000", "x"), ""},
			{blockOf("001", "x"), ""},
			{blockOf("211", "x"), sent},
			{blockOf("004", "x"), "\x1b\x04\r"},
			{blockOf("211", "x"), ""}, // logged out
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			whole := NewTerminalResponder(tt.opts)
			bytewise := NewTerminalResponder(tt.opts)
			for _, s := range tt.steps {
				if got := string(whole.Respond([]byte(s.in))); got != s.want {
					t.Errorf("Respond(%q) = %q, want %q", s.in, got, s.want)
				}
				if got := feedBytewise(bytewise, s.in); got != s.want {
					t.Errorf("Respond(%q) byte by byte = %q, want %q", s.in, got, s.want)
				}
			}
		})
	}
}

// answerByID answers pages by their ID: 511 reject, 512 NAK, 000 silent,
// 001 drop, 004 disconnect, others accept.
func answerByID(p tap.Page) Answer {
	switch p.ID {
	case "511":
		return AnswerReject
	case "512":
		return AnswerNAK
	case "000":
		return AnswerSilent
	case "001":
		return AnswerDrop
	case "004":
		return AnswerDisconnect
	}
	return AnswerAccept
}

func blockOf(id, text string) string {
	b, err := tap.EncodePage(tap.Page{ID: id, Text: paging.NewPHI(text)})
	if err != nil || len(b) != 1 {
		panic(fmt.Sprint(len(b), err))
	}
	return string(b[0])
}

// The terminal takes the pages it answers 211 or takes silently, whole,
// each time they come; long pages come in several blocks.
func TestTerminalResponderPages(t *testing.T) {
	t.Parallel()
	var got []string
	r := NewTerminalResponder(TerminalOptions{Answer: answerByID, OnPage: func(p tap.Page) {
		got = append(got, p.ID+":"+p.Text.Reveal())
	}})
	long := strings.Repeat("Code Blue 4W Rm 412 ", 30)
	blocks, err := tap.EncodePage(tap.Page{ID: "1003", Text: paging.NewPHI(long)})
	if err != nil || len(blocks) != 3 {
		t.Fatal(len(blocks), err)
	}
	in := "\x1bPG1\r" + blockOf("1001", "a") + blockOf("511", "b") + blockOf("000", "c") + blockOf("001", "d") + blockOf("1001", "a")
	for _, b := range blocks {
		in += string(b)
	}
	// A page of two blocks answered NAK: the sender sends the last block
	// again.
	nak, err := tap.EncodePage(tap.Page{ID: "512", Text: paging.NewPHI(long)})
	if err != nil || len(nak) != 3 {
		t.Fatal(len(nak), err)
	}
	in += string(nak[0]) + string(nak[1]) + string(nak[2]) + string(nak[2])
	want := "110 1.8\r\x06\r\x1b[p\r" + TAPPageSent + TAPUnknownID + TAPPageSent + TAPBlockOK + TAPBlockOK + TAPPageSent +
		TAPBlockOK + TAPBlockOK + TAPTryLater + TAPTryLater
	if out := feedBytewise(r, in); out != want {
		t.Errorf("answers %q, want %q", out, want)
	}
	if w := []string{"1001:a", "000:c", "1001:a", "1003:" + long}; strings.Join(got, "|") != strings.Join(w, "|") {
		t.Errorf("took %q, want %q", got, w)
	}
}

func feedBytewise(r Responder, in string) string {
	var b strings.Builder
	for i := range len(in) {
		b.Write(r.Respond([]byte{in[i]}))
	}
	return b.String()
}

// FuzzModemResponder: any input, in any chunks, is answered without a
// panic, and chunking never changes the reply, what the modem owes later
// included (its clock then runs on an hour).
func FuzzModemResponder(f *testing.F) {
	const pdu = "0011000A9194711032540000AA04C3A7B01C" // SMS-SUBMIT "Cod…" with SRR unset, 17 octets
	for _, s := range []string{"AT\r", "ATE0\r\n", "AT+CMEE=1;+CREG=2\r", "AT+CPIN=\"1234\"\r", "AT+CFUN=1,1\r", "\x1bAT+CSQ\r", "AT;;+\r", "AT&\r", "AT+CPIN=\r",
		"AT+CPIN=1234\rAT+CNMI=2,1,0,1,0;+CSMS=1\rAT+CMGS=17\r" + pdu + "\x1a",
		"AT+CPIN=1234\rAT+CMGS=17\r" + pdu + "\x1bAT+CMGS=3\r00\x1a",
		"AT+CPIN=1234\rAT+CPMS=\"ME\",\"SM\",\"ME\";+CPMS?\rAT+CMGL=4;+CMGR=1;+CMGD=1,4\r",
		"AT+CNMI=0,1,0,2,0\rAT+CNMI=2\rAT+CNMA\rAT+CSCA=\"+4917\",145;+CSCA?\r",
		"AT+COPS=3,2;+COPS?;+CFUN=4;+COPS?;+GCAP\r"} {
		f.Add([]byte(s), uint8(1))
		f.Add([]byte(s), uint8(0x7b))
	}
	f.Fuzz(func(t *testing.T, in []byte, split uint8) {
		// split's low 3 bits size the chunks, the others pick options.
		opts := ModemOptions{SIMPIN: "1234", Clock: func() time.Time { return time.Unix(1e9, 0) }}
		if split&0x08 != 0 {
			opts.Latency = time.Second
		}
		if split&0x10 != 0 {
			opts.SendLatency, opts.ReportDelay = time.Second, time.Minute
		}
		if split&0x20 != 0 {
			opts.RebootTime = time.Second
		}
		if split&0x40 != 0 {
			opts.BootURCs = []string{"RDY"}
		}
		w := NewModemResponder(opts)
		whole := string(w.Respond(in)) + string(w.Advance(time.Hour))
		r := NewModemResponder(opts)
		n := int(split)%8 + 1
		var got strings.Builder
		for i := 0; i < len(in); i += n {
			got.Write(r.Respond(in[i:min(i+n, len(in))]))
		}
		got.Write(r.Advance(time.Hour))
		if got.String() != whole {
			t.Errorf("chunks of %d: %q, whole: %q", n, got.String(), whole)
		}
	})
}

// The terminal records what it took: a truncated text truncated, a page
// whose block was garbled once only once.
func TestTerminalResponderRecords(t *testing.T) {
	t.Parallel()
	var got []string
	r := NewTerminalResponder(TerminalOptions{MaxText: 4, NAKEvery: 2, OnPage: func(p tap.Page) {
		got = append(got, p.ID+":"+p.Text.Reveal())
	}})
	in := "\x1bPG1\r" + blockOf("1", "abcdef") + blockOf("2", "xy") + blockOf("2", "xy") + blockOf("3", "wxyz")
	want := "110 1.8\r\x06\r\x1b[p\r" + TAPTruncated + TAPChecksum + TAPPageSent + TAPChecksum
	if out := feedBytewise(r, in); out != want {
		t.Errorf("answers %q, want %q", out, want)
	}
	if w := []string{"1:abcd", "2:xy"}; strings.Join(got, "|") != strings.Join(w, "|") {
		t.Errorf("took %q, want %q", got, w)
	}
}

// FuzzTerminalResponder: as FuzzModemResponder, for the paging terminal.
func FuzzTerminalResponder(f *testing.F) {
	for _, s := range []string{"\r", "\x1bPG1\r", "\x1bPG1secret\r\x04\r", "\x021001\rCode Blue\r\x03645\r", "\x1bPG\r",
		"\x1bPG1secret\r\x021001\rCode Blue 4W Rm 412\r\x03645\r\x021003\rPart one of a long\x1f731\r\x02 message\r\x03317\r\x04\r"} {
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, in []byte, split uint8) {
		// split's low 3 bits size the chunks, the others pick options.
		opts := TerminalOptions{Password: "secret", NoLogon: split&0x08 != 0}
		if split&0x10 != 0 {
			opts.MaxBadBlocks = 2
		}
		if split&0x20 != 0 {
			opts.NAKEvery = 3
		}
		if split&0x40 != 0 {
			opts.MaxText = 10
		}
		whole := string(NewTerminalResponder(opts).Respond(in))
		r := NewTerminalResponder(opts)
		n := int(split)%8 + 1
		var got strings.Builder
		for i := 0; i < len(in); i += n {
			got.Write(r.Respond(in[i:min(i+n, len(in))]))
		}
		if got.String() != whole {
			t.Errorf("chunks of %d: %q, whole: %q", n, got.String(), whole)
		}
	})
}
