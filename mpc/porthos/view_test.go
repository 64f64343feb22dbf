package porthos

import (
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"veil/fixed"
	"veil/mpc"
)

// recordNet keeps every message a party receives, by sender.
type recordNet struct {
	mpc.Network
	mu  sync.Mutex
	got [3][][]byte
}

func (r *recordNet) Recv(from mpc.Party) ([]byte, error) {
	b, err := r.Network.Recv(from)
	if err == nil {
		r.mu.Lock()
		r.got[from] = append(r.got[from], b)
		r.mu.Unlock()
	}
	return b, err
}

// views runs prog (P1's copy; P0 and P2 get its public part) on input and
// returns every party's received messages.
func views(t *testing.T, prog *fixed.Program, input []uint64) [3]*recordNet {
	t.Helper()
	local := mpc.NewLocal(3, 30*time.Second)
	var rec [3]*recordNet
	nets := make([]mpc.Network, 3)
	for p := range local {
		rec[p] = &recordNet{Network: local[p]}
		nets[p] = rec[p]
	}
	pub := prog.Public()
	_, errs := run3nets(nets, func(e *Engine) error {
		_, err := runRole(e, prog, pub, input)
		return err
	})
	for p, err := range errs {
		if err != nil {
			t.Fatalf("%s: %v", mpc.Party(p), err)
		}
	}
	return rec
}

// chiSquare2 is the two-sample chi-square statistic of two histograms of
// equal totals and its degrees of freedom (non-empty bins − 1).
func chiSquare2(a, b []int) (float64, int) {
	x, bins := 0.0, 0
	for i := range a {
		if s := a[i] + b[i]; s > 0 {
			d := float64(a[i] - b[i])
			x += d * d / float64(s)
			bins++
		}
	}
	return x, bins - 1
}

// chiQuantile approximates the chi-square quantile for df degrees of
// freedom at standard-normal quantile z (Wilson–Hilferty).
func chiQuantile(df int, z float64) float64 {
	k := float64(df)
	c := 1 - 2/(9*k) + z*math.Sqrt(2/(9*k))
	return k * c * c * c
}

// compareViews tests that two views of the same party (over the same
// program, so with the same message sizes) are indistinguishable: the
// byte histogram of everything received from each peer, and the
// histogram of the top four bits of every received byte and of every
// 8-byte word, message by message, pass a two-sample chi-square test.
// z = 4.75 puts each test's false-alarm rate near 10^−6.
func compareViews(t *testing.T, who mpc.Party, a, b *recordNet) {
	t.Helper()
	const z = 4.75
	tests, words := 0, 0
	for from := range a.got {
		if mpc.Party(from) == who {
			continue
		}
		ma, mb := a.got[from], b.got[from]
		if len(ma) != len(mb) {
			t.Fatalf("%s: %d and %d messages from %s", who, len(ma), len(mb), mpc.Party(from))
		}
		ha, hb := make([]int, 256), make([]int, 256)
		for m := range ma {
			if len(ma[m]) != len(mb[m]) {
				t.Fatalf("%s: message %d from %s has %d and %d bytes", who, m, mpc.Party(from), len(ma[m]), len(mb[m]))
			}
			na, nb := make([]int, 16), make([]int, 16)
			wa, wb := make([]int, 16), make([]int, 16)
			for i := range ma[m] {
				ha[ma[m][i]]++
				hb[mb[m][i]]++
				na[ma[m][i]>>4]++
				nb[mb[m][i]>>4]++
				if i%8 == 7 {
					wa[ma[m][i]>>4]++
					wb[mb[m][i]>>4]++
				}
			}
			if len(ma[m]) >= 1024 {
				for _, h := range [][2][]int{{na, nb}, {wa, wb}} {
					x, df := chiSquare2(h[0], h[1])
					tests++
					if df > 0 && x > chiQuantile(df, z) {
						t.Errorf("%s: message %d from %s (%d bytes): top bits differ, chi-square %.1f with %d df", who, m, mpc.Party(from), len(ma[m]), x, df)
					}
				}
				words += len(ma[m]) / 8
			}
		}
		x, df := chiSquare2(ha, hb)
		tests++
		if x > chiQuantile(df, z) {
			t.Errorf("%s: bytes from %s differ: chi-square %.1f with %d df", who, mpc.Party(from), x, df)
		}
		t.Logf("%s, from %s: %d messages, byte chi-square %.1f with %d df (limit %.1f)", who, mpc.Party(from), len(ma), x, df, chiQuantile(df, z))
	}
	t.Logf("%s: %d chi-square tests over %d words", who, tests, words)
}

// TestViewsIndependentOfInput runs LeNet on an all-zero image and on a
// real one: what P1 and P2 receive must not tell the two apart.
func TestViewsIndependentOfInput(t *testing.T) {
	prog := loadProgram(t, "fashion_lenet", 12)
	xs, _ := loadInputs(t, prog, "testdata/data/fashion-mnist/test", 0, 1)
	zero := make([]uint64, len(xs[0]))
	a, b := views(t, prog, zero), views(t, prog, xs[0])
	compareViews(t, mpc.P1, a[1], b[1])
	compareViews(t, mpc.P2, a[2], b[2])
}

// TestViewsIndependentOfWeights runs LeNet with its weights and with all
// weights zero: P0's view (all but the opened output) and P2's must not
// tell them apart.
func TestViewsIndependentOfWeights(t *testing.T) {
	prog := loadProgram(t, "fashion_lenet", 12)
	xs, _ := loadInputs(t, prog, "testdata/data/fashion-mnist/test", 0, 1)
	zero := prog.Public()
	for _, tt := range zero.Tensors {
		if tt.Kind == fixed.KindWeight {
			tt.Data = make([]uint64, tt.Shape.Size())
		}
	}
	a, b := views(t, prog, xs[0]), views(t, zero, xs[0])
	// The last message P0 gets from P1 opens the output, which may differ.
	for _, v := range []*recordNet{a[0], b[0]} {
		v.got[mpc.P1] = slices.Clone(v.got[mpc.P1][:len(v.got[mpc.P1])-1])
	}
	compareViews(t, mpc.P0, a[0], b[0])
	compareViews(t, mpc.P2, a[2], b[2])
}
