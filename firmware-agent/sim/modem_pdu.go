package sim

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/gsm7/charset"
	"github.com/warthog618/sms/encoding/pdumode"
	"github.com/warthog618/sms/encoding/tpdu"
)

// sms v0.3.0 builds its character set tables lazily, unguarded: two
// modems encoding or decoding at once race on them. Build them all here,
// before any goroutine can.
func init() {
	charset.DefaultDecoder()
	charset.DefaultEncoder()
	charset.DefaultExtDecoder()
	charset.DefaultExtEncoder()
	for nli := charset.Start; nli < charset.End; nli++ {
		charset.NewDecoder(nli)
		charset.NewEncoder(nli)
		charset.NewExtDecoder(nli)
		charset.NewExtEncoder(nli)
	}
}

// Errors of the modem's SMS API (Deliver, Report).
var (
	// ErrNotRegistered: the modem has no network (SIM locked, radio off,
	// not registered), so the network cannot deliver to it.
	ErrNotRegistered = errors.New("sim: modem not registered with a network")
	// ErrMemoryFull: the message storage that takes received messages
	// (AT+CPMS mem3) has no room for all the parts; none was stored.
	ErrMemoryFull = errors.New("sim: modem message storage full")
	// ErrUnknownMR: no message sent with that message reference.
	ErrUnknownMR = errors.New("sim: no message sent with that reference")
	// ErrNoReportRequested: the message did not ask for a status report
	// (TP-SRR), so the network sends none.
	ErrNoReportRequested = errors.New("sim: message did not request a status report")
	// ErrBadAddress: an originating address that is neither a number
	// ("+4917…", "0170…", "112") nor alphanumeric of up to 11 characters.
	ErrBadAddress = errors.New("sim: bad originating address")
)

// ReportStatus is the TP-ST of a status report (3GPP TS 23.040 §9.2.3.15).
type ReportStatus byte

// Report statuses.
const (
	// ReportDelivered: short message received by the SME.
	ReportDelivered ReportStatus = 0x00
	// ReportPending: congestion; the service centre is still trying (a
	// temporary error).
	ReportPending ReportStatus = 0x20
	// ReportFailed: the validity period expired before delivery (a
	// permanent error).
	ReportFailed ReportStatus = 0x46
)

// Concat is the concatenation information element of a message part
// (23.040 §9.2.3.24.1 and .8). Total 0: the message has one part.
type Concat struct {
	Ref   int // the reference shared by a long message's parts
	Total int // how many parts
	Seq   int // this part's number, from 1
}

// SentMessage is one SMS-SUBMIT the modem sent: each part of a long
// message is one.
type SentMessage struct {
	MR   int    // the message reference the modem answered (+CMGS: <mr>)
	TPMR int    // the TP-MR in the PDU as submitted (the modem replaces it)
	To   string // TP-DA, digits (or text) as submitted, without '+'
	TON  int    // TP-DA type of number: 0 unknown, 1 international, 2 national, 5 alphanumeric (23.040 §9.1.2.5)
	NPI  int    // TP-DA numbering plan: 1 ISDN/E.164
	Text string // this part's text, decoded (GSM 7-bit with any national table, UCS-2, or raw 8-bit)
	DCS  byte   // TP-DCS
	SRR  bool   // a status report was requested
	// Concat tells the parts of a long message apart; Total is 0 for a
	// message of one part.
	Concat Concat
	// SMSC is the service centre address in the PDU ("+49…"), or "" if the
	// PDU left it to the modem (its AT+CSCA).
	SMSC string
	PDU  []byte // the PDU as submitted, SMSC address and TPDU, decoded from hex
}

// Number is the destination as dialled: with '+' if international.
func (m SentMessage) Number() string {
	if m.TON == int(tpdu.TonInternational) {
		return "+" + m.To
	}
	return m.To
}

