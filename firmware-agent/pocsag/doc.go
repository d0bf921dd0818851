// Package pocsag encodes POCSAG (ITU-R M.584-2) pages at 512, 1200 and
// 2400 bit/s and modulates them as audio, for the agent to drive a paging
// transmitter itself. It does no IO and keeps no state beyond its
// values.
//
// Main types and functions:
//
//   - [Page]: a RIC (capcode, 0..[MaxRIC]), [Function] bits 0..3, a
//     [Kind] ([Tone], [Numeric], [Alpha]) and the text as paging.PHI.
//     [Page.Codewords] gives the address codeword (frame = RIC mod 8,
//     RIC>>3 and the function bits, BCH(31,21) and even parity, see
//     [Address]) and the message codewords: numeric 5 BCD digits a
//     codeword, each digit's 4 bits reversed ([NumericDigit]); alpha 7-bit
//     ASCII least significant bit first, 20 bits a codeword ([AlphaChar]).
//     [ASCII] is the documented substitution for other text.
//   - [Builder] lays pages out in batches (sync and 8 frames of 2
//     codewords), each address in its frame, messages running on across
//     frames and batches, idle codewords where nothing goes, and every
//     page ended by the codeword after it; batches can be taken as they
//     fill, so a scheduler decides at each batch boundary what comes next.
//   - [Encode] packs several pages behind one preamble, ordered by frame
//     position so that few idle codewords are needed; a [Transmission]
//     gives its [Transmission.Bits] (576-bit preamble, then each batch)
//     and its air time. [Rate.PreambleDuration], [Rate.BatchDuration] and
//     [Rate.TransmissionDuration] are the arithmetic of
//     paging-protocols.md §7.
//   - [Modulator] turns bits into signed 16-bit little-endian mono PCM:
//     [NRZ] baseband (default) or [FSK] tones, at any sample rate
//     (22050 Hz by default, multimon-ng's), streaming batch by batch.
//
// Errors: [ErrRIC], [ErrFunction], [ErrKind], [ErrCharacter] (with the
// character's position, never the text), [ErrEmpty], [ErrToneText],
// [ErrRate], [ErrModulator].
//
// Polarity: with NRZ a 0 bit is the positive level and a 1 bit the
// negative one. That is what multimon-ng 1.2.0 decodes (its slicer takes
// a positive sample as 0, `rx |= !bit` in pocsag.c) and what the RF rule
// (0 is the higher frequency) gives through an FM discriminator; the
// inverted sense does not decode at 1200 and 2400 bit/s. A transmitter
// whose modulator input deviates the other way needs
// [ModulatorConfig.Invert]. The tests run multimon-ng on the encoder's
// audio at all three rates (see multimon_test.go).
//
// Package pocsagtest has a small decoder written apart from the encoder,
// for tests.
//
// # Caveats
//
//   - RICs whose address codeword with the given function would be the
//     idle codeword (function 0) or the sync codeword (function 2) are
//     refused with [ErrRIC]: 16 RIC and function pairs in all.
//   - Numeric pages are padded with spaces (0xC), so trailing spaces of
//     a numeric text do not survive; the reserved digit 0xA is never
//     sent. Brackets: ']' or ')' is 0xE, '[' or '(' is 0xF (sources
//     differ; multimon-ng shows brackets).
//   - Alpha pages are padded with zero bits, which a receiver may show as
//     NUL characters (multimon-ng prints "<NUL>"). Only printable ASCII,
//     CR and LF are taken; anything else is [ErrCharacter] unless passed
//     through [ASCII] first. National 7-bit variants (a pager showing '['
//     as 'Ä') are the pager's business: the encoder sends ASCII codes.
//   - multimon-ng 1.2.0 shows a message by its function bits, not its
//     contents: function 0 as numeric, 1 to 3 as alpha. Pagers follow
//     their programming; by convention numeric pagers use function 0 and
//     alphanumeric ones 3.
//   - The encoder has no length limit; pagers and multimon-ng do
//     (multimon-ng 1.2.0 keeps about 1,100 characters of a message). The
//     scheduler bounds a page by the longest transmission it allows.
//   - NRZ is a square wave; there is no pulse shaping. Transmitters with a
//     data input filter it themselves; one fed through an audio input may
//     want a low-pass filter in front (not provided).
//   - Audio is little-endian; multimon-ng's raw input is native-endian,
//     the same on x86 and little-endian ARM.
package pocsag
