package espa

import (
	"fmt"
	"log/slog"
	"strconv"
	"unicode/utf8"

	"pagebridge/gateway/paging"
)

// Dialect is the flavour of ESPA 4.4.4 a line speaks.
type Dialect int

const (
	// Standard is ESPA 4.4.4 as published.
	Standard Dialect = iota
	// Ascom is the Ascom/Ericsson dialect: records 9 (ID), A (mailbox),
	// C (infopage) and D (running number) are part of a call or status,
	// call types 5–7 are valid, and blocks 7 and 9 exist (and are
	// refused: they ask for licence handling we do not have).
	Ascom
)

// ParseDialect parses "standard" (or "") and "ascom" (or "ericsson").
func ParseDialect(s string) (Dialect, error) {
	switch s {
	case "", "standard":
		return Standard, nil
	case "ascom", "ericsson":
		return Ascom, nil
	}
	return 0, fmt.Errorf("unknown ESPA dialect %q (want standard or ascom)", s)
}

func (d Dialect) String() string {
	if d == Ascom {
		return "ascom"
	}
	return "standard"
}

// CallType is record 4 of a call.
type CallType byte

// Call types. 0 means the record is absent.
const (
	CallReset    CallType = 1 // cancel the call to the address
	CallSpeech   CallType = 2
	CallStandard CallType = 3
	// The Ascom dialect's: remote acknowledgement of an old paging (5),
	// erase of an old paging (6), cordless phone (7).
	CallRemoteAck CallType = 5
	CallErase     CallType = 6
	CallCordless  CallType = 7
)

// Priority is record 6 of a call.
type Priority byte

// Priorities. 0 means the record is absent.
const (
	PriorityAlarm  Priority = 1
	PriorityHigh   Priority = 2
	PriorityNormal Priority = 3
)

// Tier maps p to the box's priority tier (DESIGN.md: 1 alarm → critical,
// 2 high → high, 3 normal → normal); ok is false when p is absent.
func (p Priority) Tier() (tier paging.Priority, ok bool) {
	switch p {
	case PriorityAlarm:
		return paging.PriorityCritical, true
	case PriorityHigh:
		return paging.PriorityHigh, true
	case PriorityNormal:
		return paging.PriorityNormal, true
	}
	return paging.PriorityNormal, false
}

// CallStatus is record 7 of a status block: what became of a call.
type CallStatus byte

// Call statuses.
const (
	StatusBusy         CallStatus = 1
	StatusQueued       CallStatus = 2
	StatusPaged        CallStatus = 3
	StatusAbsent       CallStatus = 4
	StatusTerminated   CallStatus = 5
	StatusAcknowledged CallStatus = 6
	StatusSpeech       CallStatus = 7
	StatusFault        CallStatus = 8
)

var callStatusNames = [...]string{"", "busy", "queued", "paged", "absent", "terminated", "acknowledged", "speech", "fault"}

func (s CallStatus) String() string {
	if int(s) < len(callStatusNames) && s > 0 {
		return callStatusNames[s]
	}
	return "status(" + strconv.Itoa(int(s)) + ")"
}

// SystemStatus is record 8 of a status block.
type SystemStatus byte

// SystemTXFailure: the paging system's transmitter failed.
const SystemTXFailure SystemStatus = 1

// Limits of a call's fields.
const (
	// MaxAddressLen bounds a call address (a pager number, a DECT
	// extension).
	MaxAddressLen = 32
	// MaxTextLen bounds a display text, in bytes on the line.
	MaxTextLen = 1024
	// MaxIDLen bounds the dialect's ID, mailbox, infopage and running
	// number.
	MaxIDLen = 32
)

// Call is a call to pager (block header 1). Text is the display message in
// UTF-8; on the line it is ISO 8859-1.
type Call struct {
	Address       string     // record 1, required
	Text          paging.PHI // record 2; zero when absent
	Beep          int        // record 3, 1–9; 0 when absent
	Type          CallType   // record 4; 0 when absent
	Transmissions int        // record 5, 1–99; 0 when absent
	Priority      Priority   // record 6; 0 when absent

	// The Ascom/Ericsson dialect's records; with the standard dialect
	// they are kept in Extra instead.
	ID            string // record 9
	Mailbox       string // record A
	Infopage      string // record C
	RunningNumber string // record D

	// Extra holds the records the dialect does not know, in order: they
	// are written back after the known ones.
	Extra []Record
}

