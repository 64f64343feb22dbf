package slalom

import (
	"math"
	"testing"
)

func BenchmarkDecodeStructured(b *testing.B) {
	const ch, plane = 64, 224 * 224
	n := ch * plane
	in := make([]byte, rb*n)
	g := NewRandomPRG()
	for i := 0; i < n; i++ {
		put24(in[rb*i:], uint32(g.Elem()))
	}
	sec := &layerSecret{}
	for r := 0; r < 2; r++ {
		sec.rch[r] = make([]uint32, ch)
		sec.rsp[r] = make([]uint32, plane)
		g.FillU32(sec.rch[r])
		g.FillU32(sec.rsp[r])
	}
	z := make([]int64, n)
	b.SetBytes(int64(n))
	for i := 0; i < b.N; i++ {
		decodeStructured(z, in, sec, post{k: 8, lo: 0, hi: math.MaxInt64}, nil, nil)
	}
}
