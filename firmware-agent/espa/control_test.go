package espa

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"testing/synctest"
	"time"

	"pagebridge/gateway/paging"
)

func newControl(t *testing.T, cfg ControlConfig) (*ControlStation, peer, *wireEnd) {
	t.Helper()
	a, b := wire()
	cs, err := NewControlStation(a, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs, peer{t, b}, a
}

// script answers what a control station sends with canned bytes, in
// order, one answer per thing it waits for; nil answers nothing.
func script(p peer, expect [][]byte, answers [][]byte) chan error {
	done := make(chan error, 1)
	go func() {
		for i, want := range expect {
			got := p.read(time.Minute, len(want))
			if string(got) != string(want) {
				done <- errors.New("step " + string(rune('0'+i)) + ": got " + string(got) + ", want " + string(want))
				return
			}
			if answers[i] != nil {
				if _, err := p.w.Write(answers[i]); err != nil {
					done <- err
					return
				}
			}
		}
		done <- nil
	}()
	return done
}

func TestControlSend(t *testing.T) {
	call := Call{Address: "1001", Text: paging.NewPHI("Code Blue 4W Rm 412"), Type: CallStandard, Priority: PriorityAlarm}
	raw := mustEncode(t, call)
	sel := []byte{EOT, '1', ENQ, '2', ENQ}
	cases := []struct {
		name    string
		expect  [][]byte
		answers [][]byte
		want    error
	}{
		{"ACK", [][]byte{sel, raw, {EOT}}, [][]byte{{ACK}, {ACK}, nil}, nil},
		{"prefixed NAK then ACK", [][]byte{sel, raw, raw, {EOT}}, [][]byte{{ACK}, {'1', NAK}, {ACK}, nil}, nil},
		{"select not answered once", [][]byte{sel, sel, raw, {EOT}}, [][]byte{nil, {ACK}, {ACK}, nil}, nil},
		{"not ready", [][]byte{sel, {EOT}}, [][]byte{{NAK}, nil}, ErrNotReady},
		{"never selected", [][]byte{sel, sel, sel, sel, {EOT}}, [][]byte{nil, nil, nil, nil, nil}, ErrNotReady},
		{"refused", [][]byte{sel, raw, raw, raw, raw, {EOT}}, [][]byte{{ACK}, {NAK}, {NAK}, {NAK}, {NAK}, nil}, ErrRefused},
		{"answer lost", [][]byte{sel, raw, raw, raw, raw, {EOT}}, [][]byte{{ACK}, nil, {NAK}, {NAK}, {NAK}, nil}, ErrUnknown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cs, p, _ := newControl(t, ControlConfig{})
				done := script(p, c.expect, c.answers)
				err := cs.SendCall(context.Background(), call)
				if !errors.Is(err, c.want) && !(c.want == nil && err == nil) {
					t.Fatalf("Send = %v, want %v", err, c.want)
				}
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				p.silent(wait)
			})
		})
	}
}

func TestControlPoll(t *testing.T) {
	s1, _ := Status{Address: "1001", Call: StatusPaged}.Encode(Standard)
	s2, _ := Status{Address: "1001", Call: StatusAcknowledged}.Encode(Standard)
	bad := append([]byte(nil), s2...)
	bad[len(bad)-1] ^= 0x40
	poll := []byte{EOT, '2', ENQ}
	cases := []struct {
		name    string
		expect  [][]byte
		answers [][]byte
		want    []CallStatus
		wantErr error
	}{
		{"nothing", [][]byte{poll}, [][]byte{{EOT}}, nil, nil},
		{"two statuses", [][]byte{poll, {ACK}, {ACK}, {ACK}}, [][]byte{{'1', ENQ}, s1, s2, {EOT}}, []CallStatus{3, 6}, nil},
		{"bad BCC, then again", [][]byte{poll, {ACK}, {NAK}, {ACK}}, [][]byte{{'1', ENQ}, bad, s2, {EOT}}, []CallStatus{6}, nil},
		{"lost ACK", [][]byte{poll, {ACK}, {ACK}, {ACK}}, [][]byte{{'1', ENQ}, s1, s1, {EOT}}, []CallStatus{3}, nil},
		{"silence", [][]byte{poll, {EOT}}, [][]byte{nil, nil}, nil, ErrTimeout},
		{"silence after a block", [][]byte{poll, {ACK}, {ACK}, {EOT}}, [][]byte{{'1', ENQ}, s1, nil, nil}, []CallStatus{3}, ErrTimeout},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cs, p, _ := newControl(t, ControlConfig{})
				done := script(p, c.expect, c.answers)
				var got []CallStatus
				n, err := cs.Poll(context.Background(), func(b Block) error {
					s, err := DecodeStatus(b, Standard)
					got = append(got, s.Call)
					return err
				})
				if !errors.Is(err, c.wantErr) && !(c.wantErr == nil && err == nil) {
					t.Fatalf("Poll = %v, want %v", err, c.wantErr)
				}
				if n != len(c.want) || !reflect.DeepEqual(got, c.want) {
					t.Fatalf("Poll took %d: %v, want %v", n, got, c.want)
				}
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

// Both roles against each other: calls one way, status the other.
func TestControlAgainstOutstation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startOutstation(t, OutstationConfig{})
		cs, err := NewControlStation(h.p.w, ControlConfig{})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for _, a := range []string{"1", "2", "3"} {
			if err := cs.SendCall(ctx, Call{Address: a, Text: paging.NewPHI("x " + a)}); err != nil {
				t.Fatal(err)
			}
		}
		if got := addresses(h.Calls()); !reflect.DeepEqual(got, []string{"1", "2", "3"}) {
			t.Fatalf("calls %v", got)
		}
		if n, err := cs.Poll(ctx, func(Block) error { return nil }); n != 0 || err != nil {
			t.Fatalf("Poll = %d, %v", n, err)
		}
		for _, a := range []string{"1", "3"} {
			if err := h.o.QueueStatus(Status{Address: a, Call: StatusAcknowledged}); err != nil {
				t.Fatal(err)
			}
		}
		var got []Status
		n, err := cs.Poll(ctx, func(b Block) error {
			s, err := DecodeStatus(b, Standard)
			got = append(got, s)
			return err
		})
		if n != 2 || err != nil || got[0].Address != "1" || got[1].Address != "3" || got[1].Call != StatusAcknowledged {
			t.Fatalf("Poll = %d, %v: %v", n, err, got)
		}
	})
}

func TestNewControlStationChecks(t *testing.T) {
	for name, cfg := range map[string]ControlConfig{
		"letter":     {Address: 'x'},
		"same":       {Address: '2', Outstation: '2'},
		"outstation": {Outstation: 0x05},
	} {
		if _, err := NewControlStation(nil, cfg); err == nil {
			t.Errorf("%s: took it", name)
		}
	}
}
