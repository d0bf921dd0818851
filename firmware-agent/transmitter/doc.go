// Package transmitter drives a paging transmitter directly: it keys the
// PTT through a serial control line, writes the POCSAG audio (NRZ
// baseband or FSK tones, from package pocsag) to an io.Writer, and keeps
// the transmitter within its longest transmission and its duty cycle.
//
// Main types and functions:
//
//   - [Driver] ([New], [Config], [DefaultConfig]): [Driver.Transmit] keys
//     the PTT, writes KeyUp of silence and the preamble, then asks a
//     [Source] for each batch when the batch before it starts on air (so
//     a scheduler decides what goes next one batch ahead of the air, and
//     the sound device always has a batch in hand), waits for the last
//     bit and the Tail, and unkeys. The [Result] tells when each batch and
//     codeword was on air ([Result.CodewordEnd]) and, after a failure,
//     how far the transmission got ([Result.OnAirUntil]).
//     [Driver.MaxBatches], [Driver.EarliestStart] and [Driver.Length] let
//     the scheduler plan within the limits; the driver enforces them
//     itself as well ([Room] passed to Source.Next; it never asks for more).
//   - [DutyCycle]: keyed time in a sliding window, at most DutyLimit of
//     it, with a CriticalReserve that only transmissions carrying
//     critical pages may use.
//   - [PTT]: [SerialPTT] on RTS or DTR ([OpenSerialPTT] through
//     go.bug.st/serial, or [NewSerialPTT] on any [ControlLines]),
//     active high or low; [FakePTT] records keying for tests.
//   - [Clock]: [SystemClock], or [SimClock] (simulated time: Sleep moves
//     it on at once and runs the events registered with At), with which
//     tests and the air-time bench never wait for real time.
//
// Errors: [ErrConfig], [ErrPTT], [ErrWrite], [ErrDutyCycle]; ctx.Err()
// when ctx ends mid-transmission (the transmitter is unkeyed at once).
//
// For an ALSA device, Out is a pipe to `aplay -q -t raw -f S16_LE -c 1
// -r 22050 -D <device>` (alsa-utils) or any writer that plays s16le mono
// at the modulator's sample rate; a write blocks while the device buffer
// is full, which the pacing tolerates. OutputLatency is that buffer's
// delay, counted into the keyed time.
//
// # Caveats
//
//   - A pty has no modem control lines: OpenSerialPTT on one fails with
//     ErrPTT ("inappropriate ioctl for device"), so keying is tested with
//     recording lines rather than on a pty pair.
//   - On Linux a serial port's control lines can only be set once it is
//     open: OpenSerialPTT asks go.bug.st/serial to set the keying line
//     unkeyed as part of the open, but some USB adapters raise RTS and
//     DTR for a moment at open. Use an interface that keys on the level a
//     closed port rests at, or ActiveLow accordingly.
//   - A write blocked on the device ignores ctx; the transmitter stays
//     keyed until it returns (a transmitter's own time-out timer is the
//     backstop).
//   - Keyed time is measured on the Clock; the duty account is kept in
//     memory and starts empty when the agent starts.
//   - No pulse shaping or pre-emphasis is applied to the audio.
package transmitter
