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

// maxPrecompute bounds the OTs and the triples made in one window of the
// offline phase, per direction (2^22: 64 MiB of strings per party). A
// run that takes more makes them window by window: before the first
// instruction of each window, those its instructions take (all of them
// input-independent, so still offline work); an instruction that alone
// takes more than the bound extends the rest online.
var maxPrecompute = 1 << 22

// need is what a window or an instruction takes: correlated OTs with P0
// sending (a) and with P1 sending (b), pair triples, and the input and
// output elements of the linear layers whose masks it makes (masks.go).
type need struct{ a, b, triples, masks int }

func (n need) plus(m need) need {
	return need{n.a + m.a, n.b + m.b, n.triples + m.triples, n.masks + m.masks}
}

// withMasks is n with its masks made for runs runs.
func (n need) withMasks(runs int) need {
	n.masks *= runs
	return n
}

func (n need) times(k int) need {
	return need{n.a * k, n.b * k, n.triples * k, n.masks * k}
}

func (n need) fits() bool {
	return n.a <= maxPrecompute && n.b <= maxPrecompute && n.triples <= maxPrecompute && n.masks <= maxPrecompute
}

// window is a run of instructions whose OTs and triples the offline
// phase makes together, before instruction start.
type window struct {
	start int
	need
}

// schedule returns the offline windows of a run of prog (as lowered for
// the engine), comparing k bits: each as long as what it takes fits
// maxPrecompute, with its linear layers' masks made for runs runs.
func schedule(prog *fixed.Program, k, runs int) []window {
	readers := readersOf(prog)
	var ws []window
	for j := range prog.Instrs {
		d := instrNeed(prog, &prog.Instrs[j], readers, k)
		if d == (need{}) {
			continue
		}
		if len(ws) > 0 {
			if w := &ws[len(ws)-1]; w.plus(d).withMasks(runs).fits() {
				w.need = w.plus(d)
				continue
			}
		}
		ws = append(ws, window{start: j, need: d})
	}
	if len(ws) > 0 {
		ws[0].start = 0 // the first window before the run
	}
	return ws
}

// instrNeed is what instruction in takes, exactly as the protocols draw
// it (a DReLU's B2A, made for whichever reader needs it, counted with
// the DReLU).
func instrNeed(prog *fixed.Program, in *fixed.Instr, readers [][]readerOf, k int) need {
	var d need
	n := prog.Tensors[in.Out].Shape.Size()
	greater := func() {
		q := leaves(k)
		d.a += n * k                  // a random OT per compared bit
		d.triples += treePairs(q) * n // one pair triple per pair of nodes
	}
	switch in.Op {
	case fixed.DReLU:
		greater()
		for _, r := range readers[in.Out] {
			if r.op != fixed.Mux || r.arg != 0 { // B2A, once
				d.a += n
				break
			}
		}
	case fixed.Relu:
		greater()
		d.a, d.b = d.a+n, d.b+n
	case fixed.Mux:
		d.a, d.b = d.a+n, d.b+n
	case fixed.Conv, fixed.MatMul:
		if wi := prog.WeightOperand(in); wi >= 0 && (in.Op == fixed.MatMul || wi == 1) {
			d.masks += prog.Tensors[in.In[1-wi]].Shape.Size() + n
		}
	case fixed.Mul:
		d.a += 64 * n
		if prog.WeightOperand(in) < 0 {
			d.b += 64 * n
		}
	}
	return d
}

// demand is what a whole run takes (the sum of its windows).
func demand(prog *fixed.Program, k int) (a, b, triples int) {
	var t need
	for _, w := range schedule(prog, k, 1) {
		t = t.plus(w.need)
	}
	return t.a, t.b, t.triples
}

// readerOf is one reader of a tensor: an instruction's op and the
// operand it reads it as, or "output".
type readerOf struct {
	op  fixed.Op
	arg int
}

// readersOf lists every tensor's readers.
func readersOf(prog *fixed.Program) [][]readerOf {
	readers := make([][]readerOf, len(prog.Tensors))
	for _, in := range prog.Instrs {
		for i, id := range in.In {
			readers[id] = append(readers[id], readerOf{in.Op, i})
		}
	}
	for _, id := range prog.Outputs {
		readers[id] = append(readers[id], readerOf{"output", 0})
	}
	return readers
}

// precompute runs the offline phase of one window: its linear layers'
// masks (linear, unless nil), then its triples and its OTs (within
// maxPrecompute; the rest go online), each accounted as an op of its
// own.
func (e *Engine) precompute(w need, linear func() error) error {
	a, b, triples := min(w.a, maxPrecompute), min(w.b, maxPrecompute), min(w.triples, maxPrecompute)
	if linear != nil {
		if err := e.accountPhase("offline masks", w.masks, true, linear); err != nil {
			return err
		}
	}
	return e.accountPhase("offline OTs", a+b+triples, true, func() error {
		if triples > 0 {
			t, err := e.p.pairTriples(triples)
			if err != nil {
				return fmt.Errorf("offline phase: %w", err)
			}
			e.p.addTriples(t)
		}
		// Each party's receiving end first: both directions' corrections
		// are under way at once, then each party's sending end reads
		// the other's.
		var err error
		if e.me == 0 {
			if err = e.p.rcv.Precompute(b); err == nil {
				err = e.p.snd.Precompute(a)
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
