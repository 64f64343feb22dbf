package fixed_test

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
	"veil/fixed"
	"veil/fixed/fixedtest"

	"veil/ir"
)

// reshapeProgram is a minimal valid program: input [1,784], one fixed.Reshape
// to target, one fixed.Relu. Tests vary the target.
func reshapeProgram(target ir.Shape) *fixed.Program {
	p := &fixed.Program{Name: "reshape", Scale: 8, PublicShift: 16,
		Tensors: []*fixed.Tensor{
			{Name: "x", Shape: ir.Shape{1, 784}, Kind: fixed.KindInput, Scale: 8},
			{Name: "r", Shape: target, Kind: fixed.KindValue, Scale: 8},
			{Name: "y", Shape: target, Kind: fixed.KindValue, Scale: 8},
		},
		Instrs: []fixed.Instr{
			{Op: fixed.Reshape, In: []int{0}, Out: 1, Shape: target},
			{Op: fixed.Relu, In: []int{1}, Out: 2},
		},
		Inputs: []int{0}, Outputs: []int{2},
	}
	p.ComputeStats()
	return p
}

// A shape whose true size is 10·2^64 + 784 (215866984·20552254·41579)
// used to pass validation as a reshape of 784 elements, because
// ir.Shape.Size wraps, and then indexed out of range in every executor.
func TestValidateRefusesWrappingShape(t *testing.T) {
	wrapped := ir.Shape{215866984, 20552254, 41579}
	if wrapped.Size() != 784 {
		t.Fatalf("test shape wraps to %d, want 784", wrapped.Size())
	}
	if err := reshapeProgram(ir.Shape{28, 28}).Validate(); err != nil {
		t.Fatalf("the honest program is refused: %v", err)
	}
	p := reshapeProgram(wrapped)
	for name, validate := range map[string]func() error{"Validate": p.Validate, "ValidatePublic": p.ValidatePublic} {
		if err := validate(); err == nil || !strings.Contains(err.Error(), "more than") {
			t.Errorf("%s: %v, want a refusal of the shape's size", name, err)
		}
	}
	// The same program arriving as a file (a server's public program).
	var buf bytes.Buffer
	if err := p.Public().Write(&buf); err != nil {
		t.Fatal(err)
	}
	if _, err := fixed.Parse(buf.Bytes()); err == nil {
		t.Error("fixed.Parse accepted a public program with a wrapping shape")
	}
}

