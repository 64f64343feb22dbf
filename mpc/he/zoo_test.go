package he

import (
	"testing"

	"veil/tensor"
)

// resnet50 returns the convolutions of ResNet-50 (v1.5, 224×224) with
// their multiplicities, and its final matmul.
func resnet50() (convs []tensor.ConvParams, reps []int) {
	add := func(n int, cp tensor.ConvParams) { convs = append(convs, cp); reps = append(reps, n) }
	add(1, conv(1, 3, 224, 224, 64, 7, 7, 2, 3, 1))
	stage := func(blocks, in, mid, hw, stride int) {
		out := 4 * mid
		add(1, conv(1, in, hw, hw, mid, 1, 1, 1, 0, 1))
		add(1, conv(1, mid, hw, hw, mid, 3, 3, stride, 1, 1))
		hw /= stride
		add(1, conv(1, mid, hw, hw, out, 1, 1, 1, 0, 1))
		add(1, conv(1, in, hw*stride, hw*stride, out, 1, 1, stride, 0, 1))
		add(blocks-1, conv(1, out, hw, hw, mid, 1, 1, 1, 0, 1))
		add(blocks-1, conv(1, mid, hw, hw, mid, 3, 3, 1, 1, 1))
		add(blocks-1, conv(1, mid, hw, hw, out, 1, 1, 1, 0, 1))
	}
	stage(3, 64, 64, 56, 1)
	stage(4, 256, 128, 56, 2)
	stage(6, 512, 256, 28, 2)
	stage(3, 1024, 512, 14, 2)
	return convs, reps
}

// TestResNet50Packing packs every layer of ResNet-50 (no encryption)
// and logs the bytes and the server's modelled work.
func TestResNet50Packing(t *testing.T) {
	p := Default()
	convs, reps := resnet50()
	var qb, rb, cts, kernels, prods int
	for i, cp := range convs {
		l, err := NewConv(p, cp)
		if err != nil {
			t.Fatal(err)
		}
		q, r := l.Ciphertexts()
		n := reps[i]
		qb += n * l.QueryBytes()
		rb += n * l.ResponseBytes()
		cts += n * (q + r)
		kernels += n * l.lay.ngb * l.lay.nb * l.lay.nob
		prods += n * q * l.lay.nob
		if testing.Verbose() {
			t.Logf("%dx %v", n, l)
		}
	}
	fc, err := NewMatMul(p, 1, 2048, 1000)
	if err != nil {
		t.Fatal(err)
	}
	qb += fc.QueryBytes()
	rb += fc.ResponseBytes()
	t.Logf("ResNet-50 linear layers: %.0f MB query + %.0f MB response, %d ciphertexts, %d kernel transforms, %d products",
		float64(qb)/1e6, float64(rb)/1e6, cts, kernels, prods)
}
