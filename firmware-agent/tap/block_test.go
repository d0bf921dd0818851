package tap

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pagebridge/gateway/paging"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func page(id, text string) Page { return Page{ID: id, Text: paging.NewPHI(text)} }

// The reference's worked vectors (paging-protocols.md §1), with their sums.
func TestChecksumVectors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		block string
		sum   int
		want  string
	}{
		{"\x02123\rABC\r\x03", 379, "17;"},
		{"\x021\rTEST\r\x03", 0x190, "190"},
		{"\x021002\rLab: K 6.1 Bed 7\r\x03", 1229, "4<="},
		{"\x021001\rCode Blue 4W Rm 412\r\x03", 1605, "645"},
		{"\x021003\rPart one of a long\x1f", 0x731, "731"},
		{"\x02 message\r\x03", 0x317, "317"},
	}
	for _, tt := range tests {
		sum := 0
		for _, c := range []byte(tt.block) {
			sum += int(c)
		}
		if sum != tt.sum {
			t.Errorf("%q sums to %d, the reference says %d", tt.block, sum, tt.sum)
		}
		if got := Checksum([]byte(tt.block)); got != tt.want {
			t.Errorf("Checksum(%q) = %q, want %q", tt.block, got, tt.want)
		}
		// The 8th bit does not count.
		high := []byte(tt.block)
		for i := range high {
			high[i] |= 0x80
		}
		if got := Checksum(high); got != tt.want {
			t.Errorf("Checksum(%q with the 8th bit set) = %q, want %q", tt.block, got, tt.want)
		}
	}
}

// The worked session's blocks, byte for byte.
func TestEncodeWorkedBlocks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p    Page
		want string
	}{
		{page("1001", "Code Blue 4W Rm 412"), "\x02\x31\x30\x30\x31\x0dCode Blue 4W Rm 412\x0d\x03\x36\x34\x35\x0d"},
		{page("1002", "Lab: K 6.1 Bed 7"), "\x02\x31\x30\x30\x32\x0dLab: K 6.1 Bed 7\x0d\x03\x34\x3c\x3d\x0d"},
		{page("123", "ABC"), "\x02123\rABC\r\x0317;\r"},
		{page("1", "TEST"), "\x021\rTEST\r\x03190\r"},
	}
	for _, tt := range tests {
		blocks, err := EncodePage(tt.p)
		if err != nil {
			t.Fatalf("EncodePage(%s): %v", tt.p.ID, err)
		}
		if len(blocks) != 1 || string(blocks[0]) != tt.want {
			t.Errorf("EncodePage(%s) = %q, want [%q]", tt.p.ID, blocks, tt.want)
		}
	}
}

// The reference's continued field: a block ending US, then the rest.
func TestContinuedFieldVector(t *testing.T) {
	t.Parallel()
	raw := []string{"\x021003\rPart one of a long\x1f731\r", "\x02 message\r\x03317\r"}
	var blocks []Block
	for _, r := range raw {
		b, err := ParseBlock([]byte(r))
		if err != nil {
			t.Fatalf("ParseBlock(%q): %v", r, err)
		}
		blocks = append(blocks, b)
	}
	if blocks[0].Last() || !blocks[1].Last() {
		t.Fatalf("Last() = %v, %v", blocks[0].Last(), blocks[1].Last())
	}
	p, err := AssemblePage(blocks)
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "1003" || p.Text.Reveal() != "Part one of a long message" {
		t.Errorf("page %s %q", p.ID, p.Text.Reveal())
	}
	// Senders that write ETB where a field is cut give the same page.
	etb := "\x021003\rPart one of a long\x17"
	etb += Checksum([]byte(etb)) + "\r"
	b0, err := ParseBlock([]byte(etb))
	if err != nil {
		t.Fatal(err)
	}
	if q, err := AssemblePage([]Block{b0, blocks[1]}); err != nil || q != p {
		t.Errorf("with ETB: %v, %v", q.Text.Reveal(), err)
	}
}

// goldenPages are encoded into testdata/blocks.golden.
var goldenPages = []struct {
	name string
	p    Page
}{
	{"worked 1001", page("1001", "Code Blue 4W Rm 412")},
	{"worked 1002", page("1002", "Lab: K 6.1 Bed 7")},
	{"spec 123", page("123", "ABC")},
	{"tone only, empty text", page("4711", "")},
	{"three fields", page("12", "first\rsecond")},
	{"exactly one full block", page("1", strings.Repeat("a", 247))},
	{"cut inside the text: US", page("1", strings.Repeat("b", 248))},
	{"cut between fields: ETB", page("1", strings.Repeat("c", 247)+"\rd")},
	{"600 characters: US, US, ETX", page("1003", strings.Repeat("0123456789", 60))},
}

