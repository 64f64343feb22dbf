package porthos

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"veil/ir"
	"veil/mpc"
	"veil/tensor"
)

func TestShareAndReveal(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{0, 1, 7, 100} {
		x := randRange(r, n, 62)
		w := randRange(r, n, 62)
		var got [3][4][]uint64
		run3(t, func(e *Engine) error {
			var mine, theirs []uint64
			if e.me == mpc.P0 {
				mine = x
			}
			if e.me == mpc.P1 {
				theirs = w
			}
			xs, err := e.Share(mpc.P0, n, mine)
			if err != nil {
				return err
			}
			ws, err := e.Share(mpc.P1, n, theirs)
			if err != nil {
				return err
			}
			if e.me == mpc.P2 && (xs != nil || ws != nil) {
				return fmt.Errorf("P2 got shares")
			}
			a, err := e.Reveal(mpc.P0, n, xs)
			if err != nil {
				return err
			}
			b, err := e.Reveal(mpc.P1, n, ws)
			if err != nil {
				return err
			}
			c, err := e.RevealBoth(n, xs)
			if err != nil {
				return err
			}
			got[e.me] = [4][]uint64{a, b, c, xs}
			return nil
		})
		if !slices.Equal(got[0][0], x) || got[1][0] != nil || got[2][0] != nil {
			t.Errorf("n=%d: Reveal to P0 gave %v / %v / %v", n, got[0][0], got[1][0], got[2][0])
		}
		if !slices.Equal(got[1][1], w) || got[0][1] != nil {
			t.Errorf("n=%d: Reveal to P1 gave %v", n, got[1][1])
		}
		if !slices.Equal(got[0][2], x) || !slices.Equal(got[1][2], x) {
			t.Errorf("n=%d: RevealBoth gave %v, %v", n, got[0][2], got[1][2])
		}
		// Shares are random, not (x, 0).
		if n >= 7 && slices.Equal(got[0][3], x) {
			t.Errorf("n=%d: P0's share equals its input", n)
		}
	}
}

func TestMulElem(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	for _, n := range []int{1, 2, 3, 17, 1000} {
		x, y := randRange(r, n, 63), randRange(r, n, 63)
		copy(x, []uint64{0, maxU, 1})
		sx, sy := split(r, x, false), split(r, y, false)
		var res [3][]uint64
		run3(t, func(e *Engine) error {
			z, err := e.MulElem(n, share(e, sx), share(e, sy))
			res[e.me] = z
			return err
		})
		got := open(res)
		for i := range got {
			if got[i] != x[i]*y[i] {
				t.Fatalf("n=%d: element %d: %d·%d gave %d", n, i, x[i], y[i], got[i])
			}
		}
	}
}

