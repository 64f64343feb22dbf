package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSlalomDeviceProcess runs T here and D as a separate OS process (the
// test binary acting as veil, started by `veil slalom run` itself), over
// TLS with pinned keys, on 397 real test images in private + verified mode:
// every output equals the cleartext quantized reference.
func TestSlalomDeviceProcess(t *testing.T) {
	out, err := veil(t, "slalom", "run", "../../testdata/models/digits_mlp.onnx", "--verify", "--blind",
		"--data", "../../testdata/data/digits/test.csv", "--pixel-max", "16", "-n", "1000", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var r struct {
		N        int     `json:"n"`
		Equal    int     `json:"equal_to_reference"`
		Verified bool    `json:"verified"`
		Mode     string  `json:"mode"`
		Accuracy float64 `json:"accuracy"`
	}
	if !strings.Contains(out, "{") {
		t.Fatalf("no JSON:\n%s", out)
	}
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if r.N != 397 || r.Equal != r.N || !r.Verified || r.Mode != "private+verified" || r.Accuracy < 0.95 {
		t.Fatalf("unexpected result %+v", r)
	}
}

// TestSlalomPinnedDevice: `veil slalom device` started by hand with keys
// from `veil slalom keygen` serves `run --device`; T refuses a device
// whose key is not the pinned one.
func TestSlalomPinnedDevice(t *testing.T) {
	dir := t.TempDir()
	keys, other := filepath.Join(dir, "keys"), filepath.Join(dir, "other")
	for _, d := range []string{keys, other} {
		if out, err := veil(t, "slalom", "keygen", "--dir", d); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	start := func(keyDir string) string {
		cmd := exec.Command(os.Args[0], "slalom", "device", "--listen", "127.0.0.1:0", "--keys", keyDir)
		cmd.Env = append(os.Environ(), "VEIL_TEST_AS_COMMAND=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		pipe, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		line, err := bufio.NewReader(pipe).ReadString('\n')
		if err != nil {
			t.Fatalf("device: %v %s", err, stderr.String())
		}
		f := strings.Fields(line)
		return f[len(f)-1]
	}
	addr := start(keys)
	out, err := veil(t, "slalom", "run", "../../testdata/models/fashion_lenet.onnx", "--verify",
		"--data", "../../testdata/data/fashion-mnist/test", "-n", "30", "--device", addr, "--keys", keys)
	if err != nil || !strings.Contains(out, "30/30 outputs equal the cleartext quantized reference") {
		t.Fatalf("%v\n%s", err, out)
	}
	// A device holding another key is refused by T's pin check.
	bad := start(other)
	out, err = veil(t, "slalom", "run", "../../testdata/models/fashion_lenet.onnx", "--verify", "-n", "1", "--device", bad, "--keys", keys)
	if err == nil || !strings.Contains(err.Error(), "pinned") {
		t.Fatalf("T accepted a device with an unpinned key (err %v):\n%s", err, out)
	}
}

// TestSlalomBenchJSON: bench --json prints one object with the fields the
// issue names.
func TestSlalomBenchJSON(t *testing.T) {
	out, err := veil(t, "slalom", "bench", "../../testdata/models/fashion_lenet.onnx", "--verify", "--blind", "--runs", "1", "--json", "-q")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, k := range []string{"model", "mode", "trusted_cpu_s", "baseline_cpu_s", "offline_cpu_s", "verified"} {
		if _, ok := m[k]; !ok {
			t.Errorf("bench --json lacks %q: %s", k, out)
		}
	}
	if m["verified"] != true || m["mode"] != "private+verified" {
		t.Errorf("bench: %s", out)
	}
}