func TestValidateEnforcesResourceLimits(t *testing.T) {
	conv := func(inShape, wShape, outShape ir.Shape, pads []int) *fixed.Program {
		p := &fixed.Program{Name: "conv", Scale: 8, PublicShift: 16,
			Tensors: []*fixed.Tensor{
				{Name: "x", Shape: inShape, Kind: fixed.KindInput, Scale: 8},
				{Name: "w", Shape: wShape, Kind: fixed.KindWeight, Scale: 8, Data: make([]uint64, wShape.Size())},
				{Name: "y", Shape: outShape, Kind: fixed.KindValue, Scale: 8},
			},
			Instrs: []fixed.Instr{{Op: fixed.Conv, In: []int{0, 1}, Out: 2, Strides: []int{1, 1}, Pads: pads, Group: 1}},
			Inputs: []int{0}, Outputs: []int{2},
		}
		p.ComputeStats()
		return p
	}
	cases := []struct {
		name string
		p    *fixed.Program
		want string // "" for valid
	}{
		{"small conv", conv(ir.Shape{1, 3, 8, 8}, ir.Shape{4, 3, 3, 3}, ir.Shape{1, 4, 6, 6}, []int{0, 0, 0, 0}), ""},
		// 4096 channels of 64×64, a 64×64 filter padded to keep 64×64:
		// tensors of 16 Mi elements each, but an unrolled image of
		// 4096·64·64 × 64·64 = 2^36 elements.
		{"unrolled image bomb", conv(ir.Shape{1, 4096, 64, 64}, ir.Shape{1, 4096, 64, 64}, ir.Shape{1, 1, 65, 65}, []int{32, 32, 32, 32}), "unrolled image"},
		{"tensor too large", reshapeProgram(ir.Shape{1 << 14, 1 << 14}), "more than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.p.Validate()
			if c.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate: %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// The largest legal program: a reshape chain whose working set is just
// under fixed.MaxLiveElements passes, one element more is refused.
func TestValidateLiveElementsBound(t *testing.T) {
	// Input of n elements, fixed.Relu to a value of n: live = 2n at the fixed.Relu.
	mk := fixedtest.ReluProgram
	if err := mk(fixed.MaxLiveElements / 2).Validate(); err != nil {
		t.Errorf("working set of exactly fixed.MaxLiveElements refused: %v", err)
	}
	if err := mk(fixed.MaxLiveElements/2 + 1).Validate(); err == nil || !strings.Contains(err.Error(), "live elements") {
		t.Errorf("working set above MaxLiveElements: %v", err)
	}
}

// PeakLiveElements counts, at each instruction, the values still live,
// its output and its scratch, and frees a value after its last reader.
func TestPeakLiveElements(t *testing.T) {
	const n = 100
	val := func(name string, shape ir.Shape) *fixed.Tensor {
		return &fixed.Tensor{Name: name, Shape: shape, Kind: fixed.KindValue, Scale: 8}
	}
	chain := &fixed.Program{Name: "chain", Scale: 8, PublicShift: 16,
		Tensors: []*fixed.Tensor{
			{Name: "x", Shape: ir.Shape{n}, Kind: fixed.KindInput, Scale: 8},
			val("a", ir.Shape{n}), val("b", ir.Shape{n}), val("c", ir.Shape{n}),
		},
		Instrs: []fixed.Instr{
			{Op: fixed.Relu, In: []int{0}, Out: 1},   // x, a: 2n
			{Op: fixed.Add, In: []int{0, 1}, Out: 2}, // x, a, b: 3n; x and a freed
			{Op: fixed.Relu, In: []int{2}, Out: 3},   // b, c: 2n
		},
		Inputs: []int{0}, Outputs: []int{3},
	}
	chain.ComputeStats()
	// A 3×3 convolution of a 1×2×8×8 image to 4×6×6: the unrolled image
	// is 2·3·3 × 36 = 648 elements, held with the image (128) and the
	// output (144).
	conv := &fixed.Program{Name: "conv", Scale: 8, PublicShift: 16,
		Tensors: []*fixed.Tensor{
			{Name: "x", Shape: ir.Shape{1, 2, 8, 8}, Kind: fixed.KindInput, Scale: 8},
			{Name: "w", Shape: ir.Shape{4, 2, 3, 3}, Kind: fixed.KindWeight, Scale: 8, Data: make([]uint64, 72)},
			val("y", ir.Shape{1, 4, 6, 6}),
		},
		Instrs: []fixed.Instr{{Op: fixed.Conv, In: []int{0, 1}, Out: 2, Strides: []int{1, 1}, Pads: []int{0, 0, 0, 0}, Group: 1}},
		Inputs: []int{0}, Outputs: []int{2},
	}
	conv.ComputeStats()
	for _, c := range []struct {
		p    *fixed.Program
		want int
	}{{chain, 3 * n}, {conv, 128 + 144 + 648}} {
		if err := c.p.Validate(); err != nil {
			t.Fatalf("%s: %v", c.p.Name, err)
		}
		if got := c.p.PeakLiveElements(); got != c.want {
			t.Errorf("%s: %d live elements, want %d", c.p.Name, got, c.want)
		}
	}
}

// The largest legal header (16 MiB of JSON, almost all of it one public
// constant) decodes within the documented 16 times its size.
func TestLargestHeaderAllocation(t *testing.T) {
	n := 1<<20 + 400<<10
	pub := make([]int64, n)
	for i := range pub {
		pub[i] = 1234567890
	}
	p := &fixed.Program{Name: "big", Scale: 8, PublicShift: 16,
		Tensors: []*fixed.Tensor{{Name: "x", Shape: ir.Shape{n}, Kind: fixed.KindInput, Scale: 8}, {Name: "y", Shape: ir.Shape{n}, Kind: fixed.KindValue, Scale: 8}},
		Instrs:  []fixed.Instr{{Op: fixed.AddPublic, In: []int{0}, Out: 1, Public: pub, PublicShape: ir.Shape{n}}},
		Inputs:  []int{0}, Outputs: []int{1}}
	p.ComputeStats()
	var b bytes.Buffer
	if err := p.Write(&b); err != nil {
		t.Fatal(err)
	}
	if hl := b.Len() - 16; hl > fixed.MaxHeader || hl < fixed.MaxHeader*9/10 {
		t.Fatalf("header of %d bytes, want just under %d", hl, fixed.MaxHeader)
	}
	var a, c runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	_, err := fixed.Parse(b.Bytes())
	runtime.ReadMemStats(&c)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.TotalAlloc - a.TotalAlloc; got > 16*fixed.MaxHeader {
		t.Errorf("decoding a %d-byte header allocated %d bytes, more than 16 times its size", b.Len(), got)
	} else {
		t.Logf("decoding a %d-byte header allocated %d bytes", b.Len(), got)
	}
}
