package conf

import (
	"bytes"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
)

// Commented encodes v, a daemon's default configuration, as TOML with every
// key commented out, below header (each of its lines becomes a comment):
// a file that shows each default and changes none of them, as a Debian
// conffile does. Table headers stay, so that uncommenting a key under one
// is all an operator does; arrays of tables are commented out whole, since
// an empty element would be a configuration of its own.
func Commented(header string, v any) ([]byte, error) {
	var enc bytes.Buffer
	e := toml.NewEncoder(&enc)
	e.Indent = ""
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	for l := range strings.Lines(header) {
		out.WriteString(strings.TrimRight("# "+strings.TrimRight(l, "\n"), " ") + "\n")
	}
	array := "" // the array of tables being commented out, "[[name"
	for l := range strings.Lines(enc.String()) {
		switch {
		case strings.HasPrefix(l, "[["):
			array = strings.TrimRight(l, "]\n")
		case strings.HasPrefix(l, "[") && (array == "" || !strings.HasPrefix(l, "["+array[2:]+".")):
			array = ""
			out.WriteString("\n" + l)
			continue
		}
		if strings.TrimSpace(l) == "" {
			continue
		}
		out.WriteString("# " + l)
	}
	return out.Bytes(), nil
}

// commentedKey matches the lines Commented comments out: "# key = value"
// and the headers of arrays of tables and their subtables.
var commentedKey = regexp.MustCompile(`^# ([A-Za-z0-9_-]+ = |\[)`)

// Uncomment undoes Commented for its keys (the header stays a comment):
// the configuration with every default written out, for tests that check
// a shipped file against the daemon's defaults.
func Uncomment(text string) string {
	var out strings.Builder
	header := true // the leading comment block is prose
	for l := range strings.Lines(text) {
		header = header && strings.HasPrefix(l, "#")
		if !header && commentedKey.MatchString(l) {
			l = l[2:]
		}
		out.WriteString(l)
	}
	return out.String()
}
