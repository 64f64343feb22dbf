package slalom

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestDecodeRowSIMDMatchesGo compares decodeRow (AVX2 where available,
// Go for the tail) with the portable decodeRowGo on random rows, with and
// without unblinding, for every post-processing the programs use, and with
// a value ≥ P planted at every position class.
func TestDecodeRowSIMDMatchesGo(t *testing.T) {
	if !useSIMD {
		t.Log("no AVX2 here (or VEIL_NOSIMD set): both sides run the Go path")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	posts := []post{
		{k: 8, lo: 0, hi: math.MaxInt64},
		{k: 7, lo: 0, hi: 6 << 8},
		{k: 0, lo: math.MinInt64, hi: math.MaxInt64},
		{k: 8, lo: math.MinInt64, hi: math.MaxInt64},
		{k: 12, lo: -5, hi: 5},
	}
	for _, n := range []int{1, 7, 8, 9, 63, 64, 1000, 2048, lazyTerms} {
		for _, q := range posts {
			for _, blinded := range []bool{false, true} {
				b := make([]byte, rb*n)
				r0, r1 := make([]uint32, n), make([]uint32, n)
				var u []uint32
				if blinded {
					u = make([]uint32, n)
				}
				for i := range n {
					v := uint32(rng.IntN(P))
					switch rng.IntN(8) {
					case 0:
						v = 0
					case 1:
						v = P - 1
					case 2:
						v = H + uint32(rng.IntN(2))
					}
					put24(b[rb*i:], v)
					r0[i], r1[i] = uint32(rng.IntN(P)), uint32(rng.IntN(P))
					if u != nil {
						u[i] = uint32(rng.IntN(P))
					}
				}
				var half int64
				if q.k > 0 {
					half = 1 << (q.k - 1)
				}
				got, want := make([]int64, n), make([]int64, n)
				g0, g1, gb := decodeRow(got, b, r0, r1, u, half, uint(q.k), q.lo, q.hi)
				w0, w1, wb := decodeRowGo(want, b, r0, r1, u, half, uint(q.k), q.lo, q.hi)
				if g0 != w0 || g1 != w1 || gb != wb || !slices.Equal(got, want) {
					t.Fatalf("n=%d post=%+v blinded=%v: sums %d,%d bad %d; Go %d,%d bad %d; values equal %v",
						n, q, blinded, g0, g1, gb, w0, w1, wb, slices.Equal(got, want))
				}
				// A non-residue anywhere is found at its index.
				for _, at := range []int{0, n / 2, n - 1, n &^ 7, (n &^ 7) - 1} {
					if at < 0 || at >= n {
						continue
					}
					c := slices.Clone(b)
					put24(c[rb*at:], P+uint32(rng.IntN(3)))
					if _, _, bad := decodeRow(got, c, r0, r1, u, half, uint(q.k), q.lo, q.hi); bad != at {
						t.Fatalf("n=%d: value ≥ P at %d reported at %d", n, at, bad)
					}
				}
			}
		}
	}
}

// TestDotClampSIMDMatchesGo compares dotClamp with dotClampGo, including
// values beyond the clamp and far outside the field.
func TestDotClampSIMDMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 3, 4, 5, 100, 4096, lazyTerms} {
		for _, c := range []int64{0, 1, 255, 1 << 20, H} {
			x := make([]int64, n)
			s0, s1 := make([]uint32, n), make([]uint32, n)
			for i := range n {
				x[i] = wildInput(rng, c)
				s0[i], s1[i] = uint32(rng.IntN(P)), uint32(rng.IntN(P))
			}
			g0, g1 := dotClamp(x, s0, s1, c)
			w0, w1 := dotClampGo(x, s0, s1, c)
			if g0 != w0 || g1 != w1 {
				t.Fatalf("n=%d c=%d: %d,%d, Go %d,%d", n, c, g0, g1, w0, w1)
			}
		}
	}
}

// TestEncodeSIMDMatchesGo compares encode with encodeGo for every
// combination of blinding and checking, on clamped and wild inputs.
func TestEncodeSIMDMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 3, 4, 5, 9, 100, 4096, lazyTerms} {
		for _, c := range []int64{0, 1, 255, 1 << 20, H} {
			for _, mode := range []struct{ blind, check bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
				x := make([]int64, n)
				var r, s0, s1 []uint32
				if mode.blind {
					r = make([]uint32, n)
				}
				if mode.check {
					s0, s1 = make([]uint32, n), make([]uint32, n)
				}
				for i := range n {
					x[i] = wildInput(rng, c)
					if r != nil {
						r[i] = uint32(rng.IntN(P))
					}
					if s0 != nil {
						s0[i], s1[i] = uint32(rng.IntN(P)), uint32(rng.IntN(P))
					}
				}
				got, want := make([]byte, rb*n+8), make([]byte, rb*n+8)
				g0, g1 := encode(got[:rb*n], x, r, s0, s1, c)
				w0, w1 := encodeGo(want[:rb*n], x, r, s0, s1, c)
				if g0 != w0 || g1 != w1 || !slices.Equal(got, want) {
					t.Fatalf("n=%d c=%d blind=%v check=%v: sums %d,%d vs Go %d,%d; bytes equal %v",
						n, c, mode.blind, mode.check, g0, g1, w0, w1, slices.Equal(got, want))
				}
			}
		}
	}
}

// TestUnpack24MatchesGo compares unpack24 with get24 value by value.
func TestUnpack24MatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1, 7, 8, 9, 1000, ChunkElems} {
		src := make([]byte, rb*n)
		for i := range src {
			src[i] = byte(rng.Uint32())
		}
		dst := make([]uint32, n)
		mx := unpack24(dst, src)
		var want uint32
		for i := range n {
			v := get24(src[rb*i:])
			want = max(want, v)
			if dst[i] != v {
				t.Fatalf("n=%d: value %d is %d, want %d", n, i, dst[i], v)
			}
		}
		if mx != want {
			t.Fatalf("n=%d: max %d, want %d", n, mx, want)
		}
	}
}

// TestFillU32MatchesElem checks that the bulk draw (with its fast path for
// stretches without rejections) yields exactly the Elem sequence, on a key
// stream that contains rejected values.
func TestFillU32MatchesElem(t *testing.T) {
	const n = 1_000_000
	key := make([]byte, 32)
	rejected := 0
	for key[0] = 0; key[0] < 50 && rejected == 0; key[0]++ {
		raw := make([]byte, 3*n)
		NewPRG(key).Bytes(raw)
		for i := 0; i < n; i++ {
			if get24(raw[3*i:]) >= P {
				rejected++
			}
		}
	}
	key[0]--
	if rejected == 0 {
		t.Fatal("no key among 50 gives a rejection in 10^6 draws")
	}
	a, b := NewPRG(key), NewPRG(key)
	got := make([]uint32, n)
	a.FillU32(got[:12345])
	a.FillU32(got[12345:])
	for i, v := range got {
		if w := uint32(b.Elem()); v != w {
			t.Fatalf("key %d (%d rejections): draw %d: %d, want %d", key[0], rejected, i, v, w)
		}
	}
}

// wildInput is an activation for the kernel tests: within the clamp c,
// near either end of int64, or far outside the field.
func wildInput(rng *rand.Rand, c int64) int64 {
	switch rng.IntN(5) {
	case 0, 1:
		return rng.Int64N(2*c+1) - c
	case 2:
		return math.MinInt64 + rng.Int64N(4)
	case 3:
		return math.MaxInt64 - rng.Int64N(4)
	}
	return rng.Int64N(1<<40) - 1<<39
}