// LogValue implements slog.LogValuer: the address and the length of the
// text, never the text.
func (c Call) LogValue() slog.Value {
	return slog.GroupValue(slog.String("address", c.Address), slog.Int("len", c.Text.Len()),
		slog.Int("priority", int(c.Priority)), slog.Int("type", int(c.Type)))
}

// Status is a status information block (header 2): the status of a call
// (records 1 and 7), or of the system (record 8).
type Status struct {
	Address string       // record 1: the call address the status is about
	Call    CallStatus   // record 7; 0 when absent
	System  SystemStatus // record 8; 0 when absent
	// The dialect's ID and running number, echoed from the call so that
	// the control station can tell which call it is about.
	ID            string // record 9
	RunningNumber string // record D
	Extra         []Record
}

// Block returns the call as a data block, in the dialect d: records 1–6
// in order, then the dialect's (9, A, C, D), then Extra. It returns an
// error wrapping ErrInvalid for a call ESPA cannot carry.
func (c Call) Block(d Dialect) (Block, error) {
	if err := checkAddress(c.Address, true); err != nil {
		return Block{}, fmt.Errorf("%w: call address: %w", ErrInvalid, err)
	}
	b := Block{Header: HeaderCall, Records: []Record{{RecCallAddress, c.Address}}}
	if !c.Text.IsZero() {
		text, err := latin1(c.Text.Reveal())
		if err != nil {
			return Block{}, err
		}
		b.Records = append(b.Records, Record{RecText, text})
	}
	for _, f := range []struct {
		id     byte
		v, max int
		name   string
	}{
		{RecBeep, c.Beep, 9, "beep code"},
		{RecCallType, int(c.Type), maxCallType(d), "call type"},
		{RecTransmissions, c.Transmissions, 99, "number of transmissions"},
		{RecPriority, int(c.Priority), 3, "priority"},
	} {
		switch {
		case f.v == 0:
		case f.v < 0 || f.v > f.max:
			return Block{}, fmt.Errorf("%w: %s %d (1–%d)", ErrInvalid, f.name, f.v, f.max)
		default:
			b.Records = append(b.Records, Record{f.id, strconv.Itoa(f.v)})
		}
	}
	extras, err := dialectRecords(d, []dialectField{
		{RecID, c.ID}, {RecMailbox, c.Mailbox}, {RecInfopage, c.Infopage}, {RecRunningNumber, c.RunningNumber},
	})
	if err != nil {
		return Block{}, err
	}
	b.Records = append(append(b.Records, extras...), c.Extra...)
	return b, nil
}

// Encode returns the call's data block as bytes on the line.
func (c Call) Encode(d Dialect) ([]byte, error) {
	b, err := c.Block(d)
	if err != nil {
		return nil, err
	}
	return EncodeBlock(b)
}

// Block returns the status as a data block (header 2): records 1, 7, 8,
// then the dialect's 9 and D, then Extra.
func (s Status) Block(d Dialect) (Block, error) {
	b := Block{Header: HeaderStatus}
	if s.Address != "" {
		if err := checkAddress(s.Address, false); err != nil {
			return Block{}, fmt.Errorf("%w: call address: %w", ErrInvalid, err)
		}
		b.Records = append(b.Records, Record{RecCallAddress, s.Address})
	}
	if s.Call != 0 {
		if s.Call > StatusFault {
			return Block{}, fmt.Errorf("%w: call status %d (1–8)", ErrInvalid, s.Call)
		}
		b.Records = append(b.Records, Record{RecCallStatus, strconv.Itoa(int(s.Call))})
	}
	if s.System != 0 {
		if s.System > 9 {
			return Block{}, fmt.Errorf("%w: system status %d (1–9)", ErrInvalid, s.System)
		}
		b.Records = append(b.Records, Record{RecSystemStatus, strconv.Itoa(int(s.System))})
	}
	if s.Call == 0 && s.System == 0 {
		return Block{}, fmt.Errorf("%w: status without call status (7) or system status (8)", ErrInvalid)
	}
	extras, err := dialectRecords(d, []dialectField{{RecID, s.ID}, {RecRunningNumber, s.RunningNumber}})
	if err != nil {
		return Block{}, err
	}
	b.Records = append(append(b.Records, extras...), s.Extra...)
	return b, nil
}

