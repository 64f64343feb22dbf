package ir

import (
	"fmt"
	"math"
)

// Run evaluates g in float32 on the given inputs (by graph input name) and
// returns the graph outputs in order. Intermediate tensors are dropped as
// soon as their last reader has run.
func Run(g *Graph, inputs map[string]*Tensor) ([]*Tensor, error) {
	env := map[string]*Tensor{}
	for _, name := range g.Inputs {
		t, ok := inputs[name]
		if !ok {
			return nil, fmt.Errorf("input %q not given", name)
		}
		want := g.Values[name].Shape
		if !t.Shape.Equal(want) {
			return nil, fmt.Errorf("input %q has shape %v, the model expects %v", name, t.Shape, want)
		}
		env[name] = t
	}
	lastUse := map[string]int{}
	for i, n := range g.Nodes {
		for _, in := range n.Inputs {
			lastUse[in] = i
		}
	}
	isOut := map[string]bool{}
	for _, o := range g.Outputs {
		isOut[o] = true
	}
	value := func(name string) *Tensor {
		if t := env[name]; t != nil {
			return t
		}
		return g.Const(name)
	}
	for i, n := range g.Nodes {
		ins := make([]*Tensor, len(n.Inputs))
		for j, in := range n.Inputs {
			if ins[j] = value(in); ins[j] == nil {
				return nil, n.Errorf("input %q has no value", in)
			}
		}
		out, err := evalNode(n, ins)
		if err != nil {
			return nil, err
		}
		env[n.Output] = out
		for _, in := range n.Inputs {
			if lastUse[in] == i && !isOut[in] {
				delete(env, in)
			}
		}
	}
	outs := make([]*Tensor, len(g.Outputs))
	for i, o := range g.Outputs {
		if outs[i] = value(o); outs[i] == nil {
			return nil, fmt.Errorf("output %q was not computed", o)
		}
	}
	return outs, nil
}

