package slalom

import (
	"fmt"
	"math"
)

// LinearFunc computes one linear layer for T's program interpreter: given
// the clamped signed input (|x| ≤ Clamp), it returns Z = f(x) + b as signed
// integers, or an error that aborts the inference.
type LinearFunc func(l *Layer, x []int64) ([]int64, error)

// Run interprets the program on one float input. Every step but the
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

// fusedLinear is the interpreter's internal form of a linear layer: x is
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

// Quantize returns X_0 = clamp(FP(x; l_x)), the program's quantized input.
func (p *Program) Quantize(input []float32) ([]int64, error) {
	q := make([]int64, len(input))
	return q, p.QuantizeInto(q, input)
}

// QuantizeInto is Quantize into q (of the input's length).
func (p *Program) QuantizeInto(q []int64, input []float32) error {
	if len(input) != p.Input.Size() {
		return fmt.Errorf("slalom: input of %d values, want %d", len(input), p.Input.Size())
	}
	sc := math.Exp2(float64(p.Lx))
	q = q[:len(input)]
	for i, v := range input {
		q[i] = clamp(int64(math.Round(float64(v)*sc)), p.InClamp)
	}
	return nil
}

// arena recycles activation buffers between steps and inferences, so that
// T does not pay for zeroing and faulting in fresh memory at every layer.
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

func (p *Program) lastUses() []int {
	p.luOnce.Do(func() {
		p.lastUse = make([]int, p.Slots)
		for i := range p.lastUse {
			p.lastUse[i] = -1
		}
		for si, st := range p.Steps {
			for _, in := range st.In {
				p.lastUse[in] = si
			}
		}
		p.lastUse[p.Output] = len(p.Steps) // never recycled
	})
	return p.lastUse
}

// feeds returns, per layer ℓ, the layer whose input is exactly ℓ's
// output as runFrom computes it (after a ReLU or ReLU6 it fuses), or −1.
func (p *Program) feeds() []int {
	last := p.lastUses()
	f := make([]int, len(p.Layers))
	for i := range f {
		f[i] = -1
	}
	for si, st := range p.Steps {
		if st.Op != StepLinear {
			continue
		}
		out := st.Out
		if n := si + 1; n < len(p.Steps) && p.Steps[n].In[0] == out && last[out] == n &&
			(p.Steps[n].Op == StepRelu || p.Steps[n].Op == StepClip) {
			out = p.Steps[n].Out
		}
		for _, nx := range p.Steps[si+1:] {
			if nx.Op == StepLinear && nx.In[0] == out {
				f[st.Layer] = nx.Layer
				break
			}
		}
	}
	return f
}

func (p *Program) run(input []float32, lin LinearFunc, mem *arena) ([]int64, error) {
	return p.runFrom(input, nil, adapt(lin, mem), mem)
}

