package sim

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"pagebridge/internal/peertest"
)

// peerTimeout bounds a peer test that would otherwise hang; no assertion
// rests on it.
const peerTimeout = 90 * time.Second

// peerTexts are what each peer sends: one long enough to be two parts.
var peerTexts = []string{
	"CODE BLUE 4W Rm 412",
	"Lab: K 6.1 Bed 7, call back 4711",
	strings.Repeat("Long page from the peer test. ", 7) + "End.",
}

// startPeer starts a peer daemon in the foreground, in a process group of
// its own, with its output in log, and stops it when the test ends
// (SIGTERM to that group, SIGKILL if it lingers). Only this process and
// its children are touched.
func startPeer(t *testing.T, log string, name string, args ...string) {
	t.Helper()
	lf, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		lf.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		// SIGTERM first, so that the daemon removes what it keeps
		// outside the test's directories (gammu-smsd's shared memory).
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		lf.Close()
	})
}

// waitPeerMessages waits until the modem has sent every text in
// peerTexts, reassembled from their parts, and checks what it recorded.
func waitPeerMessages(t *testing.T, m *Modem, to string, ton int, logs ...string) []SentMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), peerTimeout)
	defer cancel()
	err := m.WaitMessages(ctx, func(msgs []SentMessage) bool { return len(JoinParts(msgs)) >= len(peerTexts) })
	if err != nil {
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			t.Logf("%s:\n%s", l, tail(b, 60))
		}
		t.Logf("modem received:\n%s", tail(m.Received(), 80))
		t.Fatalf("%v; messages %+v", err, m.Messages())
	}
	msgs := m.Messages()
	whole := JoinParts(msgs)
	var got []string
	for _, w := range whole {
		got = append(got, w.Text)
		if w.To != to || w.TON != ton {
			t.Errorf("message %q to %q TON %d, want %q TON %d", w.Text, w.To, w.TON, to, ton)
		}
	}
	for _, want := range peerTexts {
		n := 0
		for _, g := range got {
			if g == want {
				n++
			}
		}
		if n != 1 {
			t.Errorf("text %q sent %d times, want once; sent %q", want, n, got)
		}
	}
	seen := map[int]bool{}
	for _, s := range msgs {
		if seen[s.MR] {
			t.Errorf("message reference %d given twice", s.MR)
		}
		seen[s.MR] = true
	}
	return msgs
}

func tail(b []byte, lines int) string {
	l := bytes.Split(b, []byte("\n"))
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return string(bytes.Join(l, []byte("\n")))
}

