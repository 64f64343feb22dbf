package ir

// SliceCopy returns the elements of x (of shape in) at index
// starts[d] + i_d·steps[d] along every axis d, for every index i of out,
// in row-major order: the kernel of Slice for any element type, copying
// whole rows where the last axis steps by one.
func SliceCopy[T any](x []T, in Shape, starts, steps []int, out Shape) []T {
	n := out.Size()
	res := make([]T, n)
	r := len(out)
	if n == 0 {
		return res
	}
	if r == 0 {
		res[0] = x[0]
		return res
	}
	str := in.Strides()
	last, lastStart, lastStep := out[r-1], starts[r-1], steps[r-1]
	coord := make([]int, r-1)
	for o := 0; o < n; o += last {
		off := lastStart
		for d, c := range coord {
			off += (starts[d] + c*steps[d]) * str[d]
		}
		row := res[o : o+last]
		if lastStep == 1 {
			copy(row, x[off:off+last])
		} else {
			for j := range row {
				row[j] = x[off+j*lastStep]
			}
		}
		for d := r - 2; d >= 0; d-- {
			if coord[d]++; coord[d] < out[d] {
				break
			}
			coord[d] = 0
		}
	}
	return res
}

// ConcatCopy returns xs (of shapes shapes) joined along axis into out:
// the kernel of Concat for any element type.
func ConcatCopy[T any](xs [][]T, shapes []Shape, axis int, out Shape) []T {
	ax, _ := normAxis(axis, len(out))
	outer, inner := 1, 1
	for _, d := range out[:ax] {
		outer *= d
	}
	for _, d := range out[ax+1:] {
		inner *= d
	}
	res := make([]T, 0, out.Size())
	for o := range outer {
		for i, x := range xs {
			blk := shapes[i][ax] * inner
			res = append(res, x[o*blk:(o+1)*blk]...)
		}
	}
	return res
}
