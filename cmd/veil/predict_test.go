package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"veil/data"
	"veil/fixed"
	"veil/fixed/fixedtest"
	"veil/ir"
	"veil/mpc/session"
)

// twoInputProgram writes a compiled program of two inputs (a [1×4],
// b [1×2×4]) and three outputs (relu = Relu(a + b), prod = a·b, max =
// the maximum of b over its last axis).
func twoInputProgram(t *testing.T, dir string) string {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	g := fixedtest.TwoInputGraph(t)
	p, err := fixed.Compile(g, 12)
	must(err)
	path := filepath.Join(dir, "two.vp")
	must(p.WriteFile(path))
	return path
}

// twoInputFiles writes the inputs of twoInputProgram: a as a.npy, b as
// b.csv; want are the program's outputs for them.
func twoInputFiles(t *testing.T, dir string) (npy, csv string, want map[string][]float64) {
	t.Helper()
	npy = filepath.Join(dir, "a.npy")
	f, err := os.Create(npy)
	if err != nil {
		t.Fatal(err)
	}
	if err := data.WriteNPY(f, []float32{1, -2, 3, -4}, []int{1, 4}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	csv = filepath.Join(dir, "b.csv")
	if err := os.WriteFile(csv, []byte("0.5, 0.25, -1, 2\n-3, 1.5, 0, 7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return npy, csv, map[string][]float64{
		"relu": {1.5, 0, 2, 0, 0, 0, 3, 3},
		"prod": {0.5, -0.5, -3, -8, -3, -3, 0, -28},
		"max":  {2, 7},
	}
}

// TestPredictNamedInputsAndOutputs feeds a program of two inputs from a
// .npy and a .csv file by name, in the clear and in 3PC, and checks every
// output printed with its name and shape.
func TestPredictNamedInputsAndOutputs(t *testing.T) {
	dir := t.TempDir()
	prog := twoInputProgram(t, dir)
	npy, csv, want := twoInputFiles(t, dir)
	for _, backend := range []string{"fixed", "3pc"} {
		out, err := veil(t, "predict", prog, "--input", "b="+csv, "--input", "a="+npy, "--backend", backend, "--json")
		if err != nil {
			t.Fatalf("%s: %v\n%s", backend, err, out)
		}
		var preds []prediction
		if err := json.Unmarshal([]byte(out), &preds); err != nil {
			t.Fatal(err)
		}
		if len(preds) != 1 || len(preds[0].Outputs) != 3 {
			t.Fatalf("%s: %s", backend, out)
		}
		for _, o := range preds[0].Outputs {
			w := want[o.Name]
			if len(o.Values) != len(w) || o.Shape.Size() != len(w) {
				t.Fatalf("%s: output %s %v holds %d values, want %d", backend, o.Name, o.Shape, len(o.Values), len(w))
			}
			for i := range w {
				if math.Abs(o.Values[i]-w[i]) > 0.01 {
					t.Errorf("%s: output %s[%d] = %g, want %g", backend, o.Name, i, o.Values[i], w[i])
				}
			}
		}
	}
	out, err := veil(t, "predict", prog, "--input", "a="+npy, "--input", "b="+csv, "--output", "max", "--backend", "fixed")
	if err != nil || !strings.Contains(out, "output 2 7") {
		t.Fatalf("--output max: %v\n%s", err, out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--input", "a=" + csv}, "8 values"},
		{[]string{"--input", "a=" + npy}, "no value for the model's input b"},
		{[]string{"--input", "c=" + csv}, `no input "c"`},
		{[]string{"--input", csv}, "write NAME=FILE"},
		{[]string{npy}, "give each with --input"},
		{[]string{"--input", "a=" + npy, "--input", "b=" + csv, "--output", "nope"}, `no output of that name`},
	} {
		args := append([]string{"predict", prog, "--backend", "fixed"}, c.args...)
		if _, err := veil(t, args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("veil %v: error %v, want one saying %q", c.args, err, c.want)
		}
	}
}

// TestProgramRecordsPreprocessing compiles with a normalization, then
// predicts from the program without the flags: the program's recorded
// preprocessing applies (the outputs equal those of the model given the
// flags), and a flag that contradicts it is a usage error.
func TestProgramRecordsPreprocessing(t *testing.T) {
	prog := filepath.Join(t.TempDir(), "lenet.vp")
	norm := []string{"--mean", "0.5", "--std", "2"}
	if out, err := veil(t, append([]string{"compile", lenet, "--scale", "12", "-o", prog}, norm...)...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	img := filepath.Join(fashionPN, "0", "19.png")
	fromProgram, err := veil(t, "predict", prog, img, "--backend", "fixed", "--json")
	if err != nil {
		t.Fatal(err)
	}
	fromFlags, err := veil(t, append([]string{"predict", lenet, img, "--backend", "fixed", "--json", "--scale", "12"}, norm...)...)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := veil(t, "predict", lenet, img, "--backend", "fixed", "--json", "--scale", "12")
	if err != nil {
		t.Fatal(err)
	}
	if fromProgram != fromFlags || fromProgram == plain {
		t.Fatalf("program's preprocessing not applied:\nprogram %s\nflags   %s\nplain   %s", fromProgram, fromFlags, plain)
	}
	_, err = veil(t, "predict", prog, img, "--backend", "fixed", "--mean", "0.1")
	if err == nil || exitStatus(err) != 2 || !strings.Contains(err.Error(), "--mean 0.1 contradicts program") {
		t.Fatalf("a contradicting --mean: %v", err)
	}
	if _, err := veil(t, "eval", prog, "--data", fashionT, "--limit", "20"); err != nil {
		t.Fatalf("eval of the program without its flags: %v", err)
	}
}

// symbolicModel is a TF.js graph model of y = x·k + b with x of shape
// [?, ?] (an int32 input), k a second input of shape [1, ?] and b an
// input that the command line binds to a constant.
const symbolicModel = `{
  "format": "graph-model",
  "modelTopology": {"node": [
    {"name": "x", "op": "Placeholder", "attr": {"dtype": {"type": "DT_INT32"},
      "shape": {"shape": {"dim": [{"size": "-1"}, {"size": "-1"}]}}}},
    {"name": "k", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"},
      "shape": {"shape": {"dim": [{"size": "1"}, {"size": "-1"}]}}}},
    {"name": "b", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"},
      "shape": {"shape": {"dim": []}}}},
    {"name": "f", "op": "Cast", "input": ["x"], "attr": {"SrcT": {"type": "DT_INT32"}, "DstT": {"type": "DT_FLOAT"}}},
    {"name": "m", "op": "Mul", "input": ["f", "k"], "attr": {"T": {"type": "DT_FLOAT"}}},
    {"name": "y", "op": "AddV2", "input": ["m", "b"], "attr": {"T": {"type": "DT_FLOAT"}}}
  ], "versions": {"producer": 175}},
  "weightsManifest": []
}`

// TestPredictSymbolicInputs fixes a model's open dimensions from the
// .npy data given for an input and by --input-shape NAME=DIMS, feeds an
// integer input and binds a third input to a constant with --input-const.
func TestPredictSymbolicInputs(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "model.json")
	if err := os.WriteFile(m, []byte(symbolicModel), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "x.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if err := data.WriteNPY(f, []float32{1, 2, 3, 4, 5, 6}, []int{2, 3}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	k := filepath.Join(dir, "k.csv")
	if err := os.WriteFile(k, []byte("10 20 30\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := veil(t, "predict", m, "--input", "x="+filepath.Join(dir, "x.npy"), "--input", "k="+k,
		"--input-shape", "k=1,3", "--input-const", "b=0.5", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var preds []prediction
	if err := json.Unmarshal([]byte(out), &preds); err != nil {
		t.Fatal(err)
	}
	want := []float64{10.5, 40.5, 90.5, 40.5, 100.5, 180.5}
	got := preds[0].Outputs[0]
	if !got.Shape.Equal(ir.Shape{2, 3}) {
		t.Fatalf("output shape %v, want [2×3]", got.Shape)
	}
	for i, w := range want {
		if got.Values[i] != w {
			t.Fatalf("outputs %v, want %v", got.Values, want)
		}
	}
	// Without k's shape the model leaves a dimension open: an error that
	// says how to give it.
	if _, err := veil(t, "predict", m, "--input", "x="+filepath.Join(dir, "x.npy"), "--input", "k="+k, "--input-const", "b=0.5"); err == nil || !strings.Contains(err.Error(), "--input-shape NAME=DIMS") {
		t.Fatalf("open dimension: %v", err)
	}
}

// TestPartyNamedInputs runs a program of two inputs and three outputs
// with the parties as processes, the client's inputs given by name
// (--input NAME=FILE), and checks every output the client reports; the
// other roles refuse inputs.
func TestPartyNamedInputs(t *testing.T) {
	dir := t.TempDir()
	prog := twoInputProgram(t, dir)
	npy, csv, want := twoInputFiles(t, dir)
	keys := filepath.Join(dir, "keys")
	if out, err := veil(t, "keygen", "--dir", keys, "--loopback"); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	cfg := filepath.Join(keys, "parties.json")
	var sout, hout, cout bytes.Buffer
	server := veilProcess(t, &sout, "party", "--role", "server", "--config", cfg, "--program", prog, "--json")
	helper := veilProcess(t, &hout, "party", "--role", "helper", "--config", cfg, "--json")
	client := veilProcess(t, &cout, "party", "--role", "client", "--config", cfg, "--input", "b="+csv, "--input", "a="+npy, "--json")
	for name, p := range map[string]*exec.Cmd{"client": client, "server": server, "helper": helper} {
		if err := p.Wait(); err != nil {
			t.Fatalf("%s: %v\nclient: %s\nserver: %s\nhelper: %s", name, err, cout.String(), sout.String(), hout.String())
		}
	}
	var rep session.PartyReport
	if err := json.Unmarshal(cout.Bytes(), &rep); err != nil {
		t.Fatalf("client output %q: %v", cout.String(), err)
	}
	if len(rep.Predictions) != 1 {
		t.Fatalf("%d predictions, want 1: %s", len(rep.Predictions), cout.String())
	}
	got := map[string][]float64{"relu": rep.Predictions[0].Output}
	for name, v := range rep.Predictions[0].More {
		got[name] = v
	}
	for name, w := range want {
		g := got[name]
		if len(g) != len(w) {
			t.Fatalf("output %s: %d values, want %d (%s)", name, len(g), len(w), cout.String())
		}
		for i := range w {
			if math.Abs(g[i]-w[i]) > 0.01 {
				t.Errorf("output %s[%d] = %g, want %g", name, i, g[i], w[i])
			}
		}
	}
	out, err := veil(t, "party", "--role", "helper", "--config", cfg, "--input", "a="+npy)
	if err == nil || !strings.Contains(err.Error(), "only the client takes inputs") {
		t.Errorf("a helper given --input: %v\n%s", err, out)
	}
	out, err = veil(t, "party", "--role", "client", "--config", cfg, "--input", "a="+npy, csv)
	if err == nil || exitStatus(err) != 2 || !strings.Contains(err.Error(), "not both") {
		t.Errorf("a client given --input and an IMAGE: %v\n%s", err, out)
	}
}
