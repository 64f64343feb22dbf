package tf

import (
	"errors"
	"fmt"
	"math"

	"veil/ir"
)

// Lowerings of the ops that move data or compute shapes. Everything they
// compute from constants (the shape arithmetic around Reshape: Shape,
// StridedSlice, Pack, Cast …) folds to constants at import.

// identityN makes each output of IdentityN another name for its input.
func (b *builder) identityN(n *NodeDef) error {
	ins, err := b.ins(n, 0, 1<<20)
	if err != nil {
		return err
	}
	for i, v := range ins {
		b.alias(n, i, v)
	}
	return nil
}

// shapeOf lowers Shape (folded: every shape is static).
func (b *builder) shapeOf(n *NodeDef) error {
	ins, err := b.ins(n, 1, 1)
	if err != nil {
		return err
	}
	return b.emit(n, ir.OpShape, ins, ir.Attrs{})
}

// sizeOrRank lowers Size and Rank to constants.
func (b *builder) sizeOrRank(n *NodeDef) error {
	ins, err := b.ins(n, 1, 1)
	if err != nil {
		return err
	}
	s := b.shape(ins[0])
	v := int64(len(s))
	if n.Op == "Size" {
		v = int64(s.Size())
	}
	if _, err := b.constTensor(n.Name, ir.IntTensor(ir.Shape{}, []int64{v})); err != nil {
		return err
	}
	b.alias(n, 0, n.Name)
	return nil
}

// expandDims lowers ExpandDims to a Reshape.
func (b *builder) expandDims(n *NodeDef) error {
	ins, err := b.ins(n, 2, 2)
	if err != nil {
		return err
	}
	s := b.shape(ins[0])
	a, err := b.scalarInt(ins[1], "axis")
	if err != nil {
		return err
	}
	ax, err := normAxis(a, len(s)+1, "axis")
	if err != nil {
		return err
	}
	if _, err := b.reshapeTo(n.Name, ins[0], insertDim(s, ax)); err != nil {
		return err
	}
	b.alias(n, 0, n.Name)
	return nil
}

// pack lowers Pack (tf.stack) to a Reshape of each value, inserting the
// new axis, and a Concat along it.
func (b *builder) pack(n *NodeDef) error {
	ins, err := b.ins(n, 1, 1<<20)
	if err != nil {
		return err
	}
	s := b.shape(ins[0])
	a, err := attrInt(n, "axis", 0)
	if err != nil {
		return err
	}
	ax, err := normAxis(a, len(s)+1, "axis")
	if err != nil {
		return err
	}
	to := insertDim(s, ax)
	if len(ins) == 1 {
		if _, err := b.reshapeTo(n.Name, ins[0], to); err != nil {
			return err
		}
		b.alias(n, 0, n.Name)
		return nil
	}
	parts := make([]string, len(ins))
	for i, v := range ins {
		if !b.shape(v).Equal(s) {
			return fmt.Errorf("value %d has shape %v, value 0 has %v; Pack needs equal shapes", i, b.shape(v), s)
		}
		if parts[i], err = b.reshapeTo("", v, to); err != nil {
			return err
		}
	}
	return b.emit(n, ir.OpConcat, parts, ir.Attrs{Axis: ax})
}

// unpack lowers Unpack (tf.unstack): output i is the Slice [i, i+1) of
// the axis, reshaped without it.
func (b *builder) unpack(n *NodeDef) error {
	ins, err := b.ins(n, 1, 1)
	if err != nil {
		return err
	}
	s := b.shape(ins[0])
	a, err := attrInt(n, "axis", 0)
	if err != nil {
		return err
	}
	ax, err := normAxis(a, len(s), "axis")
	if err != nil {
		return err
	}
	num, err := attrInt(n, "num", int64(s[ax]))
	if err != nil {
		return err
	}
	if num != int64(s[ax]) {
		return fmt.Errorf("num is %d but axis %d of %v has %d elements", num, ax, s, s[ax])
	}
	to := append(s[:ax:ax].Clone(), s[ax+1:]...)
	for i := range s[ax] {
		part, err := b.sliceAxis(n.Name+"/slice", ins[0], ax, i, i+1)
		if err != nil {
			return err
		}
		out, err := b.reshapeTo(b.outName(n, i), part, to)
		if err != nil {
			return err
		}
		b.alias(n, i, out)
	}
	return nil
}

