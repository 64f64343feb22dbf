package he

import (
	"fmt"

	"veil/tensor"
)

// MatMul is a matrix product Y = X·W of the client-and-server-shared X
// (M×K, row-major) with the server's weights W (K×N): a Gemm without its
// bias (which the server adds to its share), or a 1×1 convolution. It is
// packed as the convolution of a K-channel, M×1 image with N 1×1
// filters, so a polynomial holds m_w rows of c_w input columns and a
// kernel polynomial n_w filters, n_w·c_w·m_w ≤ N. A product W·X is run
// as (Xᵀ·Wᵀ)ᵀ by the caller, a batched product with shared weights as
// one of B·M rows, and one with weights per batch element as B layers.
type MatMul struct {
	layerBase
	m, k, n int
}

// NewMatMul packs the product of an m×k input with k×n weights of at
// most weightBits bits (see [NewConv]).
func NewMatMul(params *Params, m, k, n, weightBits int) (*MatMul, error) {
	if m < 1 || k < 1 || n < 1 {
		return nil, fmt.Errorf("he: matmul %dx%d · %dx%d: sizes must be positive", m, k, k, n)
	}
	if err := checkWeightBits(params, weightBits); err != nil {
		return nil, err
	}
	lay, err := newConvLayout(params, tensor.ConvParams{N: 1, C: k, H: m, W: 1, O: n, KH: 1, KW: 1, SH: 1, SW: 1, Group: 1}, weightBits)
	if err != nil {
		return nil, err
	}
	return &MatMul{layerBase: newLayerBase(params, weightBits, lay, fmt.Sprintf("matmul %d %d %d", m, k, n)), m: m, k: k, n: n}, nil
}

// Dims returns the layer's sizes: X is m×k, W is k×n.
func (mm *MatMul) Dims() (m, k, n int) { return mm.m, mm.k, mm.n }

// InputLen returns M·K.
func (mm *MatMul) InputLen() int { return mm.m * mm.k }

// WeightLen returns K·N.
func (mm *MatMul) WeightLen() int { return mm.k * mm.n }

// OutputLen returns M·N.
func (mm *MatMul) OutputLen() int { return mm.m * mm.n }

// String describes the layer and its packing.
func (mm *MatMul) String() string {
	l := mm.lay
	q, r := mm.Ciphertexts()
	return fmt.Sprintf("matmul %dx%d * %dx%d: %d row blocks of %d, %d columns x %d filters per polynomial; %d+%d ciphertexts on %d moduli, %d+%d bytes",
		mm.m, mm.k, mm.k, mm.n, l.th, l.kh, l.cw, l.ocw, q, r, mm.Moduli(), mm.QueryBytes(), mm.ResponseBytes())
}

// convInput transposes X (M×K) into the K×M image.
func (mm *MatMul) convInput(x []uint64) []uint64 { return transpose(x, mm.m, mm.k) }

// convWeights transposes W (K×N) into N filters of K.
func (mm *MatMul) convWeights(w []uint64) []uint64 { return transpose(w, mm.k, mm.n) }

// outIndex maps the N×M output of the convolution to Y (M×N).
func (mm *MatMul) outIndex(i int) int { return i%mm.m*mm.n + i/mm.m }

func (mm *MatMul) clear(w, x []uint64) []uint64 {
	y := make([]uint64, mm.m*mm.n)
	tensor.MatMul(y, x, w, mm.m, mm.k, mm.n)
	return y
}

// transpose returns the transpose of the r×c matrix a.
func transpose(a []uint64, r, c int) []uint64 {
	t := make([]uint64, len(a))
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			t[j*r+i] = a[i*c+j]
		}
	}
	return t
}
