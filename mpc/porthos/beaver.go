package porthos

import (
	"fmt"

	"veil/mpc"
)

// bilinear computes dst = Φ(x, y) for a map Φ that is bilinear over Z_L
// (dst is overwritten).
type bilinear func(dst, x, y []uint64)

// beaver computes shares of Φ(X, Y) from shares of X (nx elements) and Y
// (ny elements); Φ has nz outputs. It is the Beaver protocol of PORTHOS.md
// section 3 for any bilinear Φ:
//
//  1. P0 and P2 draw A0, B0, C0 from their stream (label); P1 and P2 draw
//     A1, B1 from theirs. P2, the only one to know A = A0 + A1 and
//     B = B0 + B1, sends C1 = Φ(A, B) − C0 to P1 (data-independent).
//  2. P_j sends E_j = X_j − A_j and F_j = Y_j − B_j to the other; both
//     learn E = X − A and F = Y − B.
//  3. P0 outputs Φ(X0 − E, F) + Φ(E, Y0) + C0, P1 outputs
//     Φ(X1, F) + Φ(E, Y1) + C1.
//
// Correctness: the sum is Φ(A, F) + Φ(E, B + F) + Φ(A, B) = Φ(X, Y) by
// bilinearity alone.
//
// Cost: (2nx + 2ny + nz)ℓ bits, 1 round.
//
// Security: E and F are one-time padded by A_j and B_j, which the other
// primary party does not know (they come from the stream it does not
// share with P2); C1 is uniform to P1 because C0 is; P2 receives nothing.
func (e *Engine) beaver(label string, nx, ny, nz int, x, y []uint64, phi bilinear) ([]uint64, error) {
	e.round()
	switch e.me {
	case mpc.P2:
		s0, s1 := e.stream(mpc.P0, label), e.stream(mpc.P1, label)
		a, b, c0 := make([]uint64, nx), make([]uint64, ny), make([]uint64, nz)
		s0.Uint64s(a)
		s0.Uint64s(b)
		s0.Uint64s(c0)
		a1, b1 := make([]uint64, nx), make([]uint64, ny)
		s1.Uint64s(a1)
		s1.Uint64s(b1)
		for i := range a {
			a[i] += a1[i]
		}
		for i := range b {
			b[i] += b1[i]
		}
		c1 := make([]uint64, nz)
		phi(c1, a, b)
		for i := range c1 {
			c1[i] -= c0[i]
		}
		return nil, e.send(mpc.P1, putU64s(nil, c1))
	}
	if len(x) != nx || len(y) != ny {
		return nil, fmt.Errorf("operands of %d and %d elements, want %d and %d", len(x), len(y), nx, ny)
	}
	st := e.stream(mpc.P2, label)
	a, b := make([]uint64, nx), make([]uint64, ny)
	st.Uint64s(a)
	st.Uint64s(b)
	var c []uint64
	if e.me == mpc.P0 {
		c = make([]uint64, nz)
		st.Uint64s(c)
	}
	for i := range a {
		a[i] = x[i] - a[i] // E_j
	}
	for i := range b {
		b[i] = y[i] - b[i] // F_j
	}
	msg := putU64s(putU64s(make([]byte, 0, 8*(nx+ny)), a), b)
	if err := e.send(e.other(), msg); err != nil {
		return nil, err
	}
	in, err := e.recv(e.other(), 8*(nx+ny))
	if err != nil {
		return nil, err
	}
	ef := u64s(in, nx+ny)
	E, F := ef[:nx], ef[nx:]
	for i := range E {
		E[i] += a[i]
	}
	for i := range F {
		F[i] += b[i]
	}
	if e.me == mpc.P1 {
		cb, err := e.recv(mpc.P2, 8*nz)
		if err != nil {
			return nil, err
		}
		c = u64s(cb, nz)
	}
	z, t := make([]uint64, nz), make([]uint64, nz)
	if e.me == mpc.P0 {
		xe := make([]uint64, nx)
		for i := range xe {
			xe[i] = x[i] - E[i]
		}
		phi(z, xe, F)
	} else {
		phi(z, x, F)
	}
	phi(t, E, y)
	for i := range z {
		z[i] += t[i] + c[i]
	}
	return z, nil
}

// MulElem multiplies two shared vectors of n elements element-wise: the
// Beaver protocol with Φ(x, y) = x ⊙ y, written out so that it allocates
// little. There is no truncation (see ScaleDown).
//
// Cost: 5nℓ bits, 1 round. Security: as for every Beaver product (see
// beaver): the opened E, F are one-time padded, C1 is uniform to P1.
func (e *Engine) MulElem(n int, x, y []uint64) ([]uint64, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	defer e.begin("Mul", n)()
	z, err := e.mulElem(n, x, y)
	if err != nil {
		return nil, e.fail("Mul", err)
	}
	return z, nil
}

func (e *Engine) mulElem(n int, x, y []uint64) ([]uint64, error) {
	const label = "mul"
	e.round()
	if e.me == mpc.P2 {
		s0, s1 := e.stream(mpc.P0, label), e.stream(mpc.P1, label)
		abc := make([]uint64, 3*n)
		s0.Uint64s(abc)
		ab1 := make([]uint64, 2*n)
		s1.Uint64s(ab1)
		c1 := abc[2*n:]
		for i := range c1 {
			c1[i] = (abc[i]+ab1[i])*(abc[n+i]+ab1[n+i]) - c1[i]
		}
		return nil, e.send(mpc.P1, putU64s(nil, c1))
	}
	if len(x) != n || len(y) != n {
		return nil, fmt.Errorf("operands of %d and %d elements, want %d", len(x), len(y), n)
	}
	k := 2
	if e.me == mpc.P0 {
		k = 3
	}
	abc := make([]uint64, k*n)
	e.stream(mpc.P2, label).Uint64s(abc)
	a, b := abc[:n], abc[n:2*n]
	ef := make([]uint64, 2*n)
	for i := range a {
		ef[i], ef[n+i] = x[i]-a[i], y[i]-b[i]
	}
	if err := e.send(e.other(), putU64s(nil, ef)); err != nil {
		return nil, err
	}
	in, err := e.recv(e.other(), 16*n)
	if err != nil {
		return nil, err
	}
	var c []uint64
	if e.me == mpc.P0 {
		c = abc[2*n:]
	} else {
		cb, err := e.recv(mpc.P2, 8*n)
		if err != nil {
			return nil, err
		}
		c = u64s(cb, n)
	}
	other := u64s(in, 2*n)
	z := make([]uint64, n)
	if e.me == mpc.P0 {
		for i := range z {
			E, F := ef[i]+other[i], ef[n+i]+other[n+i]
			z[i] = (x[i]-E)*F + E*y[i] + c[i]
		}
	} else {
		for i := range z {
			E, F := ef[i]+other[i], ef[n+i]+other[n+i]
			z[i] = x[i]*F + E*y[i] + c[i]
		}
	}
	return z, nil
}
