package fixed

import (
	"fmt"
	"slices"

	"veil/ir"
)

// lowerings holds the lowering of every composite op onto primitive ops.
// A lowering appends instructions to l that compute in's output into
// in.Out from in's inputs; the intermediate tensors it needs are new
// value tensors of l's program.
var lowerings = map[Op]func(l *lowerer, in *Instr) error{
	Relu:      lowerRelu,
	MaxPool:   lowerMaxPool,
	ArgMax:    lowerArgMax,
	Clip:      lowerClip,
	DivPublic: lowerDivPublic,
	Max:       lowerMaxMin,
	Min:       lowerMaxMin,
	ReduceMax: lowerReduceMax,
	Piecewise: lowerPiecewise,
}

// Lower returns p with every composite op for which native reports false
// replaced by its lowering onto primitive ops: the program a backend that
// implements only the primitives (and the composite ops it fuses) runs.
// The lowered instructions keep the node of the instruction they replace,
// and their intermediate tensors are new value tensors appended to the
// program's. Lower returns p itself when it has nothing to lower; the
// copy it returns otherwise shares p's tensors, which neither may modify
// afterwards.
//
// The lowerings:
//
//   - Relu(x) = Mux(DReLU(x), x, 0);
//   - ArgMax along an axis of length d: a tree of ⌈log2 d⌉ levels; each
//     compares the elements at even positions with their odd neighbours
//     (Slice, Sub, DReLU) and keeps the larger and its index (Mux), the
//     earlier on ties (the later with SelectLast); an odd last element is
//     carried up (Concat). The indices start as a public Const.
//   - MaxPool: the input padded by repeating its edge (Pad, mode edge),
//     which leaves every window's maximum as it is, since with pads
//     smaller than the kernel every padded position repeats a real
//     element of the same window; then the maximum of each window's
//     rows, and of those the maximum: along one axis, one strided Slice
//     per kernel position, stacked (Reshape, Concat) and reduced by the
//     same tree, then likewise along the other.
//   - Clip(x) = Mux(DReLU(Max − y), y, Max) for y = Mux(DReLU(x − Min),
//     x, Min), the bounds as public Consts.
//   - DivPublic(x) by d: with a = 2x + d (MulPublic, AddPublic), the
//     quotient wanted is q = ⌊a/(2d)⌋. An estimate
//     q0 = ScaleDown(a·m − 2^(S−1), S) with S = DivPublicBits + 2 and
//     m = round(2^S/(2d)) (MulPublic, AddPublic, ScaleDown) lies in
//     {q − 1, q}: a·m/2^S is within |a|/2^(S+1) < 1/2 of a/(2d), so
//     a·m/2^S − 1/2 lies in (a/(2d) − 1, a/(2d)). A ScaleDown that adds
//     one (Porthos') moves it into {q − 1, q, q + 1}. Then with the
//     remainder r = a − 2d·q0 (MulPublic, Sub), which lies in [−2d, 4d),
//     q = q0 − 1 + DReLU(r) + DReLU(r − 2d) (AddPublic, Add): each
//     comparison adds one where q0 is too small. Exact for
//     |x| < 2^DivPublicBits and 1 ≤ d ≤ 2^DivPublicBits, where |a| < 2^S and
//     |a·m| < 2^(2·DivPublicBits+3).
func (p *Program) Lower(native func(Op) bool) (*Program, error) {
	todo := false
	for i := range p.Instrs {
		if _, ok := lowerings[p.Instrs[i].Op]; ok && !native(p.Instrs[i].Op) {
			todo = true
			break
		}
	}
	if !todo {
		return p, nil
	}
	q := *p
	q.Tensors = slices.Clip(p.Tensors)
	q.Instrs = make([]Instr, 0, len(p.Instrs))
	l := &lowerer{p: &q}
	for k := range p.Instrs {
		in := &p.Instrs[k]
		lower, ok := lowerings[in.Op]
		if !ok || native(in.Op) {
			q.Instrs = append(q.Instrs, *in)
			continue
		}
		l.in = in
		if err := lower(l, in); err != nil {
			return nil, fmt.Errorf("lowering instruction %d (%s from node %q): %w", k, in.Op, in.Node, err)
		}
	}
	return &q, nil
}

