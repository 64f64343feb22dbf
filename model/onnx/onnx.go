// Package onnx imports ONNX models (ModelProto files) into veil's float
// graph, ir.Graph.
//
// The protobuf is decoded by hand with protowire, reading only the fields
// the importer needs. Every ONNX node is lowered onto the small ir op set
// (Gemm becomes MatMul/Transpose/Mul/Add, Flatten/Squeeze/Unsqueeze become
// Reshape, GlobalAveragePool becomes ReduceMean, …). Shape arithmetic
// (Shape → Gather → Concat → Reshape) folds to constants as the graph is
// built, so every value of the result has a static shape. Control flow
// folds too: an If whose condition is a constant at import (a sample rate
// bound with Options.Constants) imports its taken branch inline
// (control.go), and LSTM, GRU and RNN are unrolled over their static
// sequence length (ops_rnn.go).
//
// Opsets 9 to 20 of the default domain are supported; a model that declares
// an older opset imports when every op it uses has not changed meaning since
// that opset. Anything the importer cannot represent exactly — an op it does
// not know, an attribute value it does not implement, an extra output that
// is used — is an error naming the node, the op and what is unsupported.
// Nothing is dropped silently.
package onnx

import (
	"errors"
	"fmt"
	"os"

	"veil/ir"
)

// Opset range of the default (ai.onnx) domain.
const (
	MinOpset = 9  // older opsets import only where every op used is unchanged since
	MaxOpset = 20 // newest opset whose semantics the importer implements
)

// Options adjust an import.
type Options struct {
	// InputShape, when set, overrides the declared shape of the model's
	// first graph input (the first that is neither an initializer nor bound
	// in Constants). It is needed where dimensions other than the batch are
	// symbolic (like "height"); a symbolic batch alone defaults to 1.
	InputShape []int
	// InputShapes fixes the shapes of graph inputs by name (where they
	// are symbolic); it takes precedence over InputShape.
	InputShapes map[string][]int
	// Constants binds graph inputs by name to fixed values: they become
	// constants of the graph (and fold) instead of inputs. The conformance
	// suite uses it for shape, index and axes inputs, which the static-shape
	// IR needs to know at import time.
	Constants map[string]*ir.Tensor
}

// Load reads and imports the ONNX model at path.
func Load(path string, opt Options) (*ir.Graph, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	g, err := Decode(data, path, opt)
	if err != nil {
		return nil, err
	}
	return g, nil
}

// Decode imports a serialized ONNX ModelProto; name is used in errors and
// as the graph name when the model's graph has none.
func Decode(data []byte, name string, opt Options) (*ir.Graph, error) {
	g, err := decode(data, name, opt)
	if err != nil {
		return nil, fmt.Errorf("onnx %s: %w", name, err)
	}
	return g, nil
}

func decode(data []byte, name string, opt Options) (*ir.Graph, error) {
	if len(data) == 0 {
		return nil, errors.New("empty file")
	}
	m, err := decodeModel(data)
	if err != nil {
		return nil, fmt.Errorf("not a valid ONNX model: %w", err)
	}
	if m.graph == nil {
		return nil, errors.New("not a valid ONNX model: no graph")
	}
	opset := int64(-1)
	for _, o := range m.opsets {
		if o.domain == "" || o.domain == "ai.onnx" {
			opset = o.version
		}
	}
	switch {
	case opset == -1 && len(m.opsets) == 0 && m.irVersion > 0 && m.irVersion < 3:
		opset = 1 // before IR version 3 there was no opset_import
	case opset == -1:
		return nil, errors.New("the model imports no opset of the default ai.onnx domain")
	case opset < 1 || opset > MaxOpset:
		return nil, fmt.Errorf("ai.onnx opset %d is not supported (supported: %d to %d)", opset, MinOpset, MaxOpset)
	}
	gname := m.graph.name
	if gname == "" {
		gname = name
	}
	imp := &importer{g: ir.NewGraph(gname), opset: opset, opt: opt}
	imp.g.Layout = ir.NCHW
	if err := imp.build(m.graph); err != nil {
		return nil, err
	}
	return imp.g, nil
}

// importer holds the state of one import.
type importer struct {
	g     *ir.Graph
	opset int64
	opt   Options
	used  map[string]bool // values read by a node or a graph output, in any graph
	// Subgraphs (control.go): the scope of the one being inlined (nil in
	// the main graph), the names the main graph defines, and the ir
	// names given to subgraph values.
	scope    *scope
	reserved map[string]bool
	claimed  map[string]bool
	unrolled int // recurrent steps unrolled so far (ops_rnn.go)
}