func TestEncodeGolden(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	for _, g := range goldenPages {
		blocks, err := EncodePage(g.p)
		if err != nil {
			t.Fatalf("%s: %v", g.name, err)
		}
		fmt.Fprintf(&out, "# %s\n", g.name)
		var parsed []Block
		for _, b := range blocks {
			if len(b) > 256 {
				t.Errorf("%s: block of %d bytes", g.name, len(b))
			}
			fmt.Fprintf(&out, "%q\n", b)
			pb, err := ParseBlock(b)
			if err != nil {
				t.Fatalf("%s: ParseBlock(%q): %v", g.name, b, err)
			}
			parsed = append(parsed, pb)
		}
		if p, err := AssemblePage(parsed); err != nil || p != g.p {
			t.Errorf("%s: round trip gave %s %q, %v", g.name, p.ID, p.Text.Reveal(), err)
		}
	}
	checkGolden(t, "blocks.golden", out.Bytes())
}

// checkGolden compares got with testdata/name, which go test -update
// rewrites.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n%s", golden, got)
	}
}

func TestEncodeInvalidPage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    Page
		want error
	}{
		{"empty ID", page("", "x"), ErrInvalidPage},
		{"long ID", page(strings.Repeat("1", MaxIDLen+1), "x"), ErrInvalidPage},
		{"CR in ID", page("1\r2", "x"), ErrInvalidPage},
		{"ETX in text", page("1", "a\x03b"), ErrInvalidPage},
		{"LF in text", page("1", "a\nb"), ErrInvalidPage},
		{"UTF-8 in text", page("1", "Bett 7 – Zimmer"), ErrInvalidPage},
		{"DEL in text", page("1", "a\x7f"), ErrInvalidPage},
		{"more than 16 blocks", page("1", strings.Repeat("x", MaxBlocks*MaxInfo)), ErrTooLong},
	}
	for _, tt := range tests {
		_, err := EncodePage(tt.p)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
		if err != nil && tt.p.Text.Len() > 3 && strings.Contains(err.Error(), tt.p.Text.Reveal()) {
			t.Errorf("%s: error %q quotes the text", tt.name, err)
		}
	}
}

// malformedBlocks must fail ParseBlock with a clear error, never panic.
var malformedBlocks = []struct {
	name, in string
	want     error
	says     string // in the error text
}{
	{"empty", "", ErrMalformed, "STX"},
	{"no STX", "1001\rText\r\x03ccc\r", ErrMalformed, "STX"},
	{"no end character", "\x021001\rText\r", ErrMalformed, "no end character"},
	{"no checksum", "\x021001\rText\r\x03", ErrMalformed, "0 of 3"},
	{"checksum cut short", "\x021001\rText\r\x0364", ErrMalformed, "2 of 3"},
	{"checksum out of range", "\x021001\rText\r\x036A5\r", ErrMalformed, "not in 0-?"},
	{"wrong checksum", "\x021002\rLab: K 6.1 Bed 7\r\x03645\r", ErrChecksum, `"645"`},
	{"checksum of a changed text", "\x021001\rCode Blue 4W Rm 413\r\x03645\r", ErrChecksum, "sum to"},
	{"STX inside", "\x021001\r\x02Text\r\x03ccc\r", ErrMalformed, "STX inside"},
	{"EOT inside", "\x021001\rTe\x04xt\r\x03ccc\r", ErrMalformed, "0x04"},
	{"LF inside", "\x021001\r\nText\r\x03ccc\r", ErrMalformed, "0x0a"},
	{"ESC inside", "\x021001\r\x1b[p\r\x03ccc\r", ErrMalformed, "0x1b"},
	{"bytes after the checksum", "\x02123\rABC\r\x0317;\r\r", ErrMalformed, "after the checksum"},
	{"next block glued on", "\x02123\rABC\r\x0317;\x02", ErrMalformed, "after the checksum"},
	{"too long", "\x021\r" + strings.Repeat("x", MaxReadInfo) + "\r\x03000\r", ErrTooLong, "longer than"},
}

