package onnx

import (
	"fmt"
	"strings"

	"veil/ir"
)

// LSTM, GRU and RNN (opset 7 and 14 semantics) are unrolled over their
// static sequence length through the recurrent cells of package ir. The
// weights W [D, G·H, In], R [D, G·H, H] and B [D, 2·G·H] are cut into
// per-gate [In, H] and [H, H] kernels by Slice, Reshape and Transpose
// (which fold when they are constants), in ONNX's gate order:
//
//	LSTM [i o f c], GRU [z r h], RNN [i]
//
// Supported: both layouts, the three directions, initial states (a
// constant zero state is left out of the products), sequence_lens absent
// or all full, GRU's linear_before_reset. Refused, naming what: peepholes
// (P), clip, input_forget, and activations other than the defaults.

// rnnKind describes one of the three ops.
type rnnKind struct {
	op    string
	gates int
	order []int    // ONNX block of each ir gate (LSTM: ir i f c o ← ONNX i o f c)
	acts  []string // default activations, per direction
}

var (
	lstmKind = rnnKind{"LSTM", 4, []int{0, 2, 3, 1}, []string{"Sigmoid", "Tanh", "Tanh"}}
	gruKind  = rnnKind{"GRU", 3, []int{0, 1, 2}, []string{"Sigmoid", "Tanh"}}
	rnnPlain = rnnKind{"RNN", 1, []int{0}, []string{"Tanh"}}
)

// maxUnrolledSteps bounds the recurrent steps (sequence length times
// directions, over all the model's recurrent nodes) that one import
// unrolls into nodes.
const maxUnrolledSteps = 1 << 14

func lowerLSTM(imp *importer, n *node) error { return imp.lowerRNN(n, lstmKind) }
func lowerGRU(imp *importer, n *node) error  { return imp.lowerRNN(n, gruKind) }
func lowerRNN(imp *importer, n *node) error  { return imp.lowerRNN(n, rnnPlain) }

// rnnSpec is what lowerRNN reads of a node.
type rnnSpec struct {
	kind             rnnKind
	dirs             int
	reverse          []bool // per direction
	layout           int64
	t, batch, in, hd int
	lbr              bool
}

func (imp *importer) lowerRNN(n *node, k rnnKind) error {
	maxIn := 6 // X W R B sequence_lens initial_h
	if k.op == "LSTM" {
		maxIn = 8 // initial_c P
	}
	if err := inputs(n, 3, maxIn); err != nil {
		return err
	}
	sp, err := imp.rnnAttrs(n, k)
	if err != nil {
		return err
	}
	if p := n.in(7); k.op == "LSTM" && p != "" {
		return n.errorf("input P (peepholes) is not supported")
	}
	if err := imp.fullSequences(n, sp); err != nil {
		return err
	}
	if imp.unrolled += sp.t * sp.dirs; imp.unrolled > maxUnrolledSteps {
		return n.errorf("unrolling the model's recurrent nodes would take more than %d steps", maxUnrolledSteps)
	}
	var hs [][]string // per direction, per time step
	var lastH, lastC []string
	for d := range sp.dirs {
		cell, err := imp.rnnCell(n, sp, d)
		if err != nil {
			return err
		}
		h0, err := imp.initialState(n, sp, n.in(5), d, "initial_h")
		if err != nil {
			return err
		}
		c0 := ""
		if k.op == "LSTM" {
			if c0, err = imp.initialState(n, sp, n.in(6), d, "initial_c"); err != nil {
				return err
			}
		}
		seq, err := cell.Unroll(n.in(0), int(sp.layout), h0, c0, sp.reverse[d])
		if err != nil {
			return err
		}
		hs = append(hs, seq.H)
		lastH, lastC = append(lastH, seq.Last), append(lastC, seq.Cell)
	}
	if n.outputs[0] != "" {
		if err := imp.rnnSequenceOutput(n, sp, hs, n.outputs[0]); err != nil {
			return err
		}
	}
	for i, last := range [][]string{lastH, lastC} {
		if 1+i >= len(n.outputs) || n.outputs[1+i] == "" {
			continue
		}
		if err := imp.rnnStateOutput(n, sp, last, n.outputs[1+i]); err != nil {
			return err
		}
	}
	return nil
}

