// Package pocsagtest decodes what package pocsag sends, for tests: a
// small POCSAG receiver written apart from the encoder (it shares only
// [pocsag.Valid], [pocsag.Sync] and [pocsag.Idle]), strict where a real
// receiver would be lenient, so that tests see every fault.
//
// Main types and functions: [Decode] reads bits into [Message]s;
// [SliceNRZ] turns NRZ audio back into bits.
//
// # Caveats
//
//   - Decode corrects no bit errors: a codeword that fails its BCH check
//     is an error, as is a message codeword with no address before it.
//   - SliceNRZ needs clean audio made by pocsag.Modulator: it samples
//     each bit in the middle, timing counted from the first sample after
//     silence (zero samples).
package pocsagtest

import (
	"encoding/binary"
	"fmt"
	"strings"

	"pagebridge/firmware-agent/pocsag"
)

// Message is one page as received.
type Message struct {
	RIC      uint32
	Function pocsag.Function
	// Payload holds the 20 message bits of each message codeword.
	Payload []uint32
	// Terminated: an address or idle codeword followed the message (a
	// pager needs it to know the message ended).
	Terminated bool
	// Transmission counts the preambles-and-syncs seen before this
	// message (0 for the first transmission in the input).
	Transmission int
	// Pos is the index of the address codeword from the first batch of
	// its transmission.
	Pos int
}

// numericChars are the characters of the 16 digit codes (0xA, reserved,
// as multimon-ng shows it).
const numericChars = "0123456789.U -]["

// Numeric is the message read as digits, trailing spaces (the padding)
// removed.
func (m Message) Numeric() string {
	var b strings.Builder
	for _, p := range m.Payload {
		for i := 4; i >= 0; i-- {
			d := p >> (4 * i) & 0xF
			d = (d&1)<<3 | (d&2)<<1 | (d&4)>>1 | (d&8)>>3
			b.WriteByte(numericChars[d])
		}
	}
	return strings.TrimRight(b.String(), " ")
}

// Alpha is the message read as 7-bit characters, least significant bit
// first; trailing NULs (the padding) and a last incomplete character are
// dropped.
func (m Message) Alpha() string {
	var b strings.Builder
	var c byte
	n := 0
	for _, p := range m.Payload {
		for i := 19; i >= 0; i-- {
			c |= byte(p>>i&1) << n
			if n++; n == 7 {
				b.WriteByte(c)
				c, n = 0, 0
			}
		}
	}
	return strings.TrimRight(b.String(), "\x00")
}

// Decode finds every transmission in bits (one bit a byte, 0 or 1) by its
// sync codeword and returns the messages in the order received. It fails
// on a codeword that is not a valid BCH codeword, on a message codeword
// with no address before it, and on a batch cut short.
func Decode(bits []byte) ([]Message, error) {
	var out []Message
	tx := -1
	word := func(i int) uint32 {
		var w uint32
		for _, b := range bits[i : i+32] {
			w = w<<1 | uint32(b&1)
		}
		return w
	}
	for i := 0; i+32 <= len(bits); {
		if word(i) != pocsag.Sync {
			i++
			continue
		}
		tx++
		var cur *Message
		end := func(terminated bool) {
			if cur != nil {
				cur.Terminated = terminated
				out = append(out, *cur)
				cur = nil
			}
		}
		batch := 0
		for {
			i += 32 // past the sync
			if i+32*pocsag.BatchWords > len(bits) {
				return out, fmt.Errorf("transmission %d batch %d: cut short", tx, batch)
			}
			for w := range pocsag.BatchWords {
				cw := word(i)
				i += 32
				pos := batch*pocsag.BatchWords + w
				switch {
				case !pocsag.Valid(cw):
					return out, fmt.Errorf("transmission %d codeword %d: %08x fails the BCH check", tx, pos, cw)
				case cw == pocsag.Idle:
					end(true)
				case cw&(1<<31) == 0:
					end(true)
					cur = &Message{
						RIC:          cw>>13<<3 | uint32(w/2),
						Function:     pocsag.Function(cw >> 11 & 3),
						Transmission: tx,
						Pos:          pos,
					}
				case cur == nil:
					return out, fmt.Errorf("transmission %d codeword %d: message codeword without an address", tx, pos)
				default:
					cur.Payload = append(cur.Payload, cw>>11&0xFFFFF)
				}
			}
			batch++
			if i+32 > len(bits) || word(i) != pocsag.Sync {
				break
			}
		}
		end(false)
	}
	return out, nil
}

// SliceNRZ turns NRZ audio (signed 16-bit little-endian mono, as
// pocsag.Modulator makes it) back into bits: a negative sample is a 1 bit
// (a positive one with invert). Zero samples are silence and are skipped;
// bit timing starts again after each stretch of silence.
func SliceNRZ(pcm []byte, sampleRate int, rate pocsag.Rate, invert bool) []byte {
	n := len(pcm) / 2
	sample := func(i int) int16 { return int16(binary.LittleEndian.Uint16(pcm[2*i:])) }
	var out []byte
	for i := 0; i < n; {
		if sample(i) == 0 {
			i++
			continue
		}
		start := i
		for j := int64(0); ; j++ {
			at := start + int((2*j+1)*int64(sampleRate)/(2*int64(rate)))
			if at >= n || sample(at) == 0 {
				// Skip to the end of this stretch of signal.
				for i = start + int(j*int64(sampleRate)/int64(rate)); i < n && sample(i) != 0; i++ {
				}
				break
			}
			one := sample(at) < 0
			if invert {
				one = !one
			}
			if one {
				out = append(out, 1)
			} else {
				out = append(out, 0)
			}
		}
	}
	return out
}
