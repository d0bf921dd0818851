package at

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Errors of the engine. Device answers (+CME ERROR, +CMS ERROR, ERROR,
// NO CARRIER, …) are the typed errors below instead.
var (
	// ErrTimeout: the command got no final result within its timeout.
	// It may still have taken effect on the modem; the engine
	// resynchronises before the next command.
	ErrTimeout = errors.New("no final result in time")
	// ErrUnknown: the outcome of a prompt command (AT+CMGS) is not known,
	// because its data and Ctrl-Z were written but no final result came
	// (timeout, ctx, port gone, Close). The message may have gone out.
	// Always wrapped together with the cause.
	ErrUnknown = errors.New("outcome unknown")
	// ErrPort: reading or writing the port failed (EOF, EIO: the device
	// went away). The engine has ended; reopen the port and build a new
	// engine.
	ErrPort = errors.New("port failed, reopen it")
	// ErrUnresponsive: a command timed out and the modem did not answer
	// any resynchronisation probe. The engine has ended; reset the modem
	// (power cycle, reopen) and build a new engine.
	ErrUnresponsive = errors.New("modem does not answer after a timeout, reset it")
	// ErrClosed: Close was called.
	ErrClosed = errors.New("engine closed")
	// ErrInvalid: the command cannot be sent as given (a control
	// character in the line, a malformed PDU). Nothing was written.
	ErrInvalid = errors.New("invalid command")
)

// Class says what a device error means for the caller's retry.
type Class int

const (
	// Unclassified: err is not a device error of this package.
	Unclassified Class = iota
	// Temporary: the network, the SIM or the modem is busy or briefly
	// unable; retry after a back-off (on this modem or another).
	Temporary
	// Permanent: the request itself is wrong (bad PDU, bad index, bad
	// number, unsupported command); sending it again fails again.
	Permanent
	// Modem: this modem or its SIM cannot do it until someone acts (no
	// SIM, PIN/PUK needed, SMSC unknown, barred subscription); the same
	// request may well succeed on another modem.
	Modem
)

func (c Class) String() string {
	switch c {
	case Temporary:
		return "temporary"
	case Permanent:
		return "permanent"
	case Modem:
		return "modem"
	}
	return "unclassified"
}

// CMEError is a "+CME ERROR: <err>" final result (3GPP TS 27.007 §9.2),
// numeric (AT+CMEE=1) or verbose (AT+CMEE=2). Code is -1 when a verbose
// text is not in the 27.007 table; Text then holds it.
type CMEError struct {
	Code int
	Text string // the verbose text as the modem sent it, or the table's
}

func (e *CMEError) Error() string {
	return fmt.Sprintf("+CME ERROR: %d (%s)", e.Code, e.Text)
}

// Class of the error; see the table in the package doc.
func (e *CMEError) Class() Class { return classify(cmeTable, e.Code) }

// CMSError is a "+CMS ERROR: <err>" final result (3GPP TS 27.005 §3.2.5),
// numeric or verbose. Code is -1 when a verbose text is not in the table.
type CMSError struct {
	Code int
	Text string
}

func (e *CMSError) Error() string {
	return fmt.Sprintf("+CMS ERROR: %d (%s)", e.Code, e.Text)
}

// Class of the error; see the table in the package doc.
func (e *CMSError) Class() Class { return classify(cmsTable, e.Code) }

// ResultError is a final result code other than OK that carries no error
// number: ERROR (with AT+CMEE=0, or for a command the modem rejects),
// NO CARRIER, BUSY, NO ANSWER, NO DIALTONE, COMMAND NOT SUPPORT, TOO MANY
// PARAMETERS. Its class is Temporary: nothing says what went wrong.
type ResultError struct {
	Result string
}

func (e *ResultError) Error() string { return e.Result }

// Class of the error: Temporary.
func (e *ResultError) Class() Class { return Temporary }

// ClassOf returns the Class of the device error in err's chain, or
// Unclassified if there is none (engine errors such as ErrTimeout or
// ErrUnknown are not device errors: test them with errors.Is).
func ClassOf(err error) Class {
	var c interface{ Class() Class }
	if errors.As(err, &c) {
		return c.Class()
	}
	return Unclassified
}

// IsTemporary reports whether err carries a temporary device error.
func IsTemporary(err error) bool { return ClassOf(err) == Temporary }

// IsPermanent reports whether err carries a permanent device error.
func IsPermanent(err error) bool { return ClassOf(err) == Permanent }

// code is one row of a code table: the verbose text and the class.
type code struct {
	text  string
	class Class
}

func classify(table map[int]code, n int) Class {
	if c, ok := table[n]; ok {
		return c.class
	}
	return Temporary // unknown or vendor-specific: never drop a page on a guess
}

// cmeTable: 3GPP TS 27.007 §9.2.1 (general) and §9.2.2 (GPRS), plus 515
// (SIMCom, Huawei: "please wait, init or command processing in
// progress").
var cmeTable = map[int]code{
	0:   {"phone failure", Temporary},
	1:   {"no connection to phone", Modem},
	2:   {"phone-adaptor link reserved", Temporary},
	3:   {"operation not allowed", Permanent},
	4:   {"operation not supported", Permanent},
	5:   {"PH-SIM PIN required", Modem},
	6:   {"PH-FSIM PIN required", Modem},
	7:   {"PH-FSIM PUK required", Modem},
	10:  {"SIM not inserted", Modem},
	11:  {"SIM PIN required", Modem},
	12:  {"SIM PUK required", Modem},
	13:  {"SIM failure", Modem},
	14:  {"SIM busy", Temporary},
	15:  {"SIM wrong", Modem},
	16:  {"incorrect password", Modem},
	17:  {"SIM PIN2 required", Modem},
	18:  {"SIM PUK2 required", Modem},
	20:  {"memory full", Modem},
	21:  {"invalid index", Permanent},
	22:  {"not found", Permanent},
	23:  {"memory failure", Temporary},
	24:  {"text string too long", Permanent},
	25:  {"invalid characters in text string", Permanent},
	26:  {"dial string too long", Permanent},
	27:  {"invalid characters in dial string", Permanent},
	30:  {"no network service", Temporary},
	31:  {"network timeout", Temporary},
	32:  {"network not allowed - emergency calls only", Temporary},
	40:  {"network personalization PIN required", Modem},
	41:  {"network personalization PUK required", Modem},
	42:  {"network subset personalization PIN required", Modem},
	43:  {"network subset personalization PUK required", Modem},
	44:  {"service provider personalization PIN required", Modem},
	45:  {"service provider personalization PUK required", Modem},
	46:  {"corporate personalization PIN required", Modem},
	47:  {"corporate personalization PUK required", Modem},
	100: {"unknown", Temporary},
	103: {"illegal MS", Modem},
	106: {"illegal ME", Modem},
	107: {"GPRS services not allowed", Modem},
	111: {"PLMN not allowed", Modem},
	112: {"location area not allowed", Temporary},
	113: {"roaming not allowed in this location area", Temporary},
	132: {"service option not supported", Modem},
	133: {"requested service option not subscribed", Modem},
	134: {"service option temporarily out of order", Temporary},
	148: {"unspecified GPRS error", Temporary},
	149: {"PDP authentication failure", Modem},
	150: {"invalid mobile class", Permanent},
	515: {"please wait, init or command processing in progress", Temporary},
}

// cmsTable: 3GPP TS 27.005 §3.2.5. 0–127 are RP causes (TS 24.011
// Annex E-2), 128–255 TP-FCS values (TS 23.040 §9.2.3.22), 300–500 the
// ME/TA codes; 512 and up are manufacturer-specific (Temporary).
var cmsTable = map[int]code{
	1:   {"unassigned (unallocated) number", Permanent},
	8:   {"operator determined barring", Modem},
	10:  {"call barred", Modem},
	21:  {"short message transfer rejected", Permanent},
	27:  {"destination out of service", Temporary},
	28:  {"unidentified subscriber", Permanent},
	29:  {"facility rejected", Modem},
	30:  {"unknown subscriber", Permanent},
	38:  {"network out of order", Temporary},
	41:  {"temporary failure", Temporary},
	42:  {"congestion", Temporary},
	47:  {"resources unavailable, unspecified", Temporary},
	50:  {"requested facility not subscribed", Modem},
	69:  {"requested facility not implemented", Modem},
	81:  {"invalid short message transfer reference value", Temporary},
	95:  {"invalid message, unspecified", Permanent},
	96:  {"invalid mandatory information", Permanent},
	97:  {"message type non-existent or not implemented", Permanent},
	98:  {"message not compatible with short message protocol state", Temporary},
	99:  {"information element non-existent or not implemented", Permanent},
	111: {"protocol error, unspecified", Temporary},
	127: {"interworking, unspecified", Temporary},
	128: {"telematic interworking not supported", Permanent},
	129: {"short message Type 0 not supported", Permanent},
	130: {"cannot replace short message", Permanent},
	143: {"unspecified TP-PID error", Permanent},
	144: {"data coding scheme (alphabet) not supported", Permanent},
	145: {"message class not supported", Permanent},
	159: {"unspecified TP-DCS error", Permanent},
	160: {"command cannot be actioned", Permanent},
	161: {"command unsupported", Permanent},
	175: {"unspecified TP-Command error", Permanent},
	176: {"TPDU not supported", Permanent},
	192: {"SC busy", Temporary},
	193: {"no SC subscription", Modem},
	194: {"SC system failure", Temporary},
	195: {"invalid SME address", Permanent},
	196: {"destination SME barred", Permanent},
	197: {"SM rejected-duplicate SM", Permanent},
	198: {"TP-VPF not supported", Permanent},
	199: {"TP-VP not supported", Permanent},
	208: {"(U)SIM SMS storage full", Modem},
	209: {"no SMS storage capability in (U)SIM", Modem},
	210: {"error in MS", Temporary},
	211: {"memory capacity exceeded", Modem},
	212: {"(U)SIM Application Toolkit busy", Temporary},
	213: {"(U)SIM data download error", Temporary},
	255: {"unspecified error cause", Temporary},
	300: {"ME failure", Temporary},
	301: {"SMS service of ME reserved", Temporary},
	302: {"operation not allowed", Permanent},
	303: {"operation not supported", Permanent},
	304: {"invalid PDU mode parameter", Permanent},
	305: {"invalid text mode parameter", Permanent},
	310: {"(U)SIM not inserted", Modem},
	311: {"(U)SIM PIN required", Modem},
	312: {"PH-(U)SIM PIN required", Modem},
	313: {"(U)SIM failure", Modem},
	314: {"(U)SIM busy", Temporary},
	315: {"(U)SIM wrong", Modem},
	316: {"(U)SIM PUK required", Modem},
	317: {"(U)SIM PIN2 required", Modem},
	318: {"(U)SIM PUK2 required", Modem},
	320: {"memory failure", Temporary},
	321: {"invalid memory index", Permanent},
	322: {"memory full", Modem},
	330: {"SMSC address unknown", Modem},
	331: {"no network service", Temporary},
	332: {"network timeout", Temporary},
	340: {"no +CNMA acknowledgement expected", Permanent},
	500: {"unknown error", Temporary},
}

// Verbose texts, lower case, to codes. Modems word them their own way, so
// a few common variants are added to the tables' texts.
var (
	cmeByText = byText(cmeTable, map[string]int{"unknown error": 100, "sim pin necessary": 11, "sim puk necessary": 12})
	cmsByText = byText(cmsTable, map[string]int{"unknown": 500, "sim not inserted": 310, "sim pin required": 311, "sim busy": 314, "sim failure": 313, "sim puk required": 316})
)

func byText(table map[int]code, extra map[string]int) map[string]int {
	m := make(map[string]int, len(table)+len(extra))
	for n, c := range table {
		m[strings.ToLower(c.text)] = n
	}
	for t, n := range extra {
		m[t] = n
	}
	return m
}

// maxErrText bounds the verbose text kept from the modem.
const maxErrText = 80

// parseCode reads the <err> of a +CME/+CMS ERROR line: a number, or a
// verbose text looked up in texts (case and surrounding quotes ignored).
// An unknown text gives -1 and the text, cut to maxErrText.
func parseCode(arg string, table map[int]code, texts map[string]int) (int, string) {
	arg = strings.Trim(strings.TrimSpace(arg), `"`)
	if n, err := strconv.Atoi(arg); err == nil && n >= 0 {
		return n, table[n].text
	}
	if n, ok := texts[strings.ToLower(arg)]; ok {
		return n, arg
	}
	if len(arg) > maxErrText {
		arg = arg[:maxErrText]
	}
	return -1, strconv.QuoteToASCII(arg)
}

// finalResults without a number, as modems send them.
var plainFinals = map[string]bool{
	"ERROR":               true,
	"NO CARRIER":          true,
	"BUSY":                true,
	"NO ANSWER":           true,
	"NO DIALTONE":         true,
	"NO DIAL TONE":        true,
	"COMMAND NOT SUPPORT": true,
	"TOO MANY PARAMETERS": true,
}

// parseFinal reports whether line is a final result code and, if so, its
// error (nil for OK).
func parseFinal(line string) (final bool, err error) {
	switch {
	case line == "OK":
		return true, nil
	case plainFinals[line]:
		return true, &ResultError{Result: line}
	case strings.HasPrefix(line, "+CME ERROR:"):
		n, text := parseCode(line[len("+CME ERROR:"):], cmeTable, cmeByText)
		return true, &CMEError{Code: n, Text: text}
	case strings.HasPrefix(line, "+CMS ERROR:"):
		n, text := parseCode(line[len("+CMS ERROR:"):], cmsTable, cmsByText)
		return true, &CMSError{Code: n, Text: text}
	}
	return false, nil
}
