package he

import (
	"os"
	"testing"
	"time"

	"veil/fixed"
	"veil/ir"
	"veil/tensor"
	"veil/zoo"
)

// zooLayers compiles network name and returns the shapes of its
// convolutions and matrix products (as m, k, n per batch element).
func zooLayers(t *testing.T, name string) (convs []tensor.ConvParams, mms [][3]int) {
	t.Helper()
	nw, err := zoo.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	g, err := nw.Build(1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ir.Optimize(g); err != nil {
		t.Fatal(err)
	}
	prog, err := fixed.Compile(g, 12)
	if err != nil {
		t.Fatal(err)
	}
	for i := range prog.Instrs {
		in := &prog.Instrs[i]
		switch in.Op {
		case fixed.Conv:
			convs = append(convs, prog.ConvParams(in))
		case fixed.MatMul:
			a, b := prog.Tensors[in.In[0]].Shape, prog.Tensors[in.In[1]].Shape
			if len(a) == 1 {
				a = ir.Shape{1, a[0]}
			}
			n := 1
			if len(b) > 1 {
				n = b[len(b)-1]
			}
			mms = append(mms, [3]int{a[len(a)-2], a[len(a)-1], n})
		}
	}
	return convs, mms
}

// TestZooPacking packs every convolution and matrix product of veil's
// zoo networks (no encryption) and logs the bytes each network's linear
// layers send. VEIL_HE_ZOO=all adds the largest networks.
func TestZooPacking(t *testing.T) {
	names := []string{"logreg", "secureml", "minionn", "lenet", "squeezenet", "resnet18", "resnet50",
		"mobilenetv2", "mobilenetv3small", "efficientnetb0", "shufflenetv2", "googlenet"}
	if testing.Short() {
		names = names[:5]
	}
	if os.Getenv("VEIL_HE_ZOO") == "all" {
		names = zoo.Names()
	}
	p := Default()
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			convs, mms := zooLayers(t, name)
			var up, down, cts, kernels, prods int
			add := func(l Layer) {
				q, r := l.Ciphertexts()
				up, down, cts = up+l.QueryBytes(), down+l.ResponseBytes(), cts+q+r
				lay := l.base().lay
				kernels += lay.ngb * lay.nb * lay.nob
				prods += q * lay.nob
				if testing.Verbose() && name == "resnet50" {
					t.Log(l)
				}
			}
			for _, cp := range convs {
				l, err := NewConv(p, cp)
				if err != nil {
					t.Fatal(err)
				}
				add(l)
			}
			for _, d := range mms {
				l, err := NewMatMul(p, d[0], d[1], d[2])
				if err != nil {
					t.Fatal(err)
				}
				add(l)
			}
			t.Logf("%d convolutions, %d products: %.1f MB up, %.1f MB down, %d ciphertexts; server: %d kernel transforms, %d products (%v)",
				len(convs), len(mms), float64(up)/1e6, float64(down)/1e6, cts, kernels, prods, time.Since(start).Round(time.Millisecond))
		})
	}
}
