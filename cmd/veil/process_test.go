package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"veil/fixed"
	"veil/internal/bench"
	"veil/internal/testmodel"
	"veil/mpc/session"
)

// TestMain lets the test binary act as the veil command, so that tests
// can start parties as separate OS processes without building anything.
func TestMain(m *testing.M) {
	if os.Getenv("VEIL_TEST_AS_COMMAND") == "1" {
		if spec := os.Getenv("VEIL_TEST_TAMPER"); spec != "" {
			testInterpose = tamperer(spec)
		}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// veilProcess starts the veil command (this test binary) as a process,
// its standard output and error to stdout.
func veilProcess(t *testing.T, stdout io.Writer, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "VEIL_TEST_AS_COMMAND=1")
	cmd.Stdout, cmd.Stderr = stdout, stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// partyJSON returns a party's JSON output; with simulated attestation the
// party must first have printed the warning (on stderr, merged here).
func partyJSON(t *testing.T, role string, out []byte, simulated bool) []byte {
	t.Helper()
	if !simulated {
		return out
	}
	warn, rest, _ := bytes.Cut(out, []byte("\n"))
	if !bytes.Contains(warn, []byte("WARNING: simulated attestation")) {
		t.Fatalf("the %s ran simulated attestation without the warning: %.200s", role, out)
	}
	return rest
}

// partySetup makes keys, a loopback config (keygen with keygenFlags) and
// a program compiled from model at the default scale.
func partySetup(t *testing.T, model string, keygenFlags ...string) (cfg, prog string) {
	t.Helper()
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	if out, err := veil(t, append([]string{"keygen", "--dir", keys, "--loopback"}, keygenFlags...)...); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	prog = filepath.Join(dir, "model.vp")
	if out, err := veil(t, "compile", model, "--scale", fmt.Sprint(defaultScale), "-o", prog); err != nil {
		t.Fatalf("compile: %v\n%s", err, out)
	}
	return filepath.Join(keys, "parties.json"), prog
}

// TestPartiesAsProcesses runs the client, the server and the helper as
// three OS processes over TLS on every bundled model and checks the
// client's secure outputs against the cleartext fixed-point executor on
// real test images (at least 500, or the whole test set where it is
// smaller): same top-1, logits within the propagated truncation bound.
func TestPartiesAsProcesses(t *testing.T) {
	cases := []struct {
		model, data string
		pixelMax    string
		n           int
		compare     string
	}{
		{"fashion_lenet.onnx", "fashion-mnist/test", "255", 500, "fast"},
		{"fashion_lenet.onnx", "fashion-mnist/test", "255", 500, "porthos"},
		{"digits_mlp.onnx", "digits/test.csv", "16", 397, "fast"},
		{"mnist_resnet.onnx", "mnist/test", "255", 500, "fast"},
		{"fashion_lenet.onnx", "fashion-mnist/test", "255", 500, "malicious"},
	}
	for _, c := range cases {
		t.Run(c.model+"/"+c.compare, func(t *testing.T) {
			var cfg, prog string
			mode := []string{"party", "--compare=" + c.compare}
			if c.compare == "malicious" {
				cfg, prog = partySetup(t, testmodel.Path("models/"+c.model), "--malicious", "--insecure-simulated-attestation")
				mode = []string{"party", "--malicious", "--insecure-simulated-attestation"}
			} else {
				cfg, prog = partySetup(t, testmodel.Path("models/"+c.model))
			}
			data := testmodel.Path("data/" + c.data)
			var sout, hout, cout bytes.Buffer
			server := veilProcess(t, &sout, append(mode, "--role", "server", "--config", cfg, "--program", prog, "--json")...)
			helper := veilProcess(t, &hout, append(mode, "--role", "helper", "--config", cfg, "--json")...)
			client := veilProcess(t, &cout, append(mode, "--role", "client", "--config", cfg, "--data", data,
				"--pixel-max", c.pixelMax, "--limit", fmt.Sprint(c.n), "--json")...)
			waitParties(t, map[string]*exec.Cmd{"client": client, "server": server, "helper": helper},
				map[string]*bytes.Buffer{"client": &cout, "server": &sout, "helper": &hout})
			res, xs, maxDev, maxBound := checkClientReport(t, partyJSON(t, "client", cout.Bytes(), c.compare == "malicious"), prog, data, c.pixelMax, c.n)
			t.Logf("%s (%s): %d images through three processes, all top-1 agree; max logit deviation %.0f units (bound up to %.0f); client sent %d bytes in %d rounds",
				c.model, c.compare, len(xs), maxDev, maxBound, res.BytesSent, res.Rounds)
			for name, out := range map[string]*bytes.Buffer{"server": &sout, "helper": &hout} {
				var r session.PartyReport
				if err := json.Unmarshal(partyJSON(t, name, out.Bytes(), c.compare == "malicious"), &r); err != nil || r.N != c.n || len(r.Predictions) != 0 || r.BytesSent == 0 {
					t.Errorf("%s reported %q (%v)", name, out.String(), err)
				}
			}
		})
	}
}

// TestBench runs veil bench on two bundled models (parties as processes)
// and checks its JSON report.
func TestBench(t *testing.T) {
	out, err := veil(t, "bench", "--json", lenet, digitsMLP)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	var rs []bench.Result
	for dec.More() {
		var r bench.Result
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("bench printed %q: %v", out, err)
		}
		rs = append(rs, r)
	}
	if len(rs) != 2 {
		t.Fatalf("%d results", len(rs))
	}
	for _, r := range rs {
		if !r.Verified || r.WallS <= 0 || r.MsFirst <= 0 || r.BytesTotal != r.BytesSent[0]+r.BytesSent[1]+r.BytesSent[2] || r.Rounds == 0 ||
			r.PeakRSS <= 0 || r.ReluCount == 0 || r.Comparisons < r.ReluCount || r.CPUS[1] <= 0 {
			t.Errorf("bench result %+v", r)
		}
	}
	if rs[0].Network != "fashion_lenet" || rs[0].ReluCount != 1780 || rs[0].Comparisons != 6508 {
		t.Errorf("LeNet: network %q, %d ReLUs, %d comparisons; want fashion_lenet, 1780, 6508", rs[0].Network, rs[0].ReluCount, rs[0].Comparisons)
	}
}

// TestBenchLatency runs veil bench with an emulated one-way latency of
// 30 ms on every link: the output still verified, the latency reported,
// and no inference of the two (each needs a message from the other
// party online) faster than the latency.
func TestBenchLatency(t *testing.T) {
	out, err := veil(t, "bench", "--json", "--backend", "2pc", "--latency", "30ms", "-n", "2", "logreg")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	var r bench.Result
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("bench printed %q: %v", out, err)
	}
	if !r.Verified || r.LatencyMs != 30 || r.MsPerInference < 30 {
		t.Errorf("verified %v, latency %v ms, %v ms an inference; want verified, 30 ms and at least 30 ms", r.Verified, r.LatencyMs, r.MsPerInference)
	}
	if _, err := veil(t, "bench", "--latency", "-5ms", "logreg"); err == nil || !strings.Contains(err.Error(), "--latency -5ms: a latency cannot be negative") {
		t.Errorf("a negative latency: %v", err)
	}
}

