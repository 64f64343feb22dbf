package tf

import (
	"encoding/json"

	"veil/ir"
)

// Recurrent layers (SimpleRNN, LSTM, GRU), Bidirectional and
// TimeDistributed. A recurrent layer is unrolled over its fixed sequence
// length: the input projection x·W + b of every step is one MatMul, then
// each step slices its row and adds h·U (skipped at the first step, whose
// state is zero). The equations are Keras's (and TF.js's), with the
// kernels' gate blocks in Keras's order:
//
//	SimpleRNN  h = act(x·W + h·U + b)
//	LSTM       [i f c o]: i = rec(·), f = rec(·), o = rec(·), g = act(·),
//	           c = f·c + i·g, h = o·act(c)
//	GRU        [z r h]: z = rec(x·Wz + h·Uz), r = rec(x·Wr + h·Ur),
//	           reset_after false: ĥ = act(x·Wh + (r·h)·Uh)
//	           reset_after true:  ĥ = act(x·Wh + r·(h·Uh + b_rec,h)), the
//	           recurrent bias (the bias's second row) added to h·U of every gate
//	           h = z·h + (1 − z)·ĥ, computed as ĥ + z·(h − ĥ)
//
// rec is recurrent_activation, act activation; biases are added to x·W.

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
	units      int
	act, rec   string
	returnSeq  bool
	backwards  bool
	resetAfter bool
	w, u       string     // constants: kernel [F, G·U], recurrent kernel [U, G·U]
	b          *ir.Tensor // input bias [G·U] or nil
	rb         *ir.Tensor // GRU reset_after: recurrent bias [G·U] or nil
}

