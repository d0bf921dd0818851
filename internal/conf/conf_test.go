package conf

import (
	"testing"
	"time"
)

func TestWithin(t *testing.T) {
	for _, c := range []struct {
		dir, p string
		want   bool
	}{
		{"/var/lib/pb", "/var/lib/pb", true},
		{"/var/lib/pb", "/var/lib/pb/keys/kek", true},
		{"/var/lib/pb/", "/var/lib/pb/../pb/k", true},
		{"/var/lib/pb", "/var/lib/pb/..keys/kek", true},
		{"/var/lib/pb", "/var/lib/pbx/kek", false},
		{"/var/lib/pb", "/var/lib/kek", false},
		{"/var/lib/pb", "/var/lib/pb/../k", false},
		{"/var/lib/pb", "/etc/pagebridge/keys/kek", false},
	} {
		if got := Within(c.dir, c.p); got != c.want {
			t.Errorf("Within(%q, %q) = %v, want %v", c.dir, c.p, got, c.want)
		}
	}
}

func TestDurationText(t *testing.T) {
	var d Duration
	if err := d.UnmarshalText([]byte("1m30s")); err != nil || d.Duration != 90*time.Second {
		t.Fatalf("UnmarshalText: %v, %v", d, err)
	}
	if b, _ := d.MarshalText(); string(b) != "1m30s" {
		t.Fatalf("MarshalText: %s", b)
	}
	if err := d.UnmarshalText([]byte("soon")); err == nil {
		t.Fatal("a bad duration parsed")
	}
}
