package slalom

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"unsafe"

	"veil/fixed"
)

// The executor: T (and D in the one-round-trip mode, and the baseline)
// run Program.Fixed through fixed's program walker ((*fixed.Program).
// Execute) with the backend below. The linear layers go to a linear
// function (outsourced to D and checked, or computed locally); every
// other instruction T computes in the clear, with fixed's oracle
// (fixed.Cleartext) or, for the few ops on the hot path, with kernels of
// its own that compute the same values. So T supports every op of the
// fixed instruction set, and its output is the oracle's whenever the
// linear function's is.
//
// A layer's instructions run fused: the input Clip is applied while the
// input is encoded for D (the layer's Clamp), and the requantization and
// activation after the layer (AddPublic 2^(k−1), ScaleDown k, then Relu
// or Clip, each read only by the next) in the same row pass that decodes
// D's answer. The plan (see newPlan) recognizes these runs when the
// program is prepared; Exec then returns the values computed ahead for
// the instructions that follow.

// LinearFunc computes one linear layer for T's program executor: given
// the clamped signed input (|x| ≤ Clamp), it returns Z = f(x) + b as signed
// integers, or an error that aborts the inference.
type LinearFunc func(l *Layer, x []int64) ([]int64, error)

// Run executes the program on one float input. Every instruction but the
// linear layers is computed here (in T); the linear layers go to lin.
// It returns the output as integers at scale OutScale.
func (p *Program) Run(input []float32, lin LinearFunc) ([]int64, error) {
	return p.run(input, lin, nil)
}

// post is what follows a linear layer, fused into its last pass over the
// output: requantization by k bits (0: none), then a clamp to [lo, hi]
// (a ReLU: [0, ∞); ReLU6: [0, 6·2^l_x]; none: the whole int64 range).
type post struct {
	k      int
	lo, hi int64
}

func noPost() post { return post{lo: math.MinInt64, hi: math.MaxInt64} }

func (q post) apply(z []int64) {
	for i, v := range z {
		z[i] = q.one(v)
	}
}

// one applies the post-processing to a single value.
func (q post) one(v int64) int64 {
	if q.k > 0 {
		v = (v + int64(1)<<(q.k-1)) >> q.k
	}
	return min(max(v, q.lo), q.hi)
}

// fusedLinear is the executor's internal form of a linear layer: x is
// not yet clamped (the implementation clamps it to l.Clamp as it reads
// it), and the result must have q applied.
type fusedLinear func(l *Layer, x []int64, q post) ([]int64, error)

// adapt turns a LinearFunc into a fusedLinear.
func adapt(lin LinearFunc, mem *arena) fusedLinear {
	return func(l *Layer, x []int64, q post) ([]int64, error) {
		xc := mem.get(len(x))
		for i, v := range x {
			xc[i] = clamp(v, l.Clamp)
		}
		z, err := lin(l, xc)
		mem.put(xc)
		if err != nil {
			return nil, err
		}
		if len(z) != l.OutLen() {
			return nil, fmt.Errorf("slalom: layer %d (%s): %d outputs, want %d", l.Index, l.Name, len(z), l.OutLen())
		}
		q.apply(z)
		return z, nil
	}
}

// Quantize returns X_0 = clamp(FP(x; l_x)), the program's quantized input
// (fixed.Encode at scale l_x, clamped to InClamp as the program's first
// instruction does).
func (p *Program) Quantize(input []float32) ([]int64, error) {
	q := make([]int64, len(input))
	return q, p.QuantizeInto(q, input)
}

// QuantizeInto is Quantize into q (of the input's length).
func (p *Program) QuantizeInto(q []int64, input []float32) error {
	if len(input) != p.Input.Size() {
		return fmt.Errorf("slalom: input of %d values, want %d", len(input), p.Input.Size())
	}
	q = q[:len(input)]
	for i, v := range input {
		q[i] = clamp(int64(fixed.Encode(float64(v), p.Lx)), p.InClamp)
	}
	return nil
}

// arena recycles activation buffers between instructions and inferences,
// so that T does not pay for zeroing and faulting in fresh memory at
// every layer.
type arena struct{ free map[int][][]int64 }

