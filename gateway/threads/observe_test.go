package threads_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"pagebridge/gateway/paging"
	"pagebridge/gateway/threads"
)

// Every committed change is observed once, after its commit, naming the
// thread's members; refused calls and a non-member's access are not.
func TestObserveChanges(t *testing.T) {
	var mu sync.Mutex
	var heard []string
	r := newRig(t, func(o *threads.Options) {
		o.Observe = func(c threads.Change) {
			mu.Lock()
			defer mu.Unlock()
			msg := "-"
			if c.Message != (paging.ID{}) {
				msg = "msg"
			}
			heard = append(heard, fmt.Sprintf("%s by %s %s to %s", c.Kind, c.By, msg, strings.Join(c.Members, ",")))
		}
	})
	take := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := heard
		heard = nil
		return out
	}
	ctx := context.Background()
	c := r.compose("dr-lee", person("dr-kim"), "first")
	wantList(t, "compose", take(), []string{"post by dr-lee msg to dr-lee,dr-kim"})
	if _, err := r.svc.Reply(ctx, as("dr-kim"), c.Thread.ID, text("reply")); err != nil {
		t.Fatal(err)
	}
	wantList(t, "reply", take(), []string{"post by dr-kim msg to dr-lee,dr-kim"})
	if err := r.svc.Receipt(ctx, as("dr-kim"), c.Thread.ID, c.Message, paging.StateDelivered, paging.ChannelApp); err != nil {
		t.Fatal(err)
	}
	wantList(t, "receipt", take(), []string{"receipt by dr-kim msg to dr-lee,dr-kim"})
	if _, err := r.svc.Read(ctx, as("dr-kim"), c.Thread.ID, paging.ChannelApp); err != nil {
		t.Fatal(err)
	}
	wantList(t, "read", take(), []string{"receipt by dr-kim - to dr-lee,dr-kim"})
	if _, err := r.svc.AddColleague(ctx, as("dr-kim"), c.Thread.ID, "dr-ng"); err != nil {
		t.Fatal(err)
	}
	wantList(t, "add", take(), []string{"members by dr-kim - to dr-lee,dr-kim,dr-ng"})
	// Refused: nothing heard.
	if _, err := r.svc.Reply(ctx, as("nurse-ana"), c.Thread.ID, text("not a member")); err == nil {
		t.Fatal("a non-member replied")
	}
	if _, err := r.svc.Read(ctx, as("op-1"), c.Thread.ID, paging.ChannelApp); err == nil {
		t.Fatal("a non-member read")
	}
	if _, err := r.svc.AddColleague(ctx, as("dr-kim"), c.Thread.ID, "dr-ng"); err != nil {
		t.Fatal(err)
	}
	if got := take(); !slices.Equal(got, nil) {
		t.Errorf("refused or empty changes were heard: %q", got)
	}
}
