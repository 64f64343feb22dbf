package fixed

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
