package ir

import "fmt"

// normAxis maps a possibly negative axis into [0, rank).
func normAxis(axis, rank int) (int, error) {
	if axis < -rank || axis >= rank {
		return 0, fmt.Errorf("axis %d out of range for rank %d", axis, rank)
	}
	if axis < 0 {
		axis += rank
	}
	return axis, nil
}

// BroadcastShapes returns the numpy-style broadcast of a and b.
func BroadcastShapes(a, b Shape) (Shape, error) {
	n := max(len(a), len(b))
	out := make(Shape, n)
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db:
			out[i] = da
		case da == 1:
			out[i] = db
		case db == 1:
			out[i] = da
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", a, b)
		}
	}
	return out, nil
}

// poolOutput returns the output size of a window of size k with stride s
// over n elements padded by p0 before and p1 after.
func poolOutput(n, k, s, p0, p1 int) int {
	return (n+p0+p1-k)/s + 1
}

func need(n *Node, ins []*Value, lo, hi int) error {
	if len(ins) < lo || len(ins) > hi {
		if lo == hi {
			return n.Errorf("takes %d inputs, got %d", lo, len(ins))
		}
		return n.Errorf("takes %d to %d inputs, got %d", lo, hi, len(ins))
	}
	return nil
}

func constInts(n *Node, v *Value, what string) ([]int64, error) {
	if v.Const == nil {
		return nil, n.Errorf("%s (%q) must be a constant for static shapes", what, v.Name)
	}
	xs, err := v.Const.Ints()
	if err != nil {
		return nil, n.Errorf("%s: %v", what, err)
	}
	return xs, nil
}

// window4 checks a 4-D activation and 2-D window attributes and returns the
// output shape of a conv/pool with out channels oc.
func window4(n *Node, x Shape, kh, kw, oc int) (Shape, error) {
	if len(x) != 4 {
		return nil, n.Errorf("input must be 4-D (%s), got %v", n.Attrs.Layout, x)
	}
	a := n.Attrs
	if len(a.Strides) != 2 || a.Strides[0] < 1 || a.Strides[1] < 1 {
		return nil, n.Errorf("strides %v: want two positive values", a.Strides)
	}
	if len(a.Pads) != 4 {
		return nil, n.Errorf("pads %v: want [top, left, bottom, right]", a.Pads)
	}
	for _, p := range a.Pads {
		if p < 0 {
			return nil, n.Errorf("negative pads %v are not supported", a.Pads)
		}
	}
	hAx, wAx := a.Layout.SpatialAxes()
	h, w := x[hAx], x[wAx]
	if h+a.Pads[0]+a.Pads[2] < kh || w+a.Pads[1]+a.Pads[3] < kw {
		return nil, n.Errorf("window %dx%d larger than padded input %v", kh, kw, x)
	}
	oh := poolOutput(h, kh, a.Strides[0], a.Pads[0], a.Pads[2])
	ow := poolOutput(w, kw, a.Strides[1], a.Pads[1], a.Pads[3])
	out := x.Clone()
	out[hAx], out[wAx] = oh, ow
	out[a.Layout.ChannelAxis()] = oc
	return out, nil
}

// MaxElements (256 Mi elements, 1 GiB of float32) bounds the size of every
// value's shape, so that a corrupt model cannot make shape inference
// overflow or constant folding allocate without limit. The largest tensors
// of real models (VGG's fully connected weights) hold about 100 Mi.
const MaxElements = 1 << 28

// inferShape returns the output shape and type of n given its inputs, and
// rejects shapes with negative dimensions or more than MaxElements elements.
func inferShape(n *Node, ins []*Value) (Shape, DType, error) {
	if err := checkAttrInts(n); err != nil {
		return nil, 0, err
	}
	s, dt, err := inferOpShape(n, ins)
	if err != nil {
		return nil, 0, err
	}
	if _, err := s.CheckedSize(MaxElements); err != nil {
		return nil, 0, n.Errorf("output %v", err)
	}
	return s, dt, nil
}

