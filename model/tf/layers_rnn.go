package tf

import (
	"encoding/json"
	"fmt"

	"veil/ir"
)

// Recurrent layers (SimpleRNN, LSTM, GRU), Bidirectional and
// TimeDistributed. A recurrent layer is unrolled over its fixed sequence
// length by package ir's cells (see ir.Cell), whose equations are
// Keras's (and TF.js's): recurrent_activation is the gates' function,
// activation the candidate's and the state's, and GRU's reset_after is
// ONNX's linear_before_reset, with the bias's second row as the
// recurrent bias. Here the packed kernels are only cut into their gate
// blocks, in Keras's order:
//
//	SimpleRNN  [h]
//	LSTM       [i f c o]
//	GRU        [z r h]

type rnnKind int

const (
	rnnSimple rnnKind = iota
	rnnLSTM
	rnnGRU
)

// gates is the number of U-wide blocks in the kernels.
func (k rnnKind) gates() int {
	switch k {
	case rnnLSTM:
		return 4
	case rnnGRU:
		return 3
	}
	return 1
}

// rnnSpec is a recurrent layer's attributes and weights.
type rnnSpec struct {
	kind       rnnKind
	act, rec   ir.Activation
	returnSeq  bool
	backwards  bool
	resetAfter bool
	// Constants per gate, in Keras's order: kernel [F, U], recurrent
	// kernel [U, U], input and recurrent biases [U] ("" where absent).
	w, u, wb, rb []string
}

// rnnAttrs reads the attributes and weights of recurrent layer l, whose
// input has f features.
func (l *klayer) rnnAttrs(kind rnnKind, f int) (*rnnSpec, error) {
	sp := &rnnSpec{kind: kind}
	units, err := l.int("units", 0)
	if err != nil {
		return nil, err
	}
	if err := l.positive("units", []int{units}); err != nil {
		return nil, err
	}
	for _, a := range []struct {
		key, def string
		dst      *ir.Activation
	}{{"activation", "tanh", &sp.act}, {"recurrent_activation", "sigmoid", &sp.rec}} {
		if *a.dst, err = l.cellActivation(a.key, a.def); err != nil {
			return nil, err
		}
	}
	if kind == rnnSimple && l.cfg["recurrent_activation"] != nil {
		return nil, l.errorf("attribute \"recurrent_activation\" is not an attribute of SimpleRNN")
	}
	if sp.returnSeq, err = l.bool("return_sequences", false); err != nil {
		return nil, err
	}
	if sp.backwards, err = l.bool("go_backwards", false); err != nil {
		return nil, err
	}
	for _, k := range []string{"return_state", "stateful", "time_major"} {
		if err := l.flag(k, false); err != nil {
			return nil, err
		}
	}
	l.raw("zero_output_for_mask") // only matters with a mask, which veil does not take
	if kind == rnnGRU {
		// Keras 2 (TF 2) and Keras 3 default to reset_after; TF.js has only false.
		if sp.resetAfter, err = l.bool("reset_after", !l.b.tfjs); err != nil {
			return nil, err
		}
	}
	g := kind.gates()
	gu := g * units
	w, err := l.weight("kernel", ir.Shape{f, gu})
	if err != nil {
		return nil, err
	}
	u, err := l.weight("recurrent_kernel", ir.Shape{units, gu})
	if err != nil {
		return nil, err
	}
	var b, rb *ir.Tensor
	use, err := l.bool("use_bias", true)
	if err != nil {
		return nil, err
	}
	if use {
		if sp.resetAfter {
			b2, err := l.weight("bias", ir.Shape{2, gu})
			if err != nil {
				return nil, err
			}
			b = ir.FloatTensor(ir.Shape{gu}, b2.F[:gu])
			rb = ir.FloatTensor(ir.Shape{gu}, b2.F[gu:])
		} else if b, err = l.weight("bias", ir.Shape{gu}); err != nil {
			return nil, err
		}
	}
	for _, p := range []struct {
		suffix string
		t      *ir.Tensor
		dst    *[]string
	}{{"kernel", w, &sp.w}, {"recurrent_kernel", u, &sp.u}, {"bias", b, &sp.wb}, {"recurrent_bias", rb, &sp.rb}} {
		if *p.dst, err = l.gateConsts(p.suffix, p.t, g); err != nil {
			return nil, err
		}
	}
	return sp, nil
}

// cellActivation reads the activation attribute key (default def) of a
// recurrent layer: one of the activations that are a single node.
func (l *klayer) cellActivation(key, def string) (ir.Activation, error) {
	name := def
	if r := l.raw(key); r != nil {
		var err error
		if name, err = activationName(r); err != nil {
			return ir.Activation{}, l.errorf("attribute %q = %s: %v", key, r, err)
		}
	}
	a, _, ok := l.unaryActivation(name)
	if !ok {
		return ir.Activation{}, l.errorf("attribute %q = %q: activation %q is not supported in a recurrent layer", key, name, name)
	}
	return a, nil
}