// lowerer appends the lowering of one instruction to a program.
type lowerer struct {
	p  *Program
	in *Instr // the instruction being lowered
	n  int    // intermediate tensors made so far
}

// value adds a new value tensor and returns its id.
func (l *lowerer) value(shape ir.Shape, scale int) int {
	l.n++
	name := l.p.Tensors[l.in.Out].Name
	l.p.Tensors = append(l.p.Tensors, &Tensor{Name: fmt.Sprintf("%s/%s.%d", name, l.in.Op, l.n), Shape: shape, Kind: KindValue, Scale: scale, Node: l.in.Node})
	return len(l.p.Tensors) - 1
}

// emit appends in, writing to a new tensor of the given shape and scale
// (or to out ≥ 0), and returns the tensor it writes.
func (l *lowerer) emit(in Instr, out int, shape ir.Shape, scale int) int {
	if out < 0 {
		out = l.value(shape, scale)
	}
	in.Out, in.Node = out, l.in.Node
	l.p.Instrs = append(l.p.Instrs, in)
	return out
}

func (l *lowerer) shape(id int) ir.Shape { return l.p.Tensors[id].Shape }
func (l *lowerer) scale(id int) int      { return l.p.Tensors[id].Scale }

// slice returns count elements of x along axis, from start by step.
func (l *lowerer) slice(x, axis, start, step, count int) int {
	s := l.shape(x)
	starts, steps := make([]int, len(s)), make([]int, len(s))
	for d := range steps {
		steps[d] = 1
	}
	starts[axis], steps[axis] = start, step
	out := s.Clone()
	out[axis] = count
	return l.emit(Instr{Op: Slice, In: []int{x}, Starts: starts, Steps: steps}, -1, out, l.scale(x))
}

func (l *lowerer) binary(op Op, a, b int) int {
	return l.emit(Instr{Op: op, In: []int{a, b}}, -1, l.shape(a), l.scale(a))
}

func (l *lowerer) drelu(x int) int {
	return l.emit(Instr{Op: DReLU, In: []int{x}}, -1, l.shape(x), 0)
}

func (l *lowerer) mux(b, x, y, out int) int {
	return l.emit(Instr{Op: Mux, In: []int{b, x, y}}, out, l.shape(x), l.scale(x))
}

func (l *lowerer) concat(axis int, xs ...int) int {
	out := l.shape(xs[0]).Clone()
	for _, x := range xs[1:] {
		out[axis] += l.shape(x)[axis]
	}
	return l.emit(Instr{Op: Concat, In: xs, Axis: axis}, -1, out, l.scale(xs[0]))
}

func (l *lowerer) reshape(x int, shape ir.Shape, out int) int {
	return l.emit(Instr{Op: Reshape, In: []int{x}, Shape: shape}, out, shape, l.scale(x))
}

func lowerRelu(l *lowerer, in *Instr) error {
	x := in.In[0]
	zero := l.emit(Instr{Op: Const, Public: []int64{0}, PublicShape: ir.Shape{}}, -1, l.shape(x), l.scale(x))
	l.mux(l.drelu(x), x, zero, in.Out)
	return nil
}

func lowerArgMax(l *lowerer, in *Instr) error {
	x := in.In[0]
	s := l.shape(x)
	axis := in.Axis
	if axis < 0 {
		axis += len(s)
	}
	if axis < 0 || axis >= len(s) || s[axis] < 1 {
		return fmt.Errorf("axis %d of shape %v", in.Axis, s)
	}
	_, idx := l.maxTree(x, axis, true, in.SelectLast)
	l.reshape(idx, l.shape(in.Out), in.Out)
	return nil
}

