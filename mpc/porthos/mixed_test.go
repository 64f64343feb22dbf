package porthos

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"veil/fixed"
	"veil/fixed/fixedtest"
	"veil/ir"
)

// TestMixedProgram runs a program that uses every instruction, in both
// layouts and with each kind of output, through 3PC: every instruction is
// exact on its operands (ScaleDown within one unit), and the outputs are
// within the propagated bound of the cleartext executor's.
func TestMixedProgram(t *testing.T) {
	for _, l := range []ir.Layout{ir.NCHW, ir.NHWC} {
		for _, out := range []string{"softmax", "first", "last"} {
			t.Run(fmt.Sprintf("%s/%s", l, out), func(t *testing.T) {
				r := rand.New(rand.NewPCG(30, uint64(l)))
				prog, err := fixed.Compile(fixedtest.MixedGraph(t, r, l, out), 12)
				if err != nil {
					t.Fatal(err)
				}
				ops := map[fixed.Op]bool{}
				for _, in := range prog.Instrs {
					ops[in.Op] = true
				}
				for _, op := range []fixed.Op{fixed.Conv, fixed.MatMul, fixed.Mul, fixed.Add, fixed.Sub, fixed.AddPublic, fixed.MulPublic,
					fixed.ScaleDown, fixed.Relu, fixed.MaxPool, fixed.SumPool, fixed.ReduceSum, fixed.Reshape, fixed.Transpose,
					fixed.Concat, fixed.Pad, fixed.Slice} {
					if !ops[op] {
						t.Errorf("program lacks %s", op)
					}
				}
				if out != "softmax" && !ops[fixed.ArgMax] {
					t.Error("program lacks ArgMax")
				}
				for trial := 0; trial < 3; trial++ {
					x := prog.EncodeInput(fixedtest.RandTensor(r, prog.Tensors[prog.Inputs[0]].Shape, 1).F)
					clear, err := prog.Run(x)
					if err != nil {
						t.Fatal(err)
					}
					got, _, steps := run3PC(t, prog, x, true)
					checkSteps(t, prog, x, steps)
					bound := prog.ErrorBounds(trace(t, prog, x))[prog.Outputs[0]]
					if out == "softmax" {
						if d := deviation(got[0], clear[0]); d > bound {
							t.Errorf("outputs deviate by %g units, bound %g", d, bound)
						}
						continue
					}
					// ArgMax: exact whenever its input is; otherwise
					// checkSteps has shown it exact on the secure input.
					if !slices.Equal(got[0], clear[0]) {
						t.Logf("argmax %v, cleartext %v (its input differs within the truncation bound)", got[0], clear[0])
					}
				}
			})
		}
	}
}
