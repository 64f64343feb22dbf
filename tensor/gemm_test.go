package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func naiveMatMul(a, b []uint64, m, k, n int) []uint64 {
	out := make([]uint64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s uint64
			for p := 0; p < k; p++ {
				s += a[i*k+p] * b[p*n+j]
			}
			out[i*n+j] = s
		}
	}
	return out
}

// withSIMD runs f with the SIMD path forced on or off.
func withSIMD(on bool, f func()) {
	old := useSIMD
	useSIMD = on
	defer func() { useSIMD = old }()
	f()
}

// paths lists the kernels to check: portable always, SIMD where present.
func paths() []bool {
	if hasSIMD {
		return []bool{false, true}
	}
	return []bool{false}
}

var edgeValues = []uint64{0, 1, 2, 1<<32 - 1, 1 << 32, 1<<32 + 1, 1 << 63, 1<<63 - 1, 1<<64 - 1, 1<<64 - 2, 0xdeadbeefcafebabe}

func fillMatrix(r *rand.Rand, n int, kind int) []uint64 {
	x := make([]uint64, n)
	for i := range x {
		switch kind {
		case 0:
			x[i] = r.Uint64()
		case 1:
			x[i] = edgeValues[r.IntN(len(edgeValues))]
		case 2:
			x[i] = 1<<64 - 1
		case 3:
			x[i] = 1 << 63
		}
	}
	return x
}

