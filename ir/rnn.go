package ir

import "fmt"

// Recurrent cells (LSTM, GRU and the simple RNN) for every importer. The
// weights are given per gate, by name, so that each framework's gate
// order (ONNX's LSTM [i o f c], Keras's [i f c o]) stays in its importer;
// a cell packs them once into one input kernel, one recurrent kernel and
// one bias (Concats that fold when the weights are constants). A layer is
// then unrolled over its static sequence length: the input part x·W + b
// of every step is one MatMul over the whole sequence (Input), and each
// step adds h·R and the gates' element-wise functions (Step). A state
// given as "" is zero: its products are left out.
//
// The equations are ONNX's (opset 7 and 14), with f, g, h its
// activations (default sigmoid, tanh, tanh), W and R the input and
// recurrent kernels as x·W and h·R multiply them ([In, H] and [H, H] per
// gate), Wb and Rb their biases:
//
//	LSTM  i = f(x·Wi + h·Ri + Wbi + Rbi), o = f(x·Wo + h·Ro + Wbo + Rbo),
//	      f = f(x·Wf + h·Rf + Wbf + Rbf), c̃ = g(x·Wc + h·Rc + Wbc + Rbc),
//	      c' = f·c + i·c̃, h' = o·h(c')
//	GRU   z = f(x·Wz + h·Rz + Wbz + Rbz), r = f(x·Wr + h·Rr + Wbr + Rbr),
//	      linear_before_reset 0: h̃ = g(x·Wh + (r·h)·Rh + Rbh + Wbh)
//	      linear_before_reset 1: h̃ = g(x·Wh + r·(h·Rh + Rbh) + Wbh)
//	      h' = (1 − z)·h̃ + z·h, computed as h̃ + z·(h − h̃)
//	RNN   h' = f(x·Wi + h·Ri + Wbi + Rbi)
//
// Keras's layers are the same cells: recurrent_activation is f,
// activation g and h, and GRU's reset_after is linear_before_reset with
// the bias's second row as Rb.

// Activation is an element-wise function of a recurrent cell; the zero
// value is the cell's default for its place.
type Activation struct {
	Op          Op      // Sigmoid, Tanh, Relu, Identity, HardSigmoid, LeakyRelu, Softplus, Silu or HardSwish
	Alpha, Beta float32 // HardSigmoid's α and β, LeakyRelu's α
}

var cellActivations = map[Op]bool{OpSigmoid: true, OpTanh: true, OpRelu: true, OpIdentity: true,
	OpHardSigmoid: true, OpLeakyRelu: true, OpSoftplus: true, OpSilu: true, OpHardSwish: true}

func (a Activation) or(def Op) Activation {
	if a.Op == "" {
		return Activation{Op: def}
	}
	return a
}

// LSTMGates holds one value name per LSTM gate: input, forget, cell
// candidate and output.
type LSTMGates struct{ I, F, C, O string }

func (g LSTMGates) list() []string { return []string{g.I, g.F, g.C, g.O} }

// GRUGates holds one value name per GRU gate: update, reset and hidden
// candidate.
type GRUGates struct{ Z, R, H string }

func (g GRUGates) list() []string { return []string{g.Z, g.R, g.H} }

// LSTMWeights are an LSTM's parameters per gate: W [In, H] multiplies the
// input, R [H, H] the state, and the biases WB and RB [H] (either or both
// "") are added. Gate, Cell and Hidden are the activations f, g and h.
type LSTMWeights struct {
	W, R, WB, RB       LSTMGates
	Gate, Cell, Hidden Activation
}

// GRUWeights are a GRU's parameters per gate, as LSTMWeights; Gate and
// Hidden are the activations f and g.
type GRUWeights struct {
	W, R, WB, RB      GRUGates
	LinearBeforeReset bool
	Gate, Hidden      Activation
}

// RNNWeights are a simple RNN's parameters: W [In, H], R [H, H], biases
// WB and RB [H] (either or both ""), and the activation f (default Tanh).
type RNNWeights struct {
	W, R, WB, RB string
	Act          Activation
}

