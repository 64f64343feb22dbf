package onnx

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"veil/ir"
)

// node wraps a NodeProto during lowering: typed attribute access that
// records which attributes were read, and errors that name the node.
type node struct {
	*nodeProto
	name  string
	attrs map[string]*attribute
	read  map[string]bool
	err   error // first attribute error
}

func newNode(np *nodeProto, index int) *node {
	n := &node{nodeProto: np, attrs: map[string]*attribute{}, read: map[string]bool{}}
	n.name = np.name
	if n.name == "" {
		if len(np.outputs) > 0 && np.outputs[0] != "" {
			n.name = np.outputs[0]
		} else {
			n.name = fmt.Sprintf("%s_%d", np.opType, index)
		}
	}
	for _, a := range np.attrs {
		if _, dup := n.attrs[a.name]; dup && n.err == nil {
			n.err = n.errorf("attribute %q is given twice", a.name)
		}
		n.attrs[a.name] = a
	}
	return n
}

// errorf returns an *ir.NodeError naming this ONNX node and its op.
func (n *node) errorf(format string, args ...any) error {
	return &ir.NodeError{Node: n.name, Op: ir.Op(n.opType), Err: fmt.Errorf(format, args...)}
}

// wrap puts err in the context of this node unless it already names it.
// An error about the ir node that carries this node's name (from the
// graph builders, which name the op they implement) is relabelled with
// the ONNX op.
func (n *node) wrap(err error) error {
	var ne *ir.NodeError
	if errors.As(err, &ne) && ne.Node == n.name {
		if string(ne.Op) == n.opType {
			return err
		}
		return &ir.NodeError{Node: n.name, Op: ir.Op(n.opType), Err: ne.Err}
	}
	return &ir.NodeError{Node: n.name, Op: ir.Op(n.opType), Err: err}
}

// in returns input i, or "" when it is absent (omitted optional input).
func (n *node) in(i int) string {
	if i < len(n.inputs) {
		return n.inputs[i]
	}
	return ""
}

// out returns the first output.
func (n *node) out() string { return n.outputs[0] }

// attr returns the attribute called name after checking its type, marking
// it read; nil when absent.
func (n *node) attr(name string, typ int64) *attribute {
	a := n.attrs[name]
	n.read[name] = true
	if a == nil {
		return nil
	}
	if a.refAttr != "" {
		n.fail(n.errorf("attribute %q refers to a function attribute, which is not supported", name))
		return nil
	}
	if a.typ != 0 && a.typ != typ {
		n.fail(n.errorf("attribute %q has type %d, want %d", name, a.typ, typ))
		return nil
	}
	return a
}

func (n *node) fail(err error) {
	if n.err == nil {
		n.err = err
	}
}

func (n *node) has(name string) bool { return n.attrs[name] != nil }

// ignore marks attributes that do not affect inference as read.
func (n *node) ignore(names ...string) {
	for _, s := range names {
		n.read[s] = true
	}
}

func (n *node) int(name string, def int64) int64 {
	if a := n.attr(name, attrInt); a != nil {
		return a.i
	}
	return def
}

func (n *node) float(name string, def float32) float32 {
	if a := n.attr(name, attrFloat); a != nil {
		return a.f
	}
	return def
}

func (n *node) str(name, def string) string {
	if a := n.attr(name, attrString); a != nil {
		return string(a.s)
	}
	return def
}

func (n *node) ints(name string) []int64 {
	if a := n.attr(name, attrInts); a != nil {
		if a.ints == nil {
			return []int64{}
		}
		return a.ints
	}
	return nil
}

func (n *node) floats(name string) []float32 {
	if a := n.attr(name, attrFloats); a != nil {
		if a.floats == nil {
			return []float32{}
		}
		return a.floats
	}
	return nil
}

func (n *node) tensor(name string) *tensorProto {
	if a := n.attr(name, attrTensor); a != nil {
		if a.t == nil {
			n.fail(n.errorf("attribute %q holds no tensor", name))
		}
		return a.t
	}
	return nil
}

// unread returns the attributes that lowering never looked at, sorted.
func (n *node) unread() []string {
	var s []string
	for name := range n.attrs {
		if !n.read[name] {
			s = append(s, name)
		}
	}
	sort.Strings(s)
	return s
}

// optionalFirstOutput lists the ops whose first output may be omitted
// (a recurrent node's sequence Y, where only the final state is used).
var optionalFirstOutput = map[string]bool{"LSTM": true, "GRU": true, "RNN": true}

func hasOutput(outs []string) bool {
	for _, o := range outs {
		if o != "" {
			return true
		}
	}
	return false
}

