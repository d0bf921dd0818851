package at

import (
	"log/slog"
	"strings"
)

// URCSpec is one kind of unsolicited result code.
//
// A Prefix ending in ':' matches lines that start with it ("+CMTI:"). A
// Prefix without ':' matches the line equal to it or starting with it and
// a colon ("RING", "^SMMEMFULL" matches `^SMMEMFULL: "SM"`), so that a
// word never matches a line that merely begins with it.
type URCSpec struct {
	Prefix string
	// Lines is 2 for a URC followed by a data line (+CMT and +CDS in PDU
	// mode: a header, then the PDU in hex); 1 or 0 otherwise.
	Lines int
}

func (s URCSpec) match(line string) bool {
	if strings.HasSuffix(s.Prefix, ":") {
		return strings.HasPrefix(line, s.Prefix)
	}
	return line == s.Prefix || strings.HasPrefix(line, s.Prefix+":")
}

// DefaultURCs are the unsolicited result codes of 27.005/27.007 and of
// common modems (SIMCom, Quectel, Huawei) that the engine knows by
// default. +CMT, +CDS and +CBM are taken in PDU mode (two lines).
var DefaultURCs = []URCSpec{
	{Prefix: "+CMTI:"}, {Prefix: "+CMT:", Lines: 2},
	{Prefix: "+CDSI:"}, {Prefix: "+CDS:", Lines: 2},
	{Prefix: "+CBMI:"}, {Prefix: "+CBM:", Lines: 2},
	{Prefix: "RING"}, {Prefix: "+CRING:"}, {Prefix: "+CLIP:"},
	{Prefix: "+CREG:"}, {Prefix: "+CGREG:"}, {Prefix: "+CEREG:"},
	{Prefix: "+CUSD:"}, {Prefix: "+CIEV:"}, {Prefix: "+CPIN:"}, {Prefix: "+CFUN:"},
	{Prefix: "^SMMEMFULL"}, {Prefix: "^BOOT:"}, {Prefix: "^RSSI:"}, {Prefix: "^MODE:"},
	{Prefix: "+QIND:"}, {Prefix: "RDY"}, {Prefix: "SMS Ready"}, {Prefix: "Call Ready"},
}

// URC is an unsolicited result code the modem sent.
//
// Line and Data can carry PHI (a +CMT header names the sender, its PDU is
// the message): URC's LogValue shows only the prefix and Data's length.
type URC struct {
	Prefix string // the URCSpec.Prefix that matched, e.g. "+CMTI:"
	Line   string // the whole first line, e.g. `+CMTI: "ME",3`
	Data   string // the second line of a two-line URC (the PDU of +CMT/+CDS); "" otherwise
}

// LogValue implements slog.LogValuer without the contents.
func (u URC) LogValue() slog.Value {
	return slog.GroupValue(slog.String("prefix", u.Prefix), slog.Int("data_len", len(u.Data)))
}

// replyPrefix is the prefix of the information lines that answer an
// extended command: "AT+CREG?" → "+CREG:", "at^sysinfo" → "^SYSINFO:". A
// basic command ("ATI", "ATE0") has none.
func replyPrefix(cmd string) string {
	if len(cmd) < 3 || !strings.EqualFold(cmd[:2], "AT") {
		return ""
	}
	body := cmd[2:]
	if !strings.ContainsRune("+^$%*#", rune(body[0])) {
		return ""
	}
	if i := strings.IndexAny(body, "=?;"); i >= 0 {
		body = body[:i]
	}
	if len(body) < 2 {
		return ""
	}
	return strings.ToUpper(body) + ":"
}

// Commands whose arguments are secret or personal: PINs and passwords, a
// number dialled, a USSD string, and SMS commands in text mode (a
// destination number). Their arguments are never logged nor put in an
// error, except an all-digits argument of +CMGS/+CMGW, which in PDU mode
// is the TPDU's length.
var (
	secretArgs = map[string]bool{"+CPIN": true, "+CPWD": true, "+CLCK": true, "+CUSD": true, "+CMGC": true, "+CPBW": true, "+CSIM": true, "+CRSM": true}
	lengthArgs = map[string]bool{"+CMGS": true, "+CMGW": true}
)

// redact returns cmd as it may appear in logs and errors.
func redact(cmd string, private bool) string {
	if len(cmd) < 2 || !strings.EqualFold(cmd[:2], "AT") {
		return "AT…"
	}
	body := cmd[2:]
	switch {
	case body == "":
		return cmd
	case body[0] == 'D' || body[0] == 'd': // ATD<number>
		return cmd[:3] + "…"
	}
	i := strings.IndexAny(body, "=?")
	if i < 0 {
		if private {
			return cmd[:2] + "…"
		}
		return cmd
	}
	name, arg := strings.ToUpper(body[:i]), body[i+1:]
	if body[i] == '?' && arg == "" {
		return cmd // a read command has no argument
	}
	if private || secretArgs[name] || lengthArgs[name] && !allDigits(arg) {
		return cmd[:2+i+1] + "…"
	}
	return cmd
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// cleanLine trims a received line: spaces, and the "> " of a prompt that
// nobody answered (a stray prompt, or a prompt followed on the same line
// by the echo of the data). ">" alone is kept: it is a prompt.
func cleanLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	for strings.HasPrefix(s, ">") && s != ">" {
		s = strings.TrimSpace(s[1:])
	}
	return s
}
