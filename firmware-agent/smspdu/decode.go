package smspdu

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/pdumode"
	"github.com/warthog618/sms/encoding/tpdu"
	"github.com/warthog618/sms/encoding/ucs2"

	"pagebridge/gateway/paging"
)

// Errors of the decoders. Every decode error wraps one of them and says
// where the PDU went wrong (field and octet), never what text it holds.
var (
	ErrMalformed   = errors.New("smspdu: malformed PDU")
	ErrWrongType   = errors.New("smspdu: unexpected PDU type")
	ErrUnsupported = errors.New("smspdu: unsupported PDU")
	ErrLength      = errors.New("smspdu: PDU length does not match")
)

// maxPDUOctets bounds what the decoders read: the longest service centre
// address (12 octets) and the longest TPDU a modem reports (an
// SMS-STATUS-REPORT with user data stays below 180).
const maxPDUOctets = 12 + 180

// Concat is a part's place in a concatenated message (the UDH's
// concatenation element, 8-bit reference IE 0x00 or 16-bit IE 0x08).
// Total is 0 for a message that is not concatenated.
type Concat struct {
	Ref   int  // 0–255, or 0–65535 when Ref16
	Ref16 bool // the reference came in a 16-bit element
	Seq   int  // this part's number, 1…Total
	Total int
}

// Deliver is one received SMS-DELIVER (from +CMT, or +CMGR/+CMGL of a
// stored message).
type Deliver struct {
	From Address
	// SMSC is the service centre address that came before the TPDU; zero
	// when the modem gave none.
	SMSC Address
	// Sent is TP-SCTS, when the service centre took the message, in the
	// UTC offset it gave.
	Sent   time.Time
	Coding Coding
	// Text is this part's text. An 8-bit message's octets are kept as
	// they came (a Go string of any bytes).
	Text   paging.PHI
	Concat Concat

	tp *tpdu.TPDU // for reassembly: sms.Decode joins parts' user data
}

// StatusReport is one received SMS-STATUS-REPORT (from +CDS, or +CMGR of
// a report stored after +CDSI).
type StatusReport struct {
	// MR is TP-MR: the reference the modem gave the message in
	// "+CMGS: <mr>" (not the one in the PDU that was sent).
	MR        int
	Recipient Address
	SMSC      Address
	// Submitted is TP-SCTS, when the service centre took the message;
	// Discharged is TP-DT, when it was delivered or last tried, or given
	// up on.
	Submitted  time.Time
	Discharged time.Time
	// Status is TP-ST as it came; Outcome classifies it.
	Status  byte
	Outcome Outcome
}

// DecodeDeliver reads the hex PDU of an SMS-DELIVER as +CMT and +CMGR
// give it: the service centre address, then the TPDU. Surrounding white
// space is ignored. An SMS-STATUS-REPORT or any other type is an error
// wrapping ErrWrongType; a PDU that is not well-formed wraps ErrMalformed;
// compressed text wraps ErrUnsupported.
func DecodeDeliver(pdu string) (Deliver, error) {
	p, t, err := unmarshal(pdu)
	if err != nil {
		return Deliver{}, err
	}
	if st := t.SmsType(); st != tpdu.SmsDeliver {
		return Deliver{}, fmt.Errorf("%w: %s, want SMS-DELIVER", ErrWrongType, typeName(st))
	}
	// Layout: first octet, TP-OA (length in semi-octets, TOA, digits),
	// TP-PID, TP-DCS, TP-SCTS.
	scts := 1 + 2 + (int(p.TPDU[1])+1)/2 + 2
	if err := checkTimestamp("service centre time stamp", p.TPDU, scts); err != nil {
		return Deliver{}, err
	}
	if t.DCS.Compressed() {
		return Deliver{}, fmt.Errorf("%w: compressed user data (TS 23.024)", ErrUnsupported)
	}
	c, err := concatInfo(t.UDH)
	if err != nil {
		return Deliver{}, err
	}
	alpha, _ := t.Alphabet()
	d := Deliver{
		From:   fromTPDU(t.OA),
		SMSC:   fromTPDU(p.SMSC.Address),
		Sent:   t.SCTS.Time,
		Coding: Coding(alpha),
		Concat: c,
		tp:     t,
	}
	text, dangling, err := decodeText([]*tpdu.TPDU{t})
	if dangling > 0 && c.Total > 1 && c.Seq < c.Total {
		// A sender split a surrogate pair between parts: this part's text
		// goes without its first half; reassembly joins the pair.
		cut := *t
		cut.UD = t.UD[:len(t.UD)-dangling]
		text, _, err = decodeText([]*tpdu.TPDU{&cut})
	}
	if err != nil {
		return Deliver{}, err
	}
	d.Text = paging.NewPHI(string(text))
	return d, nil
}

