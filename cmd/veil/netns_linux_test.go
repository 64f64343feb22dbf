package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"veil/internal/bench"
	"veil/internal/testmodel"
)

// TestBenchInNetns makes the three hosts of scripts/netns (network
// namespaces linked through a bridge, every link shaped to the paper's
// 377 MBps) and runs veil bench --netns on the LeNet with both backends,
// each party in its own namespace, then the service: veil helper and
// veil serve in their namespaces from veil keygen --service's files, and
// veil infer (3pc) in the client's on 20 real images: every secure
// output checked. It skips, saying why, only where namespaces cannot be
// made (not root, no iproute2).
func TestBenchInNetns(t *testing.T) {
	script := filepath.Join(filepath.Dir(testmodel.Path(".")), "scripts", "netns")
	prefix := fmt.Sprintf("vt%d", os.Getpid())
	run := func(args ...string) ([]byte, error) {
		c := exec.Command(script, args...)
		c.Env = append(os.Environ(), "VEIL_NETNS="+prefix)
		return c.CombinedOutput()
	}
	if out, err := run("check"); err != nil {
		t.Skipf("network namespaces cannot be made here, so the parties cannot run as three hosts: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if out, err := run("up"); err != nil {
		t.Fatalf("scripts/netns up: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := run("down"); err != nil {
			t.Errorf("scripts/netns down: %v\n%s", err, out)
		}
	})
	for _, backend := range []string{"3pc", "2pc"} {
		out, err := veil(t, "bench", "--netns", prefix, "--backend", backend, "--json", "-n", "2", lenet)
		if err != nil {
			t.Fatalf("%s: %v\n%s", backend, err, out)
		}
		var r bench.Result
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%s: %v: %s", backend, err, out)
		}
		if !r.Verified || r.Inferences != 2 || r.Backend != backend {
			t.Errorf("%s through the namespaces: %+v", backend, r)
		}
		t.Logf("%s: LeNet through three namespaces at 377 MBps: %.1f ms per inference", backend, r.MsPerInference)
	}

	// The service: veil helper and veil serve in their namespaces, veil
	// infer in the client's, from the files veil keygen --service writes
	// for those hosts.
	dir := t.TempDir()
	prog := filepath.Join(dir, "lenet.vp")
	mustVeil(t, "compile", lenet, "--scale", fmt.Sprint(defaultScale), "-o", prog)
	keys := filepath.Join(dir, "deploy")
	mustVeil(t, "keygen", "--dir", keys, "--service", "--host", "server=10.77.0.2", "--host", "helper=10.77.0.3", "--model", "lenet="+prog)
	inNS := func(role string, args ...string) *exec.Cmd {
		c := exec.Command("ip", append([]string{"netns", "exec", prefix + "-" + role, os.Args[0]}, args...)...)
		c.Env = append(os.Environ(), "VEIL_TEST_AS_COMMAND=1")
		return c
	}
	for _, d := range []struct{ role, cmd, cfg string }{{"helper", "helper", "helper.json"}, {"server", "serve", "serve.json"}} {
		log := &lockedBuffer{}
		c := inNS(d.role, d.cmd, "--config", filepath.Join(keys, d.cfg))
		c.Stdout, c.Stderr = log, log
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
		waitFor(t, log, "serving")
	}
	c := inNS("client", "infer", "10.77.0.2:7300", "--model", "lenet", "--key", filepath.Join(keys, "client.key"), "--server-key", filepath.Join(keys, "server.crt"),
		"--backend", "3pc", "--helper-key", filepath.Join(keys, "helper.crt"), "--data", fashionT, "--limit", "20", "--json")
	out, err := c.Output()
	if err != nil {
		t.Fatalf("infer in the client's namespace: %v\n%s", err, out)
	}
	rep, _, _, _ := checkClientReport(t, out, prog, fashionT, "255", 20)
	t.Logf("the service through the namespaces (3pc): %d LeNet inferences checked in %.2f s", rep.N, rep.WallS)
}
