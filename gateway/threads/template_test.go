package threads_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"pagebridge/gateway/paging"
	"pagebridge/gateway/threads"
	"pagebridge/storage"
)

func phis(kv ...string) map[string]paging.PHI {
	m := map[string]paging.PHI{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = paging.NewPHI(kv[i+1])
	}
	return m
}

func TestRenderText(t *testing.T) {
	const secret = "SECRET-VALUE Jane Doe"
	cases := []struct {
		name   string
		text   string
		values map[string]paging.PHI
		want   string
		err    error
		at     int    // offset of a syntax error
		ph     string // the placeholder an error names
	}{
		{name: "plain", text: "Arrived", want: "Arrived"},
		{name: "placeholders", text: "Call {caller} re {patient_room}, {caller}", values: phis("caller", "x4410", "patient_room", "4W-12"),
			want: "Call x4410 re 4W-12, x4410"},
		{name: "escaped braces", text: "{{not}} a {p1}}}", values: phis("p1", "placeholder"), want: "{not} a placeholder}"},
		{name: "a value is not parsed again", text: "{a}", values: phis("a", "{b}"), want: "{b}"},
		{name: "an empty value is a value", text: "[{a}]", values: phis("a", ""), want: "[]"},
		{name: "missing", text: "{a} {b} {c}", values: phis("b", secret), err: threads.ErrMissingValue, ph: "a"},
		{name: "unknown", text: "{a}", values: phis("a", "1", "zz", secret, "bb", secret), err: threads.ErrUnknownPlaceholder, ph: "bb"},
		{name: "unknown name that is no name", text: "{a}", values: phis("a", "1", secret, secret), err: threads.ErrUnknownPlaceholder},
		{name: "value not UTF-8", text: "{a}", values: phis("a", "\xff"), err: threads.ErrBadValue, ph: "a"},
		{name: "too long", text: "{a}{a}", values: phis("a", strings.Repeat("x", paging.MaxTextLen/2+1)), err: threads.ErrBadValue},
		{name: "unclosed", text: "Call {caller", err: threads.ErrTemplateSyntax, at: 5},
		{name: "lone close", text: "a } b", err: threads.ErrTemplateSyntax, at: 2},
		{name: "empty name", text: "x{}", err: threads.ErrTemplateSyntax, at: 1},
		{name: "upper case", text: "{Room}", err: threads.ErrTemplateSyntax},
		{name: "space in name", text: "{patient room}", err: threads.ErrTemplateSyntax},
		{name: "starts with a digit", text: "{1st}", err: threads.ErrTemplateSyntax},
		{name: "nested", text: "{a{b}}", err: threads.ErrTemplateSyntax},
		{name: "name too long", text: "{" + strings.Repeat("n", 65) + "}", err: threads.ErrTemplateSyntax},
		{name: "text not UTF-8", text: "\xfe{a}", err: threads.ErrTemplateSyntax},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := threads.RenderText(c.text, c.values)
			if c.err == nil {
				if err != nil || got.Reveal() != c.want {
					t.Fatalf("got %q, %v; want %q", got.Reveal(), err, c.want)
				}
				return
			}
			if !errors.Is(err, c.err) || !errors.Is(err, paging.ErrInvalid) {
				t.Fatalf("err %v, want %v", err, c.err)
			}
			te, ok := errors.AsType[*threads.TemplateError](err)
			if !ok {
				t.Fatalf("err %T", err)
			}
			if c.err == threads.ErrTemplateSyntax && c.at > 0 && te.Offset != c.at {
				t.Errorf("offset %d, want %d", te.Offset, c.at)
			}
			if c.ph != "" && te.Placeholder != c.ph {
				t.Errorf("placeholder %q, want %q", te.Placeholder, c.ph)
			}
			if strings.Contains(err.Error(), "SECRET") || strings.Contains(te.Placeholder, "SECRET") {
				t.Errorf("the error holds a value: %v", err)
			}
			if !got.IsZero() {
				t.Error("a failed render returned text")
			}
		})
	}
}

func TestParseTemplateAndEscape(t *testing.T) {
	names, err := threads.ParseTemplate("Call {caller} re {patient_room}, {caller} {{x}}")
	if err != nil || !slices.Equal(names, []string{"caller", "patient_room"}) {
		t.Errorf("placeholders %v, %v", names, err)
	}
	for _, s := range []string{"", "plain", "{a}", "}{", "{{}}", "a{b}c}d{"} {
		names, err := threads.ParseTemplate(threads.Escape(s))
		if err != nil || len(names) != 0 {
			t.Errorf("Escape(%q): %v %v", s, names, err)
		}
		if got, err := threads.RenderText(threads.Escape(s), nil); err != nil || got.Reveal() != s {
			t.Errorf("Escape(%q) renders %q, %v", s, got.Reveal(), err)
		}
	}
	_, err = threads.Render(storage.Template{Name: "callback", Text: "{a}"}, nil)
	if te, ok := errors.AsType[*threads.TemplateError](err); !ok || te.Template != "callback" || !strings.Contains(err.Error(), `"callback"`) {
		t.Errorf("render names the template: %v", err)
	}
}
