package sim

import "time"

// pace is how a device's line behaves in time: its rate, and how long the
// device thinks before it answers. The zero pace is memory speed.
type pace struct {
	baud  int           // bits per second, 10 a byte (8N1); 0: no pacing
	delay time.Duration // before each reply
}

func (p pace) on() bool { return p.baud > 0 || p.delay > 0 }

// paceChunk bounds what one read takes from the line, and what one write
// releases, on a paced line: the wait is per chunk, not per byte.
const paceChunk = 16

// schedule paces one direction of a line against an absolute clock: a
// byte is through once the bytes before it since the line was last idle
// are, so the wait for each chunk is worked out from the start of the
// busy spell and never drifts however many chunks it has.
type schedule struct {
	baud  int
	start time.Time // when the line last started being busy
	bytes int64     // bytes through since start, counting the ones in flight
}

// add puts n bytes on the line, offered at at (the line starts a new busy
// spell then if it was idle), and returns how many bytes of the spell go
// before them: byte k of them is through at through(base+k+1).
func (s *schedule) add(at time.Time, n int) (base int64) {
	if s.start.IsZero() || at.After(s.through(s.bytes)) {
		s.start, s.bytes = at, 0
	}
	base = s.bytes
	s.bytes += int64(n)
	return base
}

// through is when the first k bytes of the busy spell are through.
func (s *schedule) through(k int64) time.Time {
	return s.start.Add(time.Duration(k * 10 * int64(time.Second) / int64(s.baud)))
}

// sleepUntil waits until t, and reports false if stop closed first.
func sleepUntil(t time.Time, stop <-chan struct{}) bool {
	d := time.Until(t)
	if d <= 0 {
		select {
		case <-stop:
			return false
		default:
			return true
		}
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-stop:
		return false
	}
}

// rxChunk is what one read of a paced line got, and when.
type rxChunk struct {
	b  []byte
	at time.Time
}

// servePaced is serve on a paced line. A reader goroutine, which it owns
// and waits for, takes bytes off the pty as they come and notes when; this
// goroutine lets each chunk through at the line's rate, records and
// answers it, waits the reply delay, and writes the reply at the line's
// rate. Both directions are paced apart, as on a full-duplex line.
func (d *Device) servePaced(c *conn, r Responder) {
	defer close(c.done)
	chunks := make(chan rxChunk, 4)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		defer close(chunks)
		for {
			buf := make([]byte, paceChunk)
			n, err := c.ptmx.Read(buf)
			if n > 0 {
				select {
				case chunks <- rxChunk{buf[:n], time.Now()}:
				case <-c.stop:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() { <-readerDone }()
	rx, tx := schedule{baud: d.pace.baud}, schedule{baud: d.pace.baud}
	for ch := range chunks {
		if d.pace.baud > 0 {
			base := rx.add(ch.at, len(ch.b))
			if !sleepUntil(rx.through(base+int64(len(ch.b))), c.stop) {
				return
			}
		}
		d.record(ch.b)
		out := r.Respond(ch.b)
		if len(out) == 0 {
			continue
		}
		if d.pace.delay > 0 && !sleepUntil(time.Now().Add(d.pace.delay), c.stop) {
			return
		}
		if d.pace.baud == 0 {
			if _, err := d.writeConn(c, out); err != nil {
				return
			}
			continue
		}
		base := tx.add(time.Now(), len(out))
		for sent := 0; sent < len(out); {
			k := min(paceChunk, len(out)-sent)
			if !sleepUntil(tx.through(base+int64(sent+k)), c.stop) {
				return
			}
			if _, err := d.writeConn(c, out[sent:sent+k]); err != nil {
				return
			}
			sent += k
		}
	}
}
