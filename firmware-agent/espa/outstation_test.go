package espa

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"pagebridge/gateway/paging"
)

// These tests run inside synctest bubbles: the timeouts pass in fake
// time, and nothing sleeps for real.

type osHarness struct {
	o    *Outstation
	p    peer
	line *wireEnd
	err  chan error

	mu     sync.Mutex
	calls  []Call
	refuse int // the next n calls are refused
	sent   []Status
}

// startOutstation serves an outstation on one end of a wire; the peer
// has the other end. It stops when the test ends.
func startOutstation(t *testing.T, cfg OutstationConfig) *osHarness {
	t.Helper()
	h := &osHarness{err: make(chan error, 1)}
	cfg.OnStatusSent = func(s Status) {
		h.mu.Lock()
		h.sent = append(h.sent, s)
		h.mu.Unlock()
	}
	o, err := NewOutstation(cfg, func(_ context.Context, c Call) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.refuse > 0 {
			h.refuse--
			return errors.New("spool full")
		}
		h.calls = append(h.calls, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	a, b := wire()
	h.o, h.p, h.line = o, peer{t, b}, a
	ctx, cancel := context.WithCancel(context.Background())
	go func() { h.err <- o.Serve(ctx, a) }()
	t.Cleanup(func() {
		cancel()
		if err := <-h.err; !errors.Is(err, context.Canceled) {
			t.Errorf("Serve = %v, want context.Canceled", err)
		}
	})
	return h
}

func (h *osHarness) Calls() []Call {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Call(nil), h.calls...)
}

func (h *osHarness) Sent() []Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Status(nil), h.sent...)
}

const wait = time.Second // how long a peer waits for an answer that must come

func mustEncode(t testing.TB, c Call) []byte {
	t.Helper()
	raw, err := c.Encode(Standard)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func addresses(calls []Call) []string {
	var a []string
	for _, c := range calls {
		a = append(a, c.Address)
	}
	return a
}

var selectSeq = []byte{EOT, '1', ENQ, '2', ENQ}

func TestOutstationPollNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startOutstation(t, OutstationConfig{})
		h.p.send(EOT, '2', ENQ)
		h.p.expect(wait, EOT)
		// A poll without EOT first (a control station that just started).
		h.p.send('2', ENQ)
		h.p.expect(wait, EOT)
	})
}

func TestOutstationTakesCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startOutstation(t, OutstationConfig{})
		h.p.send(selectSeq...)
		h.p.expect(wait, ACK)
		c1 := Call{Address: "1001", Text: paging.NewPHI("Code Blue 4W Rm 412"), Type: CallStandard, Priority: PriorityAlarm}
		h.p.send(mustEncode(t, c1)...)
		h.p.expect(wait, ACK)
		h.p.send(mustEncode(t, Call{Address: "1002", Beep: 2})...)
		h.p.expect(wait, ACK)
		h.p.send(EOT)
		h.p.send(EOT, '2', ENQ)
		h.p.expect(wait, EOT)
		got := h.Calls()
		if len(got) != 2 || !reflect.DeepEqual(got[0], c1) || got[0].Text.Reveal() != "Code Blue 4W Rm 412" || got[1].Beep != 2 {
			t.Fatalf("calls %#v", got)
		}
		if s := h.o.Stats(); s.Calls != 2 || s.Duplicates != 0 || s.BadBlocks != 0 {
			t.Errorf("stats %+v", s)
		}
	})
}

func TestOutstationBadBCCThenRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startOutstation(t, OutstationConfig{})
		h.p.send(selectSeq...)
		h.p.expect(wait, ACK)
		raw := mustEncode(t, Call{Address: "1001", Text: paging.NewPHI("Room 4")})
		bad := append([]byte(nil), raw...)
		bad[len(bad)-1] ^= 0x01
		h.p.send(bad...)
		h.p.expect(wait, NAK)
		if n := len(h.Calls()); n != 0 {
			t.Fatalf("%d calls after a bad BCC", n)
		}
		h.p.send(raw...)
		h.p.expect(wait, ACK)
		h.p.send(EOT)
		if got := addresses(h.Calls()); !reflect.DeepEqual(got, []string{"1001"}) {
			t.Fatalf("calls %v", got)
		}
		if s := h.o.Stats(); s.BadBlocks != 1 || s.Calls != 1 {
			t.Errorf("stats %+v", s)
		}
	})
}

