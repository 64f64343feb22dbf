package slalom

import (
	"fmt"

	"veil/ir"
)

// ScaleCandidates are the (l_x, l_w) pairs SelectScales tries, best
// resolution first: the paper's 8/8, then lower sums, which widen the
// clamps the range bound forces (|Z| ≤ H) at the price of resolution.
var ScaleCandidates = []Options{{8, 8}, {8, 7}, {7, 8}, {7, 7}, {8, 6}, {6, 8}, {7, 6}, {6, 6}}

// SelectScales compiles g at every candidate pair and keeps the one whose
// quantized top-1 agrees most often with float on the validation inputs
// (ties: the earlier candidate). It returns the choice and the
// agreement of each candidate.
func SelectScales(g *ir.Graph, val [][]float32) (Options, []float64, error) {
	in := g.Inputs[0]
	shape := g.Values[in].Shape
	ref := make([]int, len(val))
	for i, x := range val {
		outs, err := ir.Run(g, map[string]*ir.Tensor{in: ir.FloatTensor(shape, x)})
		if err != nil {
			return Options{}, nil, err
		}
		ref[i] = argmax32(outs[0].F)
	}
	best, bestN := -1, -1
	agree := make([]float64, len(ScaleCandidates))
	var lastErr error
	for ci, o := range ScaleCandidates {
		p, err := Compile(g, o)
		if err != nil {
			lastErr = err
			agree[ci] = -1
			continue
		}
		n := 0
		for i, x := range val {
			z, err := p.Oracle(x)
			if err != nil {
				return Options{}, nil, err
			}
			if ArgMax(z) == ref[i] {
				n++
			}
		}
		agree[ci] = float64(n) / float64(max(len(val), 1))
		if n > bestN {
			best, bestN = ci, n
		}
	}
	if best < 0 {
		return Options{}, agree, fmt.Errorf("slalom: no scale pair compiles: %w", lastErr)
	}
	return ScaleCandidates[best], agree, nil
}

func argmax32(v []float32) int {
	b := 0
	for i, x := range v {
		if x > v[b] {
			b = i
		}
	}
	return b
}
