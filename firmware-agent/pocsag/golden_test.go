package pocsag_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pagebridge/firmware-agent/pocsag"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestGolden pins the codewords of a packed transmission (layout,
// padding, termination) in testdata/encode.golden; -update rewrites it.
func TestGolden(t *testing.T) {
	pages := []pocsag.Page{
		alpha(1234567, "Code Blue Rm 402"),
		numeric(8, "5551234"),
		{RIC: 555, Function: 2, Kind: pocsag.Tone},
		numeric(1000001, "0123456789U -[]"),
		alpha(2000002, "Lab: K 6.1 bed 7"),
		alpha(14, "abcdefghijklmnopqrst"),
	}
	tx, err := pocsag.Encode(pocsag.Rate1200, pages...)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# pocsag.Encode(1200, %d pages): address positions %v\n", len(pages), tx.Starts)
	for i, bt := range tx.Batches {
		fmt.Fprintf(&b, "batch %d:", i)
		for j, cw := range bt {
			if j%2 == 0 {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, " %08x", cw)
		}
		b.WriteString("\n")
	}
	path := filepath.Join("testdata", "encode.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("codewords differ from %s:\n%s\nwant:\n%s", path, b.String(), want)
	}
	checkDecoded(t, tx, pages)
}
