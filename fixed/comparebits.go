package fixed

import (
	"context"
	"fmt"
	"math/bits"
)

// CompareMargin is the headroom TraceCompareBits adds to the largest
// comparison input it traced, in bits: values up to 4× beyond anything
// the calibration data reached still compare right.
const CompareMargin = 2

// The range of a program's CompareBits.
const (
	MinCompareBits = 8
	MaxCompareBits = 62
)

// TraceCompareBits sets p.CompareBits from calibration examples: p,
// every composite lowered onto primitives, runs in the clear on each,
// and the bits of the largest magnitude any DReLU reads (every
// comparison of every composite is one: ReLU, pooling, ArgMax, maxima,
// clips, the pieces of a Piecewise table) plus CompareMargin, within
// [MinCompareBits, MaxCompareBits], become the bound. A comparison whose
// input reaches 2^CompareBits in a secure run may come out wrong in a
// backend that compares only that many bits: calibrate on data like the
// data the program will see.
func (p *Program) TraceCompareBits(examples []Example) error {
	q, err := p.Lower(func(Op) bool { return false })
	if err != nil {
		return err
	}
	var top uint64
	for i, x := range examples {
		err := q.compareInputs(x.Input, func(_ int, v uint64) error {
			top = max(top, v)
			return nil
		})
		if err != nil {
			return fmt.Errorf("comparison bound: calibration example %d: %w", i, err)
		}
	}
	p.CompareBits = min(max(bits.Len64(top)+CompareMargin, MinCompareBits), MaxCompareBits)
	return nil
}

// ComparisonBits returns the number of magnitude bits a backend's
// comparisons assume for p under a session's limit (0: none): the limit
// when set, unless p's traced bound (CompareBits) exceeds it, which is
// an error; else the traced bound; else MaxCompareBits.
func (p *Program) ComparisonBits(limit int) (int, error) {
	switch {
	case limit != 0 && p.CompareBits > limit:
		return 0, fmt.Errorf("program %q needs comparisons of %d bits (traced on its calibration data), more than the %d this session allows", p.Name, p.CompareBits, limit)
	case limit != 0:
		return limit, nil
	case p.CompareBits != 0:
		return p.CompareBits, nil
	}
	return MaxCompareBits, nil
}

// CheckCompareBound runs p in the clear on input x, every composite
// lowered onto primitives, and returns an error naming the first
// comparison whose input reaches 2^CompareBits in magnitude, which a
// backend that compares only that many bits would get wrong (nil for a
// program without a bound). The secure backends cannot check this
// without revealing it; the cleartext oracle that verifies their runs
// does.
func (p *Program) CheckCompareBound(x []float32) error {
	if p.CompareBits == 0 {
		return nil
	}
	q, err := p.Lower(func(Op) bool { return false })
	if err != nil {
		return err
	}
	return q.compareInputs(x, func(k int, v uint64) error {
		if bits.Len64(v) > p.CompareBits {
			in := &q.Instrs[k]
			return fmt.Errorf("a comparison's input (instruction %d, from node %q) reaches %d bits in magnitude, beyond the program's traced bound of %d bits: calibrate it on data like this input", k, in.Node, bits.Len64(v), p.CompareBits)
		}
		return nil
	})
}

// compareInputs runs the lowered program q in the clear on input x and
// calls seen with the magnitude of every value a DReLU reads (every
// comparison of every composite is one: ReLU, pooling, ArgMax, maxima,
// clips, the pieces of a Piecewise table), stopping at its first error.
func (q *Program) compareInputs(x []float32, seen func(k int, magnitude uint64) error) error {
	inputs, err := q.EncodeInputs(x)
	if err != nil {
		return err
	}
	vals := make([][]uint64, len(q.Tensors))
	for j, id := range q.Inputs {
		vals[id] = inputs[j]
	}
	var failed error
	observe := func(k int, in *Instr, out Value) {
		vals[in.Out] = out.([]uint64)
		if in.Op != DReLU || failed != nil {
			return
		}
		x := vals[in.In[0]]
		if t := q.Tensors[in.In[0]]; t.Kind == KindWeight {
			x = t.Values()
		}
		for _, v := range x {
			m := uint64(int64(v))
			if int64(v) < 0 {
				m = -m
			}
			if err := seen(k, m); err != nil {
				failed = err
				return
			}
		}
	}
	if _, err := q.Execute(context.Background(), &Cleartext{}, inputs, &ExecOptions{Observe: observe}); err != nil {
		return err
	}
	return failed
}
