package tap

import (
	"fmt"
	"strconv"
	"strings"
)

// Action is what a paging terminal's reply tells the sender to do: the
// control character that ends the reply decides, not the code before it.
type Action uint8

const (
	// NoAction is the zero value: not a complete reply.
	NoAction Action = iota
	// ACK <ACK><CR>: taken (a logon, a block, a page); go on.
	ACK
	// NAK <NAK><CR>: not taken; send it again.
	NAK
	// RS <RS><CR>: dropped for good; go on with the next page.
	RS
	// Disconnect <ESC><EOT><CR>: the terminal ends the session.
	Disconnect
	// GoAhead <ESC>[p<CR>: the terminal is ready for blocks.
	GoAhead
)

var actionNames = [...]string{"none", "ACK", "NAK", "RS", "ESC EOT", "ESC [p"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "Action(" + strconv.Itoa(int(a)) + ")"
}

// TAP 1.8 message sequence codes.
const (
	CodeVersion        = 110 // TAP specification supported ("110 1.8")
	CodeWait           = 111 // processing the previous input, please wait
	CodeMaxPages       = 112 // maximum pages entered for the session
	CodeMaxTime        = 113 // maximum time reached for the session
	CodeBanner         = 114 // welcome banner
	CodeGoodbye        = 115 // exit message
	CodeSent           = 211 // page(s) sent successfully
	CodeTruncated      = 212 // long message truncated and sent
	CodeDeferred       = 213 // accepted, held for deferred delivery
	CodeCharMaxCut     = 214 // character maximum: truncated and sent
	CodeTimeout        = 501 // time-out waiting for input
	CodeUnexpected     = 502 // unexpected characters before a transaction
	CodeChecksumMany   = 503 // too many checksum errors
	CodeToneOnly       = 504 // message to a tone-only pager
	CodeNumericOnly    = 505 // alphanumeric message to a numeric pager
	CodeInvalidMany    = 506 // too many invalid pages
	CodeLogonInvalid   = 507 // badly formed logon
	CodeLogonService   = 508 // service type or category not supported
	CodeLogonPassword  = 509 // invalid password
	CodeIllegalID      = 510 // pager ID has illegal characters or length
	CodeUnknownID      = 511 // no subscriber with this pager ID
	CodeTryLater       = 512 // temporarily cannot deliver: try later
	CodeTooLong        = 513 // long message rejected
	CodeChecksum       = 514 // checksum error
	CodeFormat         = 515 // message format error
	CodeQuota          = 516 // message quota temporarily exceeded
	CodeCharMaxRefused = 517 // character maximum: message rejected
)

// ReplyLine is one message line of a reply: a 3-digit code and text, or
// text alone (Code 0), as in "Processing-Please Wait".
type ReplyLine struct {
	Code int
	Text string
}

// Reply is a paging terminal's answer: message lines, then the line
// holding the action.
type Reply struct {
	Lines  []ReplyLine
	Action Action
}

// Code is the code of the last line that has one, 0 if none does.
func (r Reply) Code() int {
	for i := len(r.Lines) - 1; i >= 0; i-- {
		if r.Lines[i].Code != 0 {
			return r.Lines[i].Code
		}
	}
	return 0
}

// Truncated reports whether the terminal says it cut the message (212,
// 214) but sent it.
func (r Reply) Truncated() bool {
	c := r.Code()
	return c == CodeTruncated || c == CodeCharMaxCut
}

// Deferred reports whether the terminal holds the page for later delivery
// (213).
func (r Reply) Deferred() bool { return r.Code() == CodeDeferred }

// String formats the reply for logs and errors, as "211 ACK".
func (r Reply) String() string {
	if c := r.Code(); c != 0 {
		return fmt.Sprintf("%03d %v", c, r.Action)
	}
	return r.Action.String()
}

// Accepted is the reply that takes a page: "211 Page(s) Sent
// Successfully", ACK.
func Accepted() Reply {
	return Reply{Lines: []ReplyLine{{CodeSent, "Page(s) Sent Successfully"}}, Action: ACK}
}

// Rejected is a reply that drops a page for good (RS), e.g.
// Rejected(CodeUnknownID, "Invalid Pager ID").
func Rejected(code int, text string) Reply {
	return Reply{Lines: []ReplyLine{{code, text}}, Action: RS}
}

