package smspdu

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/gsm7/charset"
	"github.com/warthog618/sms/encoding/pdumode"
	"github.com/warthog618/sms/encoding/tpdu"

	"pagebridge/gateway/paging"
)

func init() { warmCharsets() }

// warmCharsets builds every character table of sms v0.3.0 once. The
// package builds them lazily on first use without a lock (charset.go:
// DefaultEncoder and friends assign a package variable), which is a data
// race when two goroutines encode or decode first at the same time. After
// this, every lookup only reads.
func warmCharsets() {
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

// Coding is the alphabet of a message's user data (3GPP TS 23.038 4).
type Coding uint8

const (
	CodingGSM7 Coding = iota // the GSM 7-bit default alphabet, with national tables if any
	Coding8Bit               // 8-bit data; never sent by Encoder
	CodingUCS2               // UCS-2 (UTF-16 on the wire)
)

func (c Coding) String() string {
	switch c {
	case CodingGSM7:
		return "gsm7"
	case Coding8Bit:
		return "8bit"
	case CodingUCS2:
		return "ucs2"
	}
	return fmt.Sprintf("coding(%d)", uint8(c))
}

// Language is a national language identifier (3GPP TS 23.038 6.2.1.2.4)
// whose locking and single-shift tables an Encoder may use for GSM 7-bit.
// Values 4–13 (the Indic languages) are valid too.
type Language int

const (
	LanguageTurkish    Language = Language(charset.Turkish)
	LanguageSpanish    Language = Language(charset.Spanish)
	LanguagePortuguese Language = Language(charset.Portuguese)
)

// Defaults and limits of an Encoder.
const (
	// DefaultMaxParts is how many parts a message may take unless
	// WithMaxParts says otherwise: 1,530 GSM 7-bit characters (10×153) or
	// 670 UCS-2 code units (10×67).
	DefaultMaxParts = 10
	// MaxParts is the most parts a concatenated message can have (the
	// concatenation header counts them in one octet).
	MaxParts = 255
	// MinValidity and MaxValidity bound a relative validity period.
	// 5 minutes, the shortest the format has, is refused: sms v0.3.0
	// encodes it as 10.
	MinValidity = 10 * time.Minute
	MaxValidity = 63 * 7 * 24 * time.Hour
)

// DefaultValidity is the relative validity period (TP-VP) per priority:
// how long the service centre keeps trying before it gives up.
var DefaultValidity = map[paging.Priority]time.Duration{
	paging.PriorityNormal:   24 * time.Hour,
	paging.PriorityHigh:     4 * time.Hour,
	paging.PriorityCritical: time.Hour,
}

// Errors of NewEncoder and Encode.
var (
	ErrInvalidOption = errors.New("smspdu: invalid encoder option")
	ErrEmptyText     = errors.New("smspdu: empty message text")
	ErrTooLong       = errors.New("smspdu: message too long")
	ErrPriority      = errors.New("smspdu: invalid priority")
	ErrEncode        = errors.New("smspdu: cannot encode")
)

// Option configures an Encoder.
type Option func(*Encoder) error

// WithStatusReport sets TP-SRR, the request for a status report (on by
// default). The report arrives as +CDS (or stored, with +CDSI) and is
// read by DecodeStatusReport.
func WithStatusReport(on bool) Option {
	return func(e *Encoder) error { e.srr = on; return nil }
}

// WithValidity sets the relative validity period for priority p. It is
// rounded up to the next value TP-VP can hold (5-minute steps to 12 h,
// 30-minute steps to 24 h, then days to 30, then weeks), between
// MinValidity and MaxValidity.
func WithValidity(p paging.Priority, d time.Duration) Option {
	return func(e *Encoder) error {
		if !p.Valid() {
			return fmt.Errorf("%w: priority %d", ErrInvalidOption, uint8(p))
		}
		if d < MinValidity || d > MaxValidity {
			return fmt.Errorf("%w: validity %v for %v is outside %v…%v", ErrInvalidOption, d, p, MinValidity, MaxValidity)
		}
		e.validity[p] = relativeVPDuration(relativeVPOctet(d))
		return nil
	}
}

// WithLanguages lets GSM 7-bit use these national languages' locking and
// single-shift tables (a UDH element names the table) before falling back
// to UCS-2. Off by default: the default alphabet or UCS-2 is what every
// handset reads, and national tables are not checked by the independent
// decoders (see Caveats).
func WithLanguages(langs ...Language) Option {
	return func(e *Encoder) error {
		for _, l := range langs {
			if l < Language(charset.Start) || l >= Language(charset.End) {
				return fmt.Errorf("%w: national language identifier %d", ErrInvalidOption, int(l))
			}
		}
		e.langs = append([]Language(nil), langs...)
		return nil
	}
}

// WithMaxParts refuses messages that need more than n parts (1…MaxParts;
// DefaultMaxParts by default).
func WithMaxParts(n int) Option {
	return func(e *Encoder) error {
		if n < 1 || n > MaxParts {
			return fmt.Errorf("%w: max parts %d is outside 1…%d", ErrInvalidOption, n, MaxParts)
		}
		e.maxParts = n
		return nil
	}
}

// WithFirstRef sets the concatenation reference of the Encoder's first
// multi-part message. By default it is random, so that an agent that
// restarts does not send the references of its last messages again.
func WithFirstRef(ref uint8) Option {
	return func(e *Encoder) error { e.ref.next.Store(uint32(ref)); return nil }
}

// WithSMSC names the service centre in every PDU instead of the empty
// address (octet 00) that makes the modem use the SIM's. a must be
// TONInternational or TONUnknown.
func WithSMSC(a Address) Option {
	return func(e *Encoder) error {
		ta, err := a.tpduAddress()
		if err != nil {
			return fmt.Errorf("%w: smsc: %w", ErrInvalidOption, err)
		}
		e.smsc = pdumode.SMSCAddress{Address: ta}
		return nil
	}
}

// Encoder turns page text into SMS-SUBMIT PDUs for one modem.
//
// Keep one Encoder per modem for the life of the process: the
// concatenation reference in a long message's parts is what tells the
// handset which parts belong together, and it advances with every
// multi-part message this Encoder builds. Two Encoders for one modem (or a
// fresh one per message, as sms.Encode does) would give two long messages
// the same reference. An Encoder is safe for concurrent use.
type Encoder struct {
	enc      *sms.Encoder // charsets and the counters; its Encode copies itself
	ref      *refCounter
	srr      bool
	validity [3]time.Duration
	langs    []Language
	maxParts int
	smsc     pdumode.SMSCAddress
}

// refCounter hands out concatenation references (tpdu.Counter); the
// encoder keeps the low 8 bits.
type refCounter struct{ next atomic.Uint32 }

func (c *refCounter) Count() int { return int(c.next.Add(1) - 1) }

// mrCounter fills TP-MR. Modems replace it with their own, which comes
// back in "+CMGS: <mr>" and is what status reports carry.
type mrCounter struct{ n atomic.Uint32 }

func (c *mrCounter) Count() int { return int(c.n.Add(1)) }

// NewEncoder returns an Encoder: status reports requested, validity by
// DefaultValidity, the GSM default alphabet with UCS-2 fallback, at most
// DefaultMaxParts parts, a random first concatenation reference, the
// SIM's service centre; opts change these.
func NewEncoder(opts ...Option) (*Encoder, error) {
	e := &Encoder{ref: &refCounter{}, srr: true, maxParts: DefaultMaxParts}
	e.ref.next.Store(rand.Uint32N(256))
	for p, d := range DefaultValidity {
		e.validity[p] = relativeVPDuration(relativeVPOctet(d))
	}
	for _, o := range opts {
		if err := o(e); err != nil {
			return nil, err
		}
	}
	var eopts []sms.EncoderOption
	if len(e.langs) > 0 {
		nli := make([]int, len(e.langs))
		for i, l := range e.langs {
			nli[i] = int(l)
		}
		eopts = append(eopts, sms.WithCharset(nli...))
	}
	e.enc = sms.NewEncoder(eopts...)
	e.enc.ConcatRef = e.ref
	e.enc.MsgCount = &mrCounter{}
	return e, nil
}

// Submit is one message as PDUs for AT+CMGS, one per part.
type Submit struct {
	Parts  []Part
	Coding Coding
	// Ref is the concatenation reference (0–255) of a multi-part message,
	// -1 for a single part.
	Ref int
}

// Part is one SMS-SUBMIT in PDU mode.
type Part struct {
	// PDU is the hex (upper case) to write after AT+CMGS's "> " prompt,
	// followed by Ctrl-Z: the service centre address (00: the SIM's) and
	// the TPDU.
	PDU string
	// Length is the TPDU's length in octets, the service centre address
	// not counted: the <length> of AT+CMGS=<length>.
	Length int
	// Seq is the part's number, 1…len(Parts).
	Seq int
}

// Encode builds the SMS-SUBMIT PDUs of text to the number to, with the
// validity period of priority p. Text that the GSM 7-bit alphabet (and the
// configured national tables) can hold is sent in it, anything else in
// UCS-2; a long text is split into concatenated parts, never inside an
// escape sequence or a surrogate pair.
//
// Errors wrap ErrEmptyText, ErrTooLong (more than the maximum parts),
// ErrInvalidAddress, ErrPriority or ErrEncode; none quotes the text.
func (e *Encoder) Encode(to Address, text paging.PHI, p paging.Priority) (Submit, error) {
	if text.IsZero() {
		return Submit{}, ErrEmptyText
	}
	if !p.Valid() {
		return Submit{}, fmt.Errorf("%w: %d", ErrPriority, uint8(p))
	}
	da, err := to.tpduAddress()
	if err != nil {
		return Submit{}, err
	}
	// The template makes these SMS-SUBMITs: the zero TPDU sms.NewEncoder
	// starts from has MTI 0, SMS-DELIVER.
	t, err := tpdu.NewSubmit(tpdu.WithDA(da))
	if err != nil {
		return Submit{}, fmt.Errorf("%w: template: %w", ErrEncode, err)
	}
	if e.srr {
		t.FirstOctet |= tpdu.FoSRR
	}
	var vp tpdu.ValidityPeriod
	vp.SetRelative(e.validity[p])
	t.SetVP(vp)

	tps, err := e.enc.Encode([]byte(text.Reveal()), sms.WithTemplate(*t))
	if err != nil {
		return Submit{}, fmt.Errorf("%w: %w", ErrEncode, err)
	}
	if len(tps) == 0 {
		return Submit{}, ErrEmptyText
	}
	if len(tps) > e.maxParts {
		return Submit{}, fmt.Errorf("%w: %d parts, at most %d", ErrTooLong, len(tps), e.maxParts)
	}
	alpha, _ := tps[0].Alphabet()
	s := Submit{Parts: make([]Part, len(tps)), Coding: Coding(alpha), Ref: -1}
	if _, _, ref, ok := tps[0].UDH.ConcatInfo8(); ok {
		s.Ref = ref
	}
	for i := range tps {
		b, err := tps[i].MarshalBinary()
		if err != nil {
			// The tpdu package's encode errors name a field, never the text.
			return Submit{}, fmt.Errorf("%w: part %d: %w", ErrEncode, i+1, err)
		}
		if len(b) > maxSubmitOctets {
			return Submit{}, fmt.Errorf("%w: part %d is %d octets, more than %d", ErrEncode, i+1, len(b), maxSubmitOctets)
		}
		h, err := (&pdumode.PDU{SMSC: e.smsc, TPDU: b}).MarshalHexString()
		if err != nil {
			return Submit{}, fmt.Errorf("%w: part %d: %w", ErrEncode, i+1, err)
		}
		s.Parts[i] = Part{PDU: strings.ToUpper(h), Length: len(b), Seq: i + 1}
	}
	return s, nil
}

// maxSubmitOctets is the longest SMS-SUBMIT TPDU: 7 octets of header, a
// 12-octet TP-DA, 1 of TP-VP (relative), 140 of user data and its length.
const maxSubmitOctets = 2 + 12 + 2 + 1 + 1 + 140

// relativeVPOctet is the relative TP-VP value (3GPP TS 23.040 9.2.3.12.1)
// of the shortest period not shorter than d.
func relativeVPOctet(d time.Duration) byte {
	switch {
	case d <= 12*time.Hour: // 0–143: (VP+1)×5 min
		return byte(ceilDiv(d, 5*time.Minute) - 1)
	case d <= 24*time.Hour: // 144–167: 12 h + (VP−143)×30 min
		return byte(143 + ceilDiv(d-12*time.Hour, 30*time.Minute))
	case d <= 30*24*time.Hour: // 168–196: (VP−166) days
		return byte(166 + ceilDiv(d, 24*time.Hour))
	default: // 197–255: (VP−192) weeks
		w := ceilDiv(d, 7*24*time.Hour)
		if w < 5 {
			w = 5
		}
		return byte(192 + w)
	}
}

// relativeVPDuration is the period a relative TP-VP value stands for.
func relativeVPDuration(vp byte) time.Duration {
	switch {
	case vp <= 143:
		return time.Duration(vp+1) * 5 * time.Minute
	case vp <= 167:
		return 12*time.Hour + time.Duration(vp-143)*30*time.Minute
	case vp <= 196:
		return time.Duration(vp-166) * 24 * time.Hour
	default:
		return time.Duration(vp-192) * 7 * 24 * time.Hour
	}
}

func ceilDiv(d, unit time.Duration) int64 {
	return int64((d + unit - 1) / unit)
}
