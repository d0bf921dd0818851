package pocsag

import (
	"errors"
	"fmt"
	"strconv"

	"pagebridge/gateway/paging"
)

// Errors of a page that cannot be encoded. Each error names the field
// and, for text, the position of the first bad character, never the text.
var (
	// ErrRate: a bit rate other than 512, 1200 or 2400.
	ErrRate = errors.New("pocsag: bit rate must be 512, 1200 or 2400")
	// ErrRIC: a RIC (capcode) outside 0..2097151, or one whose address
	// codeword would be the sync or idle codeword.
	ErrRIC = errors.New("pocsag: RIC out of range")
	// ErrFunction: function bits outside 0..3.
	ErrFunction = errors.New("pocsag: function must be 0..3")
	// ErrKind: a page kind other than tone, numeric and alpha.
	ErrKind = errors.New("pocsag: unknown page kind")
	// ErrCharacter: a character outside the page kind's alphabet.
	ErrCharacter = errors.New("pocsag: character outside the alphabet")
	// ErrEmpty: a numeric or alpha page without text.
	ErrEmpty = errors.New("pocsag: numeric or alpha page without text")
	// ErrToneText: a tone-only page with text.
	ErrToneText = errors.New("pocsag: tone-only page with text")
)

// MaxRIC is the largest RIC: addresses have 21 bits.
const MaxRIC = 1<<21 - 1

// Rate is a POCSAG bit rate in bit/s.
type Rate int

// The three POCSAG bit rates.
const (
	Rate512  Rate = 512
	Rate1200 Rate = 1200
	Rate2400 Rate = 2400
)

// Rates lists the valid rates, slowest first.
var Rates = []Rate{Rate512, Rate1200, Rate2400}

// Valid reports whether r is 512, 1200 or 2400.
func (r Rate) Valid() bool { return r == Rate512 || r == Rate1200 || r == Rate2400 }

// String is the rate in bit/s.
func (r Rate) String() string { return strconv.Itoa(int(r)) }

// ParseRate reads "512", "1200" or "2400".
func ParseRate(s string) (Rate, error) {
	n, err := strconv.Atoi(s)
	if err != nil || !Rate(n).Valid() {
		return 0, fmt.Errorf("%w: %q", ErrRate, s)
	}
	return Rate(n), nil
}

// Function is the 2-bit function (source) code of an address: 0..3. By
// convention numeric pages use 0 and alphanumeric pages 3, but the pager's
// programming decides; the encoder sends what it is given.
type Function uint8

// Valid reports whether f is 0..3.
func (f Function) Valid() bool { return f <= 3 }

// Kind is how a page's text is coded.
type Kind uint8

// Page kinds.
const (
	// Tone: address only, no message codewords.
	Tone Kind = iota
	// Numeric: 4-bit BCD digits.
	Numeric
	// Alpha: 7-bit ASCII.
	Alpha
)

var kindNames = [...]string{"tone", "numeric", "alpha"}