func TestParseBlockMalformed(t *testing.T) {
	t.Parallel()
	for _, tt := range malformedBlocks {
		_, err := ParseBlock([]byte(tt.in))
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: ParseBlock(%q) = %v, want %v", tt.name, tt.in, err, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%s: error %q does not say %q", tt.name, err, tt.says)
		}
	}
}

func TestParseBlockTolerates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		info     string
		end      byte
	}{
		{"no CR after the checksum", "\x02123\rABC\r\x0317;", "123\rABC\r", etx},
		{"8th bit set", "\x82\xb1\xb2\xb3\x8dABC\x8d\x83\xb1\xb7\xbb\x8d", "123\rABC\r", etx},
		{"ETB", "\x02123\r\x17" + Checksum([]byte("\x02123\r\x17")) + "\r", "123\r", etb},
		{"longer than 250", "\x021\r" + strings.Repeat("y", 400) + "\r\x03" + Checksum([]byte("\x021\r"+strings.Repeat("y", 400)+"\r\x03")), "1\r" + strings.Repeat("y", 400) + "\r", etx},
	}
	for _, tt := range tests {
		b, err := ParseBlock([]byte(tt.in))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if string(b.Info) != tt.info || b.End != tt.end {
			t.Errorf("%s: info %q end %#x", tt.name, b.Info, b.End)
		}
	}
}

func TestAssemblePage(t *testing.T) {
	t.Parallel()
	blk := func(info string, end byte) Block { return Block{Info: []byte(info), End: end} }
	tests := []struct {
		name   string
		blocks []Block
		id     string
		text   string
		err    error
	}{
		{"one block", []Block{blk("1001\rCode Blue\r", etx)}, "1001", "Code Blue", nil},
		{"no final CR", []Block{blk("1001\rCode Blue", etx)}, "1001", "Code Blue", nil},
		{"ID only", []Block{blk("1001\r", etx)}, "1001", "", nil},
		{"fields 2 and 3", []Block{blk("1001\rCode Blue\r4W\r", etx)}, "1001", "Code Blue\r4W", nil},
		{"ETB between fields", []Block{blk("1001\r", etb), blk("Code Blue\r", etx)}, "1001", "Code Blue", nil},
		{"US inside a field", []Block{blk("1001\rCode ", us), blk("Blue\r", etx)}, "1001", "Code Blue", nil},
		{"no blocks", nil, "", "", ErrMalformed},
		{"empty", []Block{blk("", etx)}, "", "", ErrMalformed},
		{"empty ID", []Block{blk("\rtext\r", etx)}, "", "", ErrMalformed},
		{"long ID", []Block{blk(strings.Repeat("9", MaxIDLen+1)+"\rx\r", etx)}, "", "", ErrMalformed},
		{"last block not ETX", []Block{blk("1\rx\r", etb)}, "", "", ErrMalformed},
		{"ETX before the last", []Block{blk("1\r", etx), blk("x\r", etx)}, "", "", ErrMalformed},
		{"DEL in text", []Block{blk("1\rx\x7f\r", etx)}, "", "", ErrMalformed},
		{"too many blocks", repeatBlocks(blk("x", us), MaxBlocks), "", "", ErrTooLong},
	}
	for _, tt := range tests {
		p, err := AssemblePage(tt.blocks)
		if !errors.Is(err, tt.err) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.err)
			continue
		}
		if err == nil && (p.ID != tt.id || p.Text.Reveal() != tt.text) {
			t.Errorf("%s: %s %q, want %s %q", tt.name, p.ID, p.Text.Reveal(), tt.id, tt.text)
		}
	}
}

func repeatBlocks(b Block, n int) []Block {
	out := make([]Block, n+1)
	for i := range n {
		out[i] = b
	}
	out[n] = Block{Info: []byte("\r"), End: etx}
	return out
}

// Formatting a page or a block never shows the text.
func TestRedacted(t *testing.T) {
	t.Parallel()
	p := page("1001", "Code Blue 4W Rm 412")
	b := Block{Info: []byte("1001\rCode Blue 4W Rm 412\r"), End: etx}
	for _, s := range []string{
		fmt.Sprintf("%v %+v %#v %s %q", p, p, p, p, p),
		fmt.Sprintf("%v %+v %#v %s %q %x", b, b, b, b, b, b),
	} {
		if strings.Contains(s, "Code Blue") || strings.Contains(s, "436f6465") {
			t.Errorf("formatted: %s", s)
		}
	}
}
