package porthos

import (
	"fmt"

	"veil/fixed"
	"veil/ir"
	"veil/mpc"
)

// instr runs one instruction on shares (nil at P2 for every value).
func (e *Engine) instr(prog *fixed.Program, in *fixed.Instr, args [][]uint64, wi int) ([]uint64, error) {
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
		var z []uint64
		var err error
		if wi == 1 {
			z, err = e.weightProduct("Conv", cp.N*cp.O*cp.OutH()*cp.OutW(), func(key weightKey) ([]uint64, error) {
				return e.convByWeight(key, x, args[1], cp)
			}, in.In[1])
		} else {
			z, err = e.Conv(x, args[1], cp)
		}
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
	case fixed.MatMul, fixed.Mul:
		mm := in.Op == fixed.MatMul
		if wi >= 0 {
			return e.weightProduct(string(in.Op), out.Size(), func(key weightKey) ([]uint64, error) {
				return e.productByWeight(mm, key, wi, args, [2]ir.Shape{shape(0), shape(1)}, out)
			}, in.In[wi])
		}
		if mm {
			return e.MatMul(args[0], args[1], shape(0), shape(1), out)
		}
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
	case fixed.DReLU:
		return e.DReLU(out.Size(), args[0])
	case fixed.Mux: // SelectShare picks its first operand where the bit is 0
		return e.SelectShare(out.Size(), args[0], args[2], args[1])
	}
	if fixed.Local(in.Op) {
		if p2 {
			return nil, nil
		}
		return prog.ApplyShare(in, args, e.me == mpc.P0) // public constants are P0's
	}
	return nil, fmt.Errorf("op %q is not supported by Porthos", in.Op)
}

// weightProduct runs a product with the server's weight tensor (tensor
// id of the current program) under the accounting of op.
func (e *Engine) weightProduct(op string, n int, f func(weightKey) ([]uint64, error), tensor int) ([]uint64, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	defer e.begin(op, n)()
	z, err := f(weightKey{program: e.digest, tensor: tensor})
	if err != nil {
		return nil, e.fail(op, err)
	}
	return z, nil
}
