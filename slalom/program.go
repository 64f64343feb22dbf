package slalom

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"veil/fixed"
	"veil/ir"
	"veil/tensor"
)

// LayerKind is the kind of a linear layer the device computes.
type LayerKind uint8

const (
	Dense     LayerKind = iota + 1 // Y = X·W + b, X of 1×n, W of n×m
	Conv                           // any k×k convolution with groups = 1 (pointwise when k = 1)
	Depthwise                      // grouped convolution with one input channel per group
	// Separable is a depthwise convolution followed by a pointwise one
	// with nothing between them (the paper's MobileNet-sep): one linear
	// map, outsourced and checked once.
	Separable
)

func (k LayerKind) String() string {
	switch k {
	case Dense:
		return "dense"
	case Conv:
		return "conv"
	case Depthwise:
		return "depthwise"
	case Separable:
		return "separable"
	}
	return "?"
}

// Layer is one linear layer: its public shape, quantized weights and bias
// as field elements, the range bound the compiler proved for it, and
// where it sits in the program's fixed-point instructions.
type Layer struct {
	Index int
	Name  string
	Kind  LayerKind
	Conv  tensor.ConvParams // Conv, Depthwise (N = 1)
	N, M  int               // Dense: input and output features
	// W holds the quantized weights FP(W; l_w) as residues mod P, in the
	// layout of tensor.Conv2D ([O, C/G, KH, KW]) or tensor.MatMul ([n, m]);
	// for Separable the depthwise weights at scale l_dw, with PW the
	// pointwise ones [M, Conv.O] at scale l_w − l_dw (M output channels).
	W  []uint64
	PW []uint64
	// B holds the bias FP(b; l_x + l_w) as residues mod P, per output channel.
	B []uint64
	// Clamp is A_ℓ: T clamps the layer's input to [−Clamp, Clamp] so that
	// the output is proven to satisfy |Z| ≤ Bound ≤ H.
	Clamp, Bound int64
	// Requant says T rescales the output to scale l_x (all but a final
	// logits layer).
	Requant bool
	// ClipAt and LinAt place the layer in Program.Fixed: instruction
	// ClipAt clamps its input to [−Clamp, Clamp] and instructions
	// ClipAt+1 … LinAt compute Z = f(x) + b over the integers (Conv with
	// its bias; MatMul, then Add of the bias; Separable's depthwise Conv,
	// then its pointwise Conv with the bias).
	ClipAt, LinAt int

	layerCache
}

// InLen and OutLen are the element counts of the layer's input and output.
func (l *Layer) InLen() int {
	if l.Kind == Dense {
		return l.N
	}
	return l.Conv.C * l.Conv.H * l.Conv.W
}

func (l *Layer) OutLen() int {
	if l.Kind == Dense {
		return l.M
	}
	if l.Kind == Separable {
		return l.M * l.Conv.OutH() * l.Conv.OutW()
	}
	return l.Conv.O * l.Conv.OutH() * l.Conv.OutW()
}

// Channels is the number of output channels (bias entries).
func (l *Layer) Channels() int {
	if l.Kind == Dense || l.Kind == Separable {
		return l.M
	}
	return l.Conv.O
}

// MACs is the layer's number of multiply-adds.
func (l *Layer) MACs() int64 {
	if l.Kind == Dense {
		return int64(l.N) * int64(l.M)
	}
	c := l.Conv
	m := int64(c.O) * int64(c.OutH()*c.OutW()) * int64(c.C/c.Group*c.KH*c.KW)
	if l.Kind == Separable {
		m += int64(l.M) * int64(c.O) * int64(c.OutH()*c.OutW())
	}
	return m
}

