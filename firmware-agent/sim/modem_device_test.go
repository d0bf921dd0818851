package sim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/warthog618/sms/encoding/tpdu"
)

// A driver's send over the pty, with the latency the benchmark uses: the
// prompt, +CMGS after the latency, the status report, the record; then
// an SMS from the network, announced and read.
func TestModemOverPTYSMS(t *testing.T) {
	t.Parallel()
	m := mustModem(t, ModemOptions{NoEcho: true, SendLatency: 300 * time.Millisecond})
	f := openPort(t, m.Path())
	write(t, f, "AT+CSMS=1;+CNMI=2,1,0,1,0\r")
	readUntil(t, f, ok)
	hexes, ns := submitPDU(t, "4917012345", tpdu.TonInternational, "CODE BLUE 4W", true, "")
	write(t, f, fmt.Sprintf("AT+CMGS=%d\r", ns[0]))
	if got := readUntil(t, f, "> "); got != "\r\n> " {
		t.Fatalf("prompt %q", got)
	}
	write(t, f, hexes[0]+"\x1a")
	// The reply, then the report, which may come in the same read.
	got := readUntilMatch(t, f, regexp.MustCompile(`\r\n\+CDS: \d+\r\n[0-9A-F]+\r\n$`))
	report, found := strings.CutPrefix(got, "\r\n+CMGS: 1\r\n"+ok)
	if !found {
		t.Errorf("send %q", got)
	}
	if _, cds := decodeURCs(t, report); len(cds) != 1 || cds[0].MR != 1 {
		t.Errorf("report %q", report)
	}
	ctx, cancel := context.WithTimeout(t.Context(), safety)
	defer cancel()
	if err := m.WaitMessages(ctx, func(s []SentMessage) bool { return len(s) == 1 }); err != nil {
		t.Fatal(err)
	}
	if s := m.Messages()[0]; s.Text != "CODE BLUE 4W" || s.MR != 1 || s.Number() != "+4917012345" {
		t.Errorf("recorded %+v", s)
	}

	if n, err := m.Deliver(ctx, Inbound{From: "+4917012345", Text: "ACK"}); err != nil || n != 1 {
		t.Fatalf("Deliver: %d, %v", n, err)
	}
	if got := readUntil(t, f, "\r\n+CMTI: \"SM\",1\r\n"); got != "\r\n+CMTI: \"SM\",1\r\n" {
		t.Errorf("indication %q", got)
	}
	write(t, f, "AT+CMGR=1\r")
	if got := readUntil(t, f, ok); !strings.HasPrefix(got, "\r\n+CMGR: 0,,") {
		t.Errorf("read %q", got)
	}
}