func (imp *importer) build(gp *graphProto) error {
	g := imp.g
	if gp.sparseInit {
		return errors.New("sparse initializers are not supported")
	}
	isInit := map[string]bool{}
	for _, t := range gp.initializer {
		if t.name == "" {
			return errors.New("an initializer has no name")
		}
		v, err := t.toIR()
		if err != nil {
			return fmt.Errorf("initializer: %w", err)
		}
		if err := g.AddConst(t.name, v); err != nil {
			return err
		}
		isInit[t.name] = true
	}
	first := true
	for _, in := range gp.input {
		if isInit[in.name] {
			continue // older exporters list the weights as inputs too
		}
		if in.name == "" {
			return errors.New("a graph input has no name")
		}
		if t, ok := imp.opt.Constants[in.name]; ok {
			if err := g.AddConst(in.name, t); err != nil {
				return err
			}
			continue
		}
		override := imp.opt.InputShapes[in.name]
		if override == nil && first {
			override = imp.opt.InputShape
		}
		shape, err := inputShape(in, override)
		if err != nil {
			return err
		}
		first = false
		if err := g.AddInput(in.name, shape); err != nil {
			return err
		}
	}
	imp.used, imp.reserved, imp.claimed = map[string]bool{}, map[string]bool{}, map[string]bool{}
	markUsed(gp, imp.used)
	for _, in := range gp.input {
		imp.reserved[in.name] = true
	}
	for _, t := range gp.initializer {
		imp.reserved[t.name] = true
	}
	for _, n := range gp.nodes {
		for _, o := range n.outputs {
			imp.reserved[o] = true
		}
	}
	for i, np := range gp.nodes {
		n := newNode(np, i)
		if err := imp.lower(n); err != nil {
			return err
		}
	}
	outs := make([]string, len(gp.output))
	for i, o := range gp.output {
		if o.hasType && !o.tensor {
			return fmt.Errorf("graph output %q is not a tensor (sequences, maps and optionals are not supported)", o.name)
		}
		outs[i] = o.name
	}
	if len(outs) == 0 {
		return errors.New("the graph has no outputs")
	}
	if err := g.SetOutputs(outs...); err != nil {
		return err
	}
	g.Prune()
	return nil
}

// markUsed records the values that the nodes of gp and of its subgraphs
// read, and gp's outputs.
func markUsed(gp *graphProto, used map[string]bool) {
	for _, n := range gp.nodes {
		for _, in := range n.inputs {
			used[in] = true
		}
		for _, a := range n.attrs {
			if a.g != nil {
				markUsed(a.g, used)
			}
		}
	}
	for _, o := range gp.output {
		used[o.name] = true
	}
}

// inputShape returns the static shape of a graph input: the override when
// this is the first input and one is given, else the declared shape with a
// symbolic batch dimension taken as 1.
func inputShape(in *valueInfo, override []int) (ir.Shape, error) {
	if in.hasType && !in.tensor {
		return nil, fmt.Errorf("graph input %q is not a tensor (sequences, maps and optionals are not supported)", in.name)
	}
	// An integer input (pixels as int32, token counts) is fed as real
	// values; the graph's Cast to float then changes nothing.
	if in.hasType && !isFloatType(in.elemType) && !isIntType(in.elemType) {
		return nil, fmt.Errorf("graph input %q has element type %s; only numeric inputs are supported", in.name, typeName(in.elemType))
	}
	if override != nil {
		if in.hasShape && len(in.dims) != len(override) {
			return nil, fmt.Errorf("graph input %q: input shape %v has rank %d, the model declares rank %d", in.name, override, len(override), len(in.dims))
		}
		for _, d := range override {
			if d <= 0 {
				return nil, fmt.Errorf("graph input %q: input shape %v has a dimension that is not positive", in.name, override)
			}
		}
		return ir.Shape(append([]int(nil), override...)), nil
	}
	if !in.hasShape {
		return nil, fmt.Errorf("graph input %q declares no shape; give its shape (--input-shape NAME=DIMS)", in.name)
	}
	if len(in.dims) > maxRank {
		return nil, fmt.Errorf("graph input %q has rank %d", in.name, len(in.dims))
	}
	shape := make(ir.Shape, len(in.dims))
	var unknown []int
	size := int64(1)
	for i, d := range in.dims {
		if !d.hasValue || d.value <= 0 {
			unknown = append(unknown, i)
			shape[i] = 1
			continue
		}
		if d.value > maxElements || size*d.value > maxElements {
			return nil, fmt.Errorf("graph input %q: declared shape is too large", in.name)
		}
		size *= d.value
		shape[i] = int(d.value)
	}
	if len(unknown) > 1 || (len(unknown) == 1 && unknown[0] != 0) {
		return nil, fmt.Errorf("graph input %q has symbolic or unknown dimensions %s; give its shape (--input-shape NAME=DIMS)", in.name, describeDims(in.dims))
	}
	return shape, nil
}

func describeDims(ds []dim) string {
	s := "["
	for i, d := range ds {
		if i > 0 {
			s += ", "
		}
		switch {
		case d.hasValue && d.value > 0:
			s += fmt.Sprint(d.value)
		case d.param != "":
			s += d.param
		default:
			s += "?"
		}
	}
	return s + "]"
}
