package slalom_test

import (
	"math"
	"sync/atomic"
	"testing"

	"veil/ir"
	"veil/slalom"
	"veil/slalom/slalomtest"
)

// TestQuantizedAccuracy: on each slalomtest.Bundled model's full test set, the
// Slalom quantization (l_x = l_w = 8) keeps top-1 accuracy within 0.5
// points of float.
func TestQuantizedAccuracy(t *testing.T) {
	for i := range slalomtest.Bundled {
		t.Run(slalomtest.Bundled[i].Name, func(t *testing.T) {
			l := slalomtest.Load(t, i)
			var fc, qc atomic.Int64
			slalomtest.Parallel(len(l.Test), func(i int) {
				e := l.Test[i]
				outs, err := ir.Run(l.G, map[string]*ir.Tensor{l.G.Inputs[0]: ir.FloatTensor(l.G.Values[l.G.Inputs[0]].Shape, e.X)})
				if err != nil {
					t.Error(err)
					return
				}
				if argmaxF(outs[0].F) == e.Label {
					fc.Add(1)
				}
				z, err := l.P.Oracle(e.X)
				if err != nil {
					t.Error(err)
					return
				}
				if slalom.ArgMax(z) == e.Label {
					qc.Add(1)
				}
			})
			n := float64(len(l.Test))
			fa, qa := float64(fc.Load())/n, float64(qc.Load())/n
			t.Logf("%s (l_x=%d, l_w=%d): %d test images, float %.2f%%, quantized %.2f%% (Δ %+.2f points)", slalomtest.Bundled[i].Name, l.P.Lx, l.P.Lw, len(l.Test), 100*fa, 100*qa, 100*(qa-fa))
			if math.Abs(qa-fa) > 0.005 {
				t.Errorf("quantized accuracy %.2f%% is more than 0.5 points from float %.2f%%", 100*qa, 100*fa)
			}
		})
	}
}

func argmaxF(v []float32) int {
	b := 0
	for i, x := range v {
		if x > v[b] {
			b = i
		}
	}
	return b
}
