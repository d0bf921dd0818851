package threads_test

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"pagebridge/gateway/paging"
	"pagebridge/gateway/threads"
)

// reference renders a text that parses, independently of the package:
// "{{" and "}}" are braces, anything else in braces is a placeholder.
func reference(text, value string) string {
	var b strings.Builder
	for i := 0; i < len(text); {
		switch {
		case strings.HasPrefix(text[i:], "{{"):
			b.WriteByte('{')
			i += 2
		case strings.HasPrefix(text[i:], "}}"):
			b.WriteByte('}')
			i += 2
		case text[i] == '{':
			b.WriteString(value)
			i += strings.IndexByte(text[i:], '}') + 1
		default:
			b.WriteByte(text[i])
			i++
		}
	}
	return b.String()
}

// FuzzRender: for any text and value, no panic. A text that does not
// parse never renders. One that does renders, with a value for each of
// its placeholders, what the reference renders; one value short or one
// extra is refused; and no error holds a value.
func FuzzRender(f *testing.F) {
	for _, s := range []string{
		"Please call {caller} about {patient_room}", "{{literal}}", "{a}{b}{a}", "}", "{", "{}", "{a", "a}", "{A}",
		"{a{b}}", "{{{a}}}", "\xff{a}", "", "CODE BLUE {room} {{", "{" + strings.Repeat("z", 64) + "}", "{zz_extra}",
	} {
		f.Add(s, "4W-12")
	}
	f.Add("{a}", "{b}")
	f.Add("{a}", "\xfe")
	const mark = "VALUE-MARK"
	f.Fuzz(func(t *testing.T, text, value string) {
		if len(text) > 512 || len(value) > 512 {
			// Longer says nothing new (TestRenderText has the length
			// limit) and makes the fuzzer's minimisation crawl.
			t.Skip()
		}
		names, perr := threads.ParseTemplate(text)
		full := map[string]paging.PHI{}
		for _, n := range names {
			full[n] = paging.NewPHI(value)
		}
		got, err := threads.RenderText(text, full)
		switch {
		case perr != nil:
			if !errors.Is(perr, threads.ErrTemplateSyntax) || !errors.Is(err, threads.ErrTemplateSyntax) {
				t.Fatalf("%q: parse %v, render %v", text, perr, err)
			}
			return
		case len(names) > 0 && !utf8.ValidString(value):
			if !errors.Is(err, threads.ErrBadValue) {
				t.Fatalf("a value that is not UTF-8: %v", err)
			}
			return
		case len(reference(text, value)) > paging.MaxTextLen:
			if !errors.Is(err, threads.ErrBadValue) {
				t.Fatalf("too long: %v", err)
			}
			return
		case err != nil:
			t.Fatalf("%q with its values: %v", text, err)
		}
		if want := reference(text, value); got.Reveal() != want {
			t.Fatalf("%q renders %q, want %q", text, got.Reveal(), want)
		}
		for _, n := range names {
			full[n] = paging.NewPHI(mark)
		}
		if len(names) > 0 {
			short := maps.Clone(full)
			delete(short, names[0])
			_, err := threads.RenderText(text, short)
			if !errors.Is(err, threads.ErrMissingValue) || strings.Contains(err.Error(), mark) {
				t.Fatalf("one value short: %v", err)
			}
		}
		if !slices.Contains(names, "zz_extra") {
			full["zz_extra"] = paging.NewPHI(mark)
			_, err := threads.RenderText(text, full)
			if !errors.Is(err, threads.ErrUnknownPlaceholder) || strings.Contains(err.Error(), mark) {
				t.Fatalf("one value extra: %v", err)
			}
		}
	})
}