func lowerMaxPool(l *lowerer, in *Instr) error {
	x := in.In[0]
	s := l.shape(x)
	hAx, wAx := spatialAxes(in.Layout)
	if len(s) != 4 || len(in.Kernel) != 2 || len(in.Strides) != 2 || len(in.Pads) != 4 {
		return fmt.Errorf("MaxPool of %v with kernel %v, strides %v, pads %v", s, in.Kernel, in.Strides, in.Pads)
	}
	if slices.ContainsFunc(in.Pads, func(v int) bool { return v != 0 }) {
		pads := make([]int, 8)
		pads[hAx], pads[wAx], pads[4+hAx], pads[4+wAx] = in.Pads[0], in.Pads[1], in.Pads[2], in.Pads[3]
		ps := s.Clone()
		ps[hAx] += in.Pads[0] + in.Pads[2]
		ps[wAx] += in.Pads[1] + in.Pads[3]
		x = l.emit(Instr{Op: Pad, In: []int{x}, Pads: pads, Mode: "edge"}, -1, ps, l.scale(x))
	}
	// The window's maximum is the maximum over its rows of each row's
	// maximum: one pass along one axis, then one along the other (see
	// maxPoolComparisons).
	out := l.shape(in.Out)
	oh, ow := out[hAx], out[wAx]
	kh, kw, sh, sw := in.Kernel[0], in.Kernel[1], in.Strides[0], in.Strides[1]
	rows, cols := (oh-1)*sh+kh, (ow-1)*sw+kw
	first, second := []int{wAx, kw, sw, ow, hAx, rows}, []int{hAx, kh, sh, oh, wAx, ow}
	if _, colsFirst := maxPoolComparisons(in.Kernel, in.Strides, oh, ow); colsFirst {
		first, second = []int{hAx, kh, sh, oh, wAx, cols}, []int{wAx, kw, sw, ow, hAx, oh}
	}
	for _, pass := range [][]int{first, second} {
		axis, k, stride, count, other, keep := pass[0], pass[1], pass[2], pass[3], pass[4], pass[5]
		if l.shape(x)[other] > keep {
			x = l.slice(x, other, 0, 1, keep)
		}
		x = l.windowMax(x, axis, k, stride, count)
	}
	l.reshape(x, out, in.Out)
	return nil
}

// spatialAxes returns the height and width axes of a 4-D tensor of
// layout "NCHW" (or empty) or "NHWC".
func spatialAxes(layout string) (h, w int) {
	if layout == "NHWC" {
		return 1, 2
	}
	return 2, 3
}

// maxPoolComparisons returns the comparisons MaxPool's lowering makes
// per plane of oh×ow outputs: along rows first, (kw−1)·rows·ow for the
// rows' maxima over the (oh−1)·sh + kh rows the windows use, then
// (kh−1)·oh·ow for the windows'; or along columns first, if that takes
// fewer. Either is at most (kh·kw − 1)·oh·ow, a tree over whole windows
// (3×3 windows of stride 2: about 6 per output instead of 8; of stride
// 1, 4), in as many rounds.
func maxPoolComparisons(kernel, strides []int, oh, ow int) (n int, colsFirst bool) {
	kh, kw, sh, sw := kernel[0], kernel[1], strides[0], strides[1]
	rowsFirst := (kw-1)*((oh-1)*sh+kh)*ow + (kh-1)*oh*ow
	cols := (kh-1)*oh*((ow-1)*sw+kw) + (kw-1)*oh*ow
	if cols < rowsFirst {
		return cols, true
	}
	return rowsFirst, false
}

// windowMax returns, along axis of x, the maxima of count windows of k
// elements, window j starting at j·stride.
func (l *lowerer) windowMax(x, axis, k, stride, count int) int {
	if k == 1 && stride == 1 && l.shape(x)[axis] == count {
		return x
	}
	shape := l.shape(x).Clone()
	shape[axis] = count
	row := ir.Shape{1, shape.Size()}
	rows := make([]int, k)
	for j := range rows {
		rows[j] = l.reshape(l.slice(x, axis, j, stride, count), row, -1)
	}
	stack := rows[0]
	if k > 1 {
		stack = l.concat(0, rows...)
	}
	m, _ := l.maxTree(stack, 0, false, false)
	return l.reshape(m, shape, -1)
}