// Program is a network quantized for Slalom.
//
// Its semantics is Fixed, a program of veil's fixed-point instruction set
// (package fixed) over the integers in Z_2^64: the cleartext execution of
// Fixed (Fixed.Run, the oracle of every veil backend) on the encoded input
// (Fixed.EncodeInput, scale l_x) is the reference output, bit for bit.
// The field Z_p appears only in how T computes the linear layers (on D,
// checked and blinded): every linear layer's input is clamped (a Clip
// instruction) so that its output is proven to satisfy |Z| ≤ H, where Z_p
// and the integers agree. The quantizer's steps are fixed instructions:
//
//   - the input: Clip to [−InClamp, InClamp];
//   - a linear layer: Clip to [−Clamp, Clamp], then Conv (weight W̃ and
//     bias b̃ as weight tensors), or MatMul and Add of the bias, or (a
//     Separable layer) the depthwise Conv and the pointwise Conv; then,
//     but for a final logits layer, the requantization
//     q = (Z + 2^(l_w−1)) >> l_w: AddPublic, ScaleDown;
//   - ReLU: Relu; ReLU6 and other clips: Clip at the scaled bounds;
//   - max pooling: MaxPool; average pooling: SumPool, then DivPublic by
//     the window counts (exact rounding, a half up); global average
//     pooling: ReduceSum, then DivPublic;
//   - residual Add: Add; flatten and reshape: Reshape (Identity and a
//     trailing Softmax, which is monotone, are the same tensor).
//
// Layers describe the linear layers as the device computes them and as
// T checks them: field weights, proven bounds, kind, and where each sits
// in Fixed.
type Program struct {
	Name    string
	Lx, Lw  int
	Input   ir.Shape
	InClamp int64 // clamp of the quantized input (the range the first layers accept)
	Layers  []*Layer
	// Fixed is the quantized program T executes. Its weight tensors carry
	// no data: T's linear layers use the layers' field weights, and
	// Reference fills them in for the cleartext reference, so that T does
	// not hold every weight twice.
	Fixed    *fixed.Program
	OutScale int // l_x, or l_x + l_w when the output is a linear layer's
	OutLen   int
	// Hash is M = SHA-256 of the quantized model.
	Hash [32]byte

	planOnce sync.Once
	plan     *plan
	planErr  error

	// weights are the sources of Fixed's weight tensors, for Reference.
	weights []weightSource
	refMu   sync.Mutex
	ref     *fixed.Program // Reference's copy, for refOf
	refOf   *fixed.Program
}

// weightSource is where a weight tensor of Program.Fixed takes its data
// from: field residues of a layer, as signed integers.
type weightSource struct {
	tensor  int
	residue []uint64
}

// Reference returns Fixed with its weights: the program whose cleartext
// execution (fixed.Cleartext, Run) is Slalom's reference output. It is
// built on first use and kept.
func (p *Program) Reference() *fixed.Program {
	p.refMu.Lock()
	defer p.refMu.Unlock()
	if p.ref != nil && p.refOf == p.Fixed {
		return p.ref
	}
	q := *p.Fixed
	q.Tensors = slices.Clone(p.Fixed.Tensors)
	for _, w := range p.weights {
		t := *q.Tensors[w.tensor]
		t.Data = make([]uint64, len(w.residue))
		for i, v := range w.residue {
			t.Data[i] = uint64(lift(v))
		}
		q.Tensors[w.tensor] = &t
	}
	p.ref, p.refOf = &q, p.Fixed
	return p.ref
}

// Options sets the fixed-point scales.
type Options struct {
	Lx, Lw int // defaults 8 and 8 (the paper's)
}

// builder assembles Program.Fixed.
type builder struct {
	p  *Program
	fp *fixed.Program
}

// tensor adds a tensor and returns its id.
func (b *builder) tensor(name string, shape ir.Shape, kind fixed.Kind, scale int, data []uint64) int {
	b.fp.Tensors = append(b.fp.Tensors, &fixed.Tensor{Name: name, Shape: shape.Clone(), Kind: kind, Scale: scale, Data: data})
	return len(b.fp.Tensors) - 1
}

// emit appends in writing a new value tensor of the given shape and
// scale, and returns the tensor.
func (b *builder) emit(in fixed.Instr, name string, shape ir.Shape, scale int) int {
	in.Out = b.tensor(name, shape, fixed.KindValue, scale, nil)
	b.fp.Instrs = append(b.fp.Instrs, in)
	return in.Out
}

func (b *builder) shape(id int) ir.Shape { return b.fp.Tensors[id].Shape }
func (b *builder) scale(id int) int      { return b.fp.Tensors[id].Scale }

// clip emits Clip(x) to [lo, hi] into a new tensor called name.
func (b *builder) clip(x int, lo, hi int64, node, name string) int {
	return b.emit(fixed.Instr{Op: fixed.Clip, In: []int{x}, Min: lo, Max: hi, Node: node}, name, b.shape(x), b.scale(x))
}