// Faults through the Modem's API, and the power cycle that ends a hang.
// Stored messages survive it, as on a SIM.
func TestModemOverPTYFaults(t *testing.T) {
	t.Parallel()
	m := mustModem(t, ModemOptions{NoEcho: true})
	ctx, cancel := context.WithTimeout(t.Context(), safety)
	defer cancel()
	f := openPort(t, m.Path())

	if err := m.InjectURC(ctx, "RING"); err != nil {
		t.Fatal(err)
	}
	write(t, f, "AT+CSQ\r")
	if got := readUntil(t, f, ok); got != "\r\n+CSQ: 20,99\r\n\r\nRING\r\n"+ok {
		t.Errorf("injected %q", got)
	}

	if err := m.FailSends(ctx, 1, 500); err != nil {
		t.Fatal(err)
	}
	hexes, ns := submitPDU(t, "4917012345", tpdu.TonInternational, "x", false, "")
	write(t, f, fmt.Sprintf("AT+CMGS=%d\r", ns[0]))
	readUntil(t, f, "> ")
	write(t, f, hexes[0]+"\x1a")
	if got := readUntil(t, f, "\r\n+CMS ERROR: 500\r\n"); got != "\r\n+CMS ERROR: 500\r\n" {
		t.Errorf("failed send %q", got)
	}

	if err := m.LateOK(ctx, 1, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	write(t, f, "AT+CGMI\r")
	if got := readUntil(t, f, ok); got != "\r\nPagebridge\r\n"+ok {
		t.Errorf("late OK %q", got)
	}

	if _, err := m.Deliver(ctx, Inbound{From: "+4917012345", Text: "kept"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Hang(ctx, false); err != nil {
		t.Fatal(err)
	}
	before := len(m.Sent())
	write(t, f, "AT\r")
	if err := m.WaitFor(ctx, func(rec []byte) bool { return strings.HasSuffix(string(rec), "AT\r") }); err != nil {
		t.Fatal(err)
	}
	// Unplug waits until the modem has taken every byte it received.
	if err := m.Unplug(); err != nil {
		t.Fatal(err)
	}
	if after := m.Sent()[before:]; len(after) != 0 {
		t.Errorf("a hung modem answered %q", after)
	}
	if _, err := m.Deliver(ctx, Inbound{From: "+49", Text: "x"}); !errors.Is(err, ErrUnplugged) {
		t.Errorf("Deliver while unplugged: %v", err)
	}
	if err := m.Plug(); err != nil {
		t.Fatal(err)
	}
	f = openPort(t, m.Path())
	write(t, f, "AT+CMGL=4\r")
	if got := readUntil(t, f, ok); !strings.HasPrefix(got, "\r\n+CMGL: 1,0,,") {
		t.Errorf("after the power cycle %q", got)
	}
}

// A modem that hangs but still takes AT+CFUN=1,1 reboots and announces
// itself.
func TestModemOverPTYHangReset(t *testing.T) {
	t.Parallel()
	m := mustModem(t, ModemOptions{RebootTime: 20 * time.Millisecond, BootURCs: []string{"RDY"}})
	f := openPort(t, m.Path())
	if got := readUntil(t, f, "\r\nRDY\r\n"); got != "\r\nRDY\r\n" {
		t.Fatalf("boot %q", got)
	}
	ctx, cancel := context.WithTimeout(t.Context(), safety)
	defer cancel()
	if err := m.Hang(ctx, true); err != nil {
		t.Fatal(err)
	}
	write(t, f, "AT+CFUN=1,1\r")
	if got := readUntil(t, f, "\r\nRDY\r\n"); got != ok+"\r\nRDY\r\n" {
		t.Errorf("reset %q", got)
	}
	write(t, f, "AT\r")
	if got := readUntil(t, f, ok); got != "AT\r"+ok {
		t.Errorf("after the reset %q", got)
	}
}

// Not parallel, as TestCloseLeavesNothing: no modem goroutine outlives
// Close, Unplug or a Plug after a bare Device.Unplug.
func TestModemCloseLeavesNothing(t *testing.T) {
	m, err := NewModem(t.TempDir(), ModemOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Device.Unplug(); err != nil { // bypasses Modem.Unplug
		t.Fatal(err)
	}
	if err := m.Plug(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(allStacks(), "created by pagebridge/firmware-agent/sim.(*Modem).newResponder"); n != 1 {
		t.Errorf("%d modem goroutines after a re-plug, want 1:\n%s", n, allStacks())
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if stacks := settledStacks("(*Modem).newResponder"); strings.Contains(stacks, "(*Modem).newResponder") {
		t.Errorf("modem goroutine left after Close:\n%s", stacks)
	}
	if err := m.Report(t.Context(), 1, ReportDelivered); !errors.Is(err, ErrUnplugged) {
		t.Errorf("Report after Close: %v", err)
	}
}

// readUntilMatch reads f until what it read matches re, and returns it.
func readUntilMatch(t *testing.T, f *os.File, re *regexp.Regexp) string {
	t.Helper()
	var got []byte
	buf := make([]byte, 256)
	for !re.Match(got) {
		n, err := f.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("read %q so far, waiting for %v: %v", got, re, err)
		}
	}
	return string(got)
}
