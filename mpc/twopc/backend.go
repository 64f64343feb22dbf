package twopc

import (
	"context"
	"fmt"

	"veil/fixed"
	"veil/ir"
	"veil/mpc"
	"veil/mpc/he"
	"veil/tensor"
)

// backend runs a program for one party of the engine's session: the
// fixed.Backend of the two-party protocol. Values are this party's
// additive shares ([]uint64) and, for weights, a *weight until an
// instruction needs it: the server uses a weight in the clear as the
// filter of a convolution or an operand of a product, and shares it
// (the server's share the data, the client's zero) for anything else.
type backend struct {
	e      *Engine
	prog   *fixed.Program
	inputs [][]uint64
	k      int // comparison width (Options.compareBits)
	// windows are the offline phase's (see schedule); the next one is
	// made before instruction windows[next].start.
	windows []window
	next    int
	// runs is how many runs the offline phase makes (0: this run's are
	// in the engine's stock; see runsAhead), whole whether the OTs and
	// triples come with the masks, stocked this run's masks from the
	// stock not yet queued, digest the program's.
	runs    int
	whole   bool
	stocked []linearMask
	digest  [32]byte
	// prods are the RLWE products by the server's weights of the
	// instructions whose masks the offline phase made, by instruction,
	// until the instruction runs.
	prods map[int][]product
}

type weight struct{ id int }

// bitShares are the XOR-shared bits a DReLU computes. A Mux takes them as
// they are; any other reader gets them converted to additive shares of
// 0/1 (B2A, once, kept in arith).
type bitShares struct {
	bits  []byte
	arith []uint64
}

func (b *backend) Begin(_ context.Context, prog *fixed.Program, inputs [][]uint64) error {
	e := b.e
	if err := mpc.CheckRole(e.me, prog, inputs); err != nil {
		return err
	}
	k, err := e.opt.compareBits(prog)
	if err != nil {
		return err
	}
	b.prog, b.inputs, b.k = prog, inputs, k
	b.windows, b.next = schedule(prog, k, 1), 0
	b.digest = prog.PublicDigest()
	b.runs = e.runsAhead(b.digest, b.windows)
	whole := len(b.windows) == 1
	if b.runs > 1 && !whole { // windows that fit the runs' masks
		b.windows = schedule(prog, k, b.runs)
	}
	if err := e.agree(b.digest, b.runs); err != nil {
		return fmt.Errorf("program check: %w", err)
	}
	e.planned = max(e.planned-1, 0)
	b.prods, e.masks = map[int][]product{}, nil
	switch {
	case b.runs == 0:
		b.takeStock()
	case b.runs > 1:
		b.startStock(whole)
	}
	return b.offline(0)
}

// offline makes the offline window that starts at instruction k, if any:
// its OTs and triples and the masks of its linear layers, for b.runs
// runs (the OTs and triples for one unless whole), or takes this run's
// from the stock.
func (b *backend) offline(k int) error {
	if b.next >= len(b.windows) || b.windows[b.next].start != k {
		return nil
	}
	w := b.windows[b.next].need
	b.next++
	end := len(b.prog.Instrs)
	if b.next < len(b.windows) {
		end = b.windows[b.next].start
	}
	switch {
	case b.runs == 0:
		if err := b.fromStock(k, end); err != nil || b.whole {
			return err
		}
		w.masks = 0
		return b.e.precompute(w, nil)
	case b.whole:
		w = w.times(b.runs)
	default:
		w = w.withMasks(b.runs)
	}
	return b.e.precompute(w, func() error { return b.precomputeLinear(k, end) })
}

// Input shares P0's input: its share the value, P1's zero.
func (b *backend) Input(i int) (fixed.Value, error) {
	if b.e.me == mpc.P0 {
		return b.inputs[i], nil
	}
	return make([]uint64, b.prog.Tensors[b.prog.Inputs[i]].Shape.Size()), nil
}

func (b *backend) Weight(id int) (fixed.Value, error) { return &weight{id: id}, nil }

