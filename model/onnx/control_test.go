package onnx

import (
	"strings"
	"testing"

	"veil/ir"
)

// ifModel is a model that branches on sr == 16000:
//
//	then: t = 2·x (2 an initializer of the branch); u = If(c) { t + x } else { −x }
//	else: t = x − 1
//	main: y = If(…); t = Relu(y)
//
// The branches define "t", which the main graph defines too, and read x
// and c from the enclosing graphs.
func ifModel() []byte {
	inner := aGraph("then_branch", graphSpec{nodes: [][]byte{nodeB("Add", s("t", "x"), s("u"))},
		outputs: [][]byte{vinfo("u", 2)}}.body("inner_then"))
	innerElse := aGraph("else_branch", graphSpec{nodes: [][]byte{nodeB("Neg", s("x"), s("u"))},
		outputs: [][]byte{vinfo("u", 2)}}.body("inner_else"))
	then := graphSpec{
		nodes: [][]byte{
			nodeB("Mul", s("x", "two"), s("t")),
			nodeB("If", s("c"), s("v"), inner, innerElse),
		},
		inits:   [][]byte{tFloat("two", nil, []float32{2})},
		outputs: [][]byte{vinfo("v", 2)},
	}.body("then")
	els := graphSpec{
		nodes:   [][]byte{nodeB("Sub", s("x", "one"), s("t"))},
		inits:   [][]byte{tFloat("one", nil, []float32{1})},
		outputs: [][]byte{vinfo("t", 2)},
	}.body("else")
	return graphSpec{
		nodes: [][]byte{
			nodeB("Constant", nil, s("k"), aTensor("value", tInt("", nil, []int64{16000}))),
			nodeB("Equal", s("sr", "k"), s("c")),
			nodeB("If", s("c"), s("y"), aGraph("then_branch", then), aGraph("else_branch", els)),
			nodeB("Relu", s("y"), s("t")),
		},
		inputs:  [][]byte{vinfo("x", 2), vinfoT("sr", typeInt64)},
		outputs: [][]byte{vinfo("t", 2)},
	}.bytes()
}

func TestIfOnConstant(t *testing.T) {
	x := ir.FloatTensor(ir.Shape{2}, []float32{0.5, -2})
	for _, c := range []struct {
		sr   int64
		want []float32
	}{
		{16000, []float32{1.5, 0}}, // Relu(3x)
		{8000, []float32{0, 0}},    // Relu(x − 1)
	} {
		g, err := Decode(ifModel(), "if", Options{Constants: map[string]*ir.Tensor{"sr": ir.IntTensor(ir.Shape{}, []int64{c.sr})}})
		if err != nil {
			t.Fatalf("sr %d: %v", c.sr, err)
		}
		if err := g.Validate(); err != nil {
			t.Fatal(err)
		}
		outs, err := ir.Run(g, map[string]*ir.Tensor{"x": x})
		if err != nil {
			t.Fatal(err)
		}
		if got := outs[0].F; got[0] != c.want[0] || got[1] != c.want[1] {
			t.Errorf("sr %d: got %v, want %v", c.sr, got, c.want)
		}
	}
}

// nestedIf returns a model of depth If nodes nested each in the then
// branch of the one above, the innermost computing Relu(x).
func nestedIf(depth int) []byte {
	leaf := graphSpec{nodes: [][]byte{nodeB("Relu", s("x"), s("y0"))}, outputs: [][]byte{vinfo("y0", 2)}}.body("leaf")
	body := leaf
	for d := 1; d < depth; d++ {
		out := "y" + string(rune('a'+d%26)) + strings.Repeat("_", d/26)
		body = graphSpec{nodes: [][]byte{nodeB("If", s("c"), s(out), aGraph("then_branch", body), aGraph("else_branch", leaf))},
			outputs: [][]byte{vinfo(out, 2)}}.body("level")
	}
	return graphSpec{
		nodes:  [][]byte{nodeB("If", s("c"), s("y"), aGraph("then_branch", body), aGraph("else_branch", leaf))},
		inputs: [][]byte{vinfo("x", 2), vinfoT("c", typeBool)}, outputs: [][]byte{vinfo("y", 2)},
	}.bytes()
}

func TestIfNesting(t *testing.T) {
	opt := Options{Constants: map[string]*ir.Tensor{"c": ir.IntTensor(ir.Shape{}, []int64{1})}}
	g, err := Decode(nestedIf(maxGraphDepth), "deep", opt)
	if err != nil {
		t.Fatalf("%d nested If nodes: %v", maxGraphDepth, err)
	}
	outs, err := ir.Run(g, map[string]*ir.Tensor{"x": ir.FloatTensor(ir.Shape{2}, []float32{-1, 3})})
	if err != nil || outs[0].F[0] != 0 || outs[0].F[1] != 3 {
		t.Errorf("%d nested If nodes: %v, %v; want [0 3]", maxGraphDepth, outs, err)
	}
	if _, err := Decode(nestedIf(maxGraphDepth+1), "deeper", opt); err == nil || !strings.Contains(err.Error(), "nested more than 16 deep") {
		t.Errorf("%d nested If nodes: error %v, want one about the nesting", maxGraphDepth+1, err)
	}
}

