package slalom

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"veil/ir"
)

// TestQuantizedAccuracy: on each bundled model's full test set, the
// Slalom quantization (l_x = l_w = 8) keeps top-1 accuracy within 0.5
// points of float.
func TestQuantizedAccuracy(t *testing.T) {
	for i := range bundled {
		t.Run(bundled[i].name, func(t *testing.T) {
			l := loadBundled(t, i)
			var fc, qc atomic.Int64
			parallel(len(l.test), func(i int) {
				e := l.test[i]
				outs, err := ir.Run(l.g, map[string]*ir.Tensor{l.g.Inputs[0]: ir.FloatTensor(l.g.Values[l.g.Inputs[0]].Shape, e.x)})
				if err != nil {
					t.Error(err)
					return
				}
				if argmaxF(outs[0].F) == e.label {
					fc.Add(1)
				}
				z, err := l.p.Oracle(e.x)
				if err != nil {
					t.Error(err)
					return
				}
				if ArgMax(z) == e.label {
					qc.Add(1)
				}
			})
			n := float64(len(l.test))
			fa, qa := float64(fc.Load())/n, float64(qc.Load())/n
			t.Logf("%s (l_x=%d, l_w=%d): %d test images, float %.2f%%, quantized %.2f%% (Δ %+.2f points)", bundled[i].name, l.p.Lx, l.p.Lw, len(l.test), 100*fa, 100*qa, 100*(qa-fa))
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

// parallel runs f(0..n-1) over GOMAXPROCS goroutines.
func parallel(n int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}
