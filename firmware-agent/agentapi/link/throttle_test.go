package link

import (
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	th := NewThrottle(time.Hour)
	if held, ok := th.Allow("a"); !ok || held != 0 {
		t.Fatalf("first line of a kind: %d, %v; want let through", held, ok)
	}
	for range 3 {
		if _, ok := th.Allow("a"); ok {
			t.Fatal("a repeat within the interval was let through")
		}
	}
	if _, ok := th.Allow("b"); !ok {
		t.Fatal("another kind was held back")
	}
	th.interval = 0 // the interval has passed
	if held, ok := th.Allow("a"); !ok || held != 3 {
		t.Fatalf("after the interval: %d, %v; want let through with 3 held back", held, ok)
	}
}
