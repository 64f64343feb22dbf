package tf

import (
	"errors"
	"fmt"
	"strings"
)

// Unfuse rewrites the fused ops that Grappler and the TF.js converter make
// (_FusedConv2D, FusedDepthwiseConv2dNative, _FusedMatMul) into the
// standard ops they stand for: Conv2D, DepthwiseConv2dNative or MatMul,
// then BiasAdd or FusedBatchNormV3 (inference mode), then the activation
// (Relu, Relu6, LeakyRelu, Sigmoid, Tanh, Elu or Selu; TF.js's fused Prelu becomes
// Relu(x) + alpha·(x - Relu(x)), as TensorFlow has no PReLU op). FusedDepthwiseConv2dNative in
// particular exists only in TF.js, so a GraphDef written from a TF.js
// model needs Unfuse before TensorFlow tools can read it. The last node of
// each chain keeps the fused node's name, so its readers are unchanged;
// the others are named after it ("name/BiasAdd" …).
func Unfuse(gd *GraphDef) error {
	names := map[string]bool{}
	for _, n := range gd.Nodes {
		names[n.Name] = true
	}
	fresh := func(base string) string {
		name := base
		for i := 1; names[name]; i++ {
			name = fmt.Sprintf("%s_%d", base, i)
		}
		names[name] = true
		return name
	}
	var out []*NodeDef
	for _, n := range gd.Nodes {
		var base string
		var keep []string
		switch n.Op {
		case "_FusedConv2D":
			base, keep = "Conv2D", []string{"T", "strides", "use_cudnn_on_gpu", "padding", "explicit_paddings", "data_format", "dilations"}
		case "FusedDepthwiseConv2dNative", "_FusedDepthwiseConv2dNative":
			base, keep = "DepthwiseConv2dNative", []string{"T", "strides", "padding", "explicit_paddings", "data_format", "dilations"}
		case "_FusedMatMul":
			base, keep = "MatMul", []string{"T", "transpose_a", "transpose_b"}
		default:
			out = append(out, n)
			continue
		}
		chain, err := unfuseNode(n, base, keep, fresh)
		if err != nil {
			return fmt.Errorf("tf: unfusing node %q (%s): %w", n.Name, n.Op, err)
		}
		out = append(out, chain...)
	}
	gd.Nodes = out
	return nil
}

// unfuseNode returns the chain of standard nodes that replaces fused node n.
func unfuseNode(n *NodeDef, base string, keep []string, fresh func(string) string) ([]*NodeDef, error) {
	var data, control []string
	for _, in := range n.Inputs {
		if strings.HasPrefix(in, "^") {
			control = append(control, in)
		} else {
			data = append(data, in)
		}
	}
	if len(data) < 2 {
		return nil, fmt.Errorf("has %d data inputs, want at least 2", len(data))
	}
	args := data[2:]
	ops, err := attrStrings(n, "fused_ops")
	if err != nil {
		return nil, err
	}
	numArgs, err := attrInt(n, "num_args", int64(len(args)))
	if err != nil {
		return nil, err
	}
	if numArgs != int64(len(args)) {
		return nil, fmt.Errorf("num_args is %d but the node has %d extra inputs", numArgs, len(args))
	}
	if len(ops) == 0 || len(ops) > 2 {
		return nil, fmt.Errorf("fused_ops %q: want BiasAdd or FusedBatchNorm and at most one activation", ops)
	}
	copyAttrs := func(keys ...string) map[string]*AttrValue {
		m := map[string]*AttrValue{}
		for _, k := range keys {
			if v := n.attr(k); v != nil {
				m[k] = v
			}
		}
		return m
	}
	want := 0
	for _, op := range ops {
		switch op {
		case "BiasAdd", "Prelu":
			want++
		case "FusedBatchNorm":
			want += 4
		}
	}
	if len(args) != want {
		return nil, fmt.Errorf("fused_ops %q take %d arguments, node has %d", ops, want, len(args))
	}
	last := len(ops) - 1
	name := func(i int, op string) string {
		if i == last {
			return n.Name
		}
		return fresh(n.Name + "/" + op)
	}
	first := &NodeDef{
		Name:   fresh(n.Name + "/" + base),
		Op:     base,
		Inputs: append(data[:2:2], control...),
		Device: n.Device,
		Attrs:  copyAttrs(keep...),
	}
	chain := []*NodeDef{first}
	prev := first.Name
	for i, op := range ops {
		var next *NodeDef
		switch {
		case i == 0 && op == "BiasAdd":
			attrs := copyAttrs("T")
			if base != "MatMul" {
				attrs = copyAttrs("T", "data_format")
			}
			next = &NodeDef{Name: name(i, "BiasAdd"), Op: "BiasAdd", Inputs: []string{prev, args[0]}, Attrs: attrs}
		case i == 0 && op == "FusedBatchNorm" && base != "MatMul":
			attrs := copyAttrs("T", "data_format")
			attrs["U"] = &AttrValue{Kind: AttrType, Type: DTFloat}
			attrs["is_training"] = &AttrValue{Kind: AttrB, B: false}
			eps, err := attrFloat(n, "epsilon", 0.0001)
			if err != nil {
				return nil, err
			}
			attrs["epsilon"] = &AttrValue{Kind: AttrF, F: eps}
			next = &NodeDef{Name: name(i, "FusedBatchNormV3"), Op: "FusedBatchNormV3", Inputs: append([]string{prev}, args[:4]...), Attrs: attrs}
		case i == 1 && (op == "Relu" || op == "Relu6" || op == "Sigmoid" || op == "Tanh" || op == "Elu" || op == "Selu"):
			next = &NodeDef{Name: name(i, op), Op: op, Inputs: []string{prev}, Attrs: copyAttrs("T")}
		case i == 1 && op == "LeakyRelu":
			attrs := copyAttrs("T")
			alpha, err := attrFloat(n, "leakyrelu_alpha", 0.2)
			if err != nil {
				return nil, err
			}
			attrs["alpha"] = &AttrValue{Kind: AttrF, F: alpha}
			next = &NodeDef{Name: name(i, op), Op: op, Inputs: []string{prev}, Attrs: attrs}
		case i == 1 && op == "Prelu":
			// TensorFlow has no PReLU op: Relu(x) + alpha·(x - Relu(x)),
			// where x - Relu(x) is exactly min(x, 0).
			t := copyAttrs("T")
			pos := &NodeDef{Name: fresh(n.Name + "/Prelu/Relu"), Op: "Relu", Inputs: []string{prev}, Attrs: t}
			neg := &NodeDef{Name: fresh(n.Name + "/Prelu/Sub"), Op: "Sub", Inputs: []string{prev, pos.Name}, Attrs: copyAttrs("T")}
			scaled := &NodeDef{Name: fresh(n.Name + "/Prelu/Mul"), Op: "Mul", Inputs: []string{args[len(args)-1], neg.Name}, Attrs: copyAttrs("T")}
			for _, c := range []*NodeDef{pos, neg, scaled} {
				c.Device = n.Device
			}
			chain = append(chain, pos, neg, scaled)
			next = &NodeDef{Name: name(i, "Prelu"), Op: "AddV2", Inputs: []string{pos.Name, scaled.Name}, Attrs: copyAttrs("T")}
		default:
			return nil, fmt.Errorf("fused_ops %q: %q is not supported here", ops, op)
		}
		next.Device = n.Device
		chain = append(chain, next)
		prev = next.Name
	}
	if chain[len(chain)-1].Name != n.Name {
		return nil, errors.New("internal error: chain does not end in the fused node's name")
	}
	return chain, nil
}
