package storage

import (
	"encoding/json"
	"testing"
	"time"

	"pagebridge/gateway/paging"
)

// The head read for a removal agrees with decoding the whole record, and
// refuses a record without its fields.
func TestReadOutboxHead(t *testing.T) {
	at := time.Date(2026, 11, 27, 3, 0, 0, 123, time.UTC)
	r := outboxRecord{ID: paging.NewID(at), Due: at, Priority: paging.PriorityCritical, Topic: "t", Tries: 2, Payload: []byte("sealed")}
	v, _ := json.Marshal(r)
	// The same fields in another order, as an older or other writer might.
	reordered := []byte(`{"payload":"c2VhbGVk","priority":"critical","topic":"t","due":"` + at.Format(time.RFC3339Nano) + `","id":"` + r.ID.String() + `"}`)
	for _, in := range [][]byte{v, reordered} {
		h, err := readOutboxHead(in)
		if err != nil || h.ID != r.ID || !h.Due.Equal(r.Due) || h.Priority != r.Priority {
			t.Fatalf("%s: %+v %v", in, h, err)
		}
	}
	for _, bad := range []string{``, `[]`, `{"id":"` + r.ID.String() + `","due":"` + at.Format(time.RFC3339) + `"}`, `{"id":1,"due":"x","priority":0}`, `{"id":`} {
		if _, err := readOutboxHead([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