// TestNodeLimit checks that the nodes of subgraphs count toward the
// decoder's node limit.
func TestNodeLimit(t *testing.T) {
	sub := graphSpec{nodes: [][]byte{nodeB("Relu", s("x"), s("a")), nodeB("Relu", s("a"), s("b"))},
		outputs: [][]byte{vinfo("b", 2)}}.body("sub")
	main := graphSpec{nodes: [][]byte{nodeB("If", s("c"), s("y"), aGraph("then_branch", sub), aGraph("else_branch", sub))}}.body("main")
	if _, err := (&decoder{maxNodes: 5}).graph(main, 0); err != nil {
		t.Errorf("5 nodes under a limit of 5: %v", err)
	}
	if _, err := (&decoder{maxNodes: 4}).graph(main, 0); err == nil || !strings.Contains(err.Error(), "more than 4 nodes") {
		t.Errorf("5 nodes under a limit of 4: error %v", err)
	}
}

func TestControlFlowErrors(t *testing.T) {
	branch := func(name string, inputs ...[]byte) []byte {
		return aGraph(name, graphSpec{nodes: [][]byte{nodeB("Relu", s("x"), s("r"))}, inputs: inputs,
			outputs: [][]byte{vinfo("r", 2)}}.body(name))
	}
	model := func(nodes ...[]byte) []byte {
		return graphSpec{nodes: nodes, inputs: [][]byte{vinfo("x", 2), vinfoT("c", typeBool)},
			outputs: [][]byte{vinfo("y", 2)}}.bytes()
	}
	bound := Options{Constants: map[string]*ir.Tensor{"c": ir.IntTensor(ir.Shape{}, []int64{1})}}
	tests := []struct {
		name string
		data []byte
		opt  Options
		want string
	}{
		{"data-condition", model(nodeB("Equal", s("x", "x"), s("e")),
			nodeB("If", s("e"), s("y"), branch("then_branch"), branch("else_branch"))),
			bound, `node "n_If" (If): If on a condition computed from the data is not supported`},
		{"two-element-condition", model(nodeB("Constant", nil, s("e"), aTensor("value", tInt("", []int64{2}, []int64{1, 1}))),
			nodeB("If", s("e"), s("y"), branch("then_branch"), branch("else_branch"))),
			bound, "must hold one element"},
		{"no-else", model(nodeB("If", s("c"), s("y"), branch("then_branch"))), bound, "else_branch (a graph) is required"},
		{"branch-input", model(nodeB("If", s("c"), s("y"), branch("then_branch", vinfo("z", 2)), branch("else_branch"))),
			bound, "an If branch takes none"},
		{"output-count", model(nodeB("If", s("c"), s("y", "y2"), branch("then_branch"), branch("else_branch"))),
			bound, "the subgraph has 1 outputs, the node 2"},
		{"error-in-branch", model(nodeB("If", s("c"), s("y"),
			aGraph("then_branch", graphSpec{nodes: [][]byte{nodeB("Einsum", s("x"), s("r"))}, outputs: [][]byte{vinfo("r", 2)}}.body("b")),
			branch("else_branch"))), bound, `then_branch "b": node "n_Einsum" (Einsum): op "Einsum" is not supported`},
		{"loop", model(nodeB("Loop", s("", "c", "x"), s("y"), branch("body"))), bound, `node "n_Loop" (Loop): Loop is not supported`},
		{"scan", model(nodeB("Scan", s("x"), s("y"), branch("body"))), bound, "Scan is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.data, tt.name, tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestCastBool checks Cast to BOOL (x ≠ 0 as int64 0/1) and Not.
func TestCastBool(t *testing.T) {
	data := graphSpec{
		nodes: [][]byte{
			nodeB("Cast", s("x"), s("b"), aInt("to", typeBool)),
			nodeB("Not", s("b"), s("y")),
		},
		inputs: [][]byte{vinfo("x", 3)}, outputs: [][]byte{vinfoT("b", typeBool, 3), vinfoT("y", typeBool, 3)},
	}.bytes()
	g, err := Decode(data, "cast-bool", Options{})
	if err != nil {
		t.Fatal(err)
	}
	outs, err := ir.Run(g, map[string]*ir.Tensor{"x": ir.FloatTensor(ir.Shape{3}, []float32{0, 2.5, -1})})
	if err != nil {
		t.Fatal(err)
	}
	b, err := outs[0].Ints()
	if err != nil {
		t.Fatal(err)
	}
	y, err := outs[1].Ints()
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 0 || b[1] != 1 || b[2] != 1 || y[0] != 1 || y[1] != 0 || y[2] != 0 {
		t.Errorf("Cast to BOOL of [0 2.5 −1] = %v, its Not %v; want [0 1 1] and [1 0 0]", b, y)
	}
}
