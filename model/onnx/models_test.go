package onnx

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"veil/internal/testmodel/testfile"
	"veil/ir"
)

// refFile is a trained model's reference: inputs and PyTorch's outputs.
type refFile struct {
	InputShape []int       `json:"input_shape"`
	Inputs     [][]float32 `json:"inputs"`
	Outputs    [][]float32 `json:"outputs"`
}

// TestRealModels imports the trained models in testdata/models and checks
// ir.Run against PyTorch's logits, |a-b| <= 1e-4·max(1, |b|).
func TestRealModels(t *testing.T) {
	for _, name := range []string{"fashion_lenet", "digits_mlp", "mnist_resnet"} {
		t.Run(name, func(t *testing.T) {
			path := testfile.Path("models/" + name + ".onnx")
			refPath := testfile.Path("models/" + name + ".ref.json")
			b, err := os.ReadFile(refPath)
			if err != nil {
				t.Fatal(err)
			}
			var ref refFile
			if err := json.Unmarshal(b, &ref); err != nil {
				t.Fatalf("%s: %v", refPath, err)
			}
			if len(ref.Inputs) == 0 || len(ref.Inputs) != len(ref.Outputs) {
				t.Fatalf("%s: %d inputs, %d outputs", refPath, len(ref.Inputs), len(ref.Outputs))
			}
			g, err := Load(path, Options{InputShape: ref.InputShape})
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Validate(); err != nil {
				t.Fatal(err)
			}
			if len(g.Inputs) != 1 || len(g.Outputs) != 1 {
				t.Fatalf("graph has inputs %v, outputs %v; want one each", g.Inputs, g.Outputs)
			}
			t.Logf("%s: %s, %d parameters", name, ir.FormatOpCounts(g.OpCounts()), g.ParamCount())
			worst := 0.0
			for i, in := range ref.Inputs {
				outs, err := ir.Run(g, map[string]*ir.Tensor{g.Inputs[0]: ir.FloatTensor(ir.Shape(ref.InputShape), in)})
				if err != nil {
					t.Fatalf("input %d: %v", i, err)
				}
				got, want := outs[0].Floats(), ref.Outputs[i]
				if len(got) != len(want) {
					t.Fatalf("input %d: %d outputs, want %d", i, len(got), len(want))
				}
				for j := range want {
					d := math.Abs(float64(got[j] - want[j]))
					tol := 1e-4 * math.Max(1, math.Abs(float64(want[j])))
					worst = math.Max(worst, d/tol)
					if d > tol {
						t.Errorf("input %d, logit %d: %v, want %v", i, j, got[j], want[j])
					}
				}
			}
			t.Logf("%d reference inputs; worst error %.3g of the tolerance", len(ref.Inputs), worst)
		})
	}
}

// BenchmarkLoadResNet50 measures Load on a ResNet-50 exported by
// testdata/train/export_resnet50.py; set VEIL_RESNET50 to its path.
func BenchmarkLoadResNet50(b *testing.B) {
	path := os.Getenv("VEIL_RESNET50")
	if path == "" {
		b.Skip("set VEIL_RESNET50 to a ResNet-50 .onnx (testdata/train/export_resnet50.py)")
	}
	for b.Loop() {
		g, err := Load(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		_ = g
	}
}
