package espa

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
)

// ESPA 4.4.4 control characters (ISO 1745).
const (
	SOH = 0x01 // start of heading: a data block starts
	STX = 0x02 // start of text: the records follow the header
	ETX = 0x03 // end of text: the BCC follows
	EOT = 0x04 // end of transmission: the link returns to the control station
	ENQ = 0x05 // enquiry: <address> ENQ polls or selects a station
	ACK = 0x06 // block taken, or ready to receive
	NAK = 0x15 // block refused (send it again), or not ready
	RS  = 0x1e // record separator
	US  = 0x1f // unit separator: between a record's identifier and its data
)

// MaxBlockLen bounds a data block from SOH to BCC, both ways. ESPA sets no
// limit; a call with a 160-character display text is about 190 bytes.
const MaxBlockLen = 2048

// Header is the one character between SOH and STX that says what a block
// is.
type Header byte

// Headers of ESPA 4.4.4, and the two the Ascom/Ericsson dialect adds.
const (
	HeaderCall           Header = '1' // call to pager
	HeaderStatus         Header = '2' // status information
	HeaderStatusRequest  Header = '3' // status request
	HeaderSubscriberCall Header = '4' // call to subscriber line
	HeaderManufacturer   Header = '5' // manufacturer defined
	HeaderLicense        Header = '7' // Ascom/Ericsson: request for license
	HeaderModuleKey      Header = '9' // Ascom/Ericsson: request for module key number
)

// Record identifiers (data identifiers) of ESPA 4.4.4 and of the
// Ascom/Ericsson dialect. Identifier '0' is reserved.
const (
	RecCallAddress   byte = '1' // call address (pager number)
	RecText          byte = '2' // display message
	RecBeep          byte = '3' // beep coding, 1–9
	RecCallType      byte = '4' // 1 reset, 2 speech, 3 standard (dialect: 5–7)
	RecTransmissions byte = '5' // number of transmissions
	RecPriority      byte = '6' // 1 alarm, 2 high, 3 normal
	RecCallStatus    byte = '7' // call status (status blocks)
	RecSystemStatus  byte = '8' // system status (status blocks)
	RecID            byte = '9' // Ascom/Ericsson: ID
	RecMailbox       byte = 'A' // Ericsson: mailbox number
	RecInfopage      byte = 'C' // Ascom: infopage
	RecRunningNumber byte = 'D' // Ascom/Ericsson: running number
)

// Errors of the codec. Each error returned wraps one of them; none of them
// quotes record data, which may be message text.
var (
	// ErrMalformed: the bytes are not a data block (no SOH, STX or ETX
	// where they belong, a control character in the data, a record
	// without US, ...), or a block's records do not make a call or status
	// (no call address, a beep code out of range, ...).
	ErrMalformed = errors.New("espa: malformed")
	// ErrBCC: the block check character does not match the block.
	ErrBCC = errors.New("espa: BCC mismatch")
	// ErrTooLong: a block beyond MaxBlockLen, or a field beyond its limit.
	ErrTooLong = errors.New("espa: too long")
	// ErrInvalid: EncodeBlock (or an Encode method) cannot write the
	// value: a control character in data, an identifier that is not a
	// printable character, a text character outside ISO 8859-1, ...
	ErrInvalid = errors.New("espa: invalid")
)

// Record is one record of a data block: identifier US data.
type Record struct {
	// ID is the data identifier, a printable character ('1'–'8' in ESPA
	// 4.4.4, '9', 'A', 'C', 'D' in the Ascom/Ericsson dialect).
	ID byte
	// Value is the data as on the line: bytes 0x20 and above, any of
	// them; text records are ISO 8859-1.
	Value string
}

// Block is a data block: SOH header STX record {RS record} ETX BCC. It
// holds message text: Block formats and logs without the values.
type Block struct {
	Header  Header
	Records []Record
}

// Get returns the value of the first record with identifier id.
func (b Block) Get(id byte) (string, bool) {
	for _, r := range b.Records {
		if r.ID == id {
			return r.Value, true
		}
	}
	return "", false
}

// Format implements fmt.Formatter: the header and the identifiers and
// lengths of the records, never their values.
func (b Block) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "espa.Block{header %q,", rune(b.Header))
	for _, r := range b.Records {
		fmt.Fprintf(f, " %c:%d", r.ID, len(r.Value))
	}
	fmt.Fprint(f, "}")
}

// LogValue implements slog.LogValuer without the values.
func (b Block) LogValue() slog.Value {
	ids := make([]byte, len(b.Records))
	for i, r := range b.Records {
		ids[i] = r.ID
	}
	return slog.GroupValue(slog.String("header", string(rune(b.Header))), slog.String("records", string(ids)))
}

// BCC returns the block check character of b, a block from SOH through
// ETX: the XOR of every byte after the SOH, ETX included. A b that does
// not start with SOH is taken as the bytes after it.
func BCC(b []byte) byte {
	if len(b) > 0 && b[0] == SOH {
		b = b[1:]
	}
	var x byte
	for _, c := range b {
		x ^= c
	}
	return x
}