// rnnAttrs reads the attributes and weights of recurrent layer l, whose
// input has f features.
func (l *klayer) rnnAttrs(kind rnnKind, f int) (*rnnSpec, error) {
	sp := &rnnSpec{kind: kind}
	var err error
	if sp.units, err = l.int("units", 0); err != nil {
		return nil, err
	}
	if err := l.positive("units", []int{sp.units}); err != nil {
		return nil, err
	}
	for _, a := range []struct {
		key, def string
		dst      *string
	}{{"activation", "tanh", &sp.act}, {"recurrent_activation", "sigmoid", &sp.rec}} {
		*a.dst = a.def
		if r := l.raw(a.key); r != nil {
			if *a.dst, err = activationName(r); err != nil {
				return nil, l.errorf("attribute %q = %s: %v", a.key, r, err)
			}
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
	gu := kind.gates() * sp.units
	w, err := l.weight("kernel", ir.Shape{f, gu})
	if err != nil {
		return nil, err
	}
	u, err := l.weight("recurrent_kernel", ir.Shape{sp.units, gu})
	if err != nil {
		return nil, err
	}
	use, err := l.bool("use_bias", true)
	if err != nil {
		return nil, err
	}
	if use {
		if sp.resetAfter {
			b, err := l.weight("bias", ir.Shape{2, gu})
			if err != nil {
				return nil, err
			}
			sp.b = ir.FloatTensor(ir.Shape{gu}, b.F[:gu])
			sp.rb = ir.FloatTensor(ir.Shape{gu}, b.F[gu:])
		} else if sp.b, err = l.weight("bias", ir.Shape{gu}); err != nil {
			return nil, err
		}
	}
	if sp.w, err = l.konst("kernel", w); err != nil {
		return nil, err
	}
	if sp.u, err = l.konst("recurrent_kernel", u); err != nil {
		return nil, err
	}
	return sp, nil
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
	steps, err := l.unroll(x, sp, sp.backwards)
	if err != nil {
		return "", err
	}
	if !sp.returnSeq {
		return steps[len(steps)-1], nil
	}
	// Keras returns the states in the order it computed them, reversed in
	// time for go_backwards.
	return l.stack(steps)
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

// maxRNNSteps bounds the sequence length a recurrent layer is unrolled
// over (each step is about twenty nodes), so that a small model cannot
// make the import build millions of nodes.
const maxRNNSteps = 1 << 12

// unroll adds the steps of recurrent layer sp over x [N, T, F], in time
// order or, backwards, from the last step to the first, and returns the
// state after each step in the order computed.
func (l *klayer) unroll(x string, sp *rnnSpec, backwards bool) ([]string, error) {
	xs := l.shape(x)
	n, t, u := xs[0], xs[1], sp.units
	if t > maxRNNSteps {
		return nil, l.errorf("the sequence has %d steps; veil unrolls at most %d", t, maxRNNSteps)
	}
	gu := sp.kind.gates() * u
	xw, err := l.add(ir.OpMatMul, "input_proj", ir.Attrs{}, x, sp.w)
	if err != nil {
		return nil, err
	}
	if xw, err = l.addBias(xw, sp.b); err != nil {
		return nil, err
	}
	var uzr, uh string // GRU reset_after false: U's [z r] and h blocks
	if sp.kind == rnnGRU && !sp.resetAfter {
		if uzr, err = l.slice(sp.u, 1, 0, 2*u); err != nil {
			return nil, err
		}
		if uh, err = l.slice(sp.u, 1, 2*u, gu); err != nil {
			return nil, err
		}
	}
	var rb string
	if sp.rb != nil {
		// [1, G·U], so that it slices as h·U does.
		if rb, err = l.konst("recurrent_bias", ir.FloatTensor(ir.Shape{1, gu}, sp.rb.F)); err != nil {
			return nil, err
		}
	}
	h, c := "", "" // zero state
	var steps []string
	for j := 0; j < t; j++ {
		ti := j
		if backwards {
			ti = t - 1 - j
		}
		xt, err := l.slice(xw, 1, ti, ti+1)
		if err != nil {
			return nil, err
		}
		if xt, err = l.reshape(xt, ir.Shape{n, gu}); err != nil {
			return nil, err
		}
		switch sp.kind {
		case rnnSimple:
			h, err = l.simpleStep(sp, xt, h)
		case rnnLSTM:
			h, c, err = l.lstmStep(sp, xt, h, c)
		case rnnGRU:
			h, err = l.gruStep(sp, xt, h, uzr, uh, rb)
		}
		if err != nil {
			return nil, err
		}
		steps = append(steps, h)
	}
	return steps, nil
}

// recur returns xt + h·U, or xt when the state is zero.
func (l *klayer) recur(xt, h, u string) (string, error) {
	if h == "" {
		return xt, nil
	}
	hu, err := l.add(ir.OpMatMul, "recurrent", ir.Attrs{}, h, u)
	if err != nil {
		return "", err
	}
	return l.add(ir.OpAdd, "gates", ir.Attrs{}, xt, hu)
}

func (l *klayer) simpleStep(sp *rnnSpec, xt, h string) (string, error) {
	z, err := l.recur(xt, h, sp.u)
	if err != nil {
		return "", err
	}
	return l.activate(z, sp.act, "activation")
}

// gate slices block k of a [N, G·U] value and applies activation act.
func (l *klayer) gate(z string, k, u int, act, key string) (string, error) {
	g, err := l.slice(z, 1, k*u, (k+1)*u)
	if err != nil {
		return "", err
	}
	return l.activate(g, act, key)
}

func (l *klayer) lstmStep(sp *rnnSpec, xt, h, c string) (string, string, error) {
	u := sp.units
	z, err := l.recur(xt, h, sp.u)
	if err != nil {
		return "", "", err
	}
	var g [4]string
	for k, a := range []struct{ act, key string }{
		{sp.rec, "recurrent_activation"}, {sp.rec, "recurrent_activation"},
		{sp.act, "activation"}, {sp.rec, "recurrent_activation"},
	} {
		if g[k], err = l.gate(z, k, u, a.act, a.key); err != nil {
			return "", "", err
		}
	}
	i, f, cc, o := g[0], g[1], g[2], g[3]
	ic, err := l.add(ir.OpMul, "input_gate", ir.Attrs{}, i, cc)
	if err != nil {
		return "", "", err
	}
	if c == "" {
		c = ic
	} else {
		fc, err := l.add(ir.OpMul, "forget_gate", ir.Attrs{}, f, c)
		if err != nil {
			return "", "", err
		}
		if c, err = l.add(ir.OpAdd, "cell", ir.Attrs{}, fc, ic); err != nil {
			return "", "", err
		}
	}
	ac, err := l.activate(c, sp.act, "activation")
	if err != nil {
		return "", "", err
	}
	h, err = l.add(ir.OpMul, "state", ir.Attrs{}, o, ac)
	return h, c, err
}

func (l *klayer) gruStep(sp *rnnSpec, xt, h, uzr, uh, rb string) (string, error) {
	u := sp.units
	xzr, err := l.slice(xt, 1, 0, 2*u)
	if err != nil {
		return "", err
	}
	xh, err := l.slice(xt, 1, 2*u, 3*u)
	if err != nil {
		return "", err
	}
	var zr, rech string // pre-activations of z and r; the recurrent part of ĥ
	var r string
	if sp.resetAfter {
		// inner = h·U + b_rec (b_rec alone at the zero state; 0 without a bias).
		inner := rb
		if h != "" {
			if inner, err = l.add(ir.OpMatMul, "recurrent", ir.Attrs{}, h, sp.u); err != nil {
				return "", err
			}
			if inner, err = l.add(ir.OpAdd, "recurrent_bias_add", ir.Attrs{}, inner, rb); err != nil {
				return "", err
			}
		}
		zr = xzr
		if inner != "" {
			izr, err := l.slice(inner, 1, 0, 2*u)
			if err != nil {
				return "", err
			}
			if zr, err = l.add(ir.OpAdd, "gates", ir.Attrs{}, xzr, izr); err != nil {
				return "", err
			}
		}
		if r, err = l.gate(zr, 1, u, sp.rec, "recurrent_activation"); err != nil {
			return "", err
		}
		if inner != "" {
			ih, err := l.slice(inner, 1, 2*u, 3*u)
			if err != nil {
				return "", err
			}
			if rech, err = l.add(ir.OpMul, "reset", ir.Attrs{}, r, ih); err != nil {
				return "", err
			}
		}
	} else {
		if zr, err = l.recur(xzr, h, uzr); err != nil {
			return "", err
		}
		if r, err = l.gate(zr, 1, u, sp.rec, "recurrent_activation"); err != nil {
			return "", err
		}
		if h != "" {
			rh, err := l.add(ir.OpMul, "reset", ir.Attrs{}, r, h)
			if err != nil {
				return "", err
			}
			if rech, err = l.add(ir.OpMatMul, "recurrent_h", ir.Attrs{}, rh, uh); err != nil {
				return "", err
			}
		}
	}
	z, err := l.gate(zr, 0, u, sp.rec, "recurrent_activation")
	if err != nil {
		return "", err
	}
	pre := xh
	if rech != "" {
		if pre, err = l.add(ir.OpAdd, "candidate_pre", ir.Attrs{}, xh, rech); err != nil {
			return "", err
		}
	}
	hh, err := l.activate(pre, sp.act, "activation")
	if err != nil {
		return "", err
	}
	// h' = ĥ + z·(h − ĥ); at the zero state ĥ − z·ĥ.
	var d string
	if h == "" {
		zh, err := l.add(ir.OpMul, "update", ir.Attrs{}, z, hh)
		if err != nil {
			return "", err
		}
		return l.add(ir.OpSub, "state", ir.Attrs{}, hh, zh)
	}
	if d, err = l.add(ir.OpSub, "delta", ir.Attrs{}, h, hh); err != nil {
		return "", err
	}
	zd, err := l.add(ir.OpMul, "update", ir.Attrs{}, z, d)
	if err != nil {
		return "", err
	}
	return l.add(ir.OpAdd, "state", ir.Attrs{}, hh, zd)
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
		steps, err := sub.unroll(x, sp, back)
		if err != nil {
			return "", err
		}
		if err := sub.checkKeys(); err != nil {
			return "", err
		}
		if !sp.returnSeq {
			outs[i] = steps[len(steps)-1]
			continue
		}
		if i == 1 {
			for a, b := 0, len(steps)-1; a < b; a, b = a+1, b-1 {
				steps[a], steps[b] = steps[b], steps[a]
			}
		}
		if outs[i], err = sub.stack(steps); err != nil {
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
