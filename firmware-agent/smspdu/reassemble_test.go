package smspdu

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// fakeClock is the Reassembler's clock in tests: time moves only when
// the test moves it.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// part builds a UCS-2 SMS-DELIVER part from oa (TP-OA hex) with an 8-bit
// (ref < 256 and !ref16) or 16-bit concatenation element and the UCS-2
// hex data.
func part(t *testing.T, oa string, ref int, ref16 bool, total, seq int, data string) Deliver {
	t.Helper()
	ie := fmt.Sprintf("050003%02X%02X%02X", ref, total, seq)
	if ref16 {
		ie = fmt.Sprintf("060804%04X%02X%02X", ref, total, seq)
	}
	pdu := fmt.Sprintf("0044%s0008%s%02X%s%s", oa, dSCTS, len(ie)/2+len(data)/2, ie, data)
	d, err := DecodeDeliver(pdu)
	if err != nil {
		t.Fatalf("part %d/%d: %v", seq, total, err)
	}
	return d
}

const (
	oaA = "0B911346610089F6" // +31641600986
	oaB = "0A811007214365"   // 0170123456
)

func add(t *testing.T, r *Reassembler, d Deliver) (Message, bool) {
	t.Helper()
	m, ok, err := r.Add(d)
	if err != nil {
		t.Fatalf("part %d/%d: %v", d.Concat.Seq, d.Concat.Total, err)
	}
	return m, ok
}

func TestReassembleOutOfOrderWithDuplicates(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	r := NewReassembler(5*time.Minute, clk.now)
	p1 := part(t, oaA, 7, false, 3, 1, "00410042")
	p2 := part(t, oaA, 7, false, 3, 2, "00430044")
	p3 := part(t, oaA, 7, false, 3, 3, "0045")
	if _, ok := add(t, r, p3); ok {
		t.Fatal("complete after 1 of 3")
	}
	if _, ok := add(t, r, p1); ok {
		t.Fatal("complete after 2 of 3")
	}
	if _, _, err := r.Add(p1); !errors.Is(err, ErrDuplicatePart) {
		t.Errorf("duplicate: %v", err)
	}
	other := part(t, oaA, 7, false, 3, 1, "005A")
	if _, _, err := r.Add(other); !errors.Is(err, ErrPartConflict) {
		t.Errorf("conflict: %v", err)
	}
	m, ok := add(t, r, p2)
	if !ok || m.Text.Reveal() != "ABCDE" || m.From.String() != "+31641600986" || m.Concat != (Concat{Ref: 7, Total: 3}) || m.Coding != CodingUCS2 {
		t.Errorf("%v %+v text %q", ok, m, m.Text.Reveal())
	}
	if r.Pending() != 0 || len(r.Expired()) != 0 {
		t.Error("left something behind")
	}
}

// TestReassembleKeys: parts that differ in sender, reference width or
// part count do not mix (sms.Collector mixes 8- and 16-bit references).
func TestReassembleKeys(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	r := NewReassembler(time.Minute, clk.now)
	firsts := []Deliver{
		part(t, oaA, 9, false, 2, 1, "0031"),
		part(t, oaB, 9, false, 2, 1, "0032"),
		part(t, oaA, 9, true, 2, 1, "0033"),
		part(t, oaA, 9, false, 3, 1, "0034"),
	}
	for _, d := range firsts {
		if _, ok := add(t, r, d); ok {
			t.Fatal("complete after one part")
		}
	}
	if r.Pending() != 4 {
		t.Fatalf("%d pending, want 4", r.Pending())
	}
	seconds := []Deliver{
		part(t, oaA, 9, true, 2, 2, "0063"),
		part(t, oaB, 9, false, 2, 2, "0062"),
		part(t, oaA, 9, false, 2, 2, "0061"),
	}
	want := []string{"3c", "2b", "1a"}
	for i, d := range seconds {
		m, ok := add(t, r, d)
		if !ok || m.Text.Reveal() != want[i] {
			t.Errorf("second part %d: %v %q, want %q", i, ok, m.Text.Reveal(), want[i])
		}
	}
	if r.Pending() != 1 {
		t.Errorf("%d pending, want the 3-part one", r.Pending())
	}
}

