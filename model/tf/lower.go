package tf

import (
	"fmt"
	"slices"

	"veil/ir"
)

// Helpers shared by the op lowerings: constants, reshapes, and naming of
// a TF node's outputs.

// floatConst adds a float32 constant and returns its name.
func (b *builder) floatConst(base string, shape ir.Shape, xs []float32) (string, error) {
	name := b.newName(base)
	return name, b.g.AddConst(name, ir.FloatTensor(shape, xs))
}

// constTensor adds t as a constant named out, checking its size, and
// returns out.
func (b *builder) constTensor(out string, t *ir.Tensor) (string, error) {
	if _, err := numElements(int64s(t.Shape)); err != nil {
		return "", err
	}
	return out, b.g.AddConst(out, t)
}

// scalarConst returns the value of v when it is a constant with exactly
// one element.
func (b *builder) scalarConst(v string) (float32, bool) {
	c := b.g.Const(v)
	if c == nil || c.Len() != 1 {
		return 0, false
	}
	return c.Floats()[0], true
}

// reshapeTo makes x the shape s under the IR name out (a fresh name from
// base when out is empty). A reshape to x's own shape returns x itself.
func (b *builder) reshapeTo(out, x string, s ir.Shape) (string, error) {
	if out == "" && b.shape(x).Equal(s) {
		return x, nil
	}
	spec, err := b.intConst(x+"/shape", ir.Shape{len(s)}, int64s(s))
	if err != nil {
		return "", err
	}
	if out == "" {
		out = b.newName(x + "/reshape")
	}
	// TensorFlow's 0 is a zero-sized dimension, not "copy" as in ONNX.
	return out, b.add(ir.OpReshape, out, []string{x, spec}, ir.Attrs{AllowZero: true})
}

// slice takes [start, end) with the given step of every axis of x (one
// entry per axis) under a fresh name from base.
func (b *builder) slice(base, x string, start, end, step []int64) (string, error) {
	r := len(start)
	st, err := b.intConst(base+"/starts", ir.Shape{r}, start)
	if err != nil {
		return "", err
	}
	en, err := b.intConst(base+"/ends", ir.Shape{r}, end)
	if err != nil {
		return "", err
	}
	axes := make([]int64, r)
	for i := range axes {
		axes[i] = int64(i)
	}
	ax, err := b.intConst(base+"/axes", ir.Shape{r}, axes)
	if err != nil {
		return "", err
	}
	sp, err := b.intConst(base+"/steps", ir.Shape{r}, step)
	if err != nil {
		return "", err
	}
	out := b.newName(base)
	return out, b.add(ir.OpSlice, out, []string{x, st, en, ax, sp}, ir.Attrs{})
}

// sliceAxis takes [lo, hi) of axis ax of x, under a fresh name from base.
func (b *builder) sliceAxis(base, x string, ax int, lo, hi int) (string, error) {
	s := b.shape(x)
	start, end, step := make([]int64, len(s)), int64s(s), make([]int64, len(s))
	for i := range step {
		step[i] = 1
	}
	start[ax], end[ax] = int64(lo), int64(hi)
	return b.slice(base, x, start, end, step)
}

// normAxis checks that axis is in [-r, r) and returns it in [0, r).
func normAxis(axis int64, r int, what string) (int, error) {
	if axis < -int64(r) || axis >= int64(r) {
		return 0, fmt.Errorf("%s %d out of range for rank %d", what, axis, r)
	}
	if axis < 0 {
		axis += int64(r)
	}
	return int(axis), nil
}

// scalarInt reads the single integer of constant v.
func (b *builder) scalarInt(v, what string) (int64, error) {
	xs, err := b.constInts(v, what)
	if err != nil {
		return 0, err
	}
	if len(xs) != 1 {
		return 0, fmt.Errorf("%s has %d elements, want 1", what, len(xs))
	}
	return xs[0], nil
}

// alias makes output i of n another name for IR value v.
func (b *builder) alias(n *NodeDef, i int, v string) {
	b.vals[tensorKey(n.Name, i)] = v
}

// outName is the IR name for output i of n: the node's own name for
// output 0, a fresh one for the others.
func (b *builder) outName(n *NodeDef, i int) string {
	if i == 0 {
		return n.Name
	}
	return b.newName(fmt.Sprintf("%s/output%d", n.Name, i))
}

// insertDim returns s with a 1 inserted at axis (in [0, len(s)]).
func insertDim(s ir.Shape, axis int) ir.Shape {
	return slices.Insert(s.Clone(), axis, 1)
}