// Compile quantizes an optimized float graph (ir.Optimize: BatchNorm
// folded) into a Slalom program: every linear layer with its proven
// range bound, every other step for T, all as one fixed-point program.
func Compile(g *ir.Graph, opt Options) (*Program, error) {
	if opt.Lx == 0 {
		opt.Lx = 8
	}
	if opt.Lw == 0 {
		opt.Lw = 8
	}
	if len(g.Inputs) != 1 || len(g.Outputs) != 1 {
		return nil, fmt.Errorf("slalom: model %q needs one input and one output", g.Name)
	}
	in := g.Values[g.Inputs[0]]
	if in.Shape[0] != 1 {
		return nil, fmt.Errorf("slalom: batch size %d; compile for batch 1", in.Shape[0])
	}
	if len(in.Shape) == 4 && g.Layout != ir.NCHW {
		return nil, fmt.Errorf("slalom: layout %v; convert the model with ir.ToNCHW first", g.Layout)
	}
	if opt.Lx < 1 || opt.Lx > 30 || opt.Lw < 1 || opt.Lw > 30 {
		return nil, fmt.Errorf("slalom: scales l_x = %d, l_w = %d out of [1, 30]", opt.Lx, opt.Lw)
	}
	p := &Program{Name: g.Name, Lx: opt.Lx, Lw: opt.Lw, Input: in.Shape.Clone(), InClamp: H}
	b := &builder{p: p, fp: &fixed.Program{Name: g.Name, Scale: opt.Lx, Layout: ir.NCHW.String()}}
	x := b.tensor(g.Inputs[0], in.Shape, fixed.KindInput, opt.Lx, nil)
	b.fp.Inputs = []int{x}
	tid := map[string]int{g.Inputs[0]: b.clip(x, -p.InClamp, p.InClamp, "quantize", g.Inputs[0]+"/q")}
	cons := g.Consumers()
	out := g.Outputs[0]
	fused := map[string]bool{}
	get := func(n *ir.Node, i int) (int, error) {
		s, ok := tid[n.Inputs[i]]
		if !ok {
			return 0, n.Errorf("slalom: input %q is not a computed value", n.Inputs[i])
		}
		return s, nil
	}
	for _, n := range g.Nodes {
		if fused[n.Name] {
			continue
		}
		// xi is the computed operand: the second of an Add, Sub or Mul
		// whose first is a constant.
		xi := 0
		if (n.Op == ir.OpAdd || n.Op == ir.OpSub || n.Op == ir.OpMul) && len(n.Inputs) == 2 && g.Const(n.Inputs[0]) != nil {
			xi = 1
		}
		x, err := get(n, xi)
		if err != nil {
			return nil, err
		}
		xs := g.Values[n.Inputs[xi]].Shape
		os := g.Values[n.Output].Shape
		s := b.scale(x)
		switch n.Op {
		case ir.OpConv, ir.OpMatMul:
			if s != opt.Lx {
				return nil, n.Errorf("slalom: linear layer on a value at scale %d", s)
			}
			l, outName, err := p.linear(g, n, cons, fused)
			if err != nil {
				return nil, err
			}
			l.Requant = outName != out
			tid[outName] = b.layer(l, x, n, g.Values[outName].Shape)
		case ir.OpRelu:
			tid[n.Output] = b.emit(fixed.Instr{Op: fixed.Relu, In: []int{x}, Node: n.Name}, n.Output, os, s)
		case ir.OpClip:
			sc := math.Exp2(float64(s))
			lo, hi := clipBound(float64(n.Attrs.Min)*sc), clipBound(float64(n.Attrs.Max)*sc)
			if lo > hi {
				return nil, n.Errorf("slalom: Clip to [%g, %g] is empty", n.Attrs.Min, n.Attrs.Max)
			}
			tid[n.Output] = b.emit(fixed.Instr{Op: fixed.Clip, In: []int{x}, Min: lo, Max: hi, Node: n.Name}, n.Output, os, s)
		case ir.OpMaxPool, ir.OpAvgPool:
			a := n.Attrs
			if len(xs) != 4 {
				return nil, n.Errorf("slalom: pooling needs a 4-D input")
			}
			pool := fixed.Instr{Op: fixed.MaxPool, In: []int{x}, Kernel: a.Kernel, Strides: a.Strides, Pads: a.Pads, Layout: ir.NCHW.String(), Node: n.Name}
			if n.Op == ir.OpMaxPool {
				tid[n.Output] = b.emit(pool, n.Output, os, s)
				break
			}
			pool.Op = fixed.SumPool
			sum := b.emit(pool, n.Output+"/sum", os, s)
			pp := tensor.PoolParams{NC: xs[0] * xs[1], H: xs[2], W: xs[3], KH: a.Kernel[0], KW: a.Kernel[1], SH: a.Strides[0], SW: a.Strides[1],
				PadT: a.Pads[0], PadL: a.Pads[1], PadB: a.Pads[2], PadR: a.Pads[3]}
			divs := poolDivisors(pp, a.CountIncludePad)
			tid[n.Output] = b.emit(fixed.Instr{Op: fixed.DivPublic, In: []int{sum}, Public: divs, PublicShape: ir.Shape{1, 1, pp.OutH(), pp.OutW()}, Node: n.Name}, n.Output, os, s)
		case ir.OpReduceMean:
			if len(xs) != 4 || len(n.Attrs.Axes) != 2 || n.Attrs.Axes[0] != 2 || n.Attrs.Axes[1] != 3 {
				return nil, n.Errorf("slalom: only ReduceMean over H and W (global average pooling) is supported")
			}
			sum := b.emit(fixed.Instr{Op: fixed.ReduceSum, In: []int{x}, Axes: []int{2, 3}, KeepDims: n.Attrs.KeepDims, Node: n.Name}, n.Output+"/sum", os, s)
			tid[n.Output] = b.emit(fixed.Instr{Op: fixed.DivPublic, In: []int{sum}, Public: []int64{int64(max(xs[2]*xs[3], 1))}, PublicShape: ir.Shape{}, Node: n.Name}, n.Output, os, s)
		case ir.OpReshape:
			tid[n.Output] = b.emit(fixed.Instr{Op: fixed.Reshape, In: []int{x}, Shape: os.Clone(), Node: n.Name}, n.Output, os, s)
		case ir.OpAdd, ir.OpSub, ir.OpMul:
			if k := g.Const(n.Inputs[1-xi]); k != nil {
				if n.Op == ir.OpSub && xi == 1 { // k − x = −x + k
					x = b.emit(fixed.Instr{Op: fixed.MulPublic, In: []int{x}, Public: []int64{-1}, PublicShape: ir.Shape{}, Node: n.Name}, n.Output+"/neg", xs, s)
				}
				id, err := b.public(n, x, k, s, os, n.Op == ir.OpSub && xi == 1)
				if err != nil {
					return nil, err
				}
				tid[n.Output] = id
				break
			}
			if n.Op != ir.OpAdd {
				return nil, n.Errorf("slalom: %s of two computed values is not supported", n.Op)
			}
			y, err := get(n, 1)
			if err != nil {
				return nil, err
			}
			if !xs.Equal(g.Values[n.Inputs[1]].Shape) {
				return nil, n.Errorf("slalom: broadcasting Add is not supported")
			}
			if s != b.scale(y) {
				return nil, n.Errorf("slalom: Add of values at scales %d and %d", s, b.scale(y))
			}
			tid[n.Output] = b.emit(fixed.Instr{Op: fixed.Add, In: []int{x, y}, Node: n.Name}, n.Output, os, s)
		case ir.OpTranspose:
			tid[n.Output] = b.emit(fixed.Instr{Op: fixed.Transpose, In: []int{x}, Perm: n.Attrs.Perm, Node: n.Name}, n.Output, os, s)
		case ir.OpIdentity:
			tid[n.Output] = x
		case ir.OpSoftmax, ir.OpSigmoid:
			// Monotone: T outputs the logits and the client applies the
			// function (Program.Post, in the statement).
			if n.Output != out {
				return nil, n.Errorf("slalom: %s is supported only as the output (it is monotone)", n.Op)
			}
			b.fp.Post = strings.ToLower(string(n.Op))
			tid[n.Output] = x
		default:
			return nil, n.Errorf("slalom: op %s is not supported", n.Op)
		}
	}
	o, ok := tid[out]
	if !ok {
		return nil, fmt.Errorf("slalom: output %q is not computed", out)
	}
	if len(p.Layers) == 0 {
		return nil, fmt.Errorf("slalom: model %q has no linear layer", g.Name)
	}
	b.fp.Outputs = []int{o}
	p.OutScale, p.OutLen = b.scale(o), b.shape(o).Size()
	if err := b.fp.ValidateStructure(); err != nil {
		return nil, fmt.Errorf("slalom: model %q: %w", g.Name, err)
	}
	b.fp.ComputeStats()
	p.Fixed = b.fp
	if _, err := p.plans(); err != nil {
		return nil, fmt.Errorf("slalom: model %q: %w", g.Name, err)
	}
	p.Hash = p.hash()
	return p, nil
}

