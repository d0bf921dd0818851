package pocsag

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"pagebridge/gateway/paging"
)

// TestReferenceVectors holds the encoder to the worked vectors of
// paging-protocols.md §5.
func TestReferenceVectors(t *testing.T) {
	for _, cw := range []uint32{Sync, Idle} {
		if !Valid(cw) || seal(cw) != cw {
			t.Errorf("BCH does not regenerate %08x: seal gives %08x", cw, seal(cw))
		}
	}
	for _, c := range []struct {
		ric  uint32
		fn   Function
		want uint32
	}{
		{1234567, 3, 0x4B5A1A25},
		{8, 0, 0x000026EC},
	} {
		got, err := Address(c.ric, c.fn)
		if err != nil || got != c.want {
			t.Errorf("Address(%d, %d) = %08x, %v; want %08x", c.ric, c.fn, got, err, c.want)
		}
	}
	p := Page{RIC: 8, Kind: Numeric, Text: paging.NewPHI("5551234")}
	w, err := p.Codewords()
	if err != nil {
		t.Fatal(err)
	}
	if len(w) != 3 || w[1] != 0xD55423E6 || w[2] != 0xE1199ED7 {
		t.Errorf("numeric 5551234 = %08x, want [address d55423e6 e1199ed7]", w)
	}
}

// TestCodewordsValid: every codeword of every kind passes the BCH and
// parity check, and the flag bit tells address from message.
func TestCodewordsValid(t *testing.T) {
	pages := []Page{
		{RIC: 0, Kind: Tone},
		{RIC: MaxRIC, Function: 2, Kind: Numeric, Text: paging.NewPHI("0123456789U -[]()")},
		{RIC: 1234567, Function: 3, Kind: Alpha, Text: paging.NewPHI("Code Blue Rm 402\r\n~{}|")},
	}
	for _, p := range pages {
		w, err := p.Codewords()
		if err != nil {
			t.Fatal(err)
		}
		n, _ := p.Len()
		if n != len(w) {
			t.Errorf("%v page: Len %d, Codewords %d", p.Kind, n, len(w))
		}
		for i, cw := range w {
			if !Valid(cw) {
				t.Errorf("%v page codeword %d %08x invalid", p.Kind, i, cw)
			}
			if (cw>>31 == 0) != (i == 0) {
				t.Errorf("%v page codeword %d %08x: wrong flag bit", p.Kind, i, cw)
			}
		}
	}
}

// TestValidRejectsBitErrors: one or two flipped bits make a codeword
// invalid (the code's distance with parity is 6).
func TestValidRejectsBitErrors(t *testing.T) {
	for _, cw := range []uint32{Sync, Idle, 0x4B5A1A25, 0xD55423E6} {
		for i := range 32 {
			if Valid(cw ^ 1<<i) {
				t.Errorf("%08x with bit %d flipped passes", cw, i)
			}
			for j := i + 1; j < 32; j++ {
				if Valid(cw ^ 1<<i ^ 1<<j) {
					t.Errorf("%08x with bits %d and %d flipped passes", cw, i, j)
				}
			}
		}
	}
}

// malformedPages must each give their error, never codewords.
var malformedPages = []struct {
	name string
	page Page
	want error
	msg  string // part of the error text
}{
	{"RIC above 21 bits", Page{RIC: MaxRIC + 1, Kind: Tone}, ErrRIC, "2097152 is above 2097151"},
	{"RIC far out", Page{RIC: 1 << 31, Kind: Tone}, ErrRIC, ""},
	{"RIC sending idle", Page{RIC: 0x3D44E<<3 | 5, Kind: Tone}, ErrRIC, "idle codeword"},
	{"RIC sending sync", Page{RIC: 0x3E690 << 3, Function: 2, Kind: Tone}, ErrRIC, "sync codeword"},
	{"function 4", Page{RIC: 8, Function: 4, Kind: Tone}, ErrFunction, "4"},
	{"function 255", Page{RIC: 8, Function: 255, Kind: Alpha, Text: paging.NewPHI("x")}, ErrFunction, ""},
	{"unknown kind", Page{RIC: 8, Kind: 3, Text: paging.NewPHI("x")}, ErrKind, ""},
	{"tone with text", Page{RIC: 8, Kind: Tone, Text: paging.NewPHI("x")}, ErrToneText, ""},
	{"empty numeric", Page{RIC: 8, Kind: Numeric}, ErrEmpty, ""},
	{"empty alpha", Page{RIC: 8, Kind: Alpha}, ErrEmpty, ""},
	{"numeric letter", Page{RIC: 8, Kind: Numeric, Text: paging.NewPHI("12a4")}, ErrCharacter, "numeric character 3"},
	{"numeric dot", Page{RIC: 8, Kind: Numeric, Text: paging.NewPHI(".")}, ErrCharacter, "character 1"},
	{"numeric lower u", Page{RIC: 8, Kind: Numeric, Text: paging.NewPHI("12u")}, ErrCharacter, "character 3"},
	{"alpha umlaut", Page{RIC: 8, Kind: Alpha, Text: paging.NewPHI("Müller")}, ErrCharacter, "alphanumeric character 2"},
	{"alpha NUL", Page{RIC: 8, Kind: Alpha, Text: paging.NewPHI("a\x00b")}, ErrCharacter, "character 2"},
	{"alpha tab", Page{RIC: 8, Kind: Alpha, Text: paging.NewPHI("a\tb")}, ErrCharacter, ""},
	{"alpha DEL", Page{RIC: 8, Kind: Alpha, Text: paging.NewPHI("\x7f")}, ErrCharacter, ""},
	{"alpha 8-bit", Page{RIC: 8, Kind: Alpha, Text: paging.NewPHI("\xff")}, ErrCharacter, ""},
}

