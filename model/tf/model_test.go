package tf

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"veil/internal/testmodel/testfile"
	"veil/ir"
)

var (
	nsfwModel = testfile.Path("models/tfjs-nsfw-mobilenet_v2_mid")
	nsfwRef   = testfile.Path("tf/nsfw_mobilenet_v2_mid.ref.json")
)

// reference is testdata/tf/<model>.ref.json, written by make_ref.js.
type reference struct {
	Model      string      `json:"model"`
	Classes    []string    `json:"classes"`
	InputShape []int       `json:"input_shape"`
	InputScale float64     `json:"input_scale"`
	Images     []string    `json:"images"`
	Inputs     [][]uint8   `json:"inputs"`
	Outputs    [][]float32 `json:"outputs"`
	LogitsNode string      `json:"logits_node"`
	Logits     [][]float32 `json:"logits"`
}

func loadReference(t *testing.T) *reference {
	t.Helper()
	data, err := os.ReadFile(nsfwRef)
	if err != nil {
		t.Fatal(err)
	}
	var ref reference
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Inputs) == 0 || len(ref.Inputs) != len(ref.Outputs) || len(ref.Inputs) != len(ref.Logits) {
		t.Fatalf("reference has %d inputs, %d outputs, %d logits", len(ref.Inputs), len(ref.Outputs), len(ref.Logits))
	}
	return &ref
}

// input returns image i of ref as the model's float32 input, computed as
// TF.js did: byte (as float32) times the float32 of 1/255.
func (ref *reference) input(i int) *ir.Tensor {
	x := make([]float32, len(ref.Inputs[i]))
	for j, v := range ref.Inputs[i] {
		x[j] = float32(v) / 255
	}
	return ir.FloatTensor(ir.Shape(ref.InputShape), x)
}

// relErr is |a-b| / max(1, |b|).
func relErr(a, b float32) float64 {
	return math.Abs(float64(a)-float64(b)) / math.Max(1, math.Abs(float64(b)))
}

// TestNSFWMobileNet runs the real nsfwjs MobileNetV2 three ways — the
// TF.js model as read, the binary GraphDef WriteGraphDef makes of it, and
// that GraphDef unfused into standard ops — and compares them with the
// pure-JS tfjs reference and with each other. The images run in parallel.
func TestNSFWMobileNet(t *testing.T) {
	ref := loadReference(t)
	outputs := []string{"Identity", ref.LogitsNode}
	gd, err := ReadTFJS(filepath.Join(nsfwModel, "model.json"))
	if err != nil {
		t.Fatal(err)
	}
	fromJS, err := Import(gd, "tfjs", Options{Outputs: outputs})
	if err != nil {
		t.Fatal(err)
	}
	if got := fromJS.Values[fromJS.Inputs[0]].Shape; !got.Equal(ir.Shape(ref.InputShape)) {
		t.Fatalf("input shape %v, reference %v", got, ref.InputShape)
	}
	t.Logf("%s: %d parameters, %s", nsfwModel, fromJS.ParamCount(), ir.FormatOpCounts(fromJS.OpCounts()))

	dir := t.TempDir()
	fusedPB, unfusedPB := filepath.Join(dir, "fused.pb"), filepath.Join(dir, "unfused.pb")
	writePB(t, fusedPB, gd)
	fromPB, err := LoadGraphDef(fusedPB, Options{Outputs: outputs})
	if err != nil {
		t.Fatal(err)
	}
	sameGraph(t, fromJS, fromPB)
	if err := Unfuse(gd); err != nil {
		t.Fatal(err)
	}
	writePB(t, unfusedPB, gd)
	fromUnfused, err := LoadGraphDef(unfusedPB, Options{Outputs: outputs})
	if err != nil {
		t.Fatal(err)
	}

	n := len(ref.Inputs)
	if testing.Short() {
		n = 1
	}
	t.Run("group", func(t *testing.T) {
		for i := 0; i < n; i++ {
			t.Run(ref.Images[i], func(t *testing.T) {
				t.Parallel()
				x := map[string]*ir.Tensor{"input": ref.input(i)}
				got := run(t, fromJS, x)
				worst := 0.0
				for k, want := range [][]float32{ref.Outputs[i], ref.Logits[i]} {
					if !got[k].Shape.Equal(ir.Shape{1, len(want)}) {
						t.Fatalf("output %d has shape %v", k, got[k].Shape)
					}
					for j := range want {
						e := relErr(got[k].F[j], want[j])
						worst = max(worst, e)
						if e > 1e-4 {
							t.Errorf("output %d[%d] (%s) = %v, tfjs %v (rel err %.2g)", k, j, ref.Classes[j], got[k].F[j], want[j], e)
						}
					}
				}
				t.Logf("max relative error vs tfjs: %.3g", worst)
				if i != 0 {
					return
				}
				pb := run(t, fromPB, x)
				for k := range got {
					for j := range got[k].F {
						if math.Float32bits(got[k].F[j]) != math.Float32bits(pb[k].F[j]) {
							t.Errorf("GraphDef output %d[%d] = %v, TF.js path %v", k, j, pb[k].F[j], got[k].F[j])
						}
					}
				}
				un := run(t, fromUnfused, x)
				worst = 0
				for k := range got {
					for j := range got[k].F {
						e := relErr(un[k].F[j], got[k].F[j])
						worst = max(worst, e)
						// Unfused, each bias is added after the convolution's
						// sum instead of starting it: float32 rounding differs.
						if e > 2e-5 {
							t.Errorf("unfused GraphDef output %d[%d] = %v, TF.js path %v", k, j, un[k].F[j], got[k].F[j])
						}
					}
				}
				t.Logf("GraphDef: bit-identical; unfused GraphDef: max relative difference %.3g", worst)
			})
		}
	})
}

