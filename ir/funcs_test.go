package ir

import (
	"math"
	"testing"
)

// evalOne evaluates a single node on the given inputs, as folding does.
func evalOne(t *testing.T, op Op, a Attrs, ins ...*Tensor) *Tensor {
	t.Helper()
	names := make([]string, len(ins))
	for i := range ins {
		names[i] = string(rune('a' + i))
	}
	out, err := evalNode(&Node{Name: "n", Op: op, Inputs: names, Output: "y", Attrs: a}, ins)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	return out
}

// sameFloat reports whether got is want rounded to float32, within a few
// units in the last place; NaN equals NaN and infinities must match.
func sameFloat(got float32, want float64) bool {
	w := float32(want)
	switch {
	case math.IsNaN(want):
		return math.IsNaN(float64(got))
	case math.IsInf(float64(w), 0) || w == 0:
		return got == w
	}
	return math.Abs(float64(got-w)) <= 4*math.Abs(float64(w))*(1.0/(1<<23))
}

var unaryInputs = []float32{0, 1, -1, 0.5, -0.5, 2.75, -3, 3, -6, 6, 10, -10, 30, -30, 100, -100,
	float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}

func TestUnaryFunctions(t *testing.T) {
	phi := func(x float64) float64 { return 0.5 * (1 + math.Erf(x/math.Sqrt2)) }
	tests := []struct {
		op   Op
		a    Attrs
		want func(x float64) float64
		// skip lists inputs where the closed form in want is not the
		// defined value (it overflows or takes ∞·0).
		skip func(x float64) bool
	}{
		{OpAbs, Attrs{}, math.Abs, nil},
		{OpExp, Attrs{}, math.Exp, nil},
		{OpErf, Attrs{}, math.Erf, nil},
		{OpLog, Attrs{}, math.Log, nil},
		{OpRsqrt, Attrs{}, func(x float64) float64 { return 1 / math.Sqrt(x) }, nil},
		{OpHardSigmoid, Attrs{Alpha: 0.2, Beta: 0.5}, func(x float64) float64 { return math.Max(0, math.Min(1, 0.2*x+0.5)) }, math.IsNaN},
		{OpHardSigmoid, Attrs{Alpha: 1.0 / 6, Beta: 0.5}, func(x float64) float64 { return math.Max(0, math.Min(1, float64(float32(1.0/6))*x+0.5)) }, math.IsNaN},
		{OpHardSwish, Attrs{}, func(x float64) float64 {
			switch {
			case x <= -3:
				return 0
			case x >= 3:
				return x
			}
			return x * (x + 3) / 6
		}, func(x float64) bool { return math.IsNaN(x) || math.IsInf(x, -1) }},
		{OpSilu, Attrs{}, func(x float64) float64 { return x / (1 + math.Exp(-x)) }, func(x float64) bool { return math.IsInf(x, 0) }},
		{OpGelu, Attrs{}, func(x float64) float64 { return x * phi(x) }, func(x float64) bool { return math.IsInf(x, -1) }},
		{OpGelu, Attrs{Approximate: true}, func(x float64) float64 {
			return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*math.Pow(x, 3))))
		}, func(x float64) bool { return math.IsInf(x, -1) }},
		{OpSoftplus, Attrs{}, func(x float64) float64 { return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) }, func(x float64) bool { return math.IsInf(x, 0) }},
	}
	for k, tt := range tests {
		y := evalOne(t, tt.op, tt.a, FloatTensor(Shape{len(unaryInputs)}, append([]float32(nil), unaryInputs...)))
		for i, x := range unaryInputs {
			xf := float64(x)
			if tt.skip != nil && tt.skip(xf) {
				continue
			}
			if want := tt.want(xf); !sameFloat(y.F[i], want) {
				t.Errorf("case %d: %s(%v) = %v, want %v", k, tt.op, x, y.F[i], want)
			}
		}
	}
}