// rnnAttrs reads and checks the attributes and the shapes of X, W and R.
func (imp *importer) rnnAttrs(n *node, k rnnKind) (*rnnSpec, error) {
	sp := &rnnSpec{kind: k}
	switch dir := n.str("direction", "forward"); dir {
	case "forward":
		sp.reverse = []bool{false}
	case "reverse":
		sp.reverse = []bool{true}
	case "bidirectional":
		sp.reverse = []bool{false, true}
	default:
		return nil, n.errorf("attribute direction=%q is not supported (forward, reverse or bidirectional)", dir)
	}
	sp.dirs = len(sp.reverse)
	if imp.opset >= 14 {
		sp.layout = n.int("layout", 0)
	}
	if sp.layout != 0 && sp.layout != 1 {
		return nil, n.errorf("attribute layout=%d is not supported (0 or 1)", sp.layout)
	}
	if acts := n.attr("activations", attrStrings); acts != nil {
		if n.err != nil {
			return nil, n.err
		}
		want := strings.Repeat(strings.Join(k.acts, " ")+" ", sp.dirs)
		if got := strings.Join(stringsOf(acts), " ") + " "; !strings.EqualFold(got, want) {
			return nil, n.errorf("attribute activations=%v is not supported (only the default %v per direction)", stringsOf(acts), k.acts)
		}
	}
	for _, a := range []string{"activation_alpha", "activation_beta", "clip"} {
		if n.has(a) {
			n.ignore(a)
			return nil, n.errorf("attribute %s is not supported", a)
		}
	}
	if k.op == "LSTM" {
		if v := n.int("input_forget", 0); v != 0 {
			return nil, n.errorf("attribute input_forget=%d is not supported (only 0)", v)
		}
	}
	if k.op == "GRU" {
		switch v := n.int("linear_before_reset", 0); v {
		case 0, 1:
			sp.lbr = v == 1
		default:
			return nil, n.errorf("attribute linear_before_reset=%d is not valid (0 or 1)", v)
		}
	}
	xs, err := imp.shape(n, n.in(0))
	if err != nil {
		return nil, err
	}
	ws, err := imp.shape(n, n.in(1))
	if err != nil {
		return nil, err
	}
	rs, err := imp.shape(n, n.in(2))
	if err != nil {
		return nil, err
	}
	if len(xs) != 3 || len(ws) != 3 || len(rs) != 3 {
		return nil, n.errorf("X %v, W %v and R %v must have rank 3", xs, ws, rs)
	}
	sp.t, sp.batch = xs[0], xs[1]
	if sp.layout == 1 {
		sp.t, sp.batch = xs[1], xs[0]
	}
	sp.in, sp.hd = xs[2], rs[2]
	if hs := n.int("hidden_size", int64(sp.hd)); hs != int64(sp.hd) {
		return nil, n.errorf("attribute hidden_size=%d disagrees with R %v", hs, rs)
	}
	g := k.gates * sp.hd
	if !ws.Equal(ir.Shape{sp.dirs, g, sp.in}) || !rs.Equal(ir.Shape{sp.dirs, g, sp.hd}) {
		return nil, n.errorf("W %v and R %v do not match X %v, %d direction(s) and %d gates of %d", ws, rs, xs, sp.dirs, k.gates, sp.hd)
	}
	if b := n.in(3); b != "" {
		bs, err := imp.shape(n, b)
		if err != nil {
			return nil, err
		}
		if !bs.Equal(ir.Shape{sp.dirs, 2 * g}) {
			return nil, n.errorf("B has shape %v, want %v", bs, ir.Shape{sp.dirs, 2 * g})
		}
	}
	if sp.t < 1 || sp.batch < 1 || sp.in < 1 || sp.hd < 1 {
		return nil, n.errorf("X %v and R %v have an empty dimension", xs, rs)
	}
	return sp, nil
}

func stringsOf(a *attribute) []string {
	if a.typ != attrStrings {
		return nil
	}
	return a.strs
}