func TestMulBroadcastAndMatMul(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	cases := []struct {
		op         string
		xs, ys, zs ir.Shape
	}{
		{"mul", ir.Shape{2, 3}, ir.Shape{3}, ir.Shape{2, 3}},
		{"mul", ir.Shape{4, 1, 5}, ir.Shape{1, 3, 1}, ir.Shape{4, 3, 5}},
		{"mul", ir.Shape{}, ir.Shape{7}, ir.Shape{7}},
		{"mul", ir.Shape{3, 3}, ir.Shape{3, 3}, ir.Shape{3, 3}},
		{"mm", ir.Shape{1, 400}, ir.Shape{400, 12}, ir.Shape{1, 12}},
		{"mm", ir.Shape{5, 7}, ir.Shape{7, 3}, ir.Shape{5, 3}},
		{"mm", ir.Shape{2, 3, 4}, ir.Shape{4, 5}, ir.Shape{2, 3, 5}},
		{"mm", ir.Shape{2, 1, 3, 4}, ir.Shape{3, 4, 2}, ir.Shape{2, 3, 3, 2}},
		{"mm", ir.Shape{4}, ir.Shape{4, 3}, ir.Shape{3}},
		{"mm", ir.Shape{3, 4}, ir.Shape{4}, ir.Shape{3}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s%v%v", c.op, c.xs, c.ys), func(t *testing.T) {
			x, y := randRange(r, c.xs.Size(), 63), randRange(r, c.ys.Size(), 63)
			sx, sy := split(r, x, false), split(r, y, false)
			var res [3][]uint64
			run3(t, func(e *Engine) error {
				var z []uint64
				var err error
				if c.op == "mul" {
					z, err = e.Mul(share(e, sx), share(e, sy), c.xs, c.ys, c.zs)
				} else {
					z, err = e.MatMul(share(e, sx), share(e, sy), c.xs, c.ys, c.zs)
				}
				res[e.me] = z
				return err
			})
			var want []uint64
			if c.op == "mul" {
				ai, bi := ir.BroadcastIndex(c.xs, c.zs), ir.BroadcastIndex(c.ys, c.zs)
				for i := 0; i < c.zs.Size(); i++ {
					want = append(want, x[ai[i]]*y[bi[i]])
				}
			} else {
				want = make([]uint64, c.zs.Size())
				phi, err := matmulMap(c.xs, c.ys, c.zs)
				if err != nil {
					t.Fatal(err)
				}
				phi(want, x, y)
			}
			if got := open(res); !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

func TestMatMulMapAgainstLoops(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	x, y := randRange(r, 2*3*4, 10), randRange(r, 4*5, 10)
	phi, err := matmulMap(ir.Shape{2, 3, 4}, ir.Shape{4, 5}, ir.Shape{2, 3, 5})
	if err != nil {
		t.Fatal(err)
	}
	got := make([]uint64, 30)
	phi(got, x, y)
	for b := 0; b < 2; b++ {
		for i := 0; i < 3; i++ {
			for j := 0; j < 5; j++ {
				var s uint64
				for k := 0; k < 4; k++ {
					s += x[(b*3+i)*4+k] * y[k*5+j]
				}
				if got[(b*3+i)*5+j] != s {
					t.Fatalf("batch %d (%d,%d): %d, want %d", b, i, j, got[(b*3+i)*5+j], s)
				}
			}
		}
	}
}

var convCases = []tensor.ConvParams{
	{N: 1, C: 1, H: 28, W: 28, O: 6, KH: 5, KW: 5, SH: 1, SW: 1, PadT: 2, PadL: 2, PadB: 2, PadR: 2, Group: 1},
	{N: 1, C: 6, H: 14, W: 14, O: 16, KH: 5, KW: 5, SH: 1, SW: 1, Group: 1},
	{N: 2, C: 3, H: 9, W: 7, O: 4, KH: 3, KW: 2, SH: 2, SW: 1, PadT: 1, PadL: 0, PadB: 2, PadR: 1, Group: 1},
	{N: 1, C: 4, H: 6, W: 6, O: 4, KH: 3, KW: 3, SH: 1, SW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Group: 4}, // depthwise
	{N: 1, C: 4, H: 5, W: 5, O: 6, KH: 3, KW: 3, SH: 2, SW: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Group: 2},
	{N: 2, C: 8, H: 7, W: 7, O: 5, KH: 1, KW: 1, SH: 2, SW: 2, Group: 1}, // im2col is cheaper
	{N: 1, C: 6, H: 8, W: 8, O: 4, KH: 1, KW: 1, SH: 3, SW: 2, PadT: 1, Group: 2},
	{N: 1, C: 1, H: 1, W: 1, O: 1, KH: 1, KW: 1, SH: 1, SW: 1, Group: 1},
}

func TestConv(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, p := range convCases {
		_, cols := ConvCost(p)
		t.Run(fmt.Sprintf("%s_im2col=%v", convName(p), cols), func(t *testing.T) {
			x := randRange(r, p.N*p.C*p.H*p.W, 63)
			w := randRange(r, p.O*p.C/p.Group*p.KH*p.KW, 63)
			sx, sw := split(r, x, false), split(r, w, false)
			var res [3][]uint64
			run3(t, func(e *Engine) error {
				z, err := e.Conv(share(e, sx), share(e, sw), p)
				res[e.me] = z
				return err
			})
			want := make([]uint64, p.N*p.O*p.OutH()*p.OutW())
			tensor.Conv2D(want, x, w, p)
			if got := open(res); !slices.Equal(got, want) {
				t.Fatalf("conv differs")
			}
			if cols {
				cx := make([]uint64, im2colSize(p))
				im2col(cx, x, p)
				got := make([]uint64, len(want))
				colConv(got, cx, w, p)
				if !slices.Equal(got, want) {
					t.Fatalf("im2col conv differs in the clear")
				}
			}
		})
	}
}

func TestScaleDown(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	for _, s := range []int{1, 12, 16, 24} {
		x := append(randRange(r, 5000, 40), 0, 1, neg(1), 1<<s, neg(1<<s), 3<<s, neg(5<<s), 1<<40-1, neg(1<<40))
		for _, trivial := range []bool{false, true} {
			sh := split(r, x, trivial)
			var res [3][]uint64
			run3(t, func(e *Engine) error {
				res[e.me] = e.ScaleDown(share(e, sh), s)
				return nil
			})
			got := open(res)
			for i, v := range x {
				floor := uint64(int64(v) >> s)
				if d := got[i] - floor; d > 1 || (v%(1<<s) == 0 && d != 0) {
					t.Fatalf("s=%d trivial=%v: %d >> %d gave %d, floor %d", s, trivial, int64(v), s, int64(got[i]), int64(floor))
				}
				if trivial && got[i] != floor {
					t.Fatalf("trivial sharing of %d >> %d gave %d, want exactly %d", int64(v), s, int64(got[i]), int64(floor))
				}
			}
		}
	}
}

// TestScaleDownFailureRate checks the documented failure probability
// |x|/2^64 for a uniform x0.
func TestScaleDownFailureRate(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	const n = 20000
	for _, k := range []int{62, 60} {
		x := make([]uint64, n)
		for i := range x {
			x[i] = 1 << k
			if i%2 == 1 {
				x[i] = neg(1 << k)
			}
		}
		sh := split(r, x, false)
		var res [3][]uint64
		run3(t, func(e *Engine) error {
			res[e.me] = e.ScaleDown(share(e, sh), 12)
			return nil
		})
		fails := 0
		for i, v := range open(res) {
			if v != uint64(int64(x[i])>>12) {
				fails++
			}
		}
		rate, want := float64(fails)/n, float64(uint64(1)<<k)/(1<<64)
		// Binomial standard deviation ≤ 0.0031 at n = 20000.
		if rate < want-0.015 || rate > want+0.015 {
			t.Errorf("|x| = 2^%d: failure rate %.4f, predicted %.4f", k, rate, want)
		}
		t.Logf("|x| = 2^%d: failure rate %.4f, predicted %.4f", k, rate, want)
	}
}

func TestPrivateCompare(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	var xs, rs []uint64
	var betas []byte
	edges := []uint64{0, 1, 2, p62, 1 << 63, maxU - 1, maxU}
	for _, x := range edges {
		for _, rv := range edges {
			for _, d := range []uint64{0, 1, maxU} { // r = x, x−1, x+1 as well
				for _, b := range []byte{0, 1} {
					xs, rs, betas = append(xs, x), append(rs, rv+d), append(betas, b)
					xs, rs, betas = append(xs, x), append(rs, x+d), append(betas, b)
				}
			}
		}
	}
	for i := 0; i < 300; i++ {
		x := r.Uint64()
		rv := x + uint64(r.IntN(5)) - 2
		if i%3 == 0 {
			rv = r.Uint64()
		}
		xs, rs, betas = append(xs, x), append(rs, rv), append(betas, byte(r.IntN(2)))
	}
	n := len(xs)
	sb := splitBits(r, xs)
	var res [3][]byte
	run3(t, func(e *Engine) error {
		var rr []uint64
		var bb []byte
		if e.me != mpc.P2 {
			rr, bb = rs, betas
		}
		z, err := e.PrivateCompare(n, share(e, sb), rr, bb)
		res[e.me] = z
		return err
	})
	for i := range xs {
		want := betas[i]
		if xs[i] > rs[i] {
			want ^= 1
		}
		if res[2][i] != want {
			t.Errorf("x=%d r=%d β=%d: P2 got %d, want %d", xs[i], rs[i], betas[i], res[2][i], want)
		}
	}
}

func TestShareConvert(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, n := range []int{1, 2, 5, 64, 301} {
		x := append([]uint64{0, 1, maxU - 1, 1 << 63, (1 << 63) - 1, 2}, randRange(r, n, 63)...)[:n]
		for i := range x {
			if x[i] == maxU {
				x[i] = 0
			}
		}
		for _, trivial := range []bool{false, true} {
			sh := split(r, x, trivial)
			var res [3][]uint64
			run3(t, func(e *Engine) error {
				y, err := e.ShareConvert(n, share(e, sh))
				res[e.me] = y
				return err
			})
			if got := openOdd(res); !slices.Equal(got, x) {
				t.Fatalf("n=%d trivial=%v: got %v, want %v", n, trivial, got, x)
			}
		}
	}
}

// TestShareConvertRZero forces the mask r = 0 (probability 2^−64 in a
// real run) on some elements: the fix makes η = 1 there.
func TestShareConvertRZero(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 10))
	x := []uint64{0, 1, 5, maxU - 1, 1 << 63, 77}
	sh := split(r, x, false)
	testHookSCMask = func(r0, r1 []uint64) {
		for i := range r1 {
			if i%2 == 0 {
				r1[i] = -r0[i]
			}
		}
	}
	defer func() { testHookSCMask = nil }()
	var res [3][]uint64
	run3(t, func(e *Engine) error {
		y, err := e.ShareConvert(len(x), share(e, sh))
		res[e.me] = y
		return err
	})
	if got := openOdd(res); !slices.Equal(got, x) {
		t.Fatalf("got %v, want %v", got, x)
	}
}

func TestComputeMSB(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	for _, n := range []int{1, 3, 8, 257} {
		y := make([]uint64, n)
		edges := []uint64{0, 1, 1<<63 - 1, 1 << 63, maxU - 1, maxU - 2, 2, p62}
		for i := range y {
			if i < len(edges) {
				y[i] = edges[i]
			} else {
				y[i] = r.Uint64N(maxU)
			}
		}
		sh := splitOdd(r, y)
		var res [3][]uint64
		run3(t, func(e *Engine) error {
			m, err := e.ComputeMSB(n, share(e, sh))
			res[e.me] = m
			return err
		})
		for i, v := range open(res) {
			if v != y[i]>>63 {
				t.Fatalf("n=%d: MSB(%d) gave %d", n, y[i], v)
			}
		}
	}
}

func TestDReLUAndReLU(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 12))
	for _, n := range []int{1, 2, 15, 400} {
		x := append(append([]uint64(nil), dreluEdges...), randRange(r, n, 62)...)[:n]
		for _, trivial := range []bool{false, true} {
			checkDReLUAndReLU(t, x, split(r, x, trivial), trivial, nil)
		}
	}
}

