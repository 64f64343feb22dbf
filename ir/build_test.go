package ir

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
)

// runBuilt builds a graph with input x of shape xs, constants consts, and
// the nodes add creates (computing "y", or outs), and runs it on a random x.
func runBuilt(t *testing.T, r *rand.Rand, xs Shape, consts map[string]*Tensor, outs []string, add func(g *Graph) error) (*Tensor, []*Tensor) {
	t.Helper()
	x := randTensor(r, xs)
	return x, runOn(t, x, consts, outs, add)
}

// runOn is runBuilt on a given x.
func runOn(t *testing.T, x *Tensor, consts map[string]*Tensor, outs []string, add func(g *Graph) error) []*Tensor {
	t.Helper()
	g := NewGraph("b")
	if err := g.AddInput("x", x.Shape); err != nil {
		t.Fatal(err)
	}
	for name, c := range consts {
		if err := g.AddConst(name, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := add(g); err != nil {
		t.Fatal(err)
	}
	if outs == nil {
		outs = []string{"y"}
	}
	if err := g.SetOutputs(outs...); err != nil {
		t.Fatal(err)
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	ys, err := Run(g, map[string]*Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	return ys
}

func closeTo(t *testing.T, what string, got *Tensor, want []float64, shape Shape) {
	t.Helper()
	if !got.Shape.Equal(shape) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape, shape)
	}
	for i, w := range want {
		if d := math.Abs(float64(got.F[i]) - w); !(d <= 1e-5+1e-5*math.Abs(w)) {
			t.Fatalf("%s: element %d is %v, want %v", what, i, got.F[i], w)
		}
	}
}

// at4 returns the flat index of [a, b, c, d] in shape s.
func at4(s Shape, a, b, c, d int) int { return ((a*s[1]+b)*s[2]+c)*s[3] + d }

// onnxInterp1D is ONNX's reference interpolate_1d_with_x
// (onnx/backend/test/case/node/resize.py), transcribed: the input is
// edge-padded, the n nearest indices are chosen by distance (smaller
// first), and the coefficients come from the ratio.
func onnxInterp1D(data []float64, scale float64, outLen int, x float64, spec ResizeSpec) float64 {
	in := len(data)
	outW := scale * float64(in)
	var xo float64
	switch spec.Coord {
	case "align_corners":
		if outW == 1 {
			xo = 0
		} else {
			xo = x * float64(in-1) / (outW - 1)
		}
	case "asymmetric":
		xo = x / scale
	case "pytorch_half_pixel":
		if outW == 1 {
			xo = -0.5
		} else {
			xo = (x+0.5)/scale - 0.5
		}
	case "half_pixel":
		xo = (x+0.5)/scale - 0.5
	case "half_pixel_symmetric":
		adj := float64(outLen) / outW
		xo = float64(in)/2*(1-adj) + (x+0.5)/scale - 0.5
	case "tf_half_pixel_for_nn":
		xo = (x + 0.5) / scale
	}
	xi := math.Floor(xo)
	ratio := xo - xi
	if ratio == 0 {
		ratio = 1
	}
	var coeffs []float64
	if spec.Mode == "linear" {
		coeffs = []float64{1 - ratio, ratio}
	} else {
		b := func(v bool) float64 {
			if v {
				return 1
			}
			return 0
		}
		switch {
		case ratio == 1:
			coeffs = []float64{0, 1}
		case spec.Nearest == "round_prefer_ceil":
			coeffs = []float64{b(ratio < 0.5), b(ratio >= 0.5)}
		case spec.Nearest == "floor":
			coeffs = []float64{1, 0}
		case spec.Nearest == "ceil":
			coeffs = []float64{0, 1}
		default:
			coeffs = []float64{b(ratio <= 0.5), b(ratio > 0.5)}
		}
	}
	pad := 1
	padded := make([]float64, in+2*pad)
	for i := range padded {
		padded[i] = data[min(max(i-pad, 0), in-1)]
	}
	xp := xo + float64(pad)
	idx := make([]int, len(padded))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool {
		di, dj := math.Abs(xp-float64(idx[i])), math.Abs(xp-float64(idx[j]))
		if di != dj {
			return di < dj
		}
		return idx[i] < idx[j]
	})
	nb := idx[:2]
	sort.Ints(nb)
	return coeffs[0]*padded[nb[0]] + coeffs[1]*padded[nb[1]]
}

// refResize resizes [N, C, H, W] with onnxInterp1D along H, then W.
func refResize(x *Tensor, spec ResizeSpec) []float64 {
	s := x.Shape
	sh, sw := spec.ScaleH, spec.ScaleW
	if sh == 0 {
		sh = float64(spec.OutH) / float64(s[2])
	}
	if sw == 0 {
		sw = float64(spec.OutW) / float64(s[3])
	}
	os := Shape{s[0], s[1], spec.OutH, spec.OutW}
	y := make([]float64, os.Size())
	for n := 0; n < s[0]; n++ {
		for c := 0; c < s[1]; c++ {
			rows := make([][]float64, spec.OutH)
			for oh := range rows {
				rows[oh] = make([]float64, s[3])
				for w := 0; w < s[3]; w++ {
					col := make([]float64, s[2])
					for h := range col {
						col[h] = float64(x.F[at4(s, n, c, h, w)])
					}
					rows[oh][w] = onnxInterp1D(col, sh, spec.OutH, float64(oh), spec)
				}
			}
			for oh := 0; oh < spec.OutH; oh++ {
				for ow := 0; ow < spec.OutW; ow++ {
					y[at4(os, n, c, oh, ow)] = onnxInterp1D(rows[oh], sw, spec.OutW, float64(ow), spec)
				}
			}
		}
	}
	return y
}

func TestAddResize(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	coords := []string{"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn"}
	type size struct {
		h, w, oh, ow int
		sh, sw       float64
	}
	sizes := []size{
		{4, 5, 8, 10, 0, 0},     // upsample ×2
		{4, 6, 3, 4, 0, 0},      // downsample
		{1, 5, 1, 1, 0, 0},      // align_corners with size 1
		{3, 1, 7, 5, 0, 0},      // from one column
		{2, 4, 1, 2, 0.6, 0.6},  // scales: ⌊1.2⌋, ⌊2.4⌋, as ONNX's downsample_scales tests
		{3, 3, 7, 7, 2.5, 2.5},  // scales beyond an integer factor
		{5, 4, 5, 9, 0, 0},      // H unchanged: one MatMul
		{4, 4, 4, 4, 1.0, 1.0},  // nothing to do
		{6, 5, 2, 5, 0.4, 1.25}, // W kept in size but moved
	}
	for _, sz := range sizes {
		for _, coord := range coords {
			for _, mode := range []string{"linear", "nearest/round_prefer_floor", "nearest/round_prefer_ceil", "nearest/floor", "nearest/ceil"} {
				m, near, _ := strings.Cut(mode, "/")
				spec := ResizeSpec{Mode: m, Coord: coord, Nearest: near, OutH: sz.oh, OutW: sz.ow, ScaleH: sz.sh, ScaleW: sz.sw}
				for _, l := range []Layout{NCHW, NHWC} {
					xs := Shape{2, 3, sz.h, sz.w}
					if l == NHWC {
						xs = Shape{2, sz.h, sz.w, 3}
					}
					x, ys := runBuilt(t, r, xs, nil, nil, func(g *Graph) error { return g.AddResize("up", "x", "y", l, spec) })
					xc, y := x, ys[0]
					if l == NHWC {
						xc, y = Transpose(x, []int{0, 3, 1, 2}), Transpose(y, []int{0, 3, 1, 2})
					}
					closeTo(t, spec.Coord+" "+mode+" "+l.String(), y, refResize(xc, spec), Shape{2, 3, sz.oh, sz.ow})
				}
			}
		}
	}
}

func TestAddResizeNearestIsSelection(t *testing.T) {
	m, err := resizeMatrix(7, 12, 0, ResizeSpec{Mode: "nearest", Coord: "half_pixel"})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range m.F {
		if v != 0 && v != 1 {
			t.Fatalf("nearest matrix holds %v", v)
		}
	}
}

func TestAddResizeErrors(t *testing.T) {
	tests := []struct {
		spec ResizeSpec
		want string
	}{
		{ResizeSpec{Mode: "cubic", Coord: "half_pixel", OutH: 2, OutW: 2}, `mode "cubic"`},
		{ResizeSpec{Mode: "linear", Coord: "tf_crop_and_resize", OutH: 2, OutW: 2}, `"tf_crop_and_resize"`},
		{ResizeSpec{Mode: "nearest", Coord: "half_pixel", Nearest: "round", OutH: 2, OutW: 2}, `nearest_mode "round"`},
		{ResizeSpec{Mode: "linear", Coord: "half_pixel", OutH: 0, OutW: 2}, "not positive"},
	}
	for _, tt := range tests {
		g := NewGraph("e")
		if err := g.AddInput("x", Shape{1, 1, 2, 2}); err != nil {
			t.Fatal(err)
		}
		err := g.AddResize("up", "x", "y", NCHW, tt.spec)
		var ne *NodeError
		if err == nil || !strings.Contains(err.Error(), tt.want) || !asNodeError(err, &ne) || ne.Node != "up" {
			t.Errorf("%+v: error %v, want one naming node up and %s", tt.spec, err, tt.want)
		}
	}
}

func asNodeError(err error, ne **NodeError) bool {
	e, ok := err.(*NodeError)
	*ne = e
	return ok
}

// refConvTranspose is ONNX ConvTranspose by its definition: every input
// element scatters x·w into the output.
func refConvTranspose(x, w *Tensor, bias []float32, a ConvTransposeSpec, out Shape) []float64 {
	xs, ws := x.Shape, w.Shape
	g := max(a.Group, 1)
	cig, cog := xs[1]/g, ws[1]
	y := make([]float64, out.Size())
	for n := 0; n < xs[0]; n++ {
		for ci := 0; ci < xs[1]; ci++ {
			gi := ci / cig
			for h := 0; h < xs[2]; h++ {
				for ww := 0; ww < xs[3]; ww++ {
					v := float64(x.F[at4(xs, n, ci, h, ww)])
					for co := 0; co < cog; co++ {
						for kh := 0; kh < ws[2]; kh++ {
							for kw := 0; kw < ws[3]; kw++ {
								oh := h*a.Strides[0] - a.Pads[0] + kh
								ow := ww*a.Strides[1] - a.Pads[1] + kw
								if oh < 0 || ow < 0 || oh >= out[2] || ow >= out[3] {
									continue
								}
								y[at4(out, n, gi*cog+co, oh, ow)] += v * float64(w.F[at4(ws, ci, co, kh, kw)])
							}
						}
					}
				}
			}
		}
	}
	if bias != nil {
		for i := range y {
			y[i] += float64(bias[(i/(out[2]*out[3]))%out[1]])
		}
	}
	return y
}

func TestAddConvTranspose(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	tests := []struct {
		x, w  Shape
		a     ConvTransposeSpec
		bias  bool
		out   Shape
		label string
	}{
		{Shape{1, 2, 3, 3}, Shape{2, 3, 3, 3}, ConvTransposeSpec{Strides: []int{1, 1}, Pads: []int{0, 0, 0, 0}}, false, Shape{1, 3, 5, 5}, "stride 1"},
		{Shape{1, 2, 3, 4}, Shape{2, 3, 3, 3}, ConvTransposeSpec{Strides: []int{2, 2}, Pads: []int{1, 1, 1, 1}, OutputPadding: []int{1, 1}}, true, Shape{1, 3, 6, 8}, "stride 2 output_padding 1"},
		{Shape{2, 4, 3, 3}, Shape{4, 3, 2, 2}, ConvTransposeSpec{Strides: []int{2, 3}, Pads: []int{0, 1, 1, 0}, Group: 2}, true, Shape{2, 6, 5, 7}, "groups, asymmetric"},
		{Shape{1, 3, 3, 3}, Shape{3, 1, 3, 3}, ConvTransposeSpec{Strides: []int{2, 2}, Pads: []int{1, 1, 1, 1}, Group: 3}, false, Shape{1, 3, 5, 5}, "depthwise"},
		{Shape{1, 1, 4, 4}, Shape{1, 2, 2, 2}, ConvTransposeSpec{Strides: []int{1, 1}, Pads: []int{2, 1, 1, 2}}, false, Shape{1, 2, 0, 0}, "pads beyond the kernel"},
		{Shape{1, 2, 2, 3}, Shape{2, 1, 1, 1}, ConvTransposeSpec{Strides: []int{3, 2}, Pads: []int{0, 0, 0, 0}, OutputPadding: []int{2, 1}}, true, Shape{1, 1, 6, 6}, "1×1 kernel, output_padding"},
		{Shape{1, 1, 1, 1}, Shape{1, 1, 3, 3}, ConvTransposeSpec{Strides: []int{2, 2}, Pads: []int{0, 0, 0, 0}}, false, Shape{1, 1, 3, 3}, "one pixel"},
		{Shape{1, 1, 3, 3}, Shape{1, 2, 3, 3}, ConvTransposeSpec{Strides: []int{3, 2}, Pads: []int{-1, 0, 0, -1}}, true, Shape{1, 2, 0, 0}, "negative pads: a larger output_shape"},
		{Shape{1, 2, 3, 3}, Shape{2, 1, 2, 2}, ConvTransposeSpec{Strides: []int{2, 2}, Pads: []int{0, 0, 0, 0}, OutputPadding: []int{3, 2}}, false, Shape{1, 1, 0, 0}, "output_padding beyond the stride"},
	}
	for _, tt := range tests {
		// Fix the expected size from ONNX's formula.
		for i := 0; i < 2; i++ {
			op := 0
			if tt.a.OutputPadding != nil {
				op = tt.a.OutputPadding[i]
			}
			tt.out[2+i] = tt.a.Strides[i]*(tt.x[2+i]-1) + op + tt.w[2+i] - tt.a.Pads[i] - tt.a.Pads[i+2]
		}
		w := randTensor(r, tt.w)
		cout := tt.w[1] * max(tt.a.Group, 1)
		bias := randTensor(r, Shape{cout})
		for _, l := range []Layout{NCHW, NHWC} {
			for _, hwoi := range []bool{false, true} {
				a := tt.a
				a.Layout = l
				a.WeightsHWOI = hwoi
				wc := w
				if hwoi {
					wc = Transpose(w, []int{2, 3, 1, 0})
				}
				consts := map[string]*Tensor{"w": wc}
				bname := ""
				if tt.bias {
					consts["b"] = bias
					bname = "b"
				}
				xs := tt.x
				if l == NHWC {
					xs = Shape{xs[0], xs[2], xs[3], xs[1]}
				}
				x, ys := runBuilt(t, r, xs, consts, nil, func(g *Graph) error {
					return g.AddConvTranspose("deconv", "x", "w", bname, "y", a)
				})
				xc, y := x, ys[0]
				if l == NHWC {
					xc, y = Transpose(x, []int{0, 3, 1, 2}), Transpose(y, []int{0, 3, 1, 2})
				}
				var bf []float32
				if tt.bias {
					bf = bias.F
				}
				closeTo(t, tt.label+" "+l.String(), y, refConvTranspose(xc, w, bf, a, tt.out), tt.out)
			}
		}
	}
}

func TestAddConvTransposeErrors(t *testing.T) {
	tests := []struct {
		a    ConvTransposeSpec
		want string
	}{
		{ConvTransposeSpec{OutputPadding: []int{-1, 0}}, "output_padding"},
		{ConvTransposeSpec{Strides: []int{0, 1}}, "strides"},
		{ConvTransposeSpec{Group: 3}, "inconsistent"},
		{ConvTransposeSpec{Pads: []int{3, 0, 3, 0}}, "not positive"},
	}
	for _, tt := range tests {
		g := NewGraph("e")
		if err := g.AddInput("x", Shape{1, 2, 2, 2}); err != nil {
			t.Fatal(err)
		}
		if err := g.AddConst("w", NewFloat(Shape{2, 1, 2, 2})); err != nil {
			t.Fatal(err)
		}
		err := g.AddConvTranspose("d", "x", "w", "", "y", tt.a)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: error %v, want %s", tt.a, err, tt.want)
		}
	}
}

