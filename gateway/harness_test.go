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

// The end-to-end tests run the real pagebridge binary, built once.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func pagebridgeBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pagebridge-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "pagebridge")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
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

// daemon is a pagebridge child process.
type daemon struct {
	t       *testing.T
	cmd     *exec.Cmd
	addr    string // host:port of the HTTPS listener
	tapAddr string // the demo agent's TAP line (TAP over TCP)
	root    string // demo directory
	stderr  *os.File
	done    chan struct{}
	err     error
}

// startDemo runs `pagebridge demo` on root with a free loopback port and
// waits for its listening lines. Logs go to root/logs/ so the at-rest test
// can search them too.
func startDemo(t *testing.T, root string, extra ...string) *daemon {
	t.Helper()
	bin := pagebridgeBinary(t)
	if err := os.MkdirAll(filepath.Join(root, "logs"), 0o700); err != nil {
		t.Fatal(err)
	}
	logf, err := os.OpenFile(filepath.Join(root, "logs", "stderr.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"demo", "-data", root, "-listen", "127.0.0.1:0"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stderr = logf
	cmd.SysProcAttr = dieWithTest
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, cmd: cmd, root: root, stderr: logf, done: make(chan struct{})}
	addrc := make(chan string, 1)
	go func() {
		// The address comes first; the demo banner once the demo
		// hospital is seeded and the daemon fully up.
		sc := bufio.NewScanner(out)
		var addr string
		running := false
		for sc.Scan() {
			line := sc.Text()
			if a, ok := strings.CutPrefix(line, "listening https "); ok {
				addr = a
			}
			if strings.HasPrefix(line, "Pagebridge demo is running") {
				running = true
			}
			// The TAP line comes in the banner after "running": the
			// daemon is fully up, its agent too.
			if a, ok := strings.CutPrefix(strings.TrimSpace(line), "TAP line"); ok && running {
				d.tapAddr, _, _ = strings.Cut(strings.TrimSpace(a), " ")
				addrc <- addr // publishes tapAddr to the test goroutine
			}
		}
		io.Copy(io.Discard, out)
	}()
	go func() {
		d.err = cmd.Wait()
		logf.Close()
		close(d.done)
	}()
	t.Cleanup(func() {
		d.kill()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("pagebridge stderr:\n%s", b)
		}
	})
	select {
	case d.addr = <-addrc:
	case <-d.done:
		log, _ := os.ReadFile(logf.Name())
		t.Fatalf("pagebridge exited before listening: %v\n%s", d.err, log)
	case <-time.After(60 * time.Second):
		t.Fatal("pagebridge did not start listening within 60s")
	}
	return d
}

// kill sends SIGKILL and waits for the process to be gone.
func (d *daemon) kill() {
	select {
	case <-d.done:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
}

// stop sends SIGTERM and waits for a clean exit.
func (d *daemon) stop() {
	d.t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(60 * time.Second):
		d.t.Fatal("pagebridge did not stop within 60s of SIGTERM")
	}
	if d.err != nil {
		log, _ := os.ReadFile(filepath.Join(d.root, "logs", "stderr.log"))
		d.t.Fatalf("pagebridge exited with %v after SIGTERM\n%s", d.err, log)
	}
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
// root/pagebridge.toml and calls fn for every message.
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
		fn(m)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// agentIdle reports whether every agent the gateway at url
// (/api/v1/agents) knows is online with nothing queued, in flight or held
// for the gateway.
func agentIdle(t *testing.T, hc *http.Client, url string) bool {
	t.Helper()
	resp, err := hc.Get(url)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var body struct {
		Agents []agentbus.AgentHealth `json:"agents"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || len(body.Agents) == 0 {
		return false
	}
	for _, a := range body.Agents {
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

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
