package sim

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
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
// registered modem with a good signal, echo on, no SIM PIN, answering at
// once, that sends status reports as soon as a message that asked for one
// is sent, all delivered.
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
	Operator     string    // +COPS long and short name; default "Pagebridge"
	OperatorCode string    // +COPS numeric (MCC MNC); default "26201"

	// SMSC is the service centre address the SIM holds (+CSCA), with a
	// leading '+' for an international number; default "+491710760000".
	// AT+CSCA changes it for the life of the modem, power cycles included.
	SMSC string
	// SMCapacity and MECapacity are how many messages the SIM ("SM") and
	// the modem ("ME") store; defaults 30 and 100.
	SMCapacity, MECapacity int

	// Latency delays the reply to every command line, as a slow modem's:
	// bytes that arrive meanwhile are held and taken once the reply is
	// out, as a busy modem's UART buffers them.
	Latency time.Duration
	// CommandLatency adds a latency to the reply to a line that holds one
	// of these commands, by upper-case name: "+CSQ", "+COPS", "+CMGL",
	// "+CMGS" (its "> " prompt), "Z".
	CommandLatency map[string]time.Duration
	// SendLatency is the time between a PDU's Ctrl-Z and its +CMGS (or the
	// network's +CMS ERROR), as the network takes; 0 answers at once.
	SendLatency time.Duration

	// RebootTime is how long the modem is gone after AT+CFUN=1,1: it
	// answers nothing and loses what it is sent meanwhile. 0 reboots at
	// once.
	RebootTime time.Duration
	// BootURCs are sent, each as "\r\n<urc>\r\n", when the modem powers on
	// and when it comes back from AT+CFUN=1,1, as real modems announce
	// themselves: e.g. "RDY", "+CPIN: READY", "SMS Ready". They are sent as
	// given, whatever the SIM's state.
	BootURCs []string

	// ReportDelay is the time between a sent message that asked for a
	// status report (TP-SRR) and its report; 0 reports right after the
	// +CMGS reply.
	ReportDelay time.Duration
	// ManualReports sends no report by itself: only Report does.
	ManualReports bool
	// ReportStatus, if set, chooses the status of each automatic report;
	// nil reports every message delivered. Called from the device
	// goroutine.
	ReportStatus func(SentMessage) ReportStatus

	// Clock gives the time stamps (TP-SCTS, TP-DT) of what the modem
	// receives; nil is time.Now.
	Clock func() time.Time
	// OnMessage, if set, is called with each message the modem sent (the
	// one it answered +CMGS), from the device goroutine.
	OnMessage func(SentMessage)
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
	def(&o.Operator, "Pagebridge")
	def(&o.OperatorCode, "26201")
	def(&o.SMSC, "+491710760000")
	if o.RSSI == 0 {
		o.RSSI = 20
	}
	if o.SMCapacity <= 0 {
		o.SMCapacity = 30
	}
	if o.MECapacity <= 0 {
		o.MECapacity = 100
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return o
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

// atError is a failed command: a +CMS ERROR (3GPP TS 27.005 §3.2.5) if
// cms, otherwise a +CME ERROR, or plain ERROR for code 0.
type atError struct {
	cms  bool
	code int
}

func cme(c int) *atError { return &atError{code: c} }
func cms(c int) *atError { return &atError{cms: true, code: c} }

// timer is output the modem owes at a virtual time.
type timer struct {
	at   time.Duration
	seq  int
	fire func() []byte
}

// ModemResponder is the modem's AT command handling with no IO: feed it
// line bytes, get the reply bytes. It is the Responder behind Modem, and
// usable alone over any byte stream.
//
// Commands end with CR (LF alone is accepted; the LF of CR LF is ignored).
// Text before "AT" on a line is ignored, as V.250 allows. Several commands
// may share a line ("ATE0V1", "AT+CMEE=1;+CREG=2"); the first failure ends
// the line with an error. Replies are verbose: "\r\n<info>\r\n" lines then
// "\r\nOK\r\n" or "\r\nERROR\r\n" ("\r\n+CME ERROR: <n>\r\n" with
// AT+CMEE=1, the text with AT+CMEE=2; SMS commands fail with
// "\r\n+CMS ERROR: <n>\r\n", the text with AT+CMEE=2).
//
// The responder keeps its own clock, which only Advance moves: what the
// modem owes later (a reply with a latency, a late OK, a status report, the
// end of a reboot) comes out of Advance once the clock reaches it. Next
// says when that is. With no latencies and no delays set, every reply
// comes out of Respond, at once.
type ModemResponder struct {
	opts  ModemOptions
	store *modemStore // SIM and ME memory; survives reboots and, in a Modem, power cycles

	line []byte // the command line so far
	prev byte   // the last byte seen, to drop the LF of CR LF

	now    time.Duration // the responder's clock
	timers []timer       // what is owed, by at then seq
	seq    int

	busy      bool       // a reply is owed: input is held until it is out
	held      []byte     // input that arrived while busy
	prompt    *smsPrompt // after AT+CMGS: collecting the PDU
	rebooting bool       // after AT+CFUN=1,1, until RebootTime has passed: deaf and mute
	urcs      []byte     // unsolicited output owed, sent once the modem is idle
	cnmiBuf   []byte     // SMS indications buffered while AT+CNMI mode is 0

	echo     bool
	cmee     int
	creg     int
	simReady bool
	cfun     int
	copsFmt  int

	sms smsState // AT+CMGF, +CSMS, +CNMI, +CPMS settings and owed acks

	// faults
	lateN    int           // the next lateN final results come lateBy late
	lateBy   time.Duration //
	failN    int           // the next failN sends fail with failCode
	failCode int           //
	injected []byte        // URCs to put into the next reply, before its final result
	hung     bool          // answers nothing
	hungCFUN bool          // … but AT+CFUN=1,1, which reboots it
}

// NewModemResponder returns a modem in its power-on state, with empty
// message storage. If opts.BootURCs are set, they are the first output.
func NewModemResponder(opts ModemOptions) *ModemResponder {
	opts = opts.withDefaults()
	return newModemResponder(opts, newModemStore(opts))
}

func newModemResponder(opts ModemOptions, store *modemStore) *ModemResponder {
	r := &ModemResponder{opts: opts, store: store}
	r.powerOn()
	return r
}

// reset restores the settings ATZ and a reboot restore.
func (r *ModemResponder) reset() {
	r.echo = !r.opts.NoEcho
	r.cmee = 0
	r.creg = 0
}

// powerOn is the state after power-on and after a reboot. Message storage
// stays, as it is on the SIM or in flash; so do the faults a test set.
func (r *ModemResponder) powerOn() {
	r.reset()
	r.simReady = r.opts.SIMPIN == ""
	r.cfun = 1
	r.copsFmt = 0
	r.sms = newSMSState()
	r.line = r.line[:0]
	r.timers, r.busy, r.held, r.prompt, r.rebooting = nil, false, nil, nil, false
	r.urcs, r.cnmiBuf, r.injected = nil, nil, nil
	r.hung, r.hungCFUN = false, false
	for _, u := range r.opts.BootURCs {
		r.urcs = append(r.urcs, "\r\n"+u+"\r\n"...)
	}
}

var _ Responder = (*ModemResponder)(nil)

// Respond implements Responder. URCs owed from before (the boot URCs of
// a fresh responder) come first.
func (r *ModemResponder) Respond(in []byte) []byte {
	out := r.finish(nil)
	return append(out, r.finish(r.feed(in, false))...)
}

// maxHeld bounds the input held while the modem is busy.
const maxHeld = 64 << 10

// feed takes input bytes in the modem's current state. Those that come
// while it is busy are held: in itself if owned (held input fed again, so
// that a long backlog is not copied once per command), a copy otherwise.
func (r *ModemResponder) feed(in []byte, owned bool) []byte {
	var out []byte
	for i, b := range in {
		switch {
		case r.busy && owned && len(r.held) == 0:
			r.held = in[i:]
			return out
		case r.busy:
			r.held = append(r.held, in[i:min(len(in), i+max(0, maxHeld-len(r.held)))]...)
			return out
		case r.rebooting:
			// lost: the modem is off
		case r.prompt != nil:
			out = append(out, r.promptByte(b)...)
		default:
			out = append(out, r.commandByte(b)...)
		}
	}
	return out
}

// commandByte takes one byte in command mode.
func (r *ModemResponder) commandByte(b byte) []byte {
	var out []byte
	prev := r.prev
	r.prev = b
	if r.echo && !r.hung {
		out = append(out, b)
	}
	switch {
	case b == '\n' && prev == '\r':
		// the LF of CR LF
	case b == '\r' || b == '\n':
		line := string(r.line)
		r.line = r.line[:0]
		out = append(out, r.execLine(line)...)
	case b == 0x08 || b == 0x7f: // backspace, as a terminal user would type
		if len(r.line) > 0 {
			r.line = r.line[:len(r.line)-1]
		}
	default:
		if len(r.line) < 1024 {
			r.line = append(r.line, b)
		}
	}
	return out
}

// finish is the last step of every output: a hung modem says nothing, and
// an idle one sends the URCs it owes.
func (r *ModemResponder) finish(out []byte) []byte {
	if r.hung {
		r.urcs = nil
		return nil
	}
	return append(out, r.takeURCs()...)
}

// takeURCs returns the URCs owed, if the modem is idle: not busy, not in
// the prompt, not rebooting, not hung.
func (r *ModemResponder) takeURCs() []byte {
	if r.hung || r.busy || r.prompt != nil || r.rebooting {
		return nil
	}
	u := r.urcs
	r.urcs = nil
	return u
}

// Advance moves the responder's clock on by d and returns what the modem
// owed by then: delayed replies, then the input held meanwhile answered,
// status reports, the end of a reboot.
func (r *ModemResponder) Advance(d time.Duration) []byte {
	target := r.now + max(d, 0)
	var out []byte
	for len(r.timers) > 0 && r.timers[0].at <= target {
		t := r.timers[0]
		r.timers = r.timers[1:]
		r.now = t.at
		step := t.fire()
		for !r.busy && len(r.held) > 0 {
			h := r.held
			r.held = nil
			step = append(step, r.feed(h, true)...)
		}
		out = append(out, r.finish(step)...)
	}
	r.now = target
	return append(out, r.finish(nil)...)
}

// Next reports how long until the modem owes output, if it does.
func (r *ModemResponder) Next() (time.Duration, bool) {
	if len(r.timers) == 0 {
		return 0, false
	}
	return r.timers[0].at - r.now, true
}

// after schedules fire d from now.
func (r *ModemResponder) after(d time.Duration, fire func() []byte) {
	r.seq++
	r.timers = append(r.timers, timer{at: r.now + d, seq: r.seq, fire: fire})
	sort.SliceStable(r.timers, func(i, j int) bool {
		if r.timers[i].at != r.timers[j].at {
			return r.timers[i].at < r.timers[j].at
		}
		return r.timers[i].seq < r.timers[j].seq
	})
}

// reply puts out a command's reply: info lines, the URCs injected into
// it, its final result (or the "> " prompt), then what after returns. It
// comes lat from now (the modem busy meanwhile), and a late final result
// lateBy later still.
func (r *ModemResponder) reply(info, final string, lat time.Duration, prompt bool, after func() []byte) []byte {
	var late time.Duration
	if !prompt && r.lateN > 0 {
		r.lateN--
		late = r.lateBy
	}
	end := func() []byte {
		r.busy = false
		out := []byte(final)
		if after != nil {
			out = append(out, after()...)
		}
		// URCs that waited for this reply, or that after made, come
		// right after it, whatever input follows.
		return append(out, r.takeURCs()...)
	}
	first := func() []byte {
		out := []byte(info)
		if !prompt {
			out = append(out, r.injected...)
			r.injected = nil
		}
		if late <= 0 {
			return append(out, end()...)
		}
		r.busy = true
		r.after(late, end)
		return out
	}
	if lat <= 0 {
		return first()
	}
	r.busy = true
	r.after(lat, first)
	return nil
}

// execLine runs one command line and returns the reply.
func (r *ModemResponder) execLine(line string) []byte {
	i := strings.Index(asciiUpper(line), "AT")
	if i < 0 {
		return nil // no command on this line
	}
	body := line[i+2:]
	if r.hung {
		return r.execHung(body)
	}
	var info strings.Builder
	var final string
	var after func() []byte // runs once the final result is written, e.g. a reboot
	lat := r.opts.Latency
	for body != "" {
		var cmd string
		cmd, body = nextCommand(body)
		if cmd == "" {
			continue
		}
		lat += r.opts.CommandLatency[commandName(cmd)]
		lines, then, err := r.exec(cmd)
		for _, l := range lines {
			info.WriteString("\r\n" + l + "\r\n")
		}
		if err != nil {
			final = r.errorResult(*err)
			break
		}
		if then != nil {
			after = then
		}
		if r.prompt != nil {
			return r.reply(info.String(), "\r\n> ", lat, true, nil)
		}
	}
	if final == "" {
		final = "\r\nOK\r\n"
	}
	return r.reply(info.String(), final, lat, false, after)
}

// execHung is a hung modem's command line: nothing is answered, but
// AT+CFUN=1,1 if Hang was told so.
func (r *ModemResponder) execHung(body string) []byte {
	if !r.hungCFUN {
		return nil
	}
	for body != "" {
		var cmd string
		cmd, body = nextCommand(body)
		if asciiUpper(cmd) == "+CFUN=1,1" {
			r.hung = false
			return r.reply("", "\r\nOK\r\n", 0, false, r.reboot)
		}
	}
	return nil
}

// reboot is AT+CFUN=1,1 after its OK: the modem goes away for RebootTime
// and comes back in its power-on state.
func (r *ModemResponder) reboot() []byte {
	if r.opts.RebootTime <= 0 {
		r.powerOn()
		return nil
	}
	r.powerOn()
	r.urcs = nil // the boot URCs come when it is back
	r.rebooting = true
	r.after(r.opts.RebootTime, func() []byte {
		r.powerOn()
		return r.takeURCs() // the boot URCs
	})
	return nil
}

// commandName is a command's name for CommandLatency: "+CSQ" of
// "+CSQ=?", "Z" of "Z0".
func commandName(cmd string) string {
	u := asciiUpper(cmd)
	if j := strings.IndexAny(u, "=?"); j >= 0 {
		return u[:j]
	}
	if u != "" && u[0] != '+' && !strings.ContainsRune("%^$*", rune(u[0])) {
		return strings.TrimRight(u, "0123456789")
	}
	return u
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

func (r *ModemResponder) errorResult(e atError) string {
	switch {
	case e.cms && r.cmee == 2 && cmsText[e.code] != "":
		return "\r\n+CMS ERROR: " + cmsText[e.code] + "\r\n"
	case e.cms:
		return "\r\n+CMS ERROR: " + strconv.Itoa(e.code) + "\r\n"
	case e.code == 0 || r.cmee == 0:
		return "\r\nERROR\r\n"
	case r.cmee == 2:
		return "\r\n+CME ERROR: " + cmeText[e.code] + "\r\n"
	default:
		return "\r\n+CME ERROR: " + strconv.Itoa(e.code) + "\r\n"
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

// registered reports whether the modem can reach the network.
func (r *ModemResponder) registered() bool {
	return r.simReady && r.cfun == 1 && (r.opts.Registration == RegHome || r.opts.Registration == RegRoaming)
}

// exec runs one command. It returns information lines, an optional
// action to run after the final result, and an error (nil for OK).
func (r *ModemResponder) exec(cmd string) (info []string, after func() []byte, err *atError) {
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
	if info, err, ok := r.execSMS(name, arg, cmd[len(name):]); ok {
		return info, nil, err
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
				return nil, nil, cme(cmeNotAllowed)
			case pin != r.opts.SIMPIN:
				return nil, nil, cme(cmeWrongPassword)
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
			if r.simReady && r.cfun == 1 {
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
	case "+CGREG", "+CEREG":
		switch arg {
		case "?":
			stat := RegNone.stat()
			if r.simReady && r.cfun == 1 {
				stat = r.opts.Registration.stat()
			}
			return []string{fmt.Sprintf("%s: 0,%d", name, stat)}, nil, nil
		case "=?":
			return []string{name + ": (0-2)"}, nil, nil
		case "=0", "=1", "=2":
			return nil, nil, nil
		}
	case "+CGATT":
		switch arg {
		case "?":
			if r.registered() {
				return []string{"+CGATT: 1"}, nil, nil
			}
			return []string{"+CGATT: 0"}, nil, nil
		case "=?":
			return []string{"+CGATT: (0,1)"}, nil, nil
		case "=0", "=1":
			return nil, nil, nil
		}
	case "+COPS":
		return r.execCOPS(arg)
	case "+GCAP":
		if arg == "" {
			return []string{"+GCAP: +CGSM,+FCLASS,+DS"}, nil, nil
		}
	case "+CGMI", "+GMI":
		if arg == "" {
			return []string{r.opts.Manufacturer}, nil, nil
		}
	case "+CGMM", "+GMM":
		if arg == "" {
			return []string{r.opts.Model}, nil, nil
		}
	case "+CGMR", "+GMR":
		if arg == "" {
			return []string{r.opts.Revision}, nil, nil
		}
	case "+CGSN", "+GSN":
		if arg == "" {
			return []string{r.opts.IMEI}, nil, nil
		}
	case "+CIMI":
		if arg == "" {
			if !r.simReady {
				return nil, nil, cme(cmeSIMPINRequired)
			}
			return []string{r.opts.IMSI}, nil, nil
		}
	case "+CFUN":
		switch {
		case arg == "?":
			return []string{"+CFUN: " + strconv.Itoa(r.cfun)}, nil, nil
		case arg == "=?":
			return []string{"+CFUN: (0,1,4),(0-1)"}, nil, nil
		case arg == "=1,1":
			// Reboot: answer OK, then come back in the power-on state.
			return nil, r.reboot, nil
		case arg == "=0" || arg == "=1" || arg == "=4" || arg == "=0,0" || arg == "=1,0" || arg == "=4,0":
			r.cfun = int(arg[1] - '0')
			return nil, nil, nil
		case strings.HasPrefix(arg, "="):
			return nil, nil, nil
		}
	}
	return nil, nil, cme(cmeNotSupported)
}

// execCOPS answers +COPS: the operator the modem is registered with.
func (r *ModemResponder) execCOPS(arg string) ([]string, func() []byte, *atError) {
	switch {
	case arg == "?":
		if !r.registered() {
			return []string{"+COPS: 0"}, nil, nil
		}
		name := `"` + r.opts.Operator + `"`
		if r.copsFmt == 2 {
			name = `"` + r.opts.OperatorCode + `"`
		}
		return []string{fmt.Sprintf("+COPS: 0,%d,%s", r.copsFmt, name)}, nil, nil
	case arg == "=?":
		return []string{fmt.Sprintf(`+COPS: (2,"%s","%s","%s"),,(0-4),(0-2)`, r.opts.Operator, r.opts.Operator, r.opts.OperatorCode)}, nil, nil
	case strings.HasPrefix(arg, "="):
		p := params(arg[1:])
		if len(p) >= 2 && p[0] == "3" && (p[1] == "0" || p[1] == "1" || p[1] == "2") {
			r.copsFmt = int(p[1][0] - '0')
			return nil, nil, nil
		}
		if len(p) >= 1 && (p[0] == "0" || p[0] == "1" || p[0] == "2" || p[0] == "4") {
			return nil, nil, nil
		}
	}
	return nil, nil, cme(cmeNotSupported)
}

// params splits a command's parameters at commas outside quotes and
// trims the quotes and spaces.
func params(s string) []string {
	var out []string
	var cur bytes.Buffer
	quoted := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, strings.TrimSpace(cur.String()))
}
