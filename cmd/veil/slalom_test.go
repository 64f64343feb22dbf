package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"veil/internal/testmodel"
)

// TestSlalomDeviceProcess runs T here and D as a separate OS process (the
// test binary acting as veil, started by `veil slalom run` itself), over
// TLS with pinned keys, on 397 real test images in private + verified mode:
// every output equals the cleartext quantized reference.
func TestSlalomDeviceProcess(t *testing.T) {
	out, err := veil(t, "slalom", "run", testmodel.Path("models/digits_mlp.onnx"), "--verify", "--blind",
		"--data", testmodel.Path("data/digits/test.csv"), "--pixel-max", "16", "-n", "1000", "--json")
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
	out, err := veil(t, "slalom", "run", testmodel.Path("models/fashion_lenet.onnx"), "--verify",
		"--data", testmodel.Path("data/fashion-mnist/test"), "-n", "30", "--device", addr, "--keys", keys)
	if err != nil || !strings.Contains(out, "30/30 outputs equal the cleartext quantized reference") {
		t.Fatalf("%v\n%s", err, out)
	}
	// A device holding another key is refused by T's pin check.
	bad := start(other)
	out, err = veil(t, "slalom", "run", testmodel.Path("models/fashion_lenet.onnx"), "--verify", "-n", "1", "--device", bad, "--keys", keys)
	if err == nil || !strings.Contains(err.Error(), "the key pinned for the device") {
		t.Fatalf("T accepted a device with an unpinned key (err %v):\n%s", err, out)
	}
}

// TestSlalomBenchJSON: bench --json prints one object with the fields the
// issue names.
func TestSlalomBenchJSON(t *testing.T) {
	out, err := veil(t, "slalom", "bench", testmodel.Path("models/fashion_lenet.onnx"), "--verify", "--blind", "--runs", "1", "--json", "-q")
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

// TestSlalomKeygenFiles: veil slalom keygen refuses to replace keys
// (leaving every file as it was, mode included), refuses to write
// through a symbolic link, and makes the keys 0600 in a 0700 directory.
func TestSlalomKeygenFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	if out, err := veil(t, "slalom", "keygen", "--dir", dir); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if runtime.GOOS != "windows" {
		for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "trusted.key"): 0o600, filepath.Join(dir, "device.key"): 0o600} {
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
				t.Errorf("%s: mode %v, want %v (%v)", path, fi.Mode().Perm(), want, err)
			}
		}
	}
	read := func(d string) map[string]string {
		m := map[string]string{}
		for _, f := range []string{"trusted.key", "trusted.pub", "device.key", "device.pub"} {
			b, _ := os.ReadFile(filepath.Join(d, f))
			m[f] = string(b)
		}
		return m
	}
	before := read(dir)
	if out, err := veil(t, "slalom", "keygen", "--dir", dir); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("keygen over existing keys: %v\n%s", err, out)
	}
	if after := read(dir); !maps.Equal(before, after) {
		t.Fatal("existing keys were replaced")
	}

	// Only the device's key is there, world-readable: nothing is written
	// and its mode stays.
	partial := t.TempDir()
	os.WriteFile(filepath.Join(partial, "device.key"), []byte("old"), 0o644)
	if _, err := veil(t, "slalom", "keygen", "--dir", partial); err == nil {
		t.Fatal("keygen replaced a 0644 key")
	}
	if _, err := os.Lstat(filepath.Join(partial, "trusted.key")); err == nil {
		t.Error("keygen wrote T's key although it refused the device's")
	}

	// A symbolic link where a key goes is not written through.
	linked := t.TempDir()
	target := filepath.Join(t.TempDir(), "stolen.key")
	if err := os.Symlink(target, filepath.Join(linked, "trusted.key")); err != nil {
		t.Skipf("no symbolic links: %v", err)
	}
	if _, err := veil(t, "slalom", "keygen", "--dir", linked); err == nil {
		t.Fatal("keygen wrote through a symbolic link")
	}
	if _, err := os.Lstat(target); err == nil {
		t.Fatal("keygen created the link's target")
	}
}