func (a *arena) get(n int) []int64 {
	if a != nil {
		if l := a.free[n]; len(l) > 0 {
			b := l[len(l)-1]
			a.free[n] = l[:len(l)-1]
			return b
		}
	}
	return make([]int64, n)
}

func (a *arena) put(b []int64) {
	if a != nil && b != nil {
		if a.free == nil {
			a.free = map[int][][]int64{}
		}
		a.free[len(b)] = append(a.free[len(b)], b)
	}
}

// action is what the executor does at an instruction.
type action uint8

const (
	actClear  action = iota // compute it in the clear
	actClip                 // a layer's input Clip: hand the input on; the layer clamps as it reads
	actLinear               // a layer's first linear instruction: the whole layer and its fused post-processing
	actDone                 // computed with its layer: the layer's value, or nothing (a value only the layer reads)
)

// plan says how the executor runs one program with its layers.
type plan struct {
	act   []action // per instruction
	layer []int    // per instruction: the layer an actLinear instruction starts, or −1
	post  []post   // per layer: the requantization and activation fused into it
	final []int    // per layer: the instruction whose output is the layer's value after its post
	// feeds[ℓ] is the layer whose input is exactly layer ℓ's value (after
	// its post), or −1.
	feeds []int
	last  []int  // per tensor: the last instruction reading it (len(Instrs) for outputs, −1: none), as the walker frees it
	owns  []bool // per tensor: its buffer may be recycled after its last use
}

// plans returns p's plan, made once.
func (p *Program) plans() (*plan, error) {
	p.planOnce.Do(func() { p.plan, p.planErr = newPlan(p.Fixed, p.Layers) })
	return p.plan, p.planErr
}