// public emits n, an Add, Sub or Mul of x (at scale s) and the constant
// k (added, not subtracted, with plus: k − x as −x + k), as T's exact step
// on public values: AddPublic of ±k at scale s, or
// MulPublic by k — by an integer as it is, otherwise at PublicShift bits
// followed by a ScaleDown.
func (b *builder) public(n *ir.Node, x int, k *ir.Tensor, s int, os ir.Shape, plus bool) (int, error) {
	if k.DType != ir.Float32 {
		return 0, n.Errorf("slalom: integer constant operand")
	}
	vals := k.Floats()
	enc := make([]int64, len(vals))
	switch n.Op {
	case ir.OpAdd, ir.OpSub:
		sign := 1.0
		if n.Op == ir.OpSub && !plus {
			sign = -1
		}
		for i, v := range vals {
			enc[i] = clipBound(sign * float64(v) * math.Exp2(float64(s)))
		}
		return b.emit(fixed.Instr{Op: fixed.AddPublic, In: []int{x}, Public: enc, PublicShape: k.Shape.Clone(), Node: n.Name}, n.Output, os, s), nil
	}
	integer := true
	for i, v := range vals {
		if float64(v) != math.Round(float64(v)) || math.Abs(float64(v)) > 1<<20 {
			integer = false
		}
		enc[i] = int64(v)
	}
	if integer {
		return b.emit(fixed.Instr{Op: fixed.MulPublic, In: []int{x}, Public: enc, PublicShape: k.Shape.Clone(), Node: n.Name}, n.Output, os, s), nil
	}
	for i, v := range vals {
		if math.Abs(float64(v)) > 1<<20 {
			return 0, n.Errorf("slalom: constant factor %g is too large", v)
		}
		enc[i] = int64(math.Round(float64(v) * (1 << fixed.PublicShift)))
	}
	prod := b.emit(fixed.Instr{Op: fixed.MulPublic, In: []int{x}, Public: enc, PublicShape: k.Shape.Clone(), Node: n.Name}, n.Output+"/scaled", os, s+fixed.PublicShift)
	return b.emit(fixed.Instr{Op: fixed.ScaleDown, In: []int{prod}, Shift: fixed.PublicShift, Node: n.Name}, n.Output, os, s), nil
}