// Encode returns the status's data block as bytes on the line.
func (s Status) Encode(d Dialect) ([]byte, error) {
	b, err := s.Block(d)
	if err != nil {
		return nil, err
	}
	return EncodeBlock(b)
}

type dialectField struct {
	id byte
	v  string
}

// dialectRecords returns the records of the dialect's fields that are set;
// with the standard dialect a field set is an error.
func dialectRecords(d Dialect, fields []dialectField) ([]Record, error) {
	var recs []Record
	for _, f := range fields {
		if f.v == "" {
			continue
		}
		if d != Ascom {
			return nil, fmt.Errorf("%w: record %c needs the Ascom dialect", ErrInvalid, f.id)
		}
		if err := checkShort(f.v); err != nil {
			return nil, fmt.Errorf("%w: record %c: %w", ErrInvalid, f.id, err)
		}
		recs = append(recs, Record{f.id, f.v})
	}
	return recs, nil
}

func maxCallType(d Dialect) int {
	if d == Ascom {
		return 9
	}
	return 3
}

// checkAddress reports why s is not a call address: printable ASCII, at
// most MaxAddressLen characters, not empty if required.
func checkAddress(s string, required bool) error {
	switch {
	case s == "" && required:
		return fmt.Errorf("empty")
	case len(s) > MaxAddressLen:
		return fmt.Errorf("%d characters (at most %d)", len(s), MaxAddressLen)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return fmt.Errorf("character 0x%02x at %d", s[i], i)
		}
	}
	return nil
}

// checkShort reports why s is not a dialect identifier value.
func checkShort(s string) error {
	if len(s) > MaxIDLen {
		return fmt.Errorf("%d characters (at most %d)", len(s), MaxIDLen)
	}
	return checkAddress(s, false)
}

// latin1 turns UTF-8 text into ISO 8859-1 bytes. Control characters
// below U+0020 and characters beyond U+00FF cannot be carried
// (ErrInvalid), nor can invalid UTF-8.
func latin1(s string) (string, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			return "", fmt.Errorf("%w: text is not UTF-8 at %d", ErrInvalid, i)
		case r < 0x20:
			return "", fmt.Errorf("%w: text has control character U+%04X at %d", ErrInvalid, r, i)
		case r > 0xff:
			return "", fmt.Errorf("%w: text has U+%04X at %d, outside ISO 8859-1", ErrInvalid, r, i)
		}
		out = append(out, byte(r))
		i += n
	}
	if len(out) > MaxTextLen {
		return "", fmt.Errorf("%w: text of %d characters (at most %d)", ErrTooLong, len(out), MaxTextLen)
	}
	return string(out), nil
}

// fromLatin1 turns ISO 8859-1 bytes into UTF-8.
func fromLatin1(s string) string {
	out := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		out[i] = rune(s[i])
	}
	return string(out)
}