// refNorm normalizes x over the axes in red (float64), then applies
// scale and bias given per element by sb.
func refNorm(x *Tensor, red []bool, eps float64, sb func(i int) (float64, float64)) []float64 {
	keep := x.Shape.Clone()
	for i := range keep {
		if red[i] {
			keep[i] = 1
		}
	}
	idx := broadcastIndex(keep, x.Shape)
	sum, cnt := make([]float64, keep.Size()), make([]float64, keep.Size())
	for i, v := range x.F {
		sum[idx[i]] += float64(v)
		cnt[idx[i]]++
	}
	vs := make([]float64, keep.Size())
	for i, v := range x.F {
		d := float64(v) - sum[idx[i]]/cnt[idx[i]]
		vs[idx[i]] += d * d
	}
	y := make([]float64, x.Len())
	for i, v := range x.F {
		j := idx[i]
		s, b := sb(i)
		y[i] = (float64(v)-sum[j]/cnt[j])/math.Sqrt(vs[j]/cnt[j]+eps)*s + b
	}
	return y
}

func TestAddLayerNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, tt := range []struct {
		x         Shape
		axis      int
		withScale bool
		withBias  bool
	}{
		{Shape{2, 3, 4}, -1, true, true},
		{Shape{2, 3, 4}, 1, true, true},
		{Shape{3, 5}, 0, true, false},
		{Shape{2, 7}, -1, false, false},
	} {
		ax, _ := normAxis(tt.axis, len(tt.x))
		ps := tt.x[ax:]
		scale, bias := randTensor(r, ps), randTensor(r, ps)
		consts := map[string]*Tensor{"s": scale, "b": bias}
		sn, bn := "", ""
		if tt.withScale {
			sn = "s"
		}
		if tt.withBias {
			bn = "b"
		}
		x, ys := runBuilt(t, r, tt.x, consts, nil, func(g *Graph) error { return g.AddLayerNorm("ln", "x", sn, bn, "y", tt.axis, 1e-3) })
		red := make([]bool, len(tt.x))
		for i := ax; i < len(red); i++ {
			red[i] = true
		}
		inner := ps.Size()
		want := refNorm(x, red, float64(float32(1e-3)), func(i int) (float64, float64) {
			s, b := 1.0, 0.0
			if tt.withScale {
				s = float64(scale.F[i%inner])
			}
			if tt.withBias {
				b = float64(bias.F[i%inner])
			}
			return s, b
		})
		closeTo(t, "LayerNorm", ys[0], want, tt.x)
	}
}

