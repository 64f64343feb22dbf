package fixed

import (
	"fmt"
	"math/bits"

	"veil/ir"
)

// Resource limits a program must keep to be valid. A program comes from a
// file or, as a public program, from the server over the network; these
// bounds make sure that whatever its origin, executing it cannot ask any
// party for unbounded memory or time. They are far above what real models
// need (VGG-16's largest weight holds 103 Mi elements, its largest
// activation 3.2 Mi, ResNet-50 computes 4.1 G multiply-adds) and are
// checked with overflow detection, so that no shape can wrap around.
const (
	// MaxTensorElements bounds every tensor's elements: 1 GiB of ring
	// elements.
	MaxTensorElements = 1 << 27
	// MaxLiveElements bounds the working set of an execution in the
	// clear: over the instruction order, the elements of every input and
	// value still live, plus the scratch the instruction being executed
	// needs (a convolution's unrolled image). 1 GiB of ring elements;
	// secure backends hold a small constant number of arrays per live
	// value (shares, masks), measured by veil bench.
	MaxLiveElements = 1 << 27
	// MaxParams bounds the elements of all weights together (2 GiB of
	// ring elements; a full program's weights are read from its file,
	// and memory grows only as they arrive).
	MaxParams = 1 << 28
	// MaxMACs bounds the multiply-adds of one inference (about 70 times
	// ResNet-50's), so that a small program cannot ask for days of work.
	MaxMACs = 1 << 38
)

// checkResources checks p against the limits above. The tensors' shapes
// must already be known to hold at most MaxTensorElements each, and the
// instructions to be well-formed (Validate checks both first).
func (p *Program) checkResources() error {
	var params int
	for _, t := range p.Tensors {
		if t.Kind == KindWeight {
			params += t.Shape.Size()
			if params > MaxParams {
				return fmt.Errorf("weights hold more than %d elements", MaxParams)
			}
		}
	}
	var macs uint64
	return p.walkLive(func(k int, in *Instr, held int, m uint64) error {
		var carry uint64
		if macs, carry = bits.Add64(macs, m, 0); carry != 0 || macs > MaxMACs {
			return fmt.Errorf("instruction %d (%s from node %q): the program needs more than %d multiply-adds", k, in.Op, in.Node, uint64(MaxMACs))
		}
		if held > MaxLiveElements {
			return fmt.Errorf("instruction %d (%s from node %q): executing it holds %d live elements, more than %d", k, in.Op, in.Node, held, MaxLiveElements)
		}
		return nil
	})
}

// PeakLiveElements returns the working set of an execution of a valid
// program in the clear, in elements: the most that any instruction holds
// while it runs (every input and value still live, its output and its
// scratch), the figure MaxLiveElements bounds. A secure backend holds a
// small constant number of arrays per live element.
func (p *Program) PeakLiveElements() int {
	peak := 0
	p.walkLive(func(_ int, _ *Instr, held int, _ uint64) error {
		peak = max(peak, held)
		return nil
	})
	return peak
}

// walkLive calls visit for every instruction in order with the elements
// executing it holds (see PeakLiveElements) and its multiply-adds; it
// stops at the first error, of instrCost or of visit.
func (p *Program) walkLive(visit func(k int, in *Instr, held int, macs uint64) error) error {
	last := p.LastUse()
	live := 0
	for _, id := range p.Inputs {
		live += p.Tensors[id].Shape.Size()
	}
	for k := range p.Instrs {
		in := &p.Instrs[k]
		out := p.Tensors[in.Out].Shape.Size()
		scratch, m, err := p.instrCost(in)
		if err != nil {
			return fmt.Errorf("instruction %d (%s from node %q): %w", k, in.Op, in.Node, err)
		}
		if err := visit(k, in, live+out+scratch, m); err != nil {
			return err
		}
		live += out
		for _, id := range in.In {
			if last[id] == k && p.Tensors[id].Kind != KindWeight {
				live -= p.Tensors[id].Shape.Size()
				last[id] = -1 // an instruction may read a value twice
			}
		}
	}
	return nil
}

// instrCost returns the scratch elements and the multiply-adds of one
// instruction, each checked against its limit without overflow.
func (p *Program) instrCost(in *Instr) (scratch int, macs uint64, err error) {
	mul := func(xs ...int) (uint64, bool) {
		var n uint64 = 1
		for _, x := range xs {
			hi, lo := bits.Mul64(n, uint64(x))
			if hi != 0 || lo > MaxMACs {
				return 0, false
			}
			n = lo
		}
		return n, true
	}
	out := p.Tensors[in.Out].Shape
	switch in.Op {
	case Conv:
		w := p.Tensors[in.In[1]].Shape
		// The unrolled image is K×M, K = C/Group·KH·KW = w[1]·w[2]·w[3],
		// M = N·OH·OW = out.Size()/O.
		k := w[1] * w[2] * w[3] // w is a tensor shape: no overflow
		m := 0
		if w[0] > 0 {
			m = out.Size() / w[0]
		}
		cols, ok := mul(k, m)
		if !ok || cols > MaxLiveElements {
			return 0, 0, fmt.Errorf("its unrolled image (%d×%d) holds more than %d elements", k, m, MaxLiveElements)
		}
		macs, ok = mul(out.Size(), k)
		if !ok {
			return 0, 0, fmt.Errorf("more than %d multiply-adds", uint64(MaxMACs))
		}
		return int(cols), macs, nil
	case MatMul:
		a := p.Tensors[in.In[0]].Shape
		var ok bool
		if macs, ok = mul(out.Size(), a[len(a)-1]); !ok {
			return 0, 0, fmt.Errorf("more than %d multiply-adds", uint64(MaxMACs))
		}
	case Mul, Mux, DReLU, Clip, DivPublic:
		macs = uint64(out.Size())
	case MaxPool, SumPool:
		var ok bool
		if macs, ok = mul(out.Size(), in.Kernel[0], in.Kernel[1]); !ok {
			return 0, 0, fmt.Errorf("more than %d comparisons", uint64(MaxMACs))
		}
	}
	return 0, macs, nil
}

// checkShape checks that s is a valid tensor shape within
// MaxTensorElements.
func checkShape(s ir.Shape) error {
	_, err := s.CheckedSize(MaxTensorElements)
	return err
}