// checkDReLUAndReLU runs DReLU and ReLU on the shares sh of x (after
// setup, on every engine, where set) and checks both against x.
func checkDReLUAndReLU(t *testing.T, x []uint64, sh [2][]uint64, trivial bool, setup func(*Engine)) {
	t.Helper()
	n := len(x)
	var dres, rres [3][]uint64
	run3(t, func(e *Engine) error {
		if setup != nil {
			setup(e)
		}
		d, err := e.DReLU(n, share(e, sh))
		if err != nil {
			return err
		}
		y, err := e.ReLU(n, share(e, sh))
		dres[e.me], rres[e.me] = d, y
		return err
	})
	d, y := open(dres), open(rres)
	for i, v := range x {
		want := uint64(0)
		if int64(v) >= 0 {
			want = 1
		}
		if d[i] != want {
			t.Fatalf("n=%d trivial=%v: DReLU(%d) = %d", n, trivial, int64(v), d[i])
		}
		if y[i] != want*v {
			t.Fatalf("n=%d trivial=%v: ReLU(%d) = %d", n, trivial, int64(v), int64(y[i]))
		}
	}
}

func TestSelectShare(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 13))
	const n = 101
	a, x, y := make([]uint64, n), randRange(r, n, 63), randRange(r, n, 63)
	for i := range a {
		a[i] = uint64(r.IntN(2))
	}
	sa, sx, sy := split(r, a, false), split(r, x, false), split(r, y, false)
	var res [3][]uint64
	run3(t, func(e *Engine) error {
		z, err := e.SelectShare(n, share(e, sa), share(e, sx), share(e, sy))
		res[e.me] = z
		return err
	})
	for i, v := range open(res) {
		want := x[i]
		if a[i] == 1 {
			want = y[i]
		}
		if v != want {
			t.Fatalf("select(%d; %d, %d) = %d", a[i], x[i], y[i], v)
		}
	}
}

