package transmitter

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// lines records SetRTS and SetDTR calls.
type lines struct {
	calls []string
	fail  error
}

func (l *lines) SetRTS(v bool) error { return l.set("RTS", v) }
func (l *lines) SetDTR(v bool) error { return l.set("DTR", v) }
func (l *lines) set(name string, v bool) error {
	if l.fail != nil {
		return l.fail
	}
	l.calls = append(l.calls, name+map[bool]string{true: "+", false: "-"}[v])
	return nil
}

func TestSerialPTT(t *testing.T) {
	for _, c := range []struct {
		line      Line
		activeLow bool
		want      string
	}{
		{RTS, false, "RTS+ RTS-"},
		{DTR, false, "DTR+ DTR-"},
		{RTS, true, "RTS- RTS+"},
		{DTR, true, "DTR- DTR+"},
	} {
		l := &lines{}
		p := NewSerialPTT(l, c.line, c.activeLow)
		if err := p.Key(true); err != nil {
			t.Fatal(err)
		}
		if err := p.Key(false); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(l.calls, " "); got != c.want {
			t.Errorf("%v active low %v: %s, want %s", c.line, c.activeLow, got, c.want)
		}
	}
	l := &lines{fail: errors.New("EIO")}
	if err := NewSerialPTT(l, DTR, false).Key(true); !errors.Is(err, ErrPTT) || !strings.Contains(err.Error(), "set DTR true") {
		t.Errorf("failing line: %v", err)
	}
	for s, want := range map[string]Line{"rts": RTS, "DTR": DTR} {
		if got, err := ParseLine(s); err != nil || got != want {
			t.Errorf("ParseLine(%s) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseLine("cts"); !errors.Is(err, ErrConfig) {
		t.Errorf("ParseLine(cts) = %v", err)
	}
}

// TestOpenSerialPTTOnPty: a pty has no modem control lines, so the real
// go.bug.st/serial path refuses it with a clear error instead of seeming
// to key a transmitter that is not there. (Keying itself is tested with
// the recording lines above.)
func TestOpenSerialPTTOnPty(t *testing.T) {
	m, s, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer m.Close()
	defer s.Close()
	_, err = OpenSerialPTT(s.Name(), RTS, false)
	if !errors.Is(err, ErrPTT) || !strings.Contains(err.Error(), s.Name()) {
		t.Fatalf("OpenSerialPTT on a pty: %v, want ErrPTT naming the device", err)
	}
	if _, err := OpenSerialPTT("/dev/pagebridge-no-such-port", DTR, false); !errors.Is(err, ErrPTT) {
		t.Errorf("missing device: %v", err)
	}
}

func TestSimClock(t *testing.T) {
	c := NewSimClock(t0)
	var got []string
	c.At(t0.Add(3*time.Second), func() { got = append(got, "3s at "+c.Now().Sub(t0).String()) })
	c.At(t0.Add(time.Second), func() {
		got = append(got, "1s at "+c.Now().Sub(t0).String())
		c.At(t0.Add(2*time.Second), func() { got = append(got, "2s at "+c.Now().Sub(t0).String()) })
	})
	c.At(t0.Add(time.Second), func() { got = append(got, "1s again") })
	if err := c.Sleep(context.Background(), 2500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if s := strings.Join(got, ", "); s != "1s at 1s, 1s again, 2s at 2s" || c.Now() != t0.Add(2500*time.Millisecond) {
		t.Errorf("events %q, now %v", s, c.Now().Sub(t0))
	}
	c.Advance(time.Second)
	if len(got) != 4 || got[3] != "3s at 3s" {
		t.Errorf("events %q", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.At(t0.Add(4*time.Second), cancel)
	if err := c.Sleep(ctx, time.Minute); !errors.Is(err, context.Canceled) || c.Now() != t0.Add(4*time.Second) {
		t.Errorf("Sleep ended by an event: %v, now %v; want 4s", err, c.Now().Sub(t0))
	}
	if err := c.Sleep(ctx, time.Second); !errors.Is(err, context.Canceled) || c.Now() != t0.Add(4*time.Second) {
		t.Errorf("Sleep on an ended ctx: %v, now %v", err, c.Now().Sub(t0))
	}
}

func TestSystemClockSleep(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (SystemClock{}).Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep on an ended ctx: %v", err)
	}
	if err := (SystemClock{}).Sleep(context.Background(), 0); err != nil {
		t.Errorf("Sleep(0): %v", err)
	}
}

// TestDutyCycle holds the sliding-window arithmetic to hand-worked cases:
// 10 % of 100 s, 3 s reserved for critical pages.
func TestDutyCycle(t *testing.T) {
	d := NewDutyCycle(0.1, 100*time.Second, 3*time.Second)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	d.Record(at(0), at(4))
	d.Record(at(10), at(12))
	for _, c := range []struct {
		now  float64
		used time.Duration
	}{
		{12, 6 * time.Second}, {50, 6 * time.Second}, {102, 4 * time.Second}, {103, 3 * time.Second}, {111, time.Second}, {200, 0},
	} {
		if got := d.Used(at(c.now)); got != c.used {
			t.Errorf("Used at %vs = %v, want %v", c.now, got, c.used)
		}
	}
	// Routine budget 7 s: 1 s left now; critical 10 s: 4 s.
	if got := d.MaxLength(at(20), false, time.Minute); got.Round(time.Millisecond) != time.Second {
		t.Errorf("routine MaxLength at 20 s = %v, want 1s", got)
	}
	if got := d.MaxLength(at(20), true, time.Minute); got.Round(time.Millisecond) != 4*time.Second {
		t.Errorf("critical MaxLength at 20 s = %v, want 4s", got)
	}
	if got := d.MaxLength(at(20), true, 2*time.Second); got != 2*time.Second {
		t.Errorf("MaxLength capped = %v", got)
	}
	// 3 s of routine traffic: the window ending with it may hold 4 s of
	// old time, so it must have lost 2 s of the span [0, 4]: it starts
	// at 99 s (window [2, 102]).
	if got := d.EarliestStart(at(20), 3*time.Second, false); !got.Equal(at(99)) {
		t.Errorf("EarliestStart(3 s) = %v, want 99s", got.Sub(t0))
	}
	if got := d.EarliestStart(at(20), 4*time.Second, true); !got.Equal(at(20)) {
		t.Errorf("critical EarliestStart(4 s) = %v, want now", got.Sub(t0))
	}
	if got := d.EarliestStart(at(20), 8*time.Second, false); !got.IsZero() {
		t.Errorf("8 s above the 7 s budget: %v", got)
	}
	// Old spans leave the account.
	d.Record(at(300), at(301))
	if len(d.spans) != 1 {
		t.Errorf("%d spans kept", len(d.spans))
	}
	none := NewDutyCycle(0, 0, 0)
	if none.Limited() || none.MaxLength(t0, false, time.Minute) != time.Minute || !none.EarliestStart(t0, time.Hour, false).Equal(t0) {
		t.Errorf("no limit limits")
	}
}
