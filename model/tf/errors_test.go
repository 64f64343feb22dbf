package tf

import (
	"errors"
	"strings"
	"testing"

	"veil/ir"
)

// convNodes is x [1,5,5,2] → op y with a [3,3,2,2] filter and attrs.
func convNodes(op string, attrs map[string]*AttrValue, extra ...*NodeDef) []*NodeDef {
	a := map[string]*AttrValue{"strides": aInts(1, 1, 1, 1), "padding": aS("SAME")}
	for k, v := range attrs {
		a[k] = v
	}
	inputs := []string{"x", "f"}
	for _, e := range extra {
		inputs = append(inputs, e.Name)
	}
	return append([]*NodeDef{
		placeholder("x", 1, 5, 5, 2),
		constF("f", []int64{3, 3, 2, 2}, randFloats(1, 36)),
		nd("y", op, inputs, a),
	}, extra...)
}

func TestImportErrors(t *testing.T) {
	bias := constF("b", []int64{2}, []float32{1, 2})
	tests := []struct {
		name   string
		nodes  []*NodeDef
		opt    Options
		node   string // the node the *ir.NodeError names ("" if not a NodeError)
		op     string
		substr string
	}{
		{"unsupported op", []*NodeDef{placeholder("x", 1, 4), nd("y", "Cumsum", []string{"x"}, nil)}, Options{}, "y", "Cumsum", "op is not supported"},
		{"MirrorPad", []*NodeDef{placeholder("x", 1, 4), constI("p", []int64{2, 2}, 0, 0, 1, 1),
			nd("y", "MirrorPad", []string{"x", "p"}, map[string]*AttrValue{"mode": aS("REFLECT")})}, Options{}, "y", "MirrorPad", "MirrorPad is not supported"},
		{"Prod of a computed value", []*NodeDef{placeholder("x", 1, 4), constI("a", []int64{}, 1),
			nd("y", "Prod", []string{"x", "a"}, nil)}, Options{}, "y", "Prod", "not a constant"},
		{"fused Prelu without its slope", convNodes("_FusedConv2D", map[string]*AttrValue{"fused_ops": aStrs("BiasAdd", "Prelu"), "num_args": aI(1)}, bias), Options{}, "y", "_FusedConv2D", "take 2 arguments, node has 1"},
		{"fused Elu in depthwise", convNodes("FusedDepthwiseConv2dNative", map[string]*AttrValue{"fused_ops": aStrs("BiasAdd", "Softsign"), "num_args": aI(1)}, bias), Options{}, "y", "FusedDepthwiseConv2dNative", `"Softsign" is not supported`},
		{"StridedSlice two ellipses", []*NodeDef{placeholder("x", 1, 4), constI("b", []int64{2}, 0, 0), constI("s", []int64{2}, 1, 1),
			nd("y", "StridedSlice", []string{"x", "b", "b", "s"}, map[string]*AttrValue{"ellipsis_mask": aI(3)})}, Options{}, "y", "StridedSlice", "ellipsis_mask"},
		{"StridedSlice shrink out of range", []*NodeDef{placeholder("x", 1, 4), constI("b", []int64{2}, 0, 4), constI("e", []int64{2}, 0, 5), constI("s", []int64{2}, 1, 1),
			nd("y", "StridedSlice", []string{"x", "b", "e", "s"}, map[string]*AttrValue{"shrink_axis_mask": aI(2)})}, Options{}, "y", "StridedSlice", "out of bounds"},
		{"StridedSlice zero stride", []*NodeDef{placeholder("x", 1, 4), constI("b", []int64{1}, 0), constI("s", []int64{1}, 0),
			nd("y", "StridedSlice", []string{"x", "b", "b", "s"}, nil)}, Options{}, "y", "StridedSlice", "strides[0] is zero"},
		{"StridedSlice too many indices", []*NodeDef{placeholder("x", 1, 4), constI("b", []int64{3}, 0, 0, 0), constI("s", []int64{3}, 1, 1, 1),
			nd("y", "StridedSlice", []string{"x", "b", "b", "s"}, map[string]*AttrValue{"end_mask": aI(7)})}, Options{}, "y", "StridedSlice", "out of range"},
		{"StridedSlice computed begin", []*NodeDef{placeholder("x", 1, 4), constI("s", []int64{2}, 1, 1),
			nd("y", "StridedSlice", []string{"x", "x", "s", "s"}, nil)}, Options{}, "y", "StridedSlice", "begin"},
		{"GatherV2 batch_dims", []*NodeDef{placeholder("x", 2, 4), constI("i", []int64{2}, 0, 1), constI("a", []int64{}, 1),
			nd("y", "GatherV2", []string{"x", "i", "a"}, map[string]*AttrValue{"batch_dims": aI(1)})}, Options{}, "y", "GatherV2", "batch_dims"},
		{"GatherV2 index out of range", []*NodeDef{placeholder("x", 2, 4), constI("i", []int64{2}, 0, 4), constI("a", []int64{}, 1),
			nd("y", "GatherV2", []string{"x", "i", "a"}, nil)}, Options{}, "y", "GatherV2", "index 4 is out of range"},
		{"SplitV sizes", []*NodeDef{placeholder("x", 2, 4), constI("s", []int64{2}, 1, 2), constI("a", []int64{}, 1),
			nd("y", "SplitV", []string{"x", "s", "a"}, nil)}, Options{}, "y", "SplitV", "do not add up"},
		{"Pack of unequal shapes", []*NodeDef{placeholder("x", 2, 4), constF("c", []int64{4}, make([]float32, 4)),
			nd("y", "Pack", []string{"x", "c"}, nil)}, Options{}, "y", "Pack", "equal shapes"},
		{"Cast to string", []*NodeDef{placeholder("x", 2, 4), nd("y", "Cast", []string{"x"}, map[string]*AttrValue{"DstT": aT(DTString)})}, Options{}, "y", "Cast", "DstT DT_STRING"},
		{"dilations", convNodes("Conv2D", map[string]*AttrValue{"dilations": aInts(1, 2, 2, 1)}), Options{}, "y", "Conv2D", "dilations [1 2 2 1]"},
		{"depthwise dilations", convNodes("DepthwiseConv2dNative", map[string]*AttrValue{"dilations": aInts(1, 1, 2, 1)}), Options{}, "y", "DepthwiseConv2dNative", "dilations"},
		{"NCHW conv", convNodes("Conv2D", map[string]*AttrValue{"data_format": aS("NCHW")}), Options{}, "y", "Conv2D", `data_format "NCHW"`},
		{"NCHW pool", []*NodeDef{placeholder("x", 1, 4, 4, 2), nd("y", "MaxPool", []string{"x"}, map[string]*AttrValue{
			"ksize": aInts(1, 1, 2, 2), "strides": aInts(1, 1, 2, 2), "padding": aS("VALID"), "data_format": aS("NCHW")})}, Options{}, "y", "MaxPool", "NCHW"},
		{"NCHW bias", []*NodeDef{placeholder("x", 1, 2), bias, nd("y", "BiasAdd", []string{"x", "b"}, map[string]*AttrValue{"data_format": aS("NCHW")})}, Options{}, "y", "BiasAdd", "NCHW"},
		{"bad padding", convNodes("Conv2D", map[string]*AttrValue{"padding": aS("FULL")}), Options{}, "y", "Conv2D", `padding "FULL"`},
		{"bad strides", convNodes("Conv2D", map[string]*AttrValue{"strides": aInts(2, 1, 1, 1)}), Options{}, "y", "Conv2D", "strides"},
		{"explicit pool padding", []*NodeDef{placeholder("x", 1, 4, 4, 2), nd("y", "AvgPool", []string{"x"}, map[string]*AttrValue{
			"ksize": aInts(1, 2, 2, 1), "strides": aInts(1, 2, 2, 1), "padding": aS("EXPLICIT")})}, Options{}, "y", "AvgPool", "EXPLICIT"},
		{"fused Elu", convNodes("_FusedConv2D", map[string]*AttrValue{"fused_ops": aStrs("BiasAdd", "Softsign"), "num_args": aI(1)}, bias), Options{}, "y", "_FusedConv2D", `"Softsign" is not supported`},
		{"fused Prelu first", convNodes("_FusedConv2D", map[string]*AttrValue{"fused_ops": aStrs("Prelu"), "num_args": aI(1)}, bias), Options{}, "y", "_FusedConv2D", `"Prelu" is not supported`},
		{"fused three ops", convNodes("_FusedConv2D", map[string]*AttrValue{"fused_ops": aStrs("BiasAdd", "Relu", "Relu6"), "num_args": aI(1)}, bias), Options{}, "y", "_FusedConv2D", "at most one activation"},
		{"fused no ops", convNodes("_FusedConv2D", map[string]*AttrValue{"num_args": aI(1)}, bias), Options{}, "y", "_FusedConv2D", "fused_ops"},
		{"num_args mismatch", convNodes("_FusedConv2D", map[string]*AttrValue{"fused_ops": aStrs("BiasAdd"), "num_args": aI(2)}, bias), Options{}, "y", "_FusedConv2D", "num_args is 2"},
		{"fused batch norm args", convNodes("_FusedConv2D", map[string]*AttrValue{"fused_ops": aStrs("FusedBatchNorm"), "num_args": aI(1)}, bias), Options{}, "y", "_FusedConv2D", "takes 4 arguments"},
		{"FusedBatchNorm in MatMul", []*NodeDef{placeholder("x", 1, 2), constF("w", []int64{2, 2}, []float32{1, 2, 3, 4}), bias,
			nd("y", "_FusedMatMul", []string{"x", "w", "b"}, map[string]*AttrValue{"fused_ops": aStrs("FusedBatchNorm"), "num_args": aI(1)})}, Options{}, "y", "_FusedMatMul", "FusedBatchNorm"},
		{"training batch norm", []*NodeDef{placeholder("x", 1, 2), bias,
			nd("y", "FusedBatchNormV3", []string{"x", "b", "b", "b", "b"}, map[string]*AttrValue{"is_training": aB(true)})}, Options{}, "y", "FusedBatchNormV3", "is_training"},
		{"batch norm default is training", []*NodeDef{placeholder("x", 1, 2), bias,
			nd("y", "FusedBatchNorm", []string{"x", "b", "b", "b", "b"}, nil)}, Options{}, "y", "FusedBatchNorm", "is_training"},
		{"batch norm second output", []*NodeDef{placeholder("x", 1, 2), bias,
			nd("bn", "FusedBatchNorm", []string{"x", "b", "b", "b", "b"}, map[string]*AttrValue{"is_training": aB(false)}),
			nd("y", "Relu", []string{"bn:1"}, nil)}, Options{}, "y", "Relu", "output 1 of FusedBatchNorm"},
		{"NoOp as data input", []*NodeDef{nd("n", "NoOp", nil, nil), nd("y", "Relu", []string{"n"}, nil)}, Options{}, "n", "NoOp", "control input"},
		{"missing input", []*NodeDef{nd("y", "Relu", []string{"nowhere"}, nil)}, Options{}, "y", "Relu", `"nowhere" does not exist`},
		{"cycle", []*NodeDef{nd("a", "Relu", []string{"b"}, nil), nd("b", "Relu", []string{"a"}, nil), nd("y", "Relu", []string{"a"}, nil)}, Options{}, "a", "Relu", "cycle"},
		{"unknown dimension", []*NodeDef{placeholder("x", -1, -1, 4), nd("y", "Relu", []string{"x"}, nil)}, Options{}, "x", "Placeholder", "dimension 1"},
		{"unknown rank", []*NodeDef{nd("x", "Placeholder", nil, map[string]*AttrValue{"dtype": aT(DTFloat),
			"shape": {Kind: AttrShape, Shape: &TensorShape{UnknownRank: true}}}), nd("y", "Relu", []string{"x"}, nil)}, Options{}, "x", "Placeholder", "--input-shape"},
		{"string input", []*NodeDef{nd("x", "Placeholder", nil, map[string]*AttrValue{"dtype": aT(DTString),
			"shape": {Kind: AttrShape, Shape: &TensorShape{Dims: []int64{1}}}}), nd("y", "Relu", []string{"x"}, nil)}, Options{}, "x", "Placeholder", "DT_STRING"},
		{"ambiguous InputShape", []*NodeDef{placeholder("x", 1, 2), placeholder("z", 1, 2), nd("y", "Add", []string{"x", "z"}, nil)}, Options{InputShape: []int{1, 2}}, "x", "Placeholder", "ambiguous"},
		{"squeeze non-1", []*NodeDef{placeholder("x", 1, 2), nd("y", "Squeeze", []string{"x"}, map[string]*AttrValue{"squeeze_dims": aInts(1)})}, Options{}, "y", "Squeeze", "not 1"},
		{"non-constant reshape", []*NodeDef{placeholder("x", 1, 2), nd("y", "Reshape", []string{"x", "x"}, nil)}, Options{}, "y", "Reshape", "constant"},
		{"wrong input count", []*NodeDef{placeholder("x", 1, 2), nd("y", "Relu", []string{"x", "x"}, nil)}, Options{}, "y", "Relu", "2 inputs, want 1"},
		{"attribute of wrong kind", convNodes("Conv2D", map[string]*AttrValue{"padding": aI(1)}), Options{}, "y", "Conv2D", "not a string"},
		{"shape mismatch from IR", []*NodeDef{placeholder("x", 1, 3), placeholder("z", 1, 4), nd("y", "Add", []string{"x", "z"}, nil)}, Options{}, "y", "Add", "broadcast"},
		{"bias mismatch", []*NodeDef{placeholder("x", 1, 3), bias, nd("y", "BiasAdd", []string{"x", "b"}, nil)}, Options{}, "y", "BiasAdd", "does not match"},
		{"channel mismatch", []*NodeDef{placeholder("x", 1, 5, 5, 3), constF("f", []int64{3, 3, 2, 2}, randFloats(1, 36)),
			nd("y", "Conv2D", []string{"x", "f"}, map[string]*AttrValue{"strides": aInts(1, 1, 1, 1), "padding": aS("SAME")})}, Options{}, "y", "Conv2D", "not a multiple"},
		{"unknown output", []*NodeDef{placeholder("x", 1, 2), nd("y", "Relu", []string{"x"}, nil)}, Options{Outputs: []string{"nope"}}, "", "", `output "nope"`},
		{"no outputs", []*NodeDef{placeholder("x", 1, 2)}, Options{}, "", "", "no outputs"},
		{"duplicate names", []*NodeDef{placeholder("x", 1, 2), nd("x", "Relu", []string{"x"}, nil)}, Options{}, "", "", "two nodes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := importBinary(t, tc.nodes, tc.opt)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.substr) {
				t.Errorf("error %q does not mention %q", err, tc.substr)
			}
			if tc.node == "" {
				return
			}
			var ne *ir.NodeError
			if !errors.As(err, &ne) {
				t.Fatalf("error %q is not an *ir.NodeError", err)
			}
			if ne.Node != tc.node || string(ne.Op) != tc.op {
				t.Errorf("error names node %q (%s), want %q (%s)", ne.Node, ne.Op, tc.node, tc.op)
			}
			if !strings.Contains(err.Error(), tc.node) || !strings.Contains(err.Error(), tc.op) {
				t.Errorf("error %q does not name node and op", err)
			}
		})
	}
}