// TestNormDecomposition pins the op chain that the fixed-point compiler
// recognizes.
func TestNormDecomposition(t *testing.T) {
	g := NewGraph("n")
	if err := g.AddInput("x", Shape{1, 4, 8}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"s", "b"} {
		if err := g.AddConst(p, NewFloat(Shape{8})); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.AddLayerNorm("ln", "x", "s", "b", "y", -1, 1e-5); err != nil {
		t.Fatal(err)
	}
	var ops []Op
	for _, n := range g.Nodes {
		ops = append(ops, n.Op)
	}
	want := []Op{OpReduceMean, OpSub, OpMul, OpReduceMean, OpAdd, OpRsqrt, OpMul, OpMul, OpAdd}
	if !slices.Equal(ops, want) {
		t.Errorf("ops %v, want %v", ops, want)
	}
	if last := g.Nodes[len(g.Nodes)-1]; last.Name != "ln" || last.Output != "y" {
		t.Errorf("last node %q computes %q, want ln computing y", last.Name, last.Output)
	}
	// With the statistics named, they are the mean and the rsqrt.
	if err := g.AddLayerNormStats("ln2", "x", "s", "", "y2", "mean", "inv", -1, 1e-5); err != nil {
		t.Fatal(err)
	}
	if p := g.Producer("mean"); p == nil || p.Op != OpReduceMean || !g.Values["mean"].Shape.Equal(Shape{1, 4, 1}) {
		t.Errorf("mean is computed by %v", p)
	}
	if p := g.Producer("inv"); p == nil || p.Op != OpRsqrt {
		t.Errorf("inv is computed by %v", p)
	}
	names := map[string]bool{}
	for _, n := range g.Nodes {
		if names[n.Name] {
			t.Errorf("two nodes are named %q", n.Name)
		}
		names[n.Name] = true
	}
}

func TestAddInstanceNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, tt := range []struct {
		x Shape
		l Layout
	}{
		{Shape{2, 3, 4, 5}, NCHW},
		{Shape{2, 4, 5, 3}, NHWC},
		{Shape{2, 3, 6}, NCHW},
	} {
		c := tt.x[1]
		if tt.l == NHWC {
			c = tt.x[len(tt.x)-1]
		}
		scale, bias := randTensor(r, Shape{c}), randTensor(r, Shape{c})
		x, ys := runBuilt(t, r, tt.x, map[string]*Tensor{"s": scale, "b": bias}, nil, func(g *Graph) error {
			return g.AddInstanceNorm("in", "x", "s", "b", "y", tt.l, 1e-5)
		})
		red := make([]bool, len(tt.x))
		for i := 1; i < len(red); i++ {
			red[i] = true
		}
		inner := tt.x[2:].Size()
		if tt.l == NHWC {
			red[len(red)-1] = false
			inner = 1
		} else {
			red[1] = false
		}
		want := refNorm(x, red, float64(float32(1e-5)), func(i int) (float64, float64) {
			ch := (i / inner) % c
			return float64(scale.F[ch]), float64(bias.F[ch])
		})
		closeTo(t, "InstanceNorm "+tt.l.String(), ys[0], want, tt.x)
	}
}

