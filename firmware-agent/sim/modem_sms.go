package sim

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/warthog618/sms"
)

// CMS error codes (3GPP TS 27.005 §3.2.5) the simulator uses.
const (
	cmsNotAllowed   = 302
	cmsNotSupported = 303
	cmsBadPDU       = 304
	cmsSIMPIN       = 311
	cmsBadIndex     = 321
	cmsSMSCUnknown  = 330
	cmsNoNetwork    = 331
	cmsNoAck        = 340
	cmsUnknown      = 500
)

var cmsText = map[int]string{
	300:             "ME failure",
	cmsNotAllowed:   "operation not allowed",
	cmsNotSupported: "operation not supported",
	cmsBadPDU:       "invalid PDU mode parameter",
	305:             "invalid text mode parameter",
	310:             "SIM not inserted",
	cmsSIMPIN:       "SIM PIN required",
	cmsBadIndex:     "invalid memory index",
	322:             "memory full",
	cmsSMSCUnknown:  "SMSC address unknown",
	cmsNoNetwork:    "no network service",
	332:             "network timeout",
	cmsNoAck:        "no +CNMA acknowledgement expected",
	cmsUnknown:      "unknown error",
}

// Message status in storage (27.005 §3.1, PDU mode <stat>).
const (
	statUnread = 0
	statRead   = 1
	statUnsent = 2
	statSent   = 3
	statAll    = 4
)

// smsState is the SMS settings a reboot resets.
type smsState struct {
	csms int       // AT+CSMS service: 1 means routed +CMT and +CDS need AT+CNMA
	cnmi [5]int    // AT+CNMI mode, mt, bm, ds, bfr
	mem  [3]string // AT+CPMS mem1 (read, list, delete), mem2 (write), mem3 (receive)
	acks int       // routed +CMT and +CDS that wait for AT+CNMA
}

func newSMSState() smsState { return smsState{mem: [3]string{"SM", "SM", "SM"}} }

// modemStore is what survives a reboot, and in a Modem a power cycle:
// the stored messages, the SMSC address, the last message reference.
type modemStore struct {
	mems map[string]*smsMemory
	smsc string
	mr   int          // the last message reference given
	enc  *sms.Encoder // SMS-DELIVER; its concatenation reference runs on
	sent []sentRecord // the last messages sent, for status reports
}

type sentRecord struct {
	m  SentMessage
	at time.Time
}

func newModemStore(opts ModemOptions) *modemStore {
	return &modemStore{
		mems: map[string]*smsMemory{
			"SM": {slots: make([]*storedSMS, opts.SMCapacity)},
			"ME": {slots: make([]*storedSMS, opts.MECapacity)},
		},
		smsc: opts.SMSC,
		enc:  newDeliverEncoder(),
	}
}

// maxSentRecords bounds how many sent messages Report can find.
const maxSentRecords = 1024

func (s *modemStore) remember(m SentMessage, at time.Time) {
	s.sent = append(s.sent, sentRecord{m, at})
	if len(s.sent) > maxSentRecords {
		s.sent = s.sent[len(s.sent)-maxSentRecords:]
	}
}

// find returns the last message sent with reference mr.
func (s *modemStore) find(mr int) (sentRecord, bool) {
	for i := len(s.sent) - 1; i >= 0; i-- {
		if s.sent[i].m.MR == mr {
			return s.sent[i], true
		}
	}
	return sentRecord{}, false
}

// smsMemory is one message storage; index i is slots[i-1].
type smsMemory struct {
	slots []*storedSMS
}

type storedSMS struct {
	stat int
	encodedPDU
}

func (m *smsMemory) used() (n int) {
	for _, s := range m.slots {
		if s != nil {
			n++
		}
	}
	return n
}

// put stores a message in the first free slot and returns its index, or
// 0 if the memory is full.
func (m *smsMemory) put(stat int, p encodedPDU) int {
	for i, s := range m.slots {
		if s == nil {
			m.slots[i] = &storedSMS{stat: stat, encodedPDU: p}
			return i + 1
		}
	}
	return 0
}

// get returns the message at index i, nil if the slot is empty, and false
// if there is no such index.
func (m *smsMemory) get(i int) (*storedSMS, bool) {
	if i < 1 || i > len(m.slots) {
		return nil, false
	}
	return m.slots[i-1], true
}

