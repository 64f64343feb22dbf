package porthos

import (
	"fmt"

	"veil/ir"
	"veil/mpc"
	"veil/tensor"
)

// MaxGroups returns, for every group of consecutive elements of the
// shared vector v (group g has counts[g] ≥ 1 elements; all parties pass
// counts, P2 passes v = nil), shares of the group's maximum and, if
// withIndex, of its position within the group. Ties keep the first
// position, or the last if selectLast.
//
// The groups are reduced as a tree: at each level, disjoint neighbouring
// pairs (hi, lo) = (left, right) (or (right, left) for selectLast) of
// every group are compared at once, with b = DReLU(hi − lo) = [hi ≥ lo],
// max = b·(hi − lo) + lo and index = b·(I_hi − I_lo) + I_lo, the two
// products batched in one Beaver call; an odd element is carried up
// unchanged. The starting indices are public (P0 holds them).
//
// Precondition: all values lie in [−2^61, 2^61), so that every difference
// meets DReLU's.
//
// Cost: n − 1 comparisons for a group of n: (6ℓ·log p + 19ℓ)(n − 1) bits
// for the value alone, (6ℓ·log p + 24ℓ)(n − 1) with the index (the
// paper's MaxPool row); 9⌈log2 n⌉ rounds for the largest group.
//
// Security: DReLU and Beaver products only; which element wins stays
// secret because only shares of b ever exist.
//
// With CompareFast (see SetCompare) each level runs fastCmp on the
// differences, with the products b·(hi − lo) (and b·(I_hi − I_lo))
// folded in; the precondition is then [−2^62, 2^62) (the differences must
// not wrap).
func (e *Engine) MaxGroups(v []uint64, counts []int, withIndex, selectLast bool) (maxes, index []uint64, err error) {
	if err := e.check(); err != nil {
		return nil, nil, err
	}
	defer e.begin("MaxGroups", len(counts))()
	maxes, index, err = e.maxGroups(v, counts, withIndex, selectLast)
	if err != nil {
		return nil, nil, e.fail("MaxGroups", err)
	}
	return maxes, index, nil
}

func (e *Engine) maxGroups(v []uint64, counts []int, withIndex, selectLast bool) ([]uint64, []uint64, error) {
	total := 0
	for g, c := range counts {
		if c < 1 {
			return nil, nil, fmt.Errorf("group %d is empty", g)
		}
		total += c
	}
	me := e.me
	if me != mpc.P2 && len(v) != total {
		return nil, nil, fmt.Errorf("%d shares for groups of %d elements", len(v), total)
	}
	cnt := append([]int(nil), counts...)
	cur := v
	var idx []uint64
	if withIndex && me != mpc.P2 {
		idx = make([]uint64, total)
		if me == mpc.P0 {
			off := 0
			for _, c := range counts {
				for k := 0; k < c; k++ {
					idx[off+k] = uint64(k)
				}
				off += c
			}
		}
	}
	for {
		pairs := 0
		for _, c := range cnt {
			pairs += c / 2
		}
		if pairs == 0 {
			break
		}
		var hi, lo, ihi, ilo []uint64
		if me != mpc.P2 {
			hi, lo = make([]uint64, 0, pairs), make([]uint64, 0, pairs)
			if withIndex {
				ihi, ilo = make([]uint64, 0, pairs), make([]uint64, 0, pairs)
			}
			off := 0
			for _, c := range cnt {
				for k := 0; k+1 < c; k += 2 {
					a, b := off+k, off+k+1
					if selectLast {
						a, b = b, a
					}
					hi, lo = append(hi, cur[a]), append(lo, cur[b])
					if withIndex {
						ihi, ilo = append(ihi, idx[a]), append(ilo, idx[b])
					}
				}
				off += c
			}
			for i := range hi {
				hi[i] -= lo[i] // d = hi − lo
			}
			if withIndex {
				for i := range ihi {
					ihi[i] -= ilo[i]
				}
			}
		}
		prod, err := e.dreluTimes(pairs, hi, ihi, withIndex)
		if err != nil {
			return nil, nil, err
		}
		// Next level: each group keeps its pair winners, then its odd
		// element.
		next := make([]int, len(cnt))
		var ncur, nidx []uint64
		if me != mpc.P2 {
			size := 0
			for _, c := range cnt {
				size += (c + 1) / 2
			}
			ncur = make([]uint64, 0, size)
			if withIndex {
				nidx = make([]uint64, 0, size)
			}
		}
		off, p := 0, 0
		for g, c := range cnt {
			next[g] = (c + 1) / 2
			if me != mpc.P2 {
				for k := 0; k < c/2; k++ {
					ncur = append(ncur, prod[p+k]+lo[p+k])
					if withIndex {
						nidx = append(nidx, prod[pairs+p+k]+ilo[p+k])
					}
				}
				if c%2 == 1 {
					ncur = append(ncur, cur[off+c-1])
					if withIndex {
						nidx = append(nidx, idx[off+c-1])
					}
				}
			}
			p += c / 2
			off += c
		}
		cnt, cur, idx = next, ncur, nidx
	}
	if me == mpc.P2 {
		return nil, nil, nil
	}
	return cur, idx, nil
}