// newPlan checks that layers sit in fp where they say (ClipAt, LinAt):
// a Clip to [−Clamp, Clamp] of an input of the layer's size read only by
// the next instruction, then a chain of Conv, MatMul and Add
// instructions, each read only by the next, ending in an output of the
// layer's size; and it finds the post-processing each layer fuses. An
// error names what does not fit (D refuses such a program).
func newPlan(fp *fixed.Program, layers []*Layer) (*plan, error) {
	n := len(fp.Instrs)
	pl := &plan{act: make([]action, n), layer: make([]int, n), post: make([]post, len(layers)), final: make([]int, len(layers)),
		feeds: make([]int, len(layers)), last: fp.LastUse(), owns: make([]bool, len(fp.Tensors))}
	for k := range pl.layer {
		pl.layer[k] = -1
	}
	for id, t := range fp.Tensors {
		pl.owns[id] = t.Kind == fixed.KindValue
	}
	size := func(id int) int { return fp.Tensors[id].Shape.Size() }
	readers := make([]int, len(fp.Tensors)) // instructions reading each tensor
	for k := range fp.Instrs {
		for i, id := range fp.Instrs[k].In {
			if !slices.Contains(fp.Instrs[k].In[:i], id) {
				readers[id]++
			}
		}
	}
	// only reports whether tensor id is read by instruction k alone, as
	// its first operand.
	only := func(id, k int) bool {
		return pl.last[id] == k && k < n && readers[id] == 1 && len(fp.Instrs[k].In) > 0 && fp.Instrs[k].In[0] == id
	}
	clips := map[int]bool{} // the layers' input clamps
	for _, l := range layers {
		clips[l.ClipAt] = true
	}
	next := 0
	for li, l := range layers {
		c, lin := l.ClipAt, l.LinAt
		bad := func(why string, a ...any) error {
			return fmt.Errorf("layer %d (%s): %s", li, l.Name, fmt.Sprintf(why, a...))
		}
		if l.Index != li || c < next || lin <= c || lin >= n {
			return nil, bad("instructions %d…%d out of order", c, lin)
		}
		clip := &fp.Instrs[c]
		if clip.Op != fixed.Clip || clip.Min != -l.Clamp || clip.Max != l.Clamp || len(clip.In) != 1 {
			return nil, bad("instruction %d is not its input clamp to ±%d", c, l.Clamp)
		}
		if size(clip.In[0]) != l.InLen() {
			return nil, bad("input of %d values, want %d", size(clip.In[0]), l.InLen())
		}
		for k := c; k < lin; k++ {
			if !only(fp.Instrs[k].Out, k+1) {
				return nil, bad("instruction %d's output is read outside the layer", k)
			}
			switch fp.Instrs[k+1].Op {
			case fixed.Conv, fixed.MatMul, fixed.Add:
			default:
				return nil, bad("instruction %d (%s) is not linear", k+1, fp.Instrs[k+1].Op)
			}
		}
		if size(fp.Instrs[lin].Out) != l.OutLen() {
			return nil, bad("output of %d values, want %d", size(fp.Instrs[lin].Out), l.OutLen())
		}
		pl.act[c], pl.act[c+1], pl.layer[c+1] = actClip, actLinear, li
		x, xc := clip.In[0], clip.Out
		pl.owns[xc] = pl.owns[x] && pl.last[x] == c // the clamp passes x's buffer on
		if pl.last[x] == c {
			pl.owns[x] = false
		}
		// The post-processing: requantization (AddPublic 2^(s−1), then
		// ScaleDown s), then Relu or Clip, each read only by the next.
		k, q := lin, noPost()
		if k+2 < n {
			a, s := &fp.Instrs[k+1], &fp.Instrs[k+2]
			if a.Op == fixed.AddPublic && s.Op == fixed.ScaleDown && s.Shift >= 1 && s.Shift <= 62 &&
				len(a.Public) == 1 && a.Public[0] == 1<<(s.Shift-1) && size(a.Out) == size(fp.Instrs[k].Out) &&
				only(fp.Instrs[k].Out, k+1) && only(a.Out, k+2) {
				q.k, k = s.Shift, k+2
			}
		}
		if k+1 < n && only(fp.Instrs[k].Out, k+1) && !clips[k+1] {
			switch a := &fp.Instrs[k+1]; a.Op {
			case fixed.Relu:
				q.lo, k = 0, k+1
			case fixed.Clip:
				q.lo, q.hi, k = a.Min, a.Max, k+1
			}
		}
		for j := c + 2; j <= k; j++ {
			pl.act[j] = actDone
		}
		pl.post[li], pl.final[li] = q, k
		next = k + 1
	}
	for li := range layers {
		pl.feeds[li] = -1
		v := fp.Instrs[pl.final[li]].Out
		for m := li + 1; m < len(layers); m++ {
			if fp.Instrs[layers[m].ClipAt].In[0] == v {
				pl.feeds[li] = m
				break
			}
		}
	}
	return pl, nil
}

// run executes the program on a float input.
func (p *Program) run(input []float32, lin LinearFunc, mem *arena) ([]int64, error) {
	x, err := p.Quantize(input)
	if err != nil {
		return nil, err
	}
	return p.execute(x, adapt(lin, mem), mem)
}

// execute runs Program.Fixed on the quantized input x0 through fixed's
// walker, the linear layers by lin.
func (p *Program) execute(x0 []int64, lin fusedLinear, mem *arena) ([]int64, error) {
	pl, err := p.plans()
	if err != nil {
		return nil, err
	}
	e := &executor{p: p, pl: pl, lin: lin, mem: mem}
	outs, err := p.Fixed.Execute(context.Background(), e, [][]uint64{u64s(x0)}, nil)
	if err != nil {
		var ce *CheckError
		if errors.As(err, &ce) { // a rejection names the layer itself
			return nil, ce
		}
		return nil, fmt.Errorf("slalom: %w", err)
	}
	return i64s(outs[0]), nil
}

// executor is the fixed.Backend of T (and of D): see the top of this file.
type executor struct {
	fixed.Cleartext
	p    *Program
	pl   *plan
	lin  fusedLinear
	mem  *arena
	prog *fixed.Program
	// ahead holds, per instruction, the value computed with its layer.
	ahead [][]uint64
}

// noData stands for a weight the executor holds no data for (D's public
// program): only the linear layers read weights, and they use their own.
type noData struct{}

