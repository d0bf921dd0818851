package agentapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"pagebridge/gateway/paging"
)

// KindBatch is an envelope whose body carries several envelopes of one
// kind (jobs for one device, results, inbound pages), so that a busy queue
// costs one MQTT message per batch rather than one per item. Each item
// keeps its own idempotency key: receivers dedupe and acknowledge items,
// never batches, and a bad item is refused alone. The batch's own key only
// names the message in logs.
const KindBatch = "batch"

// MaxBatch bounds the items of one batch.
const MaxBatch = 256

// Batch is the body of a KindBatch envelope: complete envelopes, none of
// them a batch.
type Batch struct {
	Items []json.RawMessage `json:"items"`
}

// Validate checks a batch as received; its items are checked one by one
// as they are opened.
func (b *Batch) Validate() error {
	if len(b.Items) == 0 || len(b.Items) > MaxBatch {
		return fmt.Errorf("%w: batch: 1 to %d items", ErrMalformed, MaxBatch)
	}
	return nil
}

// Pack groups envelopes (each the output of Encode, all for one topic)
// into as few payloads as MaxBatch and MaxPayload allow, in order. An
// envelope that fits no batch goes alone, as it is. An item that is not
// JSON or is larger than MaxPayload is left out, and the error names it;
// the rest are packed all the same.
func Pack(now time.Time, items [][]byte) ([][]byte, error) {
	var out [][]byte
	var errs []error
	var batch [][]byte
	size := batchOverhead
	flush := func() {
		switch len(batch) {
		case 0:
		case 1:
			out = append(out, batch[0])
		default:
			out = append(out, encodeBatch(paging.NewID(now), now, batch))
		}
		batch, size = nil, batchOverhead
	}
	for i, it := range items {
		switch {
		case len(it) > MaxPayload:
			errs = append(errs, fmt.Errorf("%w: item %d has %d bytes", ErrTooLarge, i, len(it)))
			continue
		case !json.Valid(it):
			errs = append(errs, fmt.Errorf("%w: item %d is not JSON", ErrMalformed, i))
			continue
		}
		if len(batch) == MaxBatch || size+len(it)+1 > MaxPayload {
			flush()
		}
		batch = append(batch, it)
		size += len(it) + 1
	}
	flush()
	return out, errors.Join(errs...)
}

// batchOverhead is the length of a batch envelope with no items.
var batchOverhead = len(batchHead(paging.ID{}, time.Time{})) + len(batchTail)

const batchTail = "]}}"

func batchHead(key paging.ID, sent time.Time) string {
	ts, _ := sent.UTC().MarshalJSON()
	return `{"v":` + fmt.Sprint(Version) + `,"key":"` + key.String() + `","sent":` + string(ts) + `,"kind":"` + KindBatch + `","body":{"items":[`
}

// encodeBatch writes the batch envelope around items without decoding and
// encoding them again; each must be one valid JSON value, and together
// they must fit MaxPayload (Pack sees to both).
func encodeBatch(key paging.ID, sent time.Time, items [][]byte) []byte {
	var buf bytes.Buffer
	buf.WriteString(batchHead(key, sent))
	for i, it := range items {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(it)
	}
	buf.WriteString(batchTail)
	return buf.Bytes()
}

// Unpack returns the envelopes a payload carries: the items of a batch, or
// the payload itself. A payload that is not a batch is not checked here;
// opening it does that. A malformed batch is refused whole.
func Unpack(b []byte) ([][]byte, error) {
	if !isBatch(b) {
		return [][]byte{b}, nil
	}
	var body Batch
	if _, err := Open(b, &body); err != nil {
		return nil, err
	}
	items := make([][]byte, len(body.Items))
	for i, it := range body.Items {
		items[i] = it
	}
	return items, nil
}

// isBatch reports whether an envelope names KindBatch, reading only as far
// as its kind (which Encode writes before the body). Field names match
// without regard to case, as encoding/json matches them.
func isBatch(b []byte) bool {
	if len(b) > MaxPayload {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	for dec.More() {
		t, err := dec.Token()
		name, ok := t.(string)
		if err != nil || !ok {
			return false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return false
		}
		if strings.EqualFold(name, "kind") {
			var kind string
			return json.Unmarshal(v, &kind) == nil && kind == KindBatch
		}
	}
	return false
}
