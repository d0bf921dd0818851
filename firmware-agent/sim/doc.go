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
//     modem and the sender run at memory speed). A paced terminal takes
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
//   - The modem answers only what its doc lists: the AT dialogue to open,
//     identify and initialise it. SMS (AT+CMGF, +CMGS, …) is not answered
//     yet.
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