// sliceOp lowers Slice(x, begin, size); a size of -1 takes the rest of
// the axis.
func (b *builder) sliceOp(n *NodeDef) error {
	ins, err := b.ins(n, 3, 3)
	if err != nil {
		return err
	}
	s := b.shape(ins[0])
	begin, err := b.constInts(ins[1], "begin")
	if err != nil {
		return err
	}
	size, err := b.constInts(ins[2], "size")
	if err != nil {
		return err
	}
	if len(begin) != len(s) || len(size) != len(s) {
		return fmt.Errorf("begin %v and size %v must have one element per dimension of %v", begin, size, s)
	}
	end, step := make([]int64, len(s)), make([]int64, len(s))
	full := true
	for i, d := range s {
		if size[i] == -1 {
			size[i] = int64(d) - begin[i]
		}
		if begin[i] < 0 || size[i] < 0 || begin[i]+size[i] > int64(d) {
			return fmt.Errorf("begin %v and size %v are out of range for shape %v", begin, size, s)
		}
		end[i], step[i] = begin[i]+size[i], 1
		full = full && begin[i] == 0 && end[i] == int64(d)
	}
	if full {
		b.alias(n, 0, ins[0])
		return nil
	}
	v, err := b.slice(n.Name+"/slice", ins[0], begin, end, step)
	if err != nil {
		return err
	}
	b.alias(n, 0, v)
	return nil
}

// transpose lowers Transpose with a constant permutation.
func (b *builder) transpose(n *NodeDef) error {
	ins, err := b.ins(n, 2, 2)
	if err != nil {
		return err
	}
	p, err := b.constInts(ins[1], "perm")
	if err != nil {
		return err
	}
	r := len(b.shape(ins[0]))
	if len(p) != r {
		return fmt.Errorf("perm %v has %d elements for a rank-%d value", p, len(p), r)
	}
	perm := make([]int, r)
	seen := make([]bool, r)
	for i, v := range p {
		ax, err := normAxis(v, r, "perm element")
		if err != nil {
			return err
		}
		if seen[ax] {
			return fmt.Errorf("perm %v is not a permutation", p)
		}
		seen[ax], perm[i] = true, ax
	}
	return b.emit(n, ir.OpTranspose, ins[:1], ir.Attrs{Perm: perm})
}

// fill lowers Fill(dims, value): the scalar value expanded to dims.
func (b *builder) fill(n *NodeDef) error {
	ins, err := b.ins(n, 2, 2)
	if err != nil {
		return err
	}
	dims, err := b.constInts(ins[0], "dims")
	if err != nil {
		return err
	}
	if _, err := numElements(dims); err != nil {
		return fmt.Errorf("dims: %w", err)
	}
	if len(b.shape(ins[1])) != 0 {
		return fmt.Errorf("value has shape %v, want a scalar", b.shape(ins[1]))
	}
	return b.emit(n, ir.OpExpand, []string{ins[1], ins[0]}, ir.Attrs{})
}

// likeOp lowers ZerosLike and OnesLike to constants of the input's shape
// and type.
func (b *builder) likeOp(n *NodeDef) error {
	ins, err := b.ins(n, 1, 1)
	if err != nil {
		return err
	}
	x := b.g.Values[ins[0]]
	var v float32
	if n.Op == "OnesLike" {
		v = 1
	}
	if _, err := numElements(int64s(x.Shape)); err != nil {
		return err
	}
	var t *ir.Tensor
	if x.DType == ir.Int64 {
		xs := make([]int64, x.Shape.Size())
		for i := range xs {
			xs[i] = int64(v)
		}
		t = ir.IntTensor(x.Shape, xs)
	} else {
		xs := make([]float32, x.Shape.Size())
		for i := range xs {
			xs[i] = v
		}
		t = ir.FloatTensor(x.Shape, xs)
	}
	if _, err := b.constTensor(n.Name, t); err != nil {
		return err
	}
	b.alias(n, 0, n.Name)
	return nil
}

// rangeOp lowers Range(start, limit, delta) of constants to a constant:
// ceil((limit - start) / delta) elements, integers when start is one.
func (b *builder) rangeOp(n *NodeDef) error {
	ins, err := b.ins(n, 3, 3)
	if err != nil {
		return err
	}
	var v [3]float64
	isInt := true
	for i, what := range []string{"start", "limit", "delta"} {
		c := b.g.Const(ins[i])
		if c == nil || c.Len() != 1 {
			return fmt.Errorf("%s must be a constant scalar", what)
		}
		v[i] = float64(c.Floats()[0])
		if c.DType == ir.Int64 {
			v[i] = float64(c.I[0])
		} else {
			isInt = false
		}
	}
	start, limit, delta := v[0], v[1], v[2]
	if delta == 0 {
		return errors.New("delta is zero")
	}
	if (delta > 0 && start > limit) || (delta < 0 && start < limit) {
		return fmt.Errorf("start %v, limit %v and delta %v make an empty or backward range", start, limit, delta)
	}
	cnt := math.Ceil(math.Abs((limit - start) / delta))
	if cnt > float64(maxTensorElements) {
		return fmt.Errorf("range of %.0f elements is too large", cnt)
	}
	k := int(cnt)
	var t *ir.Tensor
	if isInt {
		xs := make([]int64, k)
		for i := range xs {
			xs[i] = int64(start) + int64(i)*int64(delta)
		}
		t = ir.IntTensor(ir.Shape{k}, xs)
	} else {
		xs := make([]float32, k)
		for i := range xs {
			xs[i] = float32(start + float64(i)*delta)
		}
		t = ir.FloatTensor(ir.Shape{k}, xs)
	}
	if _, err := b.constTensor(n.Name, t); err != nil {
		return err
	}
	b.alias(n, 0, n.Name)
	return nil
}