// TestUnaryEdges pins the values at the points where the closed forms
// above break down, and Softplus beyond float64's exp.
func TestUnaryEdges(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	tests := []struct {
		op   Op
		a    Attrs
		x    float32
		want float64
	}{
		{OpSoftplus, Attrs{}, float32(math.Inf(1)), inf},
		{OpSoftplus, Attrs{}, 3e38, 3e38},
		{OpSoftplus, Attrs{}, -1e3, 0},
		{OpSoftplus, Attrs{}, -80, math.Exp(-80)}, // log1p keeps the tiny result
		{OpSilu, Attrs{}, float32(math.Inf(1)), inf},
		{OpSilu, Attrs{}, -1e3, 0},
		{OpGelu, Attrs{}, float32(math.Inf(1)), inf},
		{OpGelu, Attrs{}, -1e3, 0},
		{OpHardSigmoid, Attrs{Alpha: 0.2, Beta: 0.5}, float32(math.NaN()), nan},
		{OpHardSwish, Attrs{}, float32(math.Inf(1)), inf},
		{OpHardSwish, Attrs{}, -1e30, 0},
		{OpRsqrt, Attrs{}, 0, inf},
		{OpRsqrt, Attrs{}, -1, nan},
		{OpLog, Attrs{}, 0, -inf},
		{OpLog, Attrs{}, -1, nan},
	}
	for _, tt := range tests {
		y := evalOne(t, tt.op, tt.a, FloatTensor(Shape{1}, []float32{tt.x}))
		if !sameFloat(y.F[0], tt.want) {
			t.Errorf("%s(%v) = %v, want %v", tt.op, tt.x, y.F[0], tt.want)
		}
	}
}

func TestBinaryFunctions(t *testing.T) {
	nan := float32(math.NaN())
	x := FloatTensor(Shape{2, 3}, []float32{-2, 0, 3, nan, -0.5, 7})
	y := FloatTensor(Shape{3}, []float32{1, -1, 5})
	tests := []struct {
		op   Op
		want []float32
	}{
		{OpMax, []float32{1, 0, 5, nan, -0.5, 7}},
		{OpMin, []float32{-2, -1, 3, nan, -1, 5}},
		{OpPRelu, []float32{-2, 0, 3, nan, 0.5, 7}},
	}
	for _, tt := range tests {
		got := evalOne(t, tt.op, Attrs{}, x, y)
		if !got.Shape.Equal(Shape{2, 3}) {
			t.Fatalf("%s: shape %v", tt.op, got.Shape)
		}
		for i, w := range tt.want {
			if !sameFloat(got.F[i], float64(w)) {
				t.Errorf("%s: element %d = %v, want %v", tt.op, i, got.F[i], w)
			}
		}
	}
}

func TestPReluSlopeMustBroadcastToX(t *testing.T) {
	g := NewGraph("p")
	if err := g.AddInput("x", Shape{1, 3}); err != nil {
		t.Fatal(err)
	}
	if err := g.AddConst("s", FloatTensor(Shape{2, 3}, make([]float32, 6))); err != nil {
		t.Fatal(err)
	}
	err := g.AddNode(&Node{Name: "p", Op: OpPRelu, Inputs: []string{"x", "s"}, Output: "y"})
	if err == nil {
		t.Fatal("a slope larger than x was accepted")
	}
}

func TestReduceMaxMin(t *testing.T) {
	nan := float32(math.NaN())
	x := FloatTensor(Shape{2, 3}, []float32{1, -4, 2, -1, 5, nan})
	tests := []struct {
		op    Op
		axes  []int
		keep  bool
		shape Shape
		want  []float32
	}{
		{OpReduceMax, []int{1}, true, Shape{2, 1}, []float32{2, nan}},
		{OpReduceMax, []int{0}, false, Shape{3}, []float32{1, 5, nan}},
		{OpReduceMin, []int{-1}, false, Shape{2}, []float32{-4, nan}},
		{OpReduceMin, nil, true, Shape{1, 1}, []float32{nan}},
		{OpReduceMax, []int{0, 1}, false, Shape{}, []float32{nan}},
	}
	for _, tt := range tests {
		got := evalOne(t, tt.op, Attrs{Axes: tt.axes, KeepDims: tt.keep}, x)
		if !got.Shape.Equal(tt.shape) {
			t.Errorf("%s%v: shape %v, want %v", tt.op, tt.axes, got.Shape, tt.shape)
			continue
		}
		for i, w := range tt.want {
			if !sameFloat(got.F[i], float64(w)) {
				t.Errorf("%s%v: element %d = %v, want %v", tt.op, tt.axes, i, got.F[i], w)
			}
		}
	}
	// Empty reductions give the identity of max and min.
	e := NewFloat(Shape{2, 0})
	if got := evalOne(t, OpReduceMax, Attrs{Axes: []int{1}}, e); got.F[0] != float32(math.Inf(-1)) {
		t.Errorf("ReduceMax over nothing = %v, want -Inf", got.F[0])
	}
	if got := evalOne(t, OpReduceMin, Attrs{Axes: []int{1}}, e); got.F[1] != float32(math.Inf(1)) {
		t.Errorf("ReduceMin over nothing = %v, want +Inf", got.F[1])
	}
}

