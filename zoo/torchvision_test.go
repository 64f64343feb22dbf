package zoo

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"veil/data"
	"veil/ir"
	"veil/model/onnx"
)

// torchvisionModels maps the files scripts/torchvision/export.py writes to
// the zoo networks built in Go with the same structure.
var torchvisionModels = []struct{ file, zoo string }{
	{"mobilenet_v3_small", "mobilenetv3small"},
	{"efficientnet_b0", "efficientnetb0"},
	{"googlenet", "googlenet"},
	{"shufflenet_v2_x1_0", "shufflenetv2"},
	{"vit_ti_16", "vit"},
}

// TestTorchvision checks the torchvision exports of
// scripts/torchvision/export.py in the directory VEIL_TORCHVISION names
// (the .onnx files are too big to commit):
//
//   - each imports, and the float interpreter's output on the exported
//     input equals PyTorch's within 1e-4 of the largest logit;
//   - each compiles to fixed point at scale 12 (with ranges traced on
//     random inputs and the exported one) and the cleartext executor stays
//     within 2% of the float output;
//   - the zoo network built in Go has the same structure: the same
//     convolution, MatMul and parameter counts as the import, the same op
//     counts after ir.Optimize, and the same multiply-adds, ReLUs and
//     comparisons after compilation (those of LayerNorm's rsqrt depend on
//     its traced range: within 0.1% for the ViT).
//
// Without VEIL_TORCHVISION it is skipped (saying so); with it, a missing
// file is a failure.
//
//	/usr/bin/python3 scripts/torchvision/export.py /tmp/veil-torchvision
//	VEIL_TORCHVISION=/tmp/veil-torchvision go test ./zoo -run Torchvision -v
func TestTorchvision(t *testing.T) {
	dir := os.Getenv("VEIL_TORCHVISION")
	if dir == "" {
		t.Skip("VEIL_TORCHVISION is not set: export the models with scripts/torchvision/export.py DIR and run with VEIL_TORCHVISION=DIR")
	}
	for _, m := range torchvisionModels {
		t.Run(m.zoo, func(t *testing.T) {
			path := filepath.Join(dir, m.file)
			g, err := onnx.Load(path+".onnx", onnx.Options{})
			if err != nil {
				t.Fatal(err)
			}
			x, xs, err := readNpy(path + ".input.npy")
			if err != nil {
				t.Fatal(err)
			}
			want, _, err := readNpy(path + ".output.npy")
			if err != nil {
				t.Fatal(err)
			}
			if in := g.Values[g.Inputs[0]].Shape; !in.Equal(xs) {
				t.Fatalf("model input %v, reference input %v", in, xs)
			}
			outs, err := ir.Run(g, map[string]*ir.Tensor{g.Inputs[0]: ir.FloatTensor(xs, x)})
			if err != nil {
				t.Fatal(err)
			}
			got := outs[0].Floats()
			if len(got) != len(want) {
				t.Fatalf("%d outputs, PyTorch gave %d", len(got), len(want))
			}
			var big, diff float64
			for i := range want {
				big = math.Max(big, math.Abs(float64(want[i])))
				diff = math.Max(diff, math.Abs(float64(got[i]-want[i])))
			}
			t.Logf("float: max |PyTorch| %.3g, max |veil − PyTorch| %.3g (%.2g relative)", big, diff, diff/big)
			if diff > 1e-4*big {
				t.Errorf("float output differs from PyTorch's by %.3g, more than 1e-4 of %.3g", diff, big)
			}

			n, err := Lookup(m.zoo)
			if err != nil {
				t.Fatal(err)
			}
			z, err := n.Build(1)
			if err != nil {
				t.Fatal(err)
			}
			if si, sz := summarize(g), summarize(z); si != sz {
				t.Errorf("torchvision: %+v; zoo: %+v", si, sz)
			}
			if _, err := ir.Optimize(g); err != nil {
				t.Fatal(err)
			}
			if _, err := ir.Optimize(z); err != nil {
				t.Fatal(err)
			}
			if ci, cz := ir.FormatOpCounts(g.OpCounts()), ir.FormatOpCounts(z.OpCounts()); ci != cz {
				t.Errorf("ops after ir.Optimize:\ntorchvision %s\nzoo         %s", ci, cz)
			}
			p, err := compile(g, 12)
			if err != nil {
				t.Fatal(err)
			}
			y, err := p.Predict(x)
			if err != nil {
				t.Fatal(err)
			}
			var fdiff float64
			for i := range want {
				fdiff = math.Max(fdiff, math.Abs(y[i]-float64(got[i])))
			}
			t.Logf("fixed point (scale 12): max |fixed − float| %.3g", fdiff)
			if fdiff > 0.02*math.Max(1, big) {
				t.Errorf("fixed point at scale 12 is off by %.3g (outputs up to %.3g)", fdiff, big)
			}
			q, err := compile(z, 12)
			if err != nil {
				t.Fatal(err)
			}
			// The comparisons of a reciprocal or rsqrt depend on the range
			// traced for it (the octaves of its first guess), which
			// depends on the weights: equal within 0.1% there.
			si, sz := p.Stats, q.Stats
			cmpTol := 0.0
			if len(ranged(g)) > 0 {
				cmpTol = 1e-3
			}
			if si.MACs != sz.MACs || si.ReluElems != sz.ReluElems || math.Abs(float64(si.Comparisons-sz.Comparisons)) > cmpTol*float64(si.Comparisons) {
				t.Errorf("compiled: torchvision %d MACs, %d ReLUs, %d comparisons; zoo %d, %d, %d",
					si.MACs, si.ReluElems, si.Comparisons, sz.MACs, sz.ReluElems, sz.Comparisons)
			}
			t.Logf("%d MACs, %d ReLUs, %d comparisons", si.MACs, si.ReluElems, si.Comparisons)
		})
	}
}

// ranged returns the nodes of g whose secure form needs a traced range.
func ranged(g *ir.Graph) []string {
	var names []string
	for _, n := range g.Nodes {
		switch n.Op {
		case ir.OpReciprocal, ir.OpSqrt, ir.OpRsqrt, ir.OpExp:
			names = append(names, n.Name)
		case ir.OpDiv:
			if g.Const(n.Inputs[1]) == nil {
				names = append(names, n.Name)
			}
		}
	}
	return names
}

// readNpy reads a .npy file (data.LoadTensor).
func readNpy(path string) ([]float32, ir.Shape, error) {
	t, err := data.LoadTensor(path)
	if err != nil {
		return nil, nil, err
	}
	return t.Values, ir.Shape(t.Shape), nil
}
