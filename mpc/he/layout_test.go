package he

import (
	"math/rand/v2"
	"testing"

	"veil/tensor"
)

// simulate runs the packing l in the clear: negacyclic products of the
// packed input and kernel polynomials over Z_2^64, read at the targets.
// It fails the test if an output is missed or carried twice.
func simulate(t *testing.T, l *convLayout, w, x []uint64) []uint64 {
	t.Helper()
	cp := l.cp
	ins := make([][]uint64, l.numInputs())
	for k := range ins {
		ins[k] = make([]uint64, l.dim)
		l.packInput(x, k, ins[k])
	}
	y := make([]uint64, cp.N*cp.O*l.oh*l.ow)
	seen := make([]bool, len(y))
	acc := make([]uint64, l.dim)
	for k := 0; k < l.numOutputs(); k++ {
		n, ti, tj, gb, ob := l.split(k, l.nob)
		clear(acc)
		for cb := 0; cb < l.nb; cb++ {
			in := ins[((n*l.tiles()+ti*l.tw+tj)*l.ngb+gb)*l.nb+cb]
			l.kernel(w, gb, cb, ob, func(c int, wv uint64) {
				if c < 0 || c >= l.dim {
					t.Fatalf("kernel coefficient %d outside [0, %d)", c, l.dim)
				}
				for j, v := range in {
					if i := j + c; i < l.dim {
						acc[i] += wv * v
					} else {
						acc[i-l.dim] -= wv * v
					}
				}
			})
		}
		nt := 0
		l.targets(k, func(coef, idx int) {
			if seen[idx] {
				t.Fatalf("output %d carried twice", idx)
			}
			seen[idx] = true
			y[idx] = acc[coef]
			nt++
		})
		if nt != l.numTargets(k) {
			t.Fatalf("ciphertext %d carries %d outputs, numTargets %d", k, nt, l.numTargets(k))
		}
	}
	for i, s := range seen {
		if !s {
			t.Fatalf("output %d not carried", i)
		}
	}
	return y
}

// TestLayoutsExact checks every packing of random small convolutions
// into small rings in the clear against tensor.Conv2D: the layout's
// algebra, apart from the encryption.
func TestLayoutsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	shapes, layouts := 0, 0
	for shapes < 300 {
		g := 1 + rng.IntN(3)
		cp := randConv(rng, g)
		if checkConv(cp) != nil {
			continue
		}
		cp = newPolyphase(cp).inner
		shapes++
		w := randVec(rng, cp.O*cp.C/g*cp.KH*cp.KW, 0)
		x := randVec(rng, cp.N*cp.C*cp.H*cp.W, 0)
		want := make([]uint64, cp.N*cp.O*cp.OutH()*cp.OutW())
		tensor.Conv2D(want, x, w, cp)
		dim := []int{32, 64, 256}[rng.IntN(3)]
		convLayouts(cp, dim, 1<<30, func(l *convLayout) {
			layouts++
			got := simulate(t, l, w, x)
			if i := firstDiff(got, want); i >= 0 {
				t.Fatalf("%+v, dim %d, layout %+v: output %d = %#x, want %#x", cp, dim, *l, i, got[i], want[i])
			}
		})
	}
	t.Logf("%d shapes, %d layouts", shapes, layouts)
}

func randConv(rng *rand.Rand, g int) tensor.ConvParams {
	return tensor.ConvParams{N: 1 + rng.IntN(2), C: g * (1 + rng.IntN(4)), H: 1 + rng.IntN(9), W: 1 + rng.IntN(9),
		O: g * (1 + rng.IntN(3)), KH: 1 + rng.IntN(5), KW: 1 + rng.IntN(5), SH: 1 + rng.IntN(4), SW: 1 + rng.IntN(4),
		PadT: rng.IntN(3), PadL: rng.IntN(3), PadB: rng.IntN(3), PadR: rng.IntN(3), Group: g}
}

// TestPolyphase checks the decomposition of strided convolutions into
// stride-1 ones in the clear.
func TestPolyphase(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	for n := 0; n < 2000; {
		cp := randConv(rng, 1+rng.IntN(3))
		if checkConv(cp) != nil {
			continue
		}
		n++
		d := newPolyphase(cp)
		if d.inner.SH != 1 || d.inner.SW != 1 || checkConv(d.inner) != nil {
			t.Fatalf("%+v: inner %+v", cp, d.inner)
		}
		if d.inner.OutH() != cp.OutH() || d.inner.OutW() != cp.OutW() {
			t.Fatalf("%+v: inner output %dx%d, want %dx%d", cp, d.inner.OutH(), d.inner.OutW(), cp.OutH(), cp.OutW())
		}
		w := randVec(rng, cp.O*cp.C/cp.Group*cp.KH*cp.KW, 0)
		x := randVec(rng, cp.N*cp.C*cp.H*cp.W, 0)
		want := make([]uint64, cp.N*cp.O*cp.OutH()*cp.OutW())
		tensor.Conv2D(want, x, w, cp)
		got := make([]uint64, len(want))
		tensor.Conv2D(got, d.input(x), d.weights(w), d.inner)
		if i := firstDiff(got, want); i >= 0 {
			t.Fatalf("%+v: output %d = %#x, want %#x", cp, i, got[i], want[i])
		}
	}
}

func TestChunkSizes(t *testing.T) {
	for n := 1; n < 200; n++ {
		var want []int
		for k := 1; k <= n; k++ {
			if c := ceilDiv(n, k); len(want) == 0 || want[len(want)-1] != c {
				want = append(want, c)
			}
		}
		got := chunkSizes(n)
		if len(got) != len(want) {
			t.Fatalf("chunkSizes(%d) = %v, want %v", n, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("chunkSizes(%d) = %v, want %v", n, got, want)
			}
		}
	}
}
