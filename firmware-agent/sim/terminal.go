package sim

// TAP control characters.
const (
	tapEOT = 0x04
	tapESC = 0x1b
)

// TerminalOptions configure a simulated paging terminal.
type TerminalOptions struct {
	Name     string // symlink name in the device dir; default "tap0"
	Password string // if set, ESC PG1<password> must match; otherwise any password logs in
}

// PagingTerminal is a simulated TAP paging terminal on a pty pair.
type PagingTerminal struct {
	*Device
}

// NewPagingTerminal starts a simulated paging terminal whose symlink is
// dir/opts.Name.
func NewPagingTerminal(dir string, opts TerminalOptions) (*PagingTerminal, error) {
	if opts.Name == "" {
		opts.Name = "tap0"
	}
	d, err := NewDevice(dir, opts.Name, func() Responder { return NewTerminalResponder(opts) })
	if err != nil {
		return nil, err
	}
	return &PagingTerminal{Device: d}, nil
}

// Replies of the paging terminal, byte for byte as in the reference's
// worked session.
const (
	TAPIDPrompt = "ID=\r"
	TAPLogonOK  = "110 1.8\r\x06\r" // version line, then <ACK><CR>
	TAPGoAhead  = "\x1b[p\r"
	TAPLogonNAK = "\x15\r"     // wrong password: try again
	TAPRefused  = "\x1b\x04\r" // <ESC><EOT><CR>: logon refused, or goodbye
	TAPGoodbye  = "115 Goodbye\r" + TAPRefused
)

// TerminalResponder is the paging terminal's TAP handling with no IO: the
// entry handshake (CR → "ID="; ESC PG1[password] CR → "110 1.8", ACK and
// the ESC [p go-ahead) and the end of session (EOT CR → "115", ESC EOT).
// Blocks sent after the go-ahead are recorded by the Device but not
// answered yet. The 8th bit of every byte is ignored, as on-site encoders
// do; LF is ignored.
type TerminalResponder struct {
	password string
	line     []byte // bytes since the last CR
	loggedIn bool   // the go-ahead was sent
	failures int    // wrong passwords in a row
}

// NewTerminalResponder returns a terminal waiting for a sender.
func NewTerminalResponder(opts TerminalOptions) *TerminalResponder {
	return &TerminalResponder{password: opts.Password}
}

var _ Responder = (*TerminalResponder)(nil)

// Respond implements Responder.
func (r *TerminalResponder) Respond(in []byte) []byte {
	var out []byte
	for _, b := range in {
		b &= 0x7f
		switch b {
		case '\n':
		case '\r':
			out = append(out, r.execLine(r.line)...)
			r.line = r.line[:0]
		default:
			if len(r.line) < 512 {
				r.line = append(r.line, b)
			}
		}
	}
	return out
}

func (r *TerminalResponder) execLine(line []byte) []byte {
	if r.loggedIn {
		if len(line) == 1 && line[0] == tapEOT {
			r.loggedIn = false
			return []byte(TAPGoodbye)
		}
		return nil // blocks: answered once TAP is filled in
	}
	switch {
	case len(line) == 0:
		return []byte(TAPIDPrompt)
	case len(line) >= 4 && line[0] == tapESC && line[1] == 'P' && line[2] == 'G':
		// line[3] is the service type (1 = alphanumeric paging).
		if r.password != "" && string(line[4:]) != r.password {
			r.failures++
			if r.failures >= 3 {
				r.failures = 0
				return []byte(TAPRefused)
			}
			return []byte(TAPLogonNAK)
		}
		r.failures = 0
		r.loggedIn = true
		return []byte(TAPLogonOK + TAPGoAhead)
	}
	return nil
}