// clipBound rounds a scaled clip bound into the comparison domain of
// fixed's ops (far beyond any value a Slalom program computes).
func clipBound(v float64) int64 {
	const lim = 1 << 61
	return int64(max(min(math.Round(v), lim-1), -lim))
}

// layer emits linear layer l on x: the input clamp, the linear
// instructions, and the requantization. It returns the output tensor.
func (b *builder) layer(l *Layer, x int, n *ir.Node, outShape ir.Shape) int {
	lx, lw := b.p.Lx, b.p.Lw
	weight := func(suffix string, shape ir.Shape, scale int, w []uint64) int {
		id := b.tensor(l.Name+"/"+suffix, shape, fixed.KindWeight, scale, nil)
		b.p.weights = append(b.p.weights, weightSource{tensor: id, residue: w})
		return id
	}
	l.ClipAt = len(b.fp.Instrs)
	c := b.clip(x, -l.Clamp, l.Clamp, l.Name, l.Name+"/x")
	zs := lx + lw
	bias := weight("b", ir.Shape{l.Channels()}, zs, l.B)
	var z int
	conv := func(in int, cp tensor.ConvParams, w int, extra []int, scale int, name string) int {
		return b.emit(fixed.Instr{Op: fixed.Conv, In: append([]int{in, w}, extra...), Strides: []int{cp.SH, cp.SW},
			Pads: []int{cp.PadT, cp.PadL, cp.PadB, cp.PadR}, Group: cp.Group, Layout: ir.NCHW.String(), Node: l.Name},
			name, ir.Shape{1, cp.O, cp.OutH(), cp.OutW()}, scale)
	}
	switch l.Kind {
	case Dense:
		w := weight("w", ir.Shape{l.N, l.M}, lw, l.W)
		prod := b.emit(fixed.Instr{Op: fixed.MatMul, In: []int{c, w}, Node: l.Name}, l.Name+"/matmul", ir.Shape{1, l.M}, zs)
		z = b.emit(fixed.Instr{Op: fixed.Add, In: []int{prod, bias}, Node: l.Name}, l.Name+"/z", ir.Shape{1, l.M}, zs)
	case Separable:
		dw, pw := l.parts()
		ldw := lw / 2
		wd := weight("dw", ir.Shape{dw.Conv.O, 1, dw.Conv.KH, dw.Conv.KW}, ldw, l.W)
		d := conv(c, dw.Conv, wd, nil, lx+ldw, l.Name+"/dw")
		wp := weight("pw", ir.Shape{l.M, dw.Conv.O, 1, 1}, lw-ldw, l.PW)
		z = conv(d, pw.Conv, wp, []int{bias}, zs, l.Name+"/z")
	default:
		cp := l.Conv
		w := weight("w", ir.Shape{cp.O, cp.C / cp.Group, cp.KH, cp.KW}, lw, l.W)
		z = conv(c, cp, w, []int{bias}, zs, l.Name+"/z")
	}
	l.LinAt = len(b.fp.Instrs) - 1
	if !l.Requant {
		return b.reshape(z, outShape, n)
	}
	t := b.emit(fixed.Instr{Op: fixed.AddPublic, In: []int{z}, Public: []int64{1 << (lw - 1)}, PublicShape: ir.Shape{}, Node: l.Name}, l.Name+"/round", b.shape(z), zs)
	q := b.emit(fixed.Instr{Op: fixed.ScaleDown, In: []int{t}, Shift: lw, Node: l.Name}, l.Name+"/q", b.shape(z), lx)
	return b.reshape(q, outShape, n)
}

