package slalom

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"veil/fixed"
	"veil/ir"
	"veil/zoo"
)

// TestProgramIsFixed: a compiled program is a valid fixed program whose
// weights are the layers' field weights read as signed integers, whose
// layers sit where they say, and whose lowering onto fixed's primitive
// ops (Clip, DivPublic, Relu and MaxPool through DReLU and Mux, as a
// secret-sharing backend would run them) gives the oracle's output on
// real images.
func TestProgramIsFixed(t *testing.T) {
	for i := range bundled {
		l := loadBundled(t, i)
		p := l.p
		if err := p.Fixed.Validate(); err != nil {
			t.Fatal(err)
		}
		for _, ly := range p.Layers {
			fp := p.Fixed
			if in := fp.Instrs[ly.ClipAt]; in.Op != fixed.Clip || in.Min != -ly.Clamp || in.Max != ly.Clamp {
				t.Fatalf("%s layer %d: instruction %d is %s [%d, %d], not its clamp", bundled[i].name, ly.Index, ly.ClipAt, in.Op, in.Min, in.Max)
			}
			var ws [][]uint64
			for k := ly.ClipAt + 1; k <= ly.LinAt; k++ {
				for _, id := range fp.Instrs[k].In {
					if fp.Tensors[id].Kind == fixed.KindWeight {
						ws = append(ws, fp.Tensors[id].Data)
					}
				}
			}
			field := [][]uint64{ly.W, ly.B}
			if ly.Kind == Separable {
				field = [][]uint64{ly.W, ly.PW, ly.B}
			}
			if len(ws) != len(field) {
				t.Fatalf("%s layer %d: %d weight tensors, want %d", bundled[i].name, ly.Index, len(ws), len(field))
			}
			for j := range ws {
				for k, v := range field[j] {
					if int64(ws[j][k]) != lift(v) {
						t.Fatalf("%s layer %d: weight %d[%d] = %d, field %d", bundled[i].name, ly.Index, j, k, int64(ws[j][k]), v)
					}
				}
			}
		}
		for k := 0; k < 20; k++ {
			x := l.test[k].x
			want, err := p.Oracle(x)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Fixed.Execute(context.Background(), &fixed.Cleartext{}, [][]uint64{p.Fixed.EncodeInput(x)}, &fixed.ExecOptions{Lower: true})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(i64s(got[0]), want) {
				t.Fatalf("%s image %d: lowered %v, oracle %v", bundled[i].name, k, i64s(got[0]), want)
			}
		}
	}
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
		{"fashion_lenet", loadBundled(t, 0).p, []fixed.Op{fixed.Clip, fixed.MaxPool, fixed.Relu, fixed.Reshape}},
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

// everyOpProgram extends the tiny program's output with instructions of
// every op of fixed's set that T runs in the clear.
func everyOpProgram(t *testing.T) *Program {
	t.Helper()
	p := tinyProgram(t)
	fp := *p.Fixed
	fp.Tensors = slices.Clone(fp.Tensors)
	fp.Instrs = slices.Clone(fp.Instrs)
	val := func(shape ir.Shape) int {
		fp.Tensors = append(fp.Tensors, &fixed.Tensor{Name: "t" + string(rune('a'+len(fp.Tensors))), Shape: shape, Kind: fixed.KindValue, Scale: p.Lx})
		return len(fp.Tensors) - 1
	}
	emit := func(in fixed.Instr, shape ir.Shape) int {
		in.Out = val(shape)
		fp.Instrs = append(fp.Instrs, in)
		return in.Out
	}
	r := fp.Outputs[0] // [1, 3]
	m := emit(fixed.Instr{Op: fixed.Mul, In: []int{r, r}}, ir.Shape{1, 3})
	s := emit(fixed.Instr{Op: fixed.Sub, In: []int{m, r}}, ir.Shape{1, 3})
	mp := emit(fixed.Instr{Op: fixed.MulPublic, In: []int{s}, Public: []int64{3, -2, 5}, PublicShape: ir.Shape{3}}, ir.Shape{1, 3})
	ap := emit(fixed.Instr{Op: fixed.AddPublic, In: []int{mp}, Public: []int64{-40}, PublicShape: ir.Shape{}}, ir.Shape{1, 3})
	sd := emit(fixed.Instr{Op: fixed.ScaleDown, In: []int{ap}, Shift: 2}, ir.Shape{1, 3})
	c := emit(fixed.Instr{Op: fixed.Concat, In: []int{sd, r}, Axis: 1}, ir.Shape{1, 6})
	rs := emit(fixed.Instr{Op: fixed.Reshape, In: []int{c}, Shape: ir.Shape{1, 1, 2, 3}}, ir.Shape{1, 1, 2, 3})
	pd := emit(fixed.Instr{Op: fixed.Pad, In: []int{rs}, Pads: []int{0, 0, 1, 1, 0, 0, 1, 1}, PadValue: 7}, ir.Shape{1, 1, 4, 5})
	mx := emit(fixed.Instr{Op: fixed.MaxPool, In: []int{pd}, Kernel: []int{2, 2}, Strides: []int{1, 1}, Pads: []int{0, 0, 0, 0}, Layout: "NCHW"}, ir.Shape{1, 1, 3, 4})
	m2 := emit(fixed.Instr{Op: fixed.MaxPool, In: []int{pd}, Kernel: []int{2, 2}, Strides: []int{2, 2}, Pads: []int{0, 0, 0, 1}, Layout: "NCHW"}, ir.Shape{1, 1, 2, 3})
	sp := emit(fixed.Instr{Op: fixed.SumPool, In: []int{mx}, Kernel: []int{2, 2}, Strides: []int{1, 1}, Pads: []int{0, 0, 0, 0}, Layout: "NCHW"}, ir.Shape{1, 1, 2, 3})
	a2 := emit(fixed.Instr{Op: fixed.Add, In: []int{sp, m2}}, ir.Shape{1, 1, 2, 3})
	dv := emit(fixed.Instr{Op: fixed.DivPublic, In: []int{a2}, Public: []int64{3, 4, 5}, PublicShape: ir.Shape{1, 1, 1, 3}}, ir.Shape{1, 1, 2, 3})
	tr := emit(fixed.Instr{Op: fixed.Transpose, In: []int{dv}, Perm: []int{0, 1, 3, 2}}, ir.Shape{1, 1, 3, 2})
	sl := emit(fixed.Instr{Op: fixed.Slice, In: []int{tr}, Starts: []int{0, 0, 2, 1}, Steps: []int{1, 1, -1, 1}}, ir.Shape{1, 1, 3, 1})
	rsum := emit(fixed.Instr{Op: fixed.ReduceSum, In: []int{tr}, Axes: []int{3}}, ir.Shape{1, 1, 3})
	cl := emit(fixed.Instr{Op: fixed.Clip, In: []int{rsum}, Min: -5, Max: 1000}, ir.Shape{1, 1, 3})
	rl := emit(fixed.Instr{Op: fixed.Relu, In: []int{rsum}}, ir.Shape{1, 1, 3})
	k := emit(fixed.Instr{Op: fixed.Const, Public: []int64{9}, PublicShape: ir.Shape{}}, ir.Shape{1, 1, 3})
	d := emit(fixed.Instr{Op: fixed.DReLU, In: []int{emit(fixed.Instr{Op: fixed.Sub, In: []int{cl, k}}, ir.Shape{1, 1, 3})}}, ir.Shape{1, 1, 3})
	mux := emit(fixed.Instr{Op: fixed.Mux, In: []int{d, cl, rl}}, ir.Shape{1, 1, 3})
	am := emit(fixed.Instr{Op: fixed.ArgMax, In: []int{mux}, Axis: 2}, ir.Shape{1, 1})
	flat := func(x, n int) int {
		return emit(fixed.Instr{Op: fixed.Reshape, In: []int{x}, Shape: ir.Shape{1, n}}, ir.Shape{1, n})
	}
	out := emit(fixed.Instr{Op: fixed.Concat, In: []int{flat(mux, 3), flat(am, 1), flat(sl, 3), r}, Axis: 1}, ir.Shape{1, 10})
	fp.Outputs = []int{out}
	fp.ComputeStats()
	if err := fp.Validate(); err != nil {
		t.Fatal(err)
	}
	q := &Program{Name: "every op", Lx: p.Lx, Lw: p.Lw, Input: p.Input, InClamp: p.InClamp, Layers: p.Layers, Fixed: &fp,
		OutScale: p.Lx, OutLen: 10}
	q.Hash = q.hash()
	return q
}

// TestExecutorEveryOp: T runs every op of the fixed instruction set (in
// T, and in D in the one-round-trip mode), in every mode, with the
// oracle's output; so does the baseline.
func TestExecutorEveryOp(t *testing.T) {
	p := everyOpProgram(t)
	ops := map[fixed.Op]bool{}
	for _, in := range p.Fixed.Instrs {
		ops[in.Op] = true
	}
	for _, op := range []fixed.Op{fixed.Conv, fixed.MatMul, fixed.Mul, fixed.Add, fixed.Sub, fixed.AddPublic, fixed.MulPublic, fixed.Const,
		fixed.ScaleDown, fixed.DReLU, fixed.Mux, fixed.SumPool, fixed.ReduceSum, fixed.Reshape, fixed.Transpose, fixed.Concat, fixed.Pad,
		fixed.Slice, fixed.Relu, fixed.MaxPool, fixed.ArgMax, fixed.Clip, fixed.DivPublic} {
		if !ops[op] && op != fixed.Conv {
			t.Errorf("the program has no %s", op)
		}
	}
	rng := rand.New(rand.NewPCG(5, 5))
	var xs [][]float32
	for range 8 {
		x := make([]float32, 4)
		for i := range x {
			x[i] = 4 * (2*rng.Float32() - 1)
		}
		xs = append(xs, x)
	}
	for _, mode := range allModes {
		tr := newTrusted(t, p, mode, nil)
		for _, x := range xs {
			want, err := p.Oracle(x)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tr.Infer(x)
			if err != nil {
				t.Fatalf("%v: %v", mode, err)
			}
			loc, err := p.Local(x)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) || !slices.Equal(loc, want) {
				t.Fatalf("%v input %v: T %v, baseline %v, oracle %v", mode, x, got, loc, want)
			}
		}
	}
}

