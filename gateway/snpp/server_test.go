package snpp_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"pagebridge/gateway/paging"
	"pagebridge/gateway/snpp"
	"pagebridge/internal/peertest"
	"pagebridge/storage"
	"pagebridge/storage/storagetest"
)

var admin = paging.AuditEvent{Actor: "test"}

// rig is a server on a loopback port over a real store with pager IDs
// 1001 to 1003.
type rig struct {
	st   *storage.Store
	addr string
}

func newRig(t *testing.T, cfg snpp.Config) *rig {
	t.Helper()
	st := storagetest.MustOpen(t)
	ctx := context.Background()
	for _, id := range []string{"1001", "1002", "1003"} {
		p := "p" + id
		if err := st.PutPerson(ctx, paging.Person{ID: p, Name: p, Stage: paging.StageApp}, admin); err != nil {
			t.Fatal(err)
		}
		if err := st.PutPagerID(ctx, paging.PagerID{ID: id, Target: paging.Target{Kind: paging.TargetPerson, ID: p}}, admin); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := snpp.New(cfg, st, st, nil, nil)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &rig{st: st, addr: ln.Addr().String()}
}

// stored returns "pager priority text" of every stored page, sorted.
func (r *rig) stored(t *testing.T) []string {
	t.Helper()
	var out []string
	err := r.st.Messages(context.Background(), admin, func(m *paging.Message) error {
		out = append(out, fmt.Sprintf("%s %s %s", m.PagerID, m.Priority, m.Text.Reveal()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// client is a raw SNPP conversation.
type client struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cl := &client{t: t, c: c, r: bufio.NewReader(c)}
	if got := cl.read(); !strings.HasPrefix(got, "220 ") {
		t.Fatalf("greeting %q", got)
	}
	return cl
}

func (c *client) read() string {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return strings.TrimRight(line, "\r\n")
}

// do sends a line and returns the reply's code.
func (c *client) do(line string) string {
	c.t.Helper()
	fmt.Fprintf(c.c, "%s\r\n", line)
	for {
		reply := c.read()
		if !strings.HasPrefix(reply, "214 ") { // HELP's lines come first
			return reply[:3]
		}
	}
}

// The malformed-input table: each gets its code and the session goes on;
// a good page goes through afterwards.
func TestBadInput(t *testing.T) {
	r := newRig(t, snpp.Config{})
	c := dial(t, r.addr)
	for _, tc := range []struct{ name, line, code string }{
		{"empty", "", "500"},
		{"unknown command", "FROB x", "500"},
		{"level 3 command", "2WAY", "500"},
		{"line too long", "MESS " + strings.Repeat("x", 600), "500"},
		{"page without ID", "PAGE", "550"},
		{"unknown pager ID", "PAGE 9999", "550"},
		{"pager ID too long", "PAGE " + strings.Repeat("9", 80), "550"},
		{"send with nothing", "SEND", "503"},
		{"level out of range", "LEVE 12", "550"},
		{"level not a number", "LEVE high", "550"},
		{"hold too short", "HOLD 26112712", "550"},
		{"hold month 13", "HOLD 261327120000", "550"},
		{"hold offset out of range", "HOLD 261127120000 +25", "550"},
		{"hold offset malformed", "HOLD 261127120000 0100", "550"},
		{"hold without a time", "HOLD", "550"},
		{"hold years ahead", "HOLD 991231235959", "550"},
		{"empty message", "MESS", "550"},
		{"invalid UTF-8", "MESS \xff\xfe", "550"},
		{"logi without ID", "LOGI", "550"},
		{"help", "HELP", "250"},
		{"message twice", "MESS one", "250"},
		{"message twice, again", "MESS two", "503"},
		{"send without a recipient", "SEND", "503"},
		{"reset", "RESE", "250"},
	} {
		if got := c.do(tc.line); got != tc.code {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.code)
		}
	}
	for _, l := range []string{"PAGE 1001", "LEVE 0", "MESS still works", "SEND"} {
		if got := c.do(l); got != "250" {
			t.Fatalf("%s: %s", l, got)
		}
	}
	if got := c.do("QUIT"); got != "221" {
		t.Fatalf("QUIT: %s", got)
	}
	if got := r.stored(t); len(got) != 1 || got[0] != "1001 high still works" {
		t.Fatalf("stored: %q", got)
	}
}

// Several recipients and DATA with dot-stuffing; 552 past the recipient
// limit.
func TestSessionDataAndRecipients(t *testing.T) {
	r := newRig(t, snpp.Config{})
	c := dial(t, r.addr)
	for _, l := range []string{"PAGE 1001", "PAGE 1002 1234"} {
		if got := c.do(l); got != "250" {
			t.Fatalf("%s: %s", l, got)
		}
	}
	if got := c.do("DATA"); got != "354" {
		t.Fatalf("DATA: %s", got)
	}
	fmt.Fprint(c.c, "Bed 12\r\n..dot line\n.\r\n")
	if got := c.read(); !strings.HasPrefix(got, "250") {
		t.Fatalf("after DATA: %q", got)
	}
	if got := c.do("SEND"); got != "250" {
		t.Fatalf("SEND: %s", got)
	}
	if got := r.stored(t); len(got) != 2 || got[0] != "1001 normal Bed 12\n.dot line" || got[1] != "1002 normal Bed 12\n.dot line" {
		t.Fatalf("stored: %q", got)
	}
	for i := range snpp.MaxRecipients {
		if got := c.do("PAGE 1003"); got != "250" {
			t.Fatalf("recipient %d: %s", i, got)
		}
	}
	if got := c.do("PAGE 1003"); got != "552" {
		t.Fatalf("past the limit: %s", got)
	}
}

// With logins configured, SEND needs a good LOGI.
func TestLogins(t *testing.T) {
	r := newRig(t, snpp.Config{Logins: []snpp.Login{{ID: "switchboard", Password: "s3cret-pass", Line: "Switchboard"}}})
	c := dial(t, r.addr)
	for _, step := range []struct{ line, code string }{
		{"PAGE 1001", "250"}, {"MESS x", "250"}, {"SEND", "550"},
		{"LOGI switchboard wrong", "550"}, {"SEND", "550"},
		{"LOGI switchboard s3cret-pass", "250"}, {"SEND", "250"},
	} {
		if got := c.do(step.line); got != step.code {
			t.Fatalf("%s: %s, want %s", step.line, got, step.code)
		}
	}
}

// The source allowlist refuses other networks (loopback is outside it
// here, so the connection is closed before the greeting).
func TestAllowlist(t *testing.T) {
	r := newRig(t, snpp.Config{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	c, err := net.DialTimeout("tcp", r.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if line, err := bufio.NewReader(c).ReadString('\n'); err == nil {
		t.Fatalf("a refused source got %q", line)
	}
}

// HylaFAX sendpage (never -v: it sends PAGE (null)) delivers to us: one
// recipient, several, text from stdin; it exits 0 and the pages are
// stored.
func TestSendpage(t *testing.T) {
	bin, ok := peertest.Find("sendpage")
	if !ok {
		peertest.Missing(t, "sendpage (Debian hylafax-client) not installed")
	}
	r := newRig(t, snpp.Config{})
	run := func(stdin string, args ...string) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"-h", r.addr}, args...)...)
		if stdin != "" {
			cmd.Stdin = strings.NewReader(stdin)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("sendpage %q: %v\n%s", args, err, out)
		}
	}
	run("", "-p", "1001", "one recipient")
	run("", "-p", "1002", "-p", "1003", "two recipients")
	run("Room 12 call bell\nsecond line\n", "-p", "1001")
	// -a: HOLD in GMT, without seconds.
	run("", "-a", "now + 30 minutes", "-p", "1003", "ward round")
	want := []string{
		"1001 normal Room 12 call bell\nsecond line",
		"1001 normal one recipient",
		"1002 normal two recipients",
		"1003 normal two recipients",
		"1003 normal ward round",
	}
	if got := r.stored(t); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("stored:\n%q\nwant\n%q", got, want)
	}
	err := r.st.Messages(context.Background(), admin, func(m *paging.Message) error {
		held := m.Text.Reveal() == "ward round"
		if d := time.Until(m.DeliverAt); held != (d > 20*time.Minute && d <= 31*time.Minute) {
			t.Errorf("%q held until %v (in %v)", m.Text.Reveal(), m.DeliverAt, d)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// An unknown pager ID fails sendpage, and nothing is stored for it.
	cmd := exec.Command(bin, "-h", r.addr, "-p", "9999", "nobody")
	if err := cmd.Run(); err == nil {
		t.Fatal("sendpage to an unknown pager ID exited 0")
	}
}

// HOLD: the pages of the session are stored at SEND with the time to
// deliver them, in GMT when an offset is given; RESE forgets it.
func TestHold(t *testing.T) {
	r := newRig(t, snpp.Config{})
	c := dial(t, r.addr)
	at := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	local := at.In(time.FixedZone("", -6*3600))
	for _, l := range []string{"PAGE 1001", "HOLD " + local.Format("060102150405") + " -0600", "MESS ward round", "SEND",
		"HOLD " + at.Format("060102150405") + " +00", "RESE", "PAGE 1002", "MESS now", "SEND"} {
		if got := c.do(l); got != "250" {
			t.Fatalf("%s: %s", l, got)
		}
	}
	held := map[string]time.Time{}
	err := r.st.Messages(context.Background(), admin, func(m *paging.Message) error {
		held[m.PagerID] = m.DeliverAt
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !held["1001"].Equal(at) || !held["1002"].IsZero() {
		t.Fatalf("deliver at: %v, want 1001 at %v and 1002 now", held, at)
	}
	for _, c := range []struct {
		arg  string
		want time.Time
	}{
		{"261127103000", time.Date(2026, 11, 27, 10, 30, 0, 0, time.UTC)},
		{"261127103000 +01", time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)},
		{"261127103000 -0530", time.Date(2026, 11, 27, 16, 0, 0, 0, time.UTC)},
		{"2611271030", time.Date(2026, 11, 27, 10, 30, 0, 0, time.UTC)},
	} {
		got, err := snpp.ParseHold(c.arg, time.UTC)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("ParseHold(%q): %v %v, want %v", c.arg, got, err, c.want)
		}
	}
}
