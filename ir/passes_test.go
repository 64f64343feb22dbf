package ir

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func randTensor(r *rand.Rand, shape Shape) *Tensor {
	t := NewFloat(shape)
	for i := range t.F {
		t.F[i] = float32(r.NormFloat64())
	}
	return t
}

func positive(t *Tensor) *Tensor {
	for i, v := range t.F {
		t.F[i] = float32(math.Abs(float64(v))) + 0.5
	}
	return t
}

// buildConvBNReluPool builds x → Conv → BatchNorm → Relu → MaxPool →
// Identity → BatchNorm (no conv before it) → output.
func buildConvBNReluPool(t *testing.T, r *rand.Rand, l Layout) *Graph {
	t.Helper()
	g := NewGraph("t")
	in := Shape{1, 3, 9, 9}
	if l == NHWC {
		in = Shape{1, 9, 9, 3}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(g.AddInput("x", in))
	must(g.AddConst("w", randTensor(r, Shape{4, 3, 3, 3})))
	must(g.AddConst("b", randTensor(r, Shape{4})))
	for _, p := range []string{"s", "beta", "m", "v", "s2", "beta2", "m2", "v2"} {
		tt := randTensor(r, Shape{4})
		if p[0] == 'v' {
			positive(tt)
		}
		must(g.AddConst(p, tt))
	}
	ax := l.ChannelAxis()
	must(g.AddNode(&Node{Name: "conv", Op: OpConv, Inputs: []string{"x", "w", "b"}, Output: "c",
		Attrs: Attrs{Strides: []int{1, 1}, Pads: []int{1, 1, 1, 1}, Group: 1, Layout: l}}))
	must(g.AddNode(&Node{Name: "bn", Op: OpBatchNorm, Inputs: []string{"c", "s", "beta", "m", "v"}, Output: "n", Attrs: Attrs{Epsilon: 1e-5, Axis: ax}}))
	must(g.AddNode(&Node{Name: "relu", Op: OpRelu, Inputs: []string{"n"}, Output: "r"}))
	must(g.AddNode(&Node{Name: "pool", Op: OpMaxPool, Inputs: []string{"r"}, Output: "p",
		Attrs: Attrs{Kernel: []int{2, 2}, Strides: []int{2, 2}, Pads: []int{0, 0, 1, 1}, Layout: l}}))
	must(g.AddNode(&Node{Name: "id", Op: OpIdentity, Inputs: []string{"p"}, Output: "q"}))
	must(g.AddNode(&Node{Name: "bn2", Op: OpBatchNorm, Inputs: []string{"q", "s2", "beta2", "m2", "v2"}, Output: "y", Attrs: Attrs{Epsilon: 1e-3, Axis: ax}}))
	must(g.SetOutputs("y"))
	return g
}

func maxRelErr(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		d := math.Abs(float64(a[i]-b[i])) / math.Max(1, math.Abs(float64(b[i])))
		m = math.Max(m, d)
	}
	return m
}

func TestOptimizePreservesOutputs(t *testing.T) {
	for _, l := range []Layout{NCHW, NHWC} {
		t.Run(l.String(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			g := buildConvBNReluPool(t, r, l)
			x := randTensor(r, g.Values["x"].Shape)
			want, err := Run(g, map[string]*Tensor{"x": x})
			if err != nil {
				t.Fatal(err)
			}
			st, err := Optimize(g)
			if err != nil {
				t.Fatal(err)
			}
			if st.IdentitiesRemoved != 1 || st.BatchNormsFolded != 1 || st.BatchNormsLowered != 1 || st.ReluPoolSwaps != 1 {
				t.Errorf("stats %+v: want 1 identity, 1 folded BN, 1 lowered BN, 1 swap", st)
			}
			// Conv output 9x9x4 = 324 ReLUs before, pooled 5x5x4 = 100 after.
			if st.ReluElemsBefore != 324 || st.ReluElemsAfter != 100 || st.ReLUsSaved() != 224 {
				t.Errorf("ReLU elements %d → %d, want 324 → 100", st.ReluElemsBefore, st.ReluElemsAfter)
			}
			counts := g.OpCounts()
			if counts[OpBatchNorm] != 0 || counts[OpIdentity] != 0 {
				t.Errorf("ops after optimize: %s", FormatOpCounts(counts))
			}
			if g.Nodes[1].Op != OpMaxPool || g.Nodes[2].Op != OpRelu {
				t.Errorf("order after swap: %s, %s", g.Nodes[1].Op, g.Nodes[2].Op)
			}
			got, err := Run(g, map[string]*Tensor{"x": x})
			if err != nil {
				t.Fatal(err)
			}
			if e := maxRelErr(got[0].F, want[0].F); e > 1e-5 {
				t.Errorf("optimized graph differs: max relative error %g", e)
			}
		})
	}
}

