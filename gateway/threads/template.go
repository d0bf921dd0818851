package threads

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"pagebridge/gateway/paging"
	"pagebridge/storage"
)

// Template syntax: "{name}" is a placeholder, name being a lower-case
// letter then up to 63 lower-case letters, digits or underscores
// ("{patient_room}"); "{{" and "}}" are a literal brace. Any other brace is
// a syntax error. A value is inserted as it is (it is not parsed again).
const maxPlaceholderLen = 64

// Errors of templates; each wraps paging.ErrInvalid, and comes inside a
// *TemplateError.
var (
	// ErrTemplateSyntax: the template's text does not parse.
	ErrTemplateSyntax = fmt.Errorf("%w template syntax", paging.ErrInvalid)
	// ErrMissingValue: a placeholder of the template has no value.
	ErrMissingValue = fmt.Errorf("%w template values: missing", paging.ErrInvalid)
	// ErrUnknownPlaceholder: a value was given for a name the template
	// has no placeholder for.
	ErrUnknownPlaceholder = fmt.Errorf("%w template values: unknown placeholder", paging.ErrInvalid)
	// ErrBadValue: a value is not valid UTF-8, or the text rendered is
	// longer than a message may be.
	ErrBadValue = fmt.Errorf("%w template value", paging.ErrInvalid)
)

// TemplateError says what is wrong with a template or its values. It
// never holds a value: only the template's name, a placeholder's name
// (checked to be a placeholder name) and where in the text.
type TemplateError struct {
	// Template is the template's name ("" for bare text).
	Template string
	// Placeholder is the placeholder concerned, if any.
	Placeholder string
	// Offset is the byte offset in the text of a syntax error; -1 for
	// other errors.
	Offset int
	// Reason says what is wrong, in words.
	Reason string
	// Err is ErrTemplateSyntax, ErrMissingValue, ErrUnknownPlaceholder or
	// ErrBadValue.
	Err error
}

func (e *TemplateError) Error() string {
	var b strings.Builder
	b.WriteString("template")
	if e.Template != "" {
		fmt.Fprintf(&b, " %q", e.Template)
	}
	if e.Offset >= 0 {
		fmt.Fprintf(&b, " at byte %d", e.Offset)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

func (e *TemplateError) Unwrap() error { return e.Err }

// segment is a literal run of text or, when name is set, a placeholder.
type segment struct {
	lit, name string
}

// parse splits a template's text into literals and placeholders.
func parse(text string) ([]segment, error) {
	syntax := func(at int, reason string) error {
		return &TemplateError{Offset: at, Reason: reason, Err: ErrTemplateSyntax}
	}
	if !utf8.ValidString(text) {
		return nil, syntax(0, "text is not valid UTF-8")
	}
	var segs []segment
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			segs = append(segs, segment{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(text); {
		switch c := text[i]; c {
		case '{':
			if i+1 < len(text) && text[i+1] == '{' {
				lit.WriteByte('{')
				i += 2
				continue
			}
			end := strings.IndexByte(text[i+1:], '}')
			if end < 0 {
				return nil, syntax(i, "unclosed {")
			}
			name := text[i+1 : i+1+end]
			if !validName(name) {
				return nil, syntax(i, fmt.Sprintf("placeholder name must be a lower-case letter then lower-case letters, digits or _, at most %d bytes (write {{ for a literal {)", maxPlaceholderLen))
			}
			flush()
			segs = append(segs, segment{name: name})
			i += end + 2
		case '}':
			if i+1 < len(text) && text[i+1] == '}' {
				lit.WriteByte('}')
				i += 2
				continue
			}
			return nil, syntax(i, "lone } (write }} for a literal })")
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	return segs, nil
}

func validName(s string) bool {
	if s == "" || len(s) > maxPlaceholderLen || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// ParseTemplate checks a template's text and returns its placeholders,
// each once, in order of first use. An error is a *TemplateError wrapping
// ErrTemplateSyntax.
func ParseTemplate(text string) ([]string, error) {
	segs, err := parse(text)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range segs {
		if s.name != "" && !slices.Contains(names, s.name) {
			names = append(names, s.name)
		}
	}
	return names, nil
}

// Escape returns s as template text that renders to s: its braces
// doubled.
func Escape(s string) string {
	return strings.NewReplacer("{", "{{", "}", "}}").Replace(s)
}

// RenderText renders template text with values: every placeholder must
// have a value (ErrMissingValue) and every value a placeholder
// (ErrUnknownPlaceholder). Values are PHI: the result is PHI, and no
// error holds a value. The result is at most paging.MaxTextLen bytes
// (ErrBadValue).
func RenderText(text string, values map[string]paging.PHI) (paging.PHI, error) {
	segs, err := parse(text)
	if err != nil {
		return paging.PHI{}, err
	}
	var missing []string
	used := map[string]bool{}
	for _, s := range segs {
		if s.name == "" || used[s.name] {
			continue
		}
		used[s.name] = true
		v, ok := values[s.name]
		switch {
		case !ok:
			missing = append(missing, s.name)
		case !utf8.ValidString(v.Reveal()):
			return paging.PHI{}, &TemplateError{Placeholder: s.name, Offset: -1, Err: ErrBadValue,
				Reason: fmt.Sprintf("the value of {%s} is not valid UTF-8", s.name)}
		}
	}
	if len(missing) > 0 {
		return paging.PHI{}, &TemplateError{Placeholder: missing[0], Offset: -1, Err: ErrMissingValue,
			Reason: "no value for {" + strings.Join(missing, "}, {") + "}"}
	}
	var unknown []string
	invalid := false
	for k := range values {
		switch {
		case used[k]:
		case validName(k):
			unknown = append(unknown, k)
		default:
			invalid = true // not echoed: it could be anything
		}
	}
	if len(unknown) > 0 || invalid {
		slices.Sort(unknown)
		reason := "values for names that are not placeholders of the template"
		if len(unknown) > 0 {
			reason = "no placeholder {" + strings.Join(unknown, "}, {") + "} in the template"
		}
		e := &TemplateError{Offset: -1, Err: ErrUnknownPlaceholder, Reason: reason}
		if len(unknown) > 0 {
			e.Placeholder = unknown[0]
		}
		return paging.PHI{}, e
	}
	var b strings.Builder
	for _, s := range segs {
		if s.name == "" {
			b.WriteString(s.lit)
		} else {
			b.WriteString(values[s.name].Reveal())
		}
		if b.Len() > paging.MaxTextLen {
			return paging.PHI{}, &TemplateError{Offset: -1, Err: ErrBadValue,
				Reason: fmt.Sprintf("the text rendered is longer than %d bytes", paging.MaxTextLen)}
		}
	}
	return paging.NewPHI(b.String()), nil
}

// Render renders template t with values (see RenderText); errors name
// the template.
func Render(t storage.Template, values map[string]paging.PHI) (paging.PHI, error) {
	out, err := RenderText(t.Text, values)
	if te, ok := errors.AsType[*TemplateError](err); ok {
		te.Template = t.Name
	}
	return out, err
}