// fullSequences checks that sequence_lens, when given, is a constant of
// full lengths.
func (imp *importer) fullSequences(n *node, sp *rnnSpec) error {
	sl := n.in(4)
	if sl == "" {
		return nil
	}
	lens, err := imp.constInts(n, sl, "sequence_lens")
	if err != nil {
		return err
	}
	if len(lens) != sp.batch {
		return n.errorf("sequence_lens has %d elements for a batch of %d", len(lens), sp.batch)
	}
	for _, l := range lens {
		if l != int64(sp.t) {
			return n.errorf("sequence_lens %v is not supported: only full sequences (every length %d) are", lens, sp.t)
		}
	}
	return nil
}

// rnnCell cuts direction d's per-gate weights out of W, R and B and
// packs them into an ir cell.
func (imp *importer) rnnCell(n *node, sp *rnnSpec, d int) (*ir.Cell, error) {
	k, h := sp.kind, sp.hd
	// block returns gate j's kernel of W or R ([D, G·H, cols]) as [cols, H].
	block := func(src string, j, cols int, what string) (string, error) {
		s, err := imp.sliceRows(n, src, d, j*h, (j+1)*h, what)
		if err != nil {
			return "", err
		}
		if s, err = imp.reshape(n, s, "", ir.Shape{h, cols}); err != nil {
			return "", err
		}
		return imp.add(n, ir.OpTranspose, "", ir.Attrs{Perm: []int{1, 0}}, s)
	}
	// bias returns gate j's input (half 0) or recurrent (half 1) bias [H].
	bias := func(j, half int) (string, error) {
		b := n.in(3)
		if b == "" {
			return "", nil
		}
		off := half*k.gates*h + j*h
		s, err := imp.sliceRows(n, b, d, off, off+h, "bias")
		if err != nil {
			return "", err
		}
		return imp.reshape(n, s, "", ir.Shape{h})
	}
	var w, r, wb, rb [4]string
	for i, j := range k.order {
		var err error
		if w[i], err = block(n.in(1), j, sp.in, "kernel"); err != nil {
			return nil, err
		}
		if r[i], err = block(n.in(2), j, h, "recurrent_kernel"); err != nil {
			return nil, err
		}
		if wb[i], err = bias(j, 0); err != nil {
			return nil, err
		}
		if rb[i], err = bias(j, 1); err != nil {
			return nil, err
		}
	}
	name := n.name
	if sp.dirs > 1 {
		name = fmt.Sprintf("%s/direction%d", n.name, d)
	}
	switch k.op {
	case "LSTM":
		return imp.g.NewLSTMCell(name, ir.LSTMWeights{
			W:  ir.LSTMGates{I: w[0], F: w[1], C: w[2], O: w[3]},
			R:  ir.LSTMGates{I: r[0], F: r[1], C: r[2], O: r[3]},
			WB: ir.LSTMGates{I: wb[0], F: wb[1], C: wb[2], O: wb[3]},
			RB: ir.LSTMGates{I: rb[0], F: rb[1], C: rb[2], O: rb[3]}})
	case "GRU":
		return imp.g.NewGRUCell(name, ir.GRUWeights{
			W:  ir.GRUGates{Z: w[0], R: w[1], H: w[2]},
			R:  ir.GRUGates{Z: r[0], R: r[1], H: r[2]},
			WB: ir.GRUGates{Z: wb[0], R: wb[1], H: wb[2]},
			RB: ir.GRUGates{Z: rb[0], R: rb[1], H: rb[2]}, LinearBeforeReset: sp.lbr})
	}
	return imp.g.NewRNNCell(name, ir.RNNWeights{W: w[0], R: r[0], WB: wb[0], RB: rb[0]})
}

// sliceRows returns src[d, lo:hi] (src of rank 2 or 3) as a value.
func (imp *importer) sliceRows(n *node, src string, d, lo, hi int, what string) (string, error) {
	st, err := imp.constInt(n, what+"_starts", ir.Shape{2}, []int64{int64(d), int64(lo)})
	if err != nil {
		return "", err
	}
	en, err := imp.constInt(n, what+"_ends", ir.Shape{2}, []int64{int64(d + 1), int64(hi)})
	if err != nil {
		return "", err
	}
	ax, err := imp.constInt(n, what+"_axes", ir.Shape{2}, []int64{0, 1})
	if err != nil {
		return "", err
	}
	return imp.add(n, ir.OpSlice, "", ir.Attrs{}, src, st, en, ax)
}