// DecodeCall reads a call out of a block with header 1 (HeaderCall), in
// the dialect d. Errors wrap ErrMalformed (another header, no call
// address, a record twice, a value out of range) or ErrTooLong; none
// quotes the text.
func DecodeCall(b Block, d Dialect) (Call, error) {
	if b.Header != HeaderCall {
		return Call{}, fmt.Errorf("%w: header %q is not a call to pager", ErrMalformed, rune(b.Header))
	}
	var c Call
	seen := make(map[byte]bool, len(b.Records))
	for _, r := range b.Records {
		known := r.ID >= RecCallAddress && r.ID <= RecPriority ||
			d == Ascom && (r.ID == RecID || r.ID == RecMailbox || r.ID == RecInfopage || r.ID == RecRunningNumber)
		if !known {
			c.Extra = append(c.Extra, r)
			continue
		}
		if seen[r.ID] {
			return Call{}, fmt.Errorf("%w: record %c twice", ErrMalformed, r.ID)
		}
		seen[r.ID] = true
		var err error
		switch r.ID {
		case RecCallAddress:
			if err = checkAddress(r.Value, true); err == nil {
				c.Address = r.Value
			}
		case RecText:
			if len(r.Value) > MaxTextLen {
				return Call{}, fmt.Errorf("%w: text of %d characters (at most %d)", ErrTooLong, len(r.Value), MaxTextLen)
			}
			c.Text = paging.NewPHI(fromLatin1(r.Value))
		case RecBeep:
			c.Beep, err = number(r.Value, 1, 9)
		case RecCallType:
			var t int
			t, err = number(r.Value, 1, maxCallType(d))
			c.Type = CallType(t)
		case RecTransmissions:
			c.Transmissions, err = number(r.Value, 1, 99)
		case RecPriority:
			var p int
			p, err = number(r.Value, 1, 3)
			c.Priority = Priority(p)
		default:
			if err = checkShort(r.Value); err == nil {
				*dialectSlot(&c, r.ID) = r.Value
			}
		}
		if err != nil {
			return Call{}, fmt.Errorf("%w: record %c: %w", ErrMalformed, r.ID, err)
		}
	}
	if c.Address == "" {
		return Call{}, fmt.Errorf("%w: no call address (record 1)", ErrMalformed)
	}
	return c, nil
}

// dialectSlot is where record id of the dialect goes in c.
func dialectSlot(c *Call, id byte) *string {
	switch id {
	case RecID:
		return &c.ID
	case RecMailbox:
		return &c.Mailbox
	case RecInfopage:
		return &c.Infopage
	}
	return &c.RunningNumber
}

// DecodeStatus reads a status out of a block with header 2
// (HeaderStatus), in the dialect d. Errors wrap ErrMalformed.
func DecodeStatus(b Block, d Dialect) (Status, error) {
	if b.Header != HeaderStatus {
		return Status{}, fmt.Errorf("%w: header %q is not status information", ErrMalformed, rune(b.Header))
	}
	var s Status
	seen := make(map[byte]bool, len(b.Records))
	for _, r := range b.Records {
		known := r.ID == RecCallAddress || r.ID == RecCallStatus || r.ID == RecSystemStatus ||
			d == Ascom && (r.ID == RecID || r.ID == RecRunningNumber)
		if !known {
			s.Extra = append(s.Extra, r)
			continue
		}
		if seen[r.ID] {
			return Status{}, fmt.Errorf("%w: record %c twice", ErrMalformed, r.ID)
		}
		seen[r.ID] = true
		var err error
		var n int
		switch r.ID {
		case RecCallAddress:
			if err = checkAddress(r.Value, true); err == nil {
				s.Address = r.Value
			}
		case RecCallStatus:
			n, err = number(r.Value, 1, 8)
			s.Call = CallStatus(n)
		case RecSystemStatus:
			n, err = number(r.Value, 1, 9)
			s.System = SystemStatus(n)
		case RecID:
			if err = checkShort(r.Value); err == nil {
				s.ID = r.Value
			}
		default:
			if err = checkShort(r.Value); err == nil {
				s.RunningNumber = r.Value
			}
		}
		if err != nil {
			return Status{}, fmt.Errorf("%w: record %c: %w", ErrMalformed, r.ID, err)
		}
	}
	if s.Call == 0 && s.System == 0 {
		return Status{}, fmt.Errorf("%w: no call status (record 7) or system status (record 8)", ErrMalformed)
	}
	return s, nil
}

// number parses a decimal of at most two digits in [lo, hi].
func number(s string, lo, hi int) (int, error) {
	if len(s) == 0 || len(s) > 2 {
		return 0, fmt.Errorf("%d characters, want a number %d–%d", len(s), lo, hi)
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("character 0x%02x, want a number %d–%d", s[i], lo, hi)
		}
		n = n*10 + int(s[i]-'0')
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%d out of range %d–%d", n, lo, hi)
	}
	return n, nil
}
