package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"pagebridge/gateway/paging"
	"pagebridge/storage"
)

// fileOf is n bytes that repeat marker (so any chunk of it would show it
// in plaintext).
func fileOf(marker string, n int) []byte {
	return []byte(strings.Repeat(marker, n/len(marker)+1)[:n])
}

// An attachment goes in with its message and comes back whole, over
// several chunks, to a member only, each read audited.
func TestAttachmentRoundTrip(t *testing.T) {
	_, s, _ := threadStore(t)
	ctx := context.Background()
	th, _ := direct(t, s, "dr-lee", []string{"dr-kim"}, "", "first")
	big := fileOf("IMG-BYTES-", 2*storage.AttachmentChunk+123)
	small := []byte("%PDF-1.4 a small file")
	msg, err := s.PostMessage(ctx, th.ID, storage.NewPost{Author: "dr-kim", Attachments: []storage.NewAttachment{
		{Name: paging.NewPHI("wound.png"), Type: "image/png", Data: big},
		{Name: paging.NewPHI("labs.pdf"), Type: "application/pdf", Data: small},
	}}, paging.AuditEvent{Actor: "dr-kim"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.ReadThread(ctx, th.ID, "dr-lee", paging.ChannelApp, by)
	if err != nil {
		t.Fatal(err)
	}
	got := v.Messages[len(v.Messages)-1]
	if got.ID != msg || len(got.Attachments) != 2 || !got.Text.IsZero() {
		t.Fatalf("message %+v", got)
	}
	if a := got.Attachments[0]; a.N != 0 || a.Name.Reveal() != "wound.png" || a.Type != "image/png" || a.Size != int64(len(big)) {
		t.Errorf("attachment 0 described as %+v", a)
	}
	for n, want := range [][]byte{big, small} {
		a, data, err := s.ReadAttachment(ctx, th.ID, msg, n, "dr-lee", paging.AuditEvent{Actor: "dr-lee"})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, want) || a.Size != int64(len(want)) {
			t.Errorf("attachment %d: %d bytes back, want %d", n, len(data), len(want))
		}
	}
	before, _ := auditActions(t, s)
	if _, _, err := s.ReadAttachment(ctx, th.ID, msg, 0, "dr-ng", by); !errors.Is(err, storage.ErrNotMember) {
		t.Errorf("non-member: %v", err)
	}
	for _, n := range []int{-1, 2, 255} {
		if _, _, err := s.ReadAttachment(ctx, th.ID, msg, n, "dr-lee", by); !errors.Is(err, paging.ErrNotFound) {
			t.Errorf("attachment %d: %v", n, err)
		}
	}
	after, entries := auditActions(t, s)
	if before["thread.attachment.read"] != 2 || after["thread.attachment.read"] != 2 {
		t.Errorf("attachment reads audited %d, then %d after refusals; want 2, 2", before["thread.attachment.read"], after["thread.attachment.read"])
	}
	for _, e := range entries {
		if strings.Contains(e.Detail, "wound") || strings.Contains(e.Detail, "labs") {
			t.Errorf("audit entry names the file: %+v", e)
		}
	}
	verify(t, s)
}

func TestAttachmentInvalid(t *testing.T) {
	_, s, _ := threadStore(t)
	ctx := context.Background()
	th, _ := direct(t, s, "dr-lee", []string{"dr-kim"}, "", "first")
	ok := storage.NewAttachment{Name: paging.NewPHI("a.png"), Type: "image/png", Data: []byte("x")}
	with := func(f func(*storage.NewAttachment)) []storage.NewAttachment {
		a := ok
		f(&a)
		return []storage.NewAttachment{a}
	}
	cases := map[string][]storage.NewAttachment{
		"empty file":        with(func(a *storage.NewAttachment) { a.Data = nil }),
		"no type":           with(func(a *storage.NewAttachment) { a.Type = "" }),
		"no name":           with(func(a *storage.NewAttachment) { a.Name = paging.PHI{} }),
		"slash in name":     with(func(a *storage.NewAttachment) { a.Name = paging.NewPHI("../etc/passwd") }),
		"control in name":   with(func(a *storage.NewAttachment) { a.Name = paging.NewPHI("a\nb.png") }),
		"bad UTF-8 name":    with(func(a *storage.NewAttachment) { a.Name = paging.NewPHI("a\xff.png") }),
		"long name":         with(func(a *storage.NewAttachment) { a.Name = paging.NewPHI(strings.Repeat("n", 256)) }),
		"too large":         with(func(a *storage.NewAttachment) { a.Data = make([]byte, storage.MaxAttachmentSize+1) }),
		"too many":          {ok, ok, ok, ok, ok},
		"no text, no files": nil,
	}
	for name, as := range cases {
		if _, err := s.PostMessage(ctx, th.ID, storage.NewPost{Author: "dr-kim", Attachments: as}, by); !errors.Is(err, paging.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// The bytes of an attachment, its name and its message's text are in no
// form in the file nor in a backup; a chunk moved to another attachment
// does not open.
func TestAttachmentSealedAtRest(t *testing.T) {
	e, s, _ := threadStore(t)
	ctx := context.Background()
	const (
		content = "ATT-MARKER-Hq73 patient Jane Roe MRN 7741 "
		name    = "NAME-MARKER-Pw55 roe-jane.png"
		text    = "MSG-MARKER-Yd06 see the photo of Jane Roe"
	)
	th, _ := direct(t, s, "dr-lee", []string{"dr-kim"}, "", "first")
	data := fileOf(content, storage.AttachmentChunk+500)
	msg, err := s.PostMessage(ctx, th.ID, storage.NewPost{Author: "dr-kim", Text: paging.NewPHI(text),
		Attachments: []storage.NewAttachment{{Name: paging.NewPHI(name), Type: "image/png", Data: data},
			{Name: paging.NewPHI("other.png"), Type: "image/png", Data: fileOf("other", 100)}}}, by)
	if err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "backup.db")
	if _, err := s.BackupFile(ctx, backup); err != nil {
		t.Fatal(err)
	}
	s.Close()
	notInFiles(t, []string{e.Path, backup}, content, name, text)

	// Put attachment 1's chunk in place of attachment 0's first.
	db, err := bolt.Open(e.Path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("thread.attachments"))
		var keys [][]byte
		b.ForEach(func(k, _ []byte) error { keys = append(keys, bytes.Clone(k)); return nil })
		if len(keys) != 3 {
			return fmt.Errorf("%d chunks stored, want 3", len(keys))
		}
		return b.Put(keys[0], bytes.Clone(b.Get(keys[2])))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s = e.Open(t)
	if _, _, err := s.ReadAttachment(ctx, th.ID, msg, 0, "dr-lee", by); !errors.Is(err, storage.ErrCorrupt) {
		t.Errorf("moved chunk: %v", err)
	}
	if _, d, err := s.ReadAttachment(ctx, th.ID, msg, 1, "dr-lee", by); err != nil || string(d) != string(fileOf("other", 100)) {
		t.Errorf("untouched attachment: %v", err)
	}
}

// Retention deletes a message's chunks with it.
func TestAttachmentSwept(t *testing.T) {
	e, s, clk := threadStore(t)
	ctx := context.Background()
	const day = 24 * time.Hour
	th, _ := direct(t, s, "dr-lee", []string{"dr-kim"}, "", "first")
	if _, err := s.PostMessage(ctx, th.ID, storage.NewPost{Author: "dr-kim", Attachments: []storage.NewAttachment{
		{Name: paging.NewPHI("x.png"), Type: "image/png", Data: fileOf("x", 3*storage.AttachmentChunk)}}}, by); err != nil {
		t.Fatal(err)
	}
	clk.add(40 * day)
	rep, err := s.SweepRetention(ctx, clk.Now(), storage.RetentionPolicy{Direct: 30 * day})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Messages != 2 || rep.Threads != 1 {
		t.Errorf("swept %+v", rep)
	}
	s.Close()
	db, err := bolt.Open(e.Path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket([]byte("thread.attachments")).Stats().KeyN; n != 0 {
			t.Errorf("%d chunks left after the sweep", n)
		}
		return nil
	})
}

// notInFiles fails t if a file holds a marker in any of its raw forms.
func notInFiles(t *testing.T, paths []string, markers ...string) {
	t.Helper()
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, marker := range markers {
			for form, f := range rawForms(marker) {
				if bytes.Contains(b, f) {
					t.Errorf("%s holds %.12s… (%s)", filepath.Base(path), marker, form)
				}
			}
		}
	}
}
