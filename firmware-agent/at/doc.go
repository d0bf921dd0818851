// Package at is the agent's AT command engine for cellular modems, over
// any io.ReadWriter whose Read returns (0, nil) on a read timeout (a
// serialport session's line, a pty) or blocks until data comes.
//
// [New] starts an [Engine] on a port. One goroutine, the owner, writes
// every byte and takes every byte a reader goroutine it owns reads;
// callers submit commands and wait for the result: [Engine.Exec] (a
// command line, the default timeout), [Engine.Do] (a [Command] with its
// own timeout, reply prefix, prompt data), [Engine.SendPDU] (AT+CMGS in
// PDU mode: the command, "> ", the PDU and Ctrl-Z, then "+CMGS: <mr>").
// A reply is the command's information lines; the final result code
// decides the error. Unsolicited result codes ([URC], kinds in
// [Options.URCs], [DefaultURCs]) go to [Options.OnURC], in order, from a
// goroutine of the engine's, and never into a reply, wherever they come.
// [Engine.Done] and [Engine.Err] say when and why the engine ended.
//
// Who a received line belongs to, in this order: the data line of a
// two-line URC (+CMT, +CDS: header, then the PDU); the echo of the
// command (echo on or off needs no setting); a final result code (OK,
// ERROR, +CME ERROR, +CMS ERROR, NO CARRIER, BUSY, NO ANSWER, NO
// DIALTONE); a line with the command's reply prefix ("+CREG:" for
// AT+CREG?), which is the command's even when a URC has the same prefix;
// a URC; any other line is the command's (a PDU after +CMGR:, the answer
// to AT+CGMI). With no command waiting, lines that are not URCs are late
// and dropped.
//
// After a timeout (or a ctx that ended once the command was written) the
// engine resynchronises before the next command: it writes ESC (closing a
// "> " prompt that may still be open), takes input until the line has
// been quiet for [Options.Quiet], then sends a probe (AT+CMEE?, then
// AT+CSQ, [Options.Probes]) and waits for an information line with the
// probe's own prefix followed by OK. A late answer of the timed-out
// command cannot pass for that: its OK does not follow a +CMEE: line, so
// it is dropped and the wait goes on. A probe with the prefix of a command
// that went unanswered is skipped, since that command's late answer could
// carry it. If no probe is answered the engine ends with ErrUnresponsive.
//
// Errors. Engine errors are sentinels, wrapped with the command:
// [ErrTimeout] (no final result; the command may still have taken
// effect), [ErrUnknown] (a prompt command's data and Ctrl-Z were written
// and no final result came: the SMS may have gone out; always with the
// cause), [ErrPort] (the port failed: reopen it), [ErrUnresponsive] (reset
// the modem), [ErrClosed], [ErrInvalid] (refused, nothing written). A
// SendPDU error that does not wrap ErrUnknown means not sent. Device
// errors are typed: [*CMEError] and [*CMSError] with the code, numeric
// (AT+CMEE=1) or verbose (AT+CMEE=2, looked up in the 27.007/27.005
// tables; Code -1 for a text not there), and [*ResultError] for ERROR and
// the other final codes without a number. [ClassOf] gives their [Class]:
// Temporary (retry after a back-off), Permanent (the request is wrong;
// it fails again anywhere), Modem (this modem or SIM needs someone; the
// request may succeed on another modem). Codes not listed, verbose texts
// not known, vendor ranges and plain ERROR are Temporary: a page is never
// dropped on a guess, and the caller's escalation bounds the retries.
//
//	+CMS ERROR (3GPP TS 27.005 §3.2.5; 0–127 RP causes, TS 24.011 E-2;
//	            128–255 TP-FCS, TS 23.040 §9.2.3.22)
//	  Temporary  27 38 41 42 47 81 98 111 127 192 194 210 212 213 255
//	             300 301 314 320 331 (no network service)
//	             332 (network timeout) 500 (unknown) ≥512 (vendor)
//	  Permanent  1 (unassigned number) 21 28 30 95–97 99 128–130 143–145
//	             159–161 175 176 195–199 302 303 304 (invalid PDU mode parameter)
//	             305 (invalid text mode parameter) 321 (invalid memory
//	             index) 340
//	  Modem      8 10 (barring) 29 50 69 193 208 209 211 310–313 315–318
//	             (SIM missing, PIN/PUK) 322 (memory full) 330 (SMSC
//	             address unknown)
//	+CME ERROR (3GPP TS 27.007 §9.2)
//	  Temporary  0 2 14 (SIM busy) 23 30 31 32 100 (unknown) 112 113 134
//	             148 515 (SIMCom/Huawei "please wait")
//	  Permanent  3 (not allowed) 4 (not supported) 21 22 24–27 150
//	  Modem      1 5–7 10–13 15–18 (SIM, PIN, PUK) 20 40–47 103 106 107
//	             111 132 133 149
//	ERROR, NO CARRIER, BUSY, …: Temporary
//
// 321 (invalid memory index) is permanent: reading or deleting that index
// fails again; the caller lists the storage instead. 322 and 20 (memory
// full) are Modem: they clear only when someone deletes messages.
//
// PHI stays out of logs and errors: a command appears with its arguments
// redacted when they are secret or personal (PINs, numbers dialled, USSD,
// +CMGS/+CMGW other than a PDU length, or any with [Command.Private]);
// PDUs, information lines (CMGR's message) and URC lines are never
// logged, only counted ([URC.LogValue]).
//
// # Caveats
//
//   - A blocked Read ignores everything: the reader ends at its next Read
//     return, so Close waits up to the port's read timeout; over an rw
//     whose Read blocks until data comes (a bare pipe), close the rw too.
//   - A URC whose prefix is the current command's reply prefix goes to the
//     command (a +CREG: URC during AT+CREG?). The reverse cannot happen.
//     Probes' prefixes must not be URC prefixes.
//   - Two-line URCs (+CMT, +CDS, +CBM) are taken in PDU mode (AT+CMGF=0).
//     In text mode +CDS is one line and would swallow the next line as its
//     data; configure [Options.URCs] for text mode. A header whose data
//     line never comes is delivered with empty Data at the next line; a
//     final result code or a URC is never taken as data.
//   - Verbose result codes (ATV1) are required; numeric ones (ATV0: "0",
//     "4") are not recognised, and the commands time out. So is any final
//     code not listed above (the command times out, the engine resyncs).
//   - Lines end at CR or LF; NUL, Ctrl-Z and ESC from the modem are
//     dropped, as is any line longer than [Options.MaxLine]. A line that
//     began before a command was written is never that command's.
//   - An SMS counts as handed over once Write accepted its Ctrl-Z: a write
//     that failed before it is "not sent", after it "outcome unknown".
//     A late +CMGS after ErrUnknown is dropped with the other late lines:
//     the outcome stays unknown to the engine.
//   - Commands queue on the owner in no particular order; priority is the
//     caller's queue's job. A ctx that ends before its command is written
//     writes nothing; after, the command counts as unanswered.
//   - OnURC must return: Close delivers the URCs already queued, and more
//     than [Options.URCQueue] waiting are dropped (and logged as a count).
//   - The inter-command [Options.Gap] runs from the last line received;
//     lines that come during it do not extend it.
//   - ESC before a probe also reaches a modem with no prompt open, where it
//     is a character before "AT" on the probe's line, which V.250 modems
//     ignore.
package at
