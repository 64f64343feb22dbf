package fixed

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"veil/ir"
)

func randT(r *rand.Rand, shape ir.Shape, scale float64) *ir.Tensor {
	t := ir.NewFloat(shape)
	for i := range t.F {
		t.F[i] = float32(r.NormFloat64() * scale)
	}
	return t
}

// testGraph builds a graph touching every fixed-point lowering: conv with
// bias and stride, batch norm (folded and lowered), relu6, leaky relu,
// max and average pooling with padding, concat, transpose, reshape,
// matmul, add, sub, mul, div by a constant, reduce mean, pad, slice, and a
// softmax at the end.
func testGraph(t testing.TB, r *rand.Rand, l ir.Layout) *ir.Graph {
	t.Helper()
	g := ir.NewGraph("mix")
	g.Layout = l
	nchw := func(n, c, h, w int) ir.Shape {
		if l == ir.NHWC {
			return ir.Shape{n, h, w, c}
		}
		return ir.Shape{n, c, h, w}
	}
	cshape := func(c int) ir.Shape { // broadcastable per-channel
		if l == ir.NHWC {
			return ir.Shape{c}
		}
		return ir.Shape{c, 1, 1}
	}
	ax := l.ChannelAxis()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(g.AddInput("x", nchw(1, 3, 11, 11)))
	consts := map[string]*ir.Tensor{
		"w1": randT(r, ir.Shape{8, 3, 3, 3}, 0.3), "b1": randT(r, ir.Shape{8}, 0.1),
		"w2": randT(r, ir.Shape{8, 1, 3, 3}, 0.3), // depthwise
		"k":  randT(r, cshape(8), 0.5), "sh": randT(r, cshape(8), 0.2),
		"fc": randT(r, ir.Shape{8 * 3 * 3 * 2, 10}, 0.1), "fb": randT(r, ir.Shape{10}, 0.1),
		"two": ir.FloatTensor(ir.Shape{}, []float32{2}),
	}
	for _, p := range []string{"s", "beta", "m"} {
		consts[p] = randT(r, ir.Shape{8}, 0.3)
	}
	v := randT(r, ir.Shape{8}, 0.3)
	for i := range v.F {
		v.F[i] = float32(math.Abs(float64(v.F[i]))) + 0.5
	}
	consts["v"] = v
	for name, c := range consts {
		must(g.AddConst(name, c))
	}
	must(g.AddConst("shape", ir.IntTensor(ir.Shape{2}, []int64{1, -1})))
	add := func(name string, op ir.Op, a ir.Attrs, ins ...string) {
		t.Helper()
		must(g.AddNode(&ir.Node{Name: name, Op: op, Inputs: ins, Output: name, Attrs: a}))
	}
	w := ir.Attrs{Strides: []int{2, 2}, Pads: []int{1, 1, 1, 1}, Group: 1, Layout: l}
	add("conv", ir.OpConv, w, "x", "w1", "b1")                                                  // 6x6
	add("bn", ir.OpBatchNorm, ir.Attrs{Epsilon: 1e-5, Axis: ax}, "conv", "s", "beta", "m", "v") // folds
	add("relu6", ir.OpClip, ir.Attrs{Min: 0, Max: 6}, "bn")
	add("dw", ir.OpConv, ir.Attrs{Strides: []int{1, 1}, Pads: []int{1, 1, 1, 1}, Group: 8, Layout: l}, "relu6", "w2")
	add("scale", ir.OpMul, ir.Attrs{}, "dw", "k")
	add("shift", ir.OpSub, ir.Attrs{}, "scale", "sh")
	add("leaky", ir.OpLeakyRelu, ir.Attrs{Alpha: 0.1}, "shift")
	add("max", ir.OpMaxPool, ir.Attrs{Kernel: []int{3, 3}, Strides: []int{2, 2}, Pads: []int{1, 1, 1, 1}, Layout: l}, "leaky") // 3x3
	add("avg", ir.OpAvgPool, ir.Attrs{Kernel: []int{3, 3}, Strides: []int{2, 2}, Pads: []int{1, 1, 1, 1}, Layout: l}, "relu6")
	add("half", ir.OpDiv, ir.Attrs{}, "avg", "two")
	add("cat", ir.OpConcat, ir.Attrs{Axis: ax}, "max", "half")
	add("flat", ir.OpReshape, ir.Attrs{}, "cat", "shape")
	add("fcm", ir.OpMatMul, ir.Attrs{}, "flat", "fc")
	add("logits", ir.OpAdd, ir.Attrs{}, "fcm", "fb")
	add("mean", ir.OpReduceMean, ir.Attrs{Axes: []int{1}, KeepDims: true}, "logits")
	add("centred", ir.OpSub, ir.Attrs{}, "logits", "mean")
	add("sq", ir.OpMul, ir.Attrs{}, "centred", "centred")
	add("sum", ir.OpAdd, ir.Attrs{}, "centred", "sq")
	add("padded", ir.OpPad, ir.Attrs{Pads: []int{0, 1, 0, 1}, PadValue: -3}, "sum")
	must(g.AddConst("st", ir.IntTensor(ir.Shape{1}, []int64{1})))
	must(g.AddConst("en", ir.IntTensor(ir.Shape{1}, []int64{11})))
	must(g.AddConst("axs", ir.IntTensor(ir.Shape{1}, []int64{1})))
	add("sl", ir.OpSlice, ir.Attrs{}, "padded", "st", "en", "axs")
	add("tr", ir.OpTranspose, ir.Attrs{Perm: []int{1, 0}}, "sl")
	add("tr2", ir.OpTranspose, ir.Attrs{Perm: []int{1, 0}}, "tr")
	add("prob", ir.OpSoftmax, ir.Attrs{Axis: -1}, "tr2")
	must(g.SetOutputs("prob"))
	if _, err := ir.Optimize(g); err != nil {
		t.Fatal(err)
	}
	return g
}

