package pocsag

import (
	"fmt"
	"time"
)

// Sizes of a transmission, in bits and codewords.
const (
	// PreambleBits is the length of the preamble, 1010… (ITU-R M.584
	// asks for at least 576 bits).
	PreambleBits = 576
	// BatchWords is the number of codewords in a batch after its sync
	// codeword: 8 frames of 2.
	BatchWords = 16
	// BatchBits is a batch on air: sync and 16 codewords.
	BatchBits = 32 * (1 + BatchWords)
)

// Batch is the 16 codewords after a sync codeword; frame f is words 2f
// and 2f+1.
type Batch [BatchWords]uint32

// Duration is the air time of n bits at rate r.
func (r Rate) Duration(bits int) time.Duration {
	return time.Duration(int64(bits) * int64(time.Second) / int64(r))
}

// PreambleDuration is the air time of the preamble at r.
func (r Rate) PreambleDuration() time.Duration { return r.Duration(PreambleBits) }

// BatchDuration is the air time of one batch at r.
func (r Rate) BatchDuration() time.Duration { return r.Duration(BatchBits) }

// TransmissionDuration is the air time of a preamble and n batches at r.
func (r Rate) TransmissionDuration(batches int) time.Duration {
	return r.Duration(PreambleBits + batches*BatchBits)
}

// Builder lays pages out in batches, each address in its frame, messages
// running on across frames and batches. Pages are added one after the
// other, and complete batches can be taken while more pages are added, so
// a scheduler can decide what goes next at each batch boundary.
//
// Every page is ended by the codeword after it (the next page's address or
// an idle codeword): [Builder.Flush] makes sure the last one is.
type Builder struct {
	words []uint32 // codewords not yet taken; words[0] is a batch's first
	taken int      // batches taken
	open  bool     // the last codeword added belongs to a page not yet ended
}

// Pos is the index, counted from the first batch's first codeword, where
// the next codeword would go.
func (b *Builder) Pos() int { return b.taken*BatchWords + len(b.words) }

// Pending is the number of codewords added but not yet taken.
func (b *Builder) Pending() int { return len(b.words) }

// Gap is the number of idle codewords that must come before an address in
// frame f (0..7) at the current position.
func (b *Builder) Gap(f int) int {
	s := len(b.words) % BatchWords
	switch {
	case s < 2*f:
		return 2*f - s
	case s <= 2*f+1:
		return 0
	}
	return BatchWords - s + 2*f
}

// BatchesWith is the number of batches the codewords not yet taken would
// fill if a page of n codewords in frame f were added next, counting the
// codeword that must end it.
func (b *Builder) BatchesWith(f, n int) int {
	return (len(b.words) + b.Gap(f) + n + 1 + BatchWords - 1) / BatchWords
}

// Batches is the number of batches the codewords not yet taken fill,
// counting the codeword that must end the last page.
func (b *Builder) Batches() int {
	n := len(b.words)
	if b.open {
		n++
	}
	return (n + BatchWords - 1) / BatchWords
}

// Add places the codewords of one page (address first, as
// [Page.Codewords] gives them) in frame f, after idle codewords up to the
// frame, and returns the index of its address codeword (see [Builder.Pos]).
func (b *Builder) Add(f int, words []uint32) int {
	for range b.Gap(f) {
		b.words = append(b.words, Idle)
	}
	start := b.Pos()
	b.words = append(b.words, words...)
	b.open = len(words) > 0
	return start
}

// Ready is the number of complete batches that can be taken.
func (b *Builder) Ready() int { return len(b.words) / BatchWords }

// Take removes and returns the first complete batch, if there is one.
// The codeword that ends the batch's last page may then be the first of
// the next batch.
func (b *Builder) Take() (Batch, bool) {
	var bt Batch
	if len(b.words) < BatchWords {
		return bt, false
	}
	copy(bt[:], b.words)
	b.words = append(b.words[:0], b.words[BatchWords:]...)
	b.taken++
	return bt, true
}

// Flush pads the codewords not yet taken with idle codewords to whole
// batches, the last page ended by an idle codeword (a whole idle batch if
// the page filled its batch), and returns them. The builder is then empty
// and can go on.
func (b *Builder) Flush() []Batch {
	if b.open {
		b.words = append(b.words, Idle)
		b.open = false
	}
	for len(b.words)%BatchWords != 0 {
		b.words = append(b.words, Idle)
	}
	var out []Batch
	for {
		bt, ok := b.Take()
		if !ok {
			return out
		}
		out = append(out, bt)
	}
}

// Transmission is a preamble and batches at one rate.
type Transmission struct {
	Rate    Rate
	Batches []Batch
	// Starts[i] is the index (counted from the first batch's first
	// codeword) of the address codeword of the i-th page given to
	// [Encode].
	Starts []int
}

// Encode packs pages behind one preamble at rate r: each address in its
// frame, and the pages ordered so that as few idle codewords as possible
// are needed (a page goes next when its frame comes soonest; ties keep
// the order given).
func Encode(r Rate, pages ...Page) (*Transmission, error) {
	if !r.Valid() {
		return nil, fmt.Errorf("%w: %d", ErrRate, r)
	}
	words := make([][]uint32, len(pages))
	for i, p := range pages {
		w, err := p.Codewords()
		if err != nil {
			return nil, fmt.Errorf("page %d: %w", i+1, err)
		}
		words[i] = w
	}
	t := &Transmission{Rate: r, Starts: make([]int, len(pages))}
	var b Builder
	done := make([]bool, len(pages))
	for range pages {
		best := -1
		for i, p := range pages {
			if !done[i] && (best < 0 || b.Gap(p.Frame()) < b.Gap(pages[best].Frame())) {
				best = i
			}
		}
		done[best] = true
		t.Starts[best] = b.Add(pages[best].Frame(), words[best])
		for {
			bt, ok := b.Take()
			if !ok {
				break
			}
			t.Batches = append(t.Batches, bt)
		}
	}
	t.Batches = append(t.Batches, b.Flush()...)
	return t, nil
}

// Duration is t's air time.
func (t *Transmission) Duration() time.Duration {
	return t.Rate.TransmissionDuration(len(t.Batches))
}

// Bits is t on air, one bit a byte (0 or 1), first bit first: preamble,
// then sync and codewords of each batch.
func (t *Transmission) Bits() []byte {
	out := make([]byte, 0, PreambleBits+len(t.Batches)*BatchBits)
	out = AppendPreamble(out)
	for _, b := range t.Batches {
		out = AppendBatch(out, b)
	}
	return out
}

// AppendPreamble appends the preamble's bits (1010…) to dst.
func AppendPreamble(dst []byte) []byte {
	for i := range PreambleBits {
		dst = append(dst, byte(1-i%2))
	}
	return dst
}

// AppendBatch appends the bits of sync and b's codewords to dst.
func AppendBatch(dst []byte, b Batch) []byte {
	dst = AppendCodeword(dst, Sync)
	for _, cw := range b {
		dst = AppendCodeword(dst, cw)
	}
	return dst
}

// AppendCodeword appends cw's 32 bits to dst, bit 31 first.
func AppendCodeword(dst []byte, cw uint32) []byte {
	for i := 31; i >= 0; i-- {
		dst = append(dst, byte(cw>>i)&1)
	}
	return dst
}