// gather lowers GatherV2 (params, indices, axis) and Gather (axis 0).
func (b *builder) gather(n *NodeDef) error {
	lo := 3
	if n.Op == "Gather" {
		lo = 2
	}
	ins, err := b.ins(n, lo, lo)
	if err != nil {
		return err
	}
	bd, err := attrInt(n, "batch_dims", 0)
	if err != nil {
		return err
	}
	if bd != 0 {
		return fmt.Errorf("batch_dims %d is not supported (only 0)", bd)
	}
	s := b.shape(ins[0])
	ax := 0
	if lo == 3 {
		a, err := b.scalarInt(ins[2], "axis")
		if err != nil {
			return err
		}
		if ax, err = normAxis(a, len(s), "axis"); err != nil {
			return err
		}
	} else if len(s) == 0 {
		return errors.New("params is a scalar")
	}
	idx := b.g.Values[ins[1]]
	if idx.DType != ir.Int64 {
		return errors.New("indices must be integers")
	}
	if idx.Const != nil {
		for _, i := range idx.Const.I {
			if i < 0 || i >= int64(s[ax]) {
				return fmt.Errorf("index %d is out of range [0, %d) for axis %d of %v", i, s[ax], ax, s)
			}
		}
	}
	return b.emit(n, ir.OpGather, ins[:2], ir.Attrs{Axis: ax})
}

// split lowers Split (axis, value; num_split equal parts) and SplitV
// (value, size_splits, axis; one size may be -1) onto ir.Graph.AddSplit.
func (b *builder) split(n *NodeDef) error {
	ins, err := b.ins(n, 2, 3)
	if err != nil {
		return err
	}
	var x, axisIn string
	var sizes []int64
	if n.Op == "Split" {
		if len(ins) != 2 {
			return fmt.Errorf("has %d inputs, want 2", len(ins))
		}
		axisIn, x = ins[0], ins[1]
	} else {
		if len(ins) != 3 {
			return fmt.Errorf("has %d inputs, want 3", len(ins))
		}
		x, axisIn = ins[0], ins[2]
		if sizes, err = b.constInts(ins[1], "size_splits"); err != nil {
			return err
		}
	}
	s := b.shape(x)
	a, err := b.scalarInt(axisIn, "axis")
	if err != nil {
		return err
	}
	ax, err := normAxis(a, len(s), "axis")
	if err != nil {
		return err
	}
	d := int64(s[ax])
	if n.Op == "Split" {
		k, err := attrInt(n, "num_split", 0)
		if err != nil {
			return err
		}
		if k < 1 || d%k != 0 {
			return fmt.Errorf("num_split %d does not divide axis %d of %v", k, ax, s)
		}
		sizes = make([]int64, k)
		for i := range sizes {
			sizes[i] = d / k
		}
	} else if sizes, err = splitSizes(sizes, d); err != nil {
		return err
	}
	outs := make([]string, len(sizes))
	is := make([]int, len(sizes))
	for i, sz := range sizes {
		outs[i], is[i] = b.outName(n, i), int(sz)
	}
	if err := b.g.AddSplit(n.Name, x, outs, ax, is); err != nil {
		return err
	}
	for i, v := range outs {
		b.alias(n, i, v)
	}
	return nil
}

// splitSizes resolves SplitV's size_splits (at most one -1) against an
// axis of d elements.
func splitSizes(sizes []int64, d int64) ([]int64, error) {
	if len(sizes) == 0 {
		return nil, errors.New("size_splits is empty")
	}
	out := append([]int64(nil), sizes...)
	infer, sum := -1, int64(0)
	for i, v := range sizes {
		switch {
		case v == -1 && infer < 0:
			infer = i
		case v < 0 || v > d:
			return nil, fmt.Errorf("size_splits %v is invalid for an axis of %d", sizes, d)
		default:
			sum += v
		}
	}
	if infer >= 0 {
		if sum > d {
			return nil, fmt.Errorf("size_splits %v exceed the axis' %d elements", sizes, d)
		}
		out[infer] = d - sum
	} else if sum != d {
		return nil, fmt.Errorf("size_splits %v do not add up to the axis' %d elements", sizes, d)
	}
	return out, nil
}

