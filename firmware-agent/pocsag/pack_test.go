package pocsag_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"pagebridge/firmware-agent/pocsag"
	"pagebridge/firmware-agent/pocsag/pocsagtest"
	"pagebridge/gateway/paging"
)

// text gives a page's text back as the decoder reads it.
func text(t testing.TB, m pocsagtest.Message, k pocsag.Kind) string {
	t.Helper()
	switch k {
	case pocsag.Numeric:
		return m.Numeric()
	case pocsag.Alpha:
		return m.Alpha()
	}
	if len(m.Payload) != 0 {
		t.Errorf("tone-only page to %d has %d message codewords", m.RIC, len(m.Payload))
	}
	return ""
}

// canonical is a page's text as a receiver shows it: numeric
// parentheses as brackets, numeric trailing spaces lost to the padding.
func canonical(p pocsag.Page) string {
	s := p.Text.Reveal()
	if p.Kind == pocsag.Numeric {
		s = strings.NewReplacer("(", "[", ")", "]").Replace(s)
		s = strings.TrimRight(s, " ")
	}
	return s
}

// checkDecoded decodes t and checks that it holds exactly pages, each
// terminated, at the positions t.Starts gives.
func checkDecoded(t testing.TB, tx *pocsag.Transmission, pages []pocsag.Page) {
	t.Helper()
	msgs, err := pocsagtest.Decode(tx.Bits())
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if len(msgs) != len(pages) {
		t.Fatalf("decoded %d pages, sent %d", len(msgs), len(pages))
	}
	byPos := map[int]pocsagtest.Message{}
	for _, m := range msgs {
		byPos[m.Pos] = m
		if !m.Terminated {
			t.Errorf("page to %d at %d not terminated", m.RIC, m.Pos)
		}
		if m.Transmission != 0 {
			t.Errorf("page to %d in transmission %d", m.RIC, m.Transmission)
		}
	}
	for i, p := range pages {
		m, ok := byPos[tx.Starts[i]]
		if !ok {
			t.Fatalf("page %d: nothing decoded at %d", i, tx.Starts[i])
		}
		if m.RIC != p.RIC || m.Function != p.Function {
			t.Errorf("page %d: decoded RIC %d function %d, sent %d %d", i, m.RIC, m.Function, p.RIC, p.Function)
		}
		if got, want := text(t, m, p.Kind), canonical(p); got != want {
			t.Errorf("page %d to %d: decoded %q, sent %q", i, p.RIC, got, want)
		}
		if (tx.Starts[i]%pocsag.BatchWords)/2 != p.Frame() {
			t.Errorf("page %d to %d: address at %d, not in frame %d", i, p.RIC, tx.Starts[i], p.Frame())
		}
	}
}

func alpha(ric uint32, s string) pocsag.Page {
	return pocsag.Page{RIC: ric, Function: 3, Kind: pocsag.Alpha, Text: paging.NewPHI(s)}
}

func numeric(ric uint32, s string) pocsag.Page {
	return pocsag.Page{RIC: ric, Kind: pocsag.Numeric, Text: paging.NewPHI(s)}
}

// long240 is a 240-character page, 85 codewords: it runs across six
// batches.
var long240 = func() string {
	var b strings.Builder
	for i := 0; b.Len() < 240; i++ {
		fmt.Fprintf(&b, "Line %02d: ICU bed %d SpO2 low, call 4711. ", i, i+3)
	}
	return b.String()[:240]
}()

