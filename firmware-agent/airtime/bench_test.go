package airtime

import (
	"context"
	"testing"

	"pagebridge/firmware-agent/pocsag"
)

// TestPackingBound reproduces paging-protocols.md §7's "packed max"
// column.
func TestPackingBound(t *testing.T) {
	for _, c := range []struct {
		words int
		want  [3]float64 // 512, 1200, 2400
	}{
		{1, [3]float64{903, 2117, 4235}},
		{3, [3]float64{301, 705, 1411}},
		{15, [3]float64{60, 141, 282}},
		{29, [3]float64{31, 73, 146}},
		{57, [3]float64{15, 37, 74}},
		{85, [3]float64{10, 24, 49}},
	} {
		for i, r := range pocsag.Rates {
			if got := PackingBound(r, c.words); got != c.want[i] {
				t.Errorf("%d codewords at %v: %v, table %v", c.words, r, got, c.want[i])
			}
		}
	}
}

// TestBench runs a short bench and checks its figures against the
// targets; the full one is `go run ./gateway bench -only airtime`.
func TestBench(t *testing.T) {
	res, err := Bench(context.Background(), BenchOptions{Pages: 600, CriticalTrials: 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	if res.CodewordsPerPage != 15 || res.PackingBound != 141 {
		t.Errorf("40 characters: %d codewords, bound %v; want 15 and 141", res.CodewordsPerPage, res.PackingBound)
	}
	if !res.MeetsPacking() {
		t.Errorf("packing %.1f %% of the bound, target %.0f %%", 100*res.Packing, 100*TargetPacking)
	}
	if !res.MeetsCriticalWait() || res.CriticalWorstWait > res.CriticalWaitBound {
		t.Errorf("critical wait worst %v (bound %v), max transmission %v", res.CriticalWorstWait, res.CriticalWaitBound, res.MaxTransmission)
	}
	again, err := Bench(context.Background(), BenchOptions{Pages: 600, CriticalTrials: 20})
	if err != nil || again != res {
		t.Errorf("a second run differs: %+v", again)
	}
}
