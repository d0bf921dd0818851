package sim

import (
	"strings"
	"testing"
	"time"

	"github.com/warthog618/sms/encoding/tpdu"
)

// advanceStep is a step that moves the responder's clock instead of
// feeding bytes (in is empty).
type timedStep struct {
	in      string
	advance time.Duration
	want    string
}

func runTimed(t *testing.T, r *ModemResponder, steps []timedStep) {
	t.Helper()
	for i, s := range steps {
		var got string
		if s.in != "" {
			got = string(r.Respond([]byte(s.in)))
		} else {
			got = string(r.Advance(s.advance))
		}
		if got != s.want {
			t.Errorf("step %d (%q, +%v): %q, want %q", i, s.in, s.advance, got, s.want)
		}
	}
}

func TestModemResponderLatency(t *testing.T) {
	t.Parallel()
	const csq = "\r\n+CSQ: 20,99\r\n"
	t.Run("every command", func(t *testing.T) {
		t.Parallel()
		r := NewModemResponder(ModemOptions{NoEcho: true, Latency: 100 * time.Millisecond})
		runTimed(t, r, []timedStep{
			{in: "AT\r"},
			{in: "AT+CSQ\r"}, // held while the modem is busy
			{advance: 99 * time.Millisecond},
			{advance: time.Millisecond, want: ok},
			{advance: 100 * time.Millisecond, want: csq + ok},
			{advance: time.Hour},
		})
	})
	t.Run("echo of held input comes when it is taken", func(t *testing.T) {
		t.Parallel()
		r := NewModemResponder(ModemOptions{Latency: time.Second})
		runTimed(t, r, []timedStep{
			{in: "AT\rAT\r", want: "AT\r"},
			{advance: time.Second, want: ok + "AT\r"},
			{advance: time.Second, want: ok},
		})
	})
	t.Run("per command", func(t *testing.T) {
		t.Parallel()
		r := NewModemResponder(ModemOptions{NoEcho: true, CommandLatency: map[string]time.Duration{"+COPS": 2 * time.Second, "Z": time.Second}})
		runTimed(t, r, []timedStep{
			{in: "AT+CSQ\r", want: csq + ok},
			{in: "AT+COPS?\r"},
			{advance: 2 * time.Second, want: "\r\n+COPS: 0,0,\"Pagebridge\"\r\n" + ok},
			{in: "ATZ\r"},
			{advance: time.Second, want: ok},
			{in: "ATZ;+COPS?\r"},
			{advance: 2 * time.Second},
			{advance: time.Second, want: "\r\n+COPS: 0,0,\"Pagebridge\"\r\n" + ok},
		})
	})
	t.Run("send", func(t *testing.T) {
		t.Parallel()
		r, sent := recordingModem(ModemOptions{NoEcho: true, SendLatency: 300 * time.Millisecond})
		hexes, ns := submitPDU(t, "4917012345", tpdu.TonInternational, "page", false, "")
		if got := send(t, r, hexes[0], ns[0]); got != "\r\n> " {
			t.Errorf("send: %q", got)
		}
		if len(*sent) != 0 {
			t.Error("recorded before the network answered")
		}
		if d, ok := r.Next(); !ok || d != 300*time.Millisecond {
			t.Errorf("Next() = %v, %v", d, ok)
		}
		if got := string(r.Advance(300 * time.Millisecond)); got != "\r\n+CMGS: 1\r\n"+ok || len(*sent) != 1 {
			t.Errorf("after the latency: %q, %d recorded", got, len(*sent))
		}
	})
}

// A late OK: the information comes at once, the OK after the driver has
// given up; the "AT" it then sends to resynchronise is held and answered
// after the late OK, so a driver that takes the first OK for its AT is
// one reply behind, as the reference's desync.
func TestModemResponderLateOK(t *testing.T) {
	t.Parallel()
	r := NewModemResponder(ModemOptions{NoEcho: true})
	r.LateOK(1, 10*time.Second)
	runTimed(t, r, []timedStep{
		{in: "AT+CSQ\r", want: "\r\n+CSQ: 20,99\r\n"},
		{in: "\x1bAT\r"},
		{advance: 10 * time.Second, want: ok + ok},
		{in: "AT\r", want: ok},
	})
	// A late send: +CMGS at once, its OK late.
	r2, sent := recordingModem(ModemOptions{NoEcho: true})
	r2.LateOK(1, time.Second)
	hexes, ns := submitPDU(t, "4917012345", tpdu.TonInternational, "page", false, "")
	if got := send(t, r2, hexes[0], ns[0]); got != "\r\n> \r\n+CMGS: 1\r\n" {
		t.Errorf("late send: %q", got)
	}
	if got := string(r2.Advance(time.Second)); got != ok || len(*sent) != 1 {
		t.Errorf("late send's OK: %q, %d recorded", got, len(*sent))
	}
}

func TestModemResponderFailSends(t *testing.T) {
	t.Parallel()
	hexes, ns := submitPDU(t, "4917012345", tpdu.TonInternational, "page", true, "")
	r, sent := recordingModem(ModemOptions{NoEcho: true, SendLatency: time.Second})
	r.FailSends(2, 0)
	for i := range 2 {
		if got := send(t, r, hexes[0], ns[0]); got != "\r\n> " {
			t.Errorf("send %d: %q", i, got)
		}
		if got := string(r.Advance(time.Second)); got != "\r\n+CMS ERROR: 500\r\n" {
			t.Errorf("send %d: %q", i, got)
		}
	}
	send(t, r, hexes[0], ns[0])
	if got := string(r.Advance(time.Second)); got != "\r\n+CMGS: 1\r\n"+ok || len(*sent) != 1 {
		t.Errorf("third send: %q, %d recorded", got, len(*sent))
	}
	// Another code, in words.
	r.FailSends(1, 332)
	r.Respond([]byte("AT+CMEE=2\r"))
	send(t, r, hexes[0], ns[0])
	if got := string(r.Advance(time.Second)); got != "\r\n+CMS ERROR: network timeout\r\n" {
		t.Errorf("332: %q", got)
	}
}

