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
	old := UseSIMD
	UseSIMD = on
	defer func() { UseSIMD = old }()
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
		{121, 259, 2051}, {2, 3, 0}, {0, 3, 2}, {3, 0, 2},
	}
	for _, s := range sizes {
		m, k, n := s[0], s[1], s[2]
		for kind := 0; kind < 4; kind++ {
			a, b := fillMatrix(r, m*k, kind), fillMatrix(r, k*n, kind)
			want := naiveMatMul(a, b, m, k, n)
			for _, simd := range paths() {
				got := make([]uint64, m*n)
				for i := range got {
					got[i] = 0x5555 // MatMul overwrites dst
				}
				withSIMD(simd, func() { MatMul(got, a, b, m, k, n) })
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("%dx%dx%d kind %d simd=%v: element %d = %#x, want %#x", m, k, n, kind, simd, i, got[i], want[i])
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
