package tap

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"pagebridge/gateway/paging"
)

// blockSeeds are blocks from the reference's transcripts and the tests.
var blockSeeds = []string{
	"\x021001\rCode Blue 4W Rm 412\r\x03645\r",
	"\x021002\rLab: K 6.1 Bed 7\r\x034<=\r",
	"\x02123\rABC\r\x0317;\r",
	"\x021\rTEST\r\x03190\r",
	"\x021003\rPart one of a long\x1f731\r",
	"\x02 message\r\x03317\r",
	"\x024711\r\r\x030><\r",
}

// FuzzParseBlock: any input gives a block or a sentinel error, never a
// panic; a block that parses is exactly what EncodePage would write for
// its contents (8th bit cleared, CR after the checksum).
func FuzzParseBlock(f *testing.F) {
	for _, s := range blockSeeds {
		f.Add([]byte(s))
	}
	for _, m := range malformedBlocks {
		f.Add([]byte(m.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := ParseBlock(in)
		nb, nerr := ParseBlockNoChecksum(in)
		switch {
		case err == nil && (nerr != nil || !reflect.DeepEqual(nb, b)):
			t.Fatalf("ParseBlockNoChecksum(%q) = %v, %v; ParseBlock took it", in, nb, nerr)
		case err != nil && nerr == nil:
			// Taken only without a checksum: nothing but CR may follow
			// the end character.
			if tail := in[len(nb.Info)+2:]; len(tail) > 1 || len(tail) == 1 && tail[0]&0x7f != cr {
				t.Fatalf("ParseBlockNoChecksum(%q) took a block with %q after its end", in, tail)
			}
		case err != nil && errors.Is(err, ErrChecksum) && !errors.Is(nerr, ErrChecksum):
			t.Fatalf("ParseBlockNoChecksum(%q) = %v, want the checksum error", in, nerr)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrChecksum) && !errors.Is(err, ErrTooLong) {
				t.Fatalf("ParseBlock(%q): error %v wraps no sentinel", in, err)
			}
			return
		}
		want := make([]byte, len(in))
		for i, c := range in {
			want[i] = c & 0x7f
		}
		if want[len(want)-1] != cr {
			want = append(want, cr)
		}
		if got := encodeBlock(b.Info, b.End); !bytes.Equal(got, want) {
			t.Fatalf("ParseBlock(%q) re-encodes to %q", in, got)
		}
	})
}

// FuzzParseReply: any input gives a reply or ErrIncomplete/ErrTooLong; a
// reply is normalised: encoding it and parsing again gives the same reply
// and takes all of the encoding.
func FuzzParseReply(f *testing.F) {
	for _, s := range []string{
		"ID=\r", "110 1.8\r\x06\r\x1b[p\r", "211 Page(s) Sent Successfully\r\x06\r", "514 …\r\x15\r",
		"115 Goodbye\r\x1b\x04\r", "511 Invalid Pager ID\r\x1e\r", "Processing-Please Wait\r\x06\r",
		"211\r\x06\r", "\n211 Sent\r\n\x06\r\n", "\xb2\xb1\xb1\x8d\x86\x8d", "\x1b\r", "000\r\x06\r",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r, n, err := ParseReply(in)
		if err != nil {
			if !errors.Is(err, ErrIncomplete) && !errors.Is(err, ErrTooLong) {
				t.Fatalf("ParseReply(%q): %v", in, err)
			}
			return
		}
		if n <= 0 || n > len(in) || r.Action == NoAction {
			t.Fatalf("ParseReply(%q) = %+v, %d", in, r, n)
		}
		if r2, n2, err := ParseReply(in[:n]); err != nil || n2 != n || !reflect.DeepEqual(r2, r) {
			t.Fatalf("ParseReply(%q) = %+v but its first %d bytes give %+v, %d, %v", in, r, n, r2, n2, err)
		}
		enc := EncodeReply(r)
		r2, n2, err := ParseReply(enc)
		if err != nil || n2 != len(enc) || !reflect.DeepEqual(r2, r) {
			t.Fatalf("ParseReply(%q) = %+v, encoded %q, parsed again %+v, %d, %v", in, r, enc, r2, n2, err)
		}
	})
}

// FuzzRoundTrip: a page EncodePage takes comes back whole from ParseBlock
// and AssemblePage, in blocks of at most 256 bytes.
func FuzzRoundTrip(f *testing.F) {
	f.Add("1001", "Code Blue 4W Rm 412")
	f.Add("1003", "Part one of a long message")
	f.Add("1", string(bytes.Repeat([]byte("0123456789"), 60)))
	f.Add("12", "first\rsecond\r")
	f.Add("4711", "")
	f.Fuzz(func(t *testing.T, id, text string) {
		p := Page{ID: id, Text: paging.NewPHI(text)}
		blocks, err := EncodePage(p)
		if err != nil {
			if !errors.Is(err, ErrInvalidPage) && !errors.Is(err, ErrTooLong) {
				t.Fatalf("EncodePage: %v", err)
			}
			return
		}
		var parsed []Block
		for i, raw := range blocks {
			if len(raw) > 256 {
				t.Fatalf("block %d of %d bytes", i, len(raw))
			}
			b, err := ParseBlock(raw)
			if err != nil {
				t.Fatalf("block %d %q: %v", i, raw, err)
			}
			if b.Last() != (i == len(blocks)-1) {
				t.Fatalf("block %d of %d ends %#x", i, len(blocks), b.End)
			}
			parsed = append(parsed, b)
		}
		got, err := AssemblePage(parsed)
		if err != nil || got != p {
			t.Fatalf("page %q %q came back as %q %q, %v", id, text, got.ID, got.Text.Reveal(), err)
		}
	})
}