// String is "tone", "numeric" or "alpha".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// ParseKind reads "tone", "numeric" or "alpha".
func ParseKind(s string) (Kind, error) {
	for i, n := range kindNames {
		if s == n {
			return Kind(i), nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrKind, s)
}

// Page is one page to one RIC.
type Page struct {
	RIC      uint32
	Function Function
	Kind     Kind
	// Text is the message: empty for Tone; digits, 'U', space, '-' and
	// brackets for Numeric (see [NumericDigit]); printable ASCII, CR and
	// LF for Alpha (see [ASCII] for a substitution of other text).
	Text paging.PHI
}

// Frame is the frame the page's address codeword must go in: RIC mod 8.
func (p Page) Frame() int { return int(p.RIC & 7) }

// Validate reports why p cannot be encoded, or nil.
func (p Page) Validate() error {
	_, err := p.appendMessage(nil, true)
	return err
}

// Codewords are p's address codeword followed by its message codewords.
// The codeword that ends the message (the next page's address, or idle)
// is not included.
func (p Page) Codewords() ([]uint32, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p.appendMessage(nil, false)
}

// Len is the number of codewords [Page.Codewords] gives, or an error.
func (p Page) Len() (int, error) {
	if err := p.Validate(); err != nil {
		return 0, err
	}
	n := p.Text.Len()
	switch p.Kind {
	case Numeric:
		return 1 + (n+4)/5, nil
	case Alpha:
		return 1 + (7*n+19)/20, nil
	}
	return 1, nil
}

// appendMessage validates p and, unless checkOnly, appends its codewords.
func (p Page) appendMessage(dst []uint32, checkOnly bool) ([]uint32, error) {
	addr, err := Address(p.RIC, p.Function)
	if err != nil {
		return dst, err
	}
	text := p.Text.Reveal()
	switch p.Kind {
	case Tone:
		if text != "" {
			return dst, ErrToneText
		}
	case Numeric, Alpha:
		if text == "" {
			return dst, ErrEmpty
		}
	default:
		return dst, fmt.Errorf("%w: %d", ErrKind, p.Kind)
	}
	if checkOnly {
		if p.Kind == Numeric {
			_, err = appendNumeric(nil, text, true)
		} else if p.Kind == Alpha {
			_, err = appendAlpha(nil, text, true)
		}
		return dst, err
	}
	dst = append(dst, addr)
	switch p.Kind {
	case Numeric:
		return appendNumeric(dst, text, false)
	case Alpha:
		return appendAlpha(dst, text, false)
	}
	return dst, nil
}

// Address is the address codeword of ric with function fn: flag bit 0, the
// upper 18 bits of the RIC (its lower 3 bits are the frame), the 2
// function bits, BCH and parity.
func Address(ric uint32, fn Function) (uint32, error) {
	if ric > MaxRIC {
		return 0, fmt.Errorf("%w: %d is above %d", ErrRIC, ric, MaxRIC)
	}
	if !fn.Valid() {
		return 0, fmt.Errorf("%w: %d", ErrFunction, fn)
	}
	cw := seal((ric>>3)<<13 | uint32(fn)<<11)
	switch cw {
	case Idle:
		return 0, fmt.Errorf("%w: RIC %d with function %d would send the idle codeword", ErrRIC, ric, fn)
	case Sync:
		return 0, fmt.Errorf("%w: RIC %d with function %d would send the sync codeword", ErrRIC, ric, fn)
	}
	return cw, nil
}

// messageWord seals 20 message bits (in the low bits of v) as a message
// codeword.
func messageWord(v uint32) uint32 { return seal(1<<31 | (v&0xFFFFF)<<11) }

// NumericDigit is the 4-bit code of c on a numeric page, and whether c
// has one: '0'..'9', 'U' (urgent) 0xB, space 0xC, '-' 0xD, ']' 0xE and
// '[' 0xF. Sources differ on the last two (brackets or parentheses), so
// ')' is taken for 0xE and '(' for 0xF too; decoders such as multimon-ng
// show them as brackets. 0xA is reserved and has no character.
func NumericDigit(c byte) (uint32, bool) {
	switch {
	case c >= '0' && c <= '9':
		return uint32(c - '0'), true
	case c == 'U':
		return 0xB, true
	case c == ' ':
		return 0xC, true
	case c == '-':
		return 0xD, true
	case c == ']' || c == ')':
		return 0xE, true
	case c == '[' || c == '(':
		return 0xF, true
	}
	return 0, false
}

// reverse4 reverses the order of the low 4 bits of d: digits go on air
// least significant bit first.
func reverse4(d uint32) uint32 {
	return (d&1)<<3 | (d&2)<<1 | (d&4)>>1 | (d&8)>>3
}

// appendNumeric appends the numeric message codewords of text, 5 digits a
// codeword, padded with spaces (0xC).
func appendNumeric(dst []uint32, text string, checkOnly bool) ([]uint32, error) {
	var v uint32
	n := 0
	for i := 0; i < len(text); i++ {
		d, ok := NumericDigit(text[i])
		if !ok {
			return dst, fmt.Errorf("%w: numeric character %d", ErrCharacter, i+1)
		}
		if checkOnly {
			continue
		}
		v = v<<4 | reverse4(d)
		if n++; n == 5 {
			dst = append(dst, messageWord(v))
			v, n = 0, 0
		}
	}
	if n > 0 {
		for ; n < 5; n++ {
			v = v<<4 | reverse4(0xC)
		}
		dst = append(dst, messageWord(v))
	}
	return dst, nil
}

// AlphaChar reports whether c may go on an alphanumeric page: printable
// ASCII (0x20..0x7E), CR or LF.
func AlphaChar(c byte) bool { return c >= 0x20 && c <= 0x7E || c == '\r' || c == '\n' }

// appendAlpha appends the alphanumeric message codewords of text: 7 bits a
// character, least significant bit first, 20 bits a codeword, the last
// codeword padded with zero bits.
func appendAlpha(dst []uint32, text string, checkOnly bool) ([]uint32, error) {
	var v uint32
	n := 0 // bits in v
	for i := 0; i < len(text); i++ {
		c := text[i]
		if !AlphaChar(c) {
			return dst, fmt.Errorf("%w: alphanumeric character %d", ErrCharacter, i+1)
		}
		if checkOnly {
			continue
		}
		for b := 0; b < 7; b++ {
			v = v<<1 | uint32(c>>b)&1
			if n++; n == 20 {
				dst = append(dst, messageWord(v))
				v, n = 0, 0
			}
		}
	}
	if n > 0 {
		dst = append(dst, messageWord(v<<(20-n)))
	}
	return dst, nil
}
