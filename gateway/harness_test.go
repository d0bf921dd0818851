package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"pagebridge/gateway/agentbus"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/wctp"
)

// The end-to-end tests run the real binaries, each built once into one
// temporary directory.
var (
	binDirOnce sync.Once
	binDir     string
	binDirErr  error
	builds     sync.Map // package path → *build
)

type build struct {
	once sync.Once
	path string
	err  error
}

// binary builds the command in pkg (relative to this package) as name,
// once per test run.
func binary(t *testing.T, pkg, name string) string {
	t.Helper()
	binDirOnce.Do(func() { binDir, binDirErr = os.MkdirTemp("", "pagebridge-bin-") })
	if binDirErr != nil {
		t.Fatal(binDirErr)
	}
	v, _ := builds.LoadOrStore(pkg, &build{})
	b := v.(*build)
	b.once.Do(func() {
		b.path = filepath.Join(binDir, name)
		if out, err := exec.Command("go", "build", "-o", b.path, pkg).CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

func pagebridgeBinary(t *testing.T) string { return binary(t, ".", "pagebridge") }

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// requirePeer skips a test whose external tool is missing, or fails it when
// PAGEBRIDGE_REQUIRE_PEERS=1 (CI), so a missing install step is never
// hidden by a skip.
func requirePeer(t *testing.T, tool, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err == nil {
		return p
	}
	peerMissing(t, fmt.Sprintf("%s not found (Debian package %s): install it to run this test", tool, pkg))
	return ""
}

// peerMissing skips the test, or fails it under PAGEBRIDGE_REQUIRE_PEERS=1.
func peerMissing(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("PAGEBRIDGE_REQUIRE_PEERS") == "1" {
		t.Fatal(msg + "; PAGEBRIDGE_REQUIRE_PEERS=1 makes this a failure")
	}
	t.Skip(msg)
}

// dieWithTest makes a child get SIGKILL when the test binary dies, so a
// test that times out leaves no daemon or tracer behind.
var dieWithTest = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}

// proc is a daemon child process. Its stdout and stderr go, line by line,
// to a log file.
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// containing is a ready test for startProc: the line holds s.
func containing(s string) func(string) bool {
	return func(line string) bool { return strings.Contains(line, s) }
}

// startProc starts bin with args and waits until ready accepts a line of
// its output (stdout or stderr). ready runs on the reading goroutine, for
// every line until it accepts one; what it records before accepting is
// the caller's to read once startProc returns. The process is killed when
// the test ends; its log is printed if the test failed.
func startProc(t *testing.T, name, bin, logPath string, ready func(line string) bool, args ...string) *proc {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(logf, "---- %s start %s\n", name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = dieWithTest
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	var (
		mu      sync.Mutex // the log file and ready
		isReady bool
		readyc  = make(chan struct{})
		readers sync.WaitGroup
	)
	for _, r := range []io.Reader{stdout, stderr} {
		readers.Add(1)
		go func() {
			defer readers.Done()
			sc := bufio.NewScanner(r)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				mu.Lock()
				fmt.Fprintln(logf, sc.Text())
				if !isReady && ready(sc.Text()) {
					isReady = true
					close(readyc)
				}
				mu.Unlock()
			}
			io.Copy(io.Discard, r)
		}()
	}
	go func() {
		readers.Wait() // both pipes read to the end before Wait closes them
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 20000 {
				b = b[len(b)-20000:]
			}
			t.Logf("%s log %s:\n%s", name, logPath, b)
		}
	})
	select {
	case <-readyc:
		return p
	case <-p.done:
		b, _ := os.ReadFile(logPath)
		t.Fatalf("%s exited at start: %v\n%s", name, p.err, b)
	case <-time.After(60 * time.Second):
		t.Fatalf("%s not ready within 60s", name)
	}
	return nil
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop() {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		p.t.Fatalf("%s did not stop within 60s of SIGTERM", p.name)
	}
	if p.err != nil {
		b, _ := os.ReadFile(p.log)
		p.t.Fatalf("%s exited with %v after SIGTERM\n%s", p.name, p.err, b)
	}
}

// daemon is a `pagebridge demo` child process.
type daemon struct {
	*proc
	addr    string // host:port of the HTTPS listener
	tapAddr string // the demo agent's TAP line (TAP over TCP)
	root    string // demo directory
}