// runFrom runs the program on a float input, or on an already quantized
// input q0 (the device in the one-round-trip integrity mode).
func (p *Program) runFrom(input []float32, q0 []int64, lin fusedLinear, mem *arena) ([]int64, error) {
	if q0 != nil {
		if len(q0) != p.Input.Size() {
			return nil, fmt.Errorf("slalom: quantized input of %d values, want %d", len(q0), p.Input.Size())
		}
	} else if len(input) != p.Input.Size() {
		return nil, fmt.Errorf("slalom: input of %d values, want %d", len(input), p.Input.Size())
	}
	last := p.lastUses()
	vals := make([][]int64, p.Slots)
	sc := math.Exp2(float64(p.Lx))
	skip := -1 // a ReLU fused into the linear layer before it
	for si, st := range p.Steps {
		if si == skip {
			vals[st.Out] = vals[st.In[0]]
			continue
		}
		var x []int64
		dying := false // x is not read after this step: it may be overwritten
		if st.Op != StepQuantize {
			x = vals[st.In[0]]
			dying = last[st.In[0]] == si
			for _, in := range st.In[1:] {
				dying = dying && in != st.In[0]
			}
		}
		var y []int64
		switch st.Op {
		case StepQuantize:
			if q0 != nil {
				y = mem.get(len(q0))
				for i, v := range q0 {
					y[i] = clamp(v, p.InClamp)
				}
				break
			}
			y = mem.get(len(input))
			for i, v := range input {
				y[i] = clamp(int64(math.Round(float64(v)*sc)), p.InClamp)
			}
		case StepLinear:
			l := p.Layers[st.Layer]
			q := noPost()
			if l.Requant {
				q.k = p.Lw
			}
			// Fuse a ReLU or ReLU6 that only this layer's output feeds.
			if n := si + 1; n < len(p.Steps) && p.Steps[n].In[0] == st.Out && last[st.Out] == n {
				switch p.Steps[n].Op {
				case StepRelu:
					q.lo = 0
					skip = n
				case StepClip:
					q.lo, q.hi = p.Steps[n].Lo, p.Steps[n].Hi
					skip = n
				}
			}
			z, err := lin(l, x, q)
			if err != nil {
				return nil, err
			}
			if len(z) != l.OutLen() {
				return nil, fmt.Errorf("slalom: layer %d (%s): %d outputs, want %d", l.Index, l.Name, len(z), l.OutLen())
			}
			y = z
		case StepRelu:
			y = x
			if !dying {
				y = mem.get(len(x))
			}
			for i, v := range x {
				y[i] = max(v, 0)
			}
		case StepClip:
			y = x
			if !dying {
				y = mem.get(len(x))
			}
			for i, v := range x {
				y[i] = min(max(v, st.Lo), st.Hi)
			}
		case StepMaxPool, StepAvgPool:
			pp := st.Pool
			plane, oplane := pp.H*pp.W, pp.OutH()*pp.OutW()
			y = mem.get(pp.NC * oplane)
			avg := st.Op == StepAvgPool
			if !avg && pp.KH == 2 && pp.KW == 2 && pp.SH == 2 && pp.SW == 2 && pp.PadT+pp.PadL+pp.PadB+pp.PadR == 0 && pp.H%2 == 0 && pp.W%2 == 0 {
				maxPool2x2(y, x, pp.NC, pp.H, pp.W)
			} else {
				pp.Windows(func(o int, idx []int) {
					for nc := 0; nc < pp.NC; nc++ {
						in := x[nc*plane : (nc+1)*plane]
						if avg {
							var s int64
							for _, i := range idx {
								s += in[i]
							}
							y[nc*oplane+o] = roundDiv(s, st.Divs[o])
						} else {
							m := in[idx[0]]
							for _, i := range idx[1:] {
								m = max(m, in[i])
							}
							y[nc*oplane+o] = m
						}
					}
				})
			}
		case StepAdd:
			b := vals[st.In[1]]
			y = x
			if !dying {
				y = mem.get(len(x))
			}
			for i := range x {
				y[i] = x[i] + b[i]
			}
		default:
			return nil, fmt.Errorf("slalom: unknown step %d", st.Op)
		}
		// Recycle inputs that die here (unless y reuses them).
		for _, in := range st.In {
			if in < len(vals) && last[in] == si && vals[in] != nil {
				if len(vals[in]) == 0 || len(y) == 0 || &vals[in][0] != &y[0] {
					mem.put(vals[in])
				}
				vals[in] = nil
			}
		}
		vals[st.Out] = y
	}
	return vals[p.Output], nil
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

// roundDiv is floor((2a + n) / (2n)) for n > 0.
func roundDiv(a, n int64) int64 {
	num, den := 2*a+n, 2*n
	q := num / den
	if num%den != 0 && num < 0 {
		q--
	}
	return q
}

// Oracle is the cleartext quantized reference: every linear layer in
// exact signed integer arithmetic, no field and no device.
func (p *Program) Oracle(input []float32) ([]int64, error) {
	return p.Run(input, func(l *Layer, x []int64) ([]int64, error) { return forwardInt(l, x), nil })
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