// lower imports one node.
func (imp *importer) lower(n *node) error {
	if n.domain != "" && n.domain != "ai.onnx" {
		return n.errorf("op domain %q is not supported (only the default ai.onnx domain)", n.domain)
	}
	if len(n.outputs) == 0 || n.outputs[0] == "" && !optionalFirstOutput[n.opType] || !hasOutput(n.outputs) {
		return n.errorf("node has no output")
	}
	if n.err != nil {
		return n.err
	}
	if why, ok := unsupportedOps[n.opType]; ok {
		return n.errorf("%s", why)
	}
	info, ok := opTable[n.opType]
	if !ok {
		return n.errorf("op %q is not supported", n.opType)
	}
	if imp.opset < info.since {
		return n.errorf("%s before opset %d is not supported (the model uses opset %d)", n.opType, info.since, imp.opset)
	}
	for i := info.outputs; i < len(n.outputs); i++ {
		if o := n.outputs[i]; o != "" && imp.used[o] {
			return n.errorf("output %d (%q) is used, but only the first %d output(s) of %s are supported", i, o, info.outputs, n.opType)
		}
	}
	if err := info.lower(imp, n); err != nil {
		return n.wrap(err)
	}
	if n.err != nil {
		return n.err
	}
	if un := n.unread(); len(un) > 0 {
		return n.errorf("attribute(s) %s not supported", strings.Join(un, ", "))
	}
	return nil
}

// Helpers that build ir values for a node.

// value returns the ir value called name, or an error naming the node.
func (imp *importer) value(n *node, name string) (*ir.Value, error) {
	if name == "" {
		return nil, n.errorf("a required input is missing")
	}
	v := imp.g.Values[name]
	if v == nil {
		return nil, n.errorf("input %q is not defined before the node", name)
	}
	return v, nil
}

// shape returns the static shape of value name.
func (imp *importer) shape(n *node, name string) (ir.Shape, error) {
	v, err := imp.value(n, name)
	if err != nil {
		return nil, err
	}
	return v.Shape, nil
}

// constInts returns the int64 values of the constant input name.
func (imp *importer) constInts(n *node, name, what string) ([]int64, error) {
	v, err := imp.value(n, name)
	if err != nil {
		return nil, err
	}
	if v.Const == nil {
		return nil, n.errorf("%s (input %q) must be a constant", what, name)
	}
	xs, err := v.Const.Ints()
	if err != nil {
		return nil, n.errorf("%s: %v", what, err)
	}
	return xs, nil
}

// constFloats returns the float values of the constant input name.
func (imp *importer) constFloats(n *node, name, what string) ([]float32, error) {
	v, err := imp.value(n, name)
	if err != nil {
		return nil, err
	}
	if v.Const == nil {
		return nil, n.errorf("%s (input %q) must be a constant", what, name)
	}
	return v.Const.Floats(), nil
}

// constScalar returns the single float value of the constant input name.
func (imp *importer) constScalar(n *node, name, what string) (float32, error) {
	v, err := imp.value(n, name)
	if err != nil {
		return 0, err
	}
	if v.Const == nil {
		return 0, n.errorf("%s (input %q) must be a constant", what, name)
	}
	if v.Const.Len() != 1 {
		return 0, n.errorf("%s (input %q) must hold one value, has shape %v", what, name, v.Const.Shape)
	}
	return v.Const.Floats()[0], nil
}

// fresh returns an unused value name derived from the node's name.
func (imp *importer) fresh(n *node, suffix string) string {
	return imp.g.UniqueName(n.name + "/" + suffix)
}

// constInt adds an int64 constant and returns its name.
func (imp *importer) constInt(n *node, suffix string, shape ir.Shape, v []int64) (string, error) {
	name := imp.fresh(n, suffix)
	return name, imp.g.AddConst(name, ir.IntTensor(shape, v))
}

// constFloat adds a float scalar constant and returns its name.
func (imp *importer) constFloat(n *node, suffix string, v float32) (string, error) {
	name := imp.fresh(n, suffix)
	return name, imp.g.AddConst(name, ir.FloatTensor(ir.Shape{}, []float32{v}))
}

// add appends an ir node computing out (a fresh name when out is "").
func (imp *importer) add(n *node, op ir.Op, out string, attrs ir.Attrs, inputs ...string) (string, error) {
	name := n.name
	if out == "" {
		out = imp.fresh(n, strings.ToLower(string(op)))
		name = out
	}
	err := imp.g.AddNode(&ir.Node{Name: name, Op: op, Inputs: inputs, Output: out, Attrs: attrs})
	return out, err
}

// reshape adds a Reshape of x to the static shape s, computing out.
func (imp *importer) reshape(n *node, x, out string, s ir.Shape) (string, error) {
	dims := make([]int64, len(s))
	for i, d := range s {
		dims[i] = int64(d)
	}
	c, err := imp.constInt(n, "shape", ir.Shape{len(dims)}, dims)
	if err != nil {
		return "", err
	}
	return imp.add(n, ir.OpReshape, out, ir.Attrs{}, x, c)
}

// axesOf normalizes axes for a rank, rejecting duplicates and out of range.
func axesOf(n *node, axes []int64, rank int) ([]int, error) {
	out := make([]int, len(axes))
	seen := map[int]bool{}
	for i, a := range axes {
		if a < -int64(rank) || a >= int64(rank) {
			return nil, n.errorf("axis %d out of range for rank %d", a, rank)
		}
		if a < 0 {
			a += int64(rank)
		}
		if seen[int(a)] {
			return nil, n.errorf("axis %d repeated in %v", a, axes)
		}
		seen[int(a)] = true
		out[i] = int(a)
	}
	return out, nil
}

func toInts(xs []int64) []int {
	out := make([]int, len(xs))
	for i, x := range xs {
		out[i] = int(x)
	}
	return out
}
