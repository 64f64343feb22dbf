package main

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"veil/attest"
	"veil/slalom"
)

// TestSlalomServeClient runs `veil slalom serve` (T, which starts D as its
// own child process) and `veil slalom client` as separate OS processes,
// with the simulated attester behind the insecure flag and a policy
// written here (this executable's measurement, the pinned platform key):
// the client attests T, sends 20 real Fashion-MNIST images and gets
// exactly the oracle's logits. A client pinning another model hash, or
// whose policy does not allow simulated evidence, is refused; serve
// refuses the simulated attester without the insecure flag, and the
// platform attester where there is no TEE.
func TestSlalomServeClient(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "trusted.platform.pem")
	key, _, err := attest.LoadOrCreateSimulatedKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	m, err := attest.SelfMeasurement() // serve runs this same executable
	if err != nil {
		t.Fatal(err)
	}
	writePolicy := func(name string, pol attest.Policy) string {
		b, err := pol.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	pub := []byte(key.Public().(ed25519.PublicKey))
	policy := writePolicy("policy.json", attest.Policy{Measurements: [][]byte{m}, InsecureAllowSimulated: true, SimulatedPlatformKeys: [][]byte{pub}})
	strict := writePolicy("strict.json", attest.Policy{Measurements: [][]byte{m}, SimulatedPlatformKeys: [][]byte{pub}})

	// The serve refusals come first. They must happen before anything
	// starts (an unusable --listen makes a serve that got further fail
	// with another error instead of serving).
	noListen := "256.0.0.1:1"
	out, err := veil(t, "slalom", "serve", lenet, "--verify", "--listen", noListen, "--attester", "simulated-insecure", "--platform-key-file", keyFile)
	if err == nil || !strings.Contains(err.Error(), "--insecure-simulated-attestation") {
		t.Fatalf("serve accepted the simulated attester without the insecure flag (err %v):\n%s", err, out)
	}
	if _, derr := attest.Detect(); derr != nil {
		out, err := veil(t, "slalom", "serve", lenet, "--verify", "--listen", noListen)
		if err == nil || !errors.Is(err, attest.ErrNoTEE) || !strings.Contains(err.Error(), "/dev/sev-guest") {
			t.Fatalf("serve --attester tee without a TEE: got %v\n%s", err, out)
		}
	}

	serve := exec.Command(os.Args[0], "slalom", "serve", lenet, "--verify", "--blind", "--listen", "127.0.0.1:0",
		"--attester", "simulated-insecure", "--insecure-simulated-attestation", "--platform-key-file", keyFile,
		"--write-policy", filepath.Join(dir, "written.json"))
	serve.Env = append(os.Environ(), "VEIL_TEST_AS_COMMAND=1")
	var serveErr bytes.Buffer
	serve.Stderr = &serveErr
	pipe, err := serve.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		// SIGTERM: serve stops its device child before it exits.
		serve.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { serve.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			serve.Process.Kill()
			<-done
		}
	}
	t.Cleanup(stop)
	line, err := bufio.NewReader(pipe).ReadString('\n')
	if err != nil {
		stop()
		t.Fatalf("serve: %v\n%s", err, serveErr.String())
	}
	if !strings.HasPrefix(line, "slalom service listening on ") {
		t.Fatalf("serve printed %q", line)
	}
	f := strings.Fields(line)
	addr := f[len(f)-1]

	// The oracle: the same model resolution and scales as serve.
	var sf slalomFlags
	g, _, err := slalomModel(&sf, lenet)
	if err != nil {
		t.Fatal(err)
	}
	p, err := slalomCompile(&sf, g, nil)
	if err != nil {
		t.Fatal(err)
	}
	shape, err := g.InputShape()
	if err != nil {
		t.Fatal(err)
	}
	ex, err := (&dataFlags{}).loadExamples(fashionT, 20, shape, g.Layout)
	if err != nil {
		t.Fatal(err)
	}
	mhash := hex.EncodeToString(p.Hash[:])

	client := exec.Command(os.Args[0], "slalom", "client", addr, "--policy", policy, "--model-hash", mhash,
		"--require-verify", "--require-blind", "--data", fashionT, "-n", "20", "--json")
	client.Env = append(os.Environ(), "VEIL_TEST_AS_COMMAND=1")
	var cout, cerr bytes.Buffer
	client.Stdout, client.Stderr = &cout, &cerr
	if err := client.Run(); err != nil {
		t.Fatalf("client: %v\n%s\n%s\nserve: %s", err, cout.String(), cerr.String(), serveErr.String())
	}
	var r struct {
		N           int       `json:"n"`
		ModelHash   string    `json:"model_hash"`
		Mode        string    `json:"mode"`
		K           int       `json:"k"`
		Predictions []int     `json:"predictions"`
		Outputs     [][]int64 `json:"outputs"`
		Refused     int       `json:"refused"`
		Attestation struct {
			Format      string `json:"format"`
			Measurement string `json:"measurement"`
		} `json:"attestation"`
	}
	if err := json.Unmarshal(cout.Bytes(), &r); err != nil {
		t.Fatalf("%v\n%s", err, cout.String())
	}
	if r.N != 20 || len(r.Outputs) != 20 || r.Refused != 0 || r.ModelHash != mhash || r.Mode != "private+verified" || r.K != slalom.Reps ||
		r.Attestation.Format != attest.FormatSimulated || r.Attestation.Measurement != hex.EncodeToString(m) {
		t.Fatalf("unexpected result: %s", cout.String())
	}
	for i, e := range ex {
		want, err := p.Oracle(e.Input)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(r.Outputs[i], want) || r.Predictions[i] != slalom.ArgMax(want) {
			t.Fatalf("image %d: T answered %v (class %d), the oracle %v", i, r.Outputs[i], r.Predictions[i], want)
		}
	}

	// --write-policy pins the same platform and executable.
	wp, err := attest.LoadPolicy(filepath.Join(dir, "written.json"))
	if err != nil || !wp.InsecureAllowSimulated || len(wp.Measurements) != 1 || !bytes.Equal(wp.Measurements[0], m) ||
		len(wp.SimulatedPlatformKeys) != 1 || !bytes.Equal(wp.SimulatedPlatformKeys[0], pub) {
		t.Fatalf("written policy %+v, %v", wp, err)
	}

	// Without a pin the client prints M; refusals name the problem.
	out, err = veil(t, "slalom", "client", addr, "--policy", policy, "--data", fashionT, "-n", "2")
	if err != nil || !strings.Contains(out, "not pinned: pass --model-hash "+mhash) {
		t.Fatalf("client without a pin: %v\n%s", err, out)
	}
	other := strings.Repeat("ab", 32)
	for _, c := range []struct {
		args   []string
		reject string
	}{
		{[]string{"--policy", policy, "--model-hash", other}, "not the pinned"},
		{[]string{"--policy", strict}, "simulated evidence refused"},
	} {
		out, err := veil(t, append(append([]string{"slalom", "client", addr}, c.args...), "--data", fashionT, "-n", "2")...)
		if err == nil || !strings.Contains(err.Error(), c.reject) || strings.Contains(out, "image 0") {
			t.Fatalf("client %v: got %v, want a refusal naming %q\n%s", c.args, err, c.reject, out)
		}
	}
	stop()
	if !strings.Contains(serveErr.String(), "stopped") {
		t.Errorf("serve did not stop cleanly:\n%s", serveErr.String())
	}
}

