package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"pagebridge/firmware-agent/serialport"
	"pagebridge/firmware-agent/sim"
	"pagebridge/firmware-agent/tap"
	"pagebridge/gateway/paging"
)

// The TAP line bench: a tap.Client, opened through serialport as the agent
// opens a paging terminal, sends pages of benchTAPText characters in one
// session to a simulated terminal paced at benchTAPBaud both ways. What
// limits it is the line: the figure is the pages per second achieved as a
// share of what the line's byte time allows for every byte that crossed
// it, blocks and replies.
const (
	targetTAPLine = 0.90
	benchTAPBaud  = 9600
	benchTAPText  = 40
	// benchTAPBytes is about a page's bytes both ways (a 52-byte block, a
	// 32-byte 211 reply), to size the run; the figure counts what crossed.
	benchTAPBytes = 84
)

type tapLineResult struct {
	pages    int
	elapsed  time.Duration
	bytes    int     // crossed the line during the pages, both ways
	rate     float64 // pages/s achieved
	ideal    float64 // pages/s the line's byte time allows
	notTaken int     // pages the terminal did not take exactly once
}

// benchTAPPart runs the TAP line bench for about d and prints its figures.
// It reports whether a figure missed what it must be.
func benchTAPPart(ctx context.Context, stdout io.Writer, dir string, d time.Duration, verdict func(bool) string) (failed bool, err error) {
	pages := max(10, int(d.Seconds()*benchTAPBaud/10/benchTAPBytes))
	res, err := benchTAPLine(ctx, dir, pages)
	if err != nil {
		return false, err
	}
	share := res.rate / res.ideal
	// Faster than the line means the simulated line was not paced, and
	// the figure measures nothing.
	unpaced := share > 1.01
	v := verdict(share >= targetTAPLine)
	if unpaced {
		v = "FASTER THAN THE LINE: not paced"
	}
	fmt.Fprintf(stdout, "%-52s %14.2f %16s\n", fmt.Sprintf("TAP pages, %d chars, 9600 baud, one session (pages/s)", benchTAPText), res.rate, "report")
	fmt.Fprintf(stdout, "%-52s %14.2f %16s\n", "TAP pages the line's byte time allows (pages/s)", res.ideal, "ceiling")
	fmt.Fprintf(stdout, "%-52s %13.1f%% %16s  %s\n", "TAP line use: achieved / byte-time ideal", 100*share, fmt.Sprintf("≥ %.0f%%", 100*targetTAPLine), v)
	fmt.Fprintf(stdout, "%-52s %14s %16s\n", fmt.Sprintf("TAP run: %d pages, %d bytes both ways", res.pages, res.bytes), res.elapsed.Round(time.Millisecond), "report")
	fmt.Fprintf(stdout, "%-52s %14d %16s\n", "TAP pages not taken exactly once", res.notTaken, "0")
	return share < targetTAPLine || unpaced || res.notTaken > 0, nil
}

// benchTAPLine sends pages pages in one session and times them, from the
// first block's write to the last page's 211. The bytes are counted at
// the terminal: what it received (the blocks, resends included) and what
// it sent (the replies) in that time.
func benchTAPLine(ctx context.Context, dir string, pages int) (tapLineResult, error) {
	devDir := filepath.Join(dir, "tap-devices")
	if err := os.MkdirAll(devDir, 0o700); err != nil {
		return tapLineResult{}, err
	}
	term, err := sim.NewPagingTerminal(devDir, sim.TerminalOptions{Name: "bench-terminal", Baud: benchTAPBaud})
	if err != nil {
		return tapLineResult{}, err
	}
	defer term.Close()
	line, err := serialport.New(serialport.Config{Path: term.Path(), Baud: benchTAPBaud}, nil, nil)
	if err != nil {
		return tapLineResult{}, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	type outcome struct {
		res tapLineResult
		err error
	}
	done := make(chan outcome, 1)
	lineDone := make(chan struct{})
	go func() {
		defer close(lineDone)
		line.Run(runCtx, func(ctx context.Context, rw io.ReadWriter, ready func()) error {
			ready()
			res, err := tapSession(ctx, rw, term, pages)
			done <- outcome{res, err}
			<-ctx.Done()
			return nil
		})
	}()
	defer func() { cancel(); <-lineDone }()
	var o outcome
	select {
	case o = <-done:
	case <-ctx.Done():
		return tapLineResult{}, ctx.Err()
	}
	if o.err != nil {
		return tapLineResult{}, o.err
	}
	res := o.res
	// Each page's text is its own: the terminal must have taken each once.
	seen := make(map[string]int)
	for _, p := range term.Pages() {
		seen[p.Text.Reveal()]++
	}
	for i := range pages {
		if seen[benchTAPPage(i)] != 1 {
			res.notTaken++
		}
	}
	return res, nil
}

// tapSession logs on, sends the pages, logs off.
func tapSession(ctx context.Context, rw io.ReadWriter, term *sim.PagingTerminal, pages int) (tapLineResult, error) {
	c := tap.NewClient(rw, tap.ClientConfig{})
	if err := c.Logon(ctx); err != nil {
		return tapLineResult{}, err
	}
	in0, out0 := len(term.Received()), len(term.Sent())
	t0 := time.Now()
	for i := range pages {
		r, err := c.Send(ctx, tap.Page{ID: "1002", Text: paging.NewPHI(benchTAPPage(i))})
		if err != nil {
			return tapLineResult{}, fmt.Errorf("page %d: %w", i, err)
		}
		if r.Code() != tap.CodeSent {
			return tapLineResult{}, fmt.Errorf("page %d: terminal answered %v", i, r)
		}
	}
	elapsed := time.Since(t0)
	bytes := len(term.Received()) - in0 + len(term.Sent()) - out0
	if err := c.Logoff(ctx); err != nil && !errors.Is(err, tap.ErrTimeout) {
		return tapLineResult{}, err
	}
	lineTime := time.Duration(bytes) * 10 * time.Second / benchTAPBaud
	return tapLineResult{
		pages:   pages,
		elapsed: elapsed,
		bytes:   bytes,
		rate:    float64(pages) / elapsed.Seconds(),
		ideal:   float64(pages) / lineTime.Seconds(),
	}, nil
}

// benchTAPPage is page i's text: benchTAPText characters, each text its
// own.
func benchTAPPage(i int) string {
	s := fmt.Sprintf("Bed %05d call bell, patient assistance please", i)
	return s[:benchTAPText]
}