// DecodeStatusReport reads the hex PDU of an SMS-STATUS-REPORT as +CDS
// and +CMGR give it: the service centre address, then the TPDU. Errors as
// DecodeDeliver's.
func DecodeStatusReport(pdu string) (StatusReport, error) {
	p, t, err := unmarshal(pdu)
	if err != nil {
		return StatusReport{}, err
	}
	if st := t.SmsType(); st != tpdu.SmsStatusReport {
		return StatusReport{}, fmt.Errorf("%w: %s, want SMS-STATUS-REPORT", ErrWrongType, typeName(st))
	}
	// Layout: first octet, TP-MR, TP-RA, TP-SCTS, TP-DT, TP-ST.
	scts := 2 + 2 + (int(p.TPDU[2])+1)/2
	if err := checkTimestamp("service centre time stamp", p.TPDU, scts); err != nil {
		return StatusReport{}, err
	}
	if err := checkTimestamp("discharge time", p.TPDU, scts+7); err != nil {
		return StatusReport{}, err
	}
	return StatusReport{
		MR:         int(t.MR),
		Recipient:  fromTPDU(t.RA),
		SMSC:       fromTPDU(p.SMSC.Address),
		Submitted:  t.SCTS.Time,
		Discharged: t.DT.Time,
		Status:     t.ST,
		Outcome:    Classify(t.ST),
	}, nil
}

// CheckLength compares the <length> a modem reported with the PDU
// (+CMT: ,<length>, +CMGR: <stat>,,<length>, +CDS: <length>): the TPDU's
// octets, the service centre address not counted. A mismatch, which a
// line that dropped or garbled characters gives, wraps ErrLength.
func CheckLength(pdu string, length int) error {
	b, err := decodeHex(pdu)
	if err != nil {
		return err
	}
	var smsc pdumode.SMSCAddress
	n, err := smsc.UnmarshalBinary(b)
	if err != nil {
		return fmt.Errorf("%w: service centre address", ErrMalformed)
	}
	if got := len(b) - n; got != length {
		return fmt.Errorf("%w: the TPDU has %d octets, the modem said %d", ErrLength, got, length)
	}
	return nil
}

func decodeHex(pdu string) ([]byte, error) {
	pdu = strings.TrimSpace(pdu)
	switch {
	case pdu == "":
		return nil, fmt.Errorf("%w: empty", ErrMalformed)
	case len(pdu)%2 != 0:
		return nil, fmt.Errorf("%w: odd number (%d) of hex digits", ErrMalformed, len(pdu))
	case len(pdu) > 2*maxPDUOctets:
		return nil, fmt.Errorf("%w: %d octets, longer than any SMS PDU", ErrMalformed, len(pdu)/2)
	}
	b, err := hex.DecodeString(pdu)
	if err != nil {
		var ib hex.InvalidByteError
		if errors.As(err, &ib) {
			return nil, fmt.Errorf("%w: not hex at character %d", ErrMalformed, strings.IndexByte(pdu, byte(ib))+1)
		}
		return nil, fmt.Errorf("%w: not hex", ErrMalformed)
	}
	return b, nil
}

// unmarshal decodes hex, the service centre address and the TPDU (as
// mobile-terminated), turning the sms package's errors into ours.
func unmarshal(pdu string) (*pdumode.PDU, *tpdu.TPDU, error) {
	b, err := decodeHex(pdu)
	if err != nil {
		return nil, nil, err
	}
	p, err := pdumode.UnmarshalBinary(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: service centre address: %s", ErrMalformed, reason(err))
	}
	if len(p.SMSC.Addr) > MaxAddressDigits {
		return nil, nil, fmt.Errorf("%w: service centre address of %d digits", ErrMalformed, len(p.SMSC.Addr))
	}
	if len(p.TPDU) < 3 {
		return nil, nil, fmt.Errorf("%w: TPDU of %d octets is truncated", ErrMalformed, len(p.TPDU))
	}
	// The address lengths, before sms reads up to 128 octets for one.
	switch tpdu.FirstOctet(p.TPDU[0]).MTI() {
	case tpdu.MtReserved:
		return nil, nil, fmt.Errorf("%w: reserved message type indicator 3", ErrMalformed)
	case tpdu.MtDeliver: // SMS-DELIVER: TP-OA follows the first octet
		if n := int(p.TPDU[1]); n > MaxAddressDigits {
			return nil, nil, fmt.Errorf("%w: originating address of %d semi-octets, at most %d", ErrMalformed, n, MaxAddressDigits)
		}
	case tpdu.MtCommand: // SMS-STATUS-REPORT: TP-RA follows TP-MR
		if n := int(p.TPDU[2]); n > MaxAddressDigits {
			return nil, nil, fmt.Errorf("%w: recipient address of %d semi-octets, at most %d", ErrMalformed, n, MaxAddressDigits)
		}
	}
	t, err := sms.Unmarshal(p.TPDU)
	if err != nil {
		var de tpdu.DecodeError
		if errors.As(err, &de) {
			// The TPDU's offsets, counted from its first octet.
			return nil, nil, fmt.Errorf("%w: %s at TPDU octet %d: %s", ErrMalformed, de.Field, de.Offset, reason(de.Err))
		}
		return nil, nil, fmt.Errorf("%w: %s", ErrMalformed, reason(err))
	}
	return p, t, nil
}

