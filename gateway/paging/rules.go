package paging

import (
	"fmt"
	"strings"
)

// PriorityRule raises the tier of a page whose text matches: for
// protocols without a priority field (TAP), and as the only way to
// critical on SNPP and WCTP. Matching ignores case and leading blanks.
// Rules see the text (PHI) only to decide; they never log it.
type PriorityRule struct {
	// StartsWith matches text that begins with it ("CODE BLUE").
	StartsWith string `toml:"starts_with" json:"starts_with,omitempty"`
	// Contains matches text that holds it anywhere.
	Contains string `toml:"contains" json:"contains,omitempty"`
	// Priority is the tier a matching page gets at least.
	Priority Priority `toml:"priority" json:"priority"`
}

// Validate checks a rule: exactly one of StartsWith and Contains, a tier
// above normal.
func (r PriorityRule) Validate() error {
	switch {
	case (r.StartsWith == "") == (r.Contains == ""):
		return fmt.Errorf("%w priority rule: exactly one of starts_with and contains", ErrInvalid)
	case !r.Priority.Valid() || r.Priority == PriorityNormal:
		return fmt.Errorf("%w priority rule: priority must be high or critical", ErrInvalid)
	}
	return nil
}

func (r PriorityRule) matches(text string) bool {
	if r.StartsWith != "" {
		t := strings.TrimLeft(text, " \t\r\n")
		return len(t) >= len(r.StartsWith) && strings.EqualFold(t[:len(r.StartsWith)], r.StartsWith)
	}
	return strings.Contains(strings.ToLower(text), strings.ToLower(r.Contains))
}

// RaisePriority returns p raised to the highest tier of the rules text
// matches; rules never lower a tier.
func RaisePriority(rules []PriorityRule, text PHI, p Priority) Priority {
	if len(rules) == 0 {
		return p
	}
	t := text.Reveal()
	for _, r := range rules {
		if r.Priority > p && r.matches(t) {
			p = r.Priority
		}
	}
	return p
}
