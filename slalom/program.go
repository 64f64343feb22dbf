package slalom

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"sync"

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

// Layer is one linear layer: its public shape, quantized weights and bias,
// and the range bound the compiler proved for it.
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

// StepOp is a step T runs.
type StepOp uint8

const (
	StepQuantize StepOp = iota + 1 // input float → FP(x; l_x)
	StepLinear                     // a Layer: clamp input, outsource, lift, requant
	StepRelu
	StepClip // Lo ≤ x ≤ Hi (ReLU6)
	StepMaxPool
	StepAvgPool // RoundDiv by the window count
	StepAdd     // residual add
	StepAlias   // reshape, flatten, identity, a trailing softmax: same data
)

// Step is one operation of the quantized program over value slots.
type Step struct {
	Op     StepOp
	In     []int
	Out    int
	Layer  int // StepLinear
	Pool   tensor.PoolParams
	Divs   []int64 // StepAvgPool: divisor of every output element
	Lo, Hi int64   // StepClip
	Name   string
}

// Program is a network quantized for Slalom.
type Program struct {
	Name     string
	Lx, Lw   int
	Input    ir.Shape
	InClamp  int64 // clamp of the quantized input (the range the first layers accept)
	Layers   []*Layer
	Steps    []Step
	Slots    int
	Output   int // slot of the output
	OutScale int // l_x, or l_x + l_w when the output is a linear layer's
	OutLen   int
	// Hash is M = SHA-256 of the quantized model.
	Hash [32]byte

	luOnce  sync.Once
	lastUse []int
}

// Options sets the fixed-point scales.
type Options struct {
	Lx, Lw int // defaults 8 and 8 (the paper's)
}