// MaxPool returns shares of the maximum over every pooling window of the
// shared NCHW planes x (pp.NC planes of pp.H × pp.W). Positions in the
// padding are skipped, so they never win. See MaxGroups for the protocol,
// its cost (value only: (6ℓ·log p + 19ℓ)(k − 1) bits for a window of k
// real elements, 9⌈log2 k⌉ rounds) and its precondition.
func (e *Engine) MaxPool(x []uint64, pp tensor.PoolParams) ([]uint64, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	OH, OW := pp.OutH(), pp.OutW()
	defer e.begin("MaxPool", pp.NC*OH*OW)()
	if OH < 1 || OW < 1 || pp.NC < 0 {
		return nil, e.fail("MaxPool", fmt.Errorf("bad pooling %+v", pp))
	}
	if e.me != mpc.P2 && len(x) != pp.NC*pp.H*pp.W {
		return nil, e.fail("MaxPool", fmt.Errorf("%d shares for %d planes of %d×%d", len(x), pp.NC, pp.H, pp.W))
	}
	var windows [][]int
	pp.Windows(func(_ int, idx []int) { windows = append(windows, append([]int(nil), idx...)) })
	counts := make([]int, 0, pp.NC*len(windows))
	size := 0
	for nc := 0; nc < pp.NC; nc++ {
		for _, w := range windows {
			counts = append(counts, len(w))
			size += len(w)
		}
	}
	var v []uint64
	if e.me != mpc.P2 {
		v = make([]uint64, 0, size)
		plane := pp.H * pp.W
		for nc := 0; nc < pp.NC; nc++ {
			for _, w := range windows {
				for _, i := range w {
					v = append(v, x[nc*plane+i])
				}
			}
		}
	}
	m, _, err := e.maxGroups(v, counts, false, false)
	if err != nil {
		return nil, e.fail("MaxPool", err)
	}
	return m, nil
}

// ArgMax returns shares of the index of the maximum of the shared tensor
// x (shape) along axis, with the output shape of shape without axis (the
// caller reshapes for keepdims). Ties keep the first index, or the last
// if selectLast. See MaxGroups for the protocol; its cost is
// (6ℓ·log p + 24ℓ)(n − 1) bits for an axis of n, 9⌈log2 n⌉ rounds.
func (e *Engine) ArgMax(x []uint64, shape ir.Shape, axis int, selectLast bool) ([]uint64, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	if axis < 0 {
		axis += len(shape)
	}
	if axis < 0 || axis >= len(shape) || shape[axis] < 1 {
		return nil, e.fail("ArgMax", fmt.Errorf("axis %d of shape %v", axis, shape))
	}
	inner := 1
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	dim := shape[axis]
	outer := shape.Size() / (dim * inner)
	defer e.begin("ArgMax", outer*inner)()
	if e.me != mpc.P2 && len(x) != shape.Size() {
		return nil, e.fail("ArgMax", fmt.Errorf("%d shares for shape %v", len(x), shape))
	}
	counts := make([]int, outer*inner)
	for i := range counts {
		counts[i] = dim
	}
	var v []uint64
	if e.me != mpc.P2 {
		v = make([]uint64, 0, len(x))
		for o := 0; o < outer; o++ {
			for j := 0; j < inner; j++ {
				for k := 0; k < dim; k++ {
					v = append(v, x[(o*dim+k)*inner+j])
				}
			}
		}
	}
	_, idx, err := e.maxGroups(v, counts, true, selectLast)
	if err != nil {
		return nil, e.fail("ArgMax", err)
	}
	return idx, nil
}
