package tf

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"veil/ir"
)

// Options controls how a TensorFlow graph is imported.
type Options struct {
	// InputShape overrides the shape of the graph's Placeholder (the
	// graph must have exactly one). Without it, an unknown batch dimension
	// (-1) becomes 1 and any other unknown dimension is an error.
	InputShape []int
	// InputShapes fixes the shapes of Placeholders by name; it takes
	// precedence over InputShape.
	InputShapes map[string][]int
	// Constants binds Placeholders by name to fixed values: they become
	// constants of the graph and fold.
	Constants map[string]*ir.Tensor
	// Outputs names the tensors ("node" or "node:0") to make the graph's
	// outputs. Without it, the TF.js signature's outputs are used, or else
	// every node that no other node reads (other than Const, Placeholder
	// and NoOp), in file order.
	Outputs []string
}

// Import converts gd into veil's float graph: NHWC activations
// (g.Layout = ir.NHWC), convolution weights transposed to [O, I/group,
// KH, KW], all constant subgraphs folded. Only the nodes the outputs
// depend on are converted. An op it does not support, or an attribute
// value it cannot honour (dilations, NCHW, training-mode batch norm …), is
// an *ir.NodeError naming the TensorFlow node and op.
func Import(gd *GraphDef, name string, opt Options) (*ir.Graph, error) {
	b := &builder{
		g:     ir.NewGraph(name),
		nodes: map[string]*NodeDef{},
		vals:  map[string]string{},
		prod:  map[string]*ir.Node{},
		funcs: map[string]*FunctionDef{},
		opt:   opt,
	}
	for _, fn := range gd.Functions {
		b.funcs[fn.Name] = fn
	}
	b.g.Layout = ir.NHWC
	for _, n := range gd.Nodes {
		if n.Name == "" {
			return nil, errors.New("tf: a node has no name")
		}
		if _, dup := b.nodes[n.Name]; dup {
			return nil, fmt.Errorf("tf: two nodes are named %q", n.Name)
		}
		b.nodes[n.Name] = n
	}
	outs, err := b.outputs(gd)
	if err != nil {
		return nil, err
	}
	order, err := b.order(outs)
	if err != nil {
		return nil, err
	}
	for _, n := range order {
		if n.Op == "Placeholder" {
			b.placeholders++
		}
	}
	for _, n := range order {
		if err := b.convert(n); err != nil {
			return nil, err
		}
	}
	names := make([]string, len(outs))
	for i, o := range outs {
		v, ok := b.vals[o]
		if !ok {
			return nil, fmt.Errorf("tf: output %q is not a value the graph computes", o)
		}
		names[i] = v
	}
	if err := b.g.SetOutputs(names...); err != nil {
		return nil, fmt.Errorf("tf: %w", err)
	}
	b.g.Prune()
	if err := b.g.Validate(); err != nil {
		return nil, fmt.Errorf("tf: imported graph is invalid: %w", err)
	}
	return b.g, nil
}

// builder holds the state of one Import.
type builder struct {
	g            *ir.Graph
	nodes        map[string]*NodeDef
	vals         map[string]string   // TF tensor ("node" or "node:i") → IR value
	prod         map[string]*ir.Node // IR value → the node computing it (not folded)
	funcs        map[string]*FunctionDef
	depth        int // If branches being inlined
	inlined      int // body nodes inlined so far
	opt          Options
	placeholders int
	fresh        int
}

// parseInput splits a NodeDef input into node name and output index;
// control is set for "^node".
func parseInput(s string) (node string, index int, control bool) {
	if strings.HasPrefix(s, "^") {
		return s[1:], 0, true
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		if k, err := strconv.Atoi(s[i+1:]); err == nil && k >= 0 {
			return s[:i], k, false
		}
	}
	return s, 0, false
}

// tensorKey is the canonical name of output index of node.
func tensorKey(node string, index int) string {
	if index == 0 {
		return node
	}
	return node + ":" + strconv.Itoa(index)
}

