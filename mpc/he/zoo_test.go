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
// convolutions and matrix products (as m, k, n per batch element), and
// the declared widths of their weights (fixed.Tensor.Bits; ℓ where the
// weights are computed), convolutions' first.
func zooLayers(t *testing.T, name string) (convs []tensor.ConvParams, mms [][3]int, bits []int) {
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
	var mmBits []int
	width := func(in *fixed.Instr) int {
		if wi := prog.WeightOperand(in); wi >= 0 && prog.Tensors[in.In[wi]].Bits != 0 {
			return prog.Tensors[in.In[wi]].Bits
		}
		return 64
	}
	for i := range prog.Instrs {
		in := &prog.Instrs[i]
		switch in.Op {
		case fixed.Conv:
			convs = append(convs, prog.ConvParams(in))
			bits = append(bits, width(in))
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
			mmBits = append(mmBits, width(in))
		}
	}
	return convs, mms, append(bits, mmBits...)
}

// TestZooPacking packs every convolution and matrix product of veil's
// zoo networks (no encryption), for their weights' declared widths, and
// logs the bytes each network's linear layers send and the server's
// work. VEIL_HE_ZOO=all adds the largest networks.
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
			convs, mms, bits := zooLayers(t, name)
			var up, down, cts, kernels, prods, limbs, reduced int
			add := func(l Layer) {
				q, r := l.Ciphertexts()
				up, down, cts = up+l.QueryBytes(), down+l.ResponseBytes(), cts+q+r
				lay := l.base().lay
				kernels += lay.ngb * lay.nb * lay.nob
				prods += q * lay.nob
				limbs += (lay.ngb*lay.nb*lay.nob + q*lay.nob) * l.Moduli()
				if l.Moduli() < p.top.level+1 {
					reduced++
				}
				if testing.Verbose() && name == "resnet50" {
					t.Log(l)
				}
			}
			for i, cp := range convs {
				l, err := NewConv(p, cp, bits[i])
				if err != nil {
					t.Fatal(err)
				}
				add(l)
			}
			for i, d := range mms {
				l, err := NewMatMul(p, d[0], d[1], d[2], bits[len(convs)+i])
				if err != nil {
					t.Fatal(err)
				}
				add(l)
			}
			t.Logf("%d convolutions, %d products (%d on fewer moduli): %.1f MB up, %.1f MB down, %d ciphertexts; server: %d kernel transforms, %d products, %d limb-polynomials of both (%v)",
				len(convs), len(mms), reduced, float64(up)/1e6, float64(down)/1e6, cts, kernels, prods, limbs, time.Since(start).Round(time.Millisecond))
		})
	}
}
