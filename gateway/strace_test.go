package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"pagebridge/gateway/wctp"
)

// TestRepliesFollowFdatasync attaches strace to the running daemon and
// proves from the system calls themselves that the store's file is
// fdatasync'ed and that every WCTP reply is written only after an
// fdatasync of the db file that started after its request had been read.
// (A SIGKILL leaves the page cache intact, so the kill test alone could not
// tell a commit from a write that never reached the disk.)
func TestRepliesFollowFdatasync(t *testing.T) {
	stracePath := requirePeer(t, "strace", "strace")
	const clients, perClient = 16, 40
	root := t.TempDir()
	d := startDemo(t, root)
	sender := demoSender(t, root)
	hc := httpClient(t, root, clients)
	pid := d.cmd.Process.Pid

	// Open every connection before tracing, so that all traced traffic on
	// them is WCTP requests and replies: no handshakes, no probes.
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := hc.Get(d.url("/healthz"))
			if err == nil {
				io.Copy(io.Discard, resp.Body) // drained, so the connection is kept
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()

	_, port, _ := net.SplitHostPort(d.addr)
	dbFD, sockets := procFDs(t, pid, port)
	if dbFD < 0 {
		t.Fatal("the daemon has no open pagebridge.db")
	}
	threads, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	out := filepath.Join(t.TempDir(), "strace.out")
	st := exec.Command(stracePath, "-f", "-tt", "-T", "-s", "0", "-e", "trace=read,write,fdatasync,fsync", "-o", out, "-p", strconv.Itoa(pid))
	st.SysProcAttr = dieWithTest
	stderr, err := st.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Start(); err != nil {
		t.Fatal(err)
	}
	defer st.Process.Kill()
	attached := 0
	var said []string
	sc := bufio.NewScanner(stderr)
	// strace says "Process N attached with M threads" once, or, older
	// versions, "Process N attached" per thread.
	for attached < len(threads) && sc.Scan() {
		said = append(said, sc.Text())
		if strings.Contains(sc.Text(), "attached with") {
			attached = len(threads)
		} else if strings.Contains(sc.Text(), "attached") {
			attached++
		}
	}
	if attached == 0 {
		// Typically kernel.yama.ptrace_scope forbids tracing a process
		// that is not one's own child.
		peerMissing(t, "strace could not attach to the daemon (as root, or with kernel.yama.ptrace_scope=0, it can): "+strings.Join(said, "; "))
	}
	go func() {
		for sc.Scan() {
		}
	}()

	var ok, failed atomic.Int64
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range perClient {
				ref := fmt.Sprintf("s-c%02d-%03d", c, n)
				resp, err := wctp.Submit(context.Background(), hc, d.url("/wctp"), page(sender, ref, "1003", "strace "+ref))
				if err != nil || !resp.Success {
					failed.Add(1)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	// A client whose connection was closed during the run opened another:
	// take its socket too (sockets are only ever added, and the bus's are
	// on other ports).
	_, after := procFDs(t, pid, port)
	for fd := range after {
		sockets[fd] = true
	}
	st.Process.Signal(syscall.SIGINT)
	st.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d of %d pages failed under strace", failed.Load(), clients*perClient)
	}

	rep := checkTrace(t, out, dbFD, sockets)
	t.Logf("traced %d WCTP replies: %d fdatasync calls on the db (fd %d; bbolt makes two per commit), %d replies checked, %d pages per fdatasync",
		ok.Load(), rep.syncs, dbFD, rep.replies, ok.Load()/max(1, int64(rep.syncs)))
	if rep.syncs == 0 {
		t.Fatal("the db file was never fdatasync'ed")
	}
	if rep.replies < int(ok.Load()) {
		t.Fatalf("found %d reply writes in the trace for %d acknowledged pages", rep.replies, ok.Load())
	}
	if len(rep.bad) > 0 {
		t.Fatalf("%d replies were not preceded by an fdatasync that started after their request, e.g.:\n%s",
			len(rep.bad), strings.Join(rep.bad[:min(5, len(rep.bad))], "\n"))
	}
}

// procFDs returns the daemon's fd for pagebridge.db and the set of its
// socket fds whose local port is port: the HTTPS connections, not the
// bus's (the demo's agent and the gateway talk MQTT in the same process).
func procFDs(t *testing.T, pid int, port string) (int, map[int]bool) {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	onPort := socketInodes(t, pid, port)
	db, socks := -1, map[int]bool{}
	for _, e := range ents {
		fd, _ := strconv.Atoi(e.Name())
		link, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		switch {
		case strings.HasSuffix(link, "/"+dbFile):
			db = fd
		case strings.HasPrefix(link, "socket:[") && fd > 2 && onPort[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")]:
			socks[fd] = true
		}
	}
	return db, socks
}

// socketInodes returns the inodes of the process's TCP sockets whose
// local port is port, from /proc/<pid>/net/tcp and tcp6.
func socketInodes(t *testing.T, pid int, port string) map[string]bool {
	t.Helper()
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(":%04X", p)
	out := map[string]bool{}
	for _, f := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, f))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fields := strings.Fields(line)
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			if len(fields) > 9 && strings.HasSuffix(fields[1], want) {
				out[fields[9]] = true
			}
		}
	}
	return out
}