// evalNode computes one node. For OpShape, ins[0] may carry only a shape.
func evalNode(n *Node, ins []*Tensor) (*Tensor, error) {
	a := n.Attrs
	vals := make([]*Value, len(ins))
	for i, t := range ins {
		vals[i] = &Value{Name: n.Inputs[i], Shape: t.Shape, DType: t.DType, Const: t}
	}
	outShape, outType, err := inferShape(n, vals)
	if err != nil {
		return nil, err
	}
	switch n.Op {
	case OpShape:
		d := make([]int64, len(ins[0].Shape))
		for i, v := range ins[0].Shape {
			d[i] = int64(v)
		}
		return IntTensor(Shape{len(d)}, d), nil
	case OpIdentity:
		return ins[0], nil
	case OpReshape:
		return ins[0].reshaped(outShape), nil
	case OpCast:
		return ins[0].asType(a.To).reshaped(outShape), nil
	}
	// The output type picks the kernel: int64 shape arithmetic, or float
	// kernels, which read integer operands (indices, shapes, an integer
	// tensor fed to a float op) converted to float.
	if outType == Int64 && n.Op != OpArgMax {
		return evalInt(n, ins, outShape)
	}
	for i, t := range ins {
		if t.DType == Int64 {
			ins[i] = t.asType(Float32)
		}
	}
	x := ins[0]
	switch n.Op {
	case OpConv:
		var bias []float32
		if len(ins) == 3 {
			bias = ins[2].F
		}
		return convFloat(x, ins[1], bias, a.Strides, a.Pads, a.Group, a.Layout, outShape), nil
	case OpMaxPool:
		return poolFloat(x, a, true, outShape), nil
	case OpAvgPool:
		return poolFloat(x, a, false, outShape), nil
	case OpMatMul:
		return matMulFloat(x, ins[1], outShape), nil
	case OpAdd:
		return broadcastF(x, ins[1], outShape, func(p, q float32) float32 { return p + q }), nil
	case OpSub:
		return broadcastF(x, ins[1], outShape, func(p, q float32) float32 { return p - q }), nil
	case OpMul:
		return broadcastF(x, ins[1], outShape, func(p, q float32) float32 { return p * q }), nil
	case OpDiv:
		return broadcastF(x, ins[1], outShape, func(p, q float32) float32 { return p / q }), nil
	case OpEqual:
		t := broadcastF(x, ins[1], outShape, func(p, q float32) float32 {
			if p == q {
				return 1
			}
			return 0
		})
		return t, nil
	case OpRelu:
		return mapF(x, func(v float32) float32 { return max(v, 0) }), nil
	case OpClip:
		return mapF(x, func(v float32) float32 { return min(max(v, a.Min), a.Max) }), nil
	case OpLeakyRelu:
		return mapF(x, func(v float32) float32 {
			if v < 0 {
				return a.Alpha * v
			}
			return v
		}), nil
	case OpSigmoid:
		return mapF(x, func(v float32) float32 { return float32(1 / (1 + math.Exp(-float64(v)))) }), nil
	case OpTanh:
		return mapF(x, func(v float32) float32 { return float32(math.Tanh(float64(v))) }), nil
	case OpSqrt:
		return mapF(x, func(v float32) float32 { return float32(math.Sqrt(float64(v))) }), nil
	case OpReciprocal:
		return mapF(x, func(v float32) float32 { return 1 / v }), nil
	case OpNeg:
		return mapF(x, func(v float32) float32 { return -v }), nil
	case OpFloor:
		return mapF(x, func(v float32) float32 { return float32(math.Floor(float64(v))) }), nil
	case OpMax:
		return broadcastF(x, ins[1], outShape, func(p, q float32) float32 { return max(p, q) }), nil
	case OpMin:
		return broadcastF(x, ins[1], outShape, func(p, q float32) float32 { return min(p, q) }), nil
	case OpPRelu:
		return broadcastF(x, ins[1], outShape, prelu), nil
	case OpAbs, OpHardSigmoid, OpHardSwish, OpExp, OpErf, OpGelu, OpSoftplus, OpSilu, OpRsqrt, OpLog:
		f := unaryFunc(n.Op, a)
		return mapF(x, func(v float32) float32 { return float32(f(float64(v))) }), nil
	case OpReduceMax, OpReduceMin:
		return reduceExtremeF(x, a.Axes, n.Op == OpReduceMax, outShape), nil
	case OpSoftmax:
		return softmaxF(x, a.Axis), nil
	case OpLogSoftmax:
		return logSoftmaxF(x, a.Axis), nil
	case OpBatchNorm:
		return batchNormF(x, ins[1].F, ins[2].F, ins[3].F, ins[4].F, a.Epsilon, a.Axis), nil
	case OpTranspose:
		return Transpose(x, n.Attrs.Perm), nil
	case OpConcat:
		return concat(ins, a.Axis, outShape), nil
	case OpPad:
		return padF(x, a.Pads, a.PadValue, outShape), nil
	case OpArgMax:
		return argMax(x, a.Axis, a.SelectLast, outShape), nil
	case OpReduceMean, OpReduceSum:
		return reduceF(x, a.Axes, n.Op == OpReduceMean, outShape), nil
	case OpGather:
		return gather(x, ins[1], a.Axis, outShape)
	case OpSlice:
		sp, _ := sliceParams(n, vals)
		return slice(x, sp), nil
	case OpExpand:
		return broadcastF(x, NewFloat(outShape), outShape, func(p, _ float32) float32 { return p }), nil
	case OpWhere:
		cond := ins[0].Floats()
		out := NewFloat(outShape)
		ci := broadcastIndex(ins[0].Shape, outShape)
		xi := broadcastIndex(ins[1].Shape, outShape)
		yi := broadcastIndex(ins[2].Shape, outShape)
		xf, yf := ins[1].Floats(), ins[2].Floats()
		for i := range out.F {
			if cond[ci[i]] != 0 {
				out.F[i] = xf[xi[i]]
			} else {
				out.F[i] = yf[yi[i]]
			}
		}
		return out, nil
	case OpConstOfShape:
		out := NewFloat(outShape)
		if a.Value != nil {
			v := a.Value.Floats()[0]
			for i := range out.F {
				out.F[i] = v
			}
		}
		return out, nil
	case OpRange:
		out := NewFloat(outShape)
		st, d := x.Floats()[0], ins[2].Floats()[0]
		for i := range out.F {
			out.F[i] = st + float32(i)*d
		}
		return out, nil
	}
	return nil, n.Errorf("op has no float kernel for %s", outType)
}

func mapF(x *Tensor, f func(float32) float32) *Tensor {
	out := NewFloat(x.Shape)
	for i, v := range x.F {
		out.F[i] = f(v)
	}
	return out
}