func (e *executor) Begin(ctx context.Context, fp *fixed.Program, inputs [][]uint64) error {
	if fp != e.p.Fixed {
		return fmt.Errorf("the program was changed for this backend")
	}
	e.prog = fp
	e.ahead = make([][]uint64, len(fp.Instrs))
	return e.Cleartext.Begin(ctx, fp, inputs)
}

// Fuses reports true for every composite op: T computes them in the clear.
func (e *executor) Fuses(fixed.Op) bool { return true }

func (e *executor) Weight(id int) (fixed.Value, error) {
	if t := e.prog.Tensors[id]; t.NumValues() == t.Shape.Size() {
		return t.Values(), nil
	}
	return noData{}, nil
}

func (e *executor) Exec(k int, in *fixed.Instr, args []fixed.Value) (fixed.Value, error) {
	switch e.pl.act[k] {
	case actClip:
		return args[0], nil
	case actLinear:
		x, ok := args[0].([]uint64)
		if !ok {
			return nil, fmt.Errorf("layer input is not a value")
		}
		l := e.p.Layers[e.pl.layer[k]]
		z, err := e.lin(l, i64s(x), e.pl.post[l.Index])
		if err != nil {
			return nil, err
		}
		if len(z) != l.OutLen() {
			return nil, fmt.Errorf("layer %d (%s): %d outputs, want %d", l.Index, l.Name, len(z), l.OutLen())
		}
		out := u64s(z)
		e.recycle(k, in, args, out)
		if f := e.pl.final[l.Index]; f != k {
			e.ahead[f] = out
			return nil, nil
		}
		return out, nil
	case actDone:
		if v := e.ahead[k]; v != nil {
			e.ahead[k] = nil
			return v, nil
		}
		return nil, nil
	}
	a := make([][]uint64, len(args))
	for i, v := range args {
		var ok bool
		if a[i], ok = v.([]uint64); !ok {
			return nil, fmt.Errorf("operand %d is a weight or value T does not hold in the clear", i)
		}
	}
	out, err := e.clear(k, in, a)
	if err != nil {
		return nil, err
	}
	e.recycle(k, in, args, out)
	return out, nil
}

// dying reports whether operand i of instruction k is read for the last
// time and its buffer may be overwritten (an in-place result).
func (e *executor) dying(k int, in *fixed.Instr, i int) bool {
	id := in.In[i]
	if e.pl.last[id] != k || !e.pl.owns[id] {
		return false
	}
	for j, o := range in.In {
		if j != i && o == id {
			return false
		}
	}
	return true
}

// clear computes instruction k in the clear: the hot ops with T's own
// kernels (in place where the operand dies here), the rest by the oracle.
func (e *executor) clear(k int, in *fixed.Instr, a [][]uint64) ([]uint64, error) {
	dst := func(i int) []int64 {
		if e.dying(k, in, i) {
			return i64s(a[i])
		}
		return e.mem.get(len(a[i]))
	}
	shape := func(id int) []int { return e.prog.Tensors[id].Shape }
	size := e.prog.Tensors[in.Out].Shape.Size()
	switch in.Op {
	case fixed.Relu:
		x, y := i64s(a[0]), dst(0)
		for i, v := range x {
			y[i] = max(v, 0)
		}
		return u64s(y), nil
	case fixed.Clip:
		x, y := i64s(a[0]), dst(0)
		for i, v := range x {
			y[i] = min(max(v, in.Min), in.Max)
		}
		return u64s(y), nil
	case fixed.Add:
		if len(a[0]) == size && len(a[1]) == size {
			x, z := a[1], dst(0)
			for i, v := range a[0] {
				z[i] = int64(v + x[i])
			}
			return u64s(z), nil
		}
	case fixed.MaxPool:
		s := shape(in.In[0])
		if len(s) == 4 && (in.Layout == "" || in.Layout == "NCHW") && in.Kernel[0] == 2 && in.Kernel[1] == 2 && in.Strides[0] == 2 && in.Strides[1] == 2 &&
			in.Pads[0]+in.Pads[1]+in.Pads[2]+in.Pads[3] == 0 && s[2]%2 == 0 && s[3]%2 == 0 {
			y := e.mem.get(len(a[0]) / 4)
			maxPool2x2(y, i64s(a[0]), s[0]*s[1], s[2], s[3])
			return u64s(y), nil
		}
	}
	v, err := e.Cleartext.Exec(k, in, toValues(a))
	if err != nil {
		return nil, err
	}
	return v.([]uint64), nil
}

