package fixed_test

import (
	"testing"

	"veil/fixed"
	"veil/ir"
)

// TestValidateStructure: weights without data pass ValidateStructure
// (not Validate); weights with the wrong amount of data fail both; and
// weights count against MaxParams only, not as live elements, so a
// program whose weights together reach MaxLiveElements passes it, as it
// passes Validate with its data.
func TestValidateStructure(t *testing.T) {
	const n = 1 << 13 // two n×n weights: 2^27 elements together
	prog := func(data []uint64) *fixed.Program {
		return &fixed.Program{Name: "two layers", Scale: 8, Tensors: []*fixed.Tensor{
			{Name: "x", Shape: ir.Shape{1, n}, Kind: fixed.KindInput},
			{Name: "w1", Shape: ir.Shape{n, n}, Kind: fixed.KindWeight, Data: data},
			{Name: "w2", Shape: ir.Shape{n, n}, Kind: fixed.KindWeight, Data: data},
			{Name: "h", Shape: ir.Shape{1, n}, Kind: fixed.KindValue},
			{Name: "y", Shape: ir.Shape{1, n}, Kind: fixed.KindValue},
		}, Inputs: []int{0}, Outputs: []int{4}, Instrs: []fixed.Instr{
			{Op: fixed.MatMul, In: []int{0, 1}, Out: 3},
			{Op: fixed.MatMul, In: []int{3, 2}, Out: 4},
		}}
	}
	p := prog(nil)
	if err := p.ValidateStructure(); err != nil {
		t.Errorf("ValidateStructure: %v", err)
	}
	if err := p.Validate(); err == nil {
		t.Error("Validate accepts weights without data")
	}
	if err := prog(make([]uint64, 3)).ValidateStructure(); err == nil {
		t.Error("ValidateStructure accepts a weight with 3 values for n×n")
	}
}
