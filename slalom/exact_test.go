package slalom

import (
	"math/rand/v2"
	"testing"
)

// TestExactOnBundledModels: in every mode, the outsourced output equals
// the cleartext quantized oracle bit for bit on 500 real test images per
// bundled model (the whole test set where smaller).
func TestExactOnBundledModels(t *testing.T) {
	n := 500
	if testing.Short() {
		n = 50
	}
	for i := range bundled {
		l := loadBundled(t, i)
		want := make([][]int64, min(n, len(l.test)))
		parallel(len(want), func(k int) {
			z, err := l.p.Oracle(l.test[k].x)
			if err != nil {
				t.Error(err)
			}
			want[k] = z
		})
		for _, mode := range allModes {
			t.Run(bundled[i].name+"/"+mode.String()+"/"+mode.Check.String(), func(t *testing.T) {
				tr := newTrusted(t, l.p, mode, nil)
				if mode.Blind {
					tr.Offline(len(want))
				}
				for k := range want {
					got, err := tr.Infer(l.test[k].x)
					if err != nil {
						t.Fatal(err)
					}
					if !equal64(got, want[k]) {
						t.Fatalf("image %d: output %v, oracle %v", k, got, want[k])
					}
				}
			})
		}
	}
}

// TestExactRandomAndClamped: random inputs, and inputs far outside the
// data range that hit every clamp, match the oracle; the field path and
// the oracle agree because the clamps keep |Z| ≤ H.
func TestExactRandomAndClamped(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range bundled {
		l := loadBundled(t, i)
		tr := newTrusted(t, l.p, Mode{Verify: true, Blind: true}, nil)
		for k := 0; k < 20; k++ {
			x := make([]float32, l.p.Input.Size())
			for j := range x {
				switch k % 3 {
				case 0:
					x[j] = rng.Float32()
				case 1:
					x[j] = 1e4 * (2*rng.Float32() - 1) // hits the input clamp
				default:
					x[j] = 40
				}
			}
			want, _ := l.p.Oracle(x)
			loc, _ := l.p.Local(x)
			got, err := tr.Infer(x)
			if err != nil {
				t.Fatal(err)
			}
			if !equal64(got, want) || !equal64(loc, want) {
				t.Fatalf("%s input %d: secure %v, local %v, oracle %v", bundled[i].name, k, got, loc, want)
			}
		}
	}
}