// shared returns this party's share of a weight: the data at P1, zero at
// P0.
func (b *backend) shared(w *weight) []uint64 {
	t := b.prog.Tensors[w.id]
	if b.e.me == mpc.P1 {
		return t.Values()
	}
	return make([]uint64, t.Shape.Size())
}

// clear returns a weight's data at P1 and nil at P0.
func (b *backend) clear(w *weight) []uint64 {
	if b.e.me == mpc.P1 {
		return b.prog.Tensors[w.id].Values()
	}
	return nil
}

// Fuses reports the composite ops the engine runs as one protocol:
// ReLU (DReLU and the multiplexer on XOR-shared bits, without the
// conversions the lowering's primitives need).
func (b *backend) Fuses(op fixed.Op) bool { return op == fixed.Relu }

func (b *backend) Exec(k int, in *fixed.Instr, vals []fixed.Value) (fixed.Value, error) {
	e := b.e
	if e.err != nil {
		return nil, e.err
	}
	if err := b.offline(k); err != nil {
		e.err = err
		return nil, err
	}
	wi := b.prog.WeightOperand(in)
	args := make([][]uint64, len(vals))
	var sel []byte // a Mux's selector, as XOR-shared bits
	for i, v := range vals {
		switch v := v.(type) {
		case []uint64:
			args[i] = v
		case *bitShares:
			if in.Op == fixed.Mux && i == 0 {
				sel = v.bits
				continue
			}
			if v.arith == nil {
				a, err := e.p.b2a(v.bits)
				if err != nil {
					e.err = fmt.Errorf("B2A: %w", err)
					return nil, e.err
				}
				v.arith = a
			}
			args[i] = v.arith
		case *weight:
			if i == wi {
				args[i] = b.clear(v)
			} else {
				args[i] = b.shared(v)
			}
		}
	}
	var out fixed.Value
	err := e.account(string(in.Op), b.prog.Tensors[in.Out].Shape.Size(), func() error {
		var err error
		switch in.Op {
		case fixed.DReLU:
			var bits []byte
			bits, err = e.p.drelu(args[0], b.k)
			out = &bitShares{bits: bits}
		case fixed.Mux:
			out, err = b.mux(sel, args)
		default:
			out, err = b.exec(k, in, args, wi)
		}
		return err
	})
	if err != nil {
		e.err = err
		return nil, err
	}
	return out, nil
}

// mux is y + b·(x − y) for the selector b as XOR-shared bits (sel, from
// a DReLU) or additive shares of 0/1 (args[0]: its bit is the low bit of
// the shares' sum).
func (b *backend) mux(sel []byte, args [][]uint64) ([]uint64, error) {
	if sel == nil {
		sel = make([]byte, len(args[0]))
		for j, v := range args[0] {
			sel[j] = byte(v & 1)
		}
	}
	d := make([]uint64, len(args[1]))
	for j := range d {
		d[j] = args[1][j] - args[2][j]
	}
	z, err := b.e.p.mux(sel, d)
	if err != nil {
		return nil, err
	}
	for j := range z {
		z[j] += args[2][j]
	}
	return z, nil
}

// weightBits is the public bound, in bits, on the server's weight
// operand wi of in (the tensor's declared storage width, see
// fixed.Tensor.Bits), or the ring's ℓ for any weights: the RLWE layer
// sizes its noise budget by it, and the server's he.Server refuses
// weights beyond it.
func (b *backend) weightBits(in *fixed.Instr, wi int) int {
	if wi >= 0 {
		if bits := b.prog.Tensors[in.In[wi]].Bits; bits != 0 {
			return min(bits, b.e.params.LogT())
		}
	}
	return b.e.params.LogT()
}