// maxRef is the cleartext maximum and its first (or last) index.
func maxRef(v []uint64, last bool) (uint64, int) {
	best := 0
	for k := 1; k < len(v); k++ {
		if a, b := int64(v[k]), int64(v[best]); a > b || last && a == b {
			best = k
		}
	}
	return v[best], best
}

func TestMaxGroups(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 14))
	counts := []int{1, 2, 3, 4, 5, 8, 9, 16, 25, 1, 7}
	var v []uint64
	for g, c := range counts {
		for k := 0; k < c; k++ {
			switch g % 4 {
			case 0:
				v = append(v, r.Uint64N(1<<62)-p61)
			case 1: // ties everywhere
				v = append(v, uint64(r.IntN(3))-1)
			case 2: // extremes of the precondition
				v = append(v, []uint64{p61 - 1, neg(p61), 0}[r.IntN(3)])
			default:
				v = append(v, neg(uint64(r.IntN(2))))
			}
		}
	}
	for _, last := range []bool{false, true} {
		sh := split(r, v, false)
		var mres, ires [3][]uint64
		run3(t, func(e *Engine) error {
			m, idx, err := e.MaxGroups(share(e, sh), counts, true, last)
			mres[e.me], ires[e.me] = m, idx
			return err
		})
		m, idx := open(mres), open(ires)
		off := 0
		for g, c := range counts {
			wm, wi := maxRef(v[off:off+c], last)
			if m[g] != wm || idx[g] != uint64(wi) {
				t.Errorf("last=%v group %d %v: got max %d at %d, want %d at %d", last, g, v[off:off+c], int64(m[g]), idx[g], int64(wm), wi)
			}
			off += c
		}
	}
}