// initialState returns direction d's initial state [N, H] from name
// ([D, N, H], or [N, D, H] in layout 1), or "" for a zero state: none
// given, or a constant of zeros.
func (imp *importer) initialState(n *node, sp *rnnSpec, name string, d int, what string) (string, error) {
	if name == "" {
		return "", nil
	}
	v, err := imp.value(n, name)
	if err != nil {
		return "", err
	}
	want := ir.Shape{sp.dirs, sp.batch, sp.hd}
	if sp.layout == 1 {
		want = ir.Shape{sp.batch, sp.dirs, sp.hd}
	}
	if !v.Shape.Equal(want) {
		return "", n.errorf("%s has shape %v, want %v", what, v.Shape, want)
	}
	if v.Const != nil && allZero(v.Const) {
		return "", nil
	}
	ax := int(sp.layout)
	st, err := imp.constInt(n, what+"_start", ir.Shape{1}, []int64{int64(d)})
	if err != nil {
		return "", err
	}
	en, err := imp.constInt(n, what+"_end", ir.Shape{1}, []int64{int64(d + 1)})
	if err != nil {
		return "", err
	}
	axc, err := imp.constInt(n, what+"_axis", ir.Shape{1}, []int64{int64(ax)})
	if err != nil {
		return "", err
	}
	s, err := imp.add(n, ir.OpSlice, "", ir.Attrs{}, name, st, en, axc)
	if err != nil {
		return "", err
	}
	return imp.reshape(n, s, "", ir.Shape{sp.batch, sp.hd})
}

func allZero(t *ir.Tensor) bool {
	for _, f := range t.Floats() {
		if f != 0 {
			return false
		}
	}
	return true
}

// rnnSequenceOutput builds Y: [T, D, N, H] (layout 1: [N, T, D, H]).
func (imp *importer) rnnSequenceOutput(n *node, sp *rnnSpec, hs [][]string, out string) error {
	unit := ir.Shape{1, 1, sp.batch, sp.hd} // one step of one direction
	tAxis, dAxis := 0, 1
	if sp.layout == 1 {
		unit = ir.Shape{sp.batch, 1, 1, sp.hd}
		tAxis, dAxis = 1, 2
	}
	steps := make([]string, sp.t)
	for t := range sp.t {
		parts := make([]string, sp.dirs)
		for d := range sp.dirs {
			var err error
			if parts[d], err = imp.reshape(n, hs[d][t], "", unit); err != nil {
				return err
			}
		}
		var err error
		if steps[t], err = imp.concat(n, parts, dAxis, ""); err != nil {
			return err
		}
	}
	_, err := imp.concat(n, steps, tAxis, out)
	return err
}

// rnnStateOutput builds Y_h or Y_c: [D, N, H] (layout 1: [N, D, H]).
func (imp *importer) rnnStateOutput(n *node, sp *rnnSpec, last []string, out string) error {
	unit, axis := ir.Shape{1, sp.batch, sp.hd}, 0
	if sp.layout == 1 {
		unit, axis = ir.Shape{sp.batch, 1, sp.hd}, 1
	}
	parts := make([]string, len(last))
	for d, h := range last {
		var err error
		if parts[d], err = imp.reshape(n, h, "", unit); err != nil {
			return err
		}
	}
	_, err := imp.concat(n, parts, axis, out)
	return err
}

// concat concatenates parts along axis into out ("" for a fresh name);
// a single part is passed through (through an Identity when out is named).
func (imp *importer) concat(n *node, parts []string, axis int, out string) (string, error) {
	if len(parts) == 1 {
		if out == "" {
			return parts[0], nil
		}
		return imp.add(n, ir.OpIdentity, out, ir.Attrs{}, parts[0])
	}
	return imp.add(n, ir.OpConcat, out, ir.Attrs{Axis: axis}, parts...)
}
