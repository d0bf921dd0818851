package paging

import (
	"fmt"
	"log/slog"
)

// Redacted is what every formatting path prints in place of PHI.
const Redacted = "[REDACTED]"

// PHI holds protected health information: message text, patient names,
// room numbers read out of a page. Its zero value is empty text.
//
// PHI never formats as its contents: fmt's verbs, slog and encoding/json all
// see [Redacted]. Call [PHI.Reveal] to get the text.
type PHI struct {
	text string
}

// NewPHI wraps s.
func NewPHI(s string) PHI { return PHI{text: s} }

// Reveal returns the protected text. Every caller is a place where PHI
// leaves the domain: sealing, an authorised view, or a permitted channel.
func (p PHI) Reveal() string { return p.text }

// Len is the length of the text in bytes; safe to log.
func (p PHI) Len() int { return len(p.text) }

// IsZero reports whether the text is empty.
func (p PHI) IsZero() bool { return p.text == "" }

// String implements fmt.Stringer and redacts.
func (p PHI) String() string { return Redacted }

// GoString implements fmt.GoStringer and redacts.
func (p PHI) GoString() string { return "paging.PHI{" + Redacted + "}" }

// Format implements fmt.Formatter so that no verb, %x and %q included,
// prints the text.
func (p PHI) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, p.GoString())
		return
	}
	fmt.Fprint(f, Redacted)
}

// LogValue implements slog.LogValuer and redacts.
func (p PHI) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalText redacts, so that encoding/json, TOML and friends never write
// PHI by accident. Code that must store or send the text uses Reveal.
func (p PHI) MarshalText() ([]byte, error) { return []byte(Redacted), nil }