// A block sent again because our ACK was lost is ACKed and taken once; the
// same call in a later selection is a new call.
func TestOutstationLostACK(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startOutstation(t, OutstationConfig{})
		raw := mustEncode(t, Call{Address: "1001"})
		h.p.send(selectSeq...)
		h.p.expect(wait, ACK)
		h.p.send(raw...)
		h.p.expect(wait, ACK) // "lost": the control station sends it again
		h.p.send(raw...)
		h.p.expect(wait, ACK)
		// It may select us again first, too.
		h.p.send('2', ENQ)
		h.p.expect(wait, ACK)
		h.p.send(raw...)
		h.p.expect(wait, ACK)
		h.p.send(EOT)
		if got := addresses(h.Calls()); !reflect.DeepEqual(got, []string{"1001"}) {
			t.Fatalf("calls %v, want one", got)
		}
		h.p.send(selectSeq...)
		h.p.expect(wait, ACK)
		h.p.send(raw...)
		h.p.expect(wait, ACK)
		h.p.send(EOT)
		if got := addresses(h.Calls()); len(got) != 2 {
			t.Fatalf("calls %v, want the same call again after EOT", got)
		}
		if s := h.o.Stats(); s.Duplicates != 2 {
			t.Errorf("stats %+v, want 2 duplicates", s)
		}
	})
}

// A line that fails between our ACK and the control station's next word
// leaves the call unsettled: sent again after the line is back, it is
// taken once.
func TestOutstationLostACKAcrossReconnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls []Call
		o, err := NewOutstation(OutstationConfig{}, func(_ context.Context, c Call) error {
			calls = append(calls, c)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		raw := mustEncode(t, Call{Address: "7"})
		a, b := wire()
		done := make(chan error, 1)
		go func() { done <- o.Serve(context.Background(), a) }()
		p := peer{t, b}
		p.send(selectSeq...)
		p.expect(wait, ACK)
		p.send(raw...)
		p.expect(wait, ACK)
		a.Close() // the line drops before the control station saw the ACK
		if err := <-done; !errors.Is(err, ErrLine) {
			t.Fatalf("Serve = %v, want ErrLine", err)
		}
		a, b = wire()
		ctx, cancel := context.WithCancel(context.Background())
		go func() { done <- o.Serve(ctx, a) }()
		p = peer{t, b}
		p.send(selectSeq...) // its EOT does not settle the call: we do not know what it saw
		p.expect(wait, ACK)
		p.send(raw...)
		p.expect(wait, ACK)
		p.send(EOT)
		cancel()
		<-done
		if len(calls) != 1 {
			t.Fatalf("%d calls, want 1", len(calls))
		}
	})
}

func TestOutstationRefusedCallIsNAKed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startOutstation(t, OutstationConfig{})
		h.refuse = 1
		raw := mustEncode(t, Call{Address: "1001"})
		h.p.send(selectSeq...)
		h.p.expect(wait, ACK)
		h.p.send(raw...)
		h.p.expect(wait, NAK)
		h.p.send(raw...)
		h.p.expect(wait, ACK)
		h.p.send(EOT)
		if got := addresses(h.Calls()); !reflect.DeepEqual(got, []string{"1001"}) {
			t.Fatalf("calls %v", got)
		}
		if s := h.o.Stats(); s.Refused != 1 || s.Calls != 1 {
			t.Errorf("stats %+v", s)
		}
	})
}

func TestOutstationOtherBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startOutstation(t, OutstationConfig{Dialect: Ascom})
		h.p.send(selectSeq...)
		h.p.expect(wait, ACK)
		for _, c := range []struct {
			b    Block
			want byte
		}{
			{Block{Header: HeaderStatus, Records: []Record{{'8', "1"}}}, ACK},
			{Block{Header: HeaderStatusRequest, Records: []Record{{'1', "1001"}}}, ACK},
			{Block{Header: HeaderLicense}, NAK},
			{Block{Header: HeaderModuleKey}, NAK},
			{Block{Header: HeaderCall, Records: []Record{{'2', "no address"}}}, NAK},
			{Block{Header: HeaderCall, Records: []Record{{'1', "1"}, {'6', "7"}}}, NAK},
		} {
			raw, err := EncodeBlock(c.b)
			if err != nil {
				t.Fatal(err)
			}
			h.p.send(raw...)
			h.p.expect(wait, c.want)
		}
		if n := len(h.Calls()); n != 0 {
			t.Fatalf("%d calls", n)
		}
		if s := h.o.Stats(); s.Ignored != 2 || s.BadBlocks != 4 {
			t.Errorf("stats %+v", s)
		}
	})
}

// With the Ascom dialect a call with a running number taken before is a
// retransmission even in a new selection; another number is a new call.
func TestOutstationRunningNumbers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startOutstation(t, OutstationConfig{Dialect: Ascom})
		c := Call{Address: "1001", RunningNumber: "17"}
		for _, rn := range []string{"17", "17", "18", "17"} {
			c.RunningNumber = rn
			raw, err := c.Encode(Ascom)
			if err != nil {
				t.Fatal(err)
			}
			h.p.send(selectSeq...)
			h.p.expect(wait, ACK)
			h.p.send(raw...)
			h.p.expect(wait, ACK)
			h.p.send(EOT)
		}
		var got []string
		for _, c := range h.Calls() {
			got = append(got, c.RunningNumber)
		}
		if !reflect.DeepEqual(got, []string{"17", "18"}) {
			t.Fatalf("running numbers taken %v", got)
		}
	})
}

// Polls and selects for other stations on a multidrop line are not ours.
func TestOutstationMultidrop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startOutstation(t, OutstationConfig{})
		h.p.send(EOT, '3', ENQ) // poll of station 3
		h.p.send('1', ENQ)      // which selects the control station
		h.p.send(mustEncode(t, Call{Address: "9"})...)
		h.p.silent(wait)
		h.p.send(EOT, '1', ENQ, '4', ENQ) // the control station selects station 4
		h.p.send(mustEncode(t, Call{Address: "9"})...)
		h.p.silent(wait)
		h.p.send(EOT, '2', ENQ)
		h.p.expect(wait, EOT)
		if n := len(h.Calls()); n != 0 {
			t.Fatalf("%d calls", n)
		}
	})
}

// A selection left hanging is dropped after IdleTimeout: a block then is
// not ours until we are selected again. A block half sent and then
// abandoned is dropped too.
func TestOutstationIdleTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startOutstation(t, OutstationConfig{IdleTimeout: 5 * time.Second})
		raw := mustEncode(t, Call{Address: "55"})
		h.p.send(selectSeq...)
		h.p.expect(wait, ACK)
		h.p.send(raw[:4]...)
		time.Sleep(6 * time.Second)
		h.p.send(raw[4:]...) // the rest of the block: not a block on its own
		h.p.silent(wait)
		h.p.send(raw...) // a whole block, but the selection is over
		h.p.silent(wait)
		h.p.send('1', ENQ, '2', ENQ)
		h.p.expect(wait, ACK)
		h.p.send(raw...)
		h.p.expect(wait, ACK)
		if got := addresses(h.Calls()); !reflect.DeepEqual(got, []string{"55"}) {
			t.Fatalf("calls %v", got)
		}
	})
}

