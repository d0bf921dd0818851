package serialport

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"go.bug.st/serial"
)

// Config of one line: a serial device, or the raw TCP socket of a serial
// device server. The zero value of each field but Path means its default.
type Config struct {
	// Path is a device (/dev/serial/by-id/..., /dev/ttyUSB0) or
	// "tcp://host:port" for a serial device server in raw TCP mode.
	Path string

	// Serial settings; ignored for tcp:// lines, whose device server
	// holds them. Defaults: 9600 baud, 8 data bits, 1 stop bit, parity
	// "none", flow "none".
	Baud     int
	DataBits int    // 5, 6, 7 or 8
	StopBits int    // 1 or 2
	Parity   string // "none", "even", "odd", "mark", "space"
	Flow     string // "none" or "rtscts"

	// ReadTimeout bounds each Read, so that a session can notice that its
	// context ended: a read that times out returns (0, nil). Default 100ms.
	ReadTimeout time.Duration

	// The delay before reopening doubles from MinBackoff up to MaxBackoff,
	// and starts again from MinBackoff after a session that lasted longer
	// than MaxBackoff. Defaults 250ms and 30s.
	MinBackoff, MaxBackoff time.Duration
}

// Defaults applied by New to zero fields.
const (
	DefaultBaud        = 9600
	DefaultReadTimeout = 100 * time.Millisecond
	DefaultMinBackoff  = 250 * time.Millisecond
	DefaultMaxBackoff  = 30 * time.Second
	dialTimeout        = 5 * time.Second
)

// ErrConfig is wrapped by every error New returns for a bad Config.
var ErrConfig = errors.New("serialport: bad config")

const tcpScheme = "tcp://"

var parities = map[string]serial.Parity{
	"none":  serial.NoParity,
	"even":  serial.EvenParity,
	"odd":   serial.OddParity,
	"mark":  serial.MarkParity,
	"space": serial.SpaceParity,
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Baud == 0 {
		c.Baud = DefaultBaud
	}
	if c.DataBits == 0 {
		c.DataBits = 8
	}
	if c.StopBits == 0 {
		c.StopBits = 1
	}
	if c.Parity == "" {
		c.Parity = "none"
	}
	if c.Flow == "" {
		c.Flow = "none"
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	return c
}

// Validate checks c as New would, defaults applied: the agent's
// configuration uses it to name a bad device at start.
func (c Config) Validate() error { return c.withDefaults().validate() }

// validate checks a Config that has its defaults applied.
func (c Config) validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, a...))
	}
	switch {
	case c.Path == "":
		return bad("empty path")
	case strings.HasPrefix(c.Path, tcpScheme):
		host, port, err := net.SplitHostPort(strings.TrimPrefix(c.Path, tcpScheme))
		if err != nil {
			return bad("tcp address %q: %v", c.Path, err)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return bad("tcp address %q: port must be 1-65535", c.Path)
		}
		if host == "" {
			return bad("tcp address %q: no host", c.Path)
		}
	case strings.Contains(c.Path, "://"):
		return bad("path %q: only tcp:// is supported", c.Path)
	}
	if c.Baud < 0 {
		return bad("baud %d", c.Baud)
	}
	if c.DataBits < 5 || c.DataBits > 8 {
		return bad("data bits %d: want 5-8", c.DataBits)
	}
	if c.StopBits != 1 && c.StopBits != 2 {
		return bad("stop bits %d: want 1 or 2", c.StopBits)
	}
	if _, ok := parities[c.Parity]; !ok {
		return bad("parity %q: want none, even, odd, mark or space", c.Parity)
	}
	if c.Flow != "none" && c.Flow != "rtscts" {
		return bad("flow %q: want none or rtscts", c.Flow)
	}
	if c.ReadTimeout < 0 || c.MinBackoff < 0 || c.MaxBackoff < 0 {
		return bad("negative duration")
	}
	if c.MinBackoff > c.MaxBackoff {
		return bad("min backoff %v above max backoff %v", c.MinBackoff, c.MaxBackoff)
	}
	return nil
}

func (c Config) isTCP() bool { return strings.HasPrefix(c.Path, tcpScheme) }

func (c Config) mode() *serial.Mode {
	stop := serial.OneStopBit
	if c.StopBits == 2 {
		stop = serial.TwoStopBits
	}
	return &serial.Mode{
		BaudRate: c.Baud,
		DataBits: c.DataBits,
		Parity:   parities[c.Parity],
		StopBits: stop,
	}
}
