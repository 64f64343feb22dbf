// Package ir is veil's float graph (the paper's HLIL): a directed acyclic
// graph of tensor operations with static shapes, an interpreter for it in
// float32, and the passes that prepare it for conversion to fixed point.
//
// Importers (model/onnx, model/tf) build a Graph through Graph.AddNode,
// which infers every output shape as it goes and folds nodes whose inputs
// are all constants, so shape arithmetic (Shape → Gather → Concat →
// Reshape) disappears at import time and every remaining value has a
// static shape.
package ir

import (
	"fmt"
	"sort"
	"strings"
)

// Op names an operation. The set is small on purpose: importers lower
// framework-specific ops (Gemm, Flatten, Squeeze, FusedBatchNorm, BiasAdd …)
// onto these.
type Op string

// The operations of the float graph.
const (
	OpConv         Op = "Conv"       // inputs x, w [O, I/group, KH, KW], optional bias [O]
	OpMatMul       Op = "MatMul"     // numpy matmul semantics
	OpAdd          Op = "Add"        // broadcasting element-wise ops
	OpSub          Op = "Sub"        //
	OpMul          Op = "Mul"        //
	OpDiv          Op = "Div"        //
	OpRelu         Op = "Relu"       //
	OpClip         Op = "Clip"       // Attrs.Min, Attrs.Max (Relu6 is Clip 0..6)
	OpLeakyRelu    Op = "LeakyRelu"  // Attrs.Alpha
	OpSigmoid      Op = "Sigmoid"    //
	OpTanh         Op = "Tanh"       //
	OpMaxPool      Op = "MaxPool"    // Kernel, Strides, Pads, Layout
	OpAvgPool      Op = "AvgPool"    // Kernel, Strides, Pads, Layout, CountIncludePad
	OpBatchNorm    Op = "BatchNorm"  // inputs x, scale, bias, mean, var; Epsilon, Axis
	OpReshape      Op = "Reshape"    // inputs x, shape (int64, may hold 0 and -1); Attrs.AllowZero
	OpTranspose    Op = "Transpose"  // Perm
	OpConcat       Op = "Concat"     // Axis
	OpPad          Op = "Pad"        // Pads (begin…, end…), PadValue; constant mode only
	OpIdentity     Op = "Identity"   // also inference-mode Dropout
	OpSoftmax      Op = "Softmax"    // Axis
	OpArgMax       Op = "ArgMax"     // Axis, KeepDims, SelectLast; output int64
	OpReduceMean   Op = "ReduceMean" // Axes, KeepDims
	OpReduceSum    Op = "ReduceSum"  // Axes, KeepDims
	OpShape        Op = "Shape"      // output int64 dims of its input
	OpGather       Op = "Gather"     // inputs data, indices; Axis
	OpCast         Op = "Cast"       // To
	OpSlice        Op = "Slice"      // inputs data, starts, ends, [axes, steps]
	OpConstOfShape Op = "ConstantOfShape"
	OpSqrt         Op = "Sqrt"
	OpNeg          Op = "Neg"
	OpFloor        Op = "Floor"
	OpRange        Op = "Range"
	OpEqual        Op = "Equal"
	OpWhere        Op = "Where"
	OpExpand       Op = "Expand"
	OpReciprocal   Op = "Reciprocal"

	// Element-wise functions that a secure backend computes from
	// comparisons (exactly) or from piecewise polynomials and Newton
	// iterations (see fixed's Compile).
	OpMax         Op = "Max"         // broadcasting max of two inputs
	OpMin         Op = "Min"         // broadcasting min of two inputs
	OpAbs         Op = "Abs"         //
	OpPRelu       Op = "PRelu"       // inputs x, slope (broadcast to x): x ≥ 0 ? x : slope·x
	OpHardSigmoid Op = "HardSigmoid" // Attrs.Alpha, Attrs.Beta: max(0, min(1, α·x + β))
	OpHardSwish   Op = "HardSwish"   // x · max(0, min(1, x/6 + 1/2))
	OpExp         Op = "Exp"         //
	OpErf         Op = "Erf"         //
	OpGelu        Op = "Gelu"        // x·Φ(x); Attrs.Approximate: tanh form (ONNX approximate="tanh")
	OpSoftplus    Op = "Softplus"    // log(1 + e^x)
	OpSilu        Op = "Silu"        // x·sigmoid(x) (Swish)
	OpRsqrt       Op = "Rsqrt"       // 1/sqrt(x)
	OpLog         Op = "Log"         // constant folding only
	OpReduceMax   Op = "ReduceMax"   // Axes, KeepDims
	OpReduceMin   Op = "ReduceMin"   // Axes, KeepDims
	OpLogSoftmax  Op = "LogSoftmax"  // Axis: x − log Σ e^x along it
)