func (b *backend) exec(k int, in *fixed.Instr, args [][]uint64, wi int) ([]uint64, error) {
	e, p := b.e, b.e.p
	shape := func(i int) ir.Shape { return b.prog.Tensors[in.In[i]].Shape }
	out := b.prog.Tensors[in.Out].Shape
	if fixed.Local(in.Op) {
		return b.prog.ApplyShare(in, args, e.me == mpc.P0) // public constants are P0's
	}
	switch in.Op {
	case fixed.ScaleDown:
		return mpc.TruncateShare(e.me, args[0], in.Shift), nil
	case fixed.Conv:
		return b.conv(k, in, args, wi == 1)
	case fixed.MatMul:
		return b.matmul(k, args, shape(0), shape(1), out, wi)
	case fixed.Mul:
		if wi >= 0 {
			x, w := args[1-wi], args[wi]
			if e.me == mpc.P1 {
				w = broadcastTo(w, shape(wi), out)
			}
			return p.mulByServer(broadcastTo(x, shape(1-wi), out), w)
		}
		return p.mul(broadcastTo(args[0], shape(0), out), broadcastTo(args[1], shape(1), out))
	case fixed.Relu:
		return p.relu(args[0], b.k)
	}
	return nil, fmt.Errorf("op %q is not supported by the 2PC backend", in.Op)
}

// broadcastTo expands x of shape s to shape out (numpy broadcasting).
func broadcastTo(x []uint64, s, out ir.Shape) []uint64 {
	if s.Equal(out) || x == nil {
		return x
	}
	idx := ir.BroadcastIndex(s, out)
	y := make([]uint64, len(idx))
	for i, j := range idx {
		y[i] = x[j]
	}
	return y
}

// conv is Conv instruction k: by the server's filter in the clear
// (byWeight) or, with a computed filter, by the products of both
// parties' shares.
func (b *backend) conv(k int, in *fixed.Instr, args [][]uint64, byWeight bool) ([]uint64, error) {
	cp := b.prog.ConvParams(in)
	x := args[0]
	nhwc := in.Layout == "NHWC"
	if nhwc {
		x = fixed.ToNCHW(x, b.prog.Tensors[in.In[0]].Shape)
	}
	var z []uint64
	var err error
	if byWeight {
		var prods []product
		if prods, err = b.online(k); err == nil {
			z, err = b.e.linearByServer(prods[0], x)
		}
	} else {
		var layer *he.Conv
		if layer, err = he.NewConv(b.e.params, cp, b.e.params.LogT()); err != nil {
			return nil, fmt.Errorf("Conv %v: %w", cp, err)
		}
		z, err = b.e.linearShared(layer, x, args[1], func(a, w []uint64) []uint64 {
			r := make([]uint64, layer.OutputLen())
			tensor.Conv2D(r, a, w, cp)
			return r
		})
	}
	if err != nil {
		return nil, fmt.Errorf("Conv %v: %w", cp, err)
	}
	if len(args) == 3 {
		plane := cp.OutH() * cp.OutW()
		for i := range z {
			z[i] += args[2][(i/plane)%cp.O]
		}
	}
	if nhwc {
		z = fixed.FromNCHW(z, b.prog.Tensors[in.Out].Shape)
	}
	return z, nil
}

func (b *backend) End(outs []fixed.Value) ([][]uint64, error) {
	var all []uint64
	for _, v := range outs {
		switch v := v.(type) {
		case []uint64:
			all = append(all, v...)
		case *weight:
			all = append(all, b.shared(v)...)
		case *bitShares:
			a, err := b.e.p.b2a(v.bits)
			if err != nil {
				return nil, fmt.Errorf("B2A: %w", err)
			}
			all = append(all, a...)
		}
	}
	if len(b.prods) != 0 || len(b.e.masks) != 0 || len(b.stocked) != 0 {
		return nil, errMasks
	}
	opened, err := b.e.reveal(all)
	if err != nil || b.e.me != mpc.P0 {
		return nil, err
	}
	res := make([][]uint64, len(outs))
	for i, id := range b.prog.Outputs {
		k := b.prog.Tensors[id].Shape.Size()
		res[i], opened = opened[:k:k], opened[k:]
	}
	return res, nil
}