// Cell is a recurrent cell with packed weights, made by NewLSTMCell,
// NewGRUCell or NewRNNCell. Its methods add nodes to the graph it was
// made for, named after the cell's node.
type Cell struct {
	b      *builder
	kind   string // "LSTM", "GRU", "RNN"
	in     int    // input features
	hidden int
	gates  int
	w      string // [In, G·H]
	bias   string // [G·H] or ""
	// r is the recurrent kernel [H, G·H]; a GRU without linear_before_reset
	// has rzr [H, 2H] (update and reset) and rh [H, H] instead.
	r, rzr, rh string
	rbh        string // GRU with linear_before_reset: Rbh [H] or ""
	lbr        bool
	acts       []Activation // LSTM f, g, h; GRU f, g; RNN f
}

// Hidden returns the cell's state size.
func (c *Cell) Hidden() int { return c.hidden }

// NewLSTMCell packs an LSTM's per-gate weights.
func (g *Graph) NewLSTMCell(node string, w LSTMWeights) (*Cell, error) {
	c := &Cell{b: &builder{g: g, node: node, op: "LSTM"}, kind: "LSTM", gates: 4,
		acts: []Activation{w.Gate.or(OpSigmoid), w.Cell.or(OpTanh), w.Hidden.or(OpTanh)}}
	if err := c.pack(w.W.list(), w.R.list(), w.WB.list(), w.RB.list()); err != nil {
		return nil, err
	}
	return c, nil
}