// checkAttrInts refuses integer attributes beyond ±MaxElements (or a
// group beyond it), so that the arithmetic of shape inference on them
// (input plus pads, window positions) cannot overflow.
func checkAttrInts(n *Node) error {
	a := &n.Attrs
	for _, f := range []struct {
		name string
		xs   []int
	}{{"kernel", a.Kernel}, {"strides", a.Strides}, {"pads", a.Pads}, {"axes", a.Axes}, {"perm", a.Perm}} {
		if len(f.xs) > 2*maxAttrLen {
			return n.Errorf("%s has %d values", f.name, len(f.xs))
		}
		for _, x := range f.xs {
			if x < -MaxElements || x > MaxElements {
				return n.Errorf("%s %v: value %d out of range", f.name, f.xs, x)
			}
		}
	}
	if a.Group < 0 || a.Group > MaxElements || a.Axis < -MaxElements || a.Axis > MaxElements {
		return n.Errorf("group %d or axis %d out of range", a.Group, a.Axis)
	}
	return nil
}

// maxAttrLen bounds the rank attributes describe.
const maxAttrLen = 64

// inferOpShape is inferShape's op-by-op part.
func inferOpShape(n *Node, ins []*Value) (Shape, DType, error) {
	a := n.Attrs
	s := func(i int) Shape { return ins[i].Shape }
	switch n.Op {
	case OpConv:
		if err := need(n, ins, 2, 3); err != nil {
			return nil, 0, err
		}
		w := s(1)
		if len(w) != 4 {
			return nil, 0, n.Errorf("weights must be 4-D [O, I/group, KH, KW], got %v", w)
		}
		if len(s(0)) != 4 {
			return nil, 0, n.Errorf("input must be 4-D, got %v (only 2-D convolution is supported)", s(0))
		}
		g := a.Group
		c := s(0)[a.Layout.ChannelAxis()]
		if g < 1 || c%g != 0 || w[0]%g != 0 || w[1]*g != c {
			return nil, 0, n.Errorf("input %v with %d channels, weights %v and group %d are inconsistent", s(0), c, w, g)
		}
		if len(ins) == 3 && !s(2).Equal(Shape{w[0]}) {
			return nil, 0, n.Errorf("bias shape %v, want [%d]", s(2), w[0])
		}
		out, err := window4(n, s(0), w[2], w[3], w[0])
		return out, Float32, err
	case OpMaxPool, OpAvgPool:
		if err := need(n, ins, 1, 1); err != nil {
			return nil, 0, err
		}
		if len(a.Kernel) != 2 || a.Kernel[0] < 1 || a.Kernel[1] < 1 {
			return nil, 0, n.Errorf("kernel %v: want two positive values (only 2-D pooling is supported)", a.Kernel)
		}
		if len(s(0)) != 4 {
			return nil, 0, n.Errorf("input must be 4-D, got %v (only 2-D pooling is supported)", s(0))
		}
		if a.Pads != nil && len(a.Pads) == 4 && (a.Pads[0] >= a.Kernel[0] || a.Pads[2] >= a.Kernel[0] || a.Pads[1] >= a.Kernel[1] || a.Pads[3] >= a.Kernel[1]) {
			return nil, 0, n.Errorf("pads %v must be smaller than the kernel %v", a.Pads, a.Kernel)
		}
		// With pads below the kernel, every window holds a real element,
		// unless the plane is empty.
		if hAx, wAx := a.Layout.SpatialAxes(); s(0)[hAx] == 0 || s(0)[wAx] == 0 {
			return nil, 0, n.Errorf("input %v has an empty spatial dimension", s(0))
		}
		out, err := window4(n, s(0), a.Kernel[0], a.Kernel[1], s(0)[a.Layout.ChannelAxis()])
		return out, Float32, err
	case OpMatMul:
		if err := need(n, ins, 2, 2); err != nil {
			return nil, 0, err
		}
		out, err := matmulShape(s(0), s(1))
		if err != nil {
			return nil, 0, n.Errorf("%v", err)
		}
		return out, Float32, nil
	case OpAdd, OpSub, OpMul, OpDiv, OpEqual, OpMax, OpMin:
		if err := need(n, ins, 2, 2); err != nil {
			return nil, 0, err
		}
		out, err := BroadcastShapes(s(0), s(1))
		if err != nil {
			return nil, 0, n.Errorf("%v", err)
		}
		if ins[0].DType != ins[1].DType {
			return nil, 0, n.Errorf("operand types differ: %s and %s", ins[0].DType, ins[1].DType)
		}
		return out, ins[0].DType, nil
	case OpWhere:
		if err := need(n, ins, 3, 3); err != nil {
			return nil, 0, err
		}
		out, err := BroadcastShapes(s(0), s(1))
		if err == nil {
			out, err = BroadcastShapes(out, s(2))
		}
		if err != nil {
			return nil, 0, n.Errorf("%v", err)
		}
		return out, ins[1].DType, nil
	case OpRelu, OpClip, OpLeakyRelu, OpSigmoid, OpTanh, OpIdentity, OpSqrt, OpNeg, OpFloor, OpReciprocal,
		OpAbs, OpHardSigmoid, OpHardSwish, OpExp, OpErf, OpGelu, OpSoftplus, OpSilu, OpRsqrt, OpLog:
		if err := need(n, ins, 1, 1); err != nil {
			return nil, 0, err
		}
		return s(0).Clone(), ins[0].DType, nil
	case OpPRelu:
		if err := need(n, ins, 2, 2); err != nil {
			return nil, 0, err
		}
		// The slope broadcasts to x (ONNX: unidirectionally).
		if out, err := BroadcastShapes(s(0), s(1)); err != nil || !out.Equal(s(0)) {
			return nil, 0, n.Errorf("slope shape %v does not broadcast to input shape %v", s(1), s(0))
		}
		// As for a product: PRelu is x where positive, slope·x elsewhere.
		if ins[0].DType != ins[1].DType {
			return nil, 0, n.Errorf("operand types differ: %s and %s", ins[0].DType, ins[1].DType)
		}
		return s(0).Clone(), ins[0].DType, nil
	case OpSoftmax, OpLogSoftmax:
		if err := need(n, ins, 1, 1); err != nil {
			return nil, 0, err
		}
		if _, err := normAxis(a.Axis, len(s(0))); err != nil {
			return nil, 0, n.Errorf("%v", err)
		}
		return s(0).Clone(), Float32, nil
	case OpBatchNorm:
		if err := need(n, ins, 5, 5); err != nil {
			return nil, 0, err
		}
		ax, err := normAxis(a.Axis, len(s(0)))
		if err != nil {
			return nil, 0, n.Errorf("%v", err)
		}
		c := s(0)[ax]
		for i := 1; i < 5; i++ {
			if !s(i).Equal(Shape{c}) {
				return nil, 0, n.Errorf("parameter %d has shape %v, want [%d]", i, s(i), c)
			}
		}
		return s(0).Clone(), Float32, nil
	case OpReshape:
		if err := need(n, ins, 2, 2); err != nil {
			return nil, 0, err
		}
		spec, err := constInts(n, ins[1], "target shape")
		if err != nil {
			return nil, 0, err
		}
		out, err := reshapeTarget(s(0), spec, a.AllowZero)
		if err != nil {
			return nil, 0, n.Errorf("%v", err)
		}
		return out, ins[0].DType, nil
	case OpExpand:
		if err := need(n, ins, 2, 2); err != nil {
			return nil, 0, err
		}
		spec, err := constInts(n, ins[1], "target shape")
		if err != nil {
			return nil, 0, err
		}
		out, err := BroadcastShapes(s(0), toShape(spec))
		if err != nil {
			return nil, 0, n.Errorf("%v", err)
		}
		return out, ins[0].DType, nil
	case OpTranspose:
		if err := need(n, ins, 1, 1); err != nil {
			return nil, 0, err
		}
		x := s(0)
		perm := a.Perm
		if perm == nil {
			perm = make([]int, len(x))
			for i := range perm {
				perm[i] = len(x) - 1 - i
			}
		}
		if len(perm) != len(x) {
			return nil, 0, n.Errorf("perm %v for rank %d", perm, len(x))
		}
		seen := make([]bool, len(x))
		out := make(Shape, len(x))
		for i, p := range perm {
			if p < 0 || p >= len(x) || seen[p] {
				return nil, 0, n.Errorf("perm %v is not a permutation", perm)
			}
			seen[p] = true
			out[i] = x[p]
		}
		return out, ins[0].DType, nil
	case OpConcat:
		if len(ins) < 1 {
			return nil, 0, n.Errorf("needs at least one input")
		}
		ax, err := normAxis(a.Axis, len(s(0)))
		if err != nil {
			return nil, 0, n.Errorf("%v", err)
		}
		out := s(0).Clone()
		for i := 1; i < len(ins); i++ {
			if len(s(i)) != len(out) {
				return nil, 0, n.Errorf("input %d has rank %d, want %d", i, len(s(i)), len(out))
			}
			for d := range out {
				if d == ax {
					continue
				}
				if s(i)[d] != out[d] {
					return nil, 0, n.Errorf("input %d shape %v does not match %v off axis %d", i, s(i), out, ax)
				}
			}
			out[ax] += s(i)[ax]
			if ins[i].DType != ins[0].DType {
				return nil, 0, n.Errorf("inputs mix %s and %s", ins[0].DType, ins[i].DType)
			}
		}
		return out, ins[0].DType, nil
	case OpPad:
		if err := need(n, ins, 1, 1); err != nil {
			return nil, 0, err
		}
		x := s(0)
		if len(a.Pads) != 2*len(x) {
			return nil, 0, n.Errorf("pads %v for rank %d", a.Pads, len(x))
		}
		out := x.Clone()
		for i := range x {
			if a.Pads[i] < 0 || a.Pads[i+len(x)] < 0 {
				return nil, 0, n.Errorf("negative pads %v are not supported", a.Pads)
			}
			out[i] += a.Pads[i] + a.Pads[i+len(x)]
		}
		return out, ins[0].DType, nil
	case OpArgMax:
		if err := need(n, ins, 1, 1); err != nil {
			return nil, 0, err
		}
		out, err := reduceShape(s(0), []int{a.Axis}, a.KeepDims)
		if err != nil {
			return nil, 0, n.Errorf("%v", err)
		}
		return out, Int64, nil
	case OpReduceMean, OpReduceSum, OpReduceMax, OpReduceMin:
		if err := need(n, ins, 1, 1); err != nil {
			return nil, 0, err
		}
		out, err := reduceShape(s(0), a.Axes, a.KeepDims)
		if err != nil {
			return nil, 0, n.Errorf("%v", err)
		}
		return out, ins[0].DType, nil
	case OpShape:
		if err := need(n, ins, 1, 1); err != nil {
			return nil, 0, err
		}
		return Shape{len(s(0))}, Int64, nil
	case OpCast:
		if err := need(n, ins, 1, 1); err != nil {
			return nil, 0, err
		}
		return s(0).Clone(), a.To, nil
	case OpGather:
		if err := need(n, ins, 2, 2); err != nil {
			return nil, 0, err
		}
		ax, err := normAxis(a.Axis, len(s(0)))
		if err != nil {
			return nil, 0, n.Errorf("%v", err)
		}
		if ins[1].DType != Int64 {
			return nil, 0, n.Errorf("indices must be integers")
		}
		out := append(append(s(0)[:ax:ax].Clone(), s(1)...), s(0)[ax+1:]...)
		return out, ins[0].DType, nil
	case OpSlice:
		if err := need(n, ins, 3, 5); err != nil {
			return nil, 0, err
		}
		sl, err := sliceParams(n, ins)
		if err != nil {
			return nil, 0, err
		}
		return sl.out, ins[0].DType, nil
	case OpConstOfShape:
		if err := need(n, ins, 1, 1); err != nil {
			return nil, 0, err
		}
		spec, err := constInts(n, ins[0], "shape")
		if err != nil {
			return nil, 0, err
		}
		dt := Float32
		if a.Value != nil {
			dt = a.Value.DType
		}
		return toShape(spec), dt, nil
	case OpRange:
		if err := need(n, ins, 3, 3); err != nil {
			return nil, 0, err
		}
		for i := range ins {
			if ins[i].Const == nil {
				return nil, 0, n.Errorf("Range needs constant inputs")
			}
			if ins[i].Const.Len() != 1 {
				return nil, 0, n.Errorf("input %d has shape %v, want a scalar", i, ins[i].Shape)
			}
		}
		st, lim, d := ins[0].Const.Floats()[0], ins[1].Const.Floats()[0], ins[2].Const.Floats()[0]
		if d == 0 {
			return nil, 0, n.Errorf("delta is zero")
		}
		cnt := int(max(0, float64((lim-st)/d)+0.999999))
		return Shape{cnt}, ins[0].DType, nil
	}
	return nil, 0, n.Errorf("op is not supported")
}