// reason names what went wrong without the sms package's own message,
// some of which quote the data (ucs2.ErrDanglingSurrogate prints the
// octets, gsm7 errors a character).
func reason(err error) string {
	var ust tpdu.ErrUnsupportedSmsType
	var de tpdu.DecodeError
	switch {
	case errors.As(err, &de):
		return de.Field + ": " + reason(de.Err)
	case errors.Is(err, tpdu.ErrUnderflow):
		return "truncated"
	case errors.Is(err, tpdu.ErrOverlength):
		return "longer than its length says"
	case errors.Is(err, tpdu.ErrOddUCS2Length):
		return "odd length of UCS-2 text"
	case errors.Is(err, tpdu.ErrNonZero):
		return "non-zero fill"
	case errors.Is(err, tpdu.ErrInvalid):
		return "invalid value"
	case errors.As(err, &ust):
		return "unsupported message type"
	}
	return "invalid content"
}

func typeName(st tpdu.SmsType) string {
	switch st {
	case tpdu.SmsDeliver:
		return "SMS-DELIVER"
	case tpdu.SmsSubmitReport:
		return "SMS-SUBMIT-REPORT"
	case tpdu.SmsStatusReport:
		return "SMS-STATUS-REPORT"
	}
	return fmt.Sprintf("message type %d", int(st))
}

// concatInfo reads and checks the concatenation element. sms v0.3.0
// ignores one of the wrong length (and takes the message as whole) and
// does not check the numbers.
func concatInfo(udh tpdu.UserDataHeader) (Concat, error) {
	for _, ie := range udh {
		if (ie.ID == 0x00 && len(ie.Data) != 3) || (ie.ID == 0x08 && len(ie.Data) != 4) {
			return Concat{}, fmt.Errorf("%w: concatenation element 0x%02x of %d octets", ErrMalformed, ie.ID, len(ie.Data))
		}
	}
	var c Concat
	if total, seq, ref, ok := udh.ConcatInfo8(); ok {
		c = Concat{Ref: ref, Seq: seq, Total: total}
	} else if total, seq, ref, ok := udh.ConcatInfo16(); ok {
		c = Concat{Ref: ref, Ref16: true, Seq: seq, Total: total}
	} else {
		return Concat{}, nil
	}
	if c.Total < 1 || c.Seq < 1 || c.Seq > c.Total {
		return Concat{}, fmt.Errorf("%w: concatenation element says part %d of %d", ErrMalformed, c.Seq, c.Total)
	}
	return c, nil
}

// decodeText turns user data into UTF-8 with sms.Decode (all national
// tables, as the UDH names them). When the UCS-2 text ends in half a
// surrogate pair, dangling is how many octets that half takes.
func decodeText(parts []*tpdu.TPDU) (text []byte, dangling int, err error) {
	b, err := sms.Decode(parts)
	if err == nil {
		return b, 0, nil
	}
	var ds ucs2.ErrDanglingSurrogate
	if errors.As(err, &ds) {
		// Not wrapped: its message prints the octets.
		return nil, len(ds), fmt.Errorf("%w: UCS-2 text ends in half a surrogate pair", ErrMalformed)
	}
	return nil, 0, fmt.Errorf("%w: user data: %s", ErrMalformed, reason(err))
}

// checkTimestamp checks the 7 semi-octet fields of a time stamp at off
// in the TPDU: the sms package takes month 13 or hour 25 and lets
// time.Date roll them over.
func checkTimestamp(field string, b []byte, off int) error {
	if off+7 > len(b) {
		return fmt.Errorf("%w: %s at TPDU octet %d: truncated", ErrMalformed, field, off)
	}
	limits := [6][2]int{{0, 99}, {1, 12}, {1, 31}, {0, 23}, {0, 59}, {0, 59}}
	for i, l := range limits {
		lo, hi := b[off+i]&0x0f, b[off+i]>>4
		v := int(lo)*10 + int(hi)
		if lo > 9 || hi > 9 || v < l[0] || v > l[1] {
			return fmt.Errorf("%w: %s at TPDU octet %d: field %d out of range", ErrMalformed, field, off, i+1)
		}
	}
	tz := b[off+6]
	if lo, hi := tz&0x07, tz>>4; hi > 9 || int(lo)*10+int(hi) > 56 {
		return fmt.Errorf("%w: %s at TPDU octet %d: time zone out of range", ErrMalformed, field, off)
	}
	return nil
}
