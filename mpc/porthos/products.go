package porthos

import (
	"fmt"

	"veil/ir"
	"veil/tensor"
)

// Mul multiplies shared tensors x (shape xs) and y (shape ys) element-wise
// with numpy broadcasting to shape out. Φ(x, y)[i] = x[a(i)]·y[b(i)] is
// bilinear, so this is the Beaver protocol with masks at the operands'
// own shapes: cost (2|x| + 2|y| + |out|)ℓ bits, 1 round (5ℓ per element
// when the shapes agree). Security: see beaver.
func (e *Engine) Mul(x, y []uint64, xs, ys, out ir.Shape) ([]uint64, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	defer e.begin("Mul", out.Size())()
	if xs.Equal(out) && ys.Equal(out) {
		z, err := e.mulElem(out.Size(), x, y)
		if err != nil {
			return nil, e.fail("Mul", err)
		}
		return z, nil
	}
	ai, bi := ir.BroadcastIndex(xs, out), ir.BroadcastIndex(ys, out)
	phi := func(dst, a, b []uint64) {
		for i := range dst {
			dst[i] = a[ai[i]] * b[bi[i]]
		}
	}
	z, err := e.beaver("mul.bcast", xs.Size(), ys.Size(), out.Size(), x, y, phi)
	if err != nil {
		return nil, e.fail("Mul", err)
	}
	return z, nil
}

// MatMul multiplies shared tensors with numpy matmul semantics (batch
// dimensions broadcast; a 1-D operand is a row or a column vector). For
// X of m×k and Y of k×n the cost is (2mk + 2kn + mn)ℓ bits, 1 round.
// Security: see beaver.
func (e *Engine) MatMul(x, y []uint64, xs, ys, out ir.Shape) ([]uint64, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	defer e.begin("MatMul", out.Size())()
	phi, err := matmulMap(xs, ys, out)
	if err != nil {
		return nil, e.fail("MatMul", err)
	}
	z, err := e.beaver("mm", xs.Size(), ys.Size(), out.Size(), x, y, phi)
	if err != nil {
		return nil, e.fail("MatMul", err)
	}
	return z, nil
}

// matmulMap returns the bilinear map of a numpy matmul of shapes as, bs.
func matmulMap(as, bs, out ir.Shape) (bilinear, error) {
	if len(as) == 0 || len(bs) == 0 {
		return nil, fmt.Errorf("matmul of a scalar")
	}
	if len(as) == 1 {
		as = ir.Shape{1, as[0]}
	}
	if len(bs) == 1 {
		bs = ir.Shape{bs[0], 1}
	}
	M, K, N := as[len(as)-2], as[len(as)-1], bs[len(bs)-1]
	if bs[len(bs)-2] != K {
		return nil, fmt.Errorf("matmul of %v and %v", as, bs)
	}
	batch, err := ir.BroadcastShapes(as[:len(as)-2], bs[:len(bs)-2])
	if err != nil {
		return nil, err
	}
	if batch.Size()*M*N != out.Size() {
		return nil, fmt.Errorf("matmul of %v and %v does not give %v", as, bs, out)
	}
	ai := ir.BroadcastIndex(as[:len(as)-2], batch)
	bi := ir.BroadcastIndex(bs[:len(bs)-2], batch)
	return func(dst, a, b []uint64) {
		for p := range ai {
			tensor.MatMul(dst[p*M*N:(p+1)*M*N], a[ai[p]*M*K:(ai[p]+1)*M*K], b[bi[p]*K*N:(bi[p]+1)*K*N], M, K, N)
		}
	}, nil
}
