package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"veil/fixed"
	"veil/internal/testmodel"
)

var (
	lenet     = testmodel.Path("models/fashion_lenet.onnx")
	fashionV  = testmodel.Path("data/fashion-mnist/val")
	fashionT  = testmodel.Path("data/fashion-mnist/test")
	fashionPN = testmodel.Path("data/fashion-png")
	digitsMLP = testmodel.Path("models/digits_mlp.onnx")
	digitsT   = testmodel.Path("data/digits/test.csv")
)

// mustVeil runs the CLI in-process and returns what it printed, failing
// the test, with the output, on an error.
func mustVeil(t *testing.T, args ...string) string {
	t.Helper()
	out, err := veil(t, args...)
	if err != nil {
		t.Fatalf("veil %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// veil runs the CLI in-process and returns what it printed.
func veil(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestInfoListsOpsAndShapes(t *testing.T) {
	out, err := veil(t, "info", lenet)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Conv", "MaxPool", "[1×6×28×28]", "61706 parameters", "2 ReLU/MaxPool swaps saving 4728 of 6508 ReLUs", "peak live activations"} {
		if !strings.Contains(out, want) {
			t.Errorf("info output lacks %q:\n%s", want, out)
		}
	}
}

func TestCompileThenEvalProgram(t *testing.T) {
	prog := filepath.Join(t.TempDir(), "lenet.vp")
	out, err := veil(t, "compile", lenet, "--data", fashionV, "--limit", "300", "--scales", "6:14", "-o", prog)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"scale sweep on 300", "← chosen", "ScaleDowns: 5", "wrote"} {
		if !strings.Contains(out, want) {
			t.Errorf("compile output lacks %q:\n%s", want, out)
		}
	}
	out, err = veil(t, "eval", prog, "--data", fashionT, "--limit", "500", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res evalResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("eval --json printed %q: %v", out, err)
	}
	if res.N != 500 || res.Backend != "fixed" || res.Accuracy < 0.85 || res.Accuracy > 1 || res.Scale < 6 || res.Scale > 14 {
		t.Errorf("eval result %+v", res)
	}
	out, err = veil(t, "info", prog)
	if err != nil || !strings.Contains(out, "fixed acc") {
		t.Errorf("info on a program: %v\n%s", err, out)
	}
}

func TestPredictImages(t *testing.T) {
	var imgs []string
	for c := 0; c < 10; c++ {
		m, _ := filepath.Glob(filepath.Join(fashionPN, string(rune('0'+c)), "*.png"))
		imgs = append(imgs, m...)
	}
	if len(imgs) < 20 {
		t.Fatalf("only %d sample images under %s", len(imgs), fashionPN)
	}
	byBackend := map[string][]prediction{}
	for _, backend := range []string{"float", "fixed", "3pc"} {
		out, err := veil(t, append([]string{"predict", lenet, "--json", "--backend", backend}, imgs...)...)
		if err != nil {
			t.Fatal(err)
		}
		var preds []prediction
		if err := json.Unmarshal([]byte(out), &preds); err != nil {
			t.Fatal(err)
		}
		byBackend[backend] = preds
		right := 0
		for _, p := range preds {
			label := filepath.Base(filepath.Dir(p.Image))
			if len(p.Output) != 10 {
				t.Fatalf("%s: %d outputs", p.Image, len(p.Output))
			}
			if string(rune('0'+p.Top1)) == label {
				right++
			}
		}
		if right*10 < len(preds)*7 {
			t.Errorf("%s: only %d of %d sample images classified right", backend, right, len(preds))
		}
	}
	// 3PC prints what the cleartext fixed-point program computes, up to
	// the truncations' last bits.
	for i, p := range byBackend["3pc"] {
		q := byBackend["fixed"][i]
		if p.Top1 != q.Top1 {
			t.Errorf("%s: 3pc top-1 %d, fixed %d", p.Image, p.Top1, q.Top1)
		}
		for j := range p.Output {
			if d := math.Abs(p.Output[j] - q.Output[j]); d > 0.05 {
				t.Errorf("%s output %d: 3pc %g, fixed %g", p.Image, j, p.Output[j], q.Output[j])
			}
		}
	}
}

// TestUsageErrorsExitTwo checks that errors in how veil is called exit
// with status 2 and others with status 1.
func TestUsageErrorsExitTwo(t *testing.T) {
	img := filepath.Join(fashionPN, "0", "19.png")
	cases := []struct {
		args   []string
		status int
	}{
		{[]string{"predict", "--bogus", lenet, img}, 2},
		{[]string{"predict", lenet}, 2},
		{[]string{"predict", lenet, img, "--backend", "gpu"}, 2},
		{[]string{"info"}, 2},
		{[]string{"predict", lenet, img, "--mean", "1,2"}, 2},
		{[]string{"predict", filepath.Join(t.TempDir(), "none.onnx"), img}, 1},
	}
	for _, c := range cases {
		_, err := veil(t, c.args...)
		if got := exitStatus(err); got != c.status {
			t.Errorf("veil %v: exit status %d (error %v), want %d", c.args, got, err, c.status)
		}
	}
}

func TestBadInputGivesClearErrors(t *testing.T) {
	dir := t.TempDir()
	lenetBytes, err := os.ReadFile(lenet)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	truncated := write("truncated.onnx", lenetBytes[:len(lenetBytes)/2])
	garbage := write("garbage.onnx", []byte("this is not a model"))
	badProg := write("bad.vp", []byte("VEILPROG\x01\x00\x00\x00\xff\xff\x00\x00{"))
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"missing model", []string{"info", filepath.Join(dir, "nope.onnx")}, []string{"nope.onnx"}},
		{"unknown format", []string{"info", write("model.txt", []byte("x"))}, []string{"unknown model format"}},
		{"truncated onnx", []string{"info", truncated}, []string{"truncated.onnx"}},
		{"garbage onnx", []string{"info", garbage}, []string{"garbage.onnx"}},
		{"corrupt program", []string{"eval", badProg, "--data", fashionT}, []string{"bad.vp", "truncated"}},
		{"wrong image size", []string{"eval", lenet, "--data", digitsT}, []string{"8×8", "[1×1×28×28]"}},
		{"wrong input shape", []string{"info", lenet, "--input-shape", "1,1,2,2"}, []string{"Conv"}},
		{"bad backend", []string{"eval", lenet, "--data", fashionT, "--backend", "gpu"}, []string{"--backend"}},
		{"program as float", []string{"eval", write("p.vp", compileTo(t, dir)), "--data", fashionT, "--backend", "float"}, []string{"compiled program"}},
		{"missing shard", []string{"info", tfjsWithoutShards(t, dir)}, []string{"group1-shard"}},
		{"bad scale", []string{"compile", lenet, "--scale", "99", "-o", filepath.Join(dir, "x.vp")}, []string{"--scale"}},
		{"no output", []string{"compile", lenet}, []string{"-o"}},
		{"missing data", []string{"eval", lenet, "--data", filepath.Join(dir, "none")}, []string{"none"}},
		{"no data flag", []string{"eval", lenet}, []string{"--data"}},
		{"unlabelled folder", []string{"eval", lenet, "--data", flatFolder(t, dir)}, []string{"no label", "DIR/LABEL/IMAGE.png"}},
		{"single image as data", []string{"eval", lenet, "--data", filepath.Join(fashionPN, "0", "19.png")}, []string{"no label"}},
		{"mean of wrong length", []string{"predict", lenet, filepath.Join(fashionPN, "0", "19.png"), "--mean", "0.1,0.2"}, []string{"--mean", "2 values", "1 channel"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := veil(t, c.args...)
			if err == nil {
				t.Fatalf("veil %v succeeded:\n%s", c.args, out)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// flatFolder returns a folder of images without class sub-folders.
func flatFolder(t *testing.T, dir string) string {
	t.Helper()
	flat := filepath.Join(dir, "flat")
	if err := os.MkdirAll(flat, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(fashionPN, "0", "19.png"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a.png", "b.png"} {
		if err := os.WriteFile(filepath.Join(flat, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return flat
}

// compileTo compiles the LeNet at a fixed scale and returns the file's
// bytes.
func compileTo(t *testing.T, dir string) []byte {
	t.Helper()
	p := filepath.Join(dir, "ok.vp")
	if _, err := veil(t, "compile", lenet, "--scale", "12", "-o", p); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConvertTFJSToGraphDef(t *testing.T) {
	pb := filepath.Join(t.TempDir(), "nsfw.pb")
	if _, err := veil(t, "convert", nsfwModel, "-o", pb); err != nil {
		t.Fatal(err)
	}
	a, err := veil(t, "info", nsfwModel)
	if err != nil {
		t.Fatal(err)
	}
	b, err := veil(t, "info", pb)
	if err != nil {
		t.Fatal(err)
	}
	last := func(s string) string { // the summary lines: op counts, parameters
		lines := strings.Split(strings.TrimSpace(s), "\n")
		return strings.Join(lines[len(lines)-3:], "\n")
	}
	if last(a) != last(b) || !strings.Contains(last(a), "Conv×52") {
		t.Errorf("TF.js and GraphDef import differ:\n%s\n---\n%s", last(a), last(b))
	}
	if _, err := veil(t, "convert", nsfwModel, "-o", pb, "--unfuse"); err != nil {
		t.Fatal(err)
	}
	// Unfused, the biases are Adds of their own; the parameters are the same.
	if u, err := veil(t, "info", pb); err != nil {
		t.Fatal(err)
	} else if params := strings.Split(last(a), "\n")[1]; !strings.Contains(u, params) || !strings.Contains(u, "Conv×52") {
		t.Errorf("unfused GraphDef import differs from TF.js (%s):\n%s", params, last(u))
	}
	if _, err := veil(t, "convert", lenet, "-o", pb); err == nil || !strings.Contains(err.Error(), "TF.js") {
		t.Errorf("convert of an ONNX model: %v", err)
	}
}

// tfjsWithoutShards copies the bundled TF.js model.json alone into a new
// directory and returns it.
func tfjsWithoutShards(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(nsfwModel, "model.json"))
	if err != nil {
		t.Fatal(err)
	}
	d := filepath.Join(dir, "noshards")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "model.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestEvalFixedWithoutValUsesDefaultScale(t *testing.T) {
	out, err := veil(t, "eval", lenet, "--data", fashionT, "--limit", "200", "--backend", "fixed", "--json")
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(out, "{")
	var res evalResult
	if i < 0 || json.Unmarshal([]byte(out[i:]), &res) != nil {
		t.Fatalf("no JSON in %q", out)
	}
	if res.Scale != defaultScale || res.N != 200 || res.FloatAccuracy == 0 || res.Agreement < 0.95 {
		t.Errorf("eval result %+v", res)
	}
}

// TestBackendOption: --backend-option reaches the backend (2PC over
// IKNP, ot-k=1, agrees with the cleartext executor), and a malformed or
// unknown option is a usage error naming it.
func TestBackendOption(t *testing.T) {
	out, err := veil(t, "demo", "-n", "2", "--model", lenet, "--data", fashionT, "--backend", "2pc", "--backend-option", "ot-k=1")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "agree on 2 of 2 images") {
		t.Errorf("2PC over IKNP: %s", out)
	}
	for _, c := range []struct{ opt, want string }{
		{"ot-k", `"ot-k": want KEY=VALUE`},
		{"=4", `"=4": want KEY=VALUE`},
		{"foo=1", `backend 2pc has no option "foo"`},
	} {
		_, err := veil(t, "demo", "-n", "1", "--model", lenet, "--data", fashionT, "--backend", "2pc", "--backend-option", c.opt)
		if err == nil || !strings.Contains(err.Error(), c.want) || exitStatus(err) != 2 {
			t.Errorf("--backend-option %s: %v (exit %d), want a usage error with %q", c.opt, err, exitStatus(err), c.want)
		}
	}
}

// TestCompileZoo checks veil compile zoo:NETWORK: the network bench
// runs, written as a program; an unknown name is an error naming it.
func TestCompileZoo(t *testing.T) {
	out := filepath.Join(t.TempDir(), "logreg.vp")
	if msg, err := veil(t, "compile", "zoo:logreg", "-o", out); err != nil {
		t.Fatalf("%v\n%s", err, msg)
	}
	p, err := fixed.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "logreg" || !p.WeightsComplete() || p.Scale != defaultScale {
		t.Errorf("program %q, scale %d, weights %v", p.Name, p.Scale, p.WeightsComplete())
	}
	if msg, err := veil(t, "compile", "zoo:nope", "-o", out); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("zoo:nope: %v\n%s", err, msg)
	}
}