// TestBenchBatch runs veil bench on the bundled LeNet built for a batch
// of three images: three times the comparisons of one, verified, and
// the throughput counted per image.
func TestBenchBatch(t *testing.T) {
	out, err := veil(t, "bench", "--json", "--batch", "3", lenet)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	var r bench.Result
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("bench printed %q: %v", out, err)
	}
	if !r.Verified || r.Batch != 3 || r.ReluCount != 3*1780 || r.Comparisons != 3*6508 {
		t.Errorf("batch %d, %d ReLUs, %d comparisons, verified %v; want 3, %d, %d, true", r.Batch, r.ReluCount, r.Comparisons, r.Verified, 3*1780, 3*6508)
	}
	if want := 3000 / r.MsPerInference; math.Abs(r.ExamplesPerS-want) > 1e-9*want {
		t.Errorf("%g examples/s at %g ms an inference of 3, want %g", r.ExamplesPerS, r.MsPerInference, want)
	}
	if _, err := veil(t, "bench", "--batch", "2", "vit"); err == nil || !strings.Contains(err.Error(), "does not take a batch of 2") {
		t.Errorf("a batch of ViT: %v, want a refusal", err)
	}
}

// twoPartyImages is how many test images TestTwoPartiesAsProcesses runs
// per model (the full acceptance run: -twopc.images=500).
var twoPartyImages = flag.Int("twopc.images", 12, "images per bundled model through the 2PC party processes")

