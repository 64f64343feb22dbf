//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer a process writes to while the test
// reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestServeAndInfer runs veil serve as a process with the digits MLP
// under a name and an admission file, runs veil infer against it twice
// (each time a session of real test images, checked against the
// cleartext executor: same top-1, logits within the propagated bound),
// checks that a client whose key is not admitted and a wrong program pin
// are refused with errors that say so, and stops the server with
// SIGTERM: it drains and exits cleanly.
func TestServeAndInfer(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	mustVeil(t, "keygen", "--dir", keys, "--parties", "2", "--loopback")
	strangers := filepath.Join(dir, "strangers")
	mustVeil(t, "keygen", "--dir", strangers, "--parties", "2", "--loopback")
	prog := filepath.Join(dir, "mlp.vp")
	mustVeil(t, "compile", digitsMLP, "--scale", fmt.Sprint(defaultScale), "-o", prog)
	clientCrt, err := os.ReadFile(filepath.Join(keys, "client.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "clients.pem"), clientCrt, 0o600); err != nil {
		t.Fatal(err)
	}
	addr, ops := freeAddr(t), freeAddr(t)
	cfg := fmt.Sprintf(`{"listen": %q, "key": "keys/server.key", "models": {"digits": "mlp.vp"}, "clients": "clients.pem", "max_sessions": 2, "timeout": "20s", "metrics": %q}`, addr, ops)
	cfgPath := filepath.Join(dir, "serve.json")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, log := startDaemon(t, "serve", "--config", cfgPath, "--drain", "10s")
	infer := func(key string, extra ...string) (string, error) {
		args := append([]string{"infer", addr, "--model", "digits", "--key", key, "--server-key", filepath.Join(keys, "server.crt"),
			"--data", digitsT, "--pixel-max", "16", "--limit", "20", "--json"}, extra...)
		return veil(t, args...)
	}
	for range 2 {
		out, err := infer(filepath.Join(keys, "client.key"))
		if err != nil {
			t.Fatalf("infer: %v\n%s\nserver: %s", err, out, log.String())
		}
		var rep inferReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("infer --json: %v: %s", err, out)
		}
		if rep.N != 20 || len(rep.Predictions) != 20 || rep.Model != "digits" || len(rep.Program) != 64 {
			t.Fatalf("%d inferences, %d predictions of %q (%s); want 20 of digits", rep.N, len(rep.Predictions), rep.Model, rep.Program)
		}
		// The same JSON names as veil party's client report.
		checkClientReport(t, []byte(out), prog, digitsT, "16", 20)
	}
	if out, err := infer(filepath.Join(strangers, "client.key")); err == nil {
		t.Errorf("a client the admission file does not list was served: %s", out)
	}
	out, err := infer(filepath.Join(keys, "client.key"), "--program", strings.Repeat("ab", 32))
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("a wrong program pin: %v, want a refusal\n%s", err, out)
	}
	// The server counts a session a moment after its client returns.
	var body []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + ops + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), "veil_service_inferences_total 40") {
			break
		}
	}
	if !strings.Contains(string(body), "veil_service_inferences_total 40") {
		t.Errorf("/metrics does not count the 40 inferences:\n%.2000s", body)
	}
	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v\n%s", err, log.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not stop after SIGTERM\n%s", log.String())
	}
	for _, want := range []string{"session", "inferences=20", "stopped"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the server's log lacks %q:\n%s", want, log.String())
		}
	}
}

// startDaemon starts veil serve or veil helper (this test binary) with
// args and waits until it serves.
func startDaemon(t *testing.T, args ...string) (*exec.Cmd, *lockedBuffer) {
	t.Helper()
	log := &lockedBuffer{}
	c := veilProcess(t, log, args...)
	waitFor(t, log, "serving")
	return c, log
}

