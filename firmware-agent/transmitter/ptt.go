package transmitter

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"go.bug.st/serial"
)

// ErrPTT wraps a failure to key or unkey the transmitter.
var ErrPTT = errors.New("transmitter: PTT")

// PTT keys the transmitter (push to talk).
type PTT interface {
	// Key turns the carrier on (true) or off (false).
	Key(on bool) error
}

// ControlLines are the modem control outputs of a serial port;
// go.bug.st/serial's Port has them.
type ControlLines interface {
	SetRTS(bool) error
	SetDTR(bool) error
}

// Line is the control line that keys the transmitter.
type Line uint8

const (
	// RTS keys through Request To Send.
	RTS Line = iota
	// DTR keys through Data Terminal Ready.
	DTR
)

// ParseLine reads "rts" or "dtr".
func ParseLine(s string) (Line, error) {
	switch s {
	case "rts", "RTS":
		return RTS, nil
	case "dtr", "DTR":
		return DTR, nil
	}
	return 0, fmt.Errorf("%w: control line %q is neither rts nor dtr", ErrConfig, s)
}

func (l Line) String() string {
	if l == DTR {
		return "DTR"
	}
	return "RTS"
}

// SerialPTT keys through one control line of a serial port: asserted
// keys, unless ActiveLow.
type SerialPTT struct {
	lines     ControlLines
	line      Line
	activeLow bool
	port      serial.Port // when OpenSerialPTT opened it
}

var _ PTT = (*SerialPTT)(nil)

// NewSerialPTT keys through line of lines (a port the caller owns).
func NewSerialPTT(lines ControlLines, line Line, activeLow bool) *SerialPTT {
	return &SerialPTT{lines: lines, line: line, activeLow: activeLow}
}

// OpenSerialPTT opens the serial device at path for its control lines
// only, with the keying line at its unkeyed level from the open on (the
// other line asserted, as go.bug.st/serial leaves it by default), and
// unkeys once more to make sure. Close releases it.
func OpenSerialPTT(path string, line Line, activeLow bool) (*SerialPTT, error) {
	idle := &serial.ModemOutputBits{RTS: true, DTR: true}
	if line == DTR {
		idle.DTR = activeLow
	} else {
		idle.RTS = activeLow
	}
	port, err := serial.Open(path, &serial.Mode{BaudRate: 9600, InitialStatusBits: idle})
	if err != nil {
		return nil, fmt.Errorf("%w: open %s: %w", ErrPTT, path, err)
	}
	p := &SerialPTT{lines: port, line: line, activeLow: activeLow, port: port}
	if err := p.Key(false); err != nil {
		port.Close()
		return nil, err
	}
	return p, nil
}

// Key sets the line: keyed or not.
func (p *SerialPTT) Key(on bool) error {
	level := on != p.activeLow
	var err error
	if p.line == DTR {
		err = p.lines.SetDTR(level)
	} else {
		err = p.lines.SetRTS(level)
	}
	if err != nil {
		return fmt.Errorf("%w: set %v %v: %w", ErrPTT, p.line, level, err)
	}
	return nil
}

// Close unkeys and closes the port if OpenSerialPTT opened it.
func (p *SerialPTT) Close() error {
	err := p.Key(false)
	if p.port != nil {
		err = errors.Join(err, p.port.Close())
	}
	return err
}

// FakePTT records keying for tests: each change with the clock's time.
// Fail makes the next Key calls fail.
type FakePTT struct {
	Clock Clock

	mu      sync.Mutex
	keyed   bool
	changes []KeyChange
	fail    error
}

// KeyChange is one Key call that FakePTT took.
type KeyChange struct {
	At time.Time
	On bool
}

var _ PTT = (*FakePTT)(nil)

// Key records on, or returns the error set by Fail.
func (f *FakePTT) Key(on bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return fmt.Errorf("%w: %w", ErrPTT, f.fail)
	}
	f.keyed = on
	f.changes = append(f.changes, KeyChange{At: f.Clock.Now(), On: on})
	return nil
}

// Fail makes Key fail with err from now on (nil: succeed again).
func (f *FakePTT) Fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = err
}

// Keyed reports whether the transmitter is keyed.
func (f *FakePTT) Keyed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.keyed
}

// Changes returns the recorded key changes.
func (f *FakePTT) Changes() []KeyChange {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]KeyChange(nil), f.changes...)
}
