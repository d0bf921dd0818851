// Package espa speaks ESPA 4.4.4, the serial protocol that links European
// nurse call systems, PBXs and alarm panels to paging systems, in both
// roles, over any io.ReadWriter: a serialport session's line, a pty, a
// pipe.
//
// Main types and functions:
//
//   - The codec has no IO. [EncodeBlock] and [DecodeBlock] write and read a
//     data block, SOH header STX record {RS record} ETX BCC, each record
//     identifier US data; [BCC] is the XOR of the bytes after SOH through
//     ETX. [Call] (header 1: call address, display text, beep code, call
//     type, number of transmissions, priority) and [Status] (header 2:
//     call status, record 7, or system status, record 8) are the typed
//     blocks: [Call.Encode], [DecodeCall], [Status.Encode], [DecodeStatus].
//     [Dialect] [Ascom] adds the Ascom/Ericsson records (9 ID, A mailbox,
//     C infopage, D running number), call types 5–7 and blocks 7 and 9.
//   - [Outstation] is the paging system's role, the usual one for this
//     box: the nurse call system is the control station. [Outstation.Serve]
//     answers polls (<our address> ENQ) with EOT, or with the status
//     blocks [Outstation.QueueStatus] queued; answers selects with ACK;
//     checks each block's BCC (NAK if wrong, so that it comes again) and
//     hands each call to the accept function once, ACKing it only after
//     accept returned nil.
//   - [ControlStation] is the control station's role, for forwarding pages
//     to an ESPA paging system (a DECT messaging server): [ControlStation.Send]
//     selects it, sends a block and ends with EOT; [ControlStation.Poll] polls
//     it and takes its status blocks.
//
// On the line (two stations: control station '1', paging system '2'):
//
//	control station → EOT 1 ENQ 2 ENQ          select of 2
//	outstation      → ACK
//	control station → SOH 1 STX 1 US 1001 RS 2 US text ETX BCC
//	outstation      → ACK (or NAK: sent again)
//	control station → EOT
//	control station → EOT 2 ENQ                poll of 2
//	outstation      → EOT                      nothing to send, or:
//	outstation      → 1 ENQ                    select of 1, then its blocks, then EOT
//
// Display text is PHI: [Call.Text] is a paging.PHI; [Block] formats and logs
// without record values; no error quotes them.
//
// # Caveats
//
//   - ESPA 4.4.4 as we have it fixes no timer values nor retry counts;
//     peers make them settings (Avaya's eESPA_Timeout_n and
//     eESPA_NAK_retry_cnt_n, Ascom's retry delay). Our defaults: 3 s for an
//     answer, 3 retries, 20 s of silence before a half-received block or a
//     hanging selection is dropped. A Read that returns (0, nil) is taken
//     as a read timeout and timers are checked between reads; over an rw
//     whose Read blocks until data comes, timeouts take effect only when
//     bytes or an error arrive.
//   - ESPA has no message IDs. A call block that comes again after we
//     ACKed it, before the control station showed it got the ACK (by EOT,
//     or another block), is taken for a retransmission: ACKed, not handed
//     on. That covers the standard's retry after a lost ACK, within the
//     selection and across a line that failed meanwhile; but a control
//     station that gives up at once (no retries) and sends the call again
//     in a later selection has it taken twice. With the Ascom dialect, a
//     call whose running number (record D) and contents match one of the
//     last 64 taken is a retransmission in any selection.
//   - The same identical call sent on purpose twice in one selection is
//     taken once.
//   - We send NAK without a prefix; NAK and ACK prefixes (a digit before
//     them, "1" for a transmission error at Avaya) are taken on receive
//     and ignored.
//   - Blocks with headers 2–5 sent to the outstation are ACKed and not
//     handed on (as Avaya's eESPA does); blocks 7 and 9 of the Ascom
//     dialect (licence requests) are NAKed (as Ascom Unite does). A status
//     request (header 3) is not answered with a status.
//   - Text is ISO 8859-1 on the line and UTF-8 in a Call; a line that
//     sends another 8-bit code page gets its letters above 0x7f mapped as
//     if they were ISO 8859-1. The 8th bit is kept: the line must be
//     configured 8 data bits, or 7 with parity, as the peer is.
//   - The outstation sends at most MaxStatusPerPoll status blocks per
//     poll; a status refused with NAK MaxRetries+1 times is dropped, one
//     that gets no answer stays queued. A status sent again after a lost
//     ACK reaches the control station twice (a status is idempotent).
//   - DecodeBlock tolerates an RS right before ETX and spaces before a
//     record identifier (the Zenitel example's stray 0x20 after STX).
//     Nothing else is repaired: a record without US, or a control
//     character in data, is ErrMalformed and answered NAK.
package espa
