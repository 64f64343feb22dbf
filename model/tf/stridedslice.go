package tf

import (
	"fmt"
	"math/bits"

	"veil/ir"
)

// stridedSpec is a StridedSlice resolved against its input's shape, as
// TensorFlow's ValidateStridedSliceOp resolves it: per input dimension a
// start, a step and an element count, and the final shape, which drops
// the shrunk dimensions and holds a 1 for each new axis.
type stridedSpec struct {
	start, step []int64
	count       []int64
	final       ir.Shape
}

// stridedMasks are StridedSlice's bit-mask attributes; bit i refers to
// entry i of begin, end and strides (the sparse spec).
type stridedMasks struct {
	begin, end, ellipsis, newAxis, shrink int64
}

// resolveStridedSlice implements TensorFlow's StridedSlice semantics
// (tensorflow/core/util/strided_slice_op.cc) for input shape x: the sparse
// spec (begin, end, strides and the masks) is expanded into one entry per
// input dimension (the ellipsis, explicit or implied at the end, covers
// the dimensions the spec does not name; a new axis names none), then
// each dimension's begin and end are made canonical: a masked begin or
// end is the first or last element in the stride's direction, a negative
// one counts from the end, and both are clamped to the dimension. A
// shrunk dimension takes exactly the element at begin, which must exist.
func resolveStridedSlice(x ir.Shape, begin, end, strides []int64, m stridedMasks) (*stridedSpec, error) {
	if len(begin) != len(end) || len(begin) != len(strides) {
		return nil, fmt.Errorf("begin %v, end %v and strides %v differ in length", begin, end, strides)
	}
	if len(begin) > 32 {
		return nil, fmt.Errorf("begin has %d elements; at most 32 are allowed", len(begin))
	}
	if bits.OnesCount64(uint64(m.ellipsis)) > 1 {
		return nil, fmt.Errorf("ellipsis_mask %#x has more than one bit set", m.ellipsis)
	}
	// The sparse spec, with an ellipsis appended when it has none.
	sparse := len(begin)
	ellipsis := m.ellipsis
	newAfter := 0 // new axes after the ellipsis
	seen := false
	for i := range sparse {
		if seen && m.newAxis&(1<<i) != 0 {
			newAfter++
		}
		if ellipsis&(1<<i) != 0 {
			seen = true
		}
	}
	if !seen {
		ellipsis |= 1 << sparse
		sparse++
	}

	// The dense spec: one entry per input dimension.
	const (
		newAxis    = -1
		shrinkAxis = -2
	)
	dims := len(x)
	dBegin, dEnd, dStride := make([]int64, dims), make([]int64, dims), make([]int64, dims)
	var dBeginMask, dEndMask, dShrink int64
	var gather []int // per final dimension: the dense index, newAxis or shrinkAxis
	full := 0
	for i := range sparse {
		switch {
		case ellipsis&(1<<i) != 0:
			next := min(dims-(sparse-i)+1+newAfter, dims)
			for ; full < next; full++ {
				dBegin[full], dEnd[full], dStride[full] = 0, 0, 1
				dBeginMask |= 1 << full
				dEndMask |= 1 << full
				gather = append(gather, full)
			}
		case m.newAxis&(1<<i) != 0:
			gather = append(gather, newAxis)
		default:
			if full == dims {
				return nil, fmt.Errorf("index %d is out of range: the input has only %d dimensions", full, dims)
			}
			dBegin[full], dEnd[full], dStride[full] = begin[i], end[i], strides[i]
			if m.begin&(1<<i) != 0 {
				dBeginMask |= 1 << full
			}
			if m.end&(1<<i) != 0 {
				dEndMask |= 1 << full
			}
			if m.shrink&(1<<i) != 0 {
				gather = append(gather, shrinkAxis)
				dShrink |= 1 << full
			} else {
				gather = append(gather, full)
			}
			full++
		}
	}

	sp := &stridedSpec{start: make([]int64, dims), step: make([]int64, dims), count: make([]int64, dims)}
	for i := range dims {
		d := int64(x[i])
		b, e, s := dBegin[i], dEnd[i], dStride[i]
		if s == 0 {
			return nil, fmt.Errorf("strides[%d] is zero", i)
		}
		shrink := dShrink&(1<<i) != 0
		if shrink && s <= 0 {
			return nil, fmt.Errorf("strides[%d] is %d; a shrunk dimension needs stride 1", i, s)
		}
		// The valid range of begin and end in the stride's direction.
		lo, hi := int64(0), d
		if s < 0 {
			lo, hi = -1, d-1
		}
		canonical := func(v int64, masked bool, isEnd bool) int64 {
			if masked {
				if (s > 0) != isEnd {
					return lo
				}
				return hi
			}
			if v < 0 {
				v += d
			}
			return min(max(v, lo), hi)
		}
		if shrink {
			if b < 0 {
				b += d
			}
			if b < 0 || b >= d {
				return nil, fmt.Errorf("slice index %d of dimension %d is out of bounds (size %d)", dBegin[i], i, d)
			}
			e = b + 1
		} else {
			b = canonical(b, dBeginMask&(1<<i) != 0, false)
			e = canonical(e, dEndMask&(1<<i) != 0, true)
		}
		length := e - b
		var cnt int64
		if length != 0 && (length < 0) == (s < 0) {
			cnt = length / s
			if length%s != 0 {
				cnt++
			}
		}
		sp.start[i], sp.step[i], sp.count[i] = b, s, cnt
	}
	sp.final = ir.Shape{}
	for _, g := range gather {
		switch g {
		case newAxis:
			sp.final = append(sp.final, 1)
		case shrinkAxis:
		default:
			sp.final = append(sp.final, int(sp.count[g]))
		}
	}
	return sp, nil
}

