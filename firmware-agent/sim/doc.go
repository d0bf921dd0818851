// Package sim holds simulated serial hardware for tests and for
// `pagebridge demo`: a GSM modem (Modem), a TAP paging terminal
// (PagingTerminal) and a TAP sender such as a nurse call system (Sender),
// each on the master side of a pty pair. The agent opens the device's
// Path(), a symlink to the pty slave, exactly as it opens a
// /dev/serial/by-id/… link to real hardware.
//
// A Device records every raw byte it receives (Received) and sends (Sent),
// across reconnects; WaitFor blocks until the recording satisfies a
// predicate, so tests wait on events, not on time. Unplug closes the pty
// pair and removes the symlink, as pulling a USB modem does; Plug brings
// the device back on a new pty with a fresh protocol state, as after a
// power cycle.
//
// The protocols are plain state machines with no IO (ModemResponder,
// TerminalResponder): bytes in, reply bytes out. They can be tested, or
// driven over an io.Pipe, without a pty.
//
// The modem (Modem, ModemResponder) answers the AT set a modem driver and
// smstools3, gammu-smsd or Kannel use to open, identify and initialise it,
// and SMS in PDU mode (3GPP TS 27.005): AT+CMGS with its "> " prompt (the
// PDU decoded with warthog618/sms and recorded: Messages, WaitMessages,
// JoinParts), storage in "SM" and "ME" (AT+CPMS, +CMGL, +CMGR, +CMGD),
// received messages from Deliver stored and announced (+CMTI) or routed
// (+CMT) as AT+CNMI says, and status reports (+CDS, or stored and +CDSI)
// after ReportDelay or on Report. The ModemResponder keeps its own clock,
// moved by Advance; a Modem keeps it in step with the real one on a
// goroutine of its own per plug-in. ModemOptions and the fault controls
// make a real modem's quirks and faults: Latency and CommandLatency (a slow
// modem, busy meanwhile), SendLatency (the network), LateOK (the final
// result after the driver's timeout), FailSends (+CMS ERROR bursts),
// InjectURC and Inbound.MidReply (a URC between a reply's information and
// its OK), Hang (silent until a power cycle, or until AT+CFUN=1,1),
// RebootTime and BootURCs (AT+CFUN=1,1 as a real reboot).
//
// The paging terminal answers pages after the logon as a real one does
// (211 and ACK, 514 and NAK for a bad checksum, ACK for a block ending ETB
// or US) and records every page it takes: Pages and WaitPages count
// exactly which pages arrived and how often. TerminalOptions.Answer makes
// it answer chosen pages with RS, NAK or ESC EOT, or take them and stay
// silent (AnswerSilent), so a sender cannot tell whether they went out.
// The other TerminalOptions make it a real terminal's quirks and faults:
// NoLogon (blocks taken before a logon), MaxBadBlocks ("503" RS after that
// many bad blocks in a row), NAKEvery (every n-th block answered "514"
// NAK, as garbled on the line), MaxText (longer texts truncated, "212"),
// Delay (a slow terminal) and Baud (the line paced both ways at that rate,
// 10 bits a byte, against an absolute clock so that it does not drift).
//
// The Sender speaks first: Page does the TAP exchange from the sender's
// side (a tap.Client, with or without the logon) and returns the agent's
// reply, so tests can push pages into the agent's terminal role and count
// which were acknowledged with 211; SenderOptions.Client makes it log on
// or not (NoLogon) and send checksums or not (NoChecksum). SendRaw writes
// noise or half a block; Unplug then is a hang-up mid-block, which
// HangUpMidBlock does in one go. Exchange
// writes raw bytes that are answered, such as a block with a wrong
// checksum from CorruptChecksum, and returns the answer.
//
// # Caveats
//
//   - A pty has no modem control lines: DTR, RTS, CTS, DCD and RI are not
//     simulated, and TIOCMGET/TIOCMSET on the slave fail or do nothing.
//     Neither is BREAK.
//   - Baud rate, parity and stop bits set on the slave are accepted and
//     ignored: bytes arrive at memory speed, never garbled, unless the
//     paging terminal's own Baud paces them (only the terminal has it; the
//     modem and the sender run at memory speed, the modem's latencies
//     aside). A paced terminal takes
//     received bytes in chunks of up to 16 and lets each chunk through
//     when its last byte would have arrived, and releases what it sends
//     16 bytes at a time likewise; the pty still buffers a few KB, so a
//     sender's writes do not block as on a real line with flow control.
//   - The simulator sets the slave to raw mode when it opens the pair, so
//     the tty line discipline neither echoes nor translates CR/LF. An agent
//     that changes the termios (go.bug.st/serial sets raw mode itself) owns
//     what it sets.
//   - The simulator holds the slave open itself, so the master never sees
//     a hang-up when the agent closes its port. Replies the agent did not
//     read before closing stay in the pty and are read by its next open.
//   - After Unplug the agent's open file is hung up for good. On Linux its
//     reads return end of file (read(2) gives 0, io.EOF in Go), not EIO;
//     its writes fail with EIO. The agent must reopen
//     Path() once the device is plugged in again; the new link points at a
//     different /dev/pts/N.
//   - The modem speaks PDU mode only: AT+CMGF=1 (text mode) fails with
//     "+CMS ERROR: 303", and AT+CMGF=? says (0). It has no AT+CMGW,
//     +CMSS, cell broadcast or voice; unknown commands fail (ERROR, or
//     +CME ERROR 4 with AT+CMEE), as gammu's probes need.
//   - +CMS ERROR is numeric whatever AT+CMEE=0/1 says (27.005 ties it to
//     no setting), in words with AT+CMEE=2; some real modems say ERROR.
//   - Storage indexes start at 1 (Quectel's start at 0); status reports go
//     to mem3, not to an "SR" memory. A routed +CMT or +CDS with
//     AT+CSMS=1 owes an AT+CNMA, but a missing one has no consequence
//     (a real network would retry and the ME clear AT+CNMI).
//   - URCs wait while the modem is busy, in the "> " prompt or rebooting,
//     and then follow the reply; bytes sent to a busy modem are held
//     (64 KB at most) and echoed when taken, not as they arrive. During a
//     reboot and a hang they are lost. A reboot drops what was owed (late
//     replies, reports not yet due) and the URCs not yet out; stored
//     messages, the SMSC and the message reference stay, and across
//     Unplug and Plug too. Deliver to a rebooting modem stores the message
//     without an indication: a driver finds it with AT+CMGL at boot.
//   - The modem's fault controls act on the current plug-in: a power cycle
//     (Unplug, Plug) clears them. Its calls (Deliver, Report, the faults)
//     fail with ErrUnplugged while it is unplugged. Its clock follows the
//     real one, so latencies are real time; the ModemResponder alone runs
//     in its own time, for tests without waiting.
//   - Received texts are encoded GSM 7-bit (default alphabet) or UCS-2,
//     never with national language tables; sent ones are decoded with all
//     of them.
//   - A Sender's pages are whatever tap.Client sends; after SendRaw the
//     next Page logs on anew to get past an answer to the raw bytes, which
//     a Sender with NoLogon cannot do: keep its raw bytes unanswerable.
//   - By default the paging terminal requires the logon (blocks before the
//     go-ahead are not answered; TerminalOptions.NoLogon takes them) and
//     never gives up on bad blocks (NAK for as long as the sender resends;
//     MaxBadBlocks gives "503" RS). It checks every checksum: it has no
//     NoChecksum of its own.
//   - NAKEvery counts every block, resends included, and garbles blocks
//     that were fine: with NAKEvery 1 no page ever gets through.
//   - Delay and Baud pace the device's own goroutine: Unplug and Close
//     stop the wait at once, and a reply not yet written is lost.
package sim