func TestOutstationSendsStatus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startOutstation(t, OutstationConfig{})
		s1 := Status{Address: "1001", Call: StatusAcknowledged}
		s2 := Status{Address: "1002", Call: StatusPaged}
		for _, s := range []Status{s1, s2} {
			if err := h.o.QueueStatus(s); err != nil {
				t.Fatal(err)
			}
		}
		h.p.send(EOT, '2', ENQ)
		h.p.expect(wait, '1', ENQ) // we select the control station
		h.p.send(ACK)
		raw1, _ := s1.Encode(Standard)
		h.p.expect(wait, raw1...)
		h.p.send(ACK)
		raw2, _ := s2.Encode(Standard)
		h.p.expect(wait, raw2...)
		h.p.send(NAK) // garbled: sent again
		h.p.expect(wait, raw2...)
		h.p.send(ACK)
		h.p.expect(wait, EOT)
		h.p.send(EOT, '2', ENQ)
		h.p.expect(wait, EOT) // nothing left
		if got := h.Sent(); !reflect.DeepEqual(got, []Status{s1, s2}) {
			t.Fatalf("sent %v", got)
		}
		if s := h.o.Stats(); s.StatusSent != 2 || s.Queued != 0 {
			t.Errorf("stats %+v", s)
		}
	})
}

// A status the control station does not answer stays queued for its next
// poll; one it refuses MaxRetries+1 times is dropped; a select it does
// not answer ends the turn.
func TestOutstationStatusFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var dropped []Status
		h := startOutstation(t, OutstationConfig{MaxRetries: 2, OnStatusDropped: func(s Status) { dropped = append(dropped, s) }})
		s := Status{Address: "1001", Call: StatusFault}
		raw, _ := s.Encode(Standard)
		if err := h.o.QueueStatus(s); err != nil {
			t.Fatal(err)
		}
		// The select goes unanswered: EOT after ResponseTimeout.
		h.p.send(EOT, '2', ENQ)
		h.p.expect(wait, '1', ENQ)
		h.p.expect(DefaultResponseTimeout+wait, EOT)
		// NAK to the select: not ready.
		h.p.send('2', ENQ)
		h.p.expect(wait, '1', ENQ)
		h.p.send(NAK)
		h.p.expect(wait, EOT)
		// The block goes unanswered three times: kept.
		h.p.send('2', ENQ)
		h.p.expect(wait, '1', ENQ)
		h.p.send(ACK)
		for range 3 {
			h.p.expect(DefaultResponseTimeout+wait, raw...)
		}
		h.p.expect(DefaultResponseTimeout+wait, EOT)
		if st := h.o.Stats(); st.Queued != 1 {
			t.Fatalf("stats %+v, want the status still queued", st)
		}
		// Refused three times: dropped.
		h.p.send('2', ENQ)
		h.p.expect(wait, '1', ENQ)
		h.p.send(ACK)
		for range 3 {
			h.p.expect(wait, raw...)
			h.p.send(NAK)
		}
		h.p.expect(wait, EOT)
		if st := h.o.Stats(); st.Queued != 0 || st.StatusFailed != 1 || len(dropped) != 1 {
			t.Fatalf("stats %+v, dropped %v", st, dropped)
		}
	})
}

func TestOutstationQueueLimits(t *testing.T) {
	o, err := NewOutstation(OutstationConfig{MaxQueue: 2}, func(context.Context, Call) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	s := Status{Address: "1", Call: StatusPaged}
	for i := range 3 {
		err := o.QueueStatus(s)
		if want := i == 2; errors.Is(err, ErrQueueFull) != want {
			t.Fatalf("QueueStatus %d: %v", i, err)
		}
	}
	if err := o.QueueStatus(Status{Address: "1"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("QueueStatus without a status: %v, want ErrInvalid", err)
	}
}

func TestNewOutstationChecks(t *testing.T) {
	accept := func(context.Context, Call) error { return nil }
	for name, cfg := range map[string]OutstationConfig{
		"letter address": {Address: 'A'},
		"same addresses": {Address: '1', ControlAddress: '1'},
		"bad control":    {ControlAddress: '!'},
	} {
		if _, err := NewOutstation(cfg, accept); err == nil {
			t.Errorf("%s: NewOutstation took it", name)
		}
	}
	if _, err := NewOutstation(OutstationConfig{}, nil); err == nil {
		t.Error("NewOutstation without accept")
	}
}
