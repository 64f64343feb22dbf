package tf

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Control flow: If and StatelessIf whose predicate is a constant, as
// frozen graphs of Keras models with a training flag or a static shape
// check hold. The branch taken is inlined from the graph's function
// library; a predicate computed from the input is an error, since the IR
// has no control flow.

// maxInlineDepth bounds If nodes inside inlined branches, so that a
// function whose branch names itself cannot recurse forever, and
// maxInlinedNodes the body nodes inlined in all, so that branches holding
// several Ifs cannot multiply a small file into an enormous graph.
const (
	maxInlineDepth  = 16
	maxInlinedNodes = 1 << 16
)

// ifOp lowers If and StatelessIf (cond, inputs…; then_branch,
// else_branch) with a constant cond by inlining the branch it takes.
// TensorFlow takes then_branch for a scalar cond that is nonzero, or for
// a non-scalar cond that is not empty.
func (b *builder) ifOp(n *NodeDef) error {
	ins, err := b.ins(n, 1, 1<<20)
	if err != nil {
		return err
	}
	c := b.g.Const(ins[0])
	if c == nil {
		return fmt.Errorf("the predicate %q is computed at run time; only an If whose predicate is a constant can be imported (the IR has no control flow)", n.Inputs[0])
	}
	take := c.Len() > 0
	if len(c.Shape) == 0 {
		take = c.Floats()[0] != 0
	}
	key := "else_branch"
	if take {
		key = "then_branch"
	}
	a := n.attr(key)
	if a == nil || a.Kind != AttrFunc || a.Func == "" {
		return fmt.Errorf("attribute %s is missing or not a function", key)
	}
	fn := b.funcs[a.Func]
	if fn == nil {
		if len(b.funcs) == 0 {
			return fmt.Errorf("%s %q is not available: the graph carries no function library", key, a.Func)
		}
		return fmt.Errorf("%s %q is not in the graph's function library", key, a.Func)
	}
	if b.depth >= maxInlineDepth {
		return fmt.Errorf("branches nest more than %d deep", maxInlineDepth)
	}
	b.depth++
	defer func() { b.depth-- }()
	outs, err := b.inline(n.Name+"/"+fn.Name, fn, ins[1:])
	if err != nil {
		return fmt.Errorf("%s %q: %w", key, fn.Name, err)
	}
	for i, v := range outs {
		b.alias(n, i, v)
	}
	return nil
}

// inline converts the body of fn, its arguments bound to the IR values
// args, with every body node renamed prefix/name, and returns the IR
// values of its results in output_arg order.
func (b *builder) inline(prefix string, fn *FunctionDef, args []string) ([]string, error) {
	if len(args) != len(fn.Inputs) {
		return nil, fmt.Errorf("takes %d arguments, the node gives %d", len(fn.Inputs), len(args))
	}
	rename := func(s string) string { return prefix + "/" + s }
	for i, a := range fn.Inputs {
		name := rename(a.Name)
		if b.nodes[name] != nil || b.vals[name] != "" {
			return nil, fmt.Errorf("argument %q: the name %q is already taken", a.Name, name)
		}
		b.vals[name] = args[i]
	}
	b.inlined += len(fn.Nodes)
	if b.inlined > maxInlinedNodes {
		return nil, fmt.Errorf("inlining the branches of If nodes would make more than %d nodes", maxInlinedNodes)
	}
	// The body as graph nodes: renamed, their inputs in graph form.
	var body []*NodeDef
	for _, n := range fn.Nodes {
		c := *n
		c.Name = rename(n.Name)
		if b.nodes[c.Name] != nil || b.vals[c.Name] != "" {
			return nil, fmt.Errorf("node %q: the name %q is already taken", n.Name, c.Name)
		}
		c.Inputs = make([]string, len(n.Inputs))
		for i, in := range n.Inputs {
			ref, err := funcTensor(fn, in, rename)
			if err != nil {
				return nil, fmt.Errorf("node %q: %w", n.Name, err)
			}
			c.Inputs[i] = ref
		}
		b.nodes[c.Name] = &c
		body = append(body, &c)
	}
	outs := make([]string, len(fn.Outputs))
	refs := make([]string, len(fn.Outputs))
	for i, o := range fn.Outputs {
		r, ok := fn.Ret[o.Name]
		if !ok {
			return nil, fmt.Errorf("output %q has no ret entry", o.Name)
		}
		ref, err := funcTensor(fn, r, rename)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", o.Name, err)
		}
		refs[i] = ref
	}
	order, err := b.order(refs)
	if err != nil {
		return nil, err
	}
	for _, n := range order {
		if err := b.convert(n); err != nil {
			return nil, err
		}
	}
	for i, r := range refs {
		v, err := b.in(r)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", fn.Outputs[i].Name, err)
		}
		outs[i] = v
	}
	return outs, nil
}

// funcTensor turns a tensor reference inside fn's body ("arg",
// "node:output_arg:index", "^node") into the graph form ("node:i") of
// the renamed body.
func funcTensor(fn *FunctionDef, s string, rename func(string) string) (string, error) {
	if strings.HasPrefix(s, "^") {
		return "^" + rename(s[1:]), nil
	}
	parts := strings.Split(s, ":")
	known := func(name string) bool {
		return slices.ContainsFunc(fn.Inputs, func(a FuncArg) bool { return a.Name == name }) ||
			slices.ContainsFunc(fn.Nodes, func(n *NodeDef) bool { return n.Name == name })
	}
	switch len(parts) {
	case 1:
		if !known(s) {
			return "", fmt.Errorf("input %q names no argument or node of the function", s)
		}
		return rename(s), nil
	case 2:
		// Graph form, which function bodies do not normally use.
		if _, err := strconv.Atoi(parts[1]); err == nil {
			if !known(parts[0]) {
				return "", fmt.Errorf("input %q names no argument or node of the function", s)
			}
			return rename(parts[0]) + ":" + parts[1], nil
		}
	case 3:
		k, err := strconv.Atoi(parts[2])
		if err != nil || k < 0 {
			break
		}
		node := parts[0]
		for _, n := range fn.Nodes {
			if n.Name == node {
				return tensorKey(rename(node), outputIndex(n.Op, parts[1], k)), nil
			}
		}
		return "", fmt.Errorf("input %q names no node of the function", s)
	}
	return "", fmt.Errorf("input %q is not a function tensor reference", s)
}

// multiOutputs lists, for the ops with more than one output argument, the
// arguments in order (op_def.proto's output_arg); every other op's
// output_arg:k is output k.
var multiOutputs = map[string][]string{
	"FusedBatchNorm":   {"y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2"},
	"FusedBatchNormV2": {"y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2"},
	"FusedBatchNormV3": {"y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2", "reserve_space_3"},
	"If":               {"output"},
	"StatelessIf":      {"output"},
}

// outputIndex is the flat output index of output_arg arg, element k, of
// an op.
func outputIndex(op, arg string, k int) int {
	for i, a := range multiOutputs[op] {
		if a == arg && len(multiOutputs[op]) > 1 {
			return i + k
		}
	}
	return k
}
