// Package conf holds what the configuration files of both daemons share:
// durations written as "15m" in TOML, and the check that a key file lies
// outside a data directory.
package conf

import (
	"path/filepath"
	"strings"
	"time"
)

// Duration is a time.Duration written in TOML as "15m", "2s".
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration in Go syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Within reports whether path p is dir or below it (lexically: symbolic
// links are not followed). A name that only begins with ".." ("..keys") is
// below dir.
func Within(dir, p string) bool {
	rel, err := filepath.Rel(filepath.Clean(dir), filepath.Clean(p))
	return err == nil && (rel == "." || (rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))))
}