// TestServeThreeParties runs veil helper and veil serve (backend 3pc)
// as processes and veil infer --backend 3pc against them: real test
// images checked against the cleartext executor; a client that pins
// another helper key is refused.
func TestServeThreeParties(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	mustVeil(t, "keygen", "--dir", keys, "--parties", "3", "--loopback")
	prog := filepath.Join(dir, "mlp.vp")
	mustVeil(t, "compile", digitsMLP, "--scale", fmt.Sprint(defaultScale), "-o", prog)
	addr, haddr := freeAddr(t), freeAddr(t)
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	hcfg := write("helper.json", fmt.Sprintf(`{"listen": %q, "key": "keys/helper.key", "servers": "keys/server.crt", "timeout": "20s"}`, haddr))
	scfg := write("serve.json", fmt.Sprintf(`{"listen": %q, "key": "keys/server.key", "models": {"digits": "mlp.vp"}, "clients": "any", "timeout": "20s",
		"backend": "3pc", "helper": {"addr": %q, "cert": "keys/helper.crt"}}`, addr, haddr))
	_, hlog := startDaemon(t, "helper", "--config", hcfg)
	_, srvLog := startDaemon(t, "serve", "--config", scfg)
	infer := func(helperKey string) (string, error) {
		return veil(t, "infer", addr, "--model", "digits", "--key", filepath.Join(keys, "client.key"), "--server-key", filepath.Join(keys, "server.crt"),
			"--backend", "3pc", "--helper-key", helperKey, "--data", digitsT, "--pixel-max", "16", "--limit", "20", "--json")
	}
	out, err := infer(filepath.Join(keys, "helper.crt"))
	if err != nil {
		t.Fatalf("infer: %v\n%s\nserver: %s\nhelper: %s", err, out, srvLog.String(), hlog.String())
	}
	checkClientReport(t, []byte(out), prog, digitsT, "16", 20)
	if out, err := infer(filepath.Join(keys, "client.crt")); err == nil {
		t.Errorf("a client pinning another helper key was served: %s", out)
	}
	waitFor(t, hlog, "inferences=20") // the helper's record of the session
}

// TestKeygenService writes the daemons' files with veil keygen --service
// for named hosts (here loopback addresses with their ports) and runs
// veil helper, veil serve and veil infer from them as they are, but for
// the operations address, moved to a free port.
func TestKeygenService(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "mlp.vp")
	mustVeil(t, "compile", digitsMLP, "--scale", fmt.Sprint(defaultScale), "-o", prog)
	keys := filepath.Join(dir, "deploy")
	addr, haddr := freeAddr(t), freeAddr(t)
	out, err := veil(t, "keygen", "--dir", keys, "--service", "--host", "server="+addr, "--host", "helper="+haddr, "--model", "digits="+prog)
	if err != nil {
		t.Fatalf("keygen --service: %v\n%s", err, out)
	}
	scfg := filepath.Join(keys, "serve.json")
	b, err := os.ReadFile(scfg)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["backend"] != "3pc" || m["clients"] != "clients.pem" || m["metrics"] != "127.0.0.1:9300" {
		t.Errorf("serve.json: %s", b)
	}
	// The operations endpoints to free ports, then the files as written.
	for _, cfg := range []string{scfg, filepath.Join(keys, "helper.json")} {
		b, err := os.ReadFile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if m["metrics"] == nil {
			t.Errorf("%s has no operations endpoints", cfg)
		}
		m["metrics"] = freeAddr(t)
		b, _ = json.Marshal(m)
		if err := os.WriteFile(cfg, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	startDaemon(t, "helper", "--config", filepath.Join(keys, "helper.json"))
	startDaemon(t, "serve", "--config", scfg)
	out, err = veil(t, "infer", addr, "--model", "digits", "--key", filepath.Join(keys, "client.key"), "--server-key", filepath.Join(keys, "server.crt"),
		"--backend", "3pc", "--helper-key", filepath.Join(keys, "helper.crt"), "--data", digitsT, "--pixel-max", "16", "--limit", "10", "--json")
	if err != nil {
		t.Fatalf("infer: %v\n%s", err, out)
	}
	checkClientReport(t, []byte(out), prog, digitsT, "16", 10)
	// Without --model, and with a conflicting flag, keygen --service refuses.
	for _, args := range [][]string{
		{"keygen", "--dir", t.TempDir(), "--service", "--host", "server=" + addr, "--host", "helper=" + haddr},
		{"keygen", "--dir", t.TempDir(), "--service", "--loopback", "--model", "digits=" + prog},
		{"keygen", "--dir", t.TempDir(), "--service", "--host", "server=" + addr, "--model", "digits=" + prog},
	} {
		if out, err := veil(t, args...); err == nil {
			t.Errorf("%v: succeeded\n%s", args, out)
		}
	}
}