// NewGRUCell packs a GRU's per-gate weights.
func (g *Graph) NewGRUCell(node string, w GRUWeights) (*Cell, error) {
	c := &Cell{b: &builder{g: g, node: node, op: "GRU"}, kind: "GRU", gates: 3, lbr: w.LinearBeforeReset,
		acts: []Activation{w.Gate.or(OpSigmoid), w.Hidden.or(OpTanh)}}
	wb, rb := w.WB.list(), w.RB.list()
	if c.lbr {
		// Rbh stays inside the reset gate's product.
		rb[2] = ""
	}
	if err := c.pack(w.W.list(), w.R.list(), wb, rb); err != nil {
		return nil, err
	}
	if c.lbr {
		c.rbh = w.RB.H
		if c.rbh != "" {
			if err := c.check(c.rbh, "recurrent bias of gate 3", Shape{c.hidden}); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

// NewRNNCell packs a simple RNN's weights.
func (g *Graph) NewRNNCell(node string, w RNNWeights) (*Cell, error) {
	c := &Cell{b: &builder{g: g, node: node, op: "RNN"}, kind: "RNN", gates: 1,
		acts: []Activation{w.Act.or(OpTanh)}}
	if err := c.pack([]string{w.W}, []string{w.R}, []string{w.WB}, []string{w.RB}); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Cell) check(v, what string, want Shape) error {
	s, err := c.b.shape(v)
	if err != nil {
		return err
	}
	if !s.Equal(want) {
		return c.b.errorf("%s %q has shape %v, want %v", what, v, s, want)
	}
	if c.b.g.Values[v].DType != Float32 {
		return c.b.errorf("%s %q is not a float tensor", what, v)
	}
	return nil
}

// pack checks the per-gate weights and concatenates them.
func (c *Cell) pack(ws, rs, wbs, rbs []string) error {
	b := c.b
	for _, a := range c.acts {
		if !cellActivations[a.Op] {
			return b.errorf("activation %s is not supported in a recurrent cell", a.Op)
		}
	}
	for k := range ws {
		if ws[k] == "" || rs[k] == "" {
			return b.errorf("gate %d has no kernel", k+1)
		}
	}
	s, err := b.shape(ws[0])
	if err != nil {
		return err
	}
	if len(s) != 2 || s[0] < 1 || s[1] < 1 {
		return b.errorf("input kernel %q has shape %v, want [inputs, hidden]", ws[0], s)
	}
	c.in, c.hidden = s[0], s[1]
	h := c.hidden
	for k := range ws {
		if err := c.check(ws[k], fmt.Sprintf("input kernel of gate %d", k+1), Shape{c.in, h}); err != nil {
			return err
		}
		if err := c.check(rs[k], fmt.Sprintf("recurrent kernel of gate %d", k+1), Shape{h, h}); err != nil {
			return err
		}
		for _, bv := range []string{wbs[k], rbs[k]} {
			if bv != "" {
				if err := c.check(bv, fmt.Sprintf("bias of gate %d", k+1), Shape{h}); err != nil {
					return err
				}
			}
		}
	}
	if c.w, err = c.concat("kernel", ws, 1); err != nil {
		return err
	}
	if c.kind == "GRU" && !c.lbr {
		if c.rzr, err = c.concat("recurrent_kernel_zr", rs[:2], 1); err != nil {
			return err
		}
		c.rh = rs[2]
	} else if c.r, err = c.concat("recurrent_kernel", rs, 1); err != nil {
		return err
	}
	// The bias of each gate is Wb + Rb; zeros where a gate has neither,
	// none at all where no gate has one.
	sums := make([]string, len(ws))
	have := false
	for k := range ws {
		switch wb, rb := wbs[k], rbs[k]; {
		case wb != "" && rb != "":
			if sums[k], err = b.add(OpAdd, "bias", "", Attrs{}, wb, rb); err != nil {
				return err
			}
		case wb != "":
			sums[k] = wb
		default:
			sums[k] = rb
		}
		have = have || sums[k] != ""
	}
	if !have {
		return nil
	}
	for k := range sums {
		if sums[k] == "" {
			if err := b.reserve(int64(h)); err != nil {
				return err
			}
			if sums[k], err = b.konst("zero_bias", NewFloat(Shape{h})); err != nil {
				return err
			}
		}
	}
	c.bias, err = c.concat("bias", sums, 0)
	return err
}

func (c *Cell) concat(suffix string, parts []string, axis int) (string, error) {
	if len(parts) == 1 {
		return parts[0], nil
	}
	return c.b.add(OpConcat, suffix, "", Attrs{Axis: axis}, parts...)
}

// Input adds the input part of the gates' pre-activations, x·W + b, for x
// of shape [..., In]: [..., G·H], for one step or a whole sequence.
func (c *Cell) Input(x string) (string, error) {
	s, err := c.b.shape(x)
	if err != nil {
		return "", err
	}
	if len(s) < 2 || s[len(s)-1] != c.in {
		return "", c.b.errorf("input %q has shape %v, want [..., %d]", x, s, c.in)
	}
	xw, err := c.b.add(OpMatMul, "input_proj", "", Attrs{}, x, c.w)
	if err != nil || c.bias == "" {
		return xw, err
	}
	return c.b.add(OpAdd, "input_bias", "", Attrs{}, xw, c.bias)
}

// Step adds one step of the cell from the input part xw [N, G·H] (from
// Input) and the state h [N, H] (with the LSTM's cell state cs), "" for
// zero, and returns the new state. hOut and cOut name the new h and c
// ("" for fresh names; cOut only for an LSTM).
func (c *Cell) Step(xw, h, cs, hOut, cOut string) (string, string, error) {
	b := c.b
	s, err := b.shape(xw)
	if err != nil {
		return "", "", err
	}
	if len(s) != 2 || s[1] != c.gates*c.hidden {
		return "", "", b.errorf("input part %q has shape %v, want [batch, %d]", xw, s, c.gates*c.hidden)
	}
	for _, v := range []string{h, cs} {
		if v != "" {
			if err := c.check(v, "state", Shape{s[0], c.hidden}); err != nil {
				return "", "", err
			}
		}
	}
	if cs != "" && c.kind != "LSTM" {
		return "", "", b.errorf("a %s has no cell state", c.kind)
	}
	b.final = hOut
	defer func() { b.final = "" }()
	switch c.kind {
	case "LSTM":
		return c.lstmStep(xw, h, cs, hOut, cOut)
	case "GRU":
		h, err := c.gruStep(xw, h, hOut)
		return h, "", err
	}
	z, err := c.recur(xw, h, c.r)
	if err != nil {
		return "", "", err
	}
	h, err = c.act(z, c.acts[0], "state", hOut)
	return h, "", err
}

// recur returns xw + h·r, or xw when the state is zero.
func (c *Cell) recur(xw, h, r string) (string, error) {
	if h == "" {
		return xw, nil
	}
	hr, err := c.b.add(OpMatMul, "recurrent", "", Attrs{}, h, r)
	if err != nil {
		return "", err
	}
	return c.b.add(OpAdd, "gates", "", Attrs{}, xw, hr)
}

// act applies a to x, computing out.
func (c *Cell) act(x string, a Activation, suffix, out string) (string, error) {
	if a.Op == OpIdentity && out == "" {
		return x, nil
	}
	return c.b.add(a.Op, suffix, out, Attrs{Alpha: a.Alpha, Beta: a.Beta}, x)
}

// gate slices block k of z [N, G·H] and applies a.
func (c *Cell) gate(z string, k int, a Activation, suffix string) (string, error) {
	h := c.hidden
	g, err := c.b.slice(z, suffix+"_pre", "", 1, k*h, (k+1)*h)
	if err != nil {
		return "", err
	}
	return c.act(g, a, suffix, "")
}

func (c *Cell) lstmStep(xw, h, cs, hOut, cOut string) (string, string, error) {
	b := c.b
	z, err := c.recur(xw, h, c.r)
	if err != nil {
		return "", "", err
	}
	f, g, hh := c.acts[0], c.acts[1], c.acts[2]
	var gs [4]string
	for k, a := range []struct {
		act    Activation
		suffix string
	}{{f, "input_gate"}, {f, "forget_gate"}, {g, "candidate"}, {f, "output_gate"}} {
		if gs[k], err = c.gate(z, k, a.act, a.suffix); err != nil {
			return "", "", err
		}
	}
	var cn string
	if cs == "" {
		cn, err = b.add(OpMul, "cell", cOut, Attrs{}, gs[0], gs[2])
	} else {
		ic, err2 := b.add(OpMul, "input_cell", "", Attrs{}, gs[0], gs[2])
		if err2 != nil {
			return "", "", err2
		}
		fc, err2 := b.add(OpMul, "forget_cell", "", Attrs{}, gs[1], cs)
		if err2 != nil {
			return "", "", err2
		}
		cn, err = b.add(OpAdd, "cell", cOut, Attrs{}, fc, ic)
	}
	if err != nil {
		return "", "", err
	}
	ac, err := c.act(cn, hh, "cell_act", "")
	if err != nil {
		return "", "", err
	}
	hn, err := b.add(OpMul, "state", hOut, Attrs{}, gs[3], ac)
	return hn, cn, err
}

func (c *Cell) gruStep(xw, h, hOut string) (string, error) {
	b, u := c.b, c.hidden
	f, g := c.acts[0], c.acts[1]
	xzr, err := b.slice(xw, "input_zr", "", 1, 0, 2*u)
	if err != nil {
		return "", err
	}
	xh, err := b.slice(xw, "input_h", "", 1, 2*u, 3*u)
	if err != nil {
		return "", err
	}
	var zr, rec string // z and r pre-activations; the recurrent part of h̃
	var hr string      // linear_before_reset: h·R [N, 3H]
	if c.lbr && h != "" {
		if hr, err = b.add(OpMatMul, "recurrent", "", Attrs{}, h, c.r); err != nil {
			return "", err
		}
	}
	switch {
	case h == "":
		zr = xzr
	case c.lbr:
		hzr, err := b.slice(hr, "recurrent_zr", "", 1, 0, 2*u)
		if err != nil {
			return "", err
		}
		if zr, err = b.add(OpAdd, "gates", "", Attrs{}, xzr, hzr); err != nil {
			return "", err
		}
	default:
		if zr, err = c.recur(xzr, h, c.rzr); err != nil {
			return "", err
		}
	}
	z, err := c.gate(zr, 0, f, "update_gate")
	if err != nil {
		return "", err
	}
	r, err := c.gate(zr, 1, f, "reset_gate")
	if err != nil {
		return "", err
	}
	switch {
	case c.lbr:
		// r·(h·Rh + Rbh); only r·Rbh at the zero state.
		inner := c.rbh
		if h != "" {
			if inner, err = b.slice(hr, "recurrent_h", "", 1, 2*u, 3*u); err != nil {
				return "", err
			}
			if c.rbh != "" {
				if inner, err = b.add(OpAdd, "recurrent_bias", "", Attrs{}, inner, c.rbh); err != nil {
					return "", err
				}
			}
		}
		if inner != "" {
			if rec, err = b.add(OpMul, "reset", "", Attrs{}, r, inner); err != nil {
				return "", err
			}
		}
	case h != "":
		rh, err := b.add(OpMul, "reset", "", Attrs{}, r, h)
		if err != nil {
			return "", err
		}
		if rec, err = b.add(OpMatMul, "recurrent_h", "", Attrs{}, rh, c.rh); err != nil {
			return "", err
		}
	}
	pre := xh
	if rec != "" {
		if pre, err = b.add(OpAdd, "candidate_pre", "", Attrs{}, xh, rec); err != nil {
			return "", err
		}
	}
	hc, err := c.act(pre, g, "candidate", "")
	if err != nil {
		return "", err
	}
	// h' = h̃ + z·(h − h̃); h̃ − z·h̃ at the zero state.
	if h == "" {
		zh, err := b.add(OpMul, "keep", "", Attrs{}, z, hc)
		if err != nil {
			return "", err
		}
		return b.add(OpSub, "state", hOut, Attrs{}, hc, zh)
	}
	d, err := b.add(OpSub, "delta", "", Attrs{}, h, hc)
	if err != nil {
		return "", err
	}
	zd, err := b.add(OpMul, "keep", "", Attrs{}, z, d)
	if err != nil {
		return "", err
	}
	return b.add(OpAdd, "state", hOut, Attrs{}, hc, zd)
}

// Sequence is the result of Unroll: the state after each step, indexed
// by time (for a reverse pass too), and the final state (the last
// computed: after time T−1 forward, after time 0 in reverse).
type Sequence struct {
	H    []string // [N, H] per time step
	Last string   // final h
	Cell string   // final LSTM cell state, else ""
}

// Unroll adds the cell's steps over x, a [T, N, In] sequence (timeAxis 0)
// or [N, T, In] (timeAxis 1), from the state h0 (and c0 for an LSTM; ""
// for zero), in time order or, reverse, from the last step to the first.
// The input part of all steps is one MatMul.
func (c *Cell) Unroll(x string, timeAxis int, h0, c0 string, reverse bool) (*Sequence, error) {
	b := c.b
	s, err := b.shape(x)
	if err != nil {
		return nil, err
	}
	if len(s) != 3 || (timeAxis != 0 && timeAxis != 1) {
		return nil, b.errorf("sequence %q has shape %v (time axis %d), want rank 3 with time on axis 0 or 1", x, s, timeAxis)
	}
	t, n := s[timeAxis], s[1-timeAxis]
	if t < 1 {
		return nil, b.errorf("sequence %q is empty", x)
	}
	xw, err := c.Input(x)
	if err != nil {
		return nil, err
	}
	seq := &Sequence{H: make([]string, t)}
	h, cs := h0, c0
	for j := range t {
		ti := j
		if reverse {
			ti = t - 1 - j
		}
		xt, err := b.slice(xw, "step_input", "", timeAxis, ti, ti+1)
		if err != nil {
			return nil, err
		}
		if xt, err = b.reshape(xt, "step_input", "", Shape{n, c.gates * c.hidden}); err != nil {
			return nil, err
		}
		if h, cs, err = c.Step(xt, h, cs, "", ""); err != nil {
			return nil, err
		}
		seq.H[ti] = h
	}
	seq.Last, seq.Cell = h, cs
	return seq, nil
}

// AddLSTMCell adds one LSTM step for the input x [N, In] and the state h,
// cs [N, H] ("" for zero), computing hOut and cOut.
func (g *Graph) AddLSTMCell(node, x, h, cs string, w LSTMWeights, hOut, cOut string) error {
	c, err := g.NewLSTMCell(node, w)
	if err != nil {
		return err
	}
	return c.addStep(x, h, cs, hOut, cOut)
}

// AddGRUCell adds one GRU step for the input x [N, In] and the state h
// [N, H] ("" for zero), computing hOut.
func (g *Graph) AddGRUCell(node, x, h string, w GRUWeights, hOut string) error {
	c, err := g.NewGRUCell(node, w)
	if err != nil {
		return err
	}
	return c.addStep(x, h, "", hOut, "")
}

// AddRNNCell adds one simple RNN step for the input x [N, In] and the
// state h [N, H] ("" for zero), computing hOut.
func (g *Graph) AddRNNCell(node, x, h string, w RNNWeights, hOut string) error {
	c, err := g.NewRNNCell(node, w)
	if err != nil {
		return err
	}
	return c.addStep(x, h, "", hOut, "")
}

func (c *Cell) addStep(x, h, cs, hOut, cOut string) error {
	xw, err := c.Input(x)
	if err != nil {
		return err
	}
	_, _, err = c.Step(xw, h, cs, hOut, cOut)
	return err
}