func toShape(xs []int64) Shape {
	s := make(Shape, len(xs))
	for i, x := range xs {
		s[i] = int(x)
	}
	return s
}

// reshapeTarget resolves an ONNX-style reshape spec (0 copies the input
// dimension unless allowZero, -1 is inferred) against input shape x.
func reshapeTarget(x Shape, spec []int64, allowZero bool) (Shape, error) {
	out := make(Shape, len(spec))
	infer := -1
	known := 1
	for i, d := range spec {
		switch {
		case d == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("reshape %v has more than one -1", spec)
			}
			infer = i
			continue
		case d == 0 && !allowZero:
			if i >= len(x) {
				return nil, fmt.Errorf("reshape %v copies dimension %d of %v, which does not exist", spec, i, x)
			}
			out[i] = x[i]
		case d < 0:
			return nil, fmt.Errorf("reshape %v has a negative dimension", spec)
		default:
			out[i] = int(d)
		}
		known *= out[i]
	}
	if infer >= 0 {
		if known == 0 || x.Size()%known != 0 {
			return nil, fmt.Errorf("cannot reshape %v to %v", x, spec)
		}
		out[infer] = x.Size() / known
	}
	if out.Size() != x.Size() {
		return nil, fmt.Errorf("cannot reshape %v (%d elements) to %v (%d elements)", x, x.Size(), out, out.Size())
	}
	return out, nil
}