func TestModemResponderURCs(t *testing.T) {
	t.Parallel()
	const cpms = "\r\n+CPMS: \"SM\",1,30,\"SM\",1,30,\"SM\",1,30\r\n"
	t.Run("injected between info and OK, once", func(t *testing.T) {
		t.Parallel()
		r := NewModemResponder(ModemOptions{NoEcho: true})
		r.InjectURC(`+CMTI: "SM",7`)
		r.InjectURC("RING")
		runTimed(t, r, []timedStep{
			{in: "AT+CSQ\r", want: "\r\n+CSQ: 20,99\r\n\r\n+CMTI: \"SM\",7\r\n\r\nRING\r\n" + ok},
			{in: "AT+CSQ\r", want: "\r\n+CSQ: 20,99\r\n" + ok},
		})
	})
	t.Run("a delivery's +CMTI mid-reply", func(t *testing.T) {
		t.Parallel()
		r := NewModemResponder(ModemOptions{NoEcho: true})
		r.Respond([]byte("AT+CNMI=2,1\r"))
		if out, _, err := r.Deliver(Inbound{From: "+49", Text: "x", MidReply: true}); err != nil || len(out) != 0 {
			t.Fatalf("Deliver: %q, %v", out, err)
		}
		runTimed(t, r, []timedStep{{in: "AT+CPMS?\r", want: cpms + "\r\n+CMTI: \"SM\",1\r\n" + ok}})
	})
	t.Run("held while busy and during the prompt", func(t *testing.T) {
		t.Parallel()
		r := NewModemResponder(ModemOptions{NoEcho: true, Latency: time.Second})
		r.Respond([]byte("AT+CNMI=2,1\r"))
		r.Advance(time.Second)
		runTimed(t, r, []timedStep{{in: "AT+CMGS=20\r"}})
		if out, _, _ := r.Deliver(Inbound{From: "+49", Text: "x"}); len(out) != 0 {
			t.Errorf("URC while busy: %q", out)
		}
		runTimed(t, r, []timedStep{{advance: time.Second, want: "\r\n> "}})
		if out, _, _ := r.Deliver(Inbound{From: "+49", Text: "y"}); len(out) != 0 {
			t.Errorf("URC in the prompt: %q", out)
		}
		runTimed(t, r, []timedStep{{in: "\x1b", want: ok + "\r\n+CMTI: \"SM\",1\r\n\r\n+CMTI: \"SM\",2\r\n"}})
	})
}

func TestModemResponderHang(t *testing.T) {
	t.Parallel()
	t.Run("for good", func(t *testing.T) {
		t.Parallel()
		r := NewModemResponder(ModemOptions{})
		r.Respond([]byte("AT+CNMI=2,1\r"))
		r.Hang(false)
		runTimed(t, r, []timedStep{{in: "AT\r"}, {in: "AT+CFUN=1,1\r"}, {in: "AT+CMGS=20\r00\x1a"}, {advance: time.Hour}})
		if out, n, err := r.Deliver(Inbound{From: "+49", Text: "x"}); len(out) != 0 || n != 1 || err != nil {
			t.Errorf("Deliver to a hung modem: %q %d %v", out, n, err)
		}
	})
	t.Run("until AT+CFUN=1,1", func(t *testing.T) {
		t.Parallel()
		r := NewModemResponder(ModemOptions{})
		r.Hang(true)
		runTimed(t, r, []timedStep{
			{in: "AT\r"},
			{in: "AT;+CFUN=1,1\r", want: ok},
			{in: "AT\r", want: "AT\r" + ok},
		})
	})
}

// AT+CFUN=1,1 with a RebootTime: OK, silence (what is sent is lost),
// then the boot URCs and the power-on state, echo on.
func TestModemResponderReboot(t *testing.T) {
	t.Parallel()
	boot := "\r\nRDY\r\n\r\n+CPIN: READY\r\n\r\nSMS Ready\r\n"
	r := NewModemResponder(ModemOptions{RebootTime: 2 * time.Second, BootURCs: []string{"RDY", "+CPIN: READY", "SMS Ready"}})
	runTimed(t, r, []timedStep{
		{advance: 0, want: boot},
		{in: "ATE0\r", want: "ATE0\r" + ok},
		{in: "AT+CNMI=2,1\r", want: ok},
		{in: "AT+CFUN=1,1\r", want: ok},
		{in: "AT\r"},
		{advance: 2*time.Second - 1},
		{advance: 1, want: boot},
		{in: "AT\r", want: "AT\r" + ok},
		{in: "AT+CNMI?\r", want: "AT+CNMI?\r\r\n+CNMI: 0,0,0,0,0\r\n" + ok},
	})
	if _, ok := r.Next(); ok {
		t.Error("something still owed after the reboot")
	}
	// A reboot drops what was owed: a report due later never comes.
	r2, _ := recordingModem(ModemOptions{NoEcho: true, ReportDelay: time.Minute})
	r2.Respond([]byte("AT+CNMI=2,1,0,1\r"))
	hexes, ns := submitPDU(t, "4917012345", tpdu.TonInternational, "page", true, "")
	send(t, r2, hexes[0], ns[0])
	r2.Respond([]byte("AT+CFUN=1,1\r"))
	if out := r2.Advance(time.Hour); strings.Contains(string(out), "+CDS") {
		t.Errorf("report after a reboot: %q", out)
	}
}
