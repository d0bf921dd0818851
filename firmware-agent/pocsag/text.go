package pocsag

import (
	"strings"
	"unicode/utf8"

	"pagebridge/gateway/paging"
)

// asciiFold spells letters and signs outside ASCII the way pagers without
// national character sets show them.
var asciiFold = map[rune]string{
	'À': "A", 'Á': "A", 'Â': "A", 'Ã': "A", 'Ä': "Ae", 'Å': "A", 'Æ': "AE",
	'Ç': "C", 'È': "E", 'É': "E", 'Ê': "E", 'Ë': "E", 'Ì': "I", 'Í': "I",
	'Î': "I", 'Ï': "I", 'Ñ': "N", 'Ò': "O", 'Ó': "O", 'Ô': "O", 'Õ': "O",
	'Ö': "Oe", 'Ø': "O", 'Ù': "U", 'Ú': "U", 'Û': "U", 'Ü': "Ue", 'Ý': "Y",
	'ß': "ss", 'à': "a", 'á': "a", 'â': "a", 'ã': "a", 'ä': "ae", 'å': "a",
	'æ': "ae", 'ç': "c", 'è': "e", 'é': "e", 'ê': "e", 'ë': "e", 'ì': "i",
	'í': "i", 'î': "i", 'ï': "i", 'ñ': "n", 'ò': "o", 'ó': "o", 'ô': "o",
	'õ': "o", 'ö': "oe", 'ø': "o", 'ù': "u", 'ú': "u", 'û': "u", 'ü': "ue",
	'ý': "y", 'ÿ': "y", 'Œ': "OE", 'œ': "oe",
	'‘': "'", '’': "'", '‚': "'", '“': "\"", '”': "\"", '„': "\"",
	'–': "-", '—': "-", '‐': "-", '…': "...", '°': "deg", '€': "EUR",
	'£': "GBP", '×': "x", '\u00a0': " ", '\t': " ",
}

// ASCII makes text fit an alphanumeric page: letters with accents lose
// them (umlauts and ß are spelled out: ä "ae", ß "ss"), typographic quotes,
// dashes and a few signs become their ASCII look-alikes, a tab or
// no-break space becomes a space, and every other character outside
// [AlphaChar] (control characters, other scripts, invalid UTF-8) becomes
// '?'. Text that already fits is returned unchanged.
func ASCII(text paging.PHI) paging.PHI {
	s := text.Reveal()
	fits := true
	for i := 0; i < len(s); i++ {
		if !AlphaChar(s[i]) {
			fits = false
			break
		}
	}
	if fits {
		return text
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch {
		case r < utf8.RuneSelf && AlphaChar(byte(r)):
			b.WriteRune(r)
		case asciiFold[r] != "":
			b.WriteString(asciiFold[r])
		default:
			b.WriteByte('?')
		}
	}
	return paging.NewPHI(b.String())
}