// Layout is the order of a 4-D activation's dimensions.
type Layout uint8

const (
	NCHW Layout = iota // ONNX, PyTorch
	NHWC               // TensorFlow
)

func (l Layout) String() string {
	if l == NHWC {
		return "NHWC"
	}
	return "NCHW"
}

// ChannelAxis returns the channel dimension of a 4-D tensor in layout l.
func (l Layout) ChannelAxis() int {
	if l == NHWC {
		return 3
	}
	return 1
}

// SpatialAxes returns the height and width dimensions in layout l.
func (l Layout) SpatialAxes() (int, int) {
	if l == NHWC {
		return 1, 2
	}
	return 2, 3
}

// Attrs holds the attributes of every op; each op reads the fields its
// comment in the Op list names and ignores the rest.
type Attrs struct {
	Kernel          []int // pooling window [KH, KW]
	Strides         []int // [SH, SW]
	Pads            []int // Conv/Pool: [top, left, bottom, right]; Pad: [begin…, end…] over all axes
	Group           int   // Conv groups (1 = dense, C = depthwise)
	Layout          Layout
	Axis            int
	Axes            []int
	Perm            []int
	KeepDims        bool
	SelectLast      bool // ArgMax: the last of equal maxima, not the first
	AllowZero       bool
	Alpha           float32
	Min, Max        float32
	Epsilon         float32
	CountIncludePad bool
	PadValue        float32
	To              DType
	Value           *Tensor // ConstantOfShape fill value
	Beta            float32 // HardSigmoid's offset
	Approximate     bool    // Gelu: the tanh approximation
}

// Value is a named tensor in the graph: a graph input, a constant
// (weights), or the output of one node.
type Value struct {
	Name  string
	Shape Shape
	DType DType
	Const *Tensor // non-nil for constants
}

// Node is one operation. Every node has exactly one output.
type Node struct {
	Name   string
	Op     Op
	Inputs []string
	Output string
	Attrs  Attrs
}

// Graph is a float computation graph with static shapes. Nodes are kept in
// topological order.
type Graph struct {
	Name    string
	Values  map[string]*Value
	Nodes   []*Node
	Inputs  []string // graph inputs, in order
	Outputs []string // graph outputs, in order
	Layout  Layout   // layout of the model's image input

	folded int // elements of the constants AddNode has folded, and the builders made, so far
}

// NewGraph returns an empty graph.
func NewGraph(name string) *Graph {
	return &Graph{Name: name, Values: map[string]*Value{}}
}

// NodeError is an error about one node of a model.
type NodeError struct {
	Node string
	Op   Op
	Err  error
}

func (e *NodeError) Error() string {
	return fmt.Sprintf("node %q (%s): %v", e.Node, e.Op, e.Err)
}

func (e *NodeError) Unwrap() error { return e.Err }

// Errorf returns a NodeError for n.
func (n *Node) Errorf(format string, args ...any) error {
	return &NodeError{Node: n.Name, Op: n.Op, Err: fmt.Errorf(format, args...)}
}

// AddInput declares a graph input with a static shape.
func (g *Graph) AddInput(name string, shape Shape) error {
	if _, dup := g.Values[name]; dup {
		return fmt.Errorf("input %q: name already used", name)
	}
	for _, d := range shape {
		if d <= 0 {
			return fmt.Errorf("input %q: shape %v has a dimension that is not positive (give --input-shape)", name, shape)
		}
	}
	if _, err := shape.CheckedSize(MaxElements); err != nil {
		return fmt.Errorf("input %q: %w", name, err)
	}
	g.Values[name] = &Value{Name: name, Shape: shape.Clone(), DType: Float32}
	g.Inputs = append(g.Inputs, name)
	return nil
}

// AddConst declares a constant value.
func (g *Graph) AddConst(name string, t *Tensor) error {
	if _, dup := g.Values[name]; dup {
		return fmt.Errorf("constant %q: name already used", name)
	}
	n, err := t.Shape.CheckedSize(MaxElements)
	if err != nil {
		return fmt.Errorf("constant %q: %w", name, err)
	}
	if held := max(len(t.F), len(t.I)); held != n || (t.F != nil && t.I != nil) {
		return fmt.Errorf("constant %q: %d values for shape %v", name, held, t.Shape)
	}
	g.Values[name] = &Value{Name: name, Shape: t.Shape.Clone(), DType: t.DType, Const: t}
	return nil
}

