package tf

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"veil/ir"
)

const (
	nsfwModel = "../../testdata/models/tfjs-nsfw-mobilenet_v2_mid"
	nsfwRef   = "../../testdata/tf/nsfw_mobilenet_v2_mid.ref.json"
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

func TestNSFWMobileNetAgainstTFJS(t *testing.T) {
	ref := loadReference(t)
	g, err := LoadTFJS(nsfwModel, Options{Outputs: []string{"Identity", ref.LogitsNode}})
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Values[g.Inputs[0]].Shape; !got.Equal(ir.Shape(ref.InputShape)) {
		t.Fatalf("input shape %v, reference %v", got, ref.InputShape)
	}
	n := len(ref.Inputs)
	if testing.Short() {
		n = 1
	}
	var worst float64
	for i := 0; i < n; i++ {
		outs, err := ir.Run(g, map[string]*ir.Tensor{g.Inputs[0]: ref.input(i)})
		if err != nil {
			t.Fatal(err)
		}
		for k, want := range [][]float32{ref.Outputs[i], ref.Logits[i]} {
			got := outs[k]
			if !got.Shape.Equal(ir.Shape{1, len(want)}) {
				t.Fatalf("%s: output %d has shape %v", ref.Images[i], k, got.Shape)
			}
			for j := range want {
				e := relErr(got.F[j], want[j])
				worst = max(worst, e)
				if e > 1e-4 {
					t.Errorf("%s: output %d[%d] (%s) = %v, tfjs %v (rel err %.2g)", ref.Images[i], k, j, ref.Classes[j], got.F[j], want[j], e)
				}
			}
		}
	}
	t.Logf("max relative error vs tfjs over %d images: %.3g", n, worst)
}

func TestNSFWGraphDefRoundTrip(t *testing.T) {
	ref := loadReference(t)
	gd, err := ReadTFJS(filepath.Join(nsfwModel, "model.json"))
	if err != nil {
		t.Fatal(err)
	}
	pb := filepath.Join(t.TempDir(), "nsfw.pb")
	f, err := os.Create(pb)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteGraphDef(f, gd); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	fromJS, err := Import(gd, "tfjs", Options{})
	if err != nil {
		t.Fatal(err)
	}
	fromPB, err := LoadGraphDef(pb, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := ir.FormatOpCounts(fromJS.OpCounts()), ir.FormatOpCounts(fromPB.OpCounts()); a != b {
		t.Fatalf("op counts differ: TF.js %s, GraphDef %s", a, b)
	}
	if a, b := fromJS.ParamCount(), fromPB.ParamCount(); a != b {
		t.Fatalf("parameter counts differ: TF.js %d, GraphDef %d", a, b)
	}
	// Every constant the two graphs compute with is bit-identical.
	for name, v := range fromJS.Values {
		w := fromPB.Values[name]
		if v.Const == nil {
			continue
		}
		if w == nil || w.Const == nil || !v.Shape.Equal(w.Shape) {
			t.Fatalf("constant %q is missing or reshaped in the GraphDef import", name)
		}
		for i := range v.Const.F {
			if math.Float32bits(v.Const.F[i]) != math.Float32bits(w.Const.F[i]) {
				t.Fatalf("constant %q[%d]: TF.js %v, GraphDef %v", name, i, v.Const.F[i], w.Const.F[i])
			}
		}
	}
	x := map[string]*ir.Tensor{"input": ref.input(0)}
	a, err := ir.Run(fromJS, x)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ir.Run(fromPB, x)
	if err != nil {
		t.Fatal(err)
	}
	for j := range a[0].F {
		if math.Float32bits(a[0].F[j]) != math.Float32bits(b[0].F[j]) {
			t.Errorf("output[%d]: TF.js path %v, GraphDef path %v", j, a[0].F[j], b[0].F[j])
		}
	}
}
