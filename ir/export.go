package ir

// InferShape returns the output shape and type of n for the given input
// values (constants where the op needs them, such as Reshape's target).
// Other packages use it to check programs derived from a graph.
func InferShape(n *Node, ins []*Value) (Shape, DType, error) {
	return inferShape(n, ins)
}

// PadInt pads an int64 tensor with value (pads are [begin…, end…]).
func PadInt(x *Tensor, pads []int, value int64) *Tensor {
	r := len(x.Shape)
	out := x.Shape.Clone()
	for i := range out {
		out[i] += pads[i] + pads[i+r]
	}
	t := IntTensor(out, make([]int64, out.Size()))
	if value != 0 {
		for i := range t.I {
			t.I[i] = value
		}
	}
	outStr := out.Strides()
	coord := make([]int, r)
	for _, v := range x.I {
		off := 0
		for d := 0; d < r; d++ {
			off += (coord[d] + pads[d]) * outStr[d]
		}
		t.I[off] = v
		for d := r - 1; d >= 0; d-- {
			coord[d]++
			if coord[d] < x.Shape[d] {
				break
			}
			coord[d] = 0
		}
	}
	return t
}

// SliceParams resolves a Slice node against its inputs (data, starts,
// ends, [axes, [steps]]) into a start and step for every axis of the data
// and the output shape.
func SliceParams(n *Node, ins []*Value) (starts, steps []int, out Shape, err error) {
	sp, err := sliceParams(n, ins)
	if err != nil {
		return nil, nil, nil, err
	}
	return sp.start, sp.step, sp.out, nil
}

// BroadcastIndex maps every flat index of a tensor of shape out to the
// flat index of a tensor of shape in broadcast (numpy rules) to out.
func BroadcastIndex(in, out Shape) []int { return broadcastIndex(in, out) }
