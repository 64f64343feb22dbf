package ir

import "math"

// The float semantics of the element-wise functions and the max/min
// reductions that real models use beyond the paper's op set. Each is
// computed in float64 and rounded once to float32, so that the
// interpreter is the reference the fixed-point approximations are
// measured against.

// unaryFunc returns the float64 function that the element-wise op computes.
func unaryFunc(op Op, a Attrs) func(float64) float64 {
	switch op {
	case OpAbs:
		return math.Abs
	case OpHardSigmoid:
		alpha, beta := float64(a.Alpha), float64(a.Beta)
		return func(x float64) float64 { return hardSigmoid(alpha*x + beta) }
	case OpHardSwish:
		return func(x float64) float64 { return x * hardSigmoid(x/6+0.5) }
	case OpExp:
		return math.Exp
	case OpErf:
		return math.Erf
	case OpGelu:
		if a.Approximate {
			return geluTanh
		}
		return gelu
	case OpSoftplus:
		return softplus
	case OpSilu:
		return func(x float64) float64 { return x * sigmoid(x) }
	case OpRsqrt:
		return func(x float64) float64 { return 1 / math.Sqrt(x) }
	case OpLog:
		return math.Log
	}
	panic("ir: no element-wise function for " + string(op))
}

// hardSigmoid clamps x to [0, 1] (NaN stays NaN).
func hardSigmoid(x float64) float64 {
	return min(max(x, 0), 1)
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// gelu is x·Φ(x), Φ the standard normal distribution function.
func gelu(x float64) float64 {
	return 0.5 * x * (1 + math.Erf(x/math.Sqrt2))
}

// geluTanh is GELU's tanh approximation:
// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
func geluTanh(x float64) float64 {
	return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
}

// softplus is log(1 + e^x) without overflow for large x and without
// losing the small result for very negative x.
func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// prelu is x for x ≥ 0, slope·x otherwise.
func prelu(x, slope float32) float32 {
	if x < 0 {
		return slope * x
	}
	return x
}

// reduceExtremeF computes the maximum (isMax) or minimum of x over axes;
// an empty reduction yields -Inf for the maximum and +Inf for the minimum,
// and NaN propagates, as numpy's.
func reduceExtremeF(x *Tensor, axes []int, isMax bool, out Shape) *Tensor {
	t := NewFloat(out)
	init := float32(math.Inf(1))
	if isMax {
		init = float32(math.Inf(-1))
	}
	for i := range t.F {
		t.F[i] = init
	}
	idx := reduceIndex(x.Shape, axes)
	for i, v := range x.F {
		j := idx[i]
		if isMax {
			t.F[j] = max(t.F[j], v)
		} else {
			t.F[j] = min(t.F[j], v)
		}
	}
	return t
}

// reduceExtremeI is reduceExtremeF on int64 (shape arithmetic); an empty
// reduction yields the smallest or largest int64.
func reduceExtremeI(x *Tensor, axes []int, isMax bool, out Shape) *Tensor {
	t := IntTensor(out, make([]int64, out.Size()))
	init := int64(math.MaxInt64)
	if isMax {
		init = math.MinInt64
	}
	for i := range t.I {
		t.I[i] = init
	}
	idx := reduceIndex(x.Shape, axes)
	for i, v := range x.I {
		j := idx[i]
		if isMax {
			t.I[j] = max(t.I[j], v)
		} else {
			t.I[j] = min(t.I[j], v)
		}
	}
	return t
}

// reduceIndex maps every flat index of a tensor of shape x to the flat
// index of its reduction over axes (row-major over the kept axes, the
// same order with or without KeepDims).
func reduceIndex(x Shape, axes []int) []int {
	red := reduceAxes(len(x), axes)
	keep := make(Shape, len(x))
	for i, d := range x {
		keep[i] = d
		if red[i] {
			keep[i] = 1
		}
	}
	return broadcastIndex(keep, x)
}

// logSoftmaxF computes x − max − log Σ e^(x − max) along axis in float64.
func logSoftmaxF(x *Tensor, axis int) *Tensor {
	ax, _ := normAxis(axis, len(x.Shape))
	out := NewFloat(x.Shape)
	inner := x.Shape[ax+1:].Size()
	dim := x.Shape[ax]
	outer := x.Len() / max(1, dim*inner)
	for o := 0; o < outer; o++ {
		for in := 0; in < inner; in++ {
			base := o*dim*inner + in
			m := math.Inf(-1)
			for k := 0; k < dim; k++ {
				m = max(m, float64(x.F[base+k*inner]))
			}
			var sum float64
			for k := 0; k < dim; k++ {
				sum += math.Exp(float64(x.F[base+k*inner]) - m)
			}
			lse := m + math.Log(sum)
			for k := 0; k < dim; k++ {
				out.F[base+k*inner] = float32(float64(x.F[base+k*inner]) - lse)
			}
		}
	}
	return out
}
