package he

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"veil/tensor"
)

func conv(n, c, h, w, o, kh, kw, s, pad, g int) tensor.ConvParams {
	return tensor.ConvParams{N: n, C: c, H: h, W: w, O: o, KH: kh, KW: kw, SH: s, SW: s,
		PadT: pad, PadL: pad, PadB: pad, PadR: pad, Group: g}
}

var convCases = []struct {
	name string
	cp   tensor.ConvParams
	slow bool
}{
	{"3x3", conv(1, 2, 5, 5, 3, 3, 3, 1, 0, 1), false},
	{"3x3 pad", conv(1, 3, 8, 8, 4, 3, 3, 1, 1, 1), false},
	{"1x1", conv(1, 16, 7, 7, 8, 1, 1, 1, 0, 1), false},
	{"1x1 stride 2", conv(1, 8, 14, 14, 8, 1, 1, 2, 0, 1), false},
	{"3x3 stride 2", conv(1, 4, 15, 15, 4, 3, 3, 2, 1, 1), false},
	{"asymmetric pads and strides", tensor.ConvParams{N: 1, C: 3, H: 9, W: 11, O: 5, KH: 3, KW: 2, SH: 2, SW: 3, PadT: 0, PadL: 2, PadB: 1, PadR: 0, Group: 1}, false},
	{"grouped", conv(1, 8, 6, 6, 12, 3, 3, 1, 1, 4), false},
	{"depthwise", conv(1, 16, 7, 7, 16, 3, 3, 1, 1, 16), false},
	{"depthwise x2 stride 2", conv(1, 8, 10, 10, 16, 3, 3, 2, 1, 8), false},
	{"kernel larger than input", conv(1, 2, 3, 3, 2, 5, 5, 1, 2, 1), false},
	{"batch", conv(3, 2, 6, 6, 2, 3, 3, 1, 1, 1), false},
	{"7x7 stride 2 tiled", conv(1, 3, 96, 96, 4, 7, 7, 2, 3, 1), false},
	{"LeNet 5x5 on 28x28", conv(1, 1, 28, 28, 6, 5, 5, 1, 0, 1), false},
	{"LeNet 5x5 on 12x12x6", conv(1, 6, 12, 12, 16, 5, 5, 1, 0, 1), false},
	{"ResNet 3x3 on 56x56x16", conv(1, 16, 56, 56, 16, 3, 3, 1, 1, 1), false},
	{"MobileNet depthwise 3x3 on 112x112x32", conv(1, 32, 112, 112, 32, 3, 3, 1, 1, 32), false},
	{"MobileNet depthwise 3x3/2 on 112x112x64", conv(1, 64, 112, 112, 64, 3, 3, 2, 1, 64), false},
	{"ResNeXt grouped 3x3 g32 on 14x14x256", conv(1, 256, 14, 14, 256, 3, 3, 1, 1, 32), false},
	{"EfficientNet depthwise 5x5/2 on 28x28x144", conv(1, 144, 28, 28, 144, 5, 5, 2, 2, 144), false},
	{"ResNet 3x3 on 56x56x64", conv(1, 64, 56, 56, 64, 3, 3, 1, 1, 1), true},
	{"ResNet-50 conv1 7x7/2 on 224x224x3", conv(1, 3, 224, 224, 64, 7, 7, 2, 3, 1), true},
}

// weightBounds are the weight bounds the exactness tests run: any ℓ-bit
// weights and 16-bit ones (on fewer moduli where the layer allows).
var weightBounds = []int{64, 16}

// boundedWeights returns n weights uniform within a wbits bound (uniform
// mod 2^64 for 64), the first two at its extremes.
func boundedWeights(rng *rand.Rand, n, wbits int) []uint64 {
	if wbits == 64 {
		return randVec(rng, n, 0)
	}
	w := make([]uint64, n)
	for i := range w {
		w[i] = uint64(rng.Int64N(1<<wbits) - 1<<(wbits-1))
	}
	for i, v := range []int64{-1 << (wbits - 1), 1<<(wbits-1) - 1} {
		if i < n {
			w[i] = uint64(v)
		}
	}
	return w
}