func TestMalformedPages(t *testing.T) {
	for _, c := range malformedPages {
		t.Run(c.name, func(t *testing.T) {
			w, err := c.page.Codewords()
			if !errors.Is(err, c.want) || w != nil {
				t.Fatalf("Codewords = %08x, %v; want %v", w, err, c.want)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not say %q", err, c.msg)
			}
			if verr := c.page.Validate(); !errors.Is(verr, c.want) {
				t.Errorf("Validate = %v, want %v", verr, c.want)
			}
			if _, lerr := c.page.Len(); !errors.Is(lerr, c.want) {
				t.Errorf("Len = %v, want %v", lerr, c.want)
			}
			if _, eerr := Encode(Rate1200, Page{RIC: 16, Kind: Tone}, c.page); !errors.Is(eerr, c.want) || !strings.Contains(eerr.Error(), "page 2") {
				t.Errorf("Encode = %v, want %v naming page 2", eerr, c.want)
			}
			if s := c.page.Text.Reveal(); len(s) > 1 && strings.Contains(err.Error(), s) {
				t.Errorf("error %q quotes the text", err)
			}
		})
	}
}

// TestReservedRICs: only the RIC and function pairs whose address
// codeword is the idle or sync codeword are refused.
func TestReservedRICs(t *testing.T) {
	refused := 0
	for ric := uint32(0); ric <= MaxRIC; ric++ {
		for fn := range Function(4) {
			if _, err := Address(ric, fn); err != nil {
				refused++
			}
		}
	}
	if refused != 16 { // 8 frames × (idle with function 0, sync with function 2)
		t.Errorf("%d RIC and function pairs refused, want 16", refused)
	}
}

func TestParseRateAndKind(t *testing.T) {
	for _, r := range Rates {
		got, err := ParseRate(r.String())
		if err != nil || got != r {
			t.Errorf("ParseRate(%s) = %v, %v", r, got, err)
		}
	}
	for _, s := range []string{"", "600", "1200bps", "-512"} {
		if _, err := ParseRate(s); !errors.Is(err, ErrRate) {
			t.Errorf("ParseRate(%q) = %v, want ErrRate", s, err)
		}
	}
	for k := range Kind(3) {
		got, err := ParseKind(k.String())
		if err != nil || got != k {
			t.Errorf("ParseKind(%s) = %v, %v", k, got, err)
		}
	}
	if _, err := ParseKind("Alpha"); !errors.Is(err, ErrKind) {
		t.Errorf("ParseKind(Alpha) = %v", err)
	}
	if s := Kind(9).String(); s != "kind(9)" {
		t.Errorf("Kind(9) = %s", s)
	}
}

func TestASCII(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Code Blue Rm 402", "Code Blue Rm 402"},
		{"Müller, Straße 5", "Mueller, Strasse 5"},
		{"Café – “Bett 3”…", "Cafe - \"Bett 3\"..."},
		{"a\tb\x00c\x7f", "a b?c?"},
		{"Пациент", "???????"},
		{"bad \xff utf8", "bad ? utf8"},
		{"line\r\nnext", "line\r\nnext"},
	} {
		got := ASCII(paging.NewPHI(c.in)).Reveal()
		if got != c.want {
			t.Errorf("ASCII(%q) = %q, want %q", c.in, got, c.want)
		}
		if err := (Page{RIC: 8, Kind: Alpha, Text: paging.NewPHI(got)}).Validate(); err != nil {
			t.Errorf("ASCII(%q) does not encode: %v", c.in, err)
		}
	}
}

func ExampleEncode() {
	t, err := Encode(Rate1200,
		Page{RIC: 1234567, Function: 3, Kind: Alpha, Text: paging.NewPHI("Code Blue Rm 402")},
		Page{RIC: 8, Kind: Numeric, Text: paging.NewPHI("5551234")},
	)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(t.Batches), "batches, addresses at", t.Starts, "on air", t.Duration())
	// Output: 2 batches, addresses at [14 0] on air 1.386666666s
}
