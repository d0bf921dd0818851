package sim

import "time"

// Fault injection on the responder. Modem has the same controls, run on
// its device goroutine. A reboot (AT+CFUN=1,1) keeps them, but ends Hang;
// a power cycle (Unplug, Plug) starts a new responder without them.

// LateOK makes the final result (OK or an error) of the next n command
// lines, and of the next n AT+CMGS sends, come by later than it would:
// information lines still come at once. The modem stays busy until then,
// holding what it is sent, so a driver that gave up and sent "AT" meanwhile
// gets the late OK first and its own after it. n 0 ends it.
func (r *ModemResponder) LateOK(n int, by time.Duration) {
	r.lateN, r.lateBy = max(n, 0), by
}

// FailSends makes the network refuse the next n messages sent: each
// AT+CMGS is answered "+CMS ERROR: <code>" after SendLatency, and nothing
// is sent. code 0 is 500 (unknown error, the commonest on weak signal).
func (r *ModemResponder) FailSends(n, code int) {
	if code == 0 {
		code = cmsUnknown
	}
	r.failN, r.failCode = max(n, 0), code
}

// InjectURC puts "\r\n<urc>\r\n" into the next command line's reply,
// between its information lines and its final result, as a modem that
// lets an unsolicited result code into a reply does. Several calls inject
// several.
func (r *ModemResponder) InjectURC(urc string) {
	r.injected = append(r.injected, "\r\n"+urc+"\r\n"...)
}

// Hang makes the modem stop answering: no echo, no replies, no URCs; what
// it is sent is lost. It lasts until a power cycle or, if answersReset,
// until AT+CFUN=1,1, which it still answers OK before rebooting.
func (r *ModemResponder) Hang(answersReset bool) {
	r.hung, r.hungCFUN = true, answersReset
}