// Const returns the constant tensor named name, or nil.
func (g *Graph) Const(name string) *Tensor {
	if v := g.Values[name]; v != nil {
		return v.Const
	}
	return nil
}

// AddNode appends n, infers its output shape, and folds it to a constant
// when all its inputs are constants. Inputs must already exist.
func (g *Graph) AddNode(n *Node) error {
	if n.Output == "" {
		return n.Errorf("no output name")
	}
	if _, dup := g.Values[n.Output]; dup {
		return n.Errorf("output %q is already defined", n.Output)
	}
	ins := make([]*Value, len(n.Inputs))
	allConst := true
	for i, name := range n.Inputs {
		v := g.Values[name]
		if v == nil {
			return n.Errorf("input %q is not defined", name)
		}
		ins[i] = v
		if v.Const == nil {
			allConst = false
		}
	}
	shape, dtype, err := inferShape(n, ins)
	if err != nil {
		return err
	}
	// Shape depends only on the input's static shape.
	if allConst || n.Op == OpShape {
		t, err := g.fold(n, ins, constsOf(ins, n.Op == OpShape), shape)
		if err != nil {
			return err
		}
		g.Values[n.Output] = &Value{Name: n.Output, Shape: t.Shape.Clone(), DType: t.DType, Const: t}
		return nil
	}
	g.Values[n.Output] = &Value{Name: n.Output, Shape: shape, DType: dtype}
	g.Nodes = append(g.Nodes, n)
	return nil
}

// fold evaluates n on constant inputs (values ins, tensors consts) to a
// constant of shape out, within MaxFoldWork operations and the graph's
// MaxFoldedElements.
func (g *Graph) fold(n *Node, ins []*Value, consts []*Tensor, out Shape) (*Tensor, error) {
	if w := foldWork(n, ins, out); w > MaxFoldWork {
		return nil, n.Errorf("folding this constant expression would take about %d operations (limit %d)", w, int64(MaxFoldWork))
	}
	// out holds at most MaxElements (inferShape checked it), so the sum
	// cannot overflow.
	if g.folded+out.Size() > MaxFoldedElements {
		return nil, n.Errorf("folding this constant expression would bring the model's folded constants to more than %d elements", MaxFoldedElements)
	}
	g.folded += out.Size()
	return evalNode(n, consts)
}

// MaxFoldWork bounds the multiply-adds spent folding one constant node at
// import, so that a small malicious model cannot make import run for hours.
const MaxFoldWork = 1 << 32

// MaxFoldedElements bounds the elements of all the constants that folding
// creates in one graph (512 MiB as float32), so that a model of a few
// hundred bytes cannot make import allocate gigabytes (six
// ConstantOfShape nodes of 2^26 elements used to allocate 1.5 GiB). Real
// models fold shape arithmetic and, at most, a transpose of their largest
// weight (VGG-16: 103 Mi elements).
const MaxFoldedElements = 1 << 27

// foldWork estimates the arithmetic of evaluating n once.
func foldWork(n *Node, ins []*Value, out Shape) int64 {
	w := int64(out.Size())
	switch n.Op {
	case OpMatMul:
		if a := ins[0].Shape; len(a) > 0 {
			w *= int64(max(1, a[len(a)-1]))
		}
	case OpConv:
		if k := ins[1].Shape; len(k) == 4 {
			w *= int64(max(1, k[1]*k[2]*k[3]))
		}
	case OpMaxPool, OpAvgPool:
		if len(n.Attrs.Kernel) == 2 {
			w *= int64(max(1, n.Attrs.Kernel[0]*n.Attrs.Kernel[1]))
		}
	}
	for _, v := range ins {
		w += int64(v.Shape.Size())
	}
	return w
}

// constsOf returns the constant tensors of ins; for Shape, a placeholder
// carrying only the shape.
func constsOf(ins []*Value, shapeOnly bool) []*Tensor {
	ts := make([]*Tensor, len(ins))
	for i, v := range ins {
		if v.Const != nil {
			ts[i] = v.Const
		} else if shapeOnly {
			ts[i] = &Tensor{DType: v.DType, Shape: v.Shape}
		}
	}
	return ts
}

// SetOutputs declares the graph outputs, which must be defined values.
func (g *Graph) SetOutputs(names ...string) error {
	for _, n := range names {
		if g.Values[n] == nil {
			return fmt.Errorf("graph output %q is not defined by any node", n)
		}
	}
	g.Outputs = append([]string(nil), names...)
	return nil
}

