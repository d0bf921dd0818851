package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"time"

	"pagebridge/firmware-agent/agent"
	"pagebridge/gateway/paging"
	"pagebridge/storage"
)

// The demo's transmitter: the agent encodes POCSAG itself and writes the
// audio to a file under the demo directory instead of a sound device, with
// nothing keyed (a demo has no transmitter to key). The file keeps what
// was sent in plaintext: a demo only holds made-up pages.
const (
	demoTransmitter = "transmitter-1"
	demoAudioFile   = "transmitter-1.raw"
)

var (
	// demoPOCSAGPerson carries a pager that the demo's transmitter
	// reaches directly (capcode 1234567, alphanumeric at 1200 bit/s),
	// paged through pager ID 1004.
	demoPOCSAGPerson = paging.Person{ID: "noah.fischer", Name: "Noah Fischer RN", Department: "Intensive care", Title: "Charge nurse",
		Stage: paging.StagePager, Endpoints: []paging.Endpoint{{Channel: paging.ChannelPager, Address: "1234567",
			Via: "demo-agent/" + demoTransmitter, POCSAG: paging.POCSAG{Rate: 1200, Function: 3, Kind: paging.POCSAGAlpha}}}}
	demoPOCSAGPager = paging.PagerID{ID: "1004", Target: paging.Target{Kind: paging.TargetPerson, ID: demoPOCSAGPerson.ID},
		Label: "ICU charge nurse (POCSAG transmitter)"}
)

// demoTransmitterDevice is the demo agent's transmitter device.
func demoTransmitterDevice(root string) agent.DeviceConfig {
	return agent.DeviceConfig{ID: demoTransmitter, Kind: agent.KindTransmitter, Port: agent.PTTNone,
		AudioFile: filepath.Join(root, demoAudioFile)}
}

// seedDemoPOCSAG adds the pager-stage person on the transmitter and the
// pager ID that reaches them, if missing (demo directories made before
// the transmitter get them too).
func seedDemoPOCSAG(ctx context.Context, st *storage.Store) error {
	by := paging.AuditEvent{Actor: "system", Action: "demo.seed", Source: "demo"}
	if _, err := st.Person(ctx, demoPOCSAGPerson.ID); errors.Is(err, paging.ErrNotFound) {
		if err := st.PutPerson(ctx, demoPOCSAGPerson, by); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if _, err := st.PagerID(ctx, demoPOCSAGPager.ID); errors.Is(err, paging.ErrNotFound) {
		return st.PutPagerID(ctx, demoPOCSAGPager, by)
	} else if err != nil {
		return err
	}
	return nil
}

// multimonLine is one page as multimon-ng prints it.
var multimonLine = regexp.MustCompile(`POCSAG(512|1200|2400): Address:\s*(\d+)\s+Function:\s*(\d)\s+(?:Alpha|Numeric):\s*(.*)`)

// watchTransmitter, when multimon-ng is installed, decodes what the demo's
// transmitter sent each time its audio file has grown and then stayed the
// same for a tick (a transmission ended), and logs the capcode, function
// and length of every page decoded (not the text: it may be PHI). Without
// multimon-ng it does nothing.
func watchTransmitter(ctx context.Context, log *slog.Logger, path string) {
	mm, err := exec.LookPath("multimon-ng")
	if err != nil {
		return
	}
	var done, last int64 // bytes decoded so far; the size a tick ago
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		fi, err := os.Stat(path)
		if err != nil {
			continue
		}
		grew := fi.Size() != last
		last = fi.Size()
		if grew || fi.Size() <= done {
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		size := fi.Size() &^ 1 // whole samples
		cmd := exec.CommandContext(ctx, mm, "-q", "-t", "raw", "-a", "POCSAG512", "-a", "POCSAG1200", "-a", "POCSAG2400", "-")
		cmd.Stdin = io.NewSectionReader(f, done, size-done)
		out, err := cmd.Output()
		f.Close()
		if err != nil {
			log.Warn("multimon-ng failed on the demo transmitter's audio", "component", "demo", "err", err)
			return
		}
		done = size
		for _, line := range bytes.Split(out, []byte("\n")) {
			if m := multimonLine.FindSubmatch(line); m != nil {
				log.Info("multimon-ng decoded a page from the demo transmitter", "component", "demo", "rate", string(m[1]),
					"capcode", string(m[2]), "function", string(m[3]), "chars", len(bytes.TrimRight(m[4], "\x00")))
			}
		}
	}
}
