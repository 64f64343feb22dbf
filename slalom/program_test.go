package slalom

import (
	"slices"
	"testing"

	"veil/fixed"
	"veil/internal/testmodel"
	"veil/ir"
	"veil/model"
	"veil/zoo"
)

// zooProgram builds a zoo network (seed 1), optimizes and compiles it with
// the default scales.
func zooProgram(t *testing.T, build func(seed uint64) (*ir.Graph, error)) *Program {
	t.Helper()
	g, err := build(1)
	return compiled(t, g, err)
}

// modelProgram imports testdata/models/NAME.onnx, optimizes and compiles
// it with the default scales (the bundled models' tests with data use
// slalomtest.Load and the scales SelectScales picks).
func modelProgram(t *testing.T, name string) *Program {
	t.Helper()
	g, err := model.Load(testmodel.Path("models/"+name+".onnx"), model.Options{})
	return compiled(t, g, err)
}

// compiled optimizes g (err: g's import failed) and compiles it with the
// default scales.
func compiled(t *testing.T, g *ir.Graph, err error) *Program {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ir.Optimize(g); err != nil {
		t.Fatal(err)
	}
	p, err := Compile(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPlanFuses: T's executor fuses every requantization, and every
// activation that directly follows it, into its layer's decode pass. In
// LeNet (whose ReLUs follow its max pools: ir.Optimize swaps them) and
// MobileNet v1 the only instructions T runs on their own are the input
// clamp, the pools, those ReLUs and the flatten; every layer whose value
// is the next layer's input feeds that layer's check sum ahead.
func TestPlanFuses(t *testing.T) {
	for _, c := range []struct {
		name string
		p    *Program
		own  []fixed.Op
	}{
		{"fashion_lenet", modelProgram(t, "fashion_lenet"), []fixed.Op{fixed.Clip, fixed.MaxPool, fixed.Relu, fixed.Reshape}},
		{"mobilenetv1", zooProgram(t, zoo.MobileNetV1), []fixed.Op{fixed.Clip, fixed.ReduceSum, fixed.DivPublic, fixed.Reshape}},
	} {
		pl, err := c.p.plans()
		if err != nil {
			t.Fatal(err)
		}
		for k, in := range c.p.Fixed.Instrs {
			if pl.act[k] == actClear && (!slices.Contains(c.own, in.Op) || in.Op == fixed.Clip && k != 0) {
				t.Errorf("%s: instruction %d (%s from %q) runs on its own", c.name, k, in.Op, in.Node)
			}
		}
		for li, l := range c.p.Layers {
			q, f := pl.post[li], pl.final[li]
			ins := c.p.Fixed.Instrs
			act := f+1 < len(ins) && pl.act[f+1] == actClear && (ins[f+1].Op == fixed.Relu || ins[f+1].Op == fixed.Clip) && ins[f+1].In[0] == ins[f].Out
			if l.Requant && q.k != c.p.Lw || !l.Requant && q != noPost() || act {
				t.Errorf("%s layer %d (%s): post %+v, then %s", c.name, li, l.Name, q, ins[f+1].Op)
			}
			if m := pl.feeds[li]; m >= 0 && c.p.Fixed.Instrs[c.p.Layers[m].ClipAt].In[0] != c.p.Fixed.Instrs[pl.final[li]].Out {
				t.Errorf("%s layer %d feeds layer %d, which reads another value", c.name, li, m)
			}
		}
		if c.name == "mobilenetv1" {
			n := 0
			for li := range c.p.Layers {
				if pl.feeds[li] >= 0 {
					n++
				}
				if q := pl.post[li]; c.p.Layers[li].Requant && q.hi != 6<<c.p.Lx {
					t.Errorf("layer %d: ReLU6 not fused (%+v)", li, q)
				}
			}
			if n != len(c.p.Layers)-2 { // all but the last conv (a pool follows) and the logits
				t.Errorf("%d layers feed the next one's check, want %d", n, len(c.p.Layers)-2)
			}
		}
	}
}
