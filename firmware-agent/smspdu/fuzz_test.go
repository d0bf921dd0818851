package smspdu

import (
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzDecodeDeliver runs the inbound parsers (DecodeDeliver,
// DecodeStatusReport, CheckLength) and the Reassembler on any PDU (the
// fuzzer's octets, in hex as a modem gives them; bad hex is the malformed
// table's): no panic, every error one of the package's kinds, and what
// decodes keeps the promises of the types.
func FuzzDecodeDeliver(f *testing.F) {
	seed := func(h string) {
		if b, err := hex.DecodeString(h); err == nil {
			f.Add(b)
		}
	}
	seed(deliverPDU)
	for _, c := range statusReports {
		seed(c.pdu)
	}
	for _, c := range malformed {
		seed(c.pdu)
	}
	if b, err := os.ReadFile("testdata/submit.golden"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if _, pdu, ok := strings.Cut(l, " "); ok && strings.HasPrefix(l, "AT+CMGS") {
				seed(pdu)
			}
		}
	}
	seed(del("44", "08", "0B"+"0608041234"+"0302"+"00410042"))
	seed(del("44", "00", "A0"+"050003420201"+strings.Repeat("C3", 133)))
	f.Fuzz(func(t *testing.T, raw []byte) {
		pdu := hex.EncodeToString(raw)
		known := func(err error) bool {
			return errors.Is(err, ErrMalformed) || errors.Is(err, ErrWrongType) || errors.Is(err, ErrUnsupported)
		}
		d, err := DecodeDeliver(pdu)
		switch {
		case err != nil && !known(err):
			t.Fatalf("DecodeDeliver: unclassified error %v", err)
		case err == nil:
			c := d.Concat
			if c.Total != 0 && (c.Seq < 1 || c.Seq > c.Total) || c.Ref < 0 || c.Ref > 0xFFFF || (!c.Ref16 && c.Ref > 0xFF) {
				t.Fatalf("concat %+v", c)
			}
			if d.Coding != Coding8Bit && !utf8.ValidString(d.Text.Reveal()) {
				t.Fatal("text is not UTF-8")
			}
			r := NewReassembler(time.Minute, func() time.Time { return time.Unix(0, 0) })
			if _, complete, err := r.Add(d); err != nil || complete != (c.Total <= 1) {
				t.Fatalf("Add: complete %v, %v", complete, err)
			}
			if c.Total > 1 {
				if _, _, err := r.Add(d); !errors.Is(err, ErrDuplicatePart) {
					t.Fatalf("Add again: %v", err)
				}
			}
		}
		sr, err := DecodeStatusReport(pdu)
		switch {
		case err != nil && !known(err):
			t.Fatalf("DecodeStatusReport: unclassified error %v", err)
		case err == nil && (sr.Outcome != Classify(sr.Status) || sr.MR < 0 || sr.MR > 255):
			t.Fatalf("%+v", sr)
		}
		if err := CheckLength(pdu, len(pdu)); err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrLength) {
			t.Fatalf("CheckLength: %v", err)
		}
	})
}