func TestEncodeRoundTrip(t *testing.T) {
	frames := make([]pocsag.Page, 8)
	for f := range 8 {
		frames[f] = alpha(uint32(1000000+8*f+(7-f)), fmt.Sprintf("Frame %d test", 7-f))
	}
	twenty := make([]pocsag.Page, 20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range twenty {
		ric := uint32(rng.IntN(pocsag.MaxRIC))
		if i%3 == 0 {
			twenty[i] = numeric(ric, fmt.Sprintf("%d-%d", 4000+i, rng.IntN(100000)))
		} else {
			twenty[i] = alpha(ric, fmt.Sprintf("Page %02d of 20 to %d: Rm %d", i+1, ric, rng.IntN(900)+100))
		}
		twenty[i].Function = pocsag.Function(i % 4)
	}
	cases := []struct {
		name  string
		pages []pocsag.Page
	}{
		{"tone only", []pocsag.Page{{RIC: 1234567, Function: 1, Kind: pocsag.Tone}}},
		{"numeric", []pocsag.Page{numeric(8, "5551234")}},
		{"numeric symbols", []pocsag.Page{numeric(9, "0123456789U -[]()")}},
		{"numeric 5 digits", []pocsag.Page{numeric(10, "12345")}},
		{"alpha", []pocsag.Page{alpha(1234567, "Code Blue Rm 402")}},
		{"alpha 20 characters", []pocsag.Page{alpha(15, "abcdefghijklmnopqrst")}},
		{"frames 0 to 7", frames},
		{"240 characters", []pocsag.Page{alpha(2097151, long240)}},
		{"240 characters in frame 3", []pocsag.Page{alpha(3, long240), numeric(4, "999")}},
		{"20 pages", twenty},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, r := range pocsag.Rates {
				tx, err := pocsag.Encode(r, c.pages...)
				if err != nil {
					t.Fatal(err)
				}
				checkDecoded(t, tx, c.pages)
				if got, want := tx.Duration(), r.TransmissionDuration(len(tx.Batches)); got != want {
					t.Errorf("duration %v, want %v", got, want)
				}
			}
		})
	}
}

// TestEncodePacking: pages packed behind one preamble take no more
// batches than their codewords need plus the idle codewords that put
// each address in its frame, and the addresses come in frame order
// within a batch.
func TestEncodePacking(t *testing.T) {
	// 16 tone-only pages, two per frame: exactly one batch.
	var tones []pocsag.Page
	for i := range 16 {
		tones = append(tones, pocsag.Page{RIC: uint32(800 + i%8 + 8*(i/8)), Kind: pocsag.Tone})
	}
	tx, err := pocsag.Encode(pocsag.Rate1200, tones...)
	if err != nil {
		t.Fatal(err)
	}
	// 16 addresses and the idle that ends the last page: two batches.
	if len(tx.Batches) != 2 {
		t.Errorf("16 tone pages, two per frame: %d batches, want 2", len(tx.Batches))
	}
	starts := slices.Clone(tx.Starts)
	slices.Sort(starts)
	if !slices.Equal(starts, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}) {
		t.Errorf("addresses at %v, want slots 0..15", starts)
	}
	checkDecoded(t, tx, tones)

	// Pages of 15 codewords to every frame: the packer never leaves
	// more than one idle codeword between pages.
	rng := rand.New(rand.NewPCG(3, 4))
	var pages []pocsag.Page
	for range 64 {
		pages = append(pages, alpha(uint32(rng.IntN(pocsag.MaxRIC)), strings.Repeat("x", 40)))
	}
	tx, err = pocsag.Encode(pocsag.Rate1200, pages...)
	if err != nil {
		t.Fatal(err)
	}
	idle := 0
	for _, b := range tx.Batches {
		for _, cw := range b {
			if cw == pocsag.Idle {
				idle++
			}
		}
	}
	if used := 64 * 15; len(tx.Batches)*pocsag.BatchWords-idle != used {
		t.Errorf("%d codewords carry pages, want %d", len(tx.Batches)*pocsag.BatchWords-idle, used)
	}
	// The tail of the last batch is idle; before it, at most a few.
	if limit := 64/4 + pocsag.BatchWords; idle > limit {
		t.Errorf("%d idle codewords for 64 pages, want at most %d", idle, limit)
	}
	checkDecoded(t, tx, pages)
}

