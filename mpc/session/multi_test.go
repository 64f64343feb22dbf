package session

import (
	"context"
	"math"
	"testing"
	"time"

	"veil/fixed"
	"veil/ir"
)

// TestSeveralInputsAndOutputs runs a program of two inputs and three
// outputs through 3PC on loopback: every output of every inference comes
// back to the client, equal to the cleartext executor's within the
// truncations' last bits.
func TestSeveralInputsAndOutputs(t *testing.T) {
	g := ir.NewGraph("two-in-three-out")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(g.AddInput("a", ir.Shape{1, 4}))
	must(g.AddInput("b", ir.Shape{1, 2, 4}))
	must(g.AddNode(&ir.Node{Name: "sum", Op: ir.OpAdd, Inputs: []string{"a", "b"}, Output: "sum"}))
	must(g.AddNode(&ir.Node{Name: "relu", Op: ir.OpRelu, Inputs: []string{"sum"}, Output: "relu"}))
	must(g.AddNode(&ir.Node{Name: "prod", Op: ir.OpMul, Inputs: []string{"a", "b"}, Output: "prod"}))
	must(g.AddNode(&ir.Node{Name: "max", Op: ir.OpReduceMax, Inputs: []string{"b"}, Output: "max", Attrs: ir.Attrs{Axes: []int{2}}}))
	must(g.SetOutputs("relu", "prod", "max"))
	p, err := fixed.Compile(g, 12)
	if err != nil {
		t.Fatal(err)
	}
	if got := fixed.FormatPorts(p.InputPorts()); got != "a [1×4], b [1×2×4]" {
		t.Fatalf("input ports %s", got)
	}
	inputs := [][]float32{
		{1, -2, 3, -4, 0.5, 0.25, -1, 2, -3, 1.5, 0, 7},
		{-1, 2, -3, 4, 1, 1, 1, 1, 2, 2, 2, 2},
	}
	res, err := RunLoopback(context.Background(), p, inputs, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.AllOutputs) != len(inputs) {
		t.Fatalf("%d results for %d inferences", len(res.AllOutputs), len(inputs))
	}
	for i, x := range inputs {
		want, err := p.PredictAll(x)
		if err != nil {
			t.Fatal(err)
		}
		got := res.AllOutputs[i]
		if len(got) != 3 {
			t.Fatalf("inference %d: %d outputs, want 3", i, len(got))
		}
		for o := range want {
			if len(got[o]) != len(want[o]) {
				t.Fatalf("inference %d output %d: %d values, want %d", i, o, len(got[o]), len(want[o]))
			}
			for j := range want[o] {
				if math.Abs(got[o][j]-want[o][j]) > 1e-2 {
					t.Errorf("inference %d output %d[%d]: %g, cleartext %g", i, o, j, got[o][j], want[o][j])
				}
			}
		}
	}
}
