package tf

import (
	"testing"

	"veil/ir"
)

// TestPlaceholders checks inputs shaped by name, an int32 input fed as
// real values (its Cast to float changes nothing), and a placeholder bound
// to a constant.
func TestPlaceholders(t *testing.T) {
	nodes := []*NodeDef{
		nd("pix", "Placeholder", nil, map[string]*AttrValue{"dtype": aT(DTInt32),
			"shape": {Kind: AttrShape, Shape: &TensorShape{Dims: []int64{1, -1}}}}),
		nd("f", "Cast", []string{"pix"}, map[string]*AttrValue{"SrcT": aT(DTInt32), "DstT": aT(DTFloat)}),
		placeholder("bias", 1, -1),
		placeholder("gain", 1),
		nd("s", "AddV2", []string{"f", "bias"}, nil),
		nd("y", "Mul", []string{"s", "gain"}, nil),
	}
	opt := Options{
		InputShapes: map[string][]int{"pix": {1, 3}, "bias": {1, 3}},
		Constants:   map[string]*ir.Tensor{"gain": ir.FloatTensor(ir.Shape{1}, []float32{2})},
	}
	g, err := importBinary(t, nodes, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Inputs) != 2 || !g.Values["pix"].Shape.Equal(ir.Shape{1, 3}) || !g.Values["bias"].Shape.Equal(ir.Shape{1, 3}) {
		t.Fatalf("inputs %v", g.Inputs)
	}
	out, err := ir.Run(g, map[string]*ir.Tensor{
		"pix":  ir.FloatTensor(ir.Shape{1, 3}, []float32{0, 128, 255}),
		"bias": ir.FloatTensor(ir.Shape{1, 3}, []float32{1, 1, 1}),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{2, 258, 512}
	for i, v := range out[0].Floats() {
		if v != want[i] {
			t.Fatalf("outputs %v, want %v", out[0].Floats(), want)
		}
	}
}
