// Package serialport owns the agent's lines: serial devices opened through
// go.bug.st/serial, and the raw TCP sockets of serial device servers
// ("tcp://host:port") that stand in for them.
//
// A [Line] is built by [New] from a [Config] and driven by [Line.Run], the
// one goroutine that owns the port. Run opens the port, hands it to a
// [Session] (a TAP, ESPA or AT driver over an io.ReadWriter), and when the
// session returns because the device went away (a USB modem unplugged, a
// device server that dropped the connection) it closes the port and opens
// it again with doubling backoff, so the session re-initialises the device.
// The line's [State] (absent, initialising, ready, failing, closed) goes to
// an onState callback and to [Line.Stats], with byte counts. Errors are
// logged, not returned, and a repeated error is logged once and then at
// most once a minute with a count, so a flapping port does not flood the
// journal; a "line recovered" line follows when the session calls ready.
//
// Errors: [ErrConfig] from New for a bad Config; [ErrAbsent] in
// Stats.LastError when the device is not there; [ErrRunning] from a second
// concurrent Run; [ErrClosed] from a session's rw after Run closed it.
//
// # Caveats
//
//   - A read that times out returns (0, nil), on serial and TCP lines alike.
//     io.Reader allows it but discourages it: bufio.Reader gives up with
//     io.ErrNoProgress after 100 empty reads in a row, so a session should
//     read rw itself, or wrap it in a reader that loops, rather than hand it
//     to bufio directly.
//   - A blocked serial read ignores ctx; it wakes at ReadTimeout. When ctx
//     ends Run closes the port as soon as no Read or Write is in progress
//     (closing go.bug.st/serial's port under a running Write or Read can
//     touch a reused descriptor), so later calls return [ErrClosed]. A
//     Write blocked for good (RTS/CTS held off) therefore holds Run up, as
//     a session that never returns would.
//   - When the other end of a pty goes away, go.bug.st/serial reports it as
//     a *serial.PortError "Port has been closed" (code PortClosed): its
//     Read turns the zero-byte read of a hung-up tty into that error. The
//     same text does not mean Run closed the port; that is [ErrClosed].
//   - go.bug.st/serial has no hardware flow control setting and clears
//     CRTSCTS on open; Flow "rtscts" sets it through a second descriptor
//     opened before serial.Open takes exclusive access (Linux only).
//   - Only an open that fails with "no such file" (serial) or a failed dial
//     (TCP) counts as absent; "permission denied" or "busy" is failing.
//     The device server of a tcp:// line holds the serial settings, which
//     the Config's serial fields do not change.
//   - The backoff starts again from MinBackoff only after a session that
//     lasted longer than MaxBackoff, so a device that answers and drops at
//     once is retried ever more slowly, up to MaxBackoff.
package serialport