// TestIntFolding: Max, Min, Abs, ReduceMax and ReduceMin fold shape
// arithmetic exactly in int64.
func TestIntFolding(t *testing.T) {
	big := int64(1) << 60
	x := IntTensor(Shape{2, 2}, []int64{-3, big + 1, 7, -big})
	y := IntTensor(Shape{2}, []int64{0, big})
	tests := []struct {
		op   Op
		a    Attrs
		ins  []*Tensor
		want []int64
	}{
		{OpMax, Attrs{}, []*Tensor{x, y}, []int64{0, big + 1, 7, big}},
		{OpMin, Attrs{}, []*Tensor{x, y}, []int64{-3, big, 0, -big}},
		{OpAbs, Attrs{}, []*Tensor{x}, []int64{3, big + 1, 7, big}},
		{OpReduceMax, Attrs{Axes: []int{0}}, []*Tensor{x}, []int64{7, big + 1}},
		{OpReduceMin, Attrs{Axes: []int{1}}, []*Tensor{x}, []int64{-3, -big}},
	}
	for _, tt := range tests {
		got := evalOne(t, tt.op, tt.a, tt.ins...)
		if got.DType != Int64 {
			t.Errorf("%s: result is %s, want int64", tt.op, got.DType)
			continue
		}
		for i, w := range tt.want {
			if got.I[i] != w {
				t.Errorf("%s: element %d = %d, want %d", tt.op, i, got.I[i], w)
			}
		}
	}
}

// TestNewOpsFold: a node of each new op on constants folds away.
func TestNewOpsFold(t *testing.T) {
	for _, op := range []Op{OpAbs, OpHardSigmoid, OpHardSwish, OpExp, OpErf, OpGelu, OpSoftplus, OpSilu, OpRsqrt, OpLog, OpReduceMax, OpReduceMin} {
		g := NewGraph("f")
		if err := g.AddConst("c", FloatTensor(Shape{2}, []float32{1, 2})); err != nil {
			t.Fatal(err)
		}
		if err := g.AddNode(&Node{Name: "n", Op: op, Inputs: []string{"c"}, Output: "y", Attrs: Attrs{Alpha: 0.2, Beta: 0.5}}); err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		if len(g.Nodes) != 0 || g.Const("y") == nil {
			t.Errorf("%s on a constant did not fold", op)
		}
	}
}

func TestLogSoftmax(t *testing.T) {
	x := FloatTensor(Shape{2, 3}, []float32{1, 2, 3, -1000, 0, 1000})
	for _, axis := range []int{-1, 0} {
		got := evalOne(t, OpLogSoftmax, Attrs{Axis: axis}, x)
		for i := range got.F {
			r, c := i/3, i%3
			var xs []float64
			if axis == 0 {
				xs = []float64{float64(x.F[c]), float64(x.F[3+c])}
			} else {
				xs = []float64{float64(x.F[3*r]), float64(x.F[3*r+1]), float64(x.F[3*r+2])}
			}
			m := math.Inf(-1)
			for _, v := range xs {
				m = math.Max(m, v)
			}
			var sum float64
			for _, v := range xs {
				sum += math.Exp(v - m)
			}
			if want := float64(x.F[i]) - m - math.Log(sum); !sameFloat(got.F[i], want) {
				t.Errorf("axis %d: element %d = %v, want %v", axis, i, got.F[i], want)
			}
		}
	}
}