func reduceShape(x Shape, axes []int, keep bool) (Shape, error) {
	red := make([]bool, len(x))
	if len(axes) == 0 {
		for i := range red {
			red[i] = true
		}
	}
	for _, a := range axes {
		ax, err := normAxis(a, len(x))
		if err != nil {
			return nil, err
		}
		red[ax] = true
	}
	var out Shape
	for i, d := range x {
		switch {
		case !red[i]:
			out = append(out, d)
		case keep:
			out = append(out, 1)
		}
	}
	if out == nil {
		out = Shape{}
	}
	return out, nil
}

func matmulShape(a, b Shape) (Shape, error) {
	if len(a) < 1 || len(b) < 1 {
		return nil, fmt.Errorf("matmul of scalars")
	}
	a1, b1 := a, b
	if len(a) == 1 {
		a1 = Shape{1, a[0]}
	}
	if len(b) == 1 {
		b1 = Shape{b[0], 1}
	}
	m, k := a1[len(a1)-2], a1[len(a1)-1]
	k2, nn := b1[len(b1)-2], b1[len(b1)-1]
	if k != k2 {
		return nil, fmt.Errorf("inner dimensions differ: %v × %v", a, b)
	}
	batch, err := BroadcastShapes(a1[:len(a1)-2], b1[:len(b1)-2])
	if err != nil {
		return nil, fmt.Errorf("batch dimensions: %v", err)
	}
	out := append(batch.Clone(), m, nn)
	if len(a) == 1 {
		out = append(out[:len(out)-2], nn)
	}
	if len(b) == 1 {
		out = out[:len(out)-1]
	}
	return out, nil
}

