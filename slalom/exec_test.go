package slalom_test

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"veil/fixed"
	"veil/ir"
	"veil/slalom"
	"veil/slalom/device/devicetest"
	"veil/slalom/slalomtest"
)

// TestProgramIsFixed: a compiled program is a valid fixed program whose
// weights are the layers' field weights read as signed integers, whose
// layers sit where they say, and whose lowering onto fixed's primitive
// ops (Clip, DivPublic, Relu and MaxPool through DReLU and Mux, as a
// secret-sharing backend would run them) gives the oracle's output on
// real images.
func TestProgramIsFixed(t *testing.T) {
	for i := range slalomtest.Bundled {
		l := slalomtest.Load(t, i)
		p := l.P
		for _, tt := range p.Fixed.Tensors {
			if tt.Kind == fixed.KindWeight && tt.Data != nil {
				t.Fatalf("%s: Fixed carries the data of weight %q: T would hold every weight twice", slalomtest.Bundled[i].Name, tt.Name)
			}
		}
		if err := p.Reference().Validate(); err != nil {
			t.Fatal(err)
		}
		for _, ly := range p.Layers {
			fp := p.Reference()
			if in := fp.Instrs[ly.ClipAt]; in.Op != fixed.Clip || in.Min != -ly.Clamp || in.Max != ly.Clamp {
				t.Fatalf("%s layer %d: instruction %d is %s [%d, %d], not its clamp", slalomtest.Bundled[i].Name, ly.Index, ly.ClipAt, in.Op, in.Min, in.Max)
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
			if ly.Kind == slalom.Separable {
				field = [][]uint64{ly.W, ly.PW, ly.B}
			}
			if len(ws) != len(field) {
				t.Fatalf("%s layer %d: %d weight tensors, want %d", slalomtest.Bundled[i].Name, ly.Index, len(ws), len(field))
			}
			for j := range ws {
				for k, v := range field[j] {
					if int64(ws[j][k]) != slalomtest.Signed(uint32(v)) {
						t.Fatalf("%s layer %d: weight %d[%d] = %d, field %d", slalomtest.Bundled[i].Name, ly.Index, j, k, int64(ws[j][k]), v)
					}
				}
			}
		}
		for k := 0; k < 20; k++ {
			x := l.Test[k].X
			want, err := p.Oracle(x)
			if err != nil {
				t.Fatal(err)
			}
			ref := p.Reference()
			got, err := ref.Execute(context.Background(), &fixed.Cleartext{}, [][]uint64{ref.EncodeInput(x)}, &fixed.ExecOptions{Lower: true})
			if err != nil {
				t.Fatal(err)
			}
			lowered := make([]int64, len(got[0]))
			for j, v := range got[0] {
				lowered[j] = int64(v)
			}
			if !slices.Equal(lowered, want) {
				t.Fatalf("%s image %d: lowered %v, oracle %v", slalomtest.Bundled[i].Name, k, lowered, want)
			}
		}
	}
}

// everyOpProgram extends the tiny program's output with instructions of
// every op of fixed's set that T runs in the clear.
func everyOpProgram(t *testing.T) *slalom.Program {
	t.Helper()
	p := slalomtest.TinyProgram(t)
	fp := *p.Reference() // with its weights: this program is built by hand, without weight sources
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
	q := &slalom.Program{Name: "every op", Lx: p.Lx, Lw: p.Lw, Input: p.Input, InClamp: p.InClamp, Layers: p.Layers, Fixed: &fp,
		OutScale: p.Lx, OutLen: 10}
	q.Rehash()
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
	for _, mode := range slalomtest.Modes {
		tr := devicetest.Trusted(t, p, mode, nil)
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
	p, err := slalom.Compile(g, slalom.Options{})
	if err != nil {
		t.Fatal(err)
	}
	feeds, k, lo, hi, err := slalom.Fused(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	if feeds != 1 || k != p.Lw || lo != math.MinInt64 || hi != math.MaxInt64 {
		t.Fatalf("layer 0: feeds %d, post k = %d, [%d, %d]", feeds, k, lo, hi)
	}
	ops := map[fixed.Op]bool{}
	for _, in := range p.Fixed.Instrs {
		ops[in.Op] = true
	}
	if !ops[fixed.DivPublic] || !ops[fixed.SumPool] || !ops[fixed.ReduceSum] {
		t.Fatalf("ops %v: no average pooling", ops)
	}
	for _, mode := range slalomtest.Modes {
		tr := devicetest.Trusted(t, p, mode, nil)
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