// smsPrompt is an AT+CMGS waiting for its PDU.
type smsPrompt struct {
	n        int    // the TPDU length AT+CMGS announced
	hex      []byte // the PDU so far
	overflow bool   // more than a PDU can be
}

// maxPDUHex is the longest PDU in hex: a 12-octet SMSC field and a
// 164-octet TPDU.
const maxPDUHex = 2 * (12 + 164)

// needsSIM lists the SMS commands that fail with 311 while the SIM is
// locked.
var needsSIM = map[string]bool{"+CPMS": true, "+CSCA": true, "+CMGS": true, "+CMGL": true, "+CMGR": true, "+CMGD": true}

// execSMS runs the SMS commands (27.005). ok is false for a command that
// is not one of them.
func (r *ModemResponder) execSMS(name, arg, raw string) (info []string, err *atError, ok bool) {
	if needsSIM[name] && !r.simReady {
		return nil, cms(cmsSIMPIN), true
	}
	switch name {
	case "+CMGF":
		switch arg {
		case "?":
			return []string{"+CMGF: 0"}, nil, true
		case "=?":
			return []string{"+CMGF: (0)"}, nil, true
		case "=0", "=":
			return nil, nil, true
		case "=1":
			return nil, cms(cmsNotSupported), true
		}
	case "+CSMS":
		switch arg {
		case "?":
			return []string{fmt.Sprintf("+CSMS: %d,1,1,1", r.sms.csms)}, nil, true
		case "=?":
			return []string{"+CSMS: (0,1)"}, nil, true
		case "=0", "=1":
			r.sms.csms = int(arg[1] - '0')
			return []string{"+CSMS: 1,1,1"}, nil, true
		}
	case "+CPMS":
		return r.execCPMS(arg)
	case "+CNMI":
		return r.execCNMI(arg)
	case "+CSCA":
		switch {
		case arg == "?":
			toa := 129
			if strings.HasPrefix(r.store.smsc, "+") {
				toa = 145
			}
			return []string{fmt.Sprintf(`+CSCA: "%s",%d`, r.store.smsc, toa)}, nil, true
		case arg == "=?":
			return nil, nil, true
		case strings.HasPrefix(arg, "="):
			p := params(raw[1:])
			n := strings.TrimPrefix(p[0], "+")
			if strings.Trim(n, "0123456789") != "" || len(n) > 20 {
				return nil, cms(cmsNotAllowed), true
			}
			r.store.smsc = p[0]
			return nil, nil, true
		}
	case "+CSCS":
		switch arg {
		case "?":
			return []string{`+CSCS: "GSM"`}, nil, true
		case "=?":
			return []string{`+CSCS: ("GSM","IRA","UCS2")`}, nil, true
		case `="GSM"`, `="IRA"`, `="UCS2"`:
			return nil, nil, true
		}
	case "+CMGS":
		switch {
		case arg == "=?":
			return nil, nil, true
		case strings.HasPrefix(arg, "="):
			n, err := strconv.Atoi(arg[1:])
			if err != nil || n < 1 || n > 164 {
				return nil, cms(cmsBadPDU), true
			}
			r.prompt = &smsPrompt{n: n}
			return nil, nil, true
		default:
			return nil, cms(cmsBadPDU), true
		}
	case "+CMGL":
		return r.execCMGL(arg)
	case "+CMGR":
		return r.execCMGR(arg)
	case "+CMGD":
		return r.execCMGD(arg)
	case "+CNMA":
		switch {
		case arg == "=?":
			return []string{"+CNMA: (0-2)"}, nil, true
		case r.sms.acks == 0:
			return nil, cms(cmsNoAck), true
		default:
			r.sms.acks--
			return nil, nil, true
		}
	default:
		return nil, nil, false
	}
	return nil, cme(cmeNotSupported), true
}

