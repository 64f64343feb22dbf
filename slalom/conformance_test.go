package slalom

import (
	"context"
	"testing"

	"veil/fixed"
	"veil/mpc/mpctest"
)

// TestConformance runs the backend suite on T's executor (the
// fixed.Backend that T and D run): programs with no outsourced layer, so
// every instruction goes through T's own kernels (ReLU, Clip, Add, 2×2
// max pooling, in place where an operand dies) or the oracle's, with
// buffers recycled across instructions and inferences. The outsourced
// linear layers are checked against the same oracle by the package's
// other tests (TestExecutorEveryOp, TestProgramIsFixed, …).
func TestConformance(t *testing.T) {
	mpctest.Conformance(t, mpctest.Runner{Name: "slalom T", Run: func(tb testing.TB, prog *fixed.Program, inputs [][][]uint64) ([][][]uint64, error) {
		p := &Program{Name: prog.Name, Fixed: prog}
		pl, err := p.plans()
		if err != nil {
			return nil, err
		}
		mem := &arena{}
		outs := make([][][]uint64, len(inputs))
		for i, in := range inputs {
			if outs[i], err = prog.Execute(context.Background(), &executor{p: p, pl: pl, mem: mem}, in, nil); err != nil {
				return nil, err
			}
		}
		return outs, nil
	}})
}
