package tf

import (
	"strings"
	"testing"

	"veil/ir"
)

// TestUnfuse checks that unfused graphs compute what the fused ones do and
// hold only standard TensorFlow ops.
func TestUnfuse(t *testing.T) {
	n := 0
	for _, c := range append(opCases(), fusedCases()...) {
		fused := false
		for _, nd := range c.nodes {
			fused = fused || strings.Contains(nd.Op, "Fused") && nd.Op != "FusedBatchNormV3"
		}
		if !fused || strings.Contains(c.name, "Gelu") {
			continue // TensorFlow has no Gelu op to unfuse into
		}
		n++
		t.Run(c.name, func(t *testing.T) {
			gd := &GraphDef{Nodes: c.nodes}
			if err := Unfuse(gd); err != nil {
				t.Fatal(err)
			}
			for _, nd := range gd.Nodes {
				if strings.HasPrefix(nd.Op, "_") || nd.Op == "FusedDepthwiseConv2dNative" {
					t.Errorf("node %q is still %s", nd.Name, nd.Op)
				}
			}
			g, err := importBinary(t, gd.Nodes, Options{InputShape: c.x.Shape})
			if err != nil {
				t.Fatal(err)
			}
			outs, err := ir.Run(g, map[string]*ir.Tensor{g.Inputs[0]: c.x})
			if err != nil {
				t.Fatal(err)
			}
			for i := range c.want.F {
				if relErr(outs[0].F[i], c.want.F[i]) > 1e-5 {
					t.Fatalf("output[%d] = %v, want %v", i, outs[0].F[i], c.want.F[i])
				}
			}
		})
	}
	if n < 5 {
		t.Fatalf("only %d fused cases", n)
	}
}

func TestUnfuseErrors(t *testing.T) {
	bias := constF("b", []int64{2}, []float32{1, 2})
	tests := []struct {
		name   string
		attrs  map[string]*AttrValue
		substr string
	}{
		{"unknown activation", map[string]*AttrValue{"fused_ops": aStrs("BiasAdd", "Softsign"), "num_args": aI(1)}, `"Softsign"`},
		{"num_args", map[string]*AttrValue{"fused_ops": aStrs("BiasAdd"), "num_args": aI(3)}, "num_args"},
		{"Prelu without its slope", map[string]*AttrValue{"fused_ops": aStrs("BiasAdd", "Prelu"), "num_args": aI(1)}, "take 2 arguments"},
		{"no ops", map[string]*AttrValue{"num_args": aI(1)}, "fused_ops"},
	}
	for _, tc := range tests {
		gd := &GraphDef{Nodes: convNodes("_FusedConv2D", tc.attrs, bias)}
		err := Unfuse(gd)
		if err == nil || !strings.Contains(err.Error(), tc.substr) || !strings.Contains(err.Error(), `"y"`) {
			t.Errorf("%s: error %v, want one naming node \"y\" and %s", tc.name, err, tc.substr)
		}
	}
}
