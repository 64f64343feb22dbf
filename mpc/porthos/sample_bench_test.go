package porthos

import (
	"bytes"
	"testing"

	"veil/mpc/prg"
)

// BenchmarkSamplers measures the byte samplers PrivateCompare draws per
// element: 64 non-zero elements of Z_p and a shuffle of 64 slots.
func BenchmarkSamplers(b *testing.B) {
	key := bytes.Repeat([]byte{9}, 32) // test-only key
	var a [64]byte
	b.Run("shuffle64", func(b *testing.B) {
		bs := &byteStream{st: prg.MustNew(key, "x"), buf: make([]byte, byteBuf), pos: byteBuf}
		for i := 0; i < b.N; i++ {
			bs.shuffle64(&a)
		}
	})
	b.Run("zpStar64", func(b *testing.B) {
		bs := &byteStream{st: prg.MustNew(key, "x"), buf: make([]byte, byteBuf), pos: byteBuf}
		for i := 0; i < b.N; i++ {
			bs.zpStar(a[:])
		}
	})
}