// TestDeviceRefusesBadProgram: D checks the program it is sent against
// the layers it holds (a refusal, never a panic): the layer count, where
// each layer sits, its clamp and its sizes.
func TestDeviceRefusesBadProgram(t *testing.T) {
	p := tinyProgram(t)
	layers := func(clamp int64) []*Layer {
		l, err := parseSetupLayer(bytes.Join(setupFrame(p.Layers[0]), nil))
		if err != nil {
			t.Fatal(err)
		}
		if clamp != 0 {
			l.Clamp = clamp
		}
		return []*Layer{l}
	}
	good := programWire(p)
	if _, err := parseProgram(good, layers(0)); err != nil {
		t.Fatalf("the program itself: %v", err)
	}
	set := func(off int, v uint32) []byte {
		b := slices.Clone(good)
		binary.LittleEndian.PutUint32(b[off:], v)
		return b
	}
	for _, c := range []struct {
		name   string
		body   []byte
		layers []*Layer
		why    string
	}{
		{"two layers", set(0, 2), layers(0), "layers"},
		{"clip elsewhere", set(4, 0), layers(0), "clamp"},
		{"linear part empty", set(8, uint32(p.Layers[0].ClipAt)), layers(0), "out of order"},
		{"linear part beyond the program", set(8, 1000), layers(0), "out of order"},
		{"another clamp", good, layers(99), "clamp"},
		{"not a program", append(slices.Clone(good[:12]), "{junk"...), layers(0), "program"},
		{"trailing bytes", append(slices.Clone(good), "{}"...), layers(0), "program"},
		{"short", good[:3], layers(0), "short"},
	} {
		if _, err := parseProgram(c.body, c.layers); err == nil || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%s: %v, want an error about %q", c.name, err, c.why)
		}
	}
}