// TestSlalomPlatformKeyFile: the simulated platform key that serve
// creates is 0600; one behind a symbolic link, or readable by others, is
// refused (attest.LoadOrCreateSimulatedKey).
func TestSlalomPlatformKeyFile(t *testing.T) {
	dir := t.TempDir()
	logf := func(string, ...any) {}
	key := filepath.Join(dir, "platform.pem")
	if _, err := slalomAttester(attest.FormatSimulated, true, key, logf); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(key); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600) {
		t.Fatalf("created key: %v, %v", fi.Mode(), err)
	}
	if _, err := slalomAttester(attest.FormatSimulated, true, key, logf); err != nil {
		t.Fatalf("reload: %v", err)
	}
	link := filepath.Join(dir, "link.pem")
	if err := os.Symlink(key, link); err != nil {
		t.Skipf("no symbolic links: %v", err)
	}
	if _, err := slalomAttester(attest.FormatSimulated, true, link, logf); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("key through a symbolic link: %v", err)
	}
	dangling := filepath.Join(dir, "dangling.pem")
	os.Symlink(filepath.Join(dir, "nowhere.pem"), dangling)
	if _, err := slalomAttester(attest.FormatSimulated, true, dangling, logf); err == nil {
		t.Error("a key was created through a dangling symbolic link")
	}
	if _, err := os.Lstat(filepath.Join(dir, "nowhere.pem")); err == nil {
		t.Error("the dangling link's target was created")
	}
	if runtime.GOOS == "windows" {
		return
	}
	os.Chmod(key, 0o644)
	if _, err := slalomAttester(attest.FormatSimulated, true, key, logf); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("key readable by others: %v", err)
	}
}
