package tap

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FitMode is how Fit makes a text fit a terminal's maximum length.
type FitMode uint8

const (
	// FitSplit cuts the text into parts, each ending " (i/n)".
	FitSplit FitMode = iota
	// FitTruncate keeps the first max characters.
	FitTruncate
)

var fitModeNames = [...]string{"split", "truncate"}

func (m FitMode) String() string {
	if int(m) < len(fitModeNames) {
		return fitModeNames[m]
	}
	return "FitMode(" + strconv.Itoa(int(m)) + ")"
}

// ParseFitMode reads a FitMode from its name, "split" or "truncate", as a
// configuration file has it.
func ParseFitMode(s string) (FitMode, error) {
	for i, n := range fitModeNames {
		if s == n {
			return FitMode(i), nil
		}
	}
	return 0, fmt.Errorf("tap: fit mode %q: want split or truncate", s)
}

// Fit makes text fit a terminal that takes at most max characters of
// message text, and returns the texts of the pages to send, each one that
// EncodePage takes. First text becomes printable ASCII (Printable). If it
// then fits, or max is 0 or less, it is the only page, unchanged.
// Otherwise runs of spaces are cut to one and the ends trimmed, and:
//
//   - FitTruncate gives one page of the first max characters.
//   - FitSplit gives n pages, each at most max characters including its
//     marker " (i/n)" at the end. A page ends at a space where one lies in
//     the second half of the room (the space is dropped), else it is cut
//     hard. When no marker leaves room for text (a max of 6 or less, or
//     too small for as many parts as the text needs) it truncates
//     instead.
//
// Fit never returns an empty slice: an empty text is one empty page (tone
// only).
func Fit(text string, max int, mode FitMode) []string {
	s := Printable(text)
	if max <= 0 || len(s) <= max {
		return []string{s}
	}
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= max {
		return []string{s}
	}
	if mode == FitSplit {
		// The room for text is max less the widest marker, which has the
		// digits of n twice; more parts than those digits allow take the
		// next width.
		for digits, most := 1, 9; ; digits, most = digits+1, most*10+9 {
			room := max - (len(" (/)") + 2*digits)
			if room < 1 {
				break
			}
			parts := splitWords(s, room, most)
			if parts == nil {
				continue
			}
			for i := range parts {
				parts[i] += fmt.Sprintf(" (%d/%d)", i+1, len(parts))
			}
			return parts
		}
	}
	return []string{strings.TrimRight(s[:max], " ")}
}

// splitWords cuts s (no leading, trailing or double spaces) into parts of
// at most room characters, at spaces where it can. It returns nil if that
// takes more than most parts.
func splitWords(s string, room, most int) []string {
	var parts []string
	for s != "" {
		if len(parts) == most {
			return nil
		}
		if len(s) <= room {
			parts = append(parts, s)
			break
		}
		head, rest := s[:room], s[room:]
		switch i := strings.LastIndexByte(head, ' '); {
		case rest[0] == ' ':
			rest = rest[1:]
		case i >= room/2 && i > 0:
			head, rest = s[:i], s[i+1:]
		}
		parts = append(parts, head)
		s = rest
	}
	return parts
}

// Printable returns text in the characters EncodePage takes, printable
// ASCII, one for one where it can: line breaks, tabs and other spaces
// become a space (CR LF one), other control characters and zero-width
// ones are dropped, letters with accents lose them (ß is "ss", æ "ae"),
// typographic quotes, dashes and the ellipsis become their ASCII forms,
// and anything else (and bytes that are not UTF-8) becomes "?".
func Printable(text string) string {
	var b strings.Builder
	b.Grow(len(text))
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			switch {
			case c >= 0x20 && c < 0x7f:
				b.WriteByte(c)
			case c == '\r' && i+1 < len(text) && text[i+1] == '\n':
				// CR LF: the LF gives the space.
			case c == '\r' || c == '\n' || c == '\t' || c == '\v' || c == '\f':
				b.WriteByte(' ')
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(text[i:])
		i += n
		if r == utf8.RuneError && n == 1 {
			b.WriteByte('?')
			continue
		}
		b.WriteString(asciiFor(r))
	}
	return b.String()
}

// latin1 holds the ASCII for U+00A0…U+00FF.
var latin1 = [96]string{
	" ", "!", "c", "L", "?", "Y", "|", "S", "\"", "(c)", "a", "\"", "-", "", "(R)", "-", // A0–AF
	"deg", "+/-", "2", "3", "'", "u", "P", ".", ",", "1", "o", "\"", "1/4", "1/2", "3/4", "?", // B0–BF
	"A", "A", "A", "A", "A", "A", "AE", "C", "E", "E", "E", "E", "I", "I", "I", "I", // C0–CF
	"D", "N", "O", "O", "O", "O", "O", "x", "O", "U", "U", "U", "U", "Y", "TH", "ss", // D0–DF
	"a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i", // E0–EF
	"d", "n", "o", "o", "o", "o", "o", "/", "o", "u", "u", "u", "u", "y", "th", "y", // F0–FF
}

// asciiFor returns the ASCII for r, a rune outside ASCII.
func asciiFor(r rune) string {
	switch {
	case r < 0xa0:
		return "" // C1 control characters
	case r <= 0xff:
		return latin1[r-0xa0]
	}
	switch r {
	case 0x2018, 0x2019, 0x201a, 0x201b, 0x2032:
		return "'"
	case 0x201c, 0x201d, 0x201e, 0x201f, 0x2033:
		return "\""
	case 0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212:
		return "-"
	case 0x2026:
		return "..."
	case 0x2022:
		return "*"
	case 0x2190:
		return "<-"
	case 0x2192:
		return "->"
	case 0x2264:
		return "<="
	case 0x2265:
		return ">="
	case 0x2260:
		return "!="
	case 0x20ac:
		return "EUR"
	case 0x2028, 0x2029, 0x202f, 0x205f, 0x3000:
		return " "
	case 0x200b, 0x200c, 0x200d, 0x2060, 0xfeff:
		return ""
	}
	if r >= 0x2000 && r <= 0x200a {
		return " "
	}
	return "?"
}
