package tf

import (
	"strings"
	"testing"

	"veil/ir"
)

// stridedCases are StridedSlice specs on x = [0 … 23] shaped [2, 3, 4],
// each written as the Python indexing expression it encodes (begin, end,
// strides and masks as tf.Tensor.__getitem__ builds them: an integer i is
// begin i, end i+1 and a shrink bit; None a new-axis bit; ... an ellipsis
// bit; an omitted start or stop a begin or end mask bit). The expected
// shapes and values come from Python's own list slicing applied to nested
// lists, independently of this package.
var stridedCases = []struct {
	expr               string
	begin, end, stride []int64
	masks              stridedMasks // begin, end, ellipsis, new axis, shrink
	shape              ir.Shape
	want               []float32
}{
	{"x[:, 1:3, ::2]", []int64{0, 1, 0}, []int64{0, 3, 0}, []int64{1, 1, 2}, stridedMasks{5, 5, 0, 0, 0}, ir.Shape{2, 2, 2}, []float32{4, 6, 8, 10, 16, 18, 20, 22}},
	{"x[..., 1]", []int64{0, 1}, []int64{0, 2}, []int64{1, 1}, stridedMasks{0, 0, 1, 0, 2}, ir.Shape{2, 3}, []float32{1, 5, 9, 13, 17, 21}},
	{"x[1]", []int64{1}, []int64{2}, []int64{1}, stridedMasks{0, 0, 0, 0, 1}, ir.Shape{3, 4}, []float32{12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23}},
	{"x[-1, ::-1, 1:-1]", []int64{-1, 0, 1}, []int64{0, 0, -1}, []int64{1, -1, 1}, stridedMasks{2, 2, 0, 0, 1}, ir.Shape{3, 2}, []float32{21, 22, 17, 18, 13, 14}},
	{"x[:, None, 2]", []int64{0, 0, 2}, []int64{0, 0, 3}, []int64{1, 1, 1}, stridedMasks{1, 1, 0, 2, 4}, ir.Shape{2, 1, 4}, []float32{8, 9, 10, 11, 20, 21, 22, 23}},
	{"x[None, ..., None]", []int64{0, 0, 0}, []int64{0, 0, 0}, []int64{1, 1, 1}, stridedMasks{0, 0, 2, 5, 0}, ir.Shape{1, 2, 3, 4, 1}, []float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23}},
	{"x[::-1, ::-2, ::-3]", []int64{0, 0, 0}, []int64{0, 0, 0}, []int64{-1, -2, -3}, stridedMasks{7, 7, 0, 0, 0}, ir.Shape{2, 2, 2}, []float32{23, 20, 15, 12, 11, 8, 3, 0}},
	{"x[1:, 5:1:-2, -2:]", []int64{1, 5, -2}, []int64{0, 1, 0}, []int64{1, -2, 1}, stridedMasks{0, 5, 0, 0, 0}, ir.Shape{1, 1, 2}, []float32{22, 23}},
	{"x[..., None, -1]", []int64{0, 0, -1}, []int64{0, 0, 0}, []int64{1, 1, 1}, stridedMasks{0, 0, 1, 2, 4}, ir.Shape{2, 3, 1}, []float32{3, 7, 11, 15, 19, 23}},
	{"x[0, ..., 0:1]", []int64{0, 0, 0}, []int64{1, 0, 1}, []int64{1, 1, 1}, stridedMasks{0, 0, 2, 0, 1}, ir.Shape{3, 1}, []float32{0, 4, 8}},
	{"x[:, -10:10, -1:-5:-1]", []int64{0, -10, -1}, []int64{0, 10, -5}, []int64{1, 1, -1}, stridedMasks{1, 1, 0, 0, 0}, ir.Shape{2, 3, 4}, []float32{3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12, 19, 18, 17, 16, 23, 22, 21, 20}},
	{"x[1, -1, -1]", []int64{1, -1, -1}, []int64{2, 0, 0}, []int64{1, 1, 1}, stridedMasks{0, 0, 0, 0, 7}, ir.Shape{}, []float32{23}},
	{"x[..., ::-1]", []int64{0, 0}, []int64{0, 0}, []int64{1, -1}, stridedMasks{2, 2, 1, 0, 0}, ir.Shape{2, 3, 4}, []float32{3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12, 19, 18, 17, 16, 23, 22, 21, 20}},
	{"x[:, 2:0:-1, 3::-2]", []int64{0, 2, 3}, []int64{0, 0, 0}, []int64{1, -1, -2}, stridedMasks{1, 5, 0, 0, 0}, ir.Shape{2, 2, 2}, []float32{11, 9, 7, 5, 23, 21, 19, 17}},
	{"x[None, 1, None, :, None, 1:3]", []int64{0, 1, 0, 0, 0, 1}, []int64{0, 2, 0, 0, 0, 3}, []int64{1, 1, 1, 1, 1, 1}, stridedMasks{8, 8, 0, 21, 2}, ir.Shape{1, 1, 3, 1, 2}, []float32{13, 14, 17, 18, 21, 22}},
	{"x[..., 1:2, None]", []int64{0, 1, 0}, []int64{0, 2, 0}, []int64{1, 1, 1}, stridedMasks{0, 0, 1, 4, 0}, ir.Shape{2, 3, 1, 1}, []float32{1, 5, 9, 13, 17, 21}},
	{"x[-2:-1, ..., -3, None]", []int64{-2, 0, -3, 0}, []int64{-1, 0, -2, 0}, []int64{1, 1, 1, 1}, stridedMasks{0, 0, 2, 8, 4}, ir.Shape{1, 3, 1}, []float32{1, 5, 9}},
	{"x[0:2:3, ::5]", []int64{0, 0}, []int64{2, 0}, []int64{3, 5}, stridedMasks{2, 2, 0, 0, 0}, ir.Shape{1, 1, 4}, []float32{0, 1, 2, 3}},
	// Masked begin and end ignore their values.
	{"x[:, 1:, :] with begin and end values under masks", []int64{7, 1, -9}, []int64{-7, 99, 1}, []int64{1, 1, 1}, stridedMasks{5, 7, 0, 0, 0}, ir.Shape{2, 2, 4}, []float32{4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23}},
	// begin and end masks on a new axis or the ellipsis change nothing.
	{"x[None, ...] with every mask bit set", []int64{0, 0}, []int64{0, 0}, []int64{1, 1}, stridedMasks{3, 3, 2, 1, 0}, ir.Shape{1, 2, 3, 4}, countUp(24)},
}