func toValues(a [][]uint64) []fixed.Value {
	v := make([]fixed.Value, len(a))
	for i := range a {
		v[i] = a[i]
	}
	return v
}

// recycle returns to the arena the buffers of instruction k's operands
// that die here, except out's own.
func (e *executor) recycle(k int, in *fixed.Instr, args []fixed.Value, out []uint64) {
	for i, id := range in.In {
		if e.pl.last[id] != k || !e.pl.owns[id] {
			continue
		}
		b, ok := args[i].([]uint64)
		if !ok || len(b) == 0 || len(out) > 0 && &b[0] == &out[0] {
			continue
		}
		seen := false
		for _, o := range in.In[:i] {
			seen = seen || o == id
		}
		if !seen {
			e.mem.put(i64s(b))
		}
	}
}

func (e *executor) End(outs []fixed.Value) ([][]uint64, error) {
	res := make([][]uint64, len(outs))
	for i, v := range outs {
		var ok bool
		if res[i], ok = v.([]uint64); !ok {
			return nil, fmt.Errorf("output %d is not a value", i)
		}
	}
	return res, nil
}

// i64s and u64s view ring elements (two's complement) as signed integers
// and back, without copying.
func i64s(u []uint64) []int64 {
	return unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(u))), len(u))
}

func u64s(v []int64) []uint64 {
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(v))), len(v))
}

// maxPool2x2 is the common 2×2 stride-2 max pool without padding.
func maxPool2x2(y, x []int64, nc, h, w int) {
	oh, ow := h/2, w/2
	for c := 0; c < nc; c++ {
		in := x[c*h*w:]
		out := y[c*oh*ow:]
		for i := 0; i < oh; i++ {
			r0, r1 := in[2*i*w:][:w], in[(2*i+1)*w:][:w]
			o := out[i*ow:][:ow]
			for j := range o {
				o[j] = max(r0[2*j], r0[2*j+1], r1[2*j], r1[2*j+1])
			}
		}
	}
}

func clamp(v, a int64) int64 { return min(max(v, -a), a) }

// Oracle is the reference output: fixed's cleartext oracle (Fixed.Run,
// the one every veil backend is tested against) on the encoded input,
// as integers at scale OutScale.
func (p *Program) Oracle(input []float32) ([]int64, error) {
	if len(input) != p.Input.Size() {
		return nil, fmt.Errorf("slalom: input of %d values, want %d", len(input), p.Input.Size())
	}
	ref := p.Reference()
	outs, err := ref.Run(ref.EncodeInput(input))
	if err != nil {
		return nil, fmt.Errorf("slalom: %w", err)
	}
	return i64s(outs[0]), nil
}

// Local runs the whole program in T with the device's field kernels: the
// baseline T_base of the measurements.
func (p *Program) Local(input []float32) ([]int64, error) {
	return p.local(input, nil)
}

func (p *Program) local(input []float32, mem *arena) ([]int64, error) {
	return p.run(input, func(l *Layer, x []int64) ([]int64, error) {
		xr := make([]uint64, len(x))
		for i, v := range x {
			xr[i] = toField(v)
		}
		y := Forward(l, xr, true)
		z := mem.get(len(y))
		for i, v := range y {
			z[i] = lift(v)
		}
		return z, nil
	}, mem)
}

// Floats converts an output at scale s to floats.
func Floats(z []int64, s int) []float64 {
	f := make([]float64, len(z))
	d := math.Exp2(float64(-s))
	for i, v := range z {
		f[i] = float64(v) * d
	}
	return f
}

// ArgMax returns the index of the first maximum.
func ArgMax(z []int64) int {
	b := 0
	for i, v := range z {
		if v > z[b] {
			b = i
		}
	}
	return b
}