// Producer returns the node that computes value name, or nil.
func (g *Graph) Producer(name string) *Node {
	for _, n := range g.Nodes {
		if n.Output == name {
			return n
		}
	}
	return nil
}

// Consumers returns, for every value, the nodes that read it.
func (g *Graph) Consumers() map[string][]*Node {
	m := map[string][]*Node{}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			m[in] = append(m[in], n)
		}
	}
	return m
}

// Validate checks that the graph is well-formed: every node's inputs are
// defined before it, shapes re-infer to what is stored, and outputs exist.
func (g *Graph) Validate() error {
	defined := map[string]bool{}
	for name, v := range g.Values {
		if v.Const != nil {
			defined[name] = true
		}
	}
	for _, in := range g.Inputs {
		defined[in] = true
	}
	for _, n := range g.Nodes {
		ins := make([]*Value, len(n.Inputs))
		for i, in := range n.Inputs {
			if !defined[in] {
				return n.Errorf("input %q is used before it is defined", in)
			}
			ins[i] = g.Values[in]
		}
		shape, _, err := inferShape(n, ins)
		if err != nil {
			return err
		}
		if v := g.Values[n.Output]; v == nil || !v.Shape.Equal(shape) {
			return n.Errorf("stored output shape disagrees with inferred %v", shape)
		}
		defined[n.Output] = true
	}
	for _, out := range g.Outputs {
		if !defined[out] {
			return fmt.Errorf("graph output %q is never computed", out)
		}
	}
	return nil
}

// MaxLiveElements bounds the activation elements live at once when the
// graph runs (the peak of its memory plan): 512 MiB as float32, 1 GiB as
// ring elements once compiled. Real models stay far below it (VGG-16:
// 6.4 Mi); a model that asks for more is refused at import, so that a
// small file cannot make the interpreters allocate without bound.
const MaxLiveElements = 1 << 27

// CheckLive refuses a graph whose memory plan peaks above MaxLiveElements.
func (g *Graph) CheckLive() error {
	if p := PlanMemory(g); p.PeakElems > MaxLiveElements {
		return fmt.Errorf("running the model would hold %d activation elements at once, more than %d", p.PeakElems, MaxLiveElements)
	}
	return nil
}

// OpCounts returns how many nodes of each op the graph has.
func (g *Graph) OpCounts() map[Op]int {
	m := map[Op]int{}
	for _, n := range g.Nodes {
		m[n.Op]++
	}
	return m
}

// FormatOpCounts renders op counts sorted by op name, like "Conv×2 Relu×3".
func FormatOpCounts(m map[Op]int) string {
	ops := make([]string, 0, len(m))
	for op := range m {
		ops = append(ops, string(op))
	}
	sort.Strings(ops)
	var b strings.Builder
	for i, op := range ops {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s×%d", op, m[Op(op)])
	}
	return b.String()
}

// ParamCount is the number of elements in float constants (the weights).
func (g *Graph) ParamCount() int {
	n := 0
	used := map[string]bool{}
	for _, nd := range g.Nodes {
		for _, in := range nd.Inputs {
			used[in] = true
		}
	}
	for name, v := range g.Values {
		if v.Const != nil && v.DType == Float32 && used[name] {
			n += v.Const.Len()
		}
	}
	return n
}

// Prune removes constants and nodes that no graph output depends on.
func (g *Graph) Prune() {
	live := map[string]bool{}
	for _, o := range g.Outputs {
		live[o] = true
	}
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		n := g.Nodes[i]
		if live[n.Output] {
			for _, in := range n.Inputs {
				live[in] = true
			}
		}
	}
	kept := g.Nodes[:0]
	for _, n := range g.Nodes {
		if live[n.Output] {
			kept = append(kept, n)
		}
	}
	g.Nodes = kept
	inputs := map[string]bool{}
	for _, in := range g.Inputs {
		inputs[in] = true
	}
	for name := range g.Values {
		if !live[name] && !inputs[name] {
			delete(g.Values, name)
		}
	}
}

// UniqueName returns a value name based on base that is not yet used.
func (g *Graph) UniqueName(base string) string {
	if _, ok := g.Values[base]; !ok {
		return base
	}
	for i := 1; ; i++ {
		n := fmt.Sprintf("%s_%d", base, i)
		if _, ok := g.Values[n]; !ok {
			return n
		}
	}
}