// decodeSubmit decodes a PDU submitted with AT+CMGS=n: it must be an
// SMS-SUBMIT whose TPDU is n octets.
func decodeSubmit(raw []byte, n int) (SentMessage, error) {
	p, err := pdumode.UnmarshalBinary(raw)
	if err != nil {
		return SentMessage{}, err
	}
	if len(p.TPDU) != n {
		return SentMessage{}, fmt.Errorf("TPDU is %d octets, AT+CMGS said %d", len(p.TPDU), n)
	}
	t, err := sms.Unmarshal(p.TPDU, sms.AsMO)
	if err != nil {
		return SentMessage{}, err
	}
	if t.SmsType() != tpdu.SmsSubmit {
		return SentMessage{}, fmt.Errorf("%v, not an SMS-SUBMIT", t.SmsType())
	}
	m := SentMessage{
		TPMR: int(t.MR),
		To:   t.DA.Addr,
		TON:  int(t.DA.TypeOfNumber()),
		NPI:  int(t.DA.NumberingPlan()),
		DCS:  byte(t.DCS),
		SRR:  t.FirstOctet&tpdu.FoSRR != 0,
		PDU:  bytes.Clone(raw),
	}
	if p.SMSC.Addr != "" {
		m.SMSC = p.SMSC.Number()
	}
	if total, seq, ref, ok := t.ConcatInfo(); ok {
		m.Concat = Concat{Ref: ref, Total: total, Seq: seq}
	}
	text, err := sms.Decode([]*tpdu.TPDU{t})
	if err != nil {
		return SentMessage{}, err
	}
	m.Text = string(text)
	return m, nil
}

// encodedPDU is a PDU as the modem shows it: SMSC address and TPDU, and
// the TPDU's length in octets (the <length> of +CMT, +CMGR, +CMGL, +CDS).
type encodedPDU struct {
	pdu []byte
	n   int
}

// newDeliverEncoder returns the encoder of a modem's received messages:
// one per modem, so that long messages get distinct concatenation
// references. sms v0.3.0's NewEncoder without a template would build
// SMS-DELIVER by accident; this says so.
func newDeliverEncoder() *sms.Encoder {
	t, _ := tpdu.NewDeliver()
	t.FirstOctet |= tpdu.FoMMS // no more messages waiting
	return sms.NewEncoder(sms.WithTemplate(*t))
}

// address builds a TP-OA by hand (sms.From would make every number
// international): "+digits" international, digits national-unknown,
// anything else alphanumeric.
func address(s string) (tpdu.Address, error) {
	a := tpdu.NewAddress()
	digits := func(s string) bool {
		for _, c := range []byte(s) {
			if !(c >= '0' && c <= '9' || c == '*' || c == '#') {
				return false
			}
		}
		return s != ""
	}
	switch {
	case len(s) > 1 && s[0] == '+' && digits(s[1:]) && len(s) <= 21:
		a.SetTypeOfNumber(tpdu.TonInternational)
		a.SetNumberingPlan(tpdu.NpISDN)
		a.Addr = s[1:]
	case digits(s) && len(s) <= 20:
		a.SetTypeOfNumber(tpdu.TonUnknown)
		a.SetNumberingPlan(tpdu.NpISDN)
		a.Addr = s
	case s != "" && len([]rune(s)) <= 11:
		a.SetTypeOfNumber(tpdu.TonAlphanumeric)
		a.SetNumberingPlan(tpdu.NpUnknown)
		a.Addr = s
		if _, err := a.MarshalBinary(); err != nil {
			return a, fmt.Errorf("%w %q: %v", ErrBadAddress, s, err)
		}
	default:
		return a, fmt.Errorf("%w %q", ErrBadAddress, s)
	}
	return a, nil
}

// smscPrefix is the SMSC address field of a PDU the modem shows.
func smscPrefix(smsc string) ([]byte, error) {
	a := pdumode.SMSCAddress{Address: tpdu.NewAddress()} // TOA bit 7 set, as 24.011 wants
	if smsc != "" {
		a.SetNumber(smsc)
		if smsc[0] != '+' {
			a.SetTypeOfNumber(tpdu.TonUnknown)
		}
	}
	return a.MarshalBinary()
}

