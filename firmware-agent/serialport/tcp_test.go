package serialport

import (
	"errors"
	"net"
	"sync/atomic"
	"testing"
)

// TestTCP runs a tcp:// line against a fake serial device server that
// drops its first connection once the modem is initialised.
func TestTCP(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 100)
	accepting := make(chan struct{})
	go func() {
		defer close(accepting)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
			go fakeModem(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-accepting
		close(conns)
		for c := range conns {
			c.Close()
		}
	})

	rec := newRecorder()
	l, err := New(fastConfig("tcp://"+ln.Addr().String()), nil, rec.onState)
	if err != nil {
		t.Fatal(err)
	}
	var sessions atomic.Int32
	errs := make(chan error, 10)
	runLine(t, l, atSession(&sessions, errs))
	rec.waitFor(t, StateReady)

	// The device server drops the connection.
	first := <-conns
	first.Close()
	if err := <-errs; err == nil {
		t.Error("session ended without an error after the server dropped it")
	} else {
		t.Logf("session error after the server dropped it: %v", err)
	}
	rec.waitFor(t, StateFailing)
	rec.waitFor(t, StateReady)
	if n := sessions.Load(); n < 2 {
		t.Errorf("%d sessions, want at least 2", n)
	}
}

// TestTCPAbsent: a device server that refuses connections is absent.
func TestTCPAbsent(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	rec := newRecorder()
	l, err := New(fastConfig("tcp://"+addr), nil, rec.onState)
	if err != nil {
		t.Fatal(err)
	}
	var sessions atomic.Int32
	runLine(t, l, atSession(&sessions, nil))
	rec.waitFor(t, StateAbsent)
	if err := l.Stats().LastError; !errors.Is(err, ErrAbsent) {
		t.Errorf("last error %v: want ErrAbsent", err)
	}
}
