package storage_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"pagebridge/gateway/paging"
	"pagebridge/storage"
	"pagebridge/storage/storagetest"
)

var by = paging.AuditEvent{Actor: "test", Source: "unit test"}

var msgSeq atomic.Int64

// newMsg returns a valid message with text.
func newMsg(text string) *paging.Message {
	n := msgSeq.Add(1)
	now := time.Now()
	return &paging.Message{
		ID:        paging.NewID(now),
		Source:    paging.Source{Protocol: paging.ProtocolTAP, Line: "TAP line 2", Address: "/dev/ttyS1"},
		PagerID:   fmt.Sprint(1000 + n%50),
		Priority:  paging.Priority(n % 3),
		Text:      paging.NewPHI(text),
		SenderRef: fmt.Sprint("ref-", n),
		Received:  now.UTC().Truncate(time.Microsecond),
	}
}

// accept accepts m, failing the test on error.
func accept(t testing.TB, s *storage.Store, m *paging.Message) {
	t.Helper()
	if err := s.Accept(context.Background(), m, by); err != nil {
		t.Fatal(err)
	}
}

// reopen closes s and opens the env's store again.
func reopen(t testing.TB, e *storagetest.Env, s *storage.Store, mods ...func(*storage.Options)) *storage.Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return e.Open(t, mods...)
}

// texts reads every message back as id → text.
func texts(t testing.TB, s *storage.Store) map[paging.ID]string {
	t.Helper()
	out := map[paging.ID]string{}
	err := s.Messages(context.Background(), by, func(m *paging.Message) error {
		out[m.ID] = m.Text.Reveal()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameMessage compares two messages field by field, text included.
func sameMessage(a, b *paging.Message) bool {
	return a.ID == b.ID && a.Source == b.Source && a.PagerID == b.PagerID && a.Priority == b.Priority &&
		a.Text.Reveal() == b.Text.Reveal() && a.SenderRef == b.SenderRef && a.Received.Equal(b.Received)
}

// verify runs VerifyAudit and fails the test on error.
func verify(t testing.TB, s *storage.Store) storage.VerifyReport {
	t.Helper()
	r, err := s.VerifyAudit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r
}
