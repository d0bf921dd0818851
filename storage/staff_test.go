package storage_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"pagebridge/gateway/paging"
	"pagebridge/storage"
)

func TestResponses(t *testing.T) {
	_, s, clk := threadStore(t)
	ctx := context.Background()
	page, other := paging.NewID(t0), paging.NewID(t0.Add(time.Second))
	if rs, err := s.Responses(ctx, page); err != nil || len(rs) != 0 {
		t.Fatalf("before any answer: %v %v", rs, err)
	}
	for _, c := range []struct {
		page   paging.ID
		person string
		answer string
	}{
		{page, "dr-kim", storage.AnswerResponding},
		{page, "dr-ng", storage.AnswerCannot},
		{other, "dr-kim", storage.AnswerCannot},
		{page, "dr-ng", storage.AnswerResponding}, // changes her mind
	} {
		clk.add(time.Second)
		if err := s.PutResponse(ctx, c.page, storage.Response{Person: c.person, Answer: c.answer}, by); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := s.Responses(ctx, page)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(rs))
	for i, r := range rs {
		got[i] = r.Person + " " + r.Answer
		if r.At.IsZero() {
			t.Errorf("%s: no time", got[i])
		}
	}
	if want := []string{"dr-kim responding", "dr-ng responding"}; !slices.Equal(got, want) {
		t.Errorf("answers %q, want %q", got, want)
	}
	acts, _ := auditActions(t, s)
	if acts["page.response"] != 4 {
		t.Errorf("audited %d answers, want 4", acts["page.response"])
	}
	for _, bad := range []storage.Response{{Person: "dr-kim", Answer: "maybe"}, {Person: "", Answer: storage.AnswerResponding}} {
		if err := s.PutResponse(ctx, page, bad, by); !errors.Is(err, paging.ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", bad, err)
		}
	}
}

func TestProfilePhotoSealed(t *testing.T) {
	e, s, _ := threadStore(t)
	ctx := context.Background()
	p, err := s.Profile(ctx, "dr-kim")
	if err != nil || p.Mute || p.NoVibrate || p.PhotoType != "" {
		t.Fatalf("default profile %+v %v", p, err)
	}
	if _, err := s.Profile(ctx, "nobody"); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("unknown person: %v", err)
	}
	if _, _, err := s.Photo(ctx, "dr-kim"); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("no photo yet: %v", err)
	}
	if err := s.SetPreferences(ctx, "dr-kim", storage.Preferences{Mute: true}, by); err != nil {
		t.Fatal(err)
	}
	photo := append([]byte("\x89PNG\r\n\x1a\n"), []byte(strings.Repeat("face-of-dr-kim ", 40))...)
	if err := s.SetPhoto(ctx, "dr-kim", "image/png", photo, by); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		typ  string
		data []byte
	}{
		{"image/svg+xml", []byte("<svg/>")},
		{"image/png", make([]byte, storage.MaxPhotoBytes+1)},
	} {
		if err := s.SetPhoto(ctx, "dr-kim", c.typ, c.data, by); !errors.Is(err, paging.ErrInvalid) {
			t.Errorf("%s of %d bytes: %v, want ErrInvalid", c.typ, len(c.data), err)
		}
	}
	if err := s.SetPhoto(ctx, "nobody", "image/png", photo, by); !errors.Is(err, paging.ErrNotFound) {
		t.Errorf("photo of nobody: %v", err)
	}
	s = reopen(t, e, s)
	p, err = s.Profile(ctx, "dr-kim")
	if err != nil || !p.Mute || p.NoVibrate || p.PhotoType != "image/png" {
		t.Fatalf("profile after reopen %+v %v", p, err)
	}
	typ, got, err := s.Photo(ctx, "dr-kim")
	if err != nil || typ != "image/png" || !bytes.Equal(got, photo) {
		t.Fatalf("photo %s %d bytes %v", typ, len(got), err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(e.Path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("face-of-dr-kim")) {
		t.Error("the photo lies in the database file in plaintext")
	}
}
