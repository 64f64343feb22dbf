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
		inputs, err := q.EncodeInputs(x.Input)
		if err != nil {
			return fmt.Errorf("comparison bound: calibration example %d: %w", i, err)
		}
		vals := make([][]uint64, len(q.Tensors))
		for j, id := range q.Inputs {
			vals[id] = inputs[j]
		}
		observe := func(_ int, in *Instr, out Value) {
			vals[in.Out] = out.([]uint64)
			if in.Op != DReLU {
				return
			}
			x := vals[in.In[0]]
			if t := q.Tensors[in.In[0]]; t.Kind == KindWeight {
				x = t.Data
			}
			for _, v := range x {
				m := uint64(int64(v))
				if int64(v) < 0 {
					m = -m
				}
				top = max(top, m)
			}
		}
		if _, err := q.Execute(context.Background(), &Cleartext{}, inputs, &ExecOptions{Observe: observe}); err != nil {
			return fmt.Errorf("comparison bound: calibration example %d: %w", i, err)
		}
	}
	p.CompareBits = min(max(bits.Len64(top)+CompareMargin, MinCompareBits), MaxCompareBits)
	return nil
}