func (r *ModemResponder) execCPMS(arg string) ([]string, *atError, bool) {
	counts := func(names []string) []string {
		var f []string
		for _, n := range names {
			m := r.store.mems[n]
			f = append(f, strconv.Itoa(m.used()), strconv.Itoa(len(m.slots)))
		}
		return f
	}
	switch {
	case arg == "?":
		var f []string
		for _, n := range r.sms.mem {
			f = append(f, `"`+n+`"`)
			f = append(f, counts([]string{n})...)
		}
		return []string{"+CPMS: " + strings.Join(f, ",")}, nil, true
	case arg == "=?":
		return []string{`+CPMS: ("SM","ME"),("SM","ME"),("SM","ME")`}, nil, true
	case strings.HasPrefix(arg, "="):
		p := params(arg[1:])
		if len(p) > 3 {
			return nil, cms(cmsNotAllowed), true
		}
		mem := r.sms.mem
		for i, n := range p {
			if r.store.mems[n] == nil {
				return nil, cms(cmsNotAllowed), true
			}
			mem[i] = n
		}
		r.sms.mem = mem
		return []string{"+CPMS: " + strings.Join(counts(mem[:]), ",")}, nil, true
	}
	return nil, cme(cmeNotSupported), true
}

func (r *ModemResponder) execCNMI(arg string) ([]string, *atError, bool) {
	switch {
	case arg == "?":
		c := r.sms.cnmi
		return []string{fmt.Sprintf("+CNMI: %d,%d,%d,%d,%d", c[0], c[1], c[2], c[3], c[4])}, nil, true
	case arg == "=?":
		return []string{"+CNMI: (0-3),(0-3),(0,2),(0-2),(0,1)"}, nil, true
	case strings.HasPrefix(arg, "="):
		p := params(arg[1:])
		limit := [5]int{3, 3, 2, 2, 1}
		c := r.sms.cnmi
		if len(p) > 5 {
			return nil, cms(cmsNotSupported), true
		}
		for i, s := range p {
			if s == "" {
				continue
			}
			v, err := strconv.Atoi(s)
			if err != nil || v < 0 || v > limit[i] || (i == 2 && v == 1) {
				return nil, cms(cmsNotSupported), true
			}
			c[i] = v
		}
		r.sms.cnmi = c
		if c[0] > 0 {
			if c[4] == 0 {
				r.urcs = append(r.urcs, r.cnmiBuf...)
			}
			r.cnmiBuf = nil
		}
		return nil, nil, true
	}
	return nil, cme(cmeNotSupported), true
}

// memory returns the storage AT+CPMS chose as mem1 (read, list, delete).
func (r *ModemResponder) memory() *smsMemory { return r.store.mems[r.sms.mem[0]] }

func (r *ModemResponder) execCMGL(arg string) ([]string, *atError, bool) {
	stat := statUnread // 27.005: the default is "received unread"
	switch {
	case arg == "=?":
		return []string{"+CMGL: (0-4)"}, nil, true
	case arg == "":
	case strings.HasPrefix(arg, "="):
		v, err := strconv.Atoi(arg[1:])
		if err != nil || v < 0 || v > statAll {
			return nil, cms(cmsBadPDU), true
		}
		stat = v
	default:
		return nil, cme(cmeNotSupported), true
	}
	var lines []string
	for i, s := range r.memory().slots {
		if s == nil || (stat != statAll && s.stat != stat) {
			continue
		}
		lines = append(lines, fmt.Sprintf("+CMGL: %d,%d,,%d\r\n%X", i+1, s.stat, s.n, s.pdu))
		if s.stat == statUnread {
			s.stat = statRead
		}
	}
	if len(lines) == 0 {
		return nil, nil, true
	}
	return []string{strings.Join(lines, "\r\n")}, nil, true
}

func (r *ModemResponder) execCMGR(arg string) ([]string, *atError, bool) {
	switch {
	case arg == "=?":
		return nil, nil, true
	case strings.HasPrefix(arg, "="):
		i, err := strconv.Atoi(arg[1:])
		if err != nil {
			return nil, cms(cmsBadIndex), true
		}
		s, ok := r.memory().get(i)
		if !ok || s == nil {
			return nil, cms(cmsBadIndex), true
		}
		line := fmt.Sprintf("+CMGR: %d,,%d\r\n%X", s.stat, s.n, s.pdu)
		if s.stat == statUnread {
			s.stat = statRead
		}
		return []string{line}, nil, true
	}
	return nil, cme(cmeNotSupported), true
}

