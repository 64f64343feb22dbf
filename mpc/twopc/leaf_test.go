package twopc

import (
	"math/rand/v2"
	"slices"
	"testing"

	"veil/mpc/ot"
)

// TestLeafAsm checks the leaf keys and words of the fast path against
// the portable one, on runs of every width and of the widths a
// comparison takes, and the keys against their definition.
func TestLeafAsm(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	runs := [][]uint8{{1}, {2}, {3}, {4}, {4, 4, 3, 3, 3}, newLeafLayout(62).widths8()}
	mixed := make([]uint8, 1000)
	for i := range mixed {
		mixed[i] = uint8(1 + rng.IntN(leafBits))
	}
	runs = append(runs, mixed)
	for _, widths := range runs {
		rots, keys := 0, 0
		for _, w := range widths {
			rots, keys = rots+int(w), keys+1<<w
		}
		k0, k1 := make([]ot.Block, rots), make([]ot.Block, rots)
		for i := range k0 {
			k0[i] = ot.Block{rng.Uint64(), rng.Uint64()}
			k1[i] = ot.Block{rng.Uint64(), rng.Uint64()}
		}
		want, got := make([]ot.Block, keys), make([]ot.Block, keys)
		leafKeysGo(k0, k1, widths, want)
		leafKeys(k0, k1, widths, got)
		if !slices.Equal(got, want) {
			t.Fatalf("widths %v: keys differ from the portable path", widths[:min(len(widths), 8)])
		}
		// Against the definition: K_w = ⊕_j k_j^{w_j}.
		r, np := 0, 0
		for _, w := range widths {
			for m := range 1 << w {
				var k ot.Block
				for j := range int(w) {
					if m>>j&1 == 1 {
						k = k.Xor(k1[r+j])
					} else {
						k = k.Xor(k0[r+j])
					}
				}
				if want[np+m] != k {
					t.Fatalf("widths %v: key %d of a leaf is not the XOR of its OTs' keys", widths[:min(len(widths), 8)], m)
				}
			}
			r, np = r+int(w), np+1<<w
		}
		wantP, gotP := make([]ot.Block, len(widths)), make([]ot.Block, len(widths))
		leafPadKeysGo(k0, widths, wantP)
		leafPadKeys(k0, widths, gotP)
		if !slices.Equal(gotP, wantP) {
			t.Fatalf("widths %v: receiver's keys differ from the portable path", widths[:min(len(widths), 8)])
		}
		// A receiver who chose 0 on every OT (its chosen messages k0)
		// holds each leaf's key of message 0.
		for l, np := 0, 0; l < len(widths); l++ {
			if wantP[l] != want[np] {
				t.Fatalf("widths %v: the receiver's key of leaf %d is not the sender's key of its message", widths[:min(len(widths), 8)], l)
			}
			np += 1 << widths[l]
		}
		wantW, gotW := make([]uint32, len(widths)), make([]uint32, len(widths))
		leafWordsGo(want, widths, wantW)
		leafWords(want, widths, gotW)
		if !slices.Equal(gotW, wantW) {
			t.Fatalf("widths %v: words differ from the portable path", widths[:min(len(widths), 8)])
		}
	}
}

// widths8 is lay's leaf widths as bytes.
func (lay *leafLayout) widths8() []uint8 {
	w := make([]uint8, len(lay.width))
	for i, b := range lay.width {
		w[i] = uint8(b)
	}
	return w
}
