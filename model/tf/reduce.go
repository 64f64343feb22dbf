package tf

import (
	"errors"
	"slices"

	"veil/ir"
)

// reduceOps maps TensorFlow's reductions onto the IR's. Prod has no IR
// op: it is computed here, and only for constants.
var reduceOps = map[string]ir.Op{
	"Mean": ir.OpReduceMean,
	"Sum":  ir.OpReduceSum,
	"Max":  ir.OpReduceMax,
	"Min":  ir.OpReduceMin,
}

// reduce lowers Mean, Sum, Max, Min and Prod (input, reduction_indices;
// keep_dims).
func (b *builder) reduce(n *NodeDef) error {
	ins, err := b.ins(n, 2, 2)
	if err != nil {
		return err
	}
	s := b.shape(ins[0])
	axes, err := b.axes(ins[1], len(s), "reduction_indices")
	if err != nil {
		return err
	}
	keep, err := attrBool(n, "keep_dims", false)
	if err != nil {
		return err
	}
	if len(axes) == 0 {
		// TensorFlow reduces over no axes: the value is unchanged (the IR's
		// empty Axes would mean all axes instead).
		b.alias(n, 0, ins[0])
		return nil
	}
	slices.Sort(axes)
	axes = slices.Compact(axes)
	if n.Op == "Prod" {
		return b.prodConst(n, ins[0], axes, keep)
	}
	return b.emit(n, reduceOps[n.Op], ins[:1], ir.Attrs{Axes: axes, KeepDims: keep})
}

// prodConst computes Prod of constant x over axes (sorted, distinct).
func (b *builder) prodConst(n *NodeDef, x string, axes []int, keep bool) error {
	c := b.g.Const(x)
	if c == nil {
		return errors.New("Prod of a value that is not a constant is not supported")
	}
	s := c.Shape
	red := make([]bool, len(s))
	for _, a := range axes {
		red[a] = true
	}
	var out, kept ir.Shape
	for i, d := range s {
		switch {
		case !red[i]:
			out, kept = append(out, d), append(kept, d)
		case keep:
			kept = append(kept, 1)
		}
	}
	if out == nil {
		out = ir.Shape{}
	}
	if kept == nil {
		kept = ir.Shape{}
	}
	// Walk every element, tracking its index in the output.
	size := out.Size()
	fs := make([]float64, size)
	is := make([]int64, size)
	for i := range fs {
		fs[i], is[i] = 1, 1
	}
	f := c.Floats()
	idx := make([]int, len(s))
	for k := range f {
		o := 0
		for i, d := range s {
			if !red[i] {
				o = o*d + idx[i]
			}
		}
		if c.DType == ir.Int64 {
			is[o] *= c.I[k]
		} else {
			fs[o] *= float64(f[k])
		}
		for i := len(s) - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < s[i] {
				break
			}
			idx[i] = 0
		}
	}
	var t *ir.Tensor
	if c.DType == ir.Int64 {
		t = ir.IntTensor(kept, is)
	} else {
		xs := make([]float32, size)
		for i, v := range fs {
			xs[i] = float32(v)
		}
		t = ir.FloatTensor(kept, xs)
	}
	if _, err := b.constTensor(n.Name, t); err != nil {
		return err
	}
	b.alias(n, 0, n.Name)
	return nil
}
