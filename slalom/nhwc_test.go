package slalom_test

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"veil/fixed"
	"veil/internal/testmodel"
	"veil/ir"
	"veil/model"
	"veil/slalom"
	"veil/slalom/device/devicetest"
	"veil/slalom/slalomtest"
)

// TestNHWCModel runs a TensorFlow GraphDef (NHWC: convolution, bias,
// ReLU6, depthwise convolution, max pool, a per-channel batch norm as
// multiply and add, flatten, dense layer, softmax) through Slalom after
// ir.ToNCHW, in every mode: the outputs equal the oracle's exactly and,
// with the recorded Softmax applied, the numpy reference's top-1 and
// probabilities within 0.05 (Slalom's 24-bit field clamps activations).
func TestNHWCModel(t *testing.T) {
	g, err := model.Load(testmodel.Path("tf/small.pb"), model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if g.Layout != ir.NHWC {
		t.Fatalf("layout %v, want the NHWC this test is about", g.Layout)
	}
	if _, err := ir.Optimize(g); err != nil {
		t.Fatal(err)
	}
	if _, err := slalom.Compile(g, slalom.Options{}); err == nil {
		t.Fatal("Slalom compiled an NHWC graph without conversion")
	}
	if g, err = ir.ToNCHW(g); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(testmodel.Path("tf/small.ref.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Inputs  [][]float32 `json:"inputs"`
		Outputs [][]float64 `json:"outputs"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	x := ir.Transpose(ir.FloatTensor(ir.Shape{1, 6, 5, 2}, ref.Inputs[0]), []int{0, 3, 1, 2}).F
	opt, _, err := slalom.SelectScales(g, [][]float32{x})
	if err != nil {
		t.Fatal(err)
	}
	p, err := slalom.Compile(g, opt)
	if err != nil {
		t.Fatal(err)
	}
	if p.Fixed.Post != "softmax" {
		t.Fatalf("Post %q, want softmax", p.Fixed.Post)
	}
	want, err := p.Oracle(x)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range slalomtest.Modes {
		t.Run(mode.String()+"/"+mode.Check.String(), func(t *testing.T) {
			tr := devicetest.Trusted(t, p, mode, nil)
			if mode.Blind {
				tr.Offline(1)
			}
			got, err := tr.Infer(x)
			if err != nil {
				t.Fatal(err)
			}
			for j := range want {
				if got[j] != want[j] {
					t.Fatalf("output %v, oracle %v", got, want)
				}
			}
		})
	}
	y := make([]float64, len(want))
	for j, v := range want {
		y[j] = math.Ldexp(float64(v), -p.OutScale)
	}
	y = fixed.ApplyPost(p.Fixed.Post, len(y), y)
	if fixed.Top1(y) != fixed.Top1(ref.Outputs[0]) {
		t.Errorf("top-1 %d, reference %d", fixed.Top1(y), fixed.Top1(ref.Outputs[0]))
	}
	for j := range y {
		if math.Abs(y[j]-ref.Outputs[0][j]) > 0.05 {
			t.Errorf("class %d: %.4f, reference %.4f", j, y[j], ref.Outputs[0][j])
		}
	}
}

// TestTrailingSigmoid compiles a model ending in Sigmoid: T outputs the
// logits, the program records the Sigmoid for the client.
func TestTrailingSigmoid(t *testing.T) {
	g := ir.NewGraph("sig")
	if err := g.AddInput("x", ir.Shape{1, 4}); err != nil {
		t.Fatal(err)
	}
	g.AddConst("w", ir.FloatTensor(ir.Shape{4, 2}, []float32{0.5, -1, 0.25, 1, 0.75, -0.5, -0.25, 0.125}))
	for _, n := range []*ir.Node{
		{Name: "mm", Op: ir.OpMatMul, Inputs: []string{"x", "w"}, Output: "z"},
		{Name: "sig", Op: ir.OpSigmoid, Inputs: []string{"z"}, Output: "y"},
	} {
		if err := g.AddNode(n); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.SetOutputs("y"); err != nil {
		t.Fatal(err)
	}
	p, err := slalom.Compile(g, slalom.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Fixed.Post != "sigmoid" {
		t.Fatalf("Post %q, want sigmoid", p.Fixed.Post)
	}
}