// outputs decides the graph outputs, as canonical tensor keys.
func (b *builder) outputs(gd *GraphDef) ([]string, error) {
	names := b.opt.Outputs
	if len(names) == 0 {
		names = gd.Outputs
	}
	if len(names) == 0 {
		read := map[string]bool{}
		for _, n := range gd.Nodes {
			for _, in := range n.Inputs {
				node, _, _ := parseInput(in)
				read[node] = true
			}
		}
		for _, n := range gd.Nodes {
			switch n.Op {
			case "Const", "Placeholder", "NoOp":
				continue
			}
			if !read[n.Name] {
				names = append(names, n.Name)
			}
		}
		if len(names) == 0 {
			return nil, errors.New("tf: the graph has no outputs (every node is read by another, or is a Const, Placeholder or NoOp)")
		}
	}
	keys := make([]string, len(names))
	for i, s := range names {
		node, idx, control := parseInput(s)
		if control || b.nodes[node] == nil {
			return nil, fmt.Errorf("tf: output %q is not a node of the graph", s)
		}
		keys[i] = tensorKey(node, idx)
	}
	return keys, nil
}

// order returns the nodes the outputs depend on through data inputs, each
// after its inputs.
func (b *builder) order(outs []string) ([]*NodeDef, error) {
	const (
		unseen = iota
		active
		done
	)
	state := map[string]int{}
	var order []*NodeDef
	var visit func(name string, from *NodeDef) error
	visit = func(name string, from *NodeDef) error {
		n := b.nodes[name]
		if _, bound := b.vals[name]; n == nil && bound {
			return nil // an argument of a function being inlined
		}
		if n == nil && from == nil { // an output, of the graph or of a function
			return fmt.Errorf("output node %q does not exist", name)
		}
		if n == nil {
			return &ir.NodeError{Node: from.Name, Op: ir.Op(from.Op), Err: fmt.Errorf("input node %q does not exist", name)}
		}
		switch state[name] {
		case done:
			return nil
		case active:
			return &ir.NodeError{Node: n.Name, Op: ir.Op(n.Op), Err: errors.New("the graph has a cycle through this node")}
		}
		state[name] = active
		for _, in := range n.Inputs {
			node, _, control := parseInput(in)
			if control {
				// Control inputs only order side effects, which a frozen
				// inference graph does not have.
				continue
			}
			if err := visit(node, n); err != nil {
				return err
			}
		}
		state[name] = done
		order = append(order, n)
		return nil
	}
	for _, o := range outs {
		node, _, _ := parseInput(o)
		if err := visit(node, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// nodeErr wraps err as an error about TF node n. An *ir.NodeError about
// the IR node that carries n's own name is rewritten to name n's TF op.
func nodeErr(n *NodeDef, err error) error {
	var ne *ir.NodeError
	if errors.As(err, &ne) && ne.Node == n.Name {
		return &ir.NodeError{Node: n.Name, Op: ir.Op(n.Op), Err: ne.Err}
	}
	return &ir.NodeError{Node: n.Name, Op: ir.Op(n.Op), Err: err}
}

func (b *builder) convert(n *NodeDef) error {
	conv, ok := converters[n.Op]
	if !ok {
		return &ir.NodeError{Node: n.Name, Op: ir.Op(n.Op), Err: errors.New("op is not supported")}
	}
	if err := conv(b, n); err != nil {
		return nodeErr(n, err)
	}
	return nil
}

// newName returns an IR value name derived from base that is neither an
// IR value yet nor the name of any TF node.
func (b *builder) newName(base string) string {
	for {
		b.fresh++
		name := base + "/_" + strconv.Itoa(b.fresh)
		if _, used := b.g.Values[name]; !used && b.nodes[name] == nil {
			return name
		}
	}
}

// dataInputs returns n's data inputs (control inputs dropped), checking
// there are between lo and hi of them.
func dataInputs(n *NodeDef, lo, hi int) ([]string, error) {
	var ins []string
	for _, in := range n.Inputs {
		if !strings.HasPrefix(in, "^") {
			ins = append(ins, in)
		}
	}
	if len(ins) < lo || len(ins) > hi {
		if lo == hi {
			return nil, fmt.Errorf("has %d inputs, want %d", len(ins), lo)
		}
		return nil, fmt.Errorf("has %d inputs, want %d to %d", len(ins), lo, hi)
	}
	return ins, nil
}

// in returns the IR value for TF tensor reference s.
func (b *builder) in(s string) (string, error) {
	node, idx, _ := parseInput(s)
	if v, ok := b.vals[tensorKey(node, idx)]; ok {
		return v, nil
	}
	if src := b.nodes[node]; src != nil {
		if src.Op == "NoOp" {
			return "", fmt.Errorf("input %q: NoOp has no outputs", s)
		}
		return "", fmt.Errorf("input %q: output %d of %s %q is not supported (only output 0 is)", s, idx, src.Op, node)
	}
	return "", fmt.Errorf("input %q does not exist", s)
}

// ins resolves n's data inputs, checking their count.
func (b *builder) ins(n *NodeDef, lo, hi int) ([]string, error) {
	refs, err := dataInputs(n, lo, hi)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(refs))
	for i, r := range refs {
		if out[i], err = b.in(r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (b *builder) shape(v string) ir.Shape { return b.g.Values[v].Shape }

// constInts returns the integer elements of constant IR value v.
func (b *builder) constInts(v, what string) ([]int64, error) {
	t := b.g.Const(v)
	if t == nil {
		return nil, fmt.Errorf("%s (%q) must be a constant", what, v)
	}
	xs, err := t.Ints()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return xs, nil
}

// add appends an IR node computing value out.
func (b *builder) add(op ir.Op, out string, ins []string, a ir.Attrs) error {
	if err := b.checkFold(op, ins, a); err != nil {
		return err
	}
	nd := &ir.Node{Name: out, Op: op, Inputs: ins, Output: out, Attrs: a}
	if err := b.g.AddNode(nd); err != nil {
		return err
	}
	if b.g.Values[out].Const == nil {
		b.prod[out] = nd
	}
	return nil
}

// maxFoldWork bounds the multiply-adds of one constant-folded node.
var maxFoldWork = float64(1 << 32)

// checkFold refuses a node whose inputs are all constants (so that
// ir.Graph.AddNode would evaluate it at once) when its result would be
// larger than maxTensorElements or its evaluation would take more than
// maxFoldWork multiply-adds: a few bytes of GraphDef (constants filled
// from a single value) could otherwise ask for terabytes.
func (b *builder) checkFold(op ir.Op, ins []string, a ir.Attrs) error {
	shapes := make([]ir.Shape, len(ins))
	for i, in := range ins {
		v := b.g.Values[in]
		if v == nil || v.Const == nil {
			return nil // not folded; ir reports undefined inputs itself
		}
		shapes[i] = v.Shape
	}
	prod := func(s ir.Shape) float64 {
		p := 1.0
		for _, d := range s {
			p *= float64(d)
		}
		return p
	}
	var size, work float64
	switch op {
	case ir.OpAdd, ir.OpSub, ir.OpMul, ir.OpDiv:
		if len(shapes) == 2 {
			if s, err := ir.BroadcastShapes(shapes[0], shapes[1]); err == nil {
				size = prod(s)
			}
		}
	case ir.OpMatMul:
		if len(shapes) == 2 && len(shapes[0]) >= 1 && len(shapes[1]) >= 1 {
			x, y := shapes[0], shapes[1]
			k := float64(x[len(x)-1])
			size = prod(x) / max(k, 1) * float64(y[len(y)-1]) * max(prod(y[:max(len(y)-2, 0)]), 1)
			work = size * k
		}
	case ir.OpConv:
		if len(shapes) >= 2 && len(shapes[0]) == 4 && len(shapes[1]) == 4 && len(a.Pads) == 4 {
			x, w := shapes[0], shapes[1]
			size = float64(x[0]) * float64(x[1]+a.Pads[0]+a.Pads[2]) * float64(x[2]+a.Pads[1]+a.Pads[3]) * float64(w[0])
			work = size * float64(w[1]) * float64(w[2]) * float64(w[3])
		}
	case ir.OpPad:
		if len(shapes) == 1 && len(a.Pads) == 2*len(shapes[0]) {
			size = 1
			for i, d := range shapes[0] {
				size *= float64(d + a.Pads[i] + a.Pads[i+len(shapes[0])])
			}
		}
	}
	if size > float64(maxTensorElements) || work > maxFoldWork {
		return fmt.Errorf("folding constant %s would make %.3g elements with %.3g multiply-adds; too large", op, size, work)
	}
	return nil
}

// intConst adds an int64 constant and returns its name.
func (b *builder) intConst(base string, shape ir.Shape, xs []int64) (string, error) {
	name := b.newName(base)
	return name, b.g.AddConst(name, ir.IntTensor(shape, xs))
}

// emit adds the IR node that computes TF node n's output.
func (b *builder) emit(n *NodeDef, op ir.Op, ins []string, a ir.Attrs) error {
	if err := b.add(op, n.Name, ins, a); err != nil {
		return err
	}
	b.vals[n.Name] = n.Name
	return nil
}
