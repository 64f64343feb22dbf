package fixed

import "fmt"

// Apply evaluates one instruction in the clear on the given arguments
// (one slice per input of in, in order) and returns its output. It is the
// executor's own semantics of in, exported so that secure executors can
// apply the share-linear instructions (Add, Sub, MulPublic, SumPool,
// ReduceSum, Reshape, Transpose, Concat, Slice, Pad with 0, and the
// bilinear Mul and MatMul as the map of a Beaver product) to shares
// exactly as the oracle applies them to values.
func (p *Program) Apply(in *Instr, args [][]uint64) ([]uint64, error) {
	return p.exec(in, args)
}

// Local reports whether op is computed by each party on its own additive
// share, without communication (see ApplyShare): the ops whose output is
// a linear function of the operands plus a public constant.
func Local(op Op) bool {
	switch op {
	case Add, Sub, MulPublic, SumPool, ReduceSum, Reshape, Transpose, Concat, Slice, AddPublic, Const, Pad:
		return true
	}
	return false
}

// ApplyShare applies a Local instruction to one party's additive shares
// of its operands and returns that party's share of the output. The
// public constant of AddPublic, Const and Pad enters the share of one
// party only, the one for which holder is true; the others' shares take
// zero in its place, so that the shares still add up to the output.
func (p *Program) ApplyShare(in *Instr, args [][]uint64, holder bool) ([]uint64, error) {
	if !Local(in.Op) {
		return nil, fmt.Errorf("op %q is not computed on shares locally", in.Op)
	}
	if !holder && (in.Op == AddPublic || in.Op == Const || in.Op == Pad) {
		c := *in
		c.PadValue = 0
		if in.Op != Pad {
			c.Public = make([]int64, len(in.Public))
		}
		in = &c
	}
	return p.exec(in, args)
}

// WeightOperand returns which operand of in a party holding the weights
// in the clear may use as they are, the other operand being secret: the
// filter of a Conv, or the one weight operand of a MatMul or Mul whose
// other operand is not a weight; −1 if none.
func (p *Program) WeightOperand(in *Instr) int {
	isWeight := func(i int) bool { return i < len(in.In) && p.Tensors[in.In[i]].Kind == KindWeight }
	switch in.Op {
	case Conv:
		if isWeight(1) && !isWeight(0) {
			return 1
		}
	case MatMul, Mul:
		switch {
		case isWeight(0) && !isWeight(1):
			return 0
		case isWeight(1) && !isWeight(0):
			return 1
		}
	}
	return -1
}
