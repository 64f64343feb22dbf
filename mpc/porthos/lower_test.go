package porthos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"veil/fixed"
	"veil/fixed/fixedtest"
	"veil/ir"
	"veil/mpc"
	"veil/mpc/mpctest"
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
					fused := !lower && (&backend{}).Fuses(c.Op)
					if fused != ops[string(c.Op)] || (!fused && compares) != ops["DReLU"] {
						t.Errorf("ran the ops %v", ops)
					}
				})
			}
		}
	}
}

// TestSessionsWithOtherOptions runs two sessions in one process at the
// same time, one with each comparison protocol: each computes the
// oracle's output with its own protocol's cost (options belong to the
// engine, not to the process).
func TestSessionsWithOtherOptions(t *testing.T) {
	p := fixedtest.SingleOp(t, ir.Shape{4, 64}, ir.NCHW, ir.OpRelu, ir.Attrs{})
	x := fixedtest.DomainValues(rand.New(rand.NewPCG(9, 9)), 4*64)
	want, err := p.Run(x)
	if err != nil {
		t.Fatal(err)
	}
	cmps := []Compare{CompareFast, ComparePorthos}
	rounds := make([]int, len(cmps))
	errs := mpctest.Parties(len(cmps), func(s mpc.Party) error {
		nets := mpc.NewLocal(3, 10*time.Second)
		var out [][]uint64
		errs := mpctest.Parties(3, func(me mpc.Party) error {
			e, err := New(nets[me], Options{Compare: cmps[s]})
			if err != nil {
				return err
			}
			switch me {
			case mpc.P0:
				out, err = e.Run(context.Background(), p.Public(), x)
				rounds[s] = e.Cost().Rounds
			case mpc.P1:
				_, err = e.Run(context.Background(), p)
			default:
				_, err = e.Run(context.Background(), p.Public())
			}
			return err
		})
		if err := errors.Join(errs...); err != nil {
			return err
		}
		if !slices.Equal(out[0], want[0]) {
			return fmt.Errorf("%s: output differs from the oracle's", cmps[s])
		}
		return nil
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	// ReLU: 7 rounds with the fast comparison, 9 with the paper's.
	if rounds[1]-rounds[0] != 2 {
		t.Errorf("rounds %v: the sessions did not use their own protocols", rounds)
	}
}
