package mpc

import (
	"errors"
	"fmt"

	"veil/fixed"
)

// CheckRole checks what party me brings to a run of prog: P0 (the
// client) one encoded input per program input, of its shape; P1 (the
// server) every weight's data (the full program, not its public part);
// a helper nothing.
func CheckRole(me Party, prog *fixed.Program, inputs [][]uint64) error {
	switch me {
	case P0:
		if len(inputs) != len(prog.Inputs) {
			return fmt.Errorf("program %q takes %d inputs, got %d", prog.Name, len(prog.Inputs), len(inputs))
		}
		for i, id := range prog.Inputs {
			if t := prog.Tensors[id]; len(inputs[i]) != t.Shape.Size() {
				return fmt.Errorf("input %q has %d values, the program expects %d (shape %v)", t.Name, len(inputs[i]), t.Shape.Size(), t.Shape)
			}
		}
	case P1:
		if len(inputs) != 0 {
			return errors.New("the server supplies weights, not inputs")
		}
		for _, t := range prog.Tensors {
			if t.Kind == fixed.KindWeight && t.NumValues() != t.Shape.Size() {
				return fmt.Errorf("weight %q has %d values, shape %v needs %d (the server needs the full program, not its public part)", t.Name, t.NumValues(), t.Shape, t.Shape.Size())
			}
		}
	default:
		if len(inputs) != 0 {
			return errors.New("the helper takes no inputs")
		}
	}
	return nil
}
