package agentapi

import (
	"errors"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	good := `{"v":1,"key":"01JDQ1P3S7Y0M2Q8Z6W6K4X9TB","sent":"2026-11-26T12:00:00Z","kind":"status","body":{}}`
	if _, err := Decode([]byte(good)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		in   string
		want error
	}{
		{"garbage", "\x00\xff{", ErrMalformed},
		{"empty", "", ErrMalformed},
		{"version", strings.Replace(good, `"v":1`, `"v":2`, 1), ErrVersion},
		{"no key", strings.Replace(good, `01JDQ1P3S7Y0M2Q8Z6W6K4X9TB`, ``, 1), ErrMalformed},
		{"no kind", strings.Replace(good, `"status"`, `""`, 1), ErrMalformed},
		{"oversize", `{"v":1,"body":"` + strings.Repeat("a", MaxPayload) + `"}`, ErrTooLarge},
	}
	for _, c := range cases {
		if _, err := Decode([]byte(c.in)); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"v":1,"key":"01JDQ1P3S7Y0M2Q8Z6W6K4X9TB","kind":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) { Decode(b) })
}
