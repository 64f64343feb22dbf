package tensor

import (
	"math/rand/v2"
	"testing"
)

func TestScaleDownRoundsTowardMinusInfinity(t *testing.T) {
	cases := []struct{ in, want int64 }{{7, 1}, {8, 2}, {-1, -1}, {-8, -2}, {-9, -3}, {0, 0}, {-1 << 62, -1 << 60}}
	for _, c := range cases {
		dst := make([]uint64, 1)
		ScaleDown(dst, []uint64{uint64(c.in)}, 2)
		if int64(dst[0]) != c.want {
			t.Errorf("ScaleDown(%d, 2) = %d, want %d", c.in, int64(dst[0]), c.want)
		}
	}
}

// naiveConv is the textbook definition, for checking Conv2D.
func naiveConv(x, w []uint64, p ConvParams) []uint64 {
	OH, OW := p.OutH(), p.OutW()
	out := make([]uint64, p.N*p.O*OH*OW)
	cg, og := p.C/p.Group, p.O/p.Group
	for n := 0; n < p.N; n++ {
		for o := 0; o < p.O; o++ {
			for oh := 0; oh < OH; oh++ {
				for ow := 0; ow < OW; ow++ {
					var s uint64
					for ci := 0; ci < cg; ci++ {
						c := (o/og)*cg + ci
						for kh := 0; kh < p.KH; kh++ {
							for kw := 0; kw < p.KW; kw++ {
								ih, iw := oh*p.SH-p.PadT+kh, ow*p.SW-p.PadL+kw
								if ih < 0 || iw < 0 || ih >= p.H || iw >= p.W {
									continue
								}
								s += x[((n*p.C+c)*p.H+ih)*p.W+iw] * w[((o*cg+ci)*p.KH+kh)*p.KW+kw]
							}
						}
					}
					out[((n*p.O+o)*OH+oh)*OW+ow] = s
				}
			}
		}
	}
	return out
}

func randRing(r *rand.Rand, n int) []uint64 {
	x := make([]uint64, n)
	for i := range x {
		x[i] = r.Uint64()
	}
	return x
}

func TestConv2DMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	cases := []ConvParams{
		{N: 1, C: 1, H: 5, W: 5, O: 1, KH: 3, KW: 3, SH: 1, SW: 1, Group: 1},
		{N: 2, C: 3, H: 7, W: 6, O: 4, KH: 3, KW: 2, SH: 2, SW: 1, PadT: 1, PadL: 0, PadB: 1, PadR: 1, Group: 1},
		{N: 1, C: 4, H: 8, W: 8, O: 8, KH: 3, KW: 3, SH: 2, SW: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Group: 4}, // depthwise ×2
		{N: 1, C: 6, H: 5, W: 5, O: 4, KH: 1, KW: 1, SH: 1, SW: 1, Group: 2},
		{N: 1, C: 2, H: 3, W: 3, O: 2, KH: 5, KW: 5, SH: 3, SW: 3, PadT: 2, PadL: 2, PadB: 2, PadR: 2, Group: 1},
		// Padding wider than the window, so that some windows lie wholly
		// in it (found by fuzzing the program format: the unrolling
		// sliced past the row's end): on the right, on the left, strided.
		{N: 1, C: 8, H: 13, W: 1, O: 22, KH: 3, KW: 3, SH: 4, SW: 1, PadT: 1, PadL: 0, PadB: 1, PadR: 66, Group: 1},
		{N: 1, C: 8, H: 5, W: 2, O: 8, KH: 2, KW: 2, SH: 1, SW: 1, PadT: 0, PadL: 9, PadB: 0, PadR: 0, Group: 1},
		{N: 2, C: 4, H: 4, W: 3, O: 4, KH: 2, KW: 2, SH: 1, SW: 3, PadT: 3, PadL: 7, PadB: 3, PadR: 7, Group: 1},
		{N: 1, C: 4, H: 4, W: 3, O: 4, KH: 2, KW: 2, SH: 1, SW: 1, PadT: 0, PadL: 5, PadB: 0, PadR: 5, Group: 4},
	}
	for i, p := range cases {
		x := randRing(r, p.N*p.C*p.H*p.W)
		w := randRing(r, p.O*(p.C/p.Group)*p.KH*p.KW)
		got := make([]uint64, p.N*p.O*p.OutH()*p.OutW())
		Conv2D(got, x, w, p)
		want := naiveConv(x, w, p)
		for j := range want {
			if got[j] != want[j] {
				t.Fatalf("case %d: element %d = %d, want %d", i, j, got[j], want[j])
			}
		}
	}
}

func TestMatMulWraps(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	m, k, n := 3, 5, 4
	a, b := randRing(r, m*k), randRing(r, k*n)
	got := make([]uint64, m*n)
	MatMul(got, a, b, m, k, n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s uint64
			for p := 0; p < k; p++ {
				s += a[i*k+p] * b[p*n+j]
			}
			if got[i*n+j] != s {
				t.Fatalf("(%d,%d) = %d, want %d", i, j, got[i*n+j], s)
			}
		}
	}
}

func TestPoolsSkipPadding(t *testing.T) {
	// 1×3×3 plane of negatives: padding must not win a max (0 > −5) nor
	// count in a sum.
	x := []uint64{}
	for _, v := range []int64{-5, -6, -7, -8, -9, -10, -11, -12, -13} {
		x = append(x, uint64(v))
	}
	p := PoolParams{NC: 1, H: 3, W: 3, KH: 2, KW: 2, SH: 2, SW: 2, PadB: 1, PadR: 1}
	mx, sm := make([]uint64, 4), make([]uint64, 4)
	MaxPool(mx, x, p)
	SumPool(sm, x, p)
	wantMax := []int64{-5, -7, -11, -13}
	wantSum := []int64{-5 - 6 - 8 - 9, -7 - 10, -11 - 12, -13}
	for i := range wantMax {
		if int64(mx[i]) != wantMax[i] || int64(sm[i]) != wantSum[i] {
			t.Errorf("window %d: max %d sum %d, want %d %d", i, int64(mx[i]), int64(sm[i]), wantMax[i], wantSum[i])
		}
	}
}
