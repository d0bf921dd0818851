package at

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"pagebridge/firmware-agent/serialport"
	"pagebridge/firmware-agent/sim"
)

// Over a real pty, through the agent's serial path (serialport, go.bug.st/
// serial), against the simulated modem: echo on then off, info lines with
// and without prefixes, numeric and verbose errors, a resync with the
// default probes, and the modem unplugged under the engine. Only what the
// simulator answers today is used (AT, ATE0, AT+CMEE, AT+CPIN?, AT+CSQ,
// AT+CREG?, AT+CGMI).
func TestSimulatedModemPTY(t *testing.T) {
	t.Parallel()
	m, err := sim.NewModem(t.TempDir(), sim.ModemOptions{RSSI: 17}) // echo on, as at power-on
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	line, err := serialport.New(serialport.Config{
		Path: m.Path(), Baud: 115200, ReadTimeout: 20 * time.Millisecond,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()

	sessionErr := make(chan error, 1)
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		line.Run(ctx, func(ctx context.Context, rw io.ReadWriter, ready func()) error {
			err := session(t, ctx, m, rw)
			sessionErr <- err
			cancel() // one session is the test
			return err
		})
	}()
	select {
	case err := <-sessionErr:
		if !errors.Is(err, ErrPort) {
			t.Fatalf("session ended with %v, want ErrPort", err)
		}
	case <-time.After(wait):
		t.Fatal("session never ended")
	}
	<-runDone
}

func session(t *testing.T, ctx context.Context, m *sim.Modem, rw io.ReadWriter) error {
	e := New(rw, Options{Timeout: 2 * time.Second, Quiet: 20 * time.Millisecond})
	defer e.Close()
	exec := func(cmd string, want ...string) {
		t.Helper()
		info, err := e.Exec(ctx, cmd)
		if err != nil || !equal(info, want) {
			t.Errorf("%s: info %q err %v, want %q", cmd, info, err, want)
		}
	}
	exec("AT")                       // echoed
	exec("AT+CSQ", "+CSQ: 17,99")    // echoed, dropped
	exec("ATE0")                     // echoes itself, then stops
	exec("AT+CPIN?", "+CPIN: READY") // +CPIN: is also a URC prefix
	exec("AT+CREG?", "+CREG: 0,1")   // so is +CREG:
	exec("AT+CGMI", "Pagebridge")    // no prefix
	exec("AT+CMEE=1")
	_, err := e.Exec(ctx, "AT+XPAGEBRIDGE") // no modem has it
	if !isCME(4)(err) || !IsPermanent(err) {
		t.Errorf("numeric: %v", err)
	}
	exec("AT+CMEE=2")
	_, err = e.Exec(ctx, "AT+XPAGEBRIDGE")
	if !isCME(4)(err) {
		t.Errorf("verbose: %v", err)
	}
	exec("AT+CMEE=1")
	// A command that times out at once (its answer is then late, on the
	// real line): the engine resynchronises with ESC and the first probe
	// before the next command, which gets its own answer. If the answer
	// won the race against the timer there is nothing to resync.
	before := len(m.Received())
	_, err = e.Do(ctx, Command{Line: "AT+CGMI", Timeout: time.Nanosecond})
	exec("AT+CSQ", "+CSQ: 17,99")
	got := string(m.Received()[before:])
	t.Logf("AT+CGMI with a 1ns timeout: %v", err)
	switch {
	case errors.Is(err, ErrTimeout):
		if got != "AT+CGMI\r\x1bAT+CMEE?\rAT+CSQ\r" {
			t.Errorf("after a timeout the modem received %q", got)
		}
	case err != nil:
		t.Errorf("AT+CGMI: %v", err)
	}
	// Unplugged: the next command and the engine get ErrPort.
	if err := m.Unplug(); err != nil {
		t.Fatal(err)
	}
	if _, err = e.Exec(ctx, "AT+CSQ"); !errors.Is(err, ErrPort) {
		t.Errorf("after unplug: %v", err)
	}
	<-e.Done()
	return e.Err()
}