func TestAddPow(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, e := range []float32{1, 2, 3, 0.5, -1, -0.5} {
		x := randTensor(r, Shape{3, 4})
		if e == 0.5 || e == -0.5 {
			positive(x)
		}
		ys := runOn(t, x, nil, nil, func(g *Graph) error { return g.AddPow("p", "x", "y", e) })
		want := make([]float64, x.Len())
		for i, v := range x.F {
			want[i] = math.Pow(float64(v), float64(e))
		}
		closeTo(t, "Pow", ys[0], want, x.Shape)
	}
	g := NewGraph("p")
	if err := g.AddInput("x", Shape{2}); err != nil {
		t.Fatal(err)
	}
	if err := g.AddPow("p", "x", "y", 1.5); err == nil || !strings.Contains(err.Error(), "exponent 1.5") {
		t.Errorf("Pow 1.5: error %v, want one naming the exponent", err)
	}
}

func TestDepthToSpace(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const b = 2
	for _, mode := range []string{"DCR", "CRD"} {
		for _, l := range []Layout{NCHW, NHWC} {
			// NCHW [2, 12, 3, 4] (C′ = 3); NHWC holds the same data.
			xs := Shape{2, 12, 3, 4}
			if l == NHWC {
				xs = Shape{2, 3, 4, 12}
			}
			x, ys := runBuilt(t, r, xs, nil, []string{"y", "z"}, func(g *Graph) error {
				if err := g.AddDepthToSpace("d2s", "x", "y", l, b, mode); err != nil {
					return err
				}
				return g.AddSpaceToDepth("s2d", "y", "z", l, b, mode)
			})
			xc, y := x, ys[0]
			if l == NHWC {
				xc, y = Transpose(x, []int{0, 3, 1, 2}), Transpose(y, []int{0, 3, 1, 2})
			}
			s := xc.Shape
			c2 := s[1] / (b * b)
			os := Shape{s[0], c2, s[2] * b, s[3] * b}
			want := make([]float64, os.Size())
			for n := 0; n < s[0]; n++ {
				for c := 0; c < c2; c++ {
					for h := 0; h < s[2]; h++ {
						for w := 0; w < s[3]; w++ {
							for i := 0; i < b; i++ {
								for j := 0; j < b; j++ {
									src := (i*b+j)*c2 + c
									if mode == "CRD" {
										src = c*b*b + i*b + j
									}
									want[at4(os, n, c, h*b+i, w*b+j)] = float64(xc.F[at4(s, n, src, h, w)])
								}
							}
						}
					}
				}
			}
			closeTo(t, "DepthToSpace "+mode+" "+l.String(), y, want, os)
			back := make([]float64, x.Len())
			for i, v := range x.F {
				back[i] = float64(v)
			}
			closeTo(t, "SpaceToDepth "+mode+" "+l.String(), ys[1], back, xs)
		}
	}
}