func countUp(n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(i)
	}
	return out
}

// TestResolveStridedSlice checks the shape StridedSlice's mask semantics
// give for every case, without the IR.
func TestResolveStridedSlice(t *testing.T) {
	for _, c := range stridedCases {
		t.Run(c.expr, func(t *testing.T) {
			sp, err := resolveStridedSlice(ir.Shape{2, 3, 4}, c.begin, c.end, c.stride, c.masks)
			if err != nil {
				t.Fatal(err)
			}
			if !sp.final.Equal(c.shape) {
				t.Errorf("shape %v, want %v", sp.final, c.shape)
			}
		})
	}
}

// TestStridedSlice imports each case twice — on a graph input and on a
// constant, which folds — and compares values and shapes.
func TestStridedSlice(t *testing.T) {
	attrs := func(m stridedMasks) map[string]*AttrValue {
		return map[string]*AttrValue{
			"begin_mask": aI(m.begin), "end_mask": aI(m.end), "ellipsis_mask": aI(m.ellipsis),
			"new_axis_mask": aI(m.newAxis), "shrink_axis_mask": aI(m.shrink), "Index": aT(DTInt32), "T": aT(DTFloat),
		}
	}
	x := ir.FloatTensor(ir.Shape{2, 3, 4}, countUp(24))
	for _, c := range stridedCases {
		k := int64(len(c.begin))
		spec := []*NodeDef{constI("b", []int64{k}, c.begin...), constI("e", []int64{k}, c.end...), constI("s", []int64{k}, c.stride...)}
		t.Run(c.expr, func(t *testing.T) {
			// "+ 0" keeps the graph's output a computed value even when the
			// slice is the identity.
			nodes := append([]*NodeDef{placeholder("x", 2, 3, 4), constF("zero", nil, []float32{0}),
				nd("ss", "StridedSlice", []string{"x", "b", "e", "s"}, attrs(c.masks)),
				nd("y", "AddV2", []string{"ss", "zero"}, nil)}, spec...)
			runOpCase(t, opCase{nodes: nodes, x: x, want: ir.FloatTensor(c.shape, c.want)})
		})
		t.Run(c.expr+" folded", func(t *testing.T) {
			nodes := append([]*NodeDef{placeholder("p", 1), constF("x", []int64{2, 3, 4}, countUp(24)),
				nd("ss", "StridedSlice", []string{"x", "b", "e", "s"}, attrs(c.masks))}, spec...)
			g, err := importBinary(t, nodes, Options{Outputs: []string{"ss"}})
			if err != nil {
				t.Fatal(err)
			}
			got := g.Const(g.Outputs[0])
			if got == nil {
				t.Fatalf("output %q is not a constant", g.Outputs[0])
			}
			if !got.Shape.Equal(c.shape) || !slicesEqual(got.F, c.want) {
				t.Errorf("got %v %v, want %v %v", got.Shape, got.F, c.shape, c.want)
			}
		})
	}
}

func slicesEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestStridedSliceLowering checks that a slice is one Slice and at most
// one Reshape, and that the identity slice adds no node.
func TestStridedSliceLowering(t *testing.T) {
	tests := []struct {
		name       string
		begin, end []int64
		masks      stridedMasks
		ops        string
	}{
		{"identity", []int64{0}, []int64{0}, stridedMasks{begin: 1, end: 1}, "Add"},
		{"slice", []int64{0, 1}, []int64{0, 3}, stridedMasks{begin: 1, end: 1}, "Slice Add"},
		{"shrink", []int64{1}, []int64{2}, stridedMasks{shrink: 1}, "Slice Reshape Add"},
		{"new axis only", []int64{0}, []int64{0}, stridedMasks{newAxis: 1}, "Reshape Add"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := int64(len(tc.begin))
			ones := make([]int64, k)
			for i := range ones {
				ones[i] = 1
			}
			nodes := []*NodeDef{placeholder("x", 2, 3, 4), constF("zero", nil, []float32{0}),
				constI("b", []int64{k}, tc.begin...), constI("e", []int64{k}, tc.end...), constI("s", []int64{k}, ones...),
				nd("ss", "StridedSlice", []string{"x", "b", "e", "s"}, map[string]*AttrValue{
					"begin_mask": aI(tc.masks.begin), "end_mask": aI(tc.masks.end), "new_axis_mask": aI(tc.masks.newAxis), "shrink_axis_mask": aI(tc.masks.shrink)}),
				nd("y", "AddV2", []string{"ss", "zero"}, nil)}
			g, err := importBinary(t, nodes, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var ops []string
			for _, n := range g.Nodes {
				ops = append(ops, string(n.Op))
			}
			if got := strings.Join(ops, " "); got != tc.ops {
				t.Errorf("ops %q, want %q", got, tc.ops)
			}
		})
	}
}
