package pocsag

import "math/bits"

// Special codewords (ITU-R M.584-2).
const (
	// Sync starts every batch.
	Sync uint32 = 0x7CD215D8
	// Idle fills a codeword slot that carries nothing; it also ends the
	// message before it.
	Idle uint32 = 0x7A89C197
)

// bchPoly is the generator of the BCH(31,21) code,
// x^10+x^9+x^8+x^6+x^5+x^3+1.
const bchPoly = 0x769

// seal makes a codeword from its 21 information bits (bit 31, the
// address/message flag, and the 20 bits below it), given in bits 31..11
// of data: it adds the 10 BCH check bits (bits 10..1) and the even
// parity bit (bit 0). Bits 10..0 of data are ignored.
func seal(data uint32) uint32 {
	cw := data &^ 0x7FF
	rem := cw >> 1 // the 31-bit code word, check bits still zero
	for i := 30; i >= 10; i-- {
		if rem&(1<<i) != 0 {
			rem ^= bchPoly << (i - 10)
		}
	}
	cw |= rem << 1
	if bits.OnesCount32(cw)%2 == 1 {
		cw |= 1
	}
	return cw
}

// Valid reports whether cw is a codeword of the BCH(31,21) code with even
// parity: its check bits and parity bit are the ones seal gives for its
// information bits. It corrects nothing.
func Valid(cw uint32) bool { return seal(cw) == cw }