func TestMaxPool(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 15))
	cases := []tensor.PoolParams{
		{NC: 6, H: 28, W: 28, KH: 2, KW: 2, SH: 2, SW: 2},
		{NC: 3, H: 7, W: 5, KH: 3, KW: 3, SH: 2, SW: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1},
		{NC: 1, H: 4, W: 4, KH: 1, KW: 1, SH: 1, SW: 1},
		{NC: 2, H: 6, W: 6, KH: 3, KW: 2, SH: 1, SW: 2, PadT: 2, PadL: 1, PadB: 0, PadR: 1},
		{NC: 1, H: 5, W: 5, KH: 5, KW: 5, SH: 1, SW: 1},
	}
	for _, pp := range cases {
		x := randRange(r, pp.NC*pp.H*pp.W, 61)
		for i := range x { // all negative, so that a zero pad would win
			if i%2 == 0 {
				x[i] = -(x[i] >> 3) - 1
			}
		}
		sh := split(r, x, false)
		var res [3][]uint64
		run3(t, func(e *Engine) error {
			z, err := e.MaxPool(share(e, sh), pp)
			res[e.me] = z
			return err
		})
		want := make([]uint64, pp.NC*pp.OutH()*pp.OutW())
		tensor.MaxPool(want, x, pp)
		if got := open(res); !slices.Equal(got, want) {
			t.Errorf("%+v: got %v, want %v", pp, got, want)
		}
	}
}

func TestArgMax(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 16))
	cases := []struct {
		shape ir.Shape
		axis  int
	}{{ir.Shape{1, 10}, 1}, {ir.Shape{3, 4, 5}, 1}, {ir.Shape{3, 4, 5}, -1}, {ir.Shape{7}, 0}, {ir.Shape{2, 1, 3}, 1}}
	for _, c := range cases {
		for _, last := range []bool{false, true} {
			x := make([]uint64, c.shape.Size())
			for i := range x {
				x[i] = uint64(r.IntN(4)) - 2 // many ties
			}
			sh := split(r, x, false)
			var res [3][]uint64
			run3(t, func(e *Engine) error {
				z, err := e.ArgMax(share(e, sh), c.shape, c.axis, last)
				res[e.me] = z
				return err
			})
			ax := c.axis
			if ax < 0 {
				ax += len(c.shape)
			}
			inner := 1
			for _, d := range c.shape[ax+1:] {
				inner *= d
			}
			dim := c.shape[ax]
			got := open(res)
			for o := 0; o < len(x)/(dim*inner); o++ {
				for j := 0; j < inner; j++ {
					var v []uint64
					for k := 0; k < dim; k++ {
						v = append(v, x[(o*dim+k)*inner+j])
					}
					_, wi := maxRef(v, last)
					if got[o*inner+j] != uint64(wi) {
						t.Errorf("%v axis %d last=%v: group %v argmax %d, want %d", c.shape, c.axis, last, v, got[o*inner+j], wi)
					}
				}
			}
		}
	}
}