// printable reports whether c can be a header or a record identifier.
func printable(c byte) bool { return c > 0x20 && c < 0x7f }

// EncodeBlock writes b as SOH header STX records ETX BCC. Records are
// separated by RS, each written identifier US value. It returns an error
// wrapping ErrInvalid for a header or identifier that is not a printable
// character, or a value with a byte below 0x20, and ErrTooLong for a block
// beyond MaxBlockLen.
func EncodeBlock(b Block) ([]byte, error) {
	if !printable(byte(b.Header)) {
		return nil, fmt.Errorf("%w: header 0x%02x is not a printable character", ErrInvalid, byte(b.Header))
	}
	out := make([]byte, 0, 64)
	out = append(out, SOH, byte(b.Header), STX)
	for i, r := range b.Records {
		if !printable(r.ID) {
			return nil, fmt.Errorf("%w: record %d: identifier 0x%02x is not a printable character", ErrInvalid, i+1, r.ID)
		}
		for j := 0; j < len(r.Value); j++ {
			if r.Value[j] < 0x20 {
				return nil, fmt.Errorf("%w: record %c: control character 0x%02x at %d", ErrInvalid, r.ID, r.Value[j], j)
			}
		}
		if i > 0 {
			out = append(out, RS)
		}
		out = append(out, r.ID, US)
		out = append(out, r.Value...)
	}
	out = append(out, ETX)
	out = append(out, BCC(out))
	if len(out) > MaxBlockLen {
		return nil, fmt.Errorf("%w: block of %d bytes (at most %d)", ErrTooLong, len(out), MaxBlockLen)
	}
	return out, nil
}

// DecodeBlock parses one data block, from SOH to the BCC after ETX, and
// checks its BCC. It is tolerant where implementers are known to err: an
// RS right before ETX (an empty last record) is taken as the end of the
// records, and spaces before a record's identifier are skipped (the
// Zenitel example's stray space after STX). Errors wrap ErrMalformed,
// ErrBCC or ErrTooLong; a block with a bad BCC is reported as ErrBCC
// before its contents are looked at, so that it is answered NAK and sent
// again.
func DecodeBlock(raw []byte) (Block, error) {
	switch {
	case len(raw) > MaxBlockLen:
		return Block{}, fmt.Errorf("%w: block of %d bytes (at most %d)", ErrTooLong, len(raw), MaxBlockLen)
	case len(raw) == 0 || raw[0] != SOH:
		return Block{}, fmt.Errorf("%w: block does not start with SOH", ErrMalformed)
	case len(raw) < 5:
		return Block{}, fmt.Errorf("%w: block of %d bytes is too short", ErrMalformed, len(raw))
	}
	etx := len(raw) - 2
	if raw[etx] != ETX {
		return Block{}, fmt.Errorf("%w: no ETX before the BCC", ErrMalformed)
	}
	if want := BCC(raw[:etx+1]); raw[etx+1] != want {
		return Block{}, fmt.Errorf("%w: block says 0x%02x, contents give 0x%02x", ErrBCC, raw[etx+1], want)
	}
	if raw[2] != STX {
		return Block{}, fmt.Errorf("%w: header is not one character followed by STX", ErrMalformed)
	}
	if !printable(raw[1]) {
		return Block{}, fmt.Errorf("%w: header 0x%02x is not a printable character", ErrMalformed, raw[1])
	}
	b := Block{Header: Header(raw[1])}
	data := raw[3:etx]
	if len(data) > 0 && data[len(data)-1] == RS {
		data = data[:len(data)-1] // RS ETX
	}
	if len(data) == 0 {
		return b, nil
	}
	start := 3
	for n := 1; ; n++ {
		end := bytes.IndexByte(data, RS)
		rec := data
		if end >= 0 {
			rec = data[:end]
		}
		r, err := parseRecord(rec, start, n)
		if err != nil {
			return Block{}, err
		}
		b.Records = append(b.Records, r)
		if end < 0 {
			return b, nil
		}
		data = data[end+1:]
		start += end + 1
	}
}

// parseRecord parses record n, which starts at offset off of the block.
func parseRecord(rec []byte, off, n int) (Record, error) {
	i := 0
	for i < len(rec) && rec[i] == ' ' {
		i++
	}
	switch {
	case i == len(rec):
		return Record{}, fmt.Errorf("%w: record %d at %d is empty", ErrMalformed, n, off)
	case i+1 >= len(rec) || rec[i+1] != US:
		return Record{}, fmt.Errorf("%w: record %d at %d: identifier is not one character followed by US", ErrMalformed, n, off)
	case !printable(rec[i]):
		return Record{}, fmt.Errorf("%w: record %d at %d: identifier 0x%02x is not a printable character", ErrMalformed, n, off, rec[i])
	}
	val := rec[i+2:]
	for j, c := range val {
		if c < 0x20 {
			return Record{}, fmt.Errorf("%w: record %c: control character 0x%02x at %d", ErrMalformed, rec[i], c, off+i+2+j)
		}
	}
	return Record{ID: rec[i], Value: string(val)}, nil
}