// TestTwoPartiesAsProcesses runs the client and the server of the 2PC
// backend as two OS processes over TLS (no helper) on every bundled model
// and checks the client's outputs against the cleartext fixed-point
// executor on real test images: same top-1, every logit within its
// propagated truncation bound. The programs carry the comparison bound
// traced on the first 64 images.
func TestTwoPartiesAsProcesses(t *testing.T) {
	cases := []struct {
		model, data string
		pixelMax    string
		max         int // images in the test set
	}{
		{"fashion_lenet.onnx", "fashion-mnist/test", "255", 10000},
		{"digits_mlp.onnx", "digits/test.csv", "16", 397},
		{"mnist_resnet.onnx", "mnist/test", "255", 10000},
	}
	for _, c := range cases {
		t.Run(c.model, func(t *testing.T) {
			n := min(*twoPartyImages, c.max)
			data := testmodel.Path("data/" + c.data)
			cfg, prog := partySetup(t, testmodel.Path("models/"+c.model), "--parties", "2")
			// Recompile with the comparison bound traced on 64 images.
			if out, err := veil(t, "compile", testmodel.Path("models/"+c.model), "--scale", fmt.Sprint(defaultScale),
				"--data", data, "--pixel-max", c.pixelMax, "--limit", "64", "-o", prog); err != nil {
				t.Fatalf("compile: %v\n%s", err, out)
			}
			var sout, cout bytes.Buffer
			mode := []string{"party", "--backend", "2pc", "--config", cfg, "--json"}
			server := veilProcess(t, &sout, append(mode, "--role", "server", "--program", prog)...)
			client := veilProcess(t, &cout, append(mode, "--role", "client", "--data", data, "--pixel-max", c.pixelMax, "--limit", fmt.Sprint(n))...)
			waitParties(t, map[string]*exec.Cmd{"client": client, "server": server}, map[string]*bytes.Buffer{"client": &cout, "server": &sout})
			res, xs, maxDev, maxBound := checkClientReport(t, cout.Bytes(), prog, data, c.pixelMax, n)
			t.Logf("%s (2pc): %d images through two processes, all top-1 agree; max logit deviation %.0f units (bound up to %.0f); client sent %d bytes, %.1f ms per image",
				c.model, len(xs), maxDev, maxBound, res.BytesSent, res.MsMedian)
			var sr session.PartyReport
			if err := json.Unmarshal(sout.Bytes(), &sr); err != nil || sr.N != n || len(sr.Predictions) != 0 {
				t.Errorf("server reported %q (%v)", sout.String(), err)
			}
		})
	}
}

// waitParties waits for every party process and fails with everything
// they printed if one failed.
func waitParties(t *testing.T, procs map[string]*exec.Cmd, outs map[string]*bytes.Buffer) {
	t.Helper()
	for name, p := range procs {
		if err := p.Wait(); err != nil {
			var all strings.Builder
			for who, out := range outs {
				fmt.Fprintf(&all, "\n%s: %s", who, out.String())
			}
			t.Fatalf("%s: %v%s", name, err, all.String())
		}
	}
}

// checkClientReport reads the client's JSON report and checks its
// predictions for the first n images of data (pixels divided by
// pixelMax) against the cleartext executor of the program file prog (see
// checkSecureOutputs). It returns the report, the images and the largest
// deviation and bound.
func checkClientReport(t *testing.T, report []byte, prog, data, pixelMax string, n int) (session.PartyReport, []fixed.Example, float64, float64) {
	t.Helper()
	var res session.PartyReport
	if err := json.Unmarshal(report, &res); err != nil {
		t.Fatalf("client output %q: %v", report, err)
	}
	p, err := fixed.ReadFile(prog)
	if err != nil {
		t.Fatal(err)
	}
	pm, _ := strconv.ParseFloat(pixelMax, 64)
	df := dataFlags{pixelMax: pm}
	xs, err := df.loadExamples(data, n, p.InputShape(), p.InputLayout())
	if err != nil {
		t.Fatal(err)
	}
	if len(xs) != n {
		t.Fatalf("%d images, want %d", len(xs), n)
	}
	outs := make([][]float64, len(res.Predictions))
	for i, pr := range res.Predictions {
		outs[i] = pr.Output
	}
	maxDev, maxBound := checkSecureOutputs(t, p, xs, outs)
	return res, xs, maxDev, maxBound
}