func TestCompileMatchesFloat(t *testing.T) {
	for _, l := range []ir.Layout{ir.NCHW, ir.NHWC} {
		t.Run(l.String(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, uint64(l)))
			g := testGraph(t, r, l)
			p, err := Compile(g, 16)
			if err != nil {
				t.Fatal(err)
			}
			if p.Post != "softmax" {
				t.Errorf("post %q, want softmax", p.Post)
			}
			// One ScaleDown per secret multiplication (conv, dw, mul, div,
			// matmul, centred²) and per public one (leaky, avg, mean).
			if p.Stats.ScaleDowns != 9 {
				t.Errorf("%d ScaleDowns, want 9: %v", p.Stats.ScaleDowns, p.Stats.ByOp)
			}
			// The float graph without the trailing softmax is the reference.
			logitsName := g.Producer(g.Outputs[0]).Inputs[0]
			g.Outputs[0] = logitsName
			for trial := 0; trial < 5; trial++ {
				x := randT(r, g.Values["x"].Shape, 1)
				want, err := ir.Run(g, map[string]*ir.Tensor{"x": x})
				if err != nil {
					t.Fatal(err)
				}
				got, err := p.Predict(x.F)
				if err != nil {
					t.Fatal(err)
				}
				for i := range got {
					if d := math.Abs(got[i] - float64(want[0].F[i])); d > 2e-3*math.Max(1, math.Abs(float64(want[0].F[i]))) {
						t.Fatalf("output %d: fixed %g, float %g", i, got[i], want[0].F[i])
					}
				}
			}
		})
	}
}

func TestEncodeDecode(t *testing.T) {
	for _, c := range []struct {
		x float64
		s int
		v int64
	}{{1, 12, 4096}, {-1, 12, -4096}, {0.5, 1, 1}, {-0.75, 2, -3}, {1.0 / 3, 8, 85}, {-1.0 / 3, 8, -85}} {
		if got := int64(Encode(c.x, c.s)); got != c.v {
			t.Errorf("Encode(%g, %d) = %d, want %d", c.x, c.s, got, c.v)
		}
		if d := Decode(Encode(c.x, c.s), c.s); math.Abs(d-c.x) > math.Pow(2, -float64(c.s)) {
			t.Errorf("Decode(Encode(%g)) = %g", c.x, d)
		}
	}
}

func TestProgramFileRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	g := testGraph(t, r, ir.NCHW)
	p, err := Compile(g, 12)
	if err != nil {
		t.Fatal(err)
	}
	p.ScaleTable = []ScaleRow{{Scale: 12, FloatAccuracy: 0.9, FixedAccuracy: 0.9, N: 10}}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	q, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	x := randT(r, ir.Shape{1, 3, 11, 11}, 1)
	a, _ := p.Run(p.EncodeInput(x.F))
	b, err := q.Run(q.EncodeInput(x.F))
	if err != nil {
		t.Fatal(err)
	}
	for i := range a[0] {
		if a[0][i] != b[0][i] {
			t.Fatalf("output %d differs after round trip", i)
		}
	}
	if q.Scale != 12 || len(q.ScaleTable) != 1 || q.Stats.ScaleDowns != p.Stats.ScaleDowns {
		t.Errorf("header fields lost: scale %d table %v", q.Scale, q.ScaleTable)
	}

	hdrEnd := 16 + int(uint32(data[12])|uint32(data[13])<<8|uint32(data[14])<<16|uint32(data[15])<<24)
	corrupt := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "magic"},
		{"magic", append([]byte("VEILPROX"), data[8:]...), "magic"},
		{"version", patch(data, 8, 9), "version"},
		{"truncated header", data[:100], "truncated"},
		{"truncated weights", data[:len(data)-8], "truncated"},
		{"trailing", append(append([]byte(nil), data...), 0), "unexpected bytes"},
		{"flipped weight", patch(data, len(data)-1, data[len(data)-1]^1), "hash"},
		{"bad json", patch(data, 16, '['), "header"},
		{"bad shape", bytes.Replace(data[:hdrEnd], []byte(`"shape":[8,3,3,3]`), []byte(`"shape":[8,3,3,4]`), 1), "truncated"},
	}
	for _, c := range corrupt {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.data)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Parse: %v, want error containing %q", err, c.want)
			}
		})
	}
}

