package smspdu

import (
	"errors"
	"fmt"

	"github.com/warthog618/sms/encoding/tpdu"
)

// TON is the type of number of an address (3GPP TS 23.040 9.1.2.5).
type TON uint8

// The types of number. Only TONUnknown and TONInternational are sent;
// inbound addresses can carry any of them.
const (
	TONUnknown         TON = 0
	TONInternational   TON = 1
	TONNational        TON = 2
	TONNetworkSpecific TON = 3
	TONSubscriber      TON = 4
	TONAlphanumeric    TON = 5
	TONAbbreviated     TON = 6
	TONReserved        TON = 7
)

var tonNames = [...]string{"unknown", "international", "national", "network-specific", "subscriber", "alphanumeric", "abbreviated", "reserved"}

func (t TON) String() string {
	if int(t) < len(tonNames) {
		return tonNames[t]
	}
	return fmt.Sprintf("ton(%d)", uint8(t))
}

// Limits of the addresses ParseAddress takes.
const (
	// MaxE164Digits is the most digits of an international number (ITU-T
	// E.164), country code included.
	MaxE164Digits = 15
	// MaxAddressDigits is the most digits TP-DA carries (10 octets of
	// semi-octets).
	MaxAddressDigits = 20
	// MaxShortCodeDigits is the longest number ParseAddress calls a short
	// code; it is sent exactly like a national number.
	MaxShortCodeDigits = 8
)

// ErrInvalidAddress is wrapped by every ParseAddress error.
var ErrInvalidAddress = errors.New("smspdu: invalid address")

// Address is a phone number as SMS carries it: the digits and their type of
// number. An international number's Digits have no '+'; an alphanumeric
// sender's Digits are its name (inbound only).
type Address struct {
	TON    TON
	Digits string
}

// String is the number as people write it: "+" and the digits for an
// international number, the digits (or name) otherwise.
func (a Address) String() string {
	if a.TON == TONInternational {
		return "+" + a.Digits
	}
	return a.Digits
}

// IsShortCode reports whether a is a numeric short code (at most
// MaxShortCodeDigits digits, not international).
func (a Address) IsShortCode() bool {
	return a.TON != TONInternational && a.TON != TONAlphanumeric && len(a.Digits) <= MaxShortCodeDigits
}

// ParseAddress reads a destination number:
//
//   - "+" and 1–15 digits (E.164, first digit not 0): TONInternational,
//     Digits without the "+";
//   - digits only, up to 20: TONUnknown, sent as dialled. This covers
//     national numbers with their trunk prefix ("0170123456") and numeric
//     short codes ("112", "80888"). TONNational is never chosen, because
//     networks expect such numbers without the trunk prefix, which only the
//     operator's numbering plan can strip.
//
// Spaces, hyphens, dots and parentheses between digits are dropped. Any
// other character, an empty number or too many digits is an error wrapping
// ErrInvalidAddress.
func ParseAddress(s string) (Address, error) {
	digits := make([]byte, 0, len(s))
	plus := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits = append(digits, c)
		case c == '+' && i == 0:
			plus = true
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return Address{}, fmt.Errorf("%w: character %d is not a digit", ErrInvalidAddress, i+1)
		}
	}
	switch {
	case len(digits) == 0:
		return Address{}, fmt.Errorf("%w: no digits", ErrInvalidAddress)
	case plus && len(digits) > MaxE164Digits:
		return Address{}, fmt.Errorf("%w: %d digits, an international number has at most %d", ErrInvalidAddress, len(digits), MaxE164Digits)
	case plus && digits[0] == '0':
		return Address{}, fmt.Errorf("%w: an international number's country code cannot start with 0", ErrInvalidAddress)
	case len(digits) > MaxAddressDigits:
		return Address{}, fmt.Errorf("%w: %d digits, at most %d fit", ErrInvalidAddress, len(digits), MaxAddressDigits)
	}
	if plus {
		return Address{TON: TONInternational, Digits: string(digits)}, nil
	}
	return Address{TON: TONUnknown, Digits: string(digits)}, nil
}

// tpduAddress builds the TP-DA by hand (never sms.To, which makes every
// number international): the TON of a, numbering plan ISDN/E.164.
func (a Address) tpduAddress() (tpdu.Address, error) {
	if a.TON != TONUnknown && a.TON != TONInternational {
		return tpdu.Address{}, fmt.Errorf("%w: type of number %v is not sent", ErrInvalidAddress, a.TON)
	}
	if len(a.Digits) == 0 || len(a.Digits) > MaxAddressDigits {
		return tpdu.Address{}, fmt.Errorf("%w: %d digits", ErrInvalidAddress, len(a.Digits))
	}
	for i := 0; i < len(a.Digits); i++ {
		if c := a.Digits[i]; c < '0' || c > '9' {
			return tpdu.Address{}, fmt.Errorf("%w: character %d is not a digit", ErrInvalidAddress, i+1)
		}
	}
	da := tpdu.NewAddress()
	da.Addr = a.Digits
	da.SetTypeOfNumber(tpdu.TypeOfNumber(a.TON))
	da.SetNumberingPlan(tpdu.NpISDN)
	return da, nil
}

// fromTPDU converts a decoded address. semioctet decoding gives '*', '#',
// 'a'–'c' for the non-digit nibbles; they are kept as they came.
func fromTPDU(a tpdu.Address) Address {
	return Address{TON: TON(a.TypeOfNumber()), Digits: a.Addr}
}
