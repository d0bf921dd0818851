package tap

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// fitCases are fitted into testdata/fit.golden.
var fitCases = []struct {
	name string
	text string
	max  int
	mode FitMode
}{
	{"fits", "Code Blue 4W Rm 412", 40, FitSplit},
	{"exactly max", "Code Blue 4W Rm 412", 19, FitSplit},
	{"no limit", strings.Repeat("call ", 100), 0, FitSplit},
	{"empty", "", 10, FitSplit},
	{"split at spaces", "Code Blue 4W Rm 412 bed 2, crash cart to the east stairs now", 30, FitSplit},
	{"split, space right at the cut", "aaaa bbbb cccc dddd", 10, FitSplit},
	{"split, long word cut hard", "Lab: K " + strings.Repeat("x", 40) + " end", 20, FitSplit},
	{"split, early space ignored", "a " + strings.Repeat("y", 30), 16, FitSplit},
	{"split into more than 9 parts", strings.Repeat("word ", 40), 16, FitSplit},
	{"split, Ascom 128", strings.Repeat("Patient in 4W Rm 412 requests assistance. ", 5), 128, FitSplit},
	{"split, spaces collapsed", "Code   Blue \r\n\r\n 4W\tRm    412 " + strings.Repeat("z", 20), 20, FitSplit},
	{"split, room too small: truncated", "Code Blue 4W Rm 412", 6, FitSplit},
	{"split, smallest room", "abcdefgh", 7, FitSplit},
	{"truncate", "Code Blue 4W Rm 412 bed 2, crash cart", 20, FitTruncate},
	{"truncate, trailing space dropped", "Code Blue 4W Rm 412", 10, FitTruncate},
	{"UTF-8 made ASCII", "Zimmer 7 – Patientin Müller, Temp 38,5 °C … “dringend”", 100, FitSplit},
	{"UTF-8 split", "Bett 7 – Patientin Weiß ruft: Schmerzen ½ Std., bitte kommen – ÜBERWACHUNG", 30, FitSplit},
	{"emoji and CJK", "Room 5 🚨 患者 help", 40, FitSplit},
	{"invalid UTF-8", "bed \xff\xfe 9", 40, FitSplit},
	{"control characters", "a\x00b\x07c\x1bd\x7fe\u0085f\u200bg", 40, FitSplit},
	{"line breaks kept as spaces when it fits", "line1\r\nline2\nline3\rline4", 40, FitSplit},
}

func TestFitGolden(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	for _, c := range fitCases {
		parts := Fit(c.text, c.max, c.mode)
		fmt.Fprintf(&out, "# %s (max %d, %v)\n", c.name, c.max, c.mode)
		for _, p := range parts {
			fmt.Fprintf(&out, "%q\n", p)
		}
		checkFit(t, c.text, c.max, c.mode, parts)
	}
	checkGolden(t, "fit.golden", out.Bytes())
}

var marker = regexp.MustCompile(` \((\d+)/(\d+)\)$`)

// checkFit checks what Fit promises for any input: pages EncodePage takes,
// each within max, markers numbered 1…n, and no text lost by a split.
func checkFit(t *testing.T, text string, max int, mode FitMode, parts []string) {
	t.Helper()
	if len(parts) == 0 {
		t.Fatalf("Fit(%q, %d, %v) gave no pages", text, max, mode)
	}
	for i, p := range parts {
		if _, err := EncodePage(page("1", p)); err != nil {
			t.Fatalf("Fit(%q, %d, %v) page %d %q: %v", text, max, mode, i, p, err)
		}
		if max > 0 && len(p) > max {
			t.Fatalf("Fit(%q, %d, %v) page %d %q is %d characters", text, max, mode, i, p, len(p))
		}
	}
	flat := Printable(text)
	if max <= 0 || len(flat) <= max {
		if len(parts) != 1 || parts[0] != flat {
			t.Fatalf("Fit(%q, %d, %v) = %q, want it whole", text, max, mode, parts)
		}
		return
	}
	words := strings.Join(strings.Fields(flat), " ")
	if len(parts) == 1 {
		if !strings.HasPrefix(words, parts[0]) || parts[0] == "" && words != "" {
			t.Fatalf("Fit(%q, %d, %v) = %q, not a beginning of %q", text, max, mode, parts, words)
		}
		return
	}
	if mode != FitSplit {
		t.Fatalf("Fit(%q, %d, %v) split: %q", text, max, mode, parts)
	}
	var joined strings.Builder
	for i, p := range parts {
		m := marker.FindStringSubmatch(p)
		if m == nil || m[1] != fmt.Sprint(i+1) || m[2] != fmt.Sprint(len(parts)) {
			t.Fatalf("Fit(%q, %d): page %d %q lacks its marker", text, max, i, p)
		}
		body := strings.TrimSuffix(p, m[0])
		if body == "" || strings.HasPrefix(body, " ") || strings.HasSuffix(body, " ") {
			t.Fatalf("Fit(%q, %d): page %d %q", text, max, i, p)
		}
		joined.WriteString(body)
	}
	// The parts, joined, are the text without the spaces cut at.
	if got, want := joined.String(), strings.ReplaceAll(words, " ", ""); strings.ReplaceAll(got, " ", "") != want {
		t.Fatalf("Fit(%q, %d) lost text: %q", text, max, parts)
	}
}

func TestParseFitMode(t *testing.T) {
	t.Parallel()
	for _, m := range []FitMode{FitSplit, FitTruncate} {
		if got, err := ParseFitMode(m.String()); err != nil || got != m {
			t.Errorf("ParseFitMode(%q) = %v, %v", m, got, err)
		}
	}
	if _, err := ParseFitMode("wrap"); err == nil {
		t.Error("ParseFitMode(wrap) took it")
	}
}

// FuzzFit: whatever the text and max, Fit keeps its promises.
func FuzzFit(f *testing.F) {
	for _, c := range fitCases {
		f.Add(c.text, int16(c.max), c.mode == FitTruncate)
	}
	f.Fuzz(func(t *testing.T, text string, max int16, truncate bool) {
		if len(text) > 4096 {
			return
		}
		mode := FitSplit
		if truncate {
			mode = FitTruncate
		}
		checkFit(t, text, int(max), mode, Fit(text, int(max), mode))
	})
}
