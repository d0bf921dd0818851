package smspdu

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warthog618/sms/encoding/tpdu"

	"pagebridge/gateway/paging"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs; got:\n%s", path, got)
	}
}

func mustEncoder(t testing.TB, opts ...Option) *Encoder {
	t.Helper()
	e, err := NewEncoder(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func mustAddress(t testing.TB, s string) Address {
	t.Helper()
	a, err := ParseAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestSubmitGolden pins the PDUs of fixed messages (first reference 0x42,
// a fresh encoder each, so TP-MR starts at 1).
func TestSubmitGolden(t *testing.T) {
	cases := []struct {
		name string
		opts []Option
		to   string
		text string
		pri  paging.Priority
	}{
		{"gsm7 international, critical", nil, "+4917012345678", "CODE BLUE 4W Rm 412", paging.PriorityCritical},
		{"gsm7 national, normal, no report", []Option{WithStatusReport(false)}, "0170123456", "Call ext 5521", paging.PriorityNormal},
		{"gsm7 short code, high", nil, "80888", "ACK", paging.PriorityHigh},
		{"extension characters", nil, "+4917012345678", gsmExt, paging.PriorityNormal},
		{"ucs2", nil, "+79161234567", "Палата 4 🚨", paging.PriorityHigh},
		{"gsm7 two parts", nil, "+4917012345678", strings.Repeat("0123456789", 16) + "X", paging.PriorityNormal},
		{"ucs2 two parts", nil, "+79161234567", strings.Repeat("ж", 71), paging.PriorityNormal},
		{"turkish locking table", []Option{WithLanguages(LanguageTurkish)}, "+905321234567", "Ağır hasta, oda 3", paging.PriorityNormal},
		{"named service centre, 10 min", []Option{WithSMSC(Address{TONInternational, "4917200000"}), WithValidity(paging.PriorityNormal, 10*time.Minute)}, "+4917012345678", "vp", paging.PriorityNormal},
	}
	var out bytes.Buffer
	for _, c := range cases {
		e := mustEncoder(t, append([]Option{WithFirstRef(0x42)}, c.opts...)...)
		s, err := e.Encode(mustAddress(t, c.to), paging.NewPHI(c.text), c.pri)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		fmt.Fprintf(&out, "# %s: %v, ref %d\n", c.name, s.Coding, s.Ref)
		for _, p := range s.Parts {
			fmt.Fprintf(&out, "AT+CMGS=%d %s\n", p.Length, p.PDU)
		}
	}
	checkGolden(t, "submit.golden", out.Bytes())
}

// decodeSubmit reads back an SMS-SUBMIT this package built, with the sms
// package's decoder (the independent check is gammu's, in oracle_test).
func decodeSubmit(t *testing.T, p Part) *tpdu.TPDU {
	t.Helper()
	b, err := decodeHex(p.PDU)
	if err != nil {
		t.Fatal(err)
	}
	n := int(b[0]) + 1
	var tp tpdu.TPDU
	tp.Direction = tpdu.MO
	if err := tp.UnmarshalBinary(b[n:]); err != nil {
		t.Fatal(err)
	}
	if len(b)-n != p.Length {
		t.Fatalf("Length %d, TPDU %d octets", p.Length, len(b)-n)
	}
	return &tp
}

func TestNationalTablesRoundTrip(t *testing.T) {
	// gammu does not apply national tables (see Caveats); this checks that
	// the UDH names the table and the text comes back through sms.Decode.
	cases := []struct {
		lang          Language
		text          string
		locking, shif bool
	}{
		{LanguageTurkish, "Ağır hasta, oda 3", true, false},
		{LanguageSpanish, "Habitación ç", false, true},
		{LanguagePortuguese, "Atenção, paciente", true, false},
	}
	for _, c := range cases {
		e := mustEncoder(t, WithLanguages(c.lang))
		s, err := e.Encode(mustAddress(t, "+34600000000"), paging.NewPHI(c.text), paging.PriorityNormal)
		if err != nil {
			t.Fatal(err)
		}
		if s.Coding != CodingGSM7 {
			t.Errorf("%d: coding %v", c.lang, s.Coding)
			continue
		}
		tp := decodeSubmit(t, s.Parts[0])
		l, hasL := tp.UDH.IE(25)
		sh, hasS := tp.UDH.IE(24)
		if hasL != c.locking || hasS != c.shif || (hasL && int(l.Data[0]) != int(c.lang)) || (hasS && int(sh.Data[0]) != int(c.lang)) {
			t.Errorf("%d: UDH %v", c.lang, tp.UDH)
		}
		text, _, err := decodeText([]*tpdu.TPDU{tp})
		if err != nil || string(text) != c.text {
			t.Errorf("%d: round trip failed (%v)", c.lang, err)
		}
		// Without the option the same text goes as UCS-2.
		plain, err := mustEncoder(t).Encode(mustAddress(t, "+34600000000"), paging.NewPHI(c.text), paging.PriorityNormal)
		if err != nil || plain.Coding != CodingUCS2 {
			t.Errorf("%d without languages: %v %v", c.lang, plain.Coding, err)
		}
	}
}

func TestConcatRefsAdvance(t *testing.T) {
	e := mustEncoder(t, WithFirstRef(254))
	to := mustAddress(t, "+4917012345678")
	long := paging.NewPHI(strings.Repeat("x", 200))
	var refs []int
	for i := 0; i < 3; i++ {
		if i == 1 { // a single part in between takes no reference
			s, err := e.Encode(to, paging.NewPHI("short"), paging.PriorityNormal)
			if err != nil || s.Ref != -1 {
				t.Fatalf("single part: ref %d, %v", s.Ref, err)
			}
		}
		s, err := e.Encode(to, long, paging.PriorityNormal)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range s.Parts {
			_, _, ref, ok := decodeSubmit(t, p).UDH.ConcatInfo8()
			if !ok || ref != s.Ref {
				t.Fatalf("part %d carries ref %d, Submit says %d", p.Seq, ref, s.Ref)
			}
		}
		refs = append(refs, s.Ref)
	}
	if fmt.Sprint(refs) != "[254 255 0]" {
		t.Errorf("refs %v, want [254 255 0]", refs)
	}
	// Random starts: 20 encoders all starting alike would be a broken seed.
	seen := map[int]bool{}
	for i := 0; i < 20; i++ {
		s, err := mustEncoder(t).Encode(to, long, paging.PriorityNormal)
		if err != nil {
			t.Fatal(err)
		}
		seen[s.Ref] = true
	}
	if len(seen) < 2 {
		t.Errorf("20 new encoders all started at reference %v", seen)
	}
}

func TestEncodeRefuses(t *testing.T) {
	e := mustEncoder(t, WithMaxParts(2))
	to := mustAddress(t, "+4917012345678")
	secret := "SECRET-" + strings.Repeat("Z", 400)
	cases := []struct {
		name string
		to   Address
		text string
		pri  paging.Priority
		want error
	}{
		{"empty", to, "", paging.PriorityNormal, ErrEmptyText},
		{"3 parts over 2", to, secret, paging.PriorityNormal, ErrTooLong},
		{"priority", to, "x", paging.Priority(9), ErrPriority},
		{"no digits", Address{}, "x", paging.PriorityNormal, ErrInvalidAddress},
		{"alphanumeric", Address{TONAlphanumeric, "Hospital"}, "x", paging.PriorityNormal, ErrInvalidAddress},
		{"non-digit", Address{TONUnknown, "12a4"}, "x", paging.PriorityNormal, ErrInvalidAddress},
	}
	for _, c := range cases {
		_, err := e.Encode(c.to, paging.NewPHI(c.text), c.pri)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%s: error quotes the text: %v", c.name, err)
		}
	}
	// 2 parts are the limit, not over it.
	if s, err := e.Encode(to, paging.NewPHI(strings.Repeat("y", 306)), paging.PriorityNormal); err != nil || len(s.Parts) != 2 {
		t.Errorf("306 characters: %d parts, %v", len(s.Parts), err)
	}
}

func TestOptionsRefused(t *testing.T) {
	for name, o := range map[string]Option{
		"validity 5 min":     WithValidity(paging.PriorityHigh, 5*time.Minute),
		"validity 64 weeks":  WithValidity(paging.PriorityHigh, MaxValidity+time.Minute),
		"validity priority":  WithValidity(paging.Priority(3), time.Hour),
		"parts 0":            WithMaxParts(0),
		"parts 256":          WithMaxParts(256),
		"language 0":         WithLanguages(0),
		"language 14":        WithLanguages(14),
		"smsc alphanumeric":  WithSMSC(Address{TONAlphanumeric, "x"}),
		"smsc not digits":    WithSMSC(Address{TONUnknown, "+49"}),
		"smsc over 20 digit": WithSMSC(Address{TONUnknown, strings.Repeat("1", 21)}),
	} {
		if _, err := NewEncoder(o); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestRelativeVP checks the TP-VP arithmetic against sms's encoder for
// every value the octet has (but 0, which sms gets wrong: see Caveats).
func TestRelativeVP(t *testing.T) {
	for o := 0; o <= 255; o++ {
		d := relativeVPDuration(byte(o))
		if got := relativeVPOctet(d); got != byte(o) {
			t.Errorf("octet %d: %v back to %d", o, d, got)
		}
		if got := relativeVPOctet(d - time.Second); o > 0 && got != byte(o) {
			t.Errorf("octet %d: %v rounds to %d, want up to %d", o, d-time.Second, got, o)
		}
		if o == 0 {
			continue
		}
		var vp tpdu.ValidityPeriod
		vp.SetRelative(d)
		b, err := vp.MarshalBinary()
		if err != nil || len(b) != 1 || b[0] != byte(o) {
			t.Errorf("octet %d (%v): sms encodes %x, %v", o, d, b, err)
		}
	}
}

func TestParseAddress(t *testing.T) {
	ok := []struct {
		in   string
		want Address
	}{
		{"+4917012345678", Address{TONInternational, "4917012345678"}},
		{"+49 170 123-45.678", Address{TONInternational, "4917012345678"}},
		{"+1 (555) 010-9999", Address{TONInternational, "15550109999"}},
		{"0170123456", Address{TONUnknown, "0170123456"}},
		{"004917012345678", Address{TONUnknown, "004917012345678"}},
		{"112", Address{TONUnknown, "112"}},
		{"80888", Address{TONUnknown, "80888"}},
		{"+" + strings.Repeat("9", 15), Address{TONInternational, strings.Repeat("9", 15)}},
		{strings.Repeat("1", 20), Address{TONUnknown, strings.Repeat("1", 20)}},
	}
	for _, c := range ok {
		got, err := ParseAddress(c.in)
		if err != nil || got != c.want {
			t.Errorf("%q: %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "+", " - ", "+049170", "+" + strings.Repeat("9", 16), strings.Repeat("1", 21), "0170x123", "49+170", "Hospital", "*100#", "0170\x00"} {
		if a, err := ParseAddress(in); !errors.Is(err, ErrInvalidAddress) {
			t.Errorf("%q: %+v, %v; want ErrInvalidAddress", in, a, err)
		}
	}
	if !mustAddress(t, "80888").IsShortCode() || mustAddress(t, "0170123456").IsShortCode() || mustAddress(t, "+4912").IsShortCode() {
		t.Error("IsShortCode")
	}
	if s := mustAddress(t, "+44 20").String(); s != "+4420" {
		t.Errorf("String %q", s)
	}
}

// TestConcurrentEncoding runs encoders (one per modem, and one shared)
// and the decoders from many goroutines at once; under -race it fails if
// sms's lazily built tables were not built before.
func TestConcurrentEncoding(t *testing.T) {
	shared := mustEncoder(t, WithLanguages(LanguageTurkish, LanguagePortuguese))
	texts := []string{"CODE BLUE", gsmExt, "Ağır hasta", "Atenção", "Палата 🚨", strings.Repeat("long ", 50)}
	to := mustAddress(t, "+4917012345678")
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own, err := NewEncoder(WithLanguages(LanguageSpanish, LanguageTurkish))
			if err != nil {
				errs <- err
				return
			}
			for i := 0; i < 30; i++ {
				e := own
				if i%2 == 0 {
					e = shared
				}
				text := texts[(g+i)%len(texts)]
				s, err := e.Encode(to, paging.NewPHI(text), paging.PriorityNormal)
				if err != nil {
					errs <- err
					return
				}
				if _, err := DecodeStatusReport(statusReports[i%len(statusReports)].pdu); err != nil {
					errs <- err
					return
				}
				for _, p := range s.Parts {
					if _, err := DecodeDeliver(p.PDU); !errors.Is(err, ErrWrongType) && !errors.Is(err, ErrMalformed) {
						// a SUBMIT read as mobile-terminated is SUBMIT-REPORT
						errs <- fmt.Errorf("decode of a submit: %v", err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
