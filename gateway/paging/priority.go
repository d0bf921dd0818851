package paging

import "fmt"

// Priority is one of the three tiers every queue serves in order: critical
// first. See DESIGN.md for how each protocol maps to a tier.
type Priority uint8

const (
	PriorityNormal Priority = iota
	PriorityHigh
	PriorityCritical
)

var priorityNames = [...]string{"normal", "high", "critical"}

func (p Priority) String() string {
	if int(p) < len(priorityNames) {
		return priorityNames[p]
	}
	return fmt.Sprintf("priority(%d)", uint8(p))
}

// Valid reports whether p is one of the defined tiers.
func (p Priority) Valid() bool { return int(p) < len(priorityNames) }

// ParsePriority parses "normal", "high" or "critical".
func ParsePriority(s string) (Priority, error) {
	for i, n := range priorityNames {
		if s == n {
			return Priority(i), nil
		}
	}
	return 0, fmt.Errorf("unknown priority %q (want normal, high or critical)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (p Priority) MarshalText() ([]byte, error) {
	if !p.Valid() {
		return nil, fmt.Errorf("invalid priority %d", uint8(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *Priority) UnmarshalText(b []byte) error {
	v, err := ParsePriority(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}