func TestConvExact(t *testing.T) {
	p := Default()
	ps := newParties(t, p)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range convCases {
		for _, wbits := range weightBounds {
			t.Run(fmt.Sprintf("%s/%d-bit weights", tc.name, wbits), func(t *testing.T) {
				if tc.slow && testing.Short() {
					t.Skip("slow")
				}
				l, err := NewConv(p, tc.cp, wbits)
				if err != nil {
					t.Fatal(err)
				}
				t.Log(l)
				ps.checkConv(t, rng, l, tc.cp, boundedWeights(rng, l.WeightLen(), wbits))
			})
		}
	}
}

// TestWeightsBeyondBoundRefused checks that the server refuses weights
// beyond the layer's bound, on both evaluation paths, and that a layer
// refuses a bound outside 1…ℓ.
func TestWeightsBeyondBoundRefused(t *testing.T) {
	p := Default()
	ps := newParties(t, p)
	l, err := NewConv(p, conv(1, 2, 6, 6, 2, 3, 3, 1, 1, 1), 16)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]uint64, l.InputLen())
	q, err := ps.c.EncryptInput(l, x)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []int64{1 << 15, -1<<15 - 1, 1 << 40} {
		w := make([]uint64, l.WeightLen())
		w[3] = uint64(v)
		if _, _, err := ps.s.Eval(l, w, x, q); err == nil || !strings.Contains(err.Error(), "weight 3") {
			t.Errorf("Eval with weight %d: %v, want a refusal naming weight 3", v, err)
		}
		if _, err := ps.s.NewKernels(l, w); err == nil || !strings.Contains(err.Error(), "weight 3") {
			t.Errorf("NewKernels with weight %d: %v, want a refusal naming weight 3", v, err)
		}
	}
	for _, wbits := range []int{0, -1, 65} {
		if _, err := NewConv(p, conv(1, 2, 6, 6, 2, 3, 3, 1, 1, 1), wbits); err == nil {
			t.Errorf("NewConv accepted %d-bit weights", wbits)
		}
		if _, err := NewMatMul(p, 1, 4, 4, wbits); err == nil {
			t.Errorf("NewMatMul accepted %d-bit weights", wbits)
		}
	}
}

func TestNewConvRefuses(t *testing.T) {
	p := Default()
	ok := conv(1, 4, 8, 8, 4, 3, 3, 1, 1, 1)
	mod := func(f func(*tensor.ConvParams)) tensor.ConvParams { c := ok; f(&c); return c }
	for _, tc := range []struct {
		name string
		cp   tensor.ConvParams
		want string
	}{
		{"zero batch", mod(func(c *tensor.ConvParams) { c.N = 0 }), "positive"},
		{"zero stride", mod(func(c *tensor.ConvParams) { c.SH = 0 }), "positive"},
		{"negative pad", mod(func(c *tensor.ConvParams) { c.PadL = -1 }), "padding"},
		{"groups", mod(func(c *tensor.ConvParams) { c.Group = 3 }), "divisible"},
		{"kernel beyond the padded input", mod(func(c *tensor.ConvParams) { c.KH = 11 }), "larger"},
		{"kernel beyond a polynomial", conv(1, 1, 100, 100, 1, 91, 91, 1, 0, 1), "does not fit"},
		{"too many elements", conv(1<<20, 1<<10, 1<<10, 1, 1, 1, 1, 1, 0, 1), "2^31"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewConv(p, tc.cp, p.LogT())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewConv: %v, want an error about %q", err, tc.want)
			}
		})
	}
	if _, err := NewMatMul(p, 0, 3, 3, p.LogT()); err == nil {
		t.Error("NewMatMul accepted an empty matrix")
	}
	if _, err := (&Client{params: p}).EncryptInput(nil, nil); err == nil {
		t.Error("EncryptInput accepted a nil layer")
	}
}
