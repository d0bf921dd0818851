package at

import (
	"context"
	"errors"
	"testing"
	"time"
)

// FuzzEngine: arbitrary bytes from the modem, in chunks, interleaved with
// a well-behaved modem's answers, while commands (a prompt command too)
// run. No panic, no deadlock: every call returns within its bounded ctx,
// with a result or one of the documented errors, and Close returns.
func FuzzEngine(f *testing.F) {
	for _, m := range malformed {
		f.Add([]byte(m.raw), uint8(3))
	}
	f.Add([]byte("\r\n+CMTI: \"ME\",3\r\n\r\n+CMT: ,24\r\n0791\r\nRING\r\n"), uint8(1))
	f.Add([]byte("\r\n> \x1a\x1b\r\n+CMGS: 4\r\n\r\nOK\r\n"), uint8(7))
	f.Add([]byte("AT+CSQ\r\r\n+CSQ: 1,1\r\n\r\nOK\r\n+CME ERROR: SIM busy\r\n"), uint8(2))
	f.Fuzz(func(t *testing.T, noise []byte, chunk uint8) {
		if len(noise) > 8192 {
			return
		}
		size := int(chunk%16) + 1
		opts := Options{
			Timeout:       20 * time.Millisecond,
			Quiet:         2 * time.Millisecond,
			ResyncTimeout: 20 * time.Millisecond,
			MaxLine:       256,
			URCQueue:      8,
			OnURC:         func(URC) {},
		}
		agent, modem := newLine()
		fm := newFakeModem(t, modem)
		e := New(agent, opts)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()

		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; i < len(noise); i += size {
				fm.send(string(noise[i:min(i+size, len(noise))]))
			}
		}()
		calls := make(chan error, 8)
		for _, cmd := range []string{"AT+CSQ", "AT+CGMI", "AT+CREG?"} {
			go func() { _, err := e.Exec(ctx, cmd); calls <- err }()
		}
		go func() { _, err := e.SendPDU(ctx, 1, "0001", 50*time.Millisecond); calls <- err }()
		for range 4 {
			select {
			case err := <-calls:
				if err != nil && !knownError(err) {
					t.Fatalf("undocumented error %v", err)
				}
			case <-time.After(wait):
				t.Fatal("a command never returned (deadlock)")
			}
		}
		<-done
		closed := make(chan struct{})
		go func() { e.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(wait):
			t.Fatal("Close never returned")
		}
		fm.unplug()
	})
}

func knownError(err error) bool {
	for _, s := range []error{ErrTimeout, ErrUnknown, ErrPort, ErrUnresponsive, ErrClosed, context.DeadlineExceeded} {
		if errors.Is(err, s) {
			return true
		}
	}
	return ClassOf(err) != Unclassified
}
