package fixed_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"veil/fixed"
	"veil/fixed/fixedtest"

	"veil/ir"
)

func TestPublicStripsWeights(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	p, err := fixed.Compile(fixedtest.MixedGraph(t, r, ir.NCHW, "softmax"), 12)
	if err != nil {
		t.Fatal(err)
	}
	pub := p.Public()
	if !p.HasWeightData() {
		t.Fatal("compiled program reports no weight data")
	}
	if pub.HasWeightData() {
		t.Fatal("Public() kept weight data")
	}
	for i, tt := range pub.Tensors {
		if tt.Kind == fixed.KindWeight && tt.Data != nil {
			t.Errorf("tensor %d (%s) still has data", i, tt.Name)
		}
		if orig := p.Tensors[i]; orig.Kind == fixed.KindWeight && len(orig.Data) != orig.Shape.Size() {
			t.Errorf("Public() changed the original's tensor %d", i)
		}
		if !tt.Shape.Equal(p.Tensors[i].Shape) || tt.Kind != p.Tensors[i].Kind || tt.Scale != p.Tensors[i].Scale {
			t.Errorf("tensor %d metadata differs", i)
		}
	}
	if err := pub.Validate(); err == nil {
		t.Error("Validate accepted weights without data")
	}
	if err := pub.ValidatePublic(); err != nil {
		t.Errorf("ValidatePublic: %v", err)
	}
	if err := p.ValidatePublic(); err != nil {
		t.Errorf("ValidatePublic on the full program: %v", err)
	}
	if p.PublicDigest() != pub.PublicDigest() {
		t.Error("digest depends on weight data")
	}
	// Any structural change changes the digest.
	other := p.Public()
	other.Instrs[0].Strides = []int{9, 9}
	if other.PublicDigest() == p.PublicDigest() {
		t.Error("digest ignores instruction attributes")
	}
	if slices.Equal(other.Instrs[0].Strides, p.Instrs[0].Strides) {
		t.Error("Public() copies share the instruction list")
	}
	// A broken public program is still refused.
	bad := p.Public()
	bad.Instrs[0].In = []int{len(bad.Tensors) - 1, bad.Instrs[0].In[1]}
	if err := bad.ValidatePublic(); err == nil {
		t.Error("ValidatePublic accepted an instruction reading an undefined value")
	}
}

func TestApplyMatchesRun(t *testing.T) {
	p := &fixed.Program{Name: "mul", Scale: 8, Tensors: []*fixed.Tensor{
		{Name: "x", Shape: ir.Shape{2, 3}, Kind: fixed.KindInput, Scale: 8},
		{Name: "w", Shape: ir.Shape{3}, Kind: fixed.KindWeight, Scale: 8, Data: []uint64{1, 2, ^uint64(0)}},
		{Name: "y", Shape: ir.Shape{2, 3}, Kind: fixed.KindValue, Scale: 16},
	}, Instrs: []fixed.Instr{{Op: fixed.Mul, In: []int{0, 1}, Out: 2}}, Inputs: []int{0}, Outputs: []int{2}}
	x := []uint64{1, 2, 3, 4, 5, 6}
	outs, err := p.Run(x)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Apply(&p.Instrs[0], [][]uint64{x, p.Tensors[1].Data})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, outs[0]) {
		t.Fatalf("Apply %v, Run %v", got, outs[0])
	}
}

// The public program is a function of the architecture and the scale
// alone: two programs that differ in their weights, the path and hash of
// their model file and their scale sweep have byte-identical public
// parts (issue 11, finding 7: Source and SourceHash used to be copied).
func TestPublicHoldsNothingFromTheWeights(t *testing.T) {
	public := func(seed uint64, source string) []byte {
		p, err := fixed.Compile(fixedtest.MixedGraph(t, rand.New(rand.NewPCG(seed, seed)), ir.NCHW, "softmax"), 12)
		if err != nil {
			t.Fatal(err)
		}
		p.Source, p.SourceHash = source, fmt.Sprintf("%064x", seed)
		p.ScaleTable = []fixed.ScaleRow{{Scale: 12, FloatAccuracy: float64(seed) / 100, FixedAccuracy: 0.5, N: 10, TruncBits: int(seed)}}
		var b bytes.Buffer
		if err := p.Public().Write(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	a := public(1, "/srv/vendor/secret-model-v1.onnx")
	b := public(2, "/home/other/model.onnx")
	if !bytes.Equal(a, b) {
		t.Errorf("public programs of the same architecture differ (%d and %d bytes)", len(a), len(b))
	}
	for _, leak := range []string{"secret-model", "/srv/vendor", "source", "scale_table"} {
		if bytes.Contains(a, []byte(leak)) {
			t.Errorf("public program contains %q", leak)
		}
	}
}

func TestStorageBits(t *testing.T) {
	for _, tc := range []struct {
		data []int64
		want int
	}{
		{nil, 16},
		{[]int64{0, 1, -1}, 16},
		{[]int64{1<<15 - 1, -1 << 15}, 16},
		{[]int64{1 << 15}, 24},
		{[]int64{-1<<15 - 1}, 24},
		{[]int64{1<<23 - 1, -1 << 23}, 24},
		{[]int64{-1 << 23, 1 << 23}, 32},
		{[]int64{-1 << 31}, 32},
		{[]int64{1 << 31}, 64},
		{[]int64{-1 << 63}, 64},
	} {
		data := make([]uint64, len(tc.data))
		for i, v := range tc.data {
			data[i] = uint64(v)
		}
		if got := fixed.StorageBits(data); got != tc.want {
			t.Errorf("StorageBits(%v) = %d, want %d", tc.data, got, tc.want)
		}
	}
}

// TestWeightBits checks that compiled weights declare the width that
// holds them, that the public program keeps it (and the digest covers
// it), and that a program whose weights exceed their declared width is
// refused.
func TestWeightBits(t *testing.T) {
	p, err := fixed.Compile(fixedtest.MixedGraph(t, rand.New(rand.NewPCG(4, 4)), ir.NCHW, "softmax"), 12)
	if err != nil {
		t.Fatal(err)
	}
	w := -1
	for i, tt := range p.Tensors {
		if tt.Kind != fixed.KindWeight {
			continue
		}
		if tt.Bits != fixed.StorageBits(tt.Data) {
			t.Errorf("weight %q declares %d bits, its data need %d", tt.Name, tt.Bits, fixed.StorageBits(tt.Data))
		}
		if pub := p.Public(); pub.Tensors[i].Bits != tt.Bits {
			t.Errorf("Public() dropped weight %q's width", tt.Name)
		}
		w = i
	}
	if w < 0 {
		t.Fatal("no weights")
	}
	wider := p.Public()
	wider.Tensors[w].Bits = 64
	if wider.PublicDigest() == p.PublicDigest() {
		t.Error("digest ignores the weights' declared width")
	}
	for _, bits := range []int{-1, 65} {
		bad := p.Public()
		bad.Tensors[w].Bits = bits
		if err := bad.ValidatePublic(); err == nil {
			t.Errorf("ValidatePublic accepted a %d-bit declaration", bits)
		}
	}
	p.Tensors[w].Data[0] = uint64(1 << 40)
	if err := p.Validate(); err == nil {
		t.Error("Validate accepted a weight beyond its declared width")
	}
}
