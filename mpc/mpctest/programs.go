package mpctest

import (
	"math/rand/v2"
	"testing"

	"veil/fixed"
	"veil/fixed/fixedtest"
	"veil/ir"
)

// builder assembles a small program by hand.
type builder struct {
	p      *fixed.Program
	r      *rand.Rand
	inputs [][]uint64
	values func(n int) []uint64 // how the inputs and weights are drawn
}

func newBuilder(name string, r *rand.Rand, values func(*rand.Rand, int) []uint64) *builder {
	return &builder{p: &fixed.Program{Name: name, Scale: 12, PublicShift: 12, Layout: "NCHW"}, r: r,
		values: func(n int) []uint64 { return values(r, n) }}
}

func (b *builder) tensor(t *fixed.Tensor) int {
	b.p.Tensors = append(b.p.Tensors, t)
	return len(b.p.Tensors) - 1
}

// input adds a program input of the shape, drawn from the builder's
// values.
func (b *builder) input(shape ...int) int {
	id := b.tensor(&fixed.Tensor{Name: "in", Shape: shape, Kind: fixed.KindInput, Scale: 12})
	b.p.Inputs = append(b.p.Inputs, id)
	b.inputs = append(b.inputs, b.values(ir.Shape(shape).Size()))
	return id
}

// weight adds a weight of the shape, drawn from the builder's values.
func (b *builder) weight(shape ...int) int {
	return b.tensor(&fixed.Tensor{Name: "w", Shape: shape, Kind: fixed.KindWeight, Scale: 12, Data: b.values(ir.Shape(shape).Size())})
}

// op appends in, writing a new value of the shape, and returns it.
func (b *builder) op(in fixed.Instr, shape ...int) int {
	in.Out = b.tensor(&fixed.Tensor{Name: string(in.Op), Shape: shape, Kind: fixed.KindValue, Scale: 12})
	in.Node = string(in.Op)
	b.p.Instrs = append(b.p.Instrs, in)
	return in.Out
}

// done makes ids the outputs and checks the program.
func (b *builder) done(tb testing.TB, ids ...int) (*fixed.Program, [][]uint64) {
	tb.Helper()
	b.p.Outputs = ids
	b.p.ComputeStats()
	if err := b.p.Validate(); err != nil {
		tb.Fatalf("program %s: %v", b.p.Name, err)
	}
	return b.p, b.inputs
}

// ring draws uniform ring elements: linear ops are exact modulo 2^64 on
// any values.
func ring(r *rand.Rand, n int) []uint64 {
	v := make([]uint64, n)
	for i := range v {
		v[i] = r.Uint64()
	}
	return v
}

// bounded draws values of magnitude below 2^40, where a ScaleDown of
// shares is off by at most one except with probability below 2^-24.
func bounded(r *rand.Rand, n int) []uint64 {
	v := make([]uint64, n)
	for i := range v {
		v[i] = uint64(r.Int64N(1<<41) - 1<<40)
		if r.IntN(8) == 0 {
			v[i] = uint64(r.Int64N(9) - 4) // small, and exact multiples
		}
	}
	return v
}

// primitive is a program exercising one primitive op directly.
type primitive struct {
	name string
	op   fixed.Op
	// scaled says the output passes through ScaleDown (compared within
	// the runner's Truncation).
	scaled bool
	build  func(tb testing.TB, r *rand.Rand) (*fixed.Program, [][]uint64)
}