// reshape returns x, or x reshaped when the graph's value has another
// shape than the layer computes (it has none so far: kept for safety).
func (b *builder) reshape(x int, shape ir.Shape, n *ir.Node) int {
	if b.shape(x).Equal(shape) {
		return x
	}
	return b.emit(fixed.Instr{Op: fixed.Reshape, In: []int{x}, Shape: shape.Clone(), Node: n.Name}, n.Output, shape, b.scale(x))
}

// linear builds the Layer of a Conv, or of a MatMul with its following
// bias Add (fused).
func (p *Program) linear(g *ir.Graph, n *ir.Node, cons map[string][]*ir.Node, fused map[string]bool) (*Layer, string, error) {
	l := &Layer{Index: len(p.Layers), Name: n.Name}
	sw := math.Exp2(float64(p.Lw))
	sb := math.Exp2(float64(p.Lx + p.Lw))
	var wf, bf []float32
	outName := n.Output
	switch n.Op {
	case ir.OpConv:
		xs := g.Values[n.Inputs[0]].Shape
		w := g.Const(n.Inputs[1])
		if w == nil || len(xs) != 4 {
			return nil, "", n.Errorf("slalom: convolution needs constant weights and a 4-D input")
		}
		a := n.Attrs
		grp := max(a.Group, 1)
		l.Conv = tensor.ConvParams{N: 1, C: xs[1], H: xs[2], W: xs[3], O: w.Shape[0], KH: w.Shape[2], KW: w.Shape[3],
			SH: a.Strides[0], SW: a.Strides[1], PadT: a.Pads[0], PadL: a.Pads[1], PadB: a.Pads[2], PadR: a.Pads[3], Group: grp}
		switch {
		case grp == 1:
			l.Kind = Conv
		case grp == xs[1] && w.Shape[1] == 1:
			l.Kind = Depthwise
		default:
			return nil, "", n.Errorf("slalom: grouped convolution with %d groups is neither dense nor depthwise", grp)
		}
		wf = w.Floats()
		if len(n.Inputs) > 2 {
			b := g.Const(n.Inputs[2])
			if b == nil {
				return nil, "", n.Errorf("slalom: bias is not constant")
			}
			bf = b.Floats()
		}
		if l.Kind == Depthwise && w.Shape[0] == xs[1] {
			if pw := pointwiseAfter(g, n, cons); pw != nil {
				return p.separable(g, l, n, pw, wf, bf, fused)
			}
		}
	case ir.OpMatMul:
		xs := g.Values[n.Inputs[0]].Shape
		w := g.Const(n.Inputs[1])
		if w == nil || len(w.Shape) != 2 || len(xs) != 2 || xs[0] != 1 {
			return nil, "", n.Errorf("slalom: MatMul needs a 1×n input and constant n×m weights")
		}
		l.Kind, l.N, l.M = Dense, w.Shape[0], w.Shape[1]
		wf = w.Floats()
		// Fuse a following Add of a constant bias.
		if cs := cons[n.Output]; len(cs) == 1 && cs[0].Op == ir.OpAdd {
			add := cs[0]
			other := add.Inputs[1]
			if other == n.Output {
				other = add.Inputs[0]
			}
			if b := g.Const(other); b != nil && b.Len() == l.M {
				bf = b.Floats()
				fused[add.Name] = true
				outName = add.Output
				l.Name = add.Name
			}
		}
	}
	if k := l.depth(); k > lazyTerms {
		return nil, "", n.Errorf("slalom: dot products of %d terms exceed the exact uint64 limit of %d", k, lazyTerms)
	}
	l.W = make([]uint64, len(wf))
	wq := make([]int64, len(wf))
	for i, v := range wf {
		wq[i] = int64(math.Round(float64(v) * sw))
		l.W[i] = toField(wq[i])
	}
	ch := l.Channels()
	l.B = make([]uint64, ch)
	var maxB int64
	for i := 0; i < len(bf) && i < ch; i++ {
		b := int64(math.Round(float64(bf[i]) * sb))
		l.B[i] = toField(b)
		maxB = max(maxB, abs64(b))
	}
	// Per output channel ‖W̃_c‖_1.
	norms := make([]int64, ch)
	if l.Kind == Dense {
		for i, v := range wq {
			norms[i%l.M] += abs64(v)
		}
	} else {
		per := len(wq) / ch
		for i, v := range wq {
			norms[i/per] += abs64(v)
		}
	}
	var maxN int64 = 1
	for _, v := range norms {
		maxN = max(maxN, v)
	}
	if maxB >= H {
		return nil, "", n.Errorf("slalom: layer %s: bias %d exceeds the field's range %d; lower l_x + l_w", l.Name, maxB, H)
	}
	l.Clamp = (H - maxB) / maxN
	if l.Clamp < 1 {
		return nil, "", n.Errorf("slalom: layer %s: ‖W‖_1 = %d leaves no input range below H; lower l_w", l.Name, maxN)
	}
	l.Bound = l.Clamp*maxN + maxB
	p.Layers = append(p.Layers, l)
	return l, outName, nil
}