func TestAddTile(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, reps := range [][]int{{1, 1, 1}, {2, 1, 3}, {1, 4, 1}, {1, 1, 100}} {
		xs := Shape{2, 3, 2}
		x, ys := runBuilt(t, r, xs, nil, nil, func(g *Graph) error { return g.AddTile("t", "x", "y", reps) })
		os := Shape{xs[0] * reps[0], xs[1] * reps[1], xs[2] * reps[2]}
		want := make([]float64, os.Size())
		for i := range want {
			a, b, c := i/(os[1]*os[2]), (i/os[2])%os[1], i%os[2]
			want[i] = float64(x.F[((a%xs[0])*xs[1]+b%xs[1])*xs[2]+c%xs[2]])
		}
		closeTo(t, "Tile", ys[0], want, os)
	}
}

func TestAddSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	xs := Shape{2, 7, 3}
	sizes := []int{2, 0, 5}
	x, ys := runBuilt(t, r, xs, nil, []string{"a", "b", "c"}, func(g *Graph) error {
		return g.AddSplit("s", "x", []string{"a", "b", "c"}, -2, sizes)
	})
	start := 0
	for k, s := range sizes {
		var want []float64
		for i := 0; i < xs[0]; i++ {
			for j := start; j < start+s; j++ {
				for l := 0; l < xs[2]; l++ {
					want = append(want, float64(x.F[(i*xs[1]+j)*xs[2]+l]))
				}
			}
		}
		closeTo(t, "Split", ys[k], want, Shape{xs[0], s, xs[2]})
		start += s
	}
	g := NewGraph("s")
	if err := g.AddInput("x", xs); err != nil {
		t.Fatal(err)
	}
	if err := g.AddSplit("s", "x", []string{"a", "b"}, 1, []int{3, 3}); err == nil || !strings.Contains(err.Error(), "add up to 6") {
		t.Errorf("sizes not adding up: %v", err)
	}
}

// TestBuildersAreBounded: a small model cannot make a builder allocate
// beyond MaxFoldedElements.
func TestBuildersAreBounded(t *testing.T) {
	g := NewGraph("big")
	if err := g.AddInput("x", Shape{1, 1, 1 << 14, 1 << 14}); err != nil {
		t.Fatal(err)
	}
	err := g.AddResize("up", "x", "y", NCHW, ResizeSpec{Mode: "nearest", Coord: "asymmetric", OutH: 1 << 14, OutW: 1 << 15})
	if err == nil || !strings.Contains(err.Error(), "computed constants") {
		t.Errorf("a resize with 2^29-element matrices: %v", err)
	}
	if err := g.AddInput("s", Shape{1}); err != nil {
		t.Fatal(err)
	}
	if err := g.AddTile("t", "s", "u", []int{1 << 20}); err != nil {
		t.Fatal(err)
	}
	if n := len(g.Nodes); n > 25 {
		t.Errorf("tiling 2^20 times took %d nodes", n)
	}
}
