package smspdu

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/warthog618/sms/encoding/tpdu"

	"pagebridge/gateway/paging"
)

// MaxPendingSets is how many incomplete messages a Reassembler holds; a
// new one beyond that pushes out the oldest, which Expired then returns.
const MaxPendingSets = 256

// Errors of Reassembler.Add.
var (
	// ErrDuplicatePart: the same part of a pending message came again
	// (a service centre resends a part whose acknowledgement it missed).
	// The part is dropped; the message is unaffected.
	ErrDuplicatePart = errors.New("smspdu: duplicate part")
	// ErrPartConflict: a part with the number of one already held but
	// other content. The first is kept.
	ErrPartConflict = errors.New("smspdu: conflicting part")
	// ErrNotDecoded: the Deliver did not come from DecodeDeliver.
	ErrNotDecoded = errors.New("smspdu: part not from DecodeDeliver")
)

// Message is a whole received text: a single SMS-DELIVER, or the parts of
// a concatenated one joined.
type Message struct {
	From Address
	SMSC Address
	// Sent is the first part's service centre time stamp.
	Sent   time.Time
	Coding Coding
	Text   paging.PHI
	// Concat has the reference and Total of a concatenated message (Seq
	// 0); zero for a single SMS.
	Concat Concat
}

// Partial is a concatenated message whose parts did not all come within
// the timeout.
type Partial struct {
	From   Address
	Concat Concat // Ref, Ref16 and Total; Seq 0
	// Parts are the parts that came, in order of their numbers.
	Parts []Deliver
	// FirstSeen is when the first of them came.
	FirstSeen time.Time
}

// Reassembler joins the parts of concatenated messages. Parts belong
// together when they share the sender (type of number and digits), the
// reference, its width (8 or 16 bits: sms.Collector mixes them up) and
// the number of parts. It is safe for concurrent use.
//
// Time comes from the clock given to NewReassembler; nothing runs in the
// background. Call Expired now and then (each time a part arrives and on
// a timer) to collect messages whose parts stopped coming.
type Reassembler struct {
	timeout time.Duration
	now     func() time.Time

	mu      sync.Mutex
	pending map[setKey]*partSet
	evicted []Partial
}

type setKey struct {
	ton   TON
	from  string
	ref   int
	ref16 bool
	total int
}

type partSet struct {
	first time.Time
	parts []*Deliver
	have  int
}

// NewReassembler returns a Reassembler that gives up on a message timeout
// after its first part came. now is the clock (time.Now if nil).
func NewReassembler(timeout time.Duration, now func() time.Time) *Reassembler {
	if now == nil {
		now = time.Now
	}
	return &Reassembler{timeout: timeout, now: now, pending: make(map[setKey]*partSet)}
}

// Add takes one received part. A single SMS comes back at once as a
// complete Message; a part of a concatenated message is held until its
// last part comes, which returns the Message with complete true.
func (r *Reassembler) Add(d Deliver) (msg Message, complete bool, err error) {
	if d.tp == nil {
		return Message{}, false, ErrNotDecoded
	}
	if d.Concat.Total <= 1 {
		return Message{From: d.From, SMSC: d.SMSC, Sent: d.Sent, Coding: d.Coding, Text: d.Text, Concat: Concat{Ref: d.Concat.Ref, Ref16: d.Concat.Ref16, Total: d.Concat.Total}}, true, nil
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expireLocked(now)

	k := setKey{ton: d.From.TON, from: d.From.Digits, ref: d.Concat.Ref, ref16: d.Concat.Ref16, total: d.Concat.Total}
	s := r.pending[k]
	if s == nil {
		if len(r.pending) >= MaxPendingSets {
			r.evictOldestLocked()
		}
		s = &partSet{first: now, parts: make([]*Deliver, d.Concat.Total)}
		r.pending[k] = s
	}
	i := d.Concat.Seq - 1
	if held := s.parts[i]; held != nil {
		if samePart(held, &d) {
			return Message{}, false, fmt.Errorf("%w: part %d of %d", ErrDuplicatePart, d.Concat.Seq, d.Concat.Total)
		}
		return Message{}, false, fmt.Errorf("%w: part %d of %d", ErrPartConflict, d.Concat.Seq, d.Concat.Total)
	}
	s.parts[i] = &d
	s.have++
	if s.have < len(s.parts) {
		return Message{}, false, nil
	}
	delete(r.pending, k)
	tps := make([]*tpdu.TPDU, len(s.parts))
	for j, p := range s.parts {
		tps[j] = p.tp
	}
	text, _, err := decodeText(tps)
	if err != nil {
		return Message{}, false, fmt.Errorf("reassemble %d parts: %w", len(tps), err)
	}
	first := s.parts[0]
	return Message{
		From:   first.From,
		SMSC:   first.SMSC,
		Sent:   first.Sent,
		Coding: first.Coding,
		Text:   paging.NewPHI(string(text)),
		Concat: Concat{Ref: k.ref, Ref16: k.ref16, Total: k.total},
	}, true, nil
}

// Expired returns the messages whose first part came at least the
// timeout ago without the rest, and those pushed out by MaxPendingSets,
// oldest first, and forgets them.
func (r *Reassembler) Expired() []Partial {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expireLocked(now)
	out := r.evicted
	r.evicted = nil
	slices.SortStableFunc(out, func(a, b Partial) int { return a.FirstSeen.Compare(b.FirstSeen) })
	return out
}

// Pending is how many incomplete messages are held.
func (r *Reassembler) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

func (r *Reassembler) expireLocked(now time.Time) {
	for k, s := range r.pending {
		if now.Sub(s.first) >= r.timeout {
			r.dropLocked(k, s)
		}
	}
}

func (r *Reassembler) evictOldestLocked() {
	var oldest *partSet
	var ok setKey
	for k, s := range r.pending {
		if oldest == nil || s.first.Before(oldest.first) {
			oldest, ok = s, k
		}
	}
	if oldest != nil {
		r.dropLocked(ok, oldest)
	}
}

func (r *Reassembler) dropLocked(k setKey, s *partSet) {
	delete(r.pending, k)
	p := Partial{From: Address{TON: k.ton, Digits: k.from}, Concat: Concat{Ref: k.ref, Ref16: k.ref16, Total: k.total}, FirstSeen: s.first}
	for _, d := range s.parts {
		if d != nil {
			p.Parts = append(p.Parts, *d)
		}
	}
	r.evicted = append(r.evicted, p)
}

func samePart(a, b *Deliver) bool {
	return a.tp.DCS == b.tp.DCS && slices.Equal(a.tp.UD, b.tp.UD)
}