func TestSwapKeepsSharedRelu(t *testing.T) {
	// A ReLU read by the pool and by another node must not move.
	g := NewGraph("t")
	g.AddInput("x", Shape{1, 1, 4, 4})
	g.AddNode(&Node{Name: "relu", Op: OpRelu, Inputs: []string{"x"}, Output: "r"})
	g.AddNode(&Node{Name: "pool", Op: OpMaxPool, Inputs: []string{"r"}, Output: "p",
		Attrs: Attrs{Kernel: []int{2, 2}, Strides: []int{2, 2}, Pads: []int{0, 0, 0, 0}}})
	g.AddNode(&Node{Name: "sum", Op: OpReduceSum, Inputs: []string{"r"}, Output: "s", Attrs: Attrs{Axes: []int{2, 3}, KeepDims: true}})
	g.AddNode(&Node{Name: "add", Op: OpAdd, Inputs: []string{"p", "s"}, Output: "y"})
	g.SetOutputs("y")
	if n := swapReluMaxPool(g); n != 0 {
		t.Fatalf("swapped %d pairs, want 0", n)
	}
}

func TestFoldConstantsAndShapeArithmetic(t *testing.T) {
	// Shape → Gather → Concat → Reshape folds away at import.
	g := NewGraph("t")
	g.AddInput("x", Shape{2, 3, 4})
	steps := []*Node{
		{Name: "shape", Op: OpShape, Inputs: []string{"x"}, Output: "s"},
		{Name: "g0", Op: OpGather, Inputs: []string{"s", "zero"}, Output: "d0"},
		{Name: "cat", Op: OpConcat, Inputs: []string{"d0", "minus1"}, Output: "spec"},
		{Name: "reshape", Op: OpReshape, Inputs: []string{"x", "spec"}, Output: "y"},
	}
	g.AddConst("zero", IntTensor(Shape{1}, []int64{0}))
	g.AddConst("minus1", IntTensor(Shape{1}, []int64{-1}))
	for _, n := range steps {
		if err := g.AddNode(n); err != nil {
			t.Fatal(err)
		}
	}
	g.SetOutputs("y")
	if len(g.Nodes) != 1 || g.Nodes[0].Op != OpReshape {
		t.Fatalf("nodes after import: %s", FormatOpCounts(g.OpCounts()))
	}
	if s := g.Values["y"].Shape; !s.Equal(Shape{2, 12}) {
		t.Fatalf("reshape to %v, want [2 12]", s)
	}
	// foldConstants folds a node whose inputs became constant later.
	g2 := NewGraph("t2")
	g2.AddInput("x", Shape{2})
	g2.AddNode(&Node{Name: "neg", Op: OpNeg, Inputs: []string{"x"}, Output: "y"})
	g2.SetOutputs("y")
	g2.Values["x"].Const = FloatTensor(Shape{2}, []float32{1, -2})
	n, err := foldConstants(g2)
	if err != nil || n != 1 || len(g2.Nodes) != 0 {
		t.Fatalf("foldConstants = %d, %v; %d nodes left", n, err, len(g2.Nodes))
	}
	if c := g2.Const("y"); c == nil || c.F[0] != -1 || c.F[1] != 2 {
		t.Fatalf("folded value %v", c)
	}
}