type traceReport struct {
	syncs   int
	replies int
	bad     []string
}

var (
	// 1234 12:00:00.123456 write(9, ""..., 530) = 530 <0.000020>
	// 1234 12:00:00.123456 fdatasync(5)      = 0 <0.000569>
	reDone = regexp.MustCompile(`^(\d+)\s+(\d\d):(\d\d):(\d\d)\.(\d{6}) (\w+)\((\d+)(?:,.*)?\)\s+= (-?\d+).*<(\d+\.\d+)>$`)
	// 1234 12:00:00.123456 fdatasync(7 <unfinished ...>
	reStart = regexp.MustCompile(`^(\d+)\s+(\d\d):(\d\d):(\d\d)\.(\d{6}) (\w+)\((\d+)[,]? ?.*<unfinished \.\.\.>$`)
	// 1234 12:00:00.123456 <... fdatasync resumed>) = 0 <0.000213>
	reResumed = regexp.MustCompile(`^(\d+)\s+(\d\d):(\d\d):(\d\d)\.(\d{6}) <\.\.\. (\w+) resumed>.*\) = (-?\d+).*<(\d+\.\d+)>$`)
)

func traceTime(m []string) time.Duration {
	h, _ := strconv.Atoi(m[2])
	mi, _ := strconv.Atoi(m[3])
	s, _ := strconv.Atoi(m[4])
	us, _ := strconv.Atoi(m[5])
	return time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute + time.Duration(s)*time.Second + time.Duration(us)*time.Microsecond
}

func traceDur(s string) time.Duration {
	f, _ := strconv.ParseFloat(s, 64)
	return time.Duration(f * float64(time.Second))
}

// checkTrace reads an strace -f -tt -T log and checks every reply write on
// a connection against the fdatasync calls on the db.
func checkTrace(t *testing.T, path string, dbFD int, sockets map[int]bool) traceReport {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type call struct {
		name     string
		fd       int
		start    time.Duration
		end      time.Duration
		ret      int
		complete bool
	}
	var calls []call
	pending := map[string]int{} // pid → index of its unfinished call
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := reDone.FindStringSubmatch(line); m != nil {
			fd, _ := strconv.Atoi(m[7])
			ret, _ := strconv.Atoi(m[8])
			st := traceTime(m)
			calls = append(calls, call{m[6], fd, st, st + traceDur(m[9]), ret, true})
			continue
		}
		if m := reStart.FindStringSubmatch(line); m != nil {
			fd, _ := strconv.Atoi(m[7])
			pending[m[1]] = len(calls)
			calls = append(calls, call{name: m[6], fd: fd, start: traceTime(m)})
			continue
		}
		if m := reResumed.FindStringSubmatch(line); m != nil {
			i, ok := pending[m[1]]
			if !ok || calls[i].name != m[6] {
				continue
			}
			delete(pending, m[1])
			calls[i].ret, _ = strconv.Atoi(m[7])
			calls[i].end = traceTime(m)
			calls[i].complete = true
		}
	}
	// strace prints wall-clock times of day: a run across midnight wraps.
	for i := range calls {
		if len(calls) > 0 && calls[i].start < calls[0].start-12*time.Hour {
			calls[i].start += 24 * time.Hour
			calls[i].end += 24 * time.Hour
		}
	}
	var rep traceReport
	var syncs []call
	for _, c := range calls {
		if c.complete && c.fd == dbFD && c.ret == 0 && (c.name == "fdatasync" || c.name == "fsync") {
			syncs = append(syncs, c)
			if c.name == "fdatasync" {
				rep.syncs++
			}
		}
	}
	// A request has arrived when the read that returned it has ended. Order
	// by time, not by the log's line order: strace stamps a call when it
	// sees the call enter, and a read entered on one thread can finish after
	// a write on another has begun (it then returns the next request).
	readEnds := map[int][]time.Duration{} // socket fd → ends of its successful reads
	var writes []call
	for _, c := range calls {
		if !c.complete || !sockets[c.fd] || c.ret <= 0 {
			continue
		}
		switch c.name {
		case "read":
			readEnds[c.fd] = append(readEnds[c.fd], c.end)
		case "write":
			writes = append(writes, c)
		}
	}
	for _, ends := range readEnds {
		slices.Sort(ends)
	}
	for _, w := range writes {
		rep.replies++
		ends := readEnds[w.fd]
		i, _ := slices.BinarySearch(ends, w.start)
		if i == 0 {
			rep.bad = append(rep.bad, fmt.Sprintf("write on fd %d at %v with no request read before it", w.fd, w.start))
			continue
		}
		req := ends[i-1]
		found := false
		for _, s := range syncs {
			if s.start > req && s.end <= w.start {
				found = true
				break
			}
		}
		if !found {
			rep.bad = append(rep.bad, fmt.Sprintf("reply on fd %d at %v: request read by %v, no fdatasync of the db between", w.fd, w.start, req))
		}
	}
	return rep
}