func TestReassembleTimeout(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	r := NewReassembler(5*time.Minute, clk.now)
	start := clk.t
	add(t, r, part(t, oaA, 1, false, 3, 2, "0042"))
	clk.advance(4 * time.Minute)
	add(t, r, part(t, oaA, 1, false, 3, 3, "0043"))
	if got := r.Expired(); len(got) != 0 {
		t.Fatalf("expired early: %+v", got)
	}
	clk.advance(time.Minute) // 5 minutes after the first part
	got := r.Expired()
	if len(got) != 1 {
		t.Fatalf("%d expired, want 1", len(got))
	}
	p := got[0]
	if p.From.String() != "+31641600986" || p.Concat != (Concat{Ref: 1, Total: 3}) || !p.FirstSeen.Equal(start) || len(p.Parts) != 2 ||
		p.Parts[0].Concat.Seq != 2 || p.Parts[1].Concat.Seq != 3 || p.Parts[0].Text.Reveal() != "B" {
		t.Errorf("%+v", p)
	}
	if r.Pending() != 0 || len(r.Expired()) != 0 {
		t.Error("expired set kept")
	}
	// The missing part, late, starts a new set.
	if _, ok := add(t, r, part(t, oaA, 1, false, 3, 1, "0041")); ok || r.Pending() != 1 {
		t.Error("late part")
	}
}

func TestReassembleEvictsOldest(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	r := NewReassembler(time.Hour, clk.now)
	for i := 0; i <= MaxPendingSets; i++ {
		add(t, r, part(t, oaA, i, true, 2, 1, "0041"))
		clk.advance(time.Second)
	}
	if r.Pending() != MaxPendingSets {
		t.Errorf("%d pending", r.Pending())
	}
	got := r.Expired()
	if len(got) != 1 || got[0].Concat.Ref != 0 {
		t.Errorf("evicted %+v, want the first", got)
	}
}

func TestReassembleSingleAndUndecoded(t *testing.T) {
	r := NewReassembler(time.Minute, nil)
	d, err := DecodeDeliver(deliverPDU)
	if err != nil {
		t.Fatal(err)
	}
	m, ok, err := r.Add(d)
	if err != nil || !ok || m.Text.Reveal() != "How are you?" || m.Concat != (Concat{}) {
		t.Errorf("single: %v %v %+v", ok, err, m)
	}
	// A concatenation element that says 1 of 1 is a whole message too.
	if m, ok, err := r.Add(part(t, oaA, 5, false, 1, 1, "0041")); err != nil || !ok || m.Text.Reveal() != "A" {
		t.Errorf("1 of 1: %v %v", ok, err)
	}
	if _, _, err := r.Add(Deliver{}); !errors.Is(err, ErrNotDecoded) {
		t.Errorf("zero Deliver: %v", err)
	}
}

// TestReassembleSplitSurrogate: another sender split "😀" (D83D DE00)
// between parts. Each part decodes; the message is whole.
func TestReassembleSplitSurrogate(t *testing.T) {
	r := NewReassembler(time.Minute, nil)
	p1 := part(t, oaB, 3, false, 2, 1, "0041D83D")
	p2 := part(t, oaB, 3, false, 2, 2, "DE000042")
	if p1.Text.Reveal() != "A" {
		t.Errorf("part 1 text %q", p1.Text.Reveal())
	}
	add(t, r, p2)
	m, ok := add(t, r, p1)
	if !ok || m.Text.Reveal() != "A😀B" {
		t.Errorf("%v %q", ok, m.Text.Reveal())
	}
	// In the last part, half a pair is an error.
	if _, err := DecodeDeliver(fmt.Sprintf("0044%s0008%s0A0500030202020041D83D", oaB, dSCTS)); !errors.Is(err, ErrMalformed) {
		t.Errorf("dangling in the last part: %v", err)
	}
}