// Resend is a reply that asks for the block again (NAK): a temporary
// failure, e.g. Resend(CodeTryLater, "Try Later").
func Resend(code int, text string) Reply {
	return Reply{Lines: []ReplyLine{{code, text}}, Action: NAK}
}

// EncodeReply writes r as a terminal sends it: each line "code text<CR>"
// (or "text<CR>" for a code outside 1…999), then the action and CR.
// Control characters in the texts are left out; an action that is not one of ACK, NAK, RS,
// Disconnect or GoAhead writes no action line.
func EncodeReply(r Reply) []byte {
	var b []byte
	for _, l := range r.Lines {
		switch coded := l.Code > 0 && l.Code < 1000; {
		case coded && l.Text != "":
			b = fmt.Appendf(b, "%03d ", l.Code)
		case coded:
			b = fmt.Appendf(b, "%03d", l.Code)
		}
		for i := 0; i < len(l.Text); i++ {
			if c := l.Text[i]; c >= 0x20 && c <= 0x7e {
				b = append(b, c)
			}
		}
		b = append(b, cr)
	}
	switch r.Action {
	case ACK:
		b = append(b, ack, cr)
	case NAK:
		b = append(b, nak, cr)
	case RS:
		b = append(b, rs, cr)
	case Disconnect:
		b = append(b, esc, eot, cr)
	case GoAhead:
		b = append(b, esc, '[', 'p', cr)
	}
	return b
}

// maxReply bounds what ParseReply reads looking for an action line.
const maxReply = 4096

// ParseReply parses the reply at the start of b: lines ended by CR, up to
// and including the first line that holds an action (ACK, NAK, RS,
// ESC EOT or ESC [p); n is the number of bytes it took. Text before the
// action on its line is a message line; the rest of that line is ignored.
// A line that starts with three digits (and no fourth, and not 000)
// carries a code.
// The 8th bit is ignored, LF, NUL and other control characters are
// dropped, empty lines skipped. It returns ErrIncomplete when b has no
// action line yet, and ErrTooLong when more than 4096 bytes came without
// one.
func ParseReply(b []byte) (r Reply, n int, err error) {
	start := 0
	for i, c := range b {
		if i >= maxReply {
			return Reply{}, 0, fmt.Errorf("%w: %d bytes without an action", ErrTooLong, maxReply)
		}
		if c&0x7f != cr {
			continue
		}
		line := b[start:i]
		start = i + 1
		text, a := splitAction(line)
		if l, ok := parseLine(text); ok {
			r.Lines = append(r.Lines, l)
		}
		if a != NoAction {
			r.Action = a
			return r, i + 1, nil
		}
	}
	return Reply{}, 0, ErrIncomplete
}

// splitAction finds the first action in line and returns the text before
// it, or the whole line and NoAction.
func splitAction(line []byte) ([]byte, Action) {
	for i, c := range line {
		switch c & 0x7f {
		case ack:
			return line[:i], ACK
		case nak:
			return line[:i], NAK
		case rs:
			return line[:i], RS
		case esc:
			rest := line[i+1:]
			switch {
			case len(rest) >= 1 && rest[0]&0x7f == eot:
				return line[:i], Disconnect
			case len(rest) >= 2 && rest[0]&0x7f == '[' && rest[1]&0x7f == 'p':
				return line[:i], GoAhead
			}
		}
	}
	return line, NoAction
}

// parseLine turns the printable characters of raw into a ReplyLine; ok is
// false when nothing is left.
func parseLine(raw []byte) (ReplyLine, bool) {
	buf := make([]byte, 0, len(raw))
	for _, c := range raw {
		if c &= 0x7f; c >= 0x20 && c != 0x7f {
			buf = append(buf, c)
		}
	}
	s := strings.TrimSpace(string(buf))
	var l ReplyLine
	if len(s) >= 3 && isDigit(s[0]) && isDigit(s[1]) && isDigit(s[2]) && (len(s) == 3 || !isDigit(s[3])) && s[:3] != "000" {
		l.Code, _ = strconv.Atoi(s[:3])
		s = strings.TrimSpace(s[3:])
	}
	l.Text = s
	return l, l.Code != 0 || l.Text != ""
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
