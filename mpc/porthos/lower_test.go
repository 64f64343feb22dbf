package porthos

import (
	"math/rand/v2"
	"slices"
	"testing"

	"veil/fixed"
	"veil/fixed/fixedtest"
)

// TestFusedMatchesLowering runs every composite op in 3PC with both
// comparison protocols, once fused (ReLU, MaxGroups) and once as its
// lowering onto primitives (DReLU, Mux, Const, edge Pad), on values across
// the comparison domain with many ties: both must give exactly the
// oracle's output, since comparisons and selections are exact.
func TestFusedMatchesLowering(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, c := range fixedtest.CompositeCases(t, true) {
		lowered, err := c.Prog.Lower(func(fixed.Op) bool { return false })
		if err != nil {
			t.Fatal(err)
		}
		for _, cmp := range []Compare{CompareFast, ComparePorthos} {
			for _, lower := range []bool{false, true} {
				name := c.Name + "/" + cmp.String() + "/fused"
				if lower {
					name = c.Name + "/" + cmp.String() + "/lowered"
				}
				t.Run(name, func(t *testing.T) {
					defer func(old Options) { testOptions = old }(testOptions)
					testOptions = Options{Compare: cmp, Lower: lower}
					x := fixedtest.DomainValues(r, c.Shape.Size())
					want, err := c.Prog.Run(x)
					if err != nil {
						t.Fatal(err)
					}
					got, st, _ := run3PC(t, c.Prog, x, false)
					if !slices.Equal(got[0], want[0]) {
						t.Fatalf("input %v:\nsecure %v\noracle %v", x, got[0], want[0])
					}
					ops := map[string]bool{}
					for _, o := range st[0].Ops {
						ops[o.Op] = true
					}
					compares := slices.ContainsFunc(lowered.Instrs, func(in fixed.Instr) bool { return in.Op == fixed.DReLU })
					if lower == ops[string(c.Prog.Instrs[0].Op)] || (lower && compares) != ops["DReLU"] {
						t.Errorf("ran the ops %v", ops)
					}
				})
			}
		}
	}
}