// TestBuilderTermination: a page that fills its batch to the last
// codeword is still ended, by a batch of idle codewords.
func TestBuilderTermination(t *testing.T) {
	// Frame 7, slot 14: address and one message codeword fill the batch.
	p := numeric(7, "12345")
	w, err := p.Codewords()
	if err != nil {
		t.Fatal(err)
	}
	var b pocsag.Builder
	if got := b.BatchesWith(7, len(w)); got != 2 {
		t.Errorf("BatchesWith = %d, want 2 (the terminator spills over)", got)
	}
	if start := b.Add(7, w); start != 14 {
		t.Fatalf("address at %d, want 14", start)
	}
	if b.Ready() != 1 || b.Batches() != 2 {
		t.Errorf("Ready %d Batches %d, want 1 and 2", b.Ready(), b.Batches())
	}
	first, ok := b.Take()
	if !ok || first[14] != w[0] || first[15] != w[1] {
		t.Fatalf("first batch %08x", first)
	}
	rest := b.Flush()
	if len(rest) != 1 || rest[0] != (pocsag.Batch{pocsag.Idle, pocsag.Idle, pocsag.Idle, pocsag.Idle, pocsag.Idle, pocsag.Idle, pocsag.Idle, pocsag.Idle, pocsag.Idle, pocsag.Idle, pocsag.Idle, pocsag.Idle, pocsag.Idle, pocsag.Idle, pocsag.Idle, pocsag.Idle}) {
		t.Errorf("Flush = %08x, want one idle batch", rest)
	}
	if b.Pos() != 32 || b.Pending() != 0 || len(b.Flush()) != 0 {
		t.Errorf("after Flush: Pos %d Pending %d", b.Pos(), b.Pending())
	}
}

func TestBuilderGap(t *testing.T) {
	var b pocsag.Builder
	for f := range 8 {
		if g := b.Gap(f); g != 2*f {
			t.Errorf("at slot 0, Gap(%d) = %d", f, g)
		}
	}
	b.Add(2, []uint32{0x000026EC}) // slot 4
	for f, want := range []int{11, 13, 0, 1, 3, 5, 7, 9} {
		if g := b.Gap(f); g != want {
			t.Errorf("at slot 5, Gap(%d) = %d, want %d", f, g, want)
		}
	}
}

// TestAirTime holds durations to paging-protocols.md §7: preamble
// 1.125/0.48/0.24 s, batch 1.0625/0.453/0.227 s.
func TestAirTime(t *testing.T) {
	for _, c := range []struct {
		r               pocsag.Rate
		preamble, batch string
	}{
		{pocsag.Rate512, "1.125s", "1.0625s"},
		{pocsag.Rate1200, "480ms", "453.333333ms"},
		{pocsag.Rate2400, "240ms", "226.666666ms"},
	} {
		if got := c.r.PreambleDuration().String(); got != c.preamble {
			t.Errorf("%v preamble %s, want %s", c.r, got, c.preamble)
		}
		if got := c.r.BatchDuration().String(); got != c.batch {
			t.Errorf("%v batch %s, want %s", c.r, got, c.batch)
		}
	}
	// One 40-character page (15 codewords) in frame 0: one batch.
	tx, err := pocsag.Encode(pocsag.Rate1200, alpha(8, strings.Repeat("A", 40)))
	if err != nil {
		t.Fatal(err)
	}
	if got := tx.Duration().Seconds(); got < 0.93 || got > 0.94 {
		t.Errorf("40 characters in frame 0 at 1200: %.3f s, reference 0.93", got)
	}
	// In frame 7 it takes a second batch: 1.39 s.
	tx, _ = pocsag.Encode(pocsag.Rate1200, alpha(7, strings.Repeat("A", 40)))
	if got := tx.Duration().Seconds(); got < 1.38 || got > 1.39 {
		t.Errorf("40 characters in frame 7 at 1200: %.3f s, reference 1.39", got)
	}
}
