package zoo

import (
	"testing"

	"veil/ir"
)

// TestMobileNetV1 checks the architecture against Keras' MobileNet:
// 4,253,864 parameters (BatchNorm's four per channel included), 27
// convolutions of which 13 depthwise (Keras counts the classifier as a
// 28th), and 569 M multiply-adds.
func TestMobileNetV1(t *testing.T) {
	g, err := MobileNetV1(1)
	if err != nil {
		t.Fatal(err)
	}
	if n := g.ParamCount(); n != 4253864 {
		t.Errorf("%d parameters, want 4,253,864", n)
	}
	if out := g.Values[g.Outputs[0]].Shape; !out.Equal(ir.Shape{1, 1000}) {
		t.Errorf("output shape %v", out)
	}
	var convs, dw int
	var macs int64
	for _, n := range g.Nodes {
		if n.Op == ir.OpConv {
			convs++
			if n.Attrs.Group > 1 {
				dw++
			}
			w := g.Values[n.Inputs[1]].Shape
			o := g.Values[n.Output].Shape
			macs += int64(o.Size()) * int64(w[1]*w[2]*w[3])
		}
		if n.Op == ir.OpMatMul {
			w := g.Values[n.Inputs[1]].Shape
			macs += int64(w[0] * w[1])
		}
	}
	if convs != 27 || dw != 13 {
		t.Errorf("%d convolutions (%d depthwise), want 27 (13)", convs, dw)
	}
	if macs < 568e6 || macs > 570e6 {
		t.Errorf("%d multiply-adds, want about 569 M", macs)
	}
	if g.Values[g.Nodes[len(g.Nodes)-1].Output].Shape[1] != 1000 {
		t.Error("no 1000-way head")
	}
}

// TestMobileNetV1Sep: the separable variant has the same convolutions,
// with nothing between each depthwise and pointwise pair.
func TestMobileNetV1Sep(t *testing.T) {
	g, err := MobileNetV1Sep(1)
	if err != nil {
		t.Fatal(err)
	}
	cons := g.Consumers()
	pairs := 0
	for _, n := range g.Nodes {
		if n.Op == ir.OpConv && n.Attrs.Group > 1 {
			if c := cons[n.Output]; len(c) == 1 && c[0].Op == ir.OpConv && c[0].Attrs.Group == 1 {
				pairs++
			}
		}
	}
	if pairs != 13 {
		t.Errorf("%d depthwise→pointwise pairs, want 13", pairs)
	}
}