// maxTree reduces x along axis to length 1: the maximum and, if
// withIndex, its index along the axis (the first of equal maxima, or the
// last if selectLast).
func (l *lowerer) maxTree(x, axis int, withIndex, selectLast bool) (max, index int) {
	index = -1
	if withIndex {
		d := l.shape(x)[axis]
		ps := make(ir.Shape, len(l.shape(x)))
		for i := range ps {
			ps[i] = 1
		}
		ps[axis] = d
		iota := make([]int64, d)
		for i := range iota {
			iota[i] = int64(i)
		}
		index = l.emit(Instr{Op: Const, Public: iota, PublicShape: ps}, -1, l.shape(x), 0)
	}
	for d := l.shape(x)[axis]; d > 1; d = d/2 + d%2 {
		h := d / 2
		first, second := l.slice(x, axis, 0, 2, h), l.slice(x, axis, 1, 2, h)
		if selectLast {
			first, second = second, first
		}
		b := l.drelu(l.binary(Sub, first, second)) // 1: keep first
		m := l.mux(b, first, second, -1)
		mi := -1
		if withIndex {
			fi, si := l.slice(index, axis, 0, 2, h), l.slice(index, axis, 1, 2, h)
			if selectLast {
				fi, si = si, fi
			}
			mi = l.mux(b, fi, si, -1)
		}
		if d%2 == 1 {
			m = l.concat(axis, m, l.slice(x, axis, d-1, 1, 1))
			if withIndex {
				mi = l.concat(axis, mi, l.slice(index, axis, d-1, 1, 1))
			}
		}
		x, index = m, mi
	}
	return x, index
}

func lowerClip(l *lowerer, in *Instr) error {
	x := in.In[0]
	s, sc := l.shape(x), l.scale(x)
	lo := l.emit(Instr{Op: Const, Public: []int64{in.Min}, PublicShape: ir.Shape{}}, -1, s, sc)
	hi := l.emit(Instr{Op: Const, Public: []int64{in.Max}, PublicShape: ir.Shape{}}, -1, s, sc)
	y := l.mux(l.drelu(l.binary(Sub, x, lo)), x, lo, -1)
	l.mux(l.drelu(l.binary(Sub, hi, y)), y, hi, in.Out)
	return nil
}

func lowerDivPublic(l *lowerer, in *Instr) error {
	const S = DivPublicBits + 2
	x := in.In[0]
	out, sc := l.shape(in.Out), l.scale(in.Out)
	n := len(in.Public)
	m, d2, negD2 := make([]int64, n), make([]int64, n), make([]int64, n)
	for i, d := range in.Public {
		if d < 1 || d > 1<<DivPublicBits {
			return fmt.Errorf("divisor %d out of [1, 2^%d]", d, DivPublicBits)
		}
		m[i] = (1<<S + d) / (2 * d) // round(2^S/(2d)), a half up
		d2[i], negD2[i] = 2*d, -2*d
	}
	// public applies op with the constants c of shape cs to x, writing a
	// new tensor or dst ≥ 0.
	public := func(op Op, x int, c []int64, cs ir.Shape, dst int) int {
		s, _ := ir.BroadcastShapes(l.shape(x), cs)
		return l.emit(Instr{Op: op, In: []int{x}, Public: c, PublicShape: cs}, dst, s, sc)
	}
	ds := in.PublicShape
	a := public(AddPublic, public(MulPublic, x, []int64{2}, ir.Shape{}, -1), in.Public, ds, -1) // 2x + d
	est := public(AddPublic, public(MulPublic, a, m, ds, -1), []int64{-(1 << (S - 1))}, ir.Shape{}, -1)
	q0 := l.emit(Instr{Op: ScaleDown, In: []int{est}, Shift: S}, -1, out, sc)
	r := l.binary(Sub, a, public(MulPublic, q0, d2, ds, -1))
	b1 := l.drelu(r)
	b2 := l.drelu(public(AddPublic, r, negD2, ds, -1))
	public(AddPublic, l.binary(Add, l.binary(Add, q0, b1), b2), []int64{-1}, ir.Shape{}, in.Out)
	return nil
}
