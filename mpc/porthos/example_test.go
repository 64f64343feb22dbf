package porthos_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"veil/fixed"
	"veil/ir"
	"veil/mpc"
	"veil/mpc/porthos"
)

// ExampleRun evaluates relu(x ⊙ w) with the client's x and the server's w
// without either seeing the other's vector; only the client learns the
// result. All three parties run in this process over an in-process
// network.
func ExampleRun() {
	const s = 8 // fixed-point scale
	prog := &fixed.Program{Name: "relu-mul", Scale: s, Tensors: []*fixed.Tensor{
		{Name: "x", Shape: ir.Shape{4}, Kind: fixed.KindInput, Scale: s},
		{Name: "w", Shape: ir.Shape{4}, Kind: fixed.KindWeight, Scale: s,
			Data: []uint64{fixed.Encode(1.5, s), fixed.Encode(-2, s), fixed.Encode(0.25, s), fixed.Encode(3, s)}},
		{Name: "xw", Shape: ir.Shape{4}, Kind: fixed.KindValue, Scale: 2 * s},
		{Name: "y", Shape: ir.Shape{4}, Kind: fixed.KindValue, Scale: 2 * s},
	}, Instrs: []fixed.Instr{
		{Op: fixed.Mul, In: []int{0, 1}, Out: 2},
		{Op: fixed.Relu, In: []int{2}, Out: 3},
	}, Inputs: []int{0}, Outputs: []int{3}}

	nets := mpc.NewLocal(3, 10*time.Second)
	x := prog.EncodeInput([]float32{2, 1, -4, 0.5})
	var result [][]uint64
	var wg sync.WaitGroup
	for _, p := range mpc.PartiesOf(3) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out [][]uint64
			var err error
			switch p {
			case mpc.P0: // the client: its input, the public program
				out, _, err = porthos.Run(context.Background(), nets[p], prog.Public(), x)
				result = out
			case mpc.P1: // the server: the weights
				_, _, err = porthos.Run(context.Background(), nets[p], prog)
			default: // the helper
				_, _, err = porthos.Run(context.Background(), nets[p], prog.Public())
			}
			if err != nil {
				fmt.Println(err)
			}
		}()
	}
	wg.Wait()
	fmt.Println(prog.DecodeOutput(0, result[0]))
	// Output: [3 0 0 1.5]
}
