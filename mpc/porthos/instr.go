package porthos

import (
	"fmt"

	"veil/fixed"
	"veil/mpc"
)

// instr runs one instruction on shares (nil at P2 for every value).
func (e *Engine) instr(prog *fixed.Program, in *fixed.Instr, args [][]uint64) ([]uint64, error) {
	shape := func(i int) []int { return prog.Tensors[in.In[i]].Shape }
	out := prog.Tensors[in.Out].Shape
	p2 := e.me == mpc.P2
	switch in.Op {
	case fixed.Conv:
		cp := prog.ConvParams(in)
		x := args[0]
		nhwc := in.Layout == "NHWC"
		if nhwc && !p2 {
			x = fixed.ToNCHW(x, shape(0))
		}
		z, err := e.Conv(x, args[1], cp)
		if err != nil || p2 {
			return nil, err
		}
		if len(args) == 3 {
			plane := cp.OutH() * cp.OutW()
			for i := range z {
				z[i] += args[2][(i/plane)%cp.O]
			}
		}
		if nhwc {
			z = fixed.FromNCHW(z, out)
		}
		return z, nil
	case fixed.MatMul:
		return e.MatMul(args[0], args[1], shape(0), shape(1), out)
	case fixed.Mul:
		return e.Mul(args[0], args[1], shape(0), shape(1), out)
	case fixed.ScaleDown:
		return e.ScaleDown(args[0], in.Shift), nil
	case fixed.Relu:
		return e.ReLU(out.Size(), args[0])
	case fixed.MaxPool:
		pp := prog.PoolParams(in)
		x := args[0]
		nhwc := in.Layout == "NHWC"
		if nhwc && !p2 {
			x = fixed.ToNCHW(x, shape(0))
		}
		z, err := e.MaxPool(x, pp)
		if err != nil || p2 {
			return nil, err
		}
		if nhwc {
			z = fixed.FromNCHW(z, out)
		}
		return z, nil
	case fixed.ArgMax:
		return e.ArgMax(args[0], shape(0), in.Axis, in.SelectLast)
	case fixed.Add, fixed.Sub, fixed.MulPublic, fixed.SumPool, fixed.ReduceSum,
		fixed.Reshape, fixed.Transpose, fixed.Concat, fixed.Slice:
		if p2 {
			return nil, nil
		}
		return prog.Apply(in, args)
	case fixed.AddPublic, fixed.Pad:
		if p2 {
			return nil, nil
		}
		if e.me == mpc.P1 { // the public constant is P0's alone
			c := *in
			c.PadValue = 0
			if in.Op == fixed.AddPublic {
				c.Public = make([]int64, len(in.Public))
			}
			in = &c
		}
		return prog.Apply(in, args)
	}
	return nil, fmt.Errorf("op %q is not supported by Porthos", in.Op)
}
