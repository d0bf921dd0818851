package snpp_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"pagebridge/gateway/paging"
	"pagebridge/gateway/snpp"
)

// The simulated sender's client against our server: MESS for one line,
// DATA (dot-stuffed) for several, and a refusal named by its step.
func TestSend(t *testing.T) {
	r := newRig(t, snpp.Config{})
	ctx := context.Background()
	if err := snpp.Send(ctx, r.addr, []string{"1001", "1002"}, paging.NewPHI("Room 12 call bell")); err != nil {
		t.Fatal(err)
	}
	if err := snpp.Send(ctx, r.addr, []string{"1003"}, paging.NewPHI("Line one\n.dot line\nlast")); err != nil {
		t.Fatal(err)
	}
	want := []string{"1001 normal Room 12 call bell", "1002 normal Room 12 call bell", "1003 normal Line one\n.dot line\nlast"}
	if got := r.stored(t); !slices.Equal(got, want) {
		t.Fatalf("stored %q, want %q", got, want)
	}
	err := snpp.Send(ctx, r.addr, []string{"1001", "4444"}, paging.NewPHI("never stored"))
	if !errors.Is(err, snpp.ErrRefused) {
		t.Fatalf("unknown pager ID: %v", err)
	}
	if got := r.stored(t); len(got) != 3 {
		t.Fatalf("a refused session stored pages: %q", got)
	}
	if err := snpp.Send(ctx, r.addr, nil, paging.NewPHI("x")); err == nil {
		t.Fatal("no pager ID: no error")
	}
}
