package ir

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// naiveSlice is SliceCopy element by element.
func naiveSlice(x []int64, in Shape, starts, steps []int, out Shape) []int64 {
	res := make([]int64, out.Size())
	str := in.Strides()
	coord := make([]int, len(out))
	for i := range res {
		off := 0
		for d, c := range coord {
			off += (starts[d] + c*steps[d]) * str[d]
		}
		res[i] = x[off]
		for d := len(out) - 1; d >= 0; d-- {
			if coord[d]++; coord[d] < out[d] {
				break
			}
			coord[d] = 0
		}
	}
	return res
}

// TestSliceCopy checks SliceCopy against element-by-element indexing
// on random shapes, starts and steps, negative and larger than one.
func TestSliceCopy(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 500 {
		rank := r.IntN(4)
		in, out := make(Shape, rank), make(Shape, rank)
		starts, steps := make([]int, rank), make([]int, rank)
		for d := range rank {
			in[d] = 1 + r.IntN(6)
			steps[d] = []int{1, 1, 2, 3, -1, -2}[r.IntN(6)]
			if steps[d] > 0 {
				starts[d] = r.IntN(in[d])
				out[d] = (in[d] - starts[d] + steps[d] - 1) / steps[d]
			} else {
				starts[d] = r.IntN(in[d])
				out[d] = starts[d]/-steps[d] + 1
			}
			out[d] = r.IntN(out[d] + 1) // possibly fewer, possibly none
		}
		x := make([]int64, in.Size())
		for i := range x {
			x[i] = r.Int64()
		}
		got, want := SliceCopy(x, in, starts, steps, out), naiveSlice(x, in, starts, steps, out)
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d: slice of %v at %v step %v to %v: %v, want %v", trial, in, starts, steps, out, got, want)
		}
	}
}

func TestConcatCopy(t *testing.T) {
	a := []int{1, 2, 3, 4, 5, 6}       // 2×3
	b := []int{7, 8, 9, 10}            // 2×2
	c := []int{11, 12, 13, 14, 15, 16} // 3×2
	if got, want := ConcatCopy([][]int{a, b}, []Shape{{2, 3}, {2, 2}}, 1, Shape{2, 5}), []int{1, 2, 3, 7, 8, 4, 5, 6, 9, 10}; !slices.Equal(got, want) {
		t.Errorf("axis 1: %v, want %v", got, want)
	}
	if got, want := ConcatCopy([][]int{b, c}, []Shape{{2, 2}, {3, 2}}, -2, Shape{5, 2}), []int{7, 8, 9, 10, 11, 12, 13, 14, 15, 16}; !slices.Equal(got, want) {
		t.Errorf("axis -2: %v, want %v", got, want)
	}
}
