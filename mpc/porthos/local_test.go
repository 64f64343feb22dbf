package porthos

import (
	"math/rand/v2"
	"slices"
	"testing"

	"veil/tensor"
)

func TestLocalOps(t *testing.T) {
	r := rand.New(rand.NewPCG(50, 50))
	const n = 36
	x, y, c := randRange(r, n, 63), randRange(r, n, 63), randRange(r, n, 20)
	sx, sy := split(r, x, false), split(r, y, false)
	pp := tensor.PoolParams{NC: 1, H: 6, W: 6, KH: 3, KW: 3, SH: 2, SW: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1}
	var res [6][3][]uint64
	run3(t, func(e *Engine) error {
		ops := []func() ([]uint64, error){
			func() ([]uint64, error) { return e.Add(share(e, sx), share(e, sy)) },
			func() ([]uint64, error) { return e.Sub(share(e, sx), share(e, sy)) },
			func() ([]uint64, error) { return e.AddPublic(share(e, sx), c) },
			func() ([]uint64, error) { return e.MulPublic(share(e, sx), c) },
			func() ([]uint64, error) { return e.SumPool(share(e, sx), pp) },
			func() ([]uint64, error) { return e.ReduceSum(share(e, sx), 4) },
		}
		r0, s0 := e.rounds, e.sent
		for i, f := range ops {
			z, err := f()
			if err != nil {
				return err
			}
			res[i][e.me] = z
		}
		if e.rounds != r0 || e.sent != s0 {
			t.Errorf("%s: local operations communicated", e.me)
		}
		return nil
	})
	want := make([][]uint64, 6)
	for i := range x {
		want[0] = append(want[0], x[i]+y[i])
		want[1] = append(want[1], x[i]-y[i])
		want[2] = append(want[2], x[i]+c[i])
		want[3] = append(want[3], x[i]*c[i])
	}
	want[4] = make([]uint64, pp.OutH()*pp.OutW())
	tensor.SumPool(want[4], x, pp)
	want[5] = make([]uint64, n/4)
	for i, v := range x {
		want[5][i/4] += v
	}
	for i := range want {
		if got := open(res[i]); !slices.Equal(got, want[i]) {
			t.Errorf("op %d: got %v, want %v", i, got, want[i])
		}
	}
}
