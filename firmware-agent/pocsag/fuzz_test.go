package pocsag_test

import (
	"errors"
	"strings"
	"testing"

	"pagebridge/firmware-agent/pocsag"
	"pagebridge/firmware-agent/pocsag/pocsagtest"
	"pagebridge/gateway/paging"
)

var sentinels = []error{pocsag.ErrRIC, pocsag.ErrFunction, pocsag.ErrKind, pocsag.ErrCharacter, pocsag.ErrEmpty, pocsag.ErrToneText}

func wrapsSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FuzzEncode: any RIC, function, kind and text gives codewords that
// decode to the same page, or an error wrapping a sentinel; never a panic.
func FuzzEncode(f *testing.F) {
	f.Add(uint32(1234567), uint8(3), uint8(pocsag.Alpha), "Code Blue Rm 402")
	f.Add(uint32(8), uint8(0), uint8(pocsag.Numeric), "5551234")
	f.Add(uint32(555), uint8(2), uint8(pocsag.Tone), "")
	f.Add(uint32(pocsag.MaxRIC), uint8(1), uint8(pocsag.Numeric), "0123456789U -[]()")
	f.Add(uint32(pocsag.MaxRIC+1), uint8(0), uint8(pocsag.Tone), "")
	f.Add(uint32(0x3D44E<<3), uint8(0), uint8(pocsag.Tone), "")
	f.Add(uint32(7), uint8(4), uint8(pocsag.Alpha), "x")
	f.Add(uint32(7), uint8(3), uint8(pocsag.Alpha), "Müller\r\n")
	f.Add(uint32(7), uint8(3), uint8(9), "x")
	f.Add(uint32(3), uint8(3), uint8(pocsag.Alpha), long240)
	f.Fuzz(func(t *testing.T, ric uint32, fn, kind uint8, s string) {
		p := pocsag.Page{RIC: ric, Function: pocsag.Function(fn), Kind: pocsag.Kind(kind), Text: paging.NewPHI(s)}
		words, err := p.Codewords()
		n, lerr := p.Len()
		if (err == nil) != (lerr == nil) || err == nil && n != len(words) {
			t.Fatalf("Codewords: %d words, %v; Len: %d, %v", len(words), err, n, lerr)
		}
		for _, r := range pocsag.Rates {
			_, eerr := pocsag.Encode(r, p)
			if (err == nil) != (eerr == nil) {
				t.Fatalf("Codewords error %v, Encode error %v", err, eerr)
			}
		}
		if err != nil {
			if !wrapsSentinel(err) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			if len(s) > 3 && strings.Contains(err.Error(), s) {
				t.Fatalf("error quotes the text")
			}
			return
		}
		tx, _ := pocsag.Encode(pocsag.Rate1200, p)
		msgs, derr := pocsagtest.Decode(tx.Bits())
		if derr != nil {
			t.Fatalf("decode: %v", derr)
		}
		if len(msgs) != 1 || !msgs[0].Terminated || msgs[0].RIC != ric || msgs[0].Function != p.Function {
			t.Fatalf("decoded %+v, sent RIC %d function %d", msgs, ric, fn)
		}
		if got, want := text(t, msgs[0], p.Kind), canonical(p); got != want {
			t.Fatalf("decoded %q, sent %q", got, want)
		}
		if len(msgs[0].Payload) != len(words)-1 {
			t.Fatalf("%d message codewords decoded, %d sent", len(msgs[0].Payload), len(words)-1)
		}
	})
}

// FuzzPack: any set of valid pages packed behind one preamble decodes to
// the same pages, each address in its frame and ended.
func FuzzPack(f *testing.F) {
	f.Add([]byte{0x12, 0xd6, 0x87, 0x03, 5, 'h', 'e', 'l', 'l', 'o', 0x00, 0x00, 0x08, 0x04, 3, '5', '5', '5'})
	f.Add([]byte{0xff, 0xff, 0xff, 0x0b, 40, 'x'})
	f.Add([]byte{0, 0, 7, 0, 0, 0, 0, 6, 0, 0, 0, 0, 5, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var pages []pocsag.Page
		for len(data) >= 5 && len(pages) < 64 {
			ric := (uint32(data[0])<<16 | uint32(data[1])<<8 | uint32(data[2])) & pocsag.MaxRIC
			p := pocsag.Page{RIC: ric, Function: pocsag.Function(data[3] & 3), Kind: pocsag.Kind(data[3] >> 2 % 3)}
			n := int(data[4])
			data = data[5:]
			if p.Kind != pocsag.Tone {
				b := make([]byte, n+1)
				for i := range b {
					c := byte('0')
					if i < len(data) {
						c = data[i]
					}
					if p.Kind == pocsag.Numeric {
						b[i] = "0123456789U -[]"[c%15]
					} else {
						b[i] = ' ' + c%95
					}
				}
				p.Text = paging.NewPHI(string(b))
				data = data[min(n, len(data)):]
			}
			if p.Validate() != nil {
				continue // the reserved RICs
			}
			pages = append(pages, p)
		}
		for _, r := range pocsag.Rates {
			tx, err := pocsag.Encode(r, pages...)
			if err != nil {
				t.Fatal(err)
			}
			checkDecoded(t, tx, pages)
		}
	})
}