// stridedSlice lowers StridedSlice (input, begin, end, strides, with
// constant begin, end and strides) onto an IR Slice, whose negative steps
// walk backward as TensorFlow's negative strides do, and a Reshape that
// drops shrunk dimensions and inserts new axes.
func (b *builder) stridedSlice(n *NodeDef) error {
	ins, err := b.ins(n, 4, 4)
	if err != nil {
		return err
	}
	var spec [3][]int64
	for i, what := range []string{"begin", "end", "strides"} {
		if spec[i], err = b.constInts(ins[i+1], what); err != nil {
			return err
		}
	}
	var m stridedMasks
	for _, a := range []struct {
		key string
		dst *int64
	}{{"begin_mask", &m.begin}, {"end_mask", &m.end}, {"ellipsis_mask", &m.ellipsis}, {"new_axis_mask", &m.newAxis}, {"shrink_axis_mask", &m.shrink}} {
		if *a.dst, err = attrInt(n, a.key, 0); err != nil {
			return err
		}
	}
	x := ins[0]
	s := b.shape(x)
	sp, err := resolveStridedSlice(s, spec[0], spec[1], spec[2], m)
	if err != nil {
		return err
	}
	identity := true
	for i, d := range s {
		if sp.count[i] == 0 {
			return fmt.Errorf("the slice of dimension %d is empty; empty tensors are not supported", i)
		}
		identity = identity && sp.start[i] == 0 && sp.step[i] == 1 && sp.count[i] == int64(d)
	}
	v := x
	if !identity {
		start, end := make([]int64, len(s)), make([]int64, len(s))
		for i, d := range s {
			start[i] = sp.start[i]
			end[i] = sp.start[i] + sp.count[i]*sp.step[i]
			if end[i] < 0 {
				// Past the first element, walking backward: the IR reads
				// a negative end from the back, and clamps -d-1 to "before
				// element 0".
				end[i] = -int64(d) - 1
			}
		}
		if v, err = b.slice(n.Name+"/slice", x, start, end, sp.step); err != nil {
			return err
		}
	}
	if !b.shape(v).Equal(sp.final) {
		if v, err = b.reshapeTo(n.Name, v, sp.final); err != nil {
			return err
		}
	}
	b.alias(n, 0, v)
	return nil
}