// startDemo runs `pagebridge demo` on root with a free loopback port and
// waits for its banner. Logs go to root/logs/ so the at-rest test can
// search them too.
func startDemo(t *testing.T, root string, extra ...string) *daemon {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(root, "logs"), 0o700); err != nil {
		t.Fatal(err)
	}
	d := &daemon{root: root}
	running := false
	// The address comes first; the banner once the demo hospital is seeded
	// and the daemon fully up, its TAP line (the agent's) after "running".
	ready := func(line string) bool {
		if a, ok := strings.CutPrefix(line, "listening https "); ok {
			d.addr = a
		}
		if strings.HasPrefix(line, "Pagebridge demo is running") {
			running = true
		}
		a, ok := strings.CutPrefix(strings.TrimSpace(line), "TAP line")
		if ok && running {
			d.tapAddr, _, _ = strings.Cut(strings.TrimSpace(a), " ")
		}
		return ok && running
	}
	args := append([]string{"demo", "-data", root, "-listen", "127.0.0.1:0"}, extra...)
	d.proc = startProc(t, "pagebridge", pagebridgeBinary(t), filepath.Join(root, "logs", "stderr.log"), ready, args...)
	return d
}

func (d *daemon) url(path string) string { return "https://" + d.addr + path }

// httpClient trusts the demo's self-signed certificate.
func httpClient(t *testing.T, root string, conns int) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(root, "data", "tls-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, ServerName: "localhost"},
		MaxIdleConnsPerHost: conns,
	}}
}

// demoSender reads the WCTP sender the demo configured.
func demoSender(t *testing.T, root string) WCTPSender {
	t.Helper()
	cfg, err := LoadConfig(filepath.Join(root, demoConfigName))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.WCTP.Senders[0]
}

func page(s WCTPSender, ref, pager, text string) wctp.SubmitRequest {
	return wctp.SubmitRequest{SenderID: s.ID, SecurityCode: s.SecurityCode, MessageID: ref,
		RecipientID: pager, Text: paging.NewPHI(text)}
}

// storedRefs opens the stopped demo's store and returns every stored
// message's sender reference, with its text.
func storedRefs(t *testing.T, root string) map[string]string {
	t.Helper()
	refs := map[string]string{}
	eachStored(t, root, func(m *paging.Message) { refs[m.SenderRef] = m.Text.Reveal() })
	return refs
}

// storedTexts opens the stopped demo's store and counts the stored
// messages by text.
func storedTexts(t *testing.T, root string) map[string]int {
	t.Helper()
	out := map[string]int{}
	eachStored(t, root, func(m *paging.Message) { out[m.Text.Reveal()]++ })
	return out
}

// eachStored opens the store of the stopped gateway whose config is
// root/pagebridge.toml and calls fn for every message but the demo's
// sample pages.
func eachStored(t *testing.T, root string, fn func(*paging.Message)) {
	t.Helper()
	cfg, err := LoadConfig(filepath.Join(root, demoConfigName))
	if err != nil {
		t.Fatal(err)
	}
	st, err := openStore(cfg.Storage, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.Messages(context.Background(), paging.AuditEvent{Actor: "test", Action: "message.read", Source: "e2e"}, func(m *paging.Message) error {
		if !strings.HasPrefix(m.SenderRef, demoSampleRef) {
			fn(m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// demoToken is the demo's admin API token.
func demoToken(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, demoTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// agentIdle reports whether every agent the gateway at url
// (/api/v1/agents, with an API token) knows is online with nothing queued, in flight or held
// for the gateway.
func agentIdle(t *testing.T, hc *http.Client, url, token string) bool {
	t.Helper()
	agents := agentsHealth(t, hc, url, token)
	if len(agents) == 0 {
		return false
	}
	for _, a := range agents {
		busy := a.Pending + a.InFlight
		for _, d := range a.Devices {
			busy += d.Queue
		}
		if a.State != "online" || busy > 0 {
			return false
		}
	}
	return true
}

// agentsHealth reads /api/v1/agents at url; nil if the gateway does not
// answer.
func agentsHealth(t *testing.T, hc *http.Client, url, token string) []agentbus.AgentHealth {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var body struct {
		Agents []agentbus.AgentHealth `json:"agents"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil
	}
	return body.Agents
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
