package onnx

import (
	"fmt"

	"veil/ir"
)

// Control flow. veil's graphs are static, so an If is imported only where
// its condition folds to a constant at import time (a sample rate or a
// shape bound to a constant, as in Silero VAD's branch on sr == 16000):
// the taken branch's subgraph is imported inline, its references to the
// enclosing graphs resolved to their values and its outputs bound to the
// If's outputs; the other branch is never looked at beyond decoding.
// Loop and Scan are refused.

// scope maps the value names of one inlined subgraph to the ir values
// that hold them. A name the subgraph does not define resolves in the
// enclosing scope, and at the main graph (no scope) to itself.
type scope struct {
	parent *scope
	names  map[string]string
}

func (s *scope) resolve(name string) string {
	for ; s != nil; s = s.parent {
		if v, ok := s.names[name]; ok {
			return v
		}
	}
	return name
}

// taken reports whether the ir name v is already a value, a name the main
// graph will define, or the name a subgraph's value was given.
func (imp *importer) taken(v string) bool {
	_, ok := imp.g.Values[v]
	return ok || imp.reserved[v] || imp.claimed[v]
}

// unsupportedOps are ops the importer knows and refuses, with the reason.
var unsupportedOps = map[string]string{
	"Loop": "Loop is not supported: veil's graphs are static, and only control flow that folds at import time (If on a constant condition) imports",
	"Scan": "Scan is not supported: veil's graphs are static, and only control flow that folds at import time (If on a constant condition) imports",
}

// lowerIf imports the branch of an If that its constant condition takes.
func lowerIf(imp *importer, n *node) error {
	if err := inputs(n, 1, 1); err != nil {
		return err
	}
	var branch [2]*graphProto
	for i, name := range []string{"then_branch", "else_branch"} {
		a := n.attr(name, attrGraph)
		if n.err != nil {
			return n.err
		}
		if a == nil || a.g == nil {
			return n.errorf("attribute %s (a graph) is required", name)
		}
		branch[i] = a.g
	}
	c, err := imp.value(n, n.in(0))
	if err != nil {
		return err
	}
	if c.Const == nil {
		return n.errorf("If on a condition computed from the data is not supported (the condition %q must fold to a constant at import; bind the inputs it depends on with Options.Constants)", n.in(0))
	}
	if c.Const.Len() != 1 {
		return n.errorf("the condition %q has shape %v; it must hold one element", n.in(0), c.Const.Shape)
	}
	gp, which := branch[1], "else_branch"
	if c.Const.Floats()[0] != 0 {
		gp, which = branch[0], "then_branch"
	}
	if err := imp.inline(n, gp); err != nil {
		return fmt.Errorf("%s %q: %w", which, gp.name, err)
	}
	return nil
}

// inline imports subgraph gp of node n in a new scope and binds its
// outputs to n's outputs.
func (imp *importer) inline(n *node, gp *graphProto) error {
	if len(gp.input) != 0 {
		return fmt.Errorf("the subgraph has %d inputs; an If branch takes none", len(gp.input))
	}
	if gp.sparseInit {
		return fmt.Errorf("sparse initializers are not supported")
	}
	if len(gp.output) != len(n.outputs) {
		return fmt.Errorf("the subgraph has %d outputs, the node %d", len(gp.output), len(n.outputs))
	}
	s := &scope{parent: imp.scope, names: map[string]string{}}
	def := func(name string) {
		if name == "" {
			return
		}
		if _, dup := s.names[name]; dup {
			return // the duplicate definition fails when it is added
		}
		v := name
		for i := 1; imp.taken(v); i++ {
			v = fmt.Sprintf("%s_%d", name, i)
		}
		s.names[name] = v
		imp.claimed[v] = true
		if imp.used[name] {
			imp.used[v] = true
		}
	}
	for _, t := range gp.initializer {
		def(t.name)
	}
	for _, np := range gp.nodes {
		for _, o := range np.outputs {
			def(o)
		}
	}
	outer := imp.scope
	imp.scope = s
	defer func() { imp.scope = outer }()
	for _, t := range gp.initializer {
		if t.name == "" {
			return fmt.Errorf("an initializer has no name")
		}
		v, err := t.toIR()
		if err != nil {
			return fmt.Errorf("initializer: %w", err)
		}
		if err := imp.g.AddConst(s.names[t.name], v); err != nil {
			return err
		}
	}
	for i, np := range gp.nodes {
		if err := imp.lower(newNode(s.rename(np), i)); err != nil {
			return err
		}
	}
	for k, o := range gp.output {
		if o.hasType && !o.tensor {
			return fmt.Errorf("subgraph output %q is not a tensor (sequences, maps and optionals are not supported)", o.name)
		}
		if n.outputs[k] == "" {
			continue
		}
		src := s.resolve(o.name)
		if _, err := imp.value(n, src); err != nil {
			return fmt.Errorf("subgraph output %q is not defined", o.name)
		}
		if _, err := imp.add(n, ir.OpIdentity, n.outputs[k], ir.Attrs{}, src); err != nil {
			return err
		}
	}
	return nil
}

// rename returns a copy of np with its value names resolved in s (its
// subgraphs are resolved when they are inlined, in a scope below s).
func (s *scope) rename(np *nodeProto) *nodeProto {
	c := *np
	c.inputs = make([]string, len(np.inputs))
	for i, in := range np.inputs {
		if in != "" {
			c.inputs[i] = s.resolve(in)
		}
	}
	c.outputs = make([]string, len(np.outputs))
	for i, o := range np.outputs {
		if o != "" {
			c.outputs[i] = s.resolve(o)
		}
	}
	return &c
}

// lowerNot imports Not as Equal(x, 0): 1 where x is false.
func lowerNot(imp *importer, n *node) error {
	if err := inputs(n, 1, 1); err != nil {
		return err
	}
	x, err := imp.value(n, n.in(0))
	if err != nil {
		return err
	}
	zero := ir.IntTensor(ir.Shape{}, []int64{0})
	if x.DType == ir.Float32 {
		zero = ir.FloatTensor(ir.Shape{}, []float32{0})
	}
	z := imp.fresh(n, "false")
	if err := imp.g.AddConst(z, zero); err != nil {
		return err
	}
	_, err = imp.add(n, ir.OpEqual, n.out(), ir.Attrs{}, n.in(0), z)
	return err
}

// lowerSize imports Size as the constant element count of the input's
// static shape.
func lowerSize(imp *importer, n *node) error {
	if err := inputs(n, 1, 1); err != nil {
		return err
	}
	xs, err := imp.shape(n, n.in(0))
	if err != nil {
		return err
	}
	return imp.g.AddConst(n.out(), ir.IntTensor(ir.Shape{}, []int64{int64(xs.Size())}))
}
