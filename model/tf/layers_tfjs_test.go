package tf

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"veil/internal/testmodel/testfile"
	"veil/ir"
)

// layersRef is a fixture's ref.json, written by testdata/tf/layers/make.mjs.
type layersRef struct {
	TFJS   string `json:"tfjs"`
	Inputs []struct {
		Name   string    `json:"name"`
		Shape  []int     `json:"shape"`
		Values []float32 `json:"values"`
	} `json:"inputs"`
	Outputs []struct {
		Name   string    `json:"name"`
		Shape  []int     `json:"shape"`
		Values []float32 `json:"values"`
	} `json:"outputs"`
}

// TestLayersTFJS imports the layers models that pure-JS tfjs built and
// saved (testdata/tf/layers/README.md) and matches tfjs's predictions on
// every output within 1e-4, relative to the output's largest magnitude.
func TestLayersTFJS(t *testing.T) {
	dirs, err := filepath.Glob(testfile.Path("tf/layers/*/model.json"))
	if err != nil || len(dirs) < 5 {
		t.Fatalf("found %d fixtures (%v), want 5", len(dirs), err)
	}
	for _, m := range dirs {
		dir := filepath.Dir(m)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(filepath.Join(dir, "ref.json"))
			if err != nil {
				t.Fatal(err)
			}
			var ref layersRef
			if err := json.Unmarshal(data, &ref); err != nil {
				t.Fatal(err)
			}
			if !IsLayersModel(dir) {
				t.Fatal("IsLayersModel is false")
			}
			g, err := LoadLayers(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(g.Inputs) != len(ref.Inputs) {
				t.Fatalf("graph inputs %v, want %d", g.Inputs, len(ref.Inputs))
			}
			feeds := map[string]*ir.Tensor{}
			for i, in := range ref.Inputs {
				if g.Inputs[i] != in.Name {
					t.Errorf("input %d is %q, want %q", i, g.Inputs[i], in.Name)
				}
				feeds[g.Inputs[i]] = ir.FloatTensor(ir.Shape(in.Shape), in.Values)
			}
			outs, err := ir.Run(g, feeds)
			if err != nil {
				t.Fatal(err)
			}
			if len(outs) != len(ref.Outputs) {
				t.Fatalf("%d outputs, want %d", len(outs), len(ref.Outputs))
			}
			for i, o := range ref.Outputs {
				if g.Outputs[i] != o.Name {
					t.Errorf("output %d is %q, want %q", i, g.Outputs[i], o.Name)
				}
				checkClose(t, o.Name, outs[i], ir.Shape(o.Shape), o.Values, 1e-4)
			}
		})
	}
}

// checkClose compares got with want element by element, within tol times
// the largest magnitude of want (at least 1e-3, so that tiny outputs are
// not held to a tighter absolute bound than float32 rounding allows).
func checkClose(t *testing.T, name string, got *ir.Tensor, shape ir.Shape, want []float32, tol float64) {
	t.Helper()
	if !got.Shape.Equal(shape) {
		t.Fatalf("output %q has shape %v, want %v", name, got.Shape, shape)
	}
	scale := 1e-3
	for _, w := range want {
		scale = math.Max(scale, math.Abs(float64(w)))
	}
	worst, at := 0.0, 0
	for j, w := range want {
		if d := math.Abs(float64(got.F[j]) - float64(w)); d > worst {
			worst, at = d, j
		}
	}
	if worst > tol*scale {
		t.Errorf("output %q [%d] = %v, want %v (error %.3g, %.3g of the largest %.3g)", name, at, got.F[at], want[at], worst, worst/scale, scale)
	}
}