func TestMatMulU64Paths(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	sizes := [][3]int{
		{1, 1, 1}, {3, 5, 7}, {17, 33, 9}, {64, 1, 64}, {1, 64, 1}, {1, 300, 700}, {700, 300, 1},
		{6, 4, 4}, {5, 3, 3}, {7, 257, 9}, {13, 513, 29}, {130, 70, 131}, {64, 64, 64},
		{121, 259, 2051}, {2, 3, 0}, {0, 3, 2}, {3, 0, 2}, {3, 200, 1001}, {20, 300, 50},
	}
	for _, s := range sizes {
		m, k, n := s[0], s[1], s[2]
		for kind := 0; kind < 4; kind++ {
			a, b := fillMatrix(r, m*k, kind), fillMatrix(r, k*n, kind)
			want := naiveMatMul(a, b, m, k, n)
			for _, rows := range []int{0, 1 << 30} { // packed or row-wise
				for _, simd := range paths() {
					got := make([]uint64, m*n)
					for i := range got {
						got[i] = 0x5555 // MatMul overwrites dst
					}
					old := rowwiseRows
					rowwiseRows = rows
					withSIMD(simd, func() { MatMul(got, a, b, m, k, n) })
					rowwiseRows = old
					for i := range want {
						if got[i] != want[i] {
							t.Fatalf("%dx%dx%d kind %d simd=%v rowwise<%d: element %d = %#x, want %#x", m, k, n, kind, simd, rows, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// TestMatMulU64Edges checks products of the extreme values exactly.
func TestMatMulU64Edges(t *testing.T) {
	for _, x := range edgeValues {
		for _, y := range edgeValues {
			for _, simd := range paths() {
				m, k, n := 7, 3, 5
				a, b := make([]uint64, m*k), make([]uint64, k*n)
				for i := range a {
					a[i] = x
				}
				for i := range b {
					b[i] = y
				}
				got := make([]uint64, m*n)
				withSIMD(simd, func() { MatMul(got, a, b, m, k, n) })
				if want := 3 * x * y; got[0] != want || got[m*n-1] != want {
					t.Fatalf("%#x·%#x simd=%v: got %#x, want %#x", x, y, simd, got[0], want)
				}
			}
		}
	}
}

func TestMatMulFloat32Unchanged(t *testing.T) {
	a := []float32{1, 2, 3, 4, 5, 6}
	b := []float32{7, 8, 9, 10, 11, 12}
	got := make([]float32, 4)
	MatMul(got, a, b, 2, 3, 2)
	want := []float32{58, 64, 139, 154}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("float32 MatMul = %v, want %v", got, want)
		}
	}
}

func ExampleMatMul() {
	a := []uint64{1, 2, 3, 4}
	b := []uint64{1<<64 - 1, 0, 0, 1}
	c := make([]uint64, 4)
	MatMul(c, a, b, 2, 2, 2)
	fmt.Println(int64(c[0]), c[1], int64(c[2]), c[3])
	// Output: -1 2 -3 4
}

var convTestCases = []ConvParams{
	{N: 1, C: 1, H: 5, W: 5, O: 1, KH: 3, KW: 3, SH: 1, SW: 1, Group: 1},
	{N: 2, C: 3, H: 7, W: 6, O: 4, KH: 3, KW: 2, SH: 2, SW: 1, PadT: 1, PadL: 0, PadB: 1, PadR: 1, Group: 1},
	{N: 1, C: 4, H: 8, W: 8, O: 8, KH: 3, KW: 3, SH: 2, SW: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Group: 4},
	{N: 1, C: 6, H: 5, W: 5, O: 4, KH: 1, KW: 1, SH: 1, SW: 1, Group: 2},
	{N: 1, C: 2, H: 3, W: 3, O: 2, KH: 5, KW: 5, SH: 3, SW: 3, PadT: 2, PadL: 2, PadB: 2, PadR: 2, Group: 1},
	{N: 1, C: 16, H: 9, W: 11, O: 24, KH: 1, KW: 1, SH: 1, SW: 1, Group: 1},
	{N: 3, C: 16, H: 9, W: 11, O: 24, KH: 1, KW: 1, SH: 1, SW: 1, Group: 2},
	{N: 1, C: 8, H: 10, W: 10, O: 16, KH: 1, KW: 1, SH: 2, SW: 2, Group: 1},
	{N: 2, C: 12, H: 13, W: 9, O: 18, KH: 3, KW: 3, SH: 2, SW: 3, PadT: 0, PadL: 2, PadB: 1, PadR: 0, Group: 3},
	{N: 1, C: 3, H: 30, W: 30, O: 10, KH: 7, KW: 7, SH: 2, SW: 2, PadT: 3, PadL: 3, PadB: 3, PadR: 3, Group: 1},
	{N: 1, C: 32, H: 14, W: 14, O: 32, KH: 3, KW: 3, SH: 1, SW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Group: 32},
	{N: 1, C: 64, H: 14, W: 14, O: 64, KH: 3, KW: 3, SH: 1, SW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Group: 1},
	{N: 1, C: 4, H: 3, W: 4, O: 5, KH: 4, KW: 5, SH: 1, SW: 1, PadT: 1, PadL: 2, PadB: 0, PadR: 1, Group: 1},
}

// TestConv2DPaths checks the im2col+MatMul route (both kernels) and the
// direct route against the definition.
func TestConv2DPaths(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	oldF, oldM := convMinFilters, convMinMACs
	defer func() { convMinFilters, convMinMACs = oldF, oldM }()
	for i, p := range convTestCases {
		x := randRing(r, p.N*p.C*p.H*p.W)
		w := randRing(r, p.O*(p.C/p.Group)*p.KH*p.KW)
		want := naiveConv(x, w, p)
		for _, route := range []string{"direct", "im2col"} {
			if route == "direct" {
				convMinFilters = 1 << 30
			} else {
				convMinFilters, convMinMACs = 1, 0
			}
			for _, simd := range paths() {
				got := make([]uint64, len(want))
				for j := range got {
					got[j] = 0x77
				}
				withSIMD(simd, func() { Conv2D(got, x, w, p) })
				for j := range want {
					if got[j] != want[j] {
						t.Fatalf("case %d %s simd=%v: element %d = %#x, want %#x", i, route, simd, j, got[j], want[j])
					}
				}
			}
		}
	}
}

func TestConv2DFloat32(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for i, p := range convTestCases {
		x := make([]float32, p.N*p.C*p.H*p.W)
		w := make([]float32, p.O*(p.C/p.Group)*p.KH*p.KW)
		xi, wi := make([]uint64, len(x)), make([]uint64, len(w))
		for j := range x {
			xi[j] = uint64(r.IntN(7) - 3)
			x[j] = float32(int64(xi[j]))
		}
		for j := range w {
			wi[j] = uint64(r.IntN(7) - 3)
			w[j] = float32(int64(wi[j]))
		}
		got := make([]float32, p.N*p.O*p.OutH()*p.OutW())
		Conv2D(got, x, w, p)
		want := naiveConv(xi, wi, p)
		for j := range want {
			if got[j] != float32(int64(want[j])) {
				t.Fatalf("case %d: element %d = %v, want %d", i, j, got[j], int64(want[j]))
			}
		}
	}
}

func TestAxpyU64(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	for n := 0; n < 40; n++ {
		for kind := 0; kind < 4; kind++ {
			x := fillMatrix(r, n, kind)
			for _, w := range append(edgeValues, r.Uint64()) {
				base := fillMatrix(r, n, 0)
				for _, simd := range paths() {
					dst := append([]uint64(nil), base...)
					withSIMD(simd, func() { axpyU64(dst, x, w) })
					for i := range dst {
						if want := base[i] + w*x[i]; dst[i] != want {
							t.Fatalf("n=%d w=%#x simd=%v: dst[%d] = %#x, want %#x", n, w, simd, i, dst[i], want)
						}
					}
				}
			}
		}
	}
}
