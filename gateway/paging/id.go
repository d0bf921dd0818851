package paging

import (
	"crypto/rand"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// ID identifies messages, deliveries, attempts and audit objects. It is a
// ULID: 48 bits of milliseconds then 80 random bits, so IDs sort by time.
type ID = ulid.ULID

var (
	idMu      sync.Mutex
	idEntropy = ulid.Monotonic(rand.Reader, 0)
)

// NewID returns a new ID for time t. IDs made in the same millisecond by
// this process are strictly increasing.
func NewID(t time.Time) ID {
	idMu.Lock()
	defer idMu.Unlock()
	return ulid.MustNew(ulid.Timestamp(t), idEntropy)
}

// ParseID parses the 26-character form of an ID.
func ParseID(s string) (ID, error) { return ulid.ParseStrict(s) }
