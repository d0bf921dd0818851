package espa_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"reflect"
	"sync"
	"testing"
	"time"

	"pagebridge/firmware-agent/espa"
	"pagebridge/firmware-agent/serialport"
	"pagebridge/firmware-agent/sim"
	"pagebridge/gateway/paging"
)

// These tests run both roles over the agent's real serial path:
// serialport opens the pty slave of a simulated device through
// go.bug.st/serial, whose reads time out with (0, nil).

// safety bounds a test that would otherwise hang; no assertion rests on it.
const safety = time.Minute

// fast are timeouts short enough for a lost ACK to cost little real time.
const fast = 300 * time.Millisecond

// serveLine runs session on a serialport line opened on path until the
// test ends.
func serveLine(t *testing.T, path string, session func(ctx context.Context, rw io.ReadWriter) error) {
	t.Helper()
	l, err := serialport.New(serialport.Config{Path: path, ReadTimeout: 20 * time.Millisecond,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Run(ctx, func(ctx context.Context, rw io.ReadWriter, ready func()) error {
			ready()
			return session(ctx, rw)
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// testCtx ends at safety or with the test.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	t.Cleanup(cancel)
	return ctx
}

// taken records the calls an outstation took.
type taken struct {
	mu    sync.Mutex
	calls []espa.Call
	more  chan struct{}
}

func newTaken() *taken { return &taken{more: make(chan struct{}, 1024)} }

func (k *taken) accept(_ context.Context, c espa.Call) error {
	k.mu.Lock()
	k.calls = append(k.calls, c)
	k.mu.Unlock()
	k.more <- struct{}{}
	return nil
}

func (k *taken) list() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var s []string
	for _, c := range k.calls {
		s = append(s, c.Address+":"+c.Text.Reveal())
	}
	return s
}

// startOutstation runs our outstation on a simulated control station's
// line.
func startOutstation(t *testing.T, cfg espa.OutstationConfig) (*espa.Outstation, *sim.ESPAControlStation, *taken) {
	t.Helper()
	cs, err := sim.NewESPAControlStation(t.TempDir(), sim.ESPAControlStationOptions{
		Control: espa.ControlConfig{ResponseTimeout: fast},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	k := newTaken()
	o, err := espa.NewOutstation(cfg, k.accept)
	if err != nil {
		t.Fatal(err)
	}
	serveLine(t, cs.Path(), func(ctx context.Context, rw io.ReadWriter) error { return o.Serve(ctx, rw) })
	return o, cs, k
}

func codeBlue() espa.Call {
	return espa.Call{Address: "1001", Text: paging.NewPHI("Code Blue 4W Rm 412"), Type: espa.CallStandard, Priority: espa.PriorityAlarm}
}

// The reference's call from the simulated control station reaches accept,
// byte for byte as the reference writes it.
func TestCallsOverPTY(t *testing.T) {
	t.Parallel()
	_, cs, k := startOutstation(t, espa.OutstationConfig{})
	ctx := testCtx(t)
	if err := cs.Call(ctx, codeBlue()); err != nil {
		t.Fatal(err)
	}
	if err := cs.Call(ctx, espa.Call{Address: "1002", Text: paging.NewPHI("Bed 7")}); err != nil {
		t.Fatal(err)
	}
	if got, want := k.list(), []string{"1001:Code Blue 4W Rm 412", "1002:Bed 7"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
	block := "\x011\x021\x1f1001\x1e2\x1fCode Blue 4W Rm 412\x1e4\x1f3\x1e6\x1f1\x03\x55"
	if sent := string(cs.Sent()); !bytes.HasPrefix([]byte(sent), []byte("\x041\x052\x05"+block+"\x04")) {
		t.Errorf("control station sent %q", sent)
	}
	if got := string(cs.Received()); got != "\x06\x06\x06\x06" {
		t.Errorf("outstation answered %q, want four ACKs", got)
	}
}

// A block with a corrupted BCC is answered NAK; the control station sends
// it again and the call is taken once.
func TestCorruptBCCOverPTY(t *testing.T) {
	t.Parallel()
	o, cs, k := startOutstation(t, espa.OutstationConfig{})
	ctx := testCtx(t)
	cs.CorruptNextBCC()
	if err := cs.Call(ctx, codeBlue()); err != nil {
		t.Fatal(err)
	}
	if got := k.list(); len(got) != 1 {
		t.Fatalf("calls %q, want one", got)
	}
	if got := string(cs.Received()); got != "\x06\x15\x06" {
		t.Errorf("outstation answered %q, want ACK (select), NAK, ACK", got)
	}
	sent := cs.Sent()
	if i := bytes.Index(sent, []byte("\x03\x54")); i < 0 || !bytes.Contains(sent[i:], []byte("\x03\x55")) {
		t.Errorf("control station sent %q, want the block with BCC 0x54, then 0x55", sent)
	}
	if s := o.Stats(); s.BadBlocks != 1 || s.Calls != 1 {
		t.Errorf("stats %+v", s)
	}
}

// An ACK lost on the line makes the control station send the block again:
// ACKed again, taken once.
func TestLostACKOverPTY(t *testing.T) {
	t.Parallel()
	o, cs, k := startOutstation(t, espa.OutstationConfig{})
	ctx := testCtx(t)
	cs.LoseNextACK()
	if err := cs.Call(ctx, codeBlue()); err != nil {
		t.Fatal(err)
	}
	if err := cs.Call(ctx, espa.Call{Address: "1002"}); err != nil {
		t.Fatal(err)
	}
	if got, want := k.list(), []string{"1001:Code Blue 4W Rm 412", "1002:"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
	if s := o.Stats(); s.Duplicates != 1 || s.Calls != 2 {
		t.Errorf("stats %+v", s)
	}
}

// Status 6 queued by us reaches the control station on its poll.
func TestStatusOverPTY(t *testing.T) {
	t.Parallel()
	o, cs, _ := startOutstation(t, espa.OutstationConfig{})
	ctx := testCtx(t)
	if got, err := cs.Poll(ctx); err != nil || len(got) != 0 {
		t.Fatalf("Poll = %v, %v; want nothing", got, err)
	}
	if err := o.QueueStatus(espa.Status{Address: "1001", Call: espa.StatusAcknowledged}); err != nil {
		t.Fatal(err)
	}
	got, err := cs.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []espa.Status{{Address: "1001", Call: espa.StatusAcknowledged}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Poll = %v, want %v", got, want)
	}
	// Poll: EOT; poll with status: select 1, the block, EOT.
	status := "\x012\x021\x1f1001\x1e7\x1f6\x03\x1d"
	if got, want := string(cs.Received()), "\x04"+"1\x05"+status+"\x04"; got != want {
		t.Errorf("outstation sent %q, want %q", got, want)
	}
	if s := o.Stats(); s.StatusSent != 1 || s.Queued != 0 {
		t.Errorf("stats %+v", s)
	}
}

// Many calls through a line that garbles blocks and loses ACKs, while
// status goes the other way: every call the control station saw ACKed is
// taken exactly once, in order, and every status arrives.
func TestNothingLostOrTwiceOverPTY(t *testing.T) {
	t.Parallel()
	o, cs, k := startOutstation(t, espa.OutstationConfig{})
	ctx := testCtx(t)
	var want []string
	for i := range 30 {
		switch i % 5 {
		case 1:
			cs.CorruptNextBCC()
		case 3:
			cs.LoseNextACK()
		}
		c := espa.Call{Address: fmt.Sprint(2000 + i), Text: paging.NewPHI(fmt.Sprintf("call %d", i))}
		if err := cs.Call(ctx, c); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		want = append(want, c.Address+":"+c.Text.Reveal())
		if i%10 == 9 {
			if err := o.QueueStatus(espa.Status{Address: c.Address, Call: espa.StatusPaged}); err != nil {
				t.Fatal(err)
			}
			if _, err := cs.Poll(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := k.list(); !reflect.DeepEqual(got, want) {
		t.Fatalf("calls taken %q\nwant %q", got, want)
	}
	if got := cs.Statuses(); len(got) != 3 || got[2].Address != "2029" {
		t.Fatalf("statuses %v", got)
	}
	if s := o.Stats(); s.Duplicates != 6 || s.BadBlocks != 6 {
		t.Errorf("stats %+v, want 6 duplicates and 6 bad blocks", s)
	}
}

// Our control station role against the simulated ESPA paging system:
// calls go out, "paged" comes back on the poll, through a corrupted BCC
// and a lost ACK each way.
func TestControlStationOverPTY(t *testing.T) {
	t.Parallel()
	ps, err := sim.NewESPAPagingSystem(t.TempDir(), sim.ESPAPagingSystemOptions{
		AutoStatus: espa.StatusPaged,
		Outstation: espa.OutstationConfig{ResponseTimeout: fast},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ps.Close() })
	type result struct {
		statuses []espa.Status
		err      error
	}
	done := make(chan result, 1)
	ps.LoseNextACK()    // of its first status block
	ps.CorruptNextBCC() // its first status block's first try
	serveLine(t, ps.Path(), func(ctx context.Context, rw io.ReadWriter) error {
		cs, err := espa.NewControlStation(rw, espa.ControlConfig{ResponseTimeout: fast})
		if err != nil {
			done <- result{err: err}
			return err
		}
		var r result
		for _, a := range []string{"3001", "3002"} {
			if r.err = cs.SendCall(ctx, espa.Call{Address: a, Text: paging.NewPHI("to " + a)}); r.err != nil {
				done <- r
				return nil
			}
		}
		for len(r.statuses) < 2 && ctx.Err() == nil {
			_, err := cs.Poll(ctx, func(b espa.Block) error {
				s, err := espa.DecodeStatus(b, espa.Standard)
				if err == nil {
					r.statuses = append(r.statuses, s)
				}
				return err
			})
			if err != nil {
				r.err = err
				break
			}
		}
		done <- r
		<-ctx.Done()
		return nil
	})
	var r result
	select {
	case r = <-done:
	case <-time.After(safety):
		t.Fatal("control station did not finish")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	want := []espa.Status{{Address: "3001", Call: espa.StatusPaged}, {Address: "3002", Call: espa.StatusPaged}}
	if !reflect.DeepEqual(r.statuses, want) {
		t.Fatalf("statuses %v, want %v", r.statuses, want)
	}
	var got []string
	for _, c := range ps.Calls() {
		got = append(got, c.Address)
	}
	if !reflect.DeepEqual(got, []string{"3001", "3002"}) {
		t.Fatalf("paging system took %v", got)
	}
}