// readDir returns the contents of every file in dir.
func readDir(t *testing.T, dir string) [][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mkdirs(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
}

// smstools3 (smsd) sends three SMS, one of two parts, through the
// simulated modem with the reference's configuration: status reports
// requested, incoming messages read.
func TestModemSMSTools(t *testing.T) {
	t.Parallel()
	bin, ok := peertest.Find("smsd")
	if !ok {
		peertest.Missing(t, "smsd is not installed (Debian package smstools)")
	}
	run := t.TempDir()
	m := mustModem(t, ModemOptions{})
	s := filepath.Join(run, "s")
	mkdirs(t, filepath.Join(s, "outgoing"), filepath.Join(s, "checked"), filepath.Join(s, "incoming"),
		filepath.Join(s, "sent"), filepath.Join(s, "failed"), filepath.Join(s, "report"), filepath.Join(run, "stage"))
	conf := filepath.Join(run, "smsd.conf")
	writeFile(t, conf, SMSToolsConfig(s, m.Path(), "loglevel = 7"))
	for i, text := range peerTexts {
		stage := filepath.Join(run, "stage", fmt.Sprint("page", i))
		writeFile(t, stage, "To: 4917012345\n\n"+text+"\n")
		if err := os.Rename(stage, filepath.Join(s, "outgoing", fmt.Sprint("page", i))); err != nil {
			t.Fatal(err)
		}
	}
	startPeer(t, filepath.Join(run, "stdout.log"), bin, "-c"+conf, "-t")
	logs := []string{filepath.Join(s, "smsd.log"), filepath.Join(run, "stdout.log")}
	msgs := waitPeerMessages(t, m, "4917012345", 1, logs...)
	for _, s := range msgs {
		if !s.SRR || s.SMSC != "" {
			t.Errorf("message %d: SRR %v, SMSC %q; smstools asks for reports and leaves the SMSC to the modem", s.MR, s.SRR, s.SMSC)
		}
	}

	// A reply from the handset, long enough for two parts, comes back
	// through the modem's storage (+CMTI; smsd reads and deletes it) into
	// smsd's incoming directory, reassembled; so do the status reports
	// the modem stored (+CDSI), one per part sent.
	reply := "ACK " + strings.Repeat("on my way to 4W, ", 10) + "Ärztin"
	ctx, cancel := context.WithTimeout(t.Context(), peerTimeout)
	defer cancel()
	if n, err := m.Deliver(ctx, Inbound{From: "+4917099999", Text: reply}); err != nil || n != 2 {
		t.Fatalf("Deliver: %d parts, %v", n, err)
	}
	deletes := len(msgs) + 2
	err := m.WaitFor(ctx, func(rec []byte) bool { return bytes.Count(rec, []byte("AT+CMGD=")) >= deletes })
	if err != nil {
		t.Logf("modem received:\n%s", tail(m.Received(), 40))
		t.Fatalf("smsd did not delete %d stored messages: %v", deletes, err)
	}
	// smsd writes ISO 8859-1.
	var latin1 []byte
	for _, c := range reply {
		latin1 = append(latin1, byte(c))
	}
	in := readDir(t, filepath.Join(s, "incoming"))
	if len(in) != 1 || !bytes.Contains(in[0], []byte("From: 4917099999\n")) || !bytes.HasSuffix(in[0], append([]byte("\n\n"), latin1...)) {
		t.Errorf("smsd's incoming directory: %q, want one message from 4917099999 with %q", in, reply)
	}
	reports := readDir(t, filepath.Join(s, "report"))
	for _, s := range msgs {
		n := 0
		for _, r := range reports {
			if bytes.Contains(r, fmt.Appendf(nil, "\nMessage_id: %d\n", s.MR)) && bytes.Contains(r, []byte("\nStatus: 0,Ok")) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d status reports delivered for message %d, want 1; reports %q", n, s.MR, reports)
		}
	}
}

// gammu-smsd sends three SMS, one of two parts, through the simulated
// modem with the reference's configuration (files service, delivery
// reports as SMS), queued with gammu-smsd-inject.
func TestModemGammuSMSD(t *testing.T) {
	t.Parallel()
	bin, ok := peertest.Find("gammu-smsd")
	if !ok {
		peertest.Missing(t, "gammu-smsd is not installed (Debian package gammu-smsd)")
	}
	inject, ok := peertest.Find("gammu-smsd-inject")
	if !ok {
		peertest.Missing(t, "gammu-smsd-inject is not installed (Debian package gammu-smsd)")
	}
	run := t.TempDir()
	m := mustModem(t, ModemOptions{})
	g := filepath.Join(run, "g")
	mkdirs(t, filepath.Join(g, "in"), filepath.Join(g, "out"), filepath.Join(g, "sent"), filepath.Join(g, "err"))
	rc := filepath.Join(run, "rc")
	writeFile(t, rc, GammuSMSDConfig(g, m.Path(), "out", "debuglevel = 1"))
	for _, text := range peerTexts {
		out, err := exec.CommandContext(t.Context(), inject, "-c", rc, "TEXT", "+4917012345", "-autolen", "600", "-text", text).CombinedOutput()
		if err != nil {
			t.Fatalf("gammu-smsd-inject: %v\n%s", err, out)
		}
	}
	startPeer(t, filepath.Join(run, "stdout.log"), bin, "-c", rc)
	msgs := waitPeerMessages(t, m, "4917012345", 1, filepath.Join(g, "smsd.log"), filepath.Join(run, "stdout.log"))
	for _, s := range msgs {
		// gammu asks for reports (deliveryreport = sms) and writes the
		// SMSC it read with AT+CSCA? into each PDU.
		if !s.SRR || s.SMSC != "+491710760000" {
			t.Errorf("message %d: SRR %v, SMSC %q, want a report requested and +491710760000", s.MR, s.SRR, s.SMSC)
		}
	}
}