// broadcastIndex maps every flat index of out to the flat index of a
// tensor of shape in broadcast to out.
func broadcastIndex(in, out Shape) []int {
	idx := make([]int, out.Size())
	if in.Equal(out) {
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	inStr := in.Strides()
	// effective stride per out axis (0 where broadcast)
	eff := make([]int, len(out))
	off := len(out) - len(in)
	for i := range out {
		if j := i - off; j >= 0 && in[j] != 1 {
			eff[i] = inStr[j]
		}
	}
	coord := make([]int, len(out))
	cur := 0
	for i := range idx {
		idx[i] = cur
		for d := len(out) - 1; d >= 0; d-- {
			coord[d]++
			cur += eff[d]
			if coord[d] < out[d] {
				break
			}
			cur -= eff[d] * coord[d]
			coord[d] = 0
		}
	}
	return idx
}

func broadcastF(x, y *Tensor, out Shape, f func(p, q float32) float32) *Tensor {
	t := NewFloat(out)
	xf, yf := x.Floats(), y.Floats()
	if x.Shape.Equal(out) && y.Shape.Equal(out) {
		for i := range t.F {
			t.F[i] = f(xf[i], yf[i])
		}
		return t
	}
	xi, yi := broadcastIndex(x.Shape, out), broadcastIndex(y.Shape, out)
	for i := range t.F {
		t.F[i] = f(xf[xi[i]], yf[yi[i]])
	}
	return t
}

func softmaxF(x *Tensor, axis int) *Tensor {
	ax, _ := normAxis(axis, len(x.Shape))
	out := NewFloat(x.Shape)
	inner := 1
	for _, d := range x.Shape[ax+1:] {
		inner *= d
	}
	dim := x.Shape[ax]
	outer := x.Len() / max(1, dim*inner)
	for o := 0; o < outer; o++ {
		for in := 0; in < inner; in++ {
			base := o*dim*inner + in
			m := float32(math.Inf(-1))
			for k := 0; k < dim; k++ {
				m = max(m, x.F[base+k*inner])
			}
			var sum float64
			for k := 0; k < dim; k++ {
				e := math.Exp(float64(x.F[base+k*inner] - m))
				out.F[base+k*inner] = float32(e)
				sum += e
			}
			for k := 0; k < dim; k++ {
				out.F[base+k*inner] = float32(float64(out.F[base+k*inner]) / sum)
			}
		}
	}
	return out
}

func batchNormF(x *Tensor, scale, bias, mean, variance []float32, eps float32, axis int) *Tensor {
	ax, _ := normAxis(axis, len(x.Shape))
	inner := 1
	for _, d := range x.Shape[ax+1:] {
		inner *= d
	}
	c := x.Shape[ax]
	out := NewFloat(x.Shape)
	for i, v := range x.F {
		ch := (i / inner) % c
		k := scale[ch] / float32(math.Sqrt(float64(variance[ch]+eps)))
		out.F[i] = (v-mean[ch])*k + bias[ch]
	}
	return out
}

// Transpose permutes the axes of x (nil perm reverses them).
func Transpose(x *Tensor, perm []int) *Tensor {
	r := len(x.Shape)
	if perm == nil {
		perm = make([]int, r)
		for i := range perm {
			perm[i] = r - 1 - i
		}
	}
	out := make(Shape, r)
	for i, p := range perm {
		out[i] = x.Shape[p]
	}
	inStr := x.Shape.Strides()
	eff := make([]int, r)
	for i, p := range perm {
		eff[i] = inStr[p]
	}
	idx := make([]int, out.Size())
	coord := make([]int, r)
	cur := 0
	for i := range idx {
		idx[i] = cur
		for d := r - 1; d >= 0; d-- {
			coord[d]++
			cur += eff[d]
			if coord[d] < out[d] {
				break
			}
			cur -= eff[d] * coord[d]
			coord[d] = 0
		}
	}
	if x.DType == Int64 {
		o := make([]int64, len(idx))
		for i, j := range idx {
			o[i] = x.I[j]
		}
		return IntTensor(out, o)
	}
	o := make([]float32, len(idx))
	for i, j := range idx {
		o[i] = x.F[j]
	}
	return FloatTensor(out, o)
}

func concat(ins []*Tensor, axis int, out Shape) *Tensor {
	shapes := make([]Shape, len(ins))
	for i, t := range ins {
		shapes[i] = t.Shape
	}
	if ins[0].DType == Int64 {
		xs := make([][]int64, len(ins))
		for i, t := range ins {
			xs[i] = t.I
		}
		return IntTensor(out, ConcatCopy(xs, shapes, axis, out))
	}
	xs := make([][]float32, len(ins))
	for i, t := range ins {
		xs[i] = t.F
	}
	return FloatTensor(out, ConcatCopy(xs, shapes, axis, out))
}

func padF(x *Tensor, pads []int, value float32, out Shape) *Tensor {
	t := NewFloat(out)
	if value != 0 {
		for i := range t.F {
			t.F[i] = value
		}
	}
	r := len(x.Shape)
	outStr := out.Strides()
	coord := make([]int, r)
	for i, v := range x.F {
		off := 0
		for d := 0; d < r; d++ {
			off += (coord[d] + pads[d]) * outStr[d]
		}
		t.F[off] = v
		for d := r - 1; d >= 0; d-- {
			coord[d]++
			if coord[d] < x.Shape[d] {
				break
			}
			coord[d] = 0
		}
		_ = i
	}
	return t
}

func argMax(x *Tensor, axis int, last bool, out Shape) *Tensor {
	ax, _ := normAxis(axis, len(x.Shape))
	inner := 1
	for _, d := range x.Shape[ax+1:] {
		inner *= d
	}
	dim := x.Shape[ax]
	outer := x.Len() / max(1, dim*inner)
	res := make([]int64, outer*inner)
	for o := 0; o < outer; o++ {
		for in := 0; in < inner; in++ {
			base := o*dim*inner + in
			best := 0
			for k := 1; k < dim; k++ {
				if v, b := x.F[base+k*inner], x.F[base+best*inner]; v > b || last && v == b {
					best = k
				}
			}
			res[o*inner+in] = int64(best)
		}
	}
	return IntTensor(out, res)
}

// reduceAxes returns a mask of reduced axes.
func reduceAxes(rank int, axes []int) []bool {
	red := make([]bool, rank)
	if len(axes) == 0 {
		for i := range red {
			red[i] = true
		}
	}
	for _, a := range axes {
		ax, _ := normAxis(a, rank)
		red[ax] = true
	}
	return red
}

func reduceF(x *Tensor, axes []int, mean bool, out Shape) *Tensor {
	red := reduceAxes(len(x.Shape), axes)
	keep := make(Shape, len(x.Shape))
	for i, d := range x.Shape {
		keep[i] = d
		if red[i] {
			keep[i] = 1
		}
	}
	acc := make([]float64, keep.Size())
	idx := broadcastIndex(keep, x.Shape)
	for i, v := range x.F {
		acc[idx[i]] += float64(v)
	}
	cnt := float64(x.Len()) / float64(max(1, keep.Size()))
	t := NewFloat(out)
	for i := range t.F {
		if mean {
			t.F[i] = float32(acc[i] / cnt)
		} else {
			t.F[i] = float32(acc[i])
		}
	}
	return t
}

func gather(x, idx *Tensor, axis int, out Shape) (*Tensor, error) {
	ax, _ := normAxis(axis, len(x.Shape))
	inner := 1
	for _, d := range x.Shape[ax+1:] {
		inner *= d
	}
	dim := x.Shape[ax]
	outer := x.Len() / max(1, dim*inner)
	ids, _ := idx.Ints()
	isInt := x.DType == Int64
	var of []float32
	var oi []int64
	for o := 0; o < outer; o++ {
		for _, k := range ids {
			if k < 0 {
				k += int64(dim)
			}
			if k < 0 || k >= int64(dim) {
				return nil, fmt.Errorf("gather index %d out of range [0, %d)", k, dim)
			}
			s := (o*dim + int(k)) * inner
			if isInt {
				oi = append(oi, x.I[s:s+inner]...)
			} else {
				of = append(of, x.F[s:s+inner]...)
			}
		}
	}
	if isInt {
		if oi == nil {
			oi = []int64{}
		}
		return IntTensor(out, oi), nil
	}
	if of == nil {
		of = []float32{}
	}
	return FloatTensor(out, of), nil
}

func slice(x *Tensor, sp *sliceSpec) *Tensor {
	if x.DType == Int64 {
		return IntTensor(sp.out, SliceCopy(x.I, x.Shape, sp.start, sp.step, sp.out))
	}
	return FloatTensor(sp.out, SliceCopy(x.F, x.Shape, sp.start, sp.step, sp.out))
}

// evalInt evaluates shape arithmetic on int64 tensors.
func evalInt(n *Node, ins []*Tensor, out Shape) (*Tensor, error) {
	bin := func(f func(p, q int64) (int64, error)) (*Tensor, error) {
		if ins[0].DType != Int64 || ins[1].DType != Int64 {
			return nil, n.Errorf("operands mix int64 and float")
		}
		t := IntTensor(out, make([]int64, out.Size()))
		xi, yi := broadcastIndex(ins[0].Shape, out), broadcastIndex(ins[1].Shape, out)
		for i := range t.I {
			v, err := f(ins[0].I[xi[i]], ins[1].I[yi[i]])
			if err != nil {
				return nil, n.Errorf("%v", err)
			}
			t.I[i] = v
		}
		return t, nil
	}
	switch n.Op {
	case OpAdd:
		return bin(func(p, q int64) (int64, error) { return p + q, nil })
	case OpSub:
		return bin(func(p, q int64) (int64, error) { return p - q, nil })
	case OpMul:
		return bin(func(p, q int64) (int64, error) { return p * q, nil })
	case OpDiv:
		return bin(func(p, q int64) (int64, error) {
			if q == 0 {
				return 0, fmt.Errorf("integer division by zero")
			}
			return p / q, nil
		})
	case OpEqual:
		return bin(func(p, q int64) (int64, error) {
			if p == q {
				return 1, nil
			}
			return 0, nil
		})
	case OpMax:
		return bin(func(p, q int64) (int64, error) { return max(p, q), nil })
	case OpMin:
		return bin(func(p, q int64) (int64, error) { return min(p, q), nil })
	case OpNeg, OpAbs:
		t := IntTensor(out, make([]int64, out.Size()))
		for i, v := range ins[0].I {
			if n.Op == OpNeg || v < 0 {
				v = -v
			}
			t.I[i] = v
		}
		return t, nil
	case OpReduceMax, OpReduceMin:
		return reduceExtremeI(ins[0], n.Attrs.Axes, n.Op == OpReduceMax, out), nil
	case OpConcat:
		return concat(ins, n.Attrs.Axis, out), nil
	case OpGather:
		return gather(ins[0], ins[1], n.Attrs.Axis, out)
	case OpTranspose:
		return Transpose(ins[0], n.Attrs.Perm), nil
	case OpSlice:
		vals := make([]*Value, len(ins))
		for i, t := range ins {
			vals[i] = &Value{Name: n.Inputs[i], Shape: t.Shape, DType: t.DType, Const: t}
		}
		sp, err := sliceParams(n, vals)
		if err != nil {
			return nil, err
		}
		return slice(ins[0], sp), nil
	case OpExpand:
		t := IntTensor(out, make([]int64, out.Size()))
		xi := broadcastIndex(ins[0].Shape, out)
		for i := range t.I {
			t.I[i] = ins[0].I[xi[i]]
		}
		return t, nil
	case OpConstOfShape:
		t := IntTensor(out, make([]int64, out.Size()))
		if v := n.Attrs.Value; v != nil {
			iv, _ := v.Ints()
			for i := range t.I {
				t.I[i] = iv[0]
			}
		}
		return t, nil
	case OpRange:
		st, err := ins[0].Ints()
		if err != nil {
			return nil, n.Errorf("start: %v", err)
		}
		d, err := ins[2].Ints()
		if err != nil {
			return nil, n.Errorf("delta: %v", err)
		}
		t := IntTensor(out, make([]int64, out.Size()))
		for i := range t.I {
			t.I[i] = st[0] + int64(i)*d[0]
		}
		return t, nil
	case OpWhere:
		if ins[2].DType != Int64 {
			return nil, n.Errorf("operands mix int64 and float")
		}
		cond := ins[0].Floats()
		t := IntTensor(out, make([]int64, out.Size()))
		ci := broadcastIndex(ins[0].Shape, out)
		xi := broadcastIndex(ins[1].Shape, out)
		yi := broadcastIndex(ins[2].Shape, out)
		for i := range t.I {
			if cond[ci[i]] != 0 {
				t.I[i] = ins[1].I[xi[i]]
			} else {
				t.I[i] = ins[2].I[yi[i]]
			}
		}
		return t, nil
	case OpClip:
		// Integer bounds: the smallest integer >= Min, the largest <= Max.
		lo := max(math.Ceil(float64(n.Attrs.Min)), math.MinInt64)
		hi := min(math.Floor(float64(n.Attrs.Max)), math.MaxInt64)
		t := IntTensor(out, make([]int64, out.Size()))
		for i, v := range ins[0].I {
			switch {
			case float64(v) < lo:
				t.I[i] = int64(lo)
			case float64(v) > hi:
				t.I[i] = int64(hi)
			default:
				t.I[i] = v
			}
		}
		return t, nil
	case OpReduceSum, OpReduceMean:
		f := reduceF(ins[0].asType(Float32), n.Attrs.Axes, n.Op == OpReduceMean, out)
		return f.asType(Int64), nil
	}
	return nil, n.Errorf("op has no int64 kernel")
}