// gateConsts adds the g blocks of t's last axis ([…, g·U]) as constants,
// one per gate; nil t (no bias) gives g "".
func (l *klayer) gateConsts(suffix string, t *ir.Tensor, g int) ([]string, error) {
	out := make([]string, g)
	if t == nil {
		return out, nil
	}
	r := len(t.Shape) - 1
	cols := t.Shape[r]
	u := cols / g
	shape := append(t.Shape[:r:r], u)
	for k := range out {
		v := make([]float32, 0, len(t.F)/g)
		for row := 0; row < len(t.F); row += cols {
			v = append(v, t.F[row+k*u:row+(k+1)*u]...)
		}
		var err error
		if out[k], err = l.konst(fmt.Sprintf("%s_%d", suffix, k), ir.FloatTensor(shape, v)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// cell makes recurrent layer sp's ir cell.
func (l *klayer) cell(sp *rnnSpec) (*ir.Cell, error) {
	g := l.b.g
	switch sp.kind {
	case rnnLSTM:
		gates := func(v []string) ir.LSTMGates { return ir.LSTMGates{I: v[0], F: v[1], C: v[2], O: v[3]} }
		return g.NewLSTMCell(l.base, ir.LSTMWeights{W: gates(sp.w), R: gates(sp.u), WB: gates(sp.wb), RB: gates(sp.rb),
			Gate: sp.rec, Cell: sp.act, Hidden: sp.act})
	case rnnGRU:
		gates := func(v []string) ir.GRUGates { return ir.GRUGates{Z: v[0], R: v[1], H: v[2]} }
		return g.NewGRUCell(l.base, ir.GRUWeights{W: gates(sp.w), R: gates(sp.u), WB: gates(sp.wb), RB: gates(sp.rb),
			LinearBeforeReset: sp.resetAfter, Gate: sp.rec, Hidden: sp.act})
	}
	return g.NewRNNCell(l.base, ir.RNNWeights{W: sp.w[0], R: sp.u[0], WB: sp.wb[0], RB: sp.rb[0], Act: sp.act})
}

// maxRNNSteps bounds the sequence length a recurrent layer is unrolled
// over (each step is about twenty nodes), so that a small model cannot
// make the import build millions of nodes.
const maxRNNSteps = 1 << 12

// unroll runs recurrent layer sp over x [N, T, F] from the zero state,
// in time order or, backwards, from the last step to the first. With
// return_sequences it returns the states [N, T, U] in the order computed
// (reversed in time when backwards), reversed again when flip; else the
// last state computed [N, U].
func (l *klayer) unroll(x string, sp *rnnSpec, backwards, flip bool) (string, error) {
	if t := l.shape(x)[1]; t > maxRNNSteps {
		return "", l.errorf("the sequence has %d steps; veil unrolls at most %d", t, maxRNNSteps)
	}
	c, err := l.cell(sp)
	if err != nil {
		return "", err
	}
	seq, err := c.Unroll(x, 1, "", "", backwards)
	if err != nil {
		return "", err
	}
	if !sp.returnSeq {
		return seq.Last, nil
	}
	steps := seq.H // in time order
	if backwards != flip {
		steps = make([]string, len(seq.H))
		for i, h := range seq.H {
			steps[len(steps)-1-i] = h
		}
	}
	return l.stack(steps)
}

// rnn lowers SimpleRNN, LSTM and GRU.
func (l *klayer) rnn(ins []string, kind rnnKind) (string, error) {
	x, err := l.one(ins)
	if err != nil {
		return "", err
	}
	xs, err := l.rank(x, 3)
	if err != nil {
		return "", err
	}
	sp, err := l.rnnAttrs(kind, xs[2])
	if err != nil {
		return "", err
	}
	// Keras returns the states in the order it computed them, reversed in
	// time for go_backwards.
	return l.unroll(x, sp, sp.backwards, false)
}

// stack concatenates per-step states [N, U] into [N, T, U].
func (l *klayer) stack(steps []string) (string, error) {
	parts := make([]string, len(steps))
	for i, h := range steps {
		s := l.shape(h)
		var err error
		if parts[i], err = l.reshape(h, ir.Shape{s[0], 1, s[1]}); err != nil {
			return "", err
		}
	}
	if len(parts) == 1 {
		return parts[0], nil
	}
	return l.add(ir.OpConcat, "sequence", ir.Attrs{Axis: 1}, parts...)
}

// innerLayer decodes the config of a wrapper's layer ({"class_name",
// "config"}) into a klayer under l.
func (l *klayer) innerLayer(key, prefix, suffix string) (*klayer, error) {
	r := l.raw(key)
	if r == nil {
		return nil, l.errorf("attribute %q is missing", key)
	}
	var o kerasObj
	if err := json.Unmarshal(r, &o); err != nil || o.Class == "" {
		return nil, l.errorf("attribute %q is not a serialized layer", key)
	}
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(o.Config, &cfg); err != nil {
		return nil, l.errorf("attribute %q: config: %v", key, err)
	}
	name, _ := jsonString(cfg["name"])
	scope := append(l.scope[:len(l.scope):len(l.scope)], l.name)
	return l.b.newLayer(o.Class, prefix+name, l.base+"/"+prefix+name+suffix, cfg, scope), nil
}

// bidirectional runs the wrapped recurrent layer forwards and a copy
// backwards (its weights under "backward_" + the layer's name) and merges
// the two; with return_sequences the backward states are put back in time
// order first.
func (l *klayer) bidirectional(ins []string) (string, error) {
	x, err := l.one(ins)
	if err != nil {
		return "", err
	}
	xs, err := l.rank(x, 3)
	if err != nil {
		return "", err
	}
	fw, err := l.innerLayer("layer", "forward_", "")
	if err != nil {
		return "", err
	}
	key := "layer"
	if l.cfg["backward_layer"] != nil && present(l.cfg["backward_layer"]) {
		key = "backward_layer"
	}
	bw, err := l.innerLayer(key, "backward_", "")
	if err != nil {
		return "", err
	}
	if key == "backward_layer" {
		// Keras names the given backward layer itself; its weights are
		// under that name.
		bw.name = bw.name[len("backward_"):]
	}
	if r, ok := l.cfg["merge_mode"]; ok && !present(r) {
		return "", l.errorf("attribute \"merge_mode\" = null (two outputs, forward and backward) is not supported")
	}
	mode, err := l.want("merge_mode", "concat", "sum", "mul", "ave")
	if err != nil {
		return "", err
	}
	kinds := map[string]rnnKind{"SimpleRNN": rnnSimple, "LSTM": rnnLSTM, "GRU": rnnGRU}
	var outs [2]string
	for i, sub := range []*klayer{fw, bw} {
		kind, ok := kinds[sub.class]
		if !ok {
			return "", l.errorf("wraps a %s; Bidirectional is supported over SimpleRNN, LSTM and GRU", sub.class)
		}
		sp, err := sub.rnnAttrs(kind, xs[2])
		if err != nil {
			return "", err
		}
		back := sp.backwards
		if i == 1 && key == "layer" {
			back = !back
		}
		// The backward states are put back in time order.
		if outs[i], err = sub.unroll(x, sp, back, i == 1); err != nil {
			return "", err
		}
		if err := sub.checkKeys(); err != nil {
			return "", err
		}
	}
	switch mode {
	case "concat":
		return l.add(ir.OpConcat, "concat", ir.Attrs{Axis: len(l.shape(outs[0])) - 1}, outs[0], outs[1])
	case "sum":
		return l.add(ir.OpAdd, "sum", ir.Attrs{}, outs[0], outs[1])
	case "mul":
		return l.add(ir.OpMul, "mul", ir.Attrs{}, outs[0], outs[1])
	}
	s, err := l.add(ir.OpAdd, "sum", ir.Attrs{}, outs[0], outs[1])
	if err != nil {
		return "", err
	}
	half, err := l.scalar("half", 0.5)
	if err != nil {
		return "", err
	}
	return l.add(ir.OpMul, "ave", ir.Attrs{}, s, half)
}

// timeDistributed applies the wrapped layer to every step: [N, T, …] is
// reshaped to [N·T, …], the layer lowered on it, and the result reshaped
// back to [N, T, …]. Its weights are stored under the wrapper's name.
func (l *klayer) timeDistributed(ins []string) (string, error) {
	x, err := l.one(ins)
	if err != nil {
		return "", err
	}
	xs := l.shape(x)
	if len(xs) < 3 {
		return "", l.errorf("input %v has no time axis", xs)
	}
	in, err := l.innerLayer("layer", "", "")
	if err != nil {
		return "", err
	}
	if isModelClass(in.class) {
		return "", l.errorf("wraps a model; TimeDistributed is supported over single layers")
	}
	flat := append(ir.Shape{xs[0] * xs[1]}, xs[2:]...)
	x2, err := l.reshape(x, flat)
	if err != nil {
		return "", err
	}
	if l.b.depth++; l.b.depth > maxModelDepth {
		return "", l.errorf("models and wrappers are nested more than %d deep", maxModelDepth)
	}
	y, err := l.b.lower(in, []string{x2})
	l.b.depth--
	if err != nil {
		return "", err
	}
	ys := l.shape(y)
	return l.reshape(y, append(ir.Shape{xs[0], xs[1]}, ys[1:]...))
}
