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
// each party in its own namespace: every secure output verified. It
// skips, saying why, only where namespaces cannot be made (not root, no
// iproute2).
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
}