func patch(b []byte, i int, v byte) []byte {
	c := append([]byte(nil), b...)
	c[i] = v
	return c
}

func TestValidateRejectsBadPrograms(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	g := testGraph(t, r, ir.NCHW)
	mk := func() *Program {
		p, err := Compile(g, 12)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name string
		edit func(p *Program)
		want string
	}{
		{"use before def", func(p *Program) { p.Instrs[0].In[0] = p.Instrs[1].Out }, "not defined"},
		{"bad shape", func(p *Program) { p.Tensors[p.Instrs[0].Out].Shape = ir.Shape{1, 8, 5, 5} }, "computes"},
		{"bad shift", func(p *Program) {
			for i := range p.Instrs {
				if p.Instrs[i].Op == ScaleDown {
					p.Instrs[i].Shift = 70
					return
				}
			}
		}, "shift"},
		{"bad op", func(p *Program) { p.Instrs[0].Op = "Frobnicate" }, "unknown op"},
		{"short weight", func(p *Program) {
			for _, tt := range p.Tensors {
				if tt.Kind == KindWeight {
					tt.Data = tt.Data[1:]
					return
				}
			}
		}, "values for shape"},
		{"no outputs", func(p *Program) { p.Outputs = nil }, "no outputs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mk()
			c.edit(p)
			if err := p.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate: %v, want %q", err, c.want)
			}
		})
	}
}

func TestCompileErrorsNameTheNode(t *testing.T) {
	g := ir.NewGraph("bad")
	g.AddInput("x", ir.Shape{1, 4})
	g.AddNode(&ir.Node{Name: "th", Op: ir.OpTanh, Inputs: []string{"x"}, Output: "t"})
	g.AddNode(&ir.Node{Name: "r", Op: ir.OpRelu, Inputs: []string{"t"}, Output: "y"})
	g.SetOutputs("y")
	_, err := Compile(g, 12)
	if err == nil || !strings.Contains(err.Error(), `"th"`) || !strings.Contains(err.Error(), "Tanh") {
		t.Fatalf("Compile: %v, want an error naming node th (Tanh)", err)
	}
}

func TestArgMaxTies(t *testing.T) {
	for _, last := range []bool{false, true} {
		g := ir.NewGraph("argmax")
		g.AddInput("x", ir.Shape{1, 4})
		if err := g.AddNode(&ir.Node{Name: "am", Op: ir.OpArgMax, Inputs: []string{"x"}, Output: "y", Attrs: ir.Attrs{Axis: 1, SelectLast: last}}); err != nil {
			t.Fatal(err)
		}
		g.SetOutputs("y")
		p, err := Compile(g, 8)
		if err != nil {
			t.Fatal(err)
		}
		x := []float32{1, 3, -2, 3}
		got, err := p.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		fl, err := ir.Run(g, map[string]*ir.Tensor{"x": ir.FloatTensor(ir.Shape{1, 4}, x)})
		if err != nil {
			t.Fatal(err)
		}
		want := 1.0
		if last {
			want = 3
		}
		if got[0] != want || float64(fl[0].I[0]) != want {
			t.Errorf("SelectLast=%v: fixed %v float %v, want %v", last, got[0], fl[0].I[0], want)
		}
	}
}

func TestPublicProgramFile(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	g := testGraph(t, r, ir.NCHW)
	p, err := Compile(g, 12)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := p.Public().Write(&buf); err != nil {
		t.Fatal(err)
	}
	q, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if q.HasWeightData() || q.PublicDigest() != p.PublicDigest() {
		t.Fatalf("public program round trip: weights %v, digest match %v", q.HasWeightData(), q.PublicDigest() == p.PublicDigest())
	}
	var full bytes.Buffer
	p.Write(&full)
	if buf.Len() >= full.Len() {
		t.Errorf("public program is %d bytes, full %d", buf.Len(), full.Len())
	}
	// A public program cannot run in the clear.
	if _, err := q.Run(q.EncodeInput(make([]float32, q.Tensors[q.Inputs[0]].Shape.Size()))); err == nil {
		t.Error("a program without weights ran in the clear")
	}
}