// Compile quantizes an optimized float graph (ir.Optimize: BatchNorm
// folded) into a Slalom program: every linear layer with its proven
// range bound, every other step for T.
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
		return nil, fmt.Errorf("slalom: layout %v; only NCHW models are supported", g.Layout)
	}
	p := &Program{Name: g.Name, Lx: opt.Lx, Lw: opt.Lw, Input: in.Shape.Clone()}
	slot := map[string]int{}
	scale := map[string]int{} // scale of each slot's values
	newSlot := func(name string) int {
		slot[name] = p.Slots
		p.Slots++
		return p.Slots - 1
	}
	newSlot(g.Inputs[0])
	q := newSlot(g.Inputs[0] + "#q")
	p.Steps = append(p.Steps, Step{Op: StepQuantize, In: []int{0}, Out: q, Name: "quantize"})
	slot[g.Inputs[0]] = q
	scale[g.Inputs[0]] = opt.Lx
	cons := g.Consumers()
	out := g.Outputs[0]
	fused := map[string]bool{}
	get := func(n *ir.Node, i int) (int, error) {
		s, ok := slot[n.Inputs[i]]
		if !ok {
			return 0, n.Errorf("slalom: input %q is not a computed value", n.Inputs[i])
		}
		return s, nil
	}
	for _, n := range g.Nodes {
		if fused[n.Name] {
			continue
		}
		x, err := get(n, 0)
		if err != nil && n.Op != ir.OpMatMul {
			return nil, err
		}
		xs := g.Values[n.Inputs[0]].Shape
		switch n.Op {
		case ir.OpConv, ir.OpMatMul:
			l, outName, err := p.linear(g, n, cons, fused)
			if err != nil {
				return nil, err
			}
			if x, err = get(n, 0); err != nil {
				return nil, err
			}
			if scale[n.Inputs[0]] != opt.Lx {
				return nil, n.Errorf("slalom: linear layer on a value at scale %d", scale[n.Inputs[0]])
			}
			l.Requant = outName != out
			o := newSlot(outName)
			p.Steps = append(p.Steps, Step{Op: StepLinear, In: []int{x}, Out: o, Layer: l.Index, Name: l.Name})
			scale[outName] = opt.Lx
			if !l.Requant {
				scale[outName] = opt.Lx + opt.Lw
			}
		case ir.OpRelu:
			p.Steps = append(p.Steps, Step{Op: StepRelu, In: []int{x}, Out: newSlot(n.Output), Name: n.Name})
			scale[n.Output] = scale[n.Inputs[0]]
		case ir.OpClip:
			s := scale[n.Inputs[0]]
			lo, hi := math.Round(float64(n.Attrs.Min)*math.Exp2(float64(s))), math.Round(float64(n.Attrs.Max)*math.Exp2(float64(s)))
			p.Steps = append(p.Steps, Step{Op: StepClip, In: []int{x}, Out: newSlot(n.Output), Lo: int64(lo), Hi: int64(hi), Name: n.Name})
			scale[n.Output] = s
		case ir.OpMaxPool, ir.OpAvgPool:
			a := n.Attrs
			if len(xs) != 4 {
				return nil, n.Errorf("slalom: pooling needs a 4-D input")
			}
			pp := tensor.PoolParams{NC: xs[0] * xs[1], H: xs[2], W: xs[3], KH: a.Kernel[0], KW: a.Kernel[1], SH: a.Strides[0], SW: a.Strides[1],
				PadT: a.Pads[0], PadL: a.Pads[1], PadB: a.Pads[2], PadR: a.Pads[3]}
			st := Step{Op: StepMaxPool, In: []int{x}, Pool: pp, Name: n.Name}
			if n.Op == ir.OpAvgPool {
				st.Op = StepAvgPool
				st.Divs = poolDivisors(pp, a.CountIncludePad)
			}
			st.Out = newSlot(n.Output)
			p.Steps = append(p.Steps, st)
			scale[n.Output] = scale[n.Inputs[0]]
		case ir.OpReduceMean:
			if len(xs) != 4 || len(n.Attrs.Axes) != 2 || n.Attrs.Axes[0] != 2 || n.Attrs.Axes[1] != 3 {
				return nil, n.Errorf("slalom: only ReduceMean over H and W (global average pooling) is supported")
			}
			pp := tensor.PoolParams{NC: xs[0] * xs[1], H: xs[2], W: xs[3], KH: xs[2], KW: xs[3], SH: 1, SW: 1}
			p.Steps = append(p.Steps, Step{Op: StepAvgPool, In: []int{x}, Out: newSlot(n.Output), Pool: pp, Divs: poolDivisors(pp, true), Name: n.Name})
			scale[n.Output] = scale[n.Inputs[0]]
		case ir.OpAdd:
			y, err := get(n, 1)
			if err != nil {
				return nil, err
			}
			if !g.Values[n.Inputs[0]].Shape.Equal(g.Values[n.Inputs[1]].Shape) {
				return nil, n.Errorf("slalom: broadcasting Add is not supported")
			}
			if scale[n.Inputs[0]] != scale[n.Inputs[1]] {
				return nil, n.Errorf("slalom: Add of values at scales %d and %d", scale[n.Inputs[0]], scale[n.Inputs[1]])
			}
			p.Steps = append(p.Steps, Step{Op: StepAdd, In: []int{x, y}, Out: newSlot(n.Output), Name: n.Name})
			scale[n.Output] = scale[n.Inputs[0]]
		case ir.OpReshape, ir.OpIdentity, ir.OpSoftmax:
			if n.Op == ir.OpSoftmax && n.Output != out {
				return nil, n.Errorf("slalom: Softmax is supported only as the output (it is monotone)")
			}
			if n.Op == ir.OpReshape && len(xs) == 4 && xs[2]*xs[3] != 1 && g.Layout != ir.NCHW {
				return nil, n.Errorf("slalom: flatten of an NHWC tensor")
			}
			slot[n.Output] = x
			scale[n.Output] = scale[n.Inputs[0]]
		default:
			return nil, n.Errorf("slalom: op %s is not supported", n.Op)
		}
	}
	o, ok := slot[out]
	if !ok {
		return nil, fmt.Errorf("slalom: output %q is not computed", out)
	}
	p.Output, p.OutScale, p.OutLen = o, scale[out], g.Values[out].Shape.Size()
	if len(p.Layers) == 0 {
		return nil, fmt.Errorf("slalom: model %q has no linear layer", g.Name)
	}
	p.InClamp = H
	p.Hash = p.hash()
	return p, nil
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
// shape, weights and bias, and every step.
func (p *Program) hash() [32]byte {
	h := sha256.New()
	w := func(vs ...int64) {
		for _, v := range vs {
			binary.Write(h, binary.LittleEndian, v)
		}
	}
	h.Write([]byte("veil/slalom/model/v1"))
	w(int64(p.Lx), int64(p.Lw), int64(len(p.Input)))
	for _, d := range p.Input {
		w(int64(d))
	}
	for _, l := range p.Layers {
		c := l.Conv
		w(int64(l.Kind), int64(l.N), int64(l.M), int64(c.C), int64(c.H), int64(c.W), int64(c.O), int64(c.KH), int64(c.KW), int64(c.SH), int64(c.SW),
			int64(c.PadT), int64(c.PadL), int64(c.PadB), int64(c.PadR), int64(c.Group), l.Clamp)
		binary.Write(h, binary.LittleEndian, l.W)
		binary.Write(h, binary.LittleEndian, l.PW)
		binary.Write(h, binary.LittleEndian, l.B)
	}
	for _, s := range p.Steps {
		w(int64(s.Op), int64(s.Out), int64(s.Layer), s.Lo, s.Hi, int64(len(s.In)))
		for _, i := range s.In {
			w(int64(i))
		}
		pp := s.Pool
		w(int64(pp.NC), int64(pp.H), int64(pp.W), int64(pp.KH), int64(pp.KW), int64(pp.SH), int64(pp.SW), int64(pp.PadT), int64(pp.PadL), int64(pp.PadB), int64(pp.PadR))
	}
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
