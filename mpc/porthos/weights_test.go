package porthos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"veil/fixed"
	"veil/fixed/fixedtest"
	"veil/ir"
	"veil/mpc"
)

// weightElems counts the elements of the weight operands that the
// executor multiplies by in the clear at P1 (see fixed.Program.WeightOperand).
func weightElems(prog *fixed.Program) int {
	seen := map[int]bool{}
	n := 0
	for k := range prog.Instrs {
		in := &prog.Instrs[k]
		if wi := prog.WeightOperand(in); wi >= 0 && !seen[in.In[wi]] {
			seen[in.In[wi]] = true
			n += prog.Tensors[in.In[wi]].Shape.Size()
		}
	}
	return n
}

// TestWeightMasksPerSession runs several inferences in one session, with
// the weight masks cached and with the cache disabled: every instruction
// of every inference is exact on its operands, and P1 sends the weight
// masks (8 bytes per weight element) in the first inference only when
// they are cached, in every inference when they are not.
func TestWeightMasksPerSession(t *testing.T) {
	r := rand.New(rand.NewPCG(50, 50))
	mixed, err := fixed.Compile(fixedtest.MixedGraph(t, r, ir.NHWC, "first"), 12)
	if err != nil {
		t.Fatal(err)
	}
	progs := map[string]*fixed.Program{"fashion_lenet": loadProgram(t, "fashion_lenet", 12), "mixed": mixed}
	for name, prog := range progs {
		nw := weightElems(prog)
		if nw == 0 {
			t.Fatalf("%s: no weight products", name)
		}
		for _, limit := range []int{MaskCacheElems, 0} {
			t.Run(fmt.Sprintf("%s/cache=%d", name, limit), func(t *testing.T) {
				const runs = 3
				inputs := make([][]uint64, runs)
				for i := range inputs {
					inputs[i] = prog.EncodeInput(fixedtest.RandTensor(r, prog.Tensors[prog.Inputs[0]].Shape, 1).F)
				}
				pub := prog.Public()
				var sent [runs][3]int64 // P1's bytes to P0 and P2 per inference, and P0's to P1
				var shares [2][runs][][]uint64
				var outs [runs][][]uint64
				run3(t, func(e *Engine) error {
					e.maskLimit = limit
					for i := range inputs {
						k := i
						if e.me < mpc.P2 {
							shares[e.me][k] = make([][]uint64, len(prog.Instrs))
							e.testHookInstr = func(j int, sh []uint64) { shares[e.me][k][j] = slices.Clone(sh) }
						}
						before := e.sent
						var err error
						switch e.me {
						case mpc.P0:
							outs[i], err = e.Run(context.Background(), pub, inputs[i])
							sent[i][2] = e.sent[mpc.P1] - before[mpc.P1]
						case mpc.P1:
							_, err = e.Run(context.Background(), prog)
							sent[i][0], sent[i][1] = e.sent[mpc.P0]-before[mpc.P0], e.sent[mpc.P2]-before[mpc.P2]
						default:
							_, err = e.Run(context.Background(), pub)
						}
						if err != nil {
							return err
						}
					}
					return nil
				})
				for i := range inputs {
					steps := make([][]uint64, len(prog.Tensors))
					for k, in := range prog.Instrs {
						steps[in.Out] = open([3][]uint64{shares[0][i][k], shares[1][i][k]})
					}
					checkSteps(t, prog, inputs[i], steps)
					if outs[i] == nil {
						t.Fatalf("inference %d: no output at P0", i)
					}
				}
				for i := 1; i < runs; i++ {
					if sent[i] != sent[1] {
						t.Errorf("inference %d sent %v bytes, inference 1 %v", i, sent[i], sent[1])
					}
				}
				want := int64(8 * nw)
				if limit == 0 {
					want = 0
				}
				if d := sent[0][0] - sent[1][0]; d != want {
					t.Errorf("P1 sent P0 %d bytes more in the first inference than in the second, want %d (%d weight elements)", d, want, nw)
				}
				t.Logf("P1→P0 bytes per inference: %d, %d, %d", sent[0][0], sent[1][0], sent[2][0])
			})
		}
	}
}