// TestBackToBackLayers: layers with no activation between them (the
// first's requantized output is the second's input), average pooling
// with padding not counted, ReLU6, a residual Add, global average pooling
// and a dense layer: T's output equals the oracle in every mode.
func TestBackToBackLayers(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	g := ir.NewGraph("back to back")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(g.AddInput("x", ir.Shape{1, 2, 6, 6}))
	param := func(name string, shape ir.Shape) string {
		v := make([]float32, shape.Size())
		for i := range v {
			v[i] = float32(r.NormFloat64() * 0.5)
		}
		must(g.AddConst(name, ir.FloatTensor(shape, v)))
		return name
	}
	conv := func(name, x string, in, out, k, pad int) string {
		must(g.AddNode(&ir.Node{Name: name, Op: ir.OpConv, Inputs: []string{x, param(name+".w", ir.Shape{out, in, k, k}), param(name+".b", ir.Shape{out})},
			Output: name, Attrs: ir.Attrs{Kernel: []int{k, k}, Strides: []int{1, 1}, Pads: []int{pad, pad, pad, pad}, Group: 1, Layout: ir.NCHW}}))
		return name
	}
	node := func(name string, op ir.Op, a ir.Attrs, in ...string) string {
		a.Layout = ir.NCHW
		must(g.AddNode(&ir.Node{Name: name, Op: op, Inputs: in, Output: name, Attrs: a}))
		return name
	}
	c2 := conv("c2", conv("c1", "x", 2, 4, 3, 1), 4, 3, 1, 0)
	avg := node("avg", ir.OpAvgPool, ir.Attrs{Kernel: []int{3, 3}, Strides: []int{2, 2}, Pads: []int{1, 1, 1, 1}}, c2)
	rl := node("relu", ir.OpRelu, ir.Attrs{}, avg)
	r6 := node("relu6", ir.OpClip, ir.Attrs{Min: 0, Max: 6}, conv("c3", rl, 3, 3, 3, 1))
	gap := node("gap", ir.OpReduceMean, ir.Attrs{Axes: []int{2, 3}, KeepDims: true}, node("res", ir.OpAdd, ir.Attrs{}, r6, rl))
	must(g.AddConst("flat.shape", ir.IntTensor(ir.Shape{2}, []int64{1, -1})))
	flat := node("flat", ir.OpReshape, ir.Attrs{}, gap, "flat.shape")
	out := node("fc", ir.OpAdd, ir.Attrs{}, node("fc.mm", ir.OpMatMul, ir.Attrs{}, flat, param("fc.w", ir.Shape{3, 4})), param("fc.b", ir.Shape{4}))
	must(g.SetOutputs(out))
	p, err := Compile(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := p.plans()
	if err != nil {
		t.Fatal(err)
	}
	if pl.feeds[0] != 1 || pl.post[0] != (post{k: p.Lw, lo: noPost().lo, hi: noPost().hi}) {
		t.Fatalf("layer 0: feeds %d, post %+v", pl.feeds[0], pl.post[0])
	}
	ops := map[fixed.Op]bool{}
	for _, in := range p.Fixed.Instrs {
		ops[in.Op] = true
	}
	if !ops[fixed.DivPublic] || !ops[fixed.SumPool] || !ops[fixed.ReduceSum] {
		t.Fatalf("ops %v: no average pooling", ops)
	}
	for _, mode := range allModes {
		tr := newTrusted(t, p, mode, nil)
		for k := range 10 {
			x := make([]float32, p.Input.Size())
			for i := range x {
				x[i] = float32(r.NormFloat64()) * float32(1+k%3*20)
			}
			want, err := p.Oracle(x)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tr.Infer(x)
			if err != nil {
				t.Fatalf("%v: %v", mode, err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%v input %d: T %v, oracle %v", mode, k, got, want)
			}
		}
	}
}