func TestPlanMemory(t *testing.T) {
	// A chain x → a → b → c → d of equal sizes needs two buffers, and a
	// residual x + d keeps x alive throughout.
	tests := []struct {
		name        string
		residual    bool
		wantBuffers int
		wantPeak    int
	}{
		{"chain", false, 2, 2 * 16},
		{"residual", true, 3, 3 * 16},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := NewGraph("t")
			g.AddInput("x", Shape{1, 16})
			prev := "x"
			for _, v := range []string{"a", "b", "c", "d"} {
				g.AddNode(&Node{Name: v, Op: OpRelu, Inputs: []string{prev}, Output: v})
				prev = v
			}
			if tc.residual {
				g.AddNode(&Node{Name: "add", Op: OpAdd, Inputs: []string{"x", "d"}, Output: "y"})
				prev = "y"
			}
			g.SetOutputs(prev)
			p := PlanMemory(g)
			if len(p.BufferElems) != tc.wantBuffers || p.PeakElems != tc.wantPeak {
				t.Errorf("buffers %d peak %d, want %d and %d", len(p.BufferElems), p.PeakElems, tc.wantBuffers, tc.wantPeak)
			}
			// No two values live at the same time share a buffer.
			checkPlan(t, g, p)
		})
	}
}

func checkPlan(t *testing.T, g *Graph, p *MemoryPlan) {
	t.Helper()
	last := map[string]int{}
	def := map[string]int{}
	for _, in := range g.Inputs {
		def[in] = -1
	}
	for i, n := range g.Nodes {
		def[n.Output] = i
		for _, in := range n.Inputs {
			last[in] = i
		}
	}
	for _, o := range g.Outputs {
		last[o] = len(g.Nodes)
	}
	for a, ba := range p.Buffer {
		for b, bb := range p.Buffer {
			if a >= b || ba != bb {
				continue
			}
			// overlap if intervals [def, last] intersect (a value is live
			// through the node that last reads it)
			if def[a] <= last[b] && def[b] <= last[a] {
				t.Errorf("%s [%d,%d] and %s [%d,%d] share buffer %d", a, def[a], last[a], b, def[b], last[b], ba)
			}
		}
		if p.BufferElems[ba] < g.Values[a].Shape.Size() {
			t.Errorf("%s does not fit in buffer %d", a, ba)
		}
	}
}

func TestFoldingIsBounded(t *testing.T) {
	// A constant 2^14×2^14 by 2^14×2^14 product would be 2^42 multiply-adds:
	// import must refuse instead of running for hours. Shapes only: the
	// check happens before any work.
	g := NewGraph("t")
	big := &Tensor{DType: Float32, Shape: Shape{1 << 14, 1 << 14}}
	g.Values["a"] = &Value{Name: "a", Shape: big.Shape, DType: Float32, Const: big}
	g.Values["b"] = &Value{Name: "b", Shape: big.Shape, DType: Float32, Const: big}
	err := g.AddNode(&Node{Name: "mm", Op: OpMatMul, Inputs: []string{"a", "b"}, Output: "c"})
	if err == nil || !strings.Contains(err.Error(), "folding") {
		t.Fatalf("AddNode: %v, want a folding-limit error", err)
	}
}

