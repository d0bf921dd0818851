package sim

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// RegStatus is a network registration state as the modem reports it in
// +CREG (3GPP TS 27.007 §7.2). The zero value is "registered, home".
type RegStatus int

// Registration states.
const (
	RegHome      RegStatus = iota // +CREG stat 1
	RegRoaming                    // +CREG stat 5
	RegSearching                  // +CREG stat 2: not registered, searching
	RegDenied                     // +CREG stat 3
	RegNone                       // +CREG stat 0: not registered, not searching
)

// stat is the 27.007 <stat> code.
func (r RegStatus) stat() int {
	switch r {
	case RegRoaming:
		return 5
	case RegSearching:
		return 2
	case RegDenied:
		return 3
	case RegNone:
		return 0
	default:
		return 1
	}
}

// ModemOptions configure a simulated modem. The zero value is a
// registered modem with a good signal, echo on and no SIM PIN.
type ModemOptions struct {
	Name         string    // symlink name in the device dir; default "modem0"
	NoEcho       bool      // start with echo off (ATE0); real modems start with echo on
	SIMPIN       string    // if set, the SIM starts locked until AT+CPIN="<SIMPIN>"
	RSSI         int       // +CSQ rssi 1–31, or 99 (unknown); 0 means 20
	Registration RegStatus // +CREG stat once the SIM is unlocked
	Manufacturer string    // +CGMI; default "Pagebridge"
	Model        string    // +CGMM; default "SIMULATED"
	Revision     string    // +CGMR; default "sim-1.0"
	IMEI         string    // +CGSN; default "356938035643809"
	IMSI         string    // +CIMI; default "262011234567890"
}

func (o ModemOptions) withDefaults() ModemOptions {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.Name, "modem0")
	def(&o.Manufacturer, "Pagebridge")
	def(&o.Model, "SIMULATED")
	def(&o.Revision, "sim-1.0")
	def(&o.IMEI, "356938035643809")
	def(&o.IMSI, "262011234567890")
	if o.RSSI == 0 {
		o.RSSI = 20
	}
	return o
}

// Modem is a simulated GSM modem on a pty pair.
type Modem struct {
	*Device
}

// NewModem starts a simulated modem whose symlink is dir/opts.Name.
func NewModem(dir string, opts ModemOptions) (*Modem, error) {
	opts = opts.withDefaults()
	d, err := NewDevice(dir, opts.Name, func() Responder { return NewModemResponder(opts) })
	if err != nil {
		return nil, err
	}
	return &Modem{Device: d}, nil
}

// CME error codes (3GPP TS 27.007 §9.2) the simulator uses.
const (
	cmeNotAllowed     = 3
	cmeNotSupported   = 4
	cmeSIMPINRequired = 11
	cmeWrongPassword  = 16
)

var cmeText = map[int]string{
	cmeNotAllowed:     "operation not allowed",
	cmeNotSupported:   "operation not supported",
	cmeSIMPINRequired: "SIM PIN required",
	cmeWrongPassword:  "incorrect password",
}

// cmeError is a failed command; code 0 means plain ERROR.
type cmeError int

// ModemResponder is the modem's AT command handling with no IO: feed it
// line bytes, get the reply bytes. It is the Responder behind Modem, and
// usable alone over any byte stream.
//
// Commands end with CR (LF alone is accepted; the LF of CR LF is ignored).
// Text before "AT" on a line is ignored, as V.250 allows. Several commands
// may share a line ("ATE0V1", "AT+CMEE=1;+CREG=2"); the first failure ends
// the line with an error. Replies are verbose: "\r\n<info>\r\n" lines then
// "\r\nOK\r\n" or "\r\nERROR\r\n" ("\r\n+CME ERROR: <n>\r\n" with
// AT+CMEE=1, the text with AT+CMEE=2).
type ModemResponder struct {
	opts ModemOptions
	line []byte // the command line so far
	prev byte   // the last byte seen, to drop the LF of CR LF

	echo     bool
	cmee     int
	creg     int
	simReady bool
}

// NewModemResponder returns a modem in its power-on state.
func NewModemResponder(opts ModemOptions) *ModemResponder {
	r := &ModemResponder{opts: opts.withDefaults()}
	r.reset()
	r.simReady = r.opts.SIMPIN == ""
	return r
}

// reset restores the settings ATZ and a reboot restore.
func (r *ModemResponder) reset() {
	r.echo = !r.opts.NoEcho
	r.cmee = 0
	r.creg = 0
}

var _ Responder = (*ModemResponder)(nil)

// Respond implements Responder.
func (r *ModemResponder) Respond(in []byte) []byte {
	var out []byte
	for _, b := range in {
		prev := r.prev
		r.prev = b
		if r.echo {
			out = append(out, b)
		}
		switch {
		case b == '\n' && prev == '\r':
			// the LF of CR LF
		case b == '\r' || b == '\n':
			out = append(out, r.execLine(string(r.line))...)
			r.line = r.line[:0]
		case b == 0x08 || b == 0x7f: // backspace, as a terminal user would type
			if len(r.line) > 0 {
				r.line = r.line[:len(r.line)-1]
			}
		default:
			if len(r.line) < 1024 {
				r.line = append(r.line, b)
			}
		}
	}
	return out
}

// execLine runs one command line and returns the reply.
func (r *ModemResponder) execLine(line string) []byte {
	i := strings.Index(asciiUpper(line), "AT")
	if i < 0 {
		return nil // no command on this line
	}
	body := line[i+2:]
	var out bytes.Buffer
	var after func() // runs once the final result is written, e.g. a reboot
	for body != "" {
		var cmd string
		cmd, body = nextCommand(body)
		if cmd == "" {
			continue
		}
		info, then, err := r.exec(cmd)
		for _, l := range info {
			out.WriteString("\r\n" + l + "\r\n")
		}
		if err != nil {
			out.WriteString(r.errorResult(*err))
			return out.Bytes()
		}
		if then != nil {
			after = then
		}
	}
	out.WriteString("\r\nOK\r\n")
	if after != nil {
		after()
	}
	return out.Bytes()
}

