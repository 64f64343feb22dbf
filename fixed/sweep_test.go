package fixed_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"veil/fixed"
	"veil/fixed/fixedtest"
	"veil/ir"
)

// TestSweepFuncReportsEveryRow checks that SweepFunc reports each
// scale's row as it goes, in order, and returns what Sweep returns.
func TestSweepFuncReportsEveryRow(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	g := fixedtest.MixedGraph(t, r, ir.NCHW, "softmax")
	shape := g.Values[g.Inputs[0]].Shape
	var xs []fixed.Example
	for i := range 6 {
		xs = append(xs, fixed.Example{Input: fixedtest.RandTensor(r, shape, 2).F, Label: i % 2})
	}
	scales := []int{8, 12, 16}
	var seen []fixed.ScaleRow
	rows, best, err := fixed.SweepFunc(g, xs, scales, func(row fixed.ScaleRow) { seen = append(seen, row) })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seen, rows) || len(rows) != len(scales) {
		t.Fatalf("reported %v, returned %v", seen, rows)
	}
	rows2, best2, err := fixed.Sweep(g, xs, scales)
	if err != nil || !slices.Equal(rows2, rows) || best2 != best {
		t.Fatalf("Sweep returned %v, %d, %v; SweepFunc %v, %d", rows2, best2, err, rows, best)
	}
}