// TestHoistActivationsOverConcat checks the rewrite of Concat(act(a),
// act(b)) → MaxPool as Concat → MaxPool → act, for ReLU and Relu6 in
// both layouts: one activation, on the pooled tensor, and the same
// outputs; and that it leaves alone Concats whose inputs are different
// activations, an activation read by another node too, or one input
// that is no activation.
func TestHoistActivationsOverConcat(t *testing.T) {
	build := func(t *testing.T, l Layout, acts [2]Node, extra bool) *Graph {
		t.Helper()
		g := NewGraph("t")
		g.Layout = l
		shape := Shape{1, 3, 6, 6}
		if l == NHWC {
			shape = Shape{1, 6, 6, 3}
		}
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(g.AddInput("a", shape))
		must(g.AddInput("b", shape))
		for i, in := range []string{"a", "b"} {
			n := acts[i]
			n.Name, n.Inputs, n.Output = "act"+in, []string{in}, "r"+in
			must(g.AddNode(&n))
		}
		must(g.AddNode(&Node{Name: "cat", Op: OpConcat, Inputs: []string{"ra", "rb"}, Output: "c", Attrs: Attrs{Axis: l.ChannelAxis()}}))
		must(g.AddNode(&Node{Name: "pool", Op: OpMaxPool, Inputs: []string{"c"}, Output: "p",
			Attrs: Attrs{Kernel: []int{3, 3}, Strides: []int{2, 2}, Pads: []int{0, 0, 1, 1}, Layout: l}}))
		out := "p"
		if extra { // ra read by another node too
			must(g.AddNode(&Node{Name: "sum", Op: OpReduceSum, Inputs: []string{"ra"}, Output: "s", Attrs: Attrs{Axes: []int{1, 2, 3}, KeepDims: true}}))
			must(g.AddNode(&Node{Name: "add", Op: OpAdd, Inputs: []string{"p", "s"}, Output: "y"}))
			out = "y"
		}
		must(g.SetOutputs(out))
		return g
	}
	relu := Node{Op: OpRelu}
	relu6 := Node{Op: OpClip, Attrs: Attrs{Min: 0, Max: 6}}
	relu4 := Node{Op: OpClip, Attrs: Attrs{Min: 0, Max: 4}}
	neg := Node{Op: OpNeg}
	cases := []struct {
		name  string
		acts  [2]Node
		extra bool
		want  int // Concats rewritten
	}{
		{"relu", [2]Node{relu, relu}, false, 1},
		{"relu6", [2]Node{relu6, relu6}, false, 1},
		{"different clips", [2]Node{relu6, relu4}, false, 0},
		{"relu and relu6", [2]Node{relu, relu6}, false, 0},
		{"not an activation", [2]Node{relu, neg}, false, 0},
		{"activation read twice", [2]Node{relu, relu}, true, 0},
	}
	for _, l := range []Layout{NCHW, NHWC} {
		for _, c := range cases {
			t.Run(l.String()+"/"+c.name, func(t *testing.T) {
				r := rand.New(rand.NewPCG(5, 6))
				g := build(t, l, c.acts, c.extra)
				in := map[string]*Tensor{"a": randTensor(r, g.Values["a"].Shape), "b": randTensor(r, g.Values["b"].Shape)}
				for _, x := range in {
					for i := range x.F {
						x.F[i] *= 4 // beyond Relu6's top
					}
				}
				want, err := Run(g, in)
				if err != nil {
					t.Fatal(err)
				}
				st, err := Optimize(g)
				if err != nil {
					t.Fatal(err)
				}
				if st.ActsHoisted != c.want {
					t.Fatalf("hoisted %d, want %d", st.ActsHoisted, c.want)
				}
				if c.want == 1 {
					// 2·3·6·6 = 216 activations before; the pooled
					// 6·3·3 = 54 after.
					if st.ReluPoolSwaps != 1 || st.ReluElemsBefore != 216 || st.ReluElemsAfter != 54 {
						t.Errorf("stats %+v: want 1 swap, 216 → 54 activations", st)
					}
					counts := g.OpCounts()
					if counts[c.acts[0].Op] != 1 || g.Nodes[len(g.Nodes)-1].Op != c.acts[0].Op {
						t.Errorf("ops after the rewrite: %s, last %s", FormatOpCounts(counts), g.Nodes[len(g.Nodes)-1].Op)
					}
				}
				got, err := Run(g, in)
				if err != nil {
					t.Fatal(err)
				}
				for i := range want[0].F {
					if got[0].F[i] != want[0].F[i] {
						t.Fatalf("output %d: %v, want %v", i, got[0].F[i], want[0].F[i])
					}
				}
			})
		}
	}
}