func run(t *testing.T, g *ir.Graph, x map[string]*ir.Tensor) []*ir.Tensor {
	t.Helper()
	outs, err := ir.Run(g, x)
	if err != nil {
		t.Fatal(err)
	}
	return outs
}

func writePB(t *testing.T, path string, gd *GraphDef) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteGraphDef(f, gd); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// sameGraph checks that a and b have the same nodes, attributes and
// bit-identical constants.
func sameGraph(t *testing.T, a, b *ir.Graph) {
	t.Helper()
	if len(a.Nodes) != len(b.Nodes) {
		t.Fatalf("%d nodes and %d nodes", len(a.Nodes), len(b.Nodes))
	}
	for i, n := range a.Nodes {
		m := b.Nodes[i]
		if n.Op != m.Op || n.Output != m.Output || !slices.Equal(n.Inputs, m.Inputs) || !reflect.DeepEqual(n.Attrs, m.Attrs) {
			t.Fatalf("node %d differs: %+v and %+v", i, n, m)
		}
	}
	for name, v := range a.Values {
		w := b.Values[name]
		if v.Const == nil {
			continue
		}
		if w == nil || w.Const == nil || !v.Shape.Equal(w.Shape) {
			t.Fatalf("constant %q is missing or reshaped", name)
		}
		for i := range v.Const.F {
			if math.Float32bits(v.Const.F[i]) != math.Float32bits(w.Const.F[i]) {
				t.Fatalf("constant %q[%d]: %v and %v", name, i, v.Const.F[i], w.Const.F[i])
			}
		}
	}
}

// TestPythonGraphDef decodes a GraphDef that Google's protobuf runtime
// wrote (testdata/tf/make_small_pb.py), with constants in tensor_content,
// in repeated values and as a single value filling the shape, and checks
// its outputs against numpy's.
func TestPythonGraphDef(t *testing.T) {
	data, err := os.ReadFile(testfile.Path("tf/small.ref.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		InputShape []int       `json:"input_shape"`
		Inputs     [][]float32 `json:"inputs"`
		Outputs    [][]float64 `json:"outputs"`
		Logits     [][]float64 `json:"logits"`
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	g, err := LoadGraphDef(testfile.Path("tf/small.pb"), Options{Outputs: []string{"probs", "logits"}})
	if err != nil {
		t.Fatal(err)
	}
	if ops := ir.FormatOpCounts(g.OpCounts()); ops != "Add×2 BatchNorm×1 Clip×1 Conv×2 MatMul×1 MaxPool×1 Reshape×1 Softmax×1" {
		t.Errorf("ops %s", ops)
	}
	outs := run(t, g, map[string]*ir.Tensor{"x": ir.FloatTensor(ir.Shape(ref.InputShape), ref.Inputs[0])})
	for k, want := range [][]float64{ref.Outputs[0], ref.Logits[0]} {
		for j, w := range want {
			if e := relErr(outs[k].F[j], float32(w)); e > 1e-5 {
				t.Errorf("output %d[%d] = %v, numpy %v", k, j, outs[k].F[j], w)
			}
		}
	}
}