func (r *ModemResponder) execCMGD(arg string) ([]string, *atError, bool) {
	m := r.memory()
	switch {
	case arg == "=?":
		var used []string
		for i, s := range m.slots {
			if s != nil {
				used = append(used, strconv.Itoa(i+1))
			}
		}
		return []string{fmt.Sprintf("+CMGD: (%s),(0-4)", strings.Join(used, ","))}, nil, true
	case strings.HasPrefix(arg, "="):
		p := params(arg[1:])
		if len(p) > 2 {
			return nil, cms(cmsNotAllowed), true
		}
		i, err := strconv.Atoi(p[0])
		flag := 0
		if len(p) == 2 {
			if flag, err = strconv.Atoi(p[1]); err != nil || flag < 0 || flag > 4 {
				return nil, cms(cmsNotAllowed), true
			}
		}
		if flag == 0 {
			if _, ok := m.get(i); err != nil || !ok {
				return nil, cms(cmsBadIndex), true
			}
			m.slots[i-1] = nil
			return nil, nil, true
		}
		// delflag 1: all read; 2: read and sent; 3: read, sent and unsent; 4: all
		for j, s := range m.slots {
			if s != nil && (flag == 4 || s.stat == statRead || (flag >= 2 && s.stat == statSent) || (flag == 3 && s.stat == statUnsent)) {
				m.slots[j] = nil
			}
		}
		return nil, nil, true
	}
	return nil, cme(cmeNotSupported), true
}

// promptByte takes one byte after the "> " prompt of AT+CMGS: hex
// digits of the PDU, then Ctrl-Z to send or ESC to abort.
func (r *ModemResponder) promptByte(b byte) []byte {
	p := r.prompt
	r.prev = b
	switch b {
	case 0x1a:
		r.prompt = nil
		if r.hung {
			return nil
		}
		return r.submit(p)
	case 0x1b:
		r.prompt = nil
		if r.hung {
			return nil
		}
		return r.reply("", "\r\nOK\r\n", 0, false, nil)
	}
	var out []byte
	if r.echo && !r.hung {
		out = []byte{b}
	}
	switch {
	case b == '\r' || b == '\n' || b == ' ':
	case len(p.hex) < maxPDUHex:
		p.hex = append(p.hex, b)
	default:
		p.overflow = true
	}
	return out
}

// submit sends the PDU of an AT+CMGS: a malformed one, or one whose TPDU
// is not the announced length, fails with 304 at once; the network
// answers after SendLatency.
func (r *ModemResponder) submit(p *smsPrompt) []byte {
	fail := func(code int, lat time.Duration) []byte {
		return r.reply("", r.errorResult(*cms(code)), lat, false, nil)
	}
	if p.overflow {
		return fail(cmsBadPDU, 0)
	}
	raw, err := hex.DecodeString(string(p.hex))
	if err != nil {
		return fail(cmsBadPDU, 0)
	}
	m, err := decodeSubmit(raw, p.n)
	switch {
	case err != nil:
		return fail(cmsBadPDU, 0)
	case !r.registered():
		return fail(cmsNoNetwork, 0)
	case m.SMSC == "" && r.store.smsc == "":
		return fail(cmsSMSCUnknown, 0)
	case r.failN > 0:
		r.failN--
		return fail(r.failCode, r.opts.SendLatency)
	}
	r.store.mr = (r.store.mr + 1) % 256
	m.MR = r.store.mr
	info := fmt.Sprintf("\r\n+CMGS: %d\r\n", m.MR)
	return r.reply(info, "\r\nOK\r\n", r.opts.SendLatency, false, func() []byte {
		r.sent(m)
		return nil
	})
}

// sent records a message the modem sent and owes its status report.
func (r *ModemResponder) sent(m SentMessage) {
	at := r.opts.Clock()
	r.store.remember(m, at)
	if r.opts.OnMessage != nil {
		r.opts.OnMessage(m)
	}
	if !m.SRR || r.opts.ManualReports {
		return
	}
	st := ReportDelivered
	if r.opts.ReportStatus != nil {
		st = r.opts.ReportStatus(m)
	}
	if r.opts.ReportDelay <= 0 {
		r.statusReport(sentRecord{m, at}, st)
		return
	}
	r.after(r.opts.ReportDelay, func() []byte {
		r.statusReport(sentRecord{m, at}, st)
		return nil
	})
}

