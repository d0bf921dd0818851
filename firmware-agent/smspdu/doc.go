// Package smspdu is the agent's SMS PDU layer: the SMS-SUBMITs a modem
// sends in PDU mode (AT+CMGF=0, AT+CMGS) and the SMS-DELIVERs and
// SMS-STATUS-REPORTs it reports (+CMT, +CMGR, +CDS). It does no IO. The
// GSM 7-bit and UCS-2 codecs, the TPDU layout and segmentation are
// github.com/warthog618/sms v0.3.0's; this package picks what to build
// and works around that version's defects (see Caveats).
//
// Sending: [ParseAddress] reads a number into an [Address] — "+" and
// digits become TONInternational, anything else TONUnknown, sent as
// dialled (national numbers with their trunk prefix, short codes).
// [NewEncoder] makes an [Encoder], one per modem, with [Option]s:
// [WithStatusReport] (TP-SRR, on by default), [WithValidity] (relative
// TP-VP per paging.Priority; [DefaultValidity] is 24 h normal, 4 h high,
// 1 h critical), [WithLanguages] (national tables, off by default),
// [WithMaxParts] ([DefaultMaxParts] 10), [WithFirstRef] (random by
// default) and [WithSMSC]. [Encoder.Encode] turns a paging.PHI into a
// [Submit]: GSM 7-bit, or UCS-2 when the text needs it, split into parts
// with an 8-bit concatenation reference when it is long; each [Part] has
// the hex to write after AT+CMGS's prompt (the service centre octet 00
// first, the SIM's centre) and the Length for AT+CMGS=<Length>.
//
// Receiving: [DecodeDeliver] reads an SMS-DELIVER into a [Deliver]
// (sender with its TON, service centre, time stamp, coding, text, and the
// [Concat] place in a long message, 8- or 16-bit reference);
// [DecodeStatusReport] reads an SMS-STATUS-REPORT into a [StatusReport]
// (TP-MR, recipient, times, TP-ST) whose [Outcome] [Classify] gives from
// the TP-ST ranges of 3GPP TS 23.040: delivered, pending (the service
// centre still tries), failed permanently, failed temporarily (it stopped
// trying), or unknown. [CheckLength] compares the <length> a modem
// reported with the PDU. A [Reassembler] joins the parts of long messages,
// keyed by sender, reference (and its width) and part count, and gives up
// on them after a timeout by an injected clock ([Reassembler.Expired]).
//
// Message text is PHI: it goes in and comes out as paging.PHI, and no
// error of this package quotes text or the octets that carry it (errors
// name the field and octet: [ErrMalformed], [ErrWrongType],
// [ErrUnsupported], [ErrLength], [ErrTooLong], …). Nothing here logs.
//
// The tests hold the PDUs to an independent codec, python3-gammu: gammu
// decodes every class of PDU the Encoder makes, builds the same TPDUs
// itself, and builds the DELIVERs the decoder reads.
//
// # Caveats
//
//   - Keep one Encoder per modem for the life of the process. Its
//     concatenation reference advances with each long message; a fresh
//     encoder per message (as sms.Encode is) gives every long message
//     reference 1, and handsets join parts of different messages. The
//     reference has 8 bits: sms v0.3.0's Encoder cannot build 16-bit
//     references (it has no way to pass tpdu.With16BitConcatRef), so the
//     256th long message from one modem reuses the first one's. The
//     decoder reads both widths.
//   - sms v0.3.0 builds its character tables lazily without a lock, a data
//     race when goroutines encode or decode for the first time together.
//     This package's init builds them all first; code that uses sms
//     directly, outside this package, gets no such guarantee.
//   - sms.NewEncoder alone builds SMS-DELIVERs, and sms.To makes every
//     number international: Encode starts from an SMS-SUBMIT template and
//     builds the destination address by hand.
//   - TP-MR in the PDUs is a placeholder; the modem sets its own and
//     returns it in "+CMGS: <mr>", which is what a status report's MR
//     matches.
//   - A message needing more than the maximum parts is refused
//     (ErrTooLong), not truncated; the concatenation reference it would
//     have had is skipped.
//   - National language tables (WithLanguages) are opt-in because neither
//     independent decoder applies them (gammu shows Turkish as "Aøìr"), so
//     the tests check them only against this package's own decoder; and
//     sms v0.3.0's Portuguese locking table lacks Ê.
//   - The shortest validity period the format has, 5 minutes, is refused:
//     sms v0.3.0 encodes it as 10. Periods are rounded up, never down.
//   - TP-ST 0x03–0x1F (reserved, or "completed" in a way each service
//     centre defines) is OutcomeUnknown rather than delivered, as gammu
//     reads it; reserved values with bit 7 set are OutcomeUnknown too,
//     where gammu says "Failed" for those with bit 6 set.
//   - A part's own Text is decoded alone. When a sender split a surrogate
//     pair between parts (this Encoder never does), the earlier part's
//     Text lacks the half and the later one's starts with U+FFFD; the
//     Reassembler decodes the parts together and gets it right.
//   - The Reassembler forgets a message once complete: a part that the
//     service centre sends again after that starts a new set, which
//     Expired returns as a Partial. An 8-bit (binary, Coding8Bit)
//     message's Text holds its octets as they came; compressed text
//     (TS 23.024) is refused with ErrUnsupported.
package smspdu
