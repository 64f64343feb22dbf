package slalom_test

import (
	"bytes"
	"math"
	"testing"

	"veil/slalom"
	"veil/slalom/device/devicetest"
	"veil/slalom/slalomtest"
)

// chiSquareP returns the upper-tail p-value of a chi-square statistic with
// k degrees of freedom (Wilson–Hilferty; accurate to a few percent of the
// p-value for k ≥ 100 down to 1e-10).
func chiSquareP(x float64, k int) float64 {
	kf := float64(k)
	z := (math.Cbrt(x/kf) - (1 - 2/(9*kf))) / math.Sqrt(2/(9*kf))
	return 0.5 * math.Erfc(z/math.Sqrt2)
}

const bins = 256

// binOf returns bin i = [ceil(i·p/256), ceil((i+1)·p/256)).
func binOf(v uint32) int {
	i := int(uint64(v) * bins / slalom.P)
	for i+1 < bins && uint64(v) >= binStart(i+1) {
		i++
	}
	for uint64(v) < binStart(i) {
		i--
	}
	return i
}

func binStart(i int) uint64 { return (uint64(i)*slalom.P + bins - 1) / bins }

func histogram(vals []uint32) []float64 {
	h := make([]float64, bins)
	for _, v := range vals {
		h[binOf(v)]++
	}
	return h
}

// gofP is the goodness-of-fit p-value against uniform over Z_p, with the
// exact bin probabilities.
func gofP(h []float64) float64 {
	var n, chi float64
	for _, c := range h {
		n += c
	}
	for i, c := range h {
		e := n * float64(binStart(i+1)-binStart(i)) / slalom.P
		if i == bins-1 {
			e = n * float64(slalom.P-binStart(i)) / slalom.P
		}
		chi += (c - e) * (c - e) / e
	}
	return chiSquareP(chi, bins-1)
}

// twoSampleP is the chi-square test of homogeneity of two histograms.
func twoSampleP(a, b []float64) float64 {
	var na, nb float64
	for i := range a {
		na += a[i]
		nb += b[i]
	}
	var chi float64
	for i := range a {
		t := a[i] + b[i]
		ea, eb := t*na/(na+nb), t*nb/(na+nb)
		chi += (a[i]-ea)*(a[i]-ea)/ea + (b[i]-eb)*(b[i]-eb)/eb
	}
	return chiSquareP(chi, bins-1)
}

// TestDeviceViewUniform: what D receives, X̃ = X + R mod p, is uniform
// over Z_p whatever X is: all 0, all +H, all −H and a real image each pass
// a 256-bin chi-square test (N = 400,000, p-value > 1e-4), and two very
// different inputs are indistinguishable (two-sample test). A negative
// control with R uniform on [0, 2^23) fails (p-value < 1e-6).
func TestDeviceViewUniform(t *testing.T) {
	l := slalomtest.Load(t, 2)
	layer := l.P.Layers[1] // 16×28×28 = 12,544 inputs
	var img []int64
	_, err := l.P.Run(l.Test[0].X, func(ly *slalom.Layer, x []int64) ([]int64, error) {
		if ly.Index == layer.Index {
			img = append([]int64(nil), x...)
		}
		return slalomtest.FieldLinear(ly, x), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	const N = 400000
	n := len(img)
	fill := func(v int64) []int64 {
		x := make([]int64, n)
		for i := range x {
			x[i] = v
		}
		return x
	}
	inputs := []struct {
		name string
		x    []int64
	}{{"all 0", fill(0)}, {"all +H", fill(slalom.H)}, {"all -H", fill(-slalom.H)}, {"real image", img}}
	// One Blinder with a fixed pair sequence per input (T's own code path).
	hs := make([][]float64, len(inputs))
	for k, in := range inputs {
		b := slalom.NewBlinder(l.P, slalom.NewMemStore())
		var got []uint32
		for j := uint64(0); len(got) < N; j++ {
			got = append(got, b.Blind(j, layer, in.x)...)
		}
		hs[k] = histogram(got[:N])
		pv := gofP(hs[k])
		t.Logf("%s: chi-square p-value %.4f", in.name, pv)
		if pv <= 1e-4 {
			t.Errorf("%s: D's view is not uniform (p-value %.2g)", in.name, pv)
		}
	}
	if pv := twoSampleP(hs[0], hs[3]); pv <= 1e-4 {
		t.Errorf("all-zero and real-image views differ (p-value %.2g)", pv)
	} else {
		t.Logf("two-sample all 0 vs real image: p-value %.4f", pv)
	}
	if pv := twoSampleP(hs[1], hs[2]); pv <= 1e-4 {
		t.Errorf("+H and -H views differ (p-value %.2g)", pv)
	}
	// Negative control: R uniform on [0, 2^23) is not a one-time pad mod p.
	g := slalom.NewRandomPRG()
	bad := make([]uint32, N)
	for i := range bad {
		r := g.Elem() & (1<<23 - 1)
		bad[i] = uint32((uint64(slalomtest.Residue(img[i%n])) + r) % slalom.P)
	}
	pv := gofP(histogram(bad))
	t.Logf("negative control (R on [0, 2^23)): p-value %.3g", pv)
	if pv >= 1e-6 {
		t.Errorf("negative control passed the test (p-value %.3g): the test has no power", pv)
	}
}

// TestNothingSecretSent inspects every message T sends to D in every
// mode: none holds any of T's keys, the check vectors s and s̃, or an
// unblinding factor U. (What the messages do hold, public setup and
// blinded or plain activations, slalom/device's TestFramesToDevicePublic
// checks.)
func TestNothingSecretSent(t *testing.T) {
	l := slalomtest.Load(t, 2)
	for _, mode := range []slalom.Mode{{Verify: true}, {Verify: true, PerLayer: true}, {Blind: true}, {Verify: true, Blind: true}} {
		var frames [][]byte
		tr := devicetest.Recording(t, l.P, mode, &frames)
		tr.Offline(3)
		// Secrets to look for, captured before they are used.
		var secrets [][]byte
		for _, s := range slalom.Secrets(tr) {
			secrets = append(secrets, head(s))
		}
		if tr.Blinder != nil {
			for j := uint64(0); j < 3; j++ {
				for _, ly := range l.P.Layers {
					r := tr.Blinder.R(j, ly)
					x := make([]uint64, len(r))
					for i, v := range r {
						x[i] = uint64(v)
					}
					secrets = append(secrets, head(slalom.AppendResidues(nil, slalom.Forward(ly, x, false))))
				}
			}
		}
		for k := 0; k < 3; k++ {
			if _, err := tr.Infer(l.Test[k].X); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range frames {
			for _, s := range secrets {
				if bytes.Contains(f, s) {
					t.Fatalf("%v: a message to D contains a secret", mode)
				}
			}
		}
		if len(frames) == 0 {
			t.Fatalf("%v: no message to D", mode)
		}
	}
}

func head(b []byte) []byte { return b[:min(64, len(b))] }
