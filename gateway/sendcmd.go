package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"pagebridge/firmware-agent/serialport"
	"pagebridge/firmware-agent/tap"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/snpp"
)

// cmdSend is a simulated sender: it pages the way nurse call (TAP over a
// serial device server) or a switchboard (SNPP) does, so the demo's ways
// in can be tried without the hospital's systems.
func cmdSend(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tapAddr := fs.String("tap", "", "a TAP line's TCP address (the demo prints it)")
	snppAddr := fs.String("snpp", "", "an SNPP server's address (the demo's is 127.0.0.1:10444)")
	var pagers []string
	fs.Func("pager", "pager ID to page (repeat for several)", func(s string) error {
		pagers = append(pagers, s)
		return nil
	})
	password := fs.String("password", "", "TAP logon password, if the line wants one")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: pagebridge send (-tap ADDR | -snpp ADDR) -pager ID [-pager ID …] TEXT")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 1 || len(pagers) == 0 || (*tapAddr == "") == (*snppAddr == "") {
		fs.Usage()
		return exitUsage
	}
	text := paging.NewPHI(fs.Arg(0))
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if *snppAddr != "" {
		if err := snpp.Send(ctx, *snppAddr, pagers, text); err != nil {
			fmt.Fprintln(stderr, "pagebridge send:", err)
			return exitFailure
		}
		fmt.Fprintf(stdout, "SNPP: 250 for %s\n", strings.Join(pagers, ", "))
		return exitOK
	}
	failed := false
	err := sendTAP(ctx, *tapAddr, *password, pagers, text, func(id string, r tap.Reply, err error) {
		if err != nil {
			failed = true
			fmt.Fprintf(stdout, "TAP %s: %v\n", id, err)
			return
		}
		fmt.Fprintf(stdout, "TAP %s: %d\n", id, r.Code())
	})
	if err != nil {
		fmt.Fprintln(stderr, "pagebridge send:", err)
		return exitFailure
	}
	if failed {
		return exitFailure
	}
	return exitOK
}

// sendTAP pages each pager ID with text in one TAP session over TCP and
// reports each answer to each.
func sendTAP(ctx context.Context, addr, password string, pagers []string, text paging.PHI, each func(string, tap.Reply, error)) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	c := tap.NewClient(serialport.LineConn(conn, serialport.DefaultReadTimeout), tap.ClientConfig{Password: password})
	if err := c.Logon(ctx); err != nil {
		return err
	}
	for _, id := range pagers {
		r, err := c.Send(ctx, tap.Page{ID: id, Text: text})
		var se *tap.SendError
		if errors.As(err, &se) && se.Reply.Code() > 0 {
			err = fmt.Errorf("%d: %w", se.Reply.Code(), err)
		}
		each(id, r, err)
		if !c.LoggedOn() {
			break
		}
	}
	return c.Logoff(ctx)
}
