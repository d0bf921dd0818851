package espa

import (
	"errors"
	"reflect"
	"testing"
)

// FuzzDecodeBlock: any input gives a block or an error wrapping a
// sentinel, never a panic. A block that decodes encodes to bytes that
// decode to the same block; a call or status read out of it survives
// Encode and decoding again, in both dialects.
func FuzzDecodeBlock(f *testing.F) {
	for _, v := range referenceVectors {
		f.Add(append(unhex(f, v.block), v.bcc))
	}
	for _, m := range malformedBlocks {
		f.Add([]byte(m.in))
	}
	f.Add([]byte(withBCC("\x011\x02 1\x1f1001\x1e2\x1fK\xfcche\x1e3\x1f2\x1e5\x1f03\x1eD\x1f7\x1e\x03")))
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := DecodeBlock(in)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBCC) && !errors.Is(err, ErrTooLong) {
				t.Fatalf("DecodeBlock(%q): error %v wraps no sentinel", in, err)
			}
			return
		}
		raw, err := EncodeBlock(b)
		if err != nil {
			t.Fatalf("EncodeBlock(DecodeBlock(%q)): %v", in, err)
		}
		again, err := DecodeBlock(raw)
		if err != nil || !reflect.DeepEqual(again, b) {
			t.Fatalf("block %q: re-encoded %q decodes to %v, %v", in, raw, again.Records, err)
		}
		for _, d := range []Dialect{Standard, Ascom} {
			if c, err := DecodeCall(b, d); err == nil {
				enc, err := c.Encode(d)
				if err != nil {
					t.Fatalf("call of %q (%v): Encode: %v", in, d, err)
				}
				cb, _ := DecodeBlock(enc)
				c2, err := DecodeCall(cb, d)
				if err != nil || !reflect.DeepEqual(c2, c) || c2.Text.Reveal() != c.Text.Reveal() {
					t.Fatalf("call of %q (%v) does not survive the round trip: %#v, %v", in, d, c2, err)
				}
			} else if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLong) {
				t.Fatalf("DecodeCall(%q): error %v wraps no sentinel", in, err)
			}
			if s, err := DecodeStatus(b, d); err == nil {
				enc, err := s.Encode(d)
				if err != nil {
					t.Fatalf("status of %q (%v): Encode: %v", in, d, err)
				}
				sb, _ := DecodeBlock(enc)
				if s2, err := DecodeStatus(sb, d); err != nil || !reflect.DeepEqual(s2, s) {
					t.Fatalf("status of %q (%v) does not survive the round trip: %#v, %v", in, d, s2, err)
				}
			}
		}
	})
}

// FuzzLexer: any byte stream is cut into tokens without a panic; every
// block token starts with SOH, has ETX right before its last byte and is
// at most MaxBlockLen+1 bytes; a stream that is one valid block followed
// by anything gives that block first.
func FuzzLexer(f *testing.F) {
	f.Add([]byte("\x041\x052\x05"), []byte{})
	f.Add([]byte("\x042\x05"), []byte("\x06\x01"))
	for _, v := range referenceVectors {
		f.Add(append(unhex(f, v.block), v.bcc), []byte("\x04"))
	}
	f.Fuzz(func(t *testing.T, noise, tail []byte) {
		var l lexer
		for _, c := range append(append([]byte(nil), noise...), tail...) {
			if tok, ok := l.feed(c); ok && tok.kind == tokBlock {
				n := len(tok.raw)
				if n < 3 || tok.raw[0] != SOH || tok.raw[n-2] != ETX || n > MaxBlockLen+1 {
					t.Fatalf("block token %q", tok.raw)
				}
			}
		}
		block := []byte(withBCC("\x011\x021\x1f1001\x03"))
		l = lexer{}
		var got []token
		for _, c := range append(block, tail...) {
			if tok, ok := l.feed(c); ok {
				got = append(got, tok)
			}
		}
		if len(got) == 0 || got[0].kind != tokBlock || string(got[0].raw) != string(block) {
			t.Fatalf("block then %q: first token %+v", tail, got)
		}
	})
}
