package he

import (
	"crypto/sha256"
	"errors"
	"fmt"
)

// Layer is a linear layer as both parties know it: its shape and how it
// is packed into polynomials. [NewConv] and [NewMatMul] build one; the
// client and the server must build theirs from the same shape and
// [Params].
type Layer interface {
	// InputLen, WeightLen and OutputLen are the numbers of elements of
	// the layer's input, weights and output.
	InputLen() int
	WeightLen() int
	OutputLen() int
	// QueryBytes and ResponseBytes are the sizes of the client's query
	// and the server's response.
	QueryBytes() int
	ResponseBytes() int
	// Ciphertexts returns the number of ciphertexts in the query and in
	// the response.
	Ciphertexts() (query, response int)
	// Moduli returns the number of moduli of the query's ciphertexts.
	Moduli() int

	base() *layerBase
	// convInput and convWeights return the input and the weights in the
	// layout's NCHW and O×C/G×KH×KW order.
	convInput(x []uint64) []uint64
	convWeights(w []uint64) []uint64
	// clear returns W·x in the layer's output order, modulo 2^64.
	clear(w, x []uint64) []uint64
	// outIndex maps an index of the layout's N×O×OH×OW output to the
	// layer's output order.
	outIndex(i int) int
}

// layerBase is what every layer shares: the parameters, the bound on
// the weights and the packing.
type layerBase struct {
	params *Params
	wbits  int // every weight lies in [−2^(wbits−1), 2^(wbits−1))
	lay    *convLayout
	// respOff[k] is the offset of response ciphertext k in a response.
	respOff []int
	tag     [tagLen]byte
}

// newLayerBase returns the base of a layer that desc names.
func newLayerBase(params *Params, wbits int, lay *convLayout, desc string) layerBase {
	b := layerBase{params: params, wbits: wbits, lay: lay}
	h := sha256.Sum256(fmt.Appendf(nil, "veil/mpc/he layer %s; weights %d bits; packing %d %d %d %d %d level %d; params %d %d %v %d %d",
		desc, wbits, lay.kh, lay.kw, lay.gw, lay.cw, lay.ocw, lay.level,
		params.lit.LogN, params.lit.LogT, params.lit.Q, params.lit.ResponseModuli, params.lit.StatBits))
	copy(b.tag[:], h[:])
	off := headerLen
	for k := 0; k < lay.numOutputs(); k++ {
		b.respOff = append(b.respOff, off)
		off += params.ResponseBytes(lay.numTargets(k))
	}
	b.respOff = append(b.respOff, off)
	return b
}

func (b *layerBase) base() *layerBase { return b }

// QueryBytes returns the size of the client's query: 13 bytes of header
// and one fresh ciphertext per input polynomial, at the layer's level.
func (b *layerBase) QueryBytes() int {
	return headerLen + b.lay.numInputs()*b.params.freshBytes(b.lay.level)
}

// Moduli returns the number of moduli the layer's queries use: fewer
// than the parameters have when its weights are small enough.
func (b *layerBase) Moduli() int { return b.lay.level + 1 }

// checkWeightBits checks a layer's bound on its weights.
func checkWeightBits(params *Params, wbits int) error {
	if wbits < 1 || wbits > params.lit.LogT {
		return fmt.Errorf("he: weights of %d bits, want 1 to %d", wbits, params.lit.LogT)
	}
	return nil
}

// checkWeights checks that every weight, read as a signed ℓ-bit number,
// lies within the layer's bound: the noise analysis assumes it.
func (b *layerBase) checkWeights(w []uint64) error {
	if b.wbits == b.params.lit.LogT {
		return nil
	}
	shift := 64 - uint(b.params.lit.LogT)
	lim := int64(1) << (b.wbits - 1)
	for i, v := range w {
		if x := int64(v<<shift) >> shift; x < -lim || x >= lim {
			return fmt.Errorf("he: weight %d is %d, outside the layer's bound of %d bits", i, x, b.wbits)
		}
	}
	return nil
}

// ResponseBytes returns the size of the server's response: 13 bytes of
// header and one switched ciphertext per output polynomial, with c₀
// restricted to its outputs.
func (b *layerBase) ResponseBytes() int { return b.respOff[len(b.respOff)-1] }

// Ciphertexts returns the number of ciphertexts in the query and in the
// response.
func (b *layerBase) Ciphertexts() (query, response int) {
	return b.lay.numInputs(), b.lay.numOutputs()
}

// errParams reports a layer built for another parameter set.
var errParams = errors.New("he: the layer was built for other parameters")

// checkLayer checks that l was built for params.
func checkLayer(params *Params, l Layer) (*layerBase, error) {
	if l == nil {
		return nil, errors.New("he: nil layer")
	}
	lb := l.base()
	if !lb.params.equal(params) {
		return nil, errParams
	}
	return lb, nil
}
