package porthos

import (
	"bytes"
	"testing"

	"veil/mpc/prg"
)

// TestByteStreamMatchesPrg checks that the buffered samplers draw exactly
// what prg.Stream's Mod, ModNonZero and Perm draw from the same stream.
func TestByteStreamMatchesPrg(t *testing.T) {
	key := bytes.Repeat([]byte{9}, 32) // test-only key
	ref := prg.MustNew(key, "x")
	bs := &byteStream{st: prg.MustNew(key, "x"), buf: make([]byte, byteBuf), pos: byteBuf}
	var perm [64]byte
	refPerm := make([]int, 64)
	for round := 0; round < 3000; round++ {
		n := 1 + round%97
		got := make([]byte, n)
		switch round % 3 {
		case 0:
			bs.zp(got)
			for i := range got {
				if want := ref.Mod(prime); got[i] != want {
					t.Fatalf("round %d: zp[%d] = %d, prg gives %d", round, i, got[i], want)
				}
			}
		case 1:
			bs.zpStar(got)
			for i := range got {
				if want := ref.ModNonZero(prime); got[i] != want {
					t.Fatalf("round %d: zpStar[%d] = %d, prg gives %d", round, i, got[i], want)
				}
			}
		default:
			bs.perm64(&perm)
			ref.Perm(refPerm)
			for i := range perm {
				if int(perm[i]) != refPerm[i] {
					t.Fatalf("round %d: perm %v, prg gives %v", round, perm, refPerm)
				}
			}
		}
	}
}
