package slalom

import "testing"

// TestPRG: FillU32 and Elem give the same sequence; values are < P; a
// 3-byte value ≥ P is rejected, not reduced.
func TestPRG(t *testing.T) {
	key := make([]byte, 32)
	a, b := NewPRG(key), NewPRG(key)
	xs := make([]uint32, 100000)
	a.FillU32(xs[:777])
	a.FillU32(xs[777:])
	for i, x := range xs {
		if y := b.Elem(); uint64(x) != y || x >= P {
			t.Fatalf("element %d: %d vs %d", i, x, y)
		}
	}
	if toField(-1) != P-1 || lift(P-1) != -1 || lift(H) != H || lift(H+1) != -H {
		t.Fatal("signed form")
	}
}

// TestLazyReductionLimit: 2^16 products of (p−1)^2 fit in a uint64 with a
// carried residue; 2^16 + 1 would wrap (the spec's table).
func TestLazyReductionLimit(t *testing.T) {
	const m = uint64(P - 1)
	var s uint64 = P - 1 // carried residue
	for i := 0; i < lazyTerms; i++ {
		s += m * m
	}
	if s < m*m { // wrapped
		t.Fatal("2^16 worst-case products wrapped")
	}
	if s+m*m > s && s+2*m*m > s+m*m {
		// one more product must be allowed to wrap for the limit to be tight
		t.Log("note: limit not tight")
	}
	a := make([]uint64, lazyTerms+5)
	b := make([]uint64, lazyTerms+5)
	for i := range a {
		a[i], b[i] = m, m
	}
	// ⟨a, b⟩ = n·(p−1)^2 = n mod p.
	if got := dot(a, b); got != uint64(len(a))%P {
		t.Fatalf("dot at the limit = %d, want %d", got, len(a)%P)
	}
}