type sliceSpec struct {
	start, step []int // per axis of the input
	out         Shape
}

func sliceParams(n *Node, ins []*Value) (*sliceSpec, error) {
	x := ins[0].Shape
	starts, err := constInts(n, ins[1], "starts")
	if err != nil {
		return nil, err
	}
	ends, err := constInts(n, ins[2], "ends")
	if err != nil {
		return nil, err
	}
	if len(starts) != len(ends) {
		return nil, n.Errorf("starts %v and ends %v differ in length", starts, ends)
	}
	axes := make([]int64, len(starts))
	for i := range axes {
		axes[i] = int64(i)
	}
	if len(ins) > 3 && ins[3].Name != "" {
		if axes, err = constInts(n, ins[3], "axes"); err != nil {
			return nil, err
		}
	}
	steps := make([]int64, len(starts))
	for i := range steps {
		steps[i] = 1
	}
	if len(ins) > 4 && ins[4].Name != "" {
		if steps, err = constInts(n, ins[4], "steps"); err != nil {
			return nil, err
		}
	}
	if len(axes) != len(starts) || len(steps) != len(starts) {
		return nil, n.Errorf("starts, ends, axes and steps differ in length")
	}
	sp := &sliceSpec{start: make([]int, len(x)), step: make([]int, len(x)), out: x.Clone()}
	for i := range x {
		sp.step[i] = 1
	}
	for i, a := range axes {
		ax, err := normAxis(int(a), len(x))
		if err != nil {
			return nil, n.Errorf("%v", err)
		}
		d := int64(x[ax])
		st, en, step := starts[i], ends[i], steps[i]
		if step == 0 {
			return nil, n.Errorf("slice step is zero")
		}
		clamp := func(v, lo, hi int64) int64 { return min(max(v, lo), hi) }
		if st < 0 {
			st += d
		}
		if en < 0 {
			en += d
		}
		var cnt int64
		if step > 0 {
			st, en = clamp(st, 0, d), clamp(en, 0, d)
			cnt = max(0, (en-st+step-1)/step)
		} else {
			st, en = clamp(st, 0, d-1), clamp(en, -1, d-1)
			cnt = max(0, (st-en-step-1)/(-step))
		}
		sp.start[ax], sp.step[ax], sp.out[ax] = int(st), int(step), int(cnt)
	}
	return sp, nil
}