// depth is the number of products in one output's dot product.
func (l *Layer) depth() int {
	if l.Kind == Dense {
		return l.N
	}
	if l.Kind == Separable {
		return max(l.Conv.KH*l.Conv.KW, l.Conv.O)
	}
	return l.Conv.C / l.Conv.Group * l.Conv.KH * l.Conv.KW
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// poolDivisors returns the divisor of every output window of a pooling
// plane.
func poolDivisors(pp tensor.PoolParams, includePad bool) []int64 {
	oh, ow := pp.OutH(), pp.OutW()
	d := make([]int64, oh*ow)
	for i := 0; i < oh; i++ {
		for j := 0; j < ow; j++ {
			hs, ws := i*pp.SH-pp.PadT, j*pp.SW-pp.PadL
			var he, we int
			if includePad {
				he, we = min(hs+pp.KH, pp.H+pp.PadB), min(ws+pp.KW, pp.W+pp.PadR)
			} else {
				he, we = min(hs+pp.KH, pp.H), min(ws+pp.KW, pp.W)
				hs, ws = max(hs, 0), max(ws, 0)
			}
			d[i*ow+j] = int64(max((he-hs)*(we-ws), 1))
		}
	}
	return d
}

// hash is M = SHA-256 over the quantized model: scales, every layer's
// shape, weights, bias and place in the program, and the fixed program's
// public digest (every instruction with its public constants, every
// tensor's shape; its weights are the layers' own, signed).
func (p *Program) hash() [32]byte {
	h := sha256.New()
	w := func(vs ...int64) {
		for _, v := range vs {
			binary.Write(h, binary.LittleEndian, v)
		}
	}
	h.Write([]byte("veil/slalom/model/v2"))
	w(int64(p.Lx), int64(p.Lw), int64(len(p.Input)))
	for _, d := range p.Input {
		w(int64(d))
	}
	w(p.InClamp, int64(len(p.Layers)))
	for _, l := range p.Layers {
		c := l.Conv
		w(int64(l.Kind), int64(l.N), int64(l.M), int64(c.C), int64(c.H), int64(c.W), int64(c.O), int64(c.KH), int64(c.KW), int64(c.SH), int64(c.SW),
			int64(c.PadT), int64(c.PadL), int64(c.PadB), int64(c.PadR), int64(c.Group), l.Clamp, int64(l.ClipAt), int64(l.LinAt))
		binary.Write(h, binary.LittleEndian, l.W)
		binary.Write(h, binary.LittleEndian, l.PW)
		binary.Write(h, binary.LittleEndian, l.B)
	}
	d := p.Fixed.PublicDigest()
	h.Write(d[:])
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// MACs is the number of multiply-adds of all linear layers.
func (p *Program) MACs() int64 {
	var s int64
	for _, l := range p.Layers {
		s += l.MACs()
	}
	return s
}

// pointwiseAfter returns the 1×1 convolution that is the only consumer of
// a depthwise convolution's output, if there is one.
func pointwiseAfter(g *ir.Graph, n *ir.Node, cons map[string][]*ir.Node) *ir.Node {
	cs := cons[n.Output]
	if len(cs) != 1 || cs[0].Op != ir.OpConv || cs[0].Inputs[0] != n.Output {
		return nil
	}
	for _, o := range g.Outputs {
		if o == n.Output {
			return nil
		}
	}
	pw := cs[0]
	w := g.Const(pw.Inputs[1])
	a := pw.Attrs
	if w == nil || len(w.Shape) != 4 || w.Shape[2] != 1 || w.Shape[3] != 1 || max(a.Group, 1) != 1 ||
		a.Strides[0] != 1 || a.Strides[1] != 1 || a.Pads[0]+a.Pads[1]+a.Pads[2]+a.Pads[3] != 0 {
		return nil
	}
	if len(pw.Inputs) > 2 && g.Const(pw.Inputs[2]) == nil {
		return nil
	}
	return pw
}

// separable builds a fused depthwise + pointwise layer: weights at
// l_dw = ⌊l_w/2⌋ and l_pw = l_w − l_dw, the depthwise bias folded through
// the pointwise weights, and the range bound over the composed kernel,
// ‖K_o‖_1 = Σ_c |W̃_pw[o,c]|·Σ_ij |W̃_dw[c,i,j]|.
func (p *Program) separable(g *ir.Graph, l *Layer, dw, pw *ir.Node, wdw, bdw []float32, fused map[string]bool) (*Layer, string, error) {
	ldw := p.Lw / 2
	lpw := p.Lw - ldw
	wpw := g.Const(pw.Inputs[1])
	M, C := wpw.Shape[0], wpw.Shape[1]
	var bpw []float32
	if len(pw.Inputs) > 2 {
		bpw = g.Const(pw.Inputs[2]).Floats()
	}
	l.Kind, l.M, l.Name = Separable, M, dw.Name+"+"+pw.Name
	if k := l.depth(); k > lazyTerms {
		return nil, "", dw.Errorf("slalom: dot products of %d terms exceed %d", k, lazyTerms)
	}
	kk := l.Conv.KH * l.Conv.KW
	dwNorm := make([]int64, C)
	l.W = make([]uint64, len(wdw))
	for i, v := range wdw {
		q := int64(math.Round(float64(v) * math.Exp2(float64(ldw))))
		l.W[i] = toField(q)
		dwNorm[i/kk] += abs64(q)
	}
	wf := wpw.Floats()
	l.PW = make([]uint64, len(wf))
	l.B = make([]uint64, M)
	var maxN, maxB int64 = 1, 0
	sb := math.Exp2(float64(p.Lx + p.Lw))
	for o := 0; o < M; o++ {
		var norm int64
		bias := 0.0
		for c := 0; c < C; c++ {
			v := float64(wf[o*C+c])
			q := int64(math.Round(v * math.Exp2(float64(lpw))))
			l.PW[o*C+c] = toField(q)
			norm += abs64(q) * dwNorm[c]
			if bdw != nil {
				bias += v * float64(bdw[c])
			}
		}
		if bpw != nil {
			bias += float64(bpw[o])
		}
		b := int64(math.Round(bias * sb))
		l.B[o] = toField(b)
		maxN, maxB = max(maxN, norm), max(maxB, abs64(b))
	}
	if maxB >= H {
		return nil, "", dw.Errorf("slalom: layer %s: bias %d exceeds the field's range", l.Name, maxB)
	}
	l.Clamp = (H - maxB) / maxN
	if l.Clamp < 1 {
		return nil, "", dw.Errorf("slalom: layer %s: ‖K‖_1 = %d leaves no input range below H", l.Name, maxN)
	}
	l.Bound = l.Clamp*maxN + maxB
	fused[pw.Name] = true
	p.Layers = append(p.Layers, l)
	return l, pw.Output, nil
}

// parts returns a Separable layer's depthwise and pointwise halves as
// layers of their own (no bias).
func (l *Layer) parts() (dw, pw *Layer) {
	l.sepOnce.Do(func() {
		c := l.Conv
		l.dwPart = &Layer{Index: l.Index, Name: l.Name, Kind: Depthwise, Conv: c, W: l.W, B: make([]uint64, c.O)}
		l.pwPart = &Layer{Index: l.Index, Name: l.Name, Kind: Conv, W: l.PW, B: make([]uint64, l.M),
			Conv: tensor.ConvParams{N: 1, C: c.O, H: c.OutH(), W: c.OutW(), O: l.M, KH: 1, KW: 1, SH: 1, SW: 1, Group: 1}}
	})
	return l.dwPart, l.pwPart
}
