package porthos

import (
	"fmt"

	"veil/mpc"
)

// Share splits the owner's vector x of n elements into shares held by P0
// and P1. P0 and P1 draw R from their common stream ("in"); the owner
// (P0 or P1) keeps x − R and the other party keeps R. Only the owner
// passes x; P2 takes part in nothing and gets nil.
//
// Cost: 0 bits, 0 rounds.
//
// Security: each share alone is uniform (R is a PRF output unknown to
// P2 and independent of x), so the non-owner learns nothing; P2 sees no
// message.
func (e *Engine) Share(owner mpc.Party, n int, x []uint64) ([]uint64, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	if owner != mpc.P0 && owner != mpc.P1 {
		return nil, e.fail("Share", fmt.Errorf("input owner must be P0 or P1, not %s", owner))
	}
	if e.me == mpc.P2 {
		return nil, nil
	}
	if e.me == owner && len(x) != n {
		return nil, e.fail("Share", fmt.Errorf("%d values for %d elements", len(x), n))
	}
	out := make([]uint64, n)
	e.stream(e.other(), "in").Uint64s(out)
	if e.me == owner {
		for i, v := range x {
			out[i] = v - out[i]
		}
	}
	return out, nil
}

// Reveal opens the shared vector x of n elements to party to (P0 or P1):
// the other primary party sends its shares and to adds them. It returns
// the values at to and nil elsewhere.
//
// Cost: nℓ bits, 1 round.
//
// Security: only the opened value reaches to; P2 receives nothing.
func (e *Engine) Reveal(to mpc.Party, n int, x []uint64) ([]uint64, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	defer e.begin("Reveal", n)()
	if to != mpc.P0 && to != mpc.P1 {
		return nil, e.fail("Reveal", fmt.Errorf("outputs go to P0 or P1, not %s", to))
	}
	e.round()
	switch e.me {
	case mpc.P2:
		return nil, nil
	case to:
		b, err := e.recv(e.other(), 8*n)
		if err != nil {
			return nil, e.fail("Reveal", err)
		}
		out := u64s(b, n)
		for i := range out {
			out[i] += x[i]
		}
		return out, nil
	default:
		if err := e.send(to, putU64s(nil, x[:n])); err != nil {
			return nil, e.fail("Reveal", err)
		}
		return nil, nil
	}
}

// RevealBoth opens x to P0 and P1: both send their shares at once.
//
// Cost: 2nℓ bits, 1 round.
func (e *Engine) RevealBoth(n int, x []uint64) ([]uint64, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	defer e.begin("RevealBoth", n)()
	e.round()
	if e.me == mpc.P2 {
		return nil, nil
	}
	if err := e.send(e.other(), putU64s(nil, x[:n])); err != nil {
		return nil, e.fail("RevealBoth", err)
	}
	b, err := e.recv(e.other(), 8*n)
	if err != nil {
		return nil, e.fail("RevealBoth", err)
	}
	out := u64s(b, n)
	for i := range out {
		out[i] += x[i]
	}
	return out, nil
}
