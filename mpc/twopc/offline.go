package twopc

import (
	"fmt"

	"veil/fixed"
)

// The offline phase. Every correlated OT a run takes, and every AND
// triple of its comparison trees, is known from the program alone (its
// shapes and the comparison width), so both parties make them before the
// run, ahead of the input: the triples in full (pairTriples), the OTs as
// random correlated OTs (ot.Precompute) that the online phase turns into
// the ones it needs for one bit each instead of 128. demand counts them
// exactly as the protocols draw them; a test checks that a run leaves
// nothing over.

// maxPrecompute bounds the OTs precomputed per direction and run (2^22:
// 64 MiB of strings per party); a larger run extends the rest online.
const maxPrecompute = 1 << 22

// demand returns the correlated OTs the online phase of a run of prog
// (as lowered for the engine) takes with P0 sending (a) and with P1
// sending (b), and the pair triples its comparison trees take
// (triples), comparing k bits.
func demand(prog *fixed.Program, k int) (a, b, triples int) {
	readers := make([][]readerOf, len(prog.Tensors))
	for _, in := range prog.Instrs {
		for i, id := range in.In {
			readers[id] = append(readers[id], readerOf{in.Op, i})
		}
	}
	for _, id := range prog.Outputs {
		readers[id] = append(readers[id], readerOf{"output", 0})
	}
	greater := func(n int) {
		q := leaves(k)
		a += leafBits * n * q
		triples += treePairs(q) * n // one pair triple per pair of nodes
	}
	for _, in := range prog.Instrs {
		n := prog.Tensors[in.Out].Shape.Size()
		switch in.Op {
		case fixed.DReLU:
			greater(n)
			for _, r := range readers[in.Out] {
				if r.op != fixed.Mux || r.arg != 0 { // B2A, once
					a += n
					break
				}
			}
		case fixed.Relu:
			greater(n)
			a, b = a+n, b+n
		case fixed.Mux:
			a, b = a+n, b+n
		case fixed.Mul:
			a += 64 * n
			if prog.WeightOperand(&in) < 0 {
				b += 64 * n
			}
		}
	}
	return a, b, triples
}

type readerOf struct {
	op  fixed.Op
	arg int
}

// precompute runs the offline phase of a run of prog.
func (e *Engine) precompute(prog *fixed.Program, k int) error {
	a, b, triples := demand(prog, k)
	a, b, triples = min(a, maxPrecompute), min(b, maxPrecompute), min(triples, maxPrecompute)
	return e.accountPhase("offline", a+b+triples, true, func() error {
		if triples > 0 {
			t, err := e.p.pairTriples(triples)
			if err != nil {
				return fmt.Errorf("offline phase: %w", err)
			}
			e.p.triples, e.p.tripleOff = t, 0
		}
		var err error
		if e.me == 0 { // P0 → P1 first, as the extensions were set up
			if err = e.p.snd.Precompute(a); err == nil {
				err = e.p.rcv.Precompute(b)
			}
		} else {
			if err = e.p.rcv.Precompute(a); err == nil {
				err = e.p.snd.Precompute(b)
			}
		}
		if err != nil {
			return fmt.Errorf("offline phase: %w", err)
		}
		return nil
	})
}
