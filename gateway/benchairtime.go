package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"pagebridge/firmware-agent/airtime"
)

// benchAirtimePart runs the air-time scheduler's bench (issue 9): a stream
// of 40-character pages at 1200 bit/s packed behind preambles, and the wait
// of a critical page behind a full queue. Its figures are simulated time
// computed from the bits sent, so they do not depend on this machine's
// load; -short only takes fewer pages and trials. It reports whether a
// figure missed its target.
func benchAirtimePart(ctx context.Context, stdout io.Writer, short bool, verdict func(bool) string) (failed bool, err error) {
	opts := airtime.BenchOptions{}
	if short {
		opts = airtime.BenchOptions{Pages: 600, CriticalTrials: 20}
	}
	res, err := airtime.Bench(ctx, opts)
	if err != nil {
		return false, err
	}
	fmt.Fprintf(stdout, "%-52s %14.1f %16s\n",
		fmt.Sprintf("POCSAG %d-char pages at %d bit/s (pages/min)", res.Chars, int(res.Rate)), res.PagesPerMinute, "report")
	fmt.Fprintf(stdout, "%-52s %14.0f %16s\n", "POCSAG packing bound, paging-protocols.md §7", res.PackingBound, "ceiling")
	fmt.Fprintf(stdout, "%-52s %13.1f%% %16s  %s\n", "POCSAG air time: achieved / packing bound", 100*res.Packing,
		fmt.Sprintf("≥ %.0f%%", 100*airtime.TargetPacking), verdict(res.MeetsPacking()))
	fmt.Fprintf(stdout, "%-52s %14d %16s\n", fmt.Sprintf("POCSAG transmissions for %d pages", res.Pages), res.Transmissions, "report")
	fmt.Fprintf(stdout, "%-52s %14s %16s  %s\n", fmt.Sprintf("critical page behind a full queue, worst of %d", res.CriticalTrials),
		res.CriticalWorstWait.Round(10*time.Millisecond), fmt.Sprintf("≤ %v", res.MaxTransmission), verdict(res.MeetsCriticalWait()))
	fmt.Fprintf(stdout, "%-52s %14s %16s\n", "critical page behind a full queue, mean", res.CriticalMeanWait.Round(10*time.Millisecond), "report")
	fmt.Fprintf(stdout, "%-52s %14s %16s\n", "critical wait, computed bound (shown on the device)", res.CriticalWaitBound.Round(10*time.Millisecond),
		fmt.Sprintf("≤ %v", res.MaxTransmission))
	return !res.MeetsPacking() || !res.MeetsCriticalWait(), nil
}