// TestPlaceholderShapes checks the batch default and the InputShape override.
func TestPlaceholderShapes(t *testing.T) {
	tests := []struct {
		dims []int64
		opt  Options
		want ir.Shape
	}{
		{[]int64{-1, 224, 224, 3}, Options{}, ir.Shape{1, 224, 224, 3}},
		{[]int64{8, 2}, Options{}, ir.Shape{8, 2}},
		{[]int64{-1, -1, -1, 3}, Options{InputShape: []int{2, 32, 32, 3}}, ir.Shape{2, 32, 32, 3}},
		{[]int64{}, Options{}, ir.Shape{}},
	}
	for _, tc := range tests {
		g, err := importBinary(t, []*NodeDef{placeholder("x", tc.dims...), nd("y", "Relu", []string{"x"}, nil)}, tc.opt)
		if err != nil {
			t.Fatalf("%v: %v", tc.dims, err)
		}
		if got := g.Values["x"].Shape; !got.Equal(tc.want) {
			t.Errorf("%v %v: shape %v, want %v", tc.dims, tc.opt.InputShape, got, tc.want)
		}
	}
}

// TestDeadNodesIgnored checks that a node no output needs is not
// converted, even when its op is not supported.
func TestDeadNodesIgnored(t *testing.T) {
	nodes := []*NodeDef{
		placeholder("x", 1, 2),
		nd("dead", "Softsign", []string{"x"}, nil),
		nd("y", "Relu", []string{"x"}, nil),
	}
	if _, err := importBinary(t, nodes, Options{Outputs: []string{"y"}}); err != nil {
		t.Fatal(err)
	}
	// Without Outputs, both sinks are outputs, and Softsign is an error.
	if _, err := importBinary(t, nodes, Options{}); err == nil {
		t.Fatal("sink Softsign was not reported")
	}
}
