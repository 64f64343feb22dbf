package fixed

import (
	"bytes"
	"runtime"
	"strings"
	"testing"

	"veil/ir"
)

// reshapeProgram is a minimal valid program: input [1,784], one Reshape
// to target, one Relu. Tests vary the target.
func reshapeProgram(target ir.Shape) *Program {
	p := &Program{Name: "reshape", Scale: 8, PublicShift: 16,
		Tensors: []*Tensor{
			{Name: "x", Shape: ir.Shape{1, 784}, Kind: KindInput, Scale: 8},
			{Name: "r", Shape: target, Kind: KindValue, Scale: 8},
			{Name: "y", Shape: target, Kind: KindValue, Scale: 8},
		},
		Instrs: []Instr{
			{Op: Reshape, In: []int{0}, Out: 1, Shape: target},
			{Op: Relu, In: []int{1}, Out: 2},
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
	if _, err := Parse(buf.Bytes()); err == nil {
		t.Error("Parse accepted a public program with a wrapping shape")
	}
}

func TestValidateEnforcesResourceLimits(t *testing.T) {
	conv := func(inShape, wShape, outShape ir.Shape, pads []int) *Program {
		p := &Program{Name: "conv", Scale: 8, PublicShift: 16,
			Tensors: []*Tensor{
				{Name: "x", Shape: inShape, Kind: KindInput, Scale: 8},
				{Name: "w", Shape: wShape, Kind: KindWeight, Scale: 8, Data: make([]uint64, wShape.Size())},
				{Name: "y", Shape: outShape, Kind: KindValue, Scale: 8},
			},
			Instrs: []Instr{{Op: Conv, In: []int{0, 1}, Out: 2, Strides: []int{1, 1}, Pads: pads, Group: 1}},
			Inputs: []int{0}, Outputs: []int{2},
		}
		p.ComputeStats()
		return p
	}
	cases := []struct {
		name string
		p    *Program
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
// under MaxLiveElements passes, one element more is refused.
func TestValidateLiveElementsBound(t *testing.T) {
	// Input of n elements, Relu to a value of n: live = 2n at the Relu.
	mk := func(n int) *Program {
		p := &Program{Name: "live", Scale: 8, PublicShift: 16,
			Tensors: []*Tensor{
				{Name: "x", Shape: ir.Shape{n}, Kind: KindInput, Scale: 8},
				{Name: "y", Shape: ir.Shape{n}, Kind: KindValue, Scale: 8},
			},
			Instrs: []Instr{{Op: Relu, In: []int{0}, Out: 1}},
			Inputs: []int{0}, Outputs: []int{1},
		}
		p.ComputeStats()
		return p
	}
	if err := mk(MaxLiveElements / 2).Validate(); err != nil {
		t.Errorf("working set of exactly MaxLiveElements refused: %v", err)
	}
	if err := mk(MaxLiveElements/2 + 1).Validate(); err == nil || !strings.Contains(err.Error(), "live elements") {
		t.Errorf("working set above MaxLiveElements: %v", err)
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
	p := &Program{Name: "big", Scale: 8, PublicShift: 16,
		Tensors: []*Tensor{{Name: "x", Shape: ir.Shape{n}, Kind: KindInput, Scale: 8}, {Name: "y", Shape: ir.Shape{n}, Kind: KindValue, Scale: 8}},
		Instrs:  []Instr{{Op: AddPublic, In: []int{0}, Out: 1, Public: pub, PublicShape: ir.Shape{n}}},
		Inputs:  []int{0}, Outputs: []int{1}}
	p.ComputeStats()
	var b bytes.Buffer
	if err := p.Write(&b); err != nil {
		t.Fatal(err)
	}
	if hl := b.Len() - 16; hl > maxHeader || hl < maxHeader*9/10 {
		t.Fatalf("header of %d bytes, want just under %d", hl, maxHeader)
	}
	var a, c runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	_, err := Parse(b.Bytes())
	runtime.ReadMemStats(&c)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.TotalAlloc - a.TotalAlloc; got > 16*maxHeader {
		t.Errorf("decoding a %d-byte header allocated %d bytes, more than 16 times its size", b.Len(), got)
	} else {
		t.Logf("decoding a %d-byte header allocated %d bytes", b.Len(), got)
	}
}