// tile lowers Tile (input, multiples) onto ir.Graph.AddTile.
func (b *builder) tile(n *NodeDef) error {
	ins, err := b.ins(n, 2, 2)
	if err != nil {
		return err
	}
	s := b.shape(ins[0])
	m, err := b.constInts(ins[1], "multiples")
	if err != nil {
		return err
	}
	if len(m) != len(s) {
		return fmt.Errorf("multiples %v must have one element per dimension of %v", m, s)
	}
	out := make([]int64, len(s))
	reps := make([]int, len(s))
	for i, k := range m {
		if k < 1 || k > int64(maxTensorElements) {
			return fmt.Errorf("multiples %v must be positive", m)
		}
		out[i], reps[i] = int64(s[i])*k, int(k)
	}
	if _, err := numElements(out); err != nil {
		return err
	}
	if err := b.g.AddTile(n.Name, ins[0], n.Name, reps); err != nil {
		return err
	}
	b.alias(n, 0, n.Name)
	return nil
}

// gatherNd lowers GatherNd at constant indices through
// ir.Graph.AddGatherND (indices computed from data would be secret).
func (b *builder) gatherNd(n *NodeDef) error {
	ins, err := b.ins(n, 2, 2)
	if err != nil {
		return err
	}
	if bd, err := attrInt(n, "batch_dims", 0); err != nil {
		return err
	} else if bd != 0 {
		return fmt.Errorf("batch_dims %d is not supported (only 0)", bd)
	}
	idx := b.g.Const(ins[1])
	if idx == nil {
		return errors.New("indices computed from the data are not supported (only constant indices)")
	}
	if err := b.g.AddGatherND(n.Name, ins[0], n.Name, idx); err != nil {
		return err
	}
	b.alias(n, 0, n.Name)
	return nil
}

// sparseToDense folds SparseToDense of constant operands (shape
// arithmetic: a mask or a shape built from indices) into a constant.
func (b *builder) sparseToDense(n *NodeDef) error {
	ins, err := b.ins(n, 4, 4)
	if err != nil {
		return err
	}
	var ks [4]*ir.Tensor
	for i, in := range ins {
		if ks[i] = b.g.Const(in); ks[i] == nil {
			return fmt.Errorf("input %d (%q) is computed from the data; only constant operands are supported", i, in)
		}
	}
	dims, err := ks[1].Ints()
	if err != nil {
		return fmt.Errorf("output_shape: %w", err)
	}
	size, err := numElements(dims)
	if err != nil {
		return fmt.Errorf("output_shape: %w", err)
	}
	idx, err := ks[0].Ints()
	if err != nil {
		return fmt.Errorf("sparse_indices: %w", err)
	}
	rank := 1
	if len(ks[0].Shape) == 2 {
		rank = ks[0].Shape[1]
	} else if len(ks[0].Shape) > 2 {
		return fmt.Errorf("sparse_indices of rank %d", len(ks[0].Shape))
	}
	if rank != len(dims) || (rank == 0 && len(idx) > 0) {
		return fmt.Errorf("sparse_indices of depth %d for output_shape %v", rank, dims)
	}
	count := 0
	if rank > 0 {
		count = len(idx) / rank
	}
	vals, def := ks[2], ks[3]
	if vals.Len() != 1 && vals.Len() != count || def.Len() != 1 {
		return fmt.Errorf("%d sparse_values and %d default values for %d indices", vals.Len(), def.Len(), count)
	}
	shape := make(ir.Shape, len(dims))
	for i, d := range dims {
		shape[i] = int(d)
	}
	flat := make([]int, count)
	for p := range flat {
		off := 0
		for j := range rank {
			i := idx[p*rank+j]
			if i < 0 || i >= dims[j] {
				return fmt.Errorf("index %d out of range for dimension %d of size %d", i, j, dims[j])
			}
			off = off*int(dims[j]) + int(i)
		}
		flat[p] = off
	}
	pick := func(t *ir.Tensor, p int) int { return min(p, t.Len()-1) }
	var t *ir.Tensor
	if vals.DType == ir.Int64 {
		vi, _ := vals.Ints()
		di, _ := def.Ints()
		out := make([]int64, size)
		for i := range out {
			out[i] = di[0]
		}
		for p, off := range flat {
			out[off] = vi[pick(vals, p)]
		}
		t = ir.IntTensor(shape, out)
	} else {
		vf, df := vals.Floats(), def.Floats()
		t = ir.NewFloat(shape)
		for i := range t.F {
			t.F[i] = df[0]
		}
		for p, off := range flat {
			t.F[off] = vf[pick(vals, p)]
		}
	}
	if _, err := b.constTensor(n.Name, t); err != nil {
		return err
	}
	b.alias(n, 0, n.Name)
	return nil
}