// encodeDeliver builds the SMS-DELIVER parts of a text from an address,
// time-stamped scts, as the service centre smsc sends them.
func encodeDeliver(enc *sms.Encoder, smsc, from, text string, scts time.Time) ([]encodedPDU, error) {
	oa, err := address(from)
	if err != nil {
		return nil, err
	}
	prefix, err := smscPrefix(smsc)
	if err != nil {
		return nil, fmt.Errorf("sim: SMSC %q: %w", smsc, err)
	}
	parts, err := enc.Encode([]byte(text))
	if err != nil {
		return nil, fmt.Errorf("sim: encode SMS-DELIVER: %w", err)
	}
	if len(parts) == 0 { // an empty text is one part with no user data
		t, _ := tpdu.NewDeliver()
		t.FirstOctet |= tpdu.FoMMS
		parts = []tpdu.TPDU{*t}
	}
	out := make([]encodedPDU, 0, len(parts))
	for _, t := range parts {
		t.OA = oa
		t.SCTS = tpdu.Timestamp{Time: scts}
		b, err := t.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("sim: encode SMS-DELIVER: %w", err)
		}
		out = append(out, encodedPDU{pdu: append(bytes.Clone(prefix), b...), n: len(b)})
	}
	return out, nil
}

// encodeStatusReport builds the SMS-STATUS-REPORT for a sent message.
func encodeStatusReport(smsc string, m SentMessage, st ReportStatus, sent, done time.Time) (encodedPDU, error) {
	prefix, err := smscPrefix(smsc)
	if err != nil {
		return encodedPDU{}, fmt.Errorf("sim: SMSC %q: %w", smsc, err)
	}
	t, _ := tpdu.New()
	if err := t.SetSmsType(tpdu.SmsStatusReport); err != nil {
		return encodedPDU{}, err
	}
	t.FirstOctet |= tpdu.FoMMS
	t.MR = byte(m.MR)
	t.RA = tpdu.NewAddress()
	t.RA.SetTypeOfNumber(tpdu.TypeOfNumber(m.TON))
	t.RA.SetNumberingPlan(tpdu.NumberingPlan(m.NPI))
	t.RA.Addr = m.To
	t.SCTS = tpdu.Timestamp{Time: sent}
	t.DT = tpdu.Timestamp{Time: done}
	t.ST = byte(st)
	b, err := t.MarshalBinary()
	if err != nil {
		return encodedPDU{}, fmt.Errorf("sim: encode SMS-STATUS-REPORT: %w", err)
	}
	return encodedPDU{pdu: append(prefix, b...), n: len(b)}, nil
}

// JoinParts reassembles long messages: the parts of one (same To,
// Concat.Ref and Concat.Total) become one SentMessage, in the place of its
// first part, with the texts joined in Seq order and the first part's
// other fields; a message whose parts are not all there is left out.
// Messages of one part are returned as they are. A long message sent
// twice with the same reference comes out twice.
func JoinParts(msgs []SentMessage) []SentMessage {
	type key struct {
		to         string
		ref, total int
	}
	type group struct {
		at    int // index into out
		parts map[int]SentMessage
	}
	var out []SentMessage
	var whole []bool
	open := map[key]*group{}
	for _, m := range msgs {
		if m.Concat.Total <= 1 {
			out = append(out, m)
			whole = append(whole, true)
			continue
		}
		k := key{m.To, m.Concat.Ref, m.Concat.Total}
		g := open[k]
		if g == nil {
			g = &group{at: len(out), parts: map[int]SentMessage{}}
			open[k] = g
			out = append(out, m)
			whole = append(whole, false)
		}
		g.parts[m.Concat.Seq] = m
		if len(g.parts) < m.Concat.Total {
			continue
		}
		var text strings.Builder
		for i := 1; i <= m.Concat.Total; i++ {
			p, ok := g.parts[i]
			if !ok {
				break
			}
			text.WriteString(p.Text)
		}
		first := g.parts[1]
		first.Text = text.String()
		out[g.at], whole[g.at] = first, true
		delete(open, k)
	}
	var done []SentMessage
	for i, m := range out {
		if whole[i] {
			done = append(done, m)
		}
	}
	return done
}