// nextCommand splits the first command off a command line body. Extended
// commands ("+CSQ", "+CMEE=1") run to the next ';'; basic commands are a
// letter (or '&' and a letter) and optional digits ("E0", "&F", "Z").
func nextCommand(body string) (cmd, rest string) {
	if body[0] == ';' || body[0] == ' ' {
		return "", body[1:]
	}
	if strings.ContainsRune("+%^$*", rune(body[0])) {
		if j := strings.IndexByte(body, ';'); j >= 0 {
			return body[:j], body[j+1:]
		}
		return body, ""
	}
	j := 1
	if body[0] == '&' && len(body) > 1 {
		j = 2
	}
	for j < len(body) && body[j] >= '0' && body[j] <= '9' {
		j++
	}
	return body[:j], body[j:]
}

func (r *ModemResponder) errorResult(code cmeError) string {
	switch {
	case code == 0 || r.cmee == 0:
		return "\r\nERROR\r\n"
	case r.cmee == 2:
		return "\r\n+CME ERROR: " + cmeText[int(code)] + "\r\n"
	default:
		return "\r\n+CME ERROR: " + strconv.Itoa(int(code)) + "\r\n"
	}
}

// asciiUpper upper-cases a-z only, so indexes into the result are indexes
// into s (strings.ToUpper rewrites invalid UTF-8 and changes lengths).
func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func errp(c cmeError) *cmeError { return &c }

// exec runs one command. It returns information lines, an optional
// action to run after the final result, and an error (nil for OK).
func (r *ModemResponder) exec(cmd string) (info []string, after func(), err *cmeError) {
	upper := asciiUpper(cmd)
	name, arg := upper, ""
	if j := strings.IndexAny(upper, "=?"); j >= 0 {
		name, arg = upper[:j], upper[j:]
	}
	switch upper {
	case "E", "E0":
		r.echo = false
		return nil, nil, nil
	case "E1":
		r.echo = true
		return nil, nil, nil
	case "Z", "Z0", "&F", "&F0":
		r.reset()
		return nil, nil, nil
	case "Q", "Q0", "V1", "&C1", "&D2":
		return nil, nil, nil
	case "I", "I0":
		return []string{r.opts.Manufacturer, r.opts.Model, "Revision: " + r.opts.Revision}, nil, nil
	}
	switch name {
	case "+CMEE":
		switch arg {
		case "?":
			return []string{"+CMEE: " + strconv.Itoa(r.cmee)}, nil, nil
		case "=?":
			return []string{"+CMEE: (0-2)"}, nil, nil
		case "=0", "=1", "=2":
			r.cmee = int(arg[1] - '0')
			return nil, nil, nil
		}
	case "+CPIN":
		switch {
		case arg == "?":
			if r.simReady {
				return []string{"+CPIN: READY"}, nil, nil
			}
			return []string{"+CPIN: SIM PIN"}, nil, nil
		case strings.HasPrefix(arg, "="):
			pin := strings.Trim(strings.SplitN(cmd[len(name)+1:], ",", 2)[0], `"`)
			switch {
			case r.simReady:
				return nil, nil, errp(cmeNotAllowed)
			case pin != r.opts.SIMPIN:
				return nil, nil, errp(cmeWrongPassword)
			}
			r.simReady = true
			return nil, nil, nil
		}
	case "+CSQ":
		switch arg {
		case "":
			return []string{fmt.Sprintf("+CSQ: %d,99", r.opts.RSSI)}, nil, nil
		case "=?":
			return []string{"+CSQ: (0-31,99),(0-7,99)"}, nil, nil
		}
	case "+CREG":
		switch arg {
		case "?":
			stat := RegNone.stat()
			if r.simReady {
				stat = r.opts.Registration.stat()
			}
			if r.creg == 2 && (stat == 1 || stat == 5) {
				return []string{fmt.Sprintf(`+CREG: 2,%d,"00C3","1A2B"`, stat)}, nil, nil
			}
			return []string{fmt.Sprintf("+CREG: %d,%d", r.creg, stat)}, nil, nil
		case "=?":
			return []string{"+CREG: (0-2)"}, nil, nil
		case "=0", "=1", "=2":
			r.creg = int(arg[1] - '0')
			return nil, nil, nil
		}
	case "+CGMI":
		if arg == "" {
			return []string{r.opts.Manufacturer}, nil, nil
		}
	case "+CGMM":
		if arg == "" {
			return []string{r.opts.Model}, nil, nil
		}
	case "+CGMR":
		if arg == "" {
			return []string{r.opts.Revision}, nil, nil
		}
	case "+CGSN":
		if arg == "" {
			return []string{r.opts.IMEI}, nil, nil
		}
	case "+CIMI":
		if arg == "" {
			if !r.simReady {
				return nil, nil, errp(cmeSIMPINRequired)
			}
			return []string{r.opts.IMSI}, nil, nil
		}
	case "+CFUN":
		switch {
		case arg == "?":
			return []string{"+CFUN: 1"}, nil, nil
		case arg == "=?":
			return []string{"+CFUN: (0,1,4),(0-1)"}, nil, nil
		case arg == "=1,1":
			// Reboot: answer OK, then come back in the power-on state.
			return nil, func() {
				r.reset()
				r.simReady = r.opts.SIMPIN == ""
			}, nil
		case strings.HasPrefix(arg, "="):
			return nil, nil, nil
		}
	}
	return nil, nil, errp(cmeNotSupported)
}