// primitives returns one or more programs for every primitive op.
func primitives() []primitive {
	lin := func(name string, op fixed.Op, f func(b *builder) int) primitive {
		return primitive{name: name, op: op, build: func(tb testing.TB, r *rand.Rand) (*fixed.Program, [][]uint64) {
			b := newBuilder(name, r, ring)
			return b.done(tb, f(b))
		}}
	}
	conv := func(layout string, group int, secretFilter, bias bool) func(b *builder) int {
		return func(b *builder) int {
			xs, out := []int{1, 6, 7, 5}, []int{1, 4, 4, 3}
			if layout == "NHWC" {
				xs, out = []int{1, 7, 5, 6}, []int{1, 4, 3, 4}
			}
			x := b.input(xs...)
			var w int
			if secretFilter {
				w = b.input(4, 6/group, 3, 2)
			} else {
				w = b.weight(4, 6/group, 3, 2)
			}
			in := []int{x, w}
			if bias {
				in = append(in, b.weight(4))
			}
			return b.op(fixed.Instr{Op: fixed.Conv, In: in, Strides: []int{2, 2}, Pads: []int{1, 0, 1, 2}, Group: group, Layout: layout}, out...)
		}
	}
	ps := []primitive{
		lin("Conv, weight filter and bias", fixed.Conv, conv("NCHW", 1, false, true)),
		lin("Conv, NHWC, grouped", fixed.Conv, conv("NHWC", 2, false, false)),
		lin("Conv, secret filter", fixed.Conv, conv("NCHW", 1, true, false)),
		lin("MatMul, weight", fixed.MatMul, func(b *builder) int {
			return b.op(fixed.Instr{Op: fixed.MatMul, In: []int{b.input(2, 5), b.weight(5, 3)}}, 2, 3)
		}),
		lin("MatMul, weight first, batched", fixed.MatMul, func(b *builder) int {
			return b.op(fixed.Instr{Op: fixed.MatMul, In: []int{b.weight(3, 4), b.input(2, 4, 2)}}, 2, 3, 2)
		}),
		lin("MatMul, secret", fixed.MatMul, func(b *builder) int {
			return b.op(fixed.Instr{Op: fixed.MatMul, In: []int{b.input(2, 3, 5), b.input(5, 2)}}, 2, 3, 2)
		}),
		lin("Mul, secret, broadcast", fixed.Mul, func(b *builder) int {
			return b.op(fixed.Instr{Op: fixed.Mul, In: []int{b.input(2, 3), b.input(3)}}, 2, 3)
		}),
		lin("Mul, weight, broadcast", fixed.Mul, func(b *builder) int {
			return b.op(fixed.Instr{Op: fixed.Mul, In: []int{b.weight(1, 3), b.input(4, 3)}}, 4, 3)
		}),
		lin("Add, broadcast", fixed.Add, func(b *builder) int {
			return b.op(fixed.Instr{Op: fixed.Add, In: []int{b.input(2, 1, 3), b.input(4, 1)}}, 2, 4, 3)
		}),
		lin("Add, weight", fixed.Add, func(b *builder) int {
			return b.op(fixed.Instr{Op: fixed.Add, In: []int{b.input(2, 3), b.weight(3)}}, 2, 3)
		}),
		lin("Sub, broadcast", fixed.Sub, func(b *builder) int {
			return b.op(fixed.Instr{Op: fixed.Sub, In: []int{b.weight(3), b.input(2, 3)}}, 2, 3)
		}),
		lin("AddPublic", fixed.AddPublic, func(b *builder) int {
			return b.op(fixed.Instr{Op: fixed.AddPublic, In: []int{b.input(2, 3)}, Public: []int64{5, -7, 1 << 50}, PublicShape: ir.Shape{3}}, 2, 3)
		}),
		lin("MulPublic", fixed.MulPublic, func(b *builder) int {
			return b.op(fixed.Instr{Op: fixed.MulPublic, In: []int{b.input(2, 3)}, Public: []int64{-3, 4}, PublicShape: ir.Shape{2, 1}}, 2, 3)
		}),
		lin("Const", fixed.Const, func(b *builder) int {
			c := b.op(fixed.Instr{Op: fixed.Const, Public: []int64{9, -2}, PublicShape: ir.Shape{2, 1}}, 2, 3)
			return b.op(fixed.Instr{Op: fixed.Add, In: []int{c, b.input(2, 3)}}, 2, 3)
		}),
		lin("SumPool", fixed.SumPool, func(b *builder) int {
			return b.op(fixed.Instr{Op: fixed.SumPool, In: []int{b.input(1, 2, 5, 4)}, Kernel: []int{3, 2}, Strides: []int{2, 1}, Pads: []int{1, 0, 1, 1}}, 1, 2, 3, 4)
		}),
		lin("ReduceSum", fixed.ReduceSum, func(b *builder) int {
			return b.op(fixed.Instr{Op: fixed.ReduceSum, In: []int{b.input(2, 3, 4)}, Axes: []int{0, 2}, KeepDims: true}, 1, 3, 1)
		}),
		lin("Reshape", fixed.Reshape, func(b *builder) int {
			return b.op(fixed.Instr{Op: fixed.Reshape, In: []int{b.input(2, 6)}, Shape: ir.Shape{3, 4}}, 3, 4)
		}),
		lin("Transpose", fixed.Transpose, func(b *builder) int {
			return b.op(fixed.Instr{Op: fixed.Transpose, In: []int{b.input(2, 3, 4)}, Perm: []int{2, 0, 1}}, 4, 2, 3)
		}),
		lin("Concat", fixed.Concat, func(b *builder) int {
			return b.op(fixed.Instr{Op: fixed.Concat, In: []int{b.input(2, 1), b.weight(2, 3), b.input(2, 2)}, Axis: 1}, 2, 6)
		}),
		lin("Pad, constant", fixed.Pad, func(b *builder) int {
			return b.op(fixed.Instr{Op: fixed.Pad, In: []int{b.input(2, 3)}, Pads: []int{1, 0, 0, 2}, PadValue: -7}, 3, 5)
		}),
		lin("Pad, edge", fixed.Pad, func(b *builder) int {
			return b.op(fixed.Instr{Op: fixed.Pad, In: []int{b.input(2, 3)}, Pads: []int{2, 1, 1, 3}, Mode: "edge"}, 5, 7)
		}),
		lin("Slice", fixed.Slice, func(b *builder) int {
			return b.op(fixed.Instr{Op: fixed.Slice, In: []int{b.input(4, 5)}, Starts: []int{3, 0}, Steps: []int{-2, 2}}, 2, 3)
		}),
		{name: "ScaleDown", op: fixed.ScaleDown, scaled: true, build: func(tb testing.TB, r *rand.Rand) (*fixed.Program, [][]uint64) {
			b := newBuilder("ScaleDown", r, bounded)
			x := b.input(3, 40)
			return b.done(tb, b.op(fixed.Instr{Op: fixed.ScaleDown, In: []int{x}, Shift: 12}, 3, 40), b.op(fixed.Instr{Op: fixed.ScaleDown, In: []int{x}, Shift: 1}, 3, 40))
		}},
		{name: "DReLU", op: fixed.DReLU, build: func(tb testing.TB, r *rand.Rand) (*fixed.Program, [][]uint64) {
			b := newBuilder("DReLU", r, fixedtest.DomainValues)
			return b.done(tb, b.op(fixed.Instr{Op: fixed.DReLU, In: []int{b.input(5, 40)}}, 5, 40))
		}},
		{name: "Mux", op: fixed.Mux, build: func(tb testing.TB, r *rand.Rand) (*fixed.Program, [][]uint64) {
			b := newBuilder("Mux", r, fixedtest.DomainValues)
			bit := b.op(fixed.Instr{Op: fixed.DReLU, In: []int{b.input(4, 30)}}, 4, 30)
			return b.done(tb, b.op(fixed.Instr{Op: fixed.Mux, In: []int{bit, b.input(4, 30), b.input(4, 30)}}, 4, 30))
		}},
	}
	return ps
}