// statusReport routes a status report as AT+CNMI <ds> says: dropped (0),
// +CDS (1) or stored and +CDSI (2).
func (r *ModemResponder) statusReport(s sentRecord, st ReportStatus) {
	ds := r.sms.cnmi[3]
	if ds == 0 {
		return
	}
	p, err := encodeStatusReport(r.store.smsc, s.m, st, s.at, r.opts.Clock())
	if err != nil {
		return // a destination the PDU cannot carry; no report, as from a real network
	}
	if ds == 1 {
		if r.sms.csms == 1 {
			r.sms.acks++
		}
		r.indicate(fmt.Appendf(nil, "\r\n+CDS: %d\r\n%X\r\n", p.n, p.pdu))
		return
	}
	mem := r.sms.mem[2]
	if i := r.store.mems[mem].put(statUnread, p); i > 0 {
		r.indicate(fmt.Appendf(nil, "\r\n+CDSI: %q,%d\r\n", mem, i))
	}
}

// indicate queues an SMS indication, or buffers it while AT+CNMI mode
// is 0.
func (r *ModemResponder) indicate(urc []byte) {
	if r.sms.cnmi[0] == 0 {
		r.cnmiBuf = append(r.cnmiBuf, urc...)
		return
	}
	r.urcs = append(r.urcs, urc...)
}

// Inbound is an SMS the network delivers to the modem.
type Inbound struct {
	// From is the originator: "+4917…" (international), digits (type of
	// number unknown), or up to 11 letters and digits (alphanumeric).
	From string
	// Text is the message; a long one comes as concatenated parts, GSM
	// 7-bit if it can be, UCS-2 otherwise.
	Text string
	// SCTS is the service centre time stamp; zero is the modem's Clock.
	SCTS time.Time
	// MidReply puts the indications (+CMTI, +CMT) into the next command's
	// reply, after its information lines and before its final result, as
	// a modem that leaks URCs into replies does.
	MidReply bool
}

// Deliver receives an SMS from the network, as AT+CNMI <mt> says: stored
// in mem3 and announced with +CMTI (1, 3), stored silently (0), or routed
// as +CMT (2). It returns the output owed now (empty while the modem is
// busy: the indications then follow its reply) and how many parts the text
// took.
func (r *ModemResponder) Deliver(in Inbound) (out []byte, parts int, err error) {
	if !r.registered() {
		return nil, 0, ErrNotRegistered
	}
	scts := in.SCTS
	if scts.IsZero() {
		scts = r.opts.Clock()
	}
	pdus, err := encodeDeliver(r.store.enc, r.store.smsc, in.From, in.Text, scts)
	if err != nil {
		return nil, 0, err
	}
	var urc []byte
	switch mt := r.sms.cnmi[1]; mt {
	case 2:
		for _, p := range pdus {
			urc = fmt.Appendf(urc, "\r\n+CMT: ,%d\r\n%X\r\n", p.n, p.pdu)
			if r.sms.csms == 1 {
				r.sms.acks++
			}
		}
	default:
		name := r.sms.mem[2]
		mem := r.store.mems[name]
		if len(mem.slots)-mem.used() < len(pdus) {
			return nil, 0, ErrMemoryFull
		}
		for _, p := range pdus {
			i := mem.put(statUnread, p)
			if mt != 0 {
				urc = fmt.Appendf(urc, "\r\n+CMTI: %q,%d\r\n", name, i)
			}
		}
	}
	if in.MidReply {
		r.injected = append(r.injected, urc...)
	} else {
		r.indicate(urc)
	}
	return r.finish(nil), len(pdus), nil
}

// Report sends the status report of the last message sent with reference
// mr, now, with status st, routed as AT+CNMI <ds> says. It returns the
// output owed now.
func (r *ModemResponder) Report(mr int, st ReportStatus) ([]byte, error) {
	s, ok := r.store.find(mr)
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrUnknownMR, mr)
	}
	if !s.m.SRR {
		return nil, fmt.Errorf("%w: %d", ErrNoReportRequested, mr)
	}
	r.statusReport(s, st)
	return r.finish(nil), nil
}
