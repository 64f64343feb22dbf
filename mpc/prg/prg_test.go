package prg

import (
	"bytes"
	"math"
	"testing"
)

var secret = bytes.Repeat([]byte{7}, 32) // test-only key

func TestSameSecretAndLabelSameStream(t *testing.T) {
	a, b := MustNew(secret, "x"), MustNew(secret, "x")
	c := MustNew(secret, "y")
	same, diff := 0, 0
	for i := 0; i < 1000; i++ {
		va, vb, vc := a.Uint64(), b.Uint64(), c.Uint64()
		if va == vb {
			same++
		}
		if va != vc {
			diff++
		}
	}
	if same != 1000 || diff != 1000 {
		t.Fatalf("same secret+label agreed %d/1000; other label differed %d/1000", same, diff)
	}
}

func TestShortSecretRefused(t *testing.T) {
	if _, err := New([]byte("short"), "x"); err == nil {
		t.Fatal("a 5-byte secret was accepted")
	}
}

func TestRandomStreamsDiffer(t *testing.T) {
	if NewRandom("x").Uint64() == NewRandom("x").Uint64() {
		t.Fatal("two crypto/rand-keyed streams gave the same first value")
	}
}

// chiSquare of counts against the uniform distribution.
func chiSquare(counts []int, n int) float64 {
	exp := float64(n) / float64(len(counts))
	x := 0.0
	for _, c := range counts {
		d := float64(c) - exp
		x += d * d / exp
	}
	return x
}

func TestSamplersUniform(t *testing.T) {
	s := MustNew(secret, "uniform")
	const n = 67 * 3000
	counts := make([]int, 67)
	for i := 0; i < n; i++ {
		counts[s.Mod(67)]++
	}
	// 66 degrees of freedom: the 99.9% quantile is about 107.
	if x := chiSquare(counts, n); x > 107 {
		t.Errorf("Mod(67) chi-square %.1f", x)
	}
	nz := make([]int, 66)
	for i := 0; i < n; i++ {
		v := s.ModNonZero(67)
		if v == 0 {
			t.Fatal("ModNonZero returned 0")
		}
		nz[v-1]++
	}
	if x := chiSquare(nz, n); x > 107 {
		t.Errorf("ModNonZero(67) chi-square %.1f", x)
	}
	ones := 0
	for i := 0; i < 100000; i++ {
		ones += int(s.Bit())
	}
	if math.Abs(float64(ones)-50000) > 4*158 {
		t.Errorf("%d ones in 100000 bits", ones)
	}
	// Each of 8 slots of a permutation lands in position 0 uniformly.
	first := make([]int, 8)
	perm := make([]int, 8)
	for i := 0; i < 8000; i++ {
		s.Perm(perm)
		first[perm[0]]++
		seen := 0
		for _, v := range perm {
			seen |= 1 << v
		}
		if seen != 255 {
			t.Fatalf("not a permutation: %v", perm)
		}
	}
	if x := chiSquare(first, 8000); x > 24.3 { // 7 d.o.f., 99.9%
		t.Errorf("Perm chi-square %.1f", x)
	}
	for i := 0; i < 1000; i++ {
		if s.OddRing() == math.MaxUint64 {
			t.Fatal("OddRing returned 2^64−1")
		}
	}
}

// TestUint64sMatchesUint64 checks that bulk draws give the values of
// element-by-element draws, whatever the chunking and whatever bytes were
// drawn before.
func TestUint64sMatchesUint64(t *testing.T) {
	key := make([]byte, 32)
	for _, pre := range []int{0, 3, 8, 5000, bufSize - 4, bufSize} {
		for _, chunks := range [][]int{{1}, {63, 64, 65}, {1000, 7, bufSize, 3 * bufSize / 8}, {100000}} {
			a, b := MustNew(key, "x"), MustNew(key, "x")
			for i := 0; i < pre; i++ {
				a.nextByte()
				b.nextByte()
			}
			for _, n := range chunks {
				got := make([]uint64, n)
				a.Uint64s(got)
				for i := range got {
					if want := b.Uint64(); got[i] != want {
						t.Fatalf("after %d bytes, chunks %v: element %d of %d: %#x, want %#x", pre, chunks, i, n, got[i], want)
					}
				}
			}
			if a.nextByte() != b.nextByte() {
				t.Fatalf("after %d bytes, chunks %v: the streams diverge afterwards", pre, chunks)
			}
		}
	}
}
