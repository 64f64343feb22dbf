package tf

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"veil/ir"
)

// branchLibrary holds two branches of (x, s) → (a, b):
//
//	then: a = Relu(x · 2), b = x + s
//	else: a = -x,          b = x - s
//
// Their bodies read arguments by name and node outputs as
// "node:output_arg:index", as TensorFlow writes function bodies.
func branchLibrary() []*FunctionDef {
	args := []FuncArg{{"x", DTFloat}, {"s", DTFloat}}
	outs := []FuncArg{{"a", DTFloat}, {"b", DTFloat}}
	return []*FunctionDef{
		{
			Name: "then_fn", Inputs: args, Outputs: outs,
			Nodes: []*NodeDef{
				constF("two", nil, []float32{2}),
				nd("m", "Mul", []string{"x", "two:output:0"}, nil),
				nd("r", "Relu", []string{"m:z:0"}, nil),
				nd("p", "AddV2", []string{"x", "s"}, nil),
			},
			Ret: map[string]string{"a": "r:activations:0", "b": "p:z:0"},
		},
		{
			Name: "else_fn", Inputs: args, Outputs: outs,
			Nodes: []*NodeDef{
				nd("n", "Neg", []string{"x"}, nil),
				// A FusedBatchNormV3 whose y is read by name: output 0.
				constF("one", []int64{3}, []float32{1, 1, 1}), constF("zero", []int64{3}, []float32{0, 0, 0}),
				nd("bn", "FusedBatchNormV3", []string{"x", "one:output:0", "zero:output:0", "zero:output:0", "one:output:0"},
					map[string]*AttrValue{"is_training": aB(false), "epsilon": aF(0)}),
				nd("d", "Sub", []string{"bn:y:0", "s"}, nil),
			},
			Ret: map[string]string{"a": "n:y:0", "b": "d:z:0"},
		},
	}
}

// ifGraph is y = If(cond, x, s) with the branches above; z reads output
// 1 of the If.
func ifGraph(op string, cond *NodeDef) []*NodeDef {
	return []*NodeDef{
		placeholder("x", 2, 3), constF("s", []int64{3}, []float32{0.5, -1, 2}), cond,
		nd("y", op, []string{"cond", "x", "s"}, map[string]*AttrValue{
			"then_branch": {Kind: AttrFunc, Func: "then_fn"}, "else_branch": {Kind: AttrFunc, Func: "else_fn"},
			"Tcond": aT(DTBool), "Tin": {Kind: AttrList, List: &AttrListValue{Type: []DataType{DTFloat, DTFloat}}},
		}),
		nd("z", "Identity", []string{"y:1"}, nil),
		nd("w", "Identity", []string{"y"}, nil),
	}
}

func importWithLibrary(t *testing.T, nodes []*NodeDef, lib []*FunctionDef, opt Options) (*ir.Graph, error) {
	t.Helper()
	data, err := marshalGraphDef(&GraphDef{Nodes: nodes, Functions: lib, Producer: 175})
	if err != nil {
		t.Fatal(err)
	}
	return DecodeGraphDef(data, "test", opt)
}

func TestIf(t *testing.T) {
	x := []float32{1, -2, 3, -0.5, 0.25, -4}
	s := []float32{0.5, -1, 2}
	then := func(x []float32) ([]float32, []float32) {
		a, b := make([]float32, 6), make([]float32, 6)
		for i, v := range x {
			a[i], b[i] = relu(2*v), v+s[i%3]
		}
		return a, b
	}
	els := func(x []float32) ([]float32, []float32) {
		a, b := make([]float32, 6), make([]float32, 6)
		for i, v := range x {
			a[i], b[i] = -v, v-s[i%3]
		}
		return a, b
	}
	boolConst := func(shape []int64, v ...int64) *NodeDef {
		return nd("cond", "Const", nil, map[string]*AttrValue{"dtype": aT(DTBool),
			"value": {Kind: AttrTensor, Tensor: &Tensor{DType: DTBool, Shape: shape, Ints: v}}})
	}
	tests := []struct {
		name string
		op   string
		cond *NodeDef
		want func([]float32) ([]float32, []float32)
	}{
		{"If true", "If", boolConst(nil, 1), then},
		{"StatelessIf false", "StatelessIf", boolConst(nil, 0), els},
		{"int predicate nonzero", "StatelessIf", constI("cond", nil, -3), then},
		{"non-scalar predicate is true when not empty", "If", boolConst([]int64{2}, 0, 0), then},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := importWithLibrary(t, ifGraph(tc.op, tc.cond), branchLibrary(), Options{Outputs: []string{"w", "z"}})
			if err != nil {
				t.Fatal(err)
			}
			outs, err := ir.Run(g, map[string]*ir.Tensor{"x": ir.FloatTensor(ir.Shape{2, 3}, x)})
			if err != nil {
				t.Fatal(err)
			}
			a, b := tc.want(x)
			for k, want := range [][]float32{a, b} {
				for i := range want {
					if math.Abs(float64(outs[k].F[i]-want[i])) > 1e-6 {
						t.Fatalf("output %d = %v, want %v", k, outs[k].F, want)
					}
				}
			}
		})
	}
}

func TestIfErrors(t *testing.T) {
	cond := constI("cond", nil, 1)
	computed := nd("cond", "Sum", []string{"x", "ax"}, nil)
	tests := []struct {
		name   string
		nodes  []*NodeDef
		lib    []*FunctionDef
		substr string
	}{
		{"no library", ifGraph("If", cond), nil, `then_branch "then_fn" is not available: the graph carries no function library`},
		{"missing function", ifGraph("If", cond), branchLibrary()[1:], `then_branch "then_fn" is not in the graph's function library`},
		{"computed predicate", append(ifGraph("If", computed), constI("ax", []int64{2}, 0, 1)), branchLibrary(), "computed at run time"},
		{"error inside the branch", ifGraph("If", cond), func() []*FunctionDef {
			lib := branchLibrary()
			lib[0].Nodes[2].Op = "Cumsum"
			return lib
		}(), `node "y/then_fn/r" (Cumsum): op is not supported`},
		{"argument count", ifGraph("If", cond), func() []*FunctionDef {
			lib := branchLibrary()
			lib[0].Inputs = lib[0].Inputs[:1]
			return lib
		}(), "takes 1 arguments, the node gives 2"},
		{"output of no node", ifGraph("If", cond), func() []*FunctionDef {
			lib := branchLibrary()
			lib[0].Ret["a"] = "r$activations:0" // found by FuzzDecodeGraphDef
			return lib
		}(), `input "r$activations:0" names no argument or node of the function`},
		{"input of no node", ifGraph("If", cond), func() []*FunctionDef {
			lib := branchLibrary()
			lib[0].Nodes[3].Inputs[1] = "t"
			return lib
		}(), `input "t" names no argument or node of the function`},
		{"recursion", ifGraph("If", cond), func() []*FunctionDef {
			lib := branchLibrary()
			lib[0].Nodes = append(lib[0].Nodes, constI("c", nil, 1),
				nd("again", "If", []string{"c:output:0", "x", "s"}, map[string]*AttrValue{
					"then_branch": {Kind: AttrFunc, Func: "then_fn"}, "else_branch": {Kind: AttrFunc, Func: "then_fn"}}))
			lib[0].Ret["a"] = "again:output:0"
			return lib
		}(), "nest more than 16 deep"},
		{"fan-out", ifGraph("If", cond), func() []*FunctionDef {
			// then_fn calls f1 twice, which calls f2 twice … f14: 2^14
			// inlined copies of 18 nodes, within the depth limit.
			lib := branchLibrary()
			for k := 0; k < 15; k++ {
				fn := lib[0]
				if k > 0 {
					fn = &FunctionDef{Name: "f" + strconv.Itoa(k), Inputs: lib[0].Inputs, Outputs: lib[0].Outputs,
						Nodes: slices.Clone(lib[0].Nodes[:4]), Ret: map[string]string{"a": "r:activations:0", "b": "p:z:0"}}
					lib = append(lib, fn)
				}
				for i := range 14 {
					fn.Nodes = append(fn.Nodes, constF("pad"+strconv.Itoa(i), nil, []float32{1}))
				}
				if k == 14 {
					break
				}
				fn.Nodes = append(fn.Nodes, constI("c", nil, 1))
				for _, name := range []string{"again", "twice"} {
					callee := &AttrValue{Kind: AttrFunc, Func: "f" + strconv.Itoa(k+1)}
					fn.Nodes = append(fn.Nodes, nd(name, "If", []string{"c:output:0", "x", "s"}, map[string]*AttrValue{"then_branch": callee, "else_branch": callee}))
				}
				fn.Nodes = append(fn.Nodes, nd("sum", "AddV2", []string{"again:output:0", "twice:output:0"}, nil))
				fn.Ret = map[string]string{"a": "sum:z:0", "b": "p:z:0"}
			}
			return lib
		}(), "more than 65536 nodes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := importWithLibrary(t, tc.nodes, tc.lib, Options{Outputs: []string{"w"}})
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.substr) {
				t.Errorf("error %q does not mention %q", err, tc.substr)
			}
			var ne *ir.NodeError
			if !errors.As(err, &ne) || ne.Node != "y" {
				t.Errorf("error %q does not name node y", err)
			}
		})
	}
}

// TestLibraryRoundTrip checks that WriteGraphDef and ParseGraphDef keep
// the function library.
func TestLibraryRoundTrip(t *testing.T) {
	lib := branchLibrary()
	data, err := marshalGraphDef(&GraphDef{Nodes: ifGraph("If", constI("cond", nil, 1)), Functions: lib})
	if err != nil {
		t.Fatal(err)
	}
	gd, err := ParseGraphDef(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(gd.Functions) != 2 {
		t.Fatalf("%d functions, want 2", len(gd.Functions))
	}
	for i, fn := range gd.Functions {
		want := lib[i]
		if fn.Name != want.Name || len(fn.Nodes) != len(want.Nodes) || len(fn.Ret) != len(want.Ret) ||
			len(fn.Inputs) != 2 || fn.Inputs[1] != want.Inputs[1] || fn.Outputs[0] != want.Outputs[0] {
			t.Errorf("function %d: got %+v, want %+v", i, fn, want)
		}
		for k, v := range want.Ret {
			if fn.Ret[k] != v {
				t.Errorf("function %q: ret[%q] = %q, want %q", fn.Name, k, fn.Ret[k], v)
			}
		}
	}
}

// ifModelJSON is a TF.js graph model with a function library, as the
// TF.js converter writes one: the branch's constant is a weight named
// after the renamed node "then_fn/two".
const ifModelJSON = `{
  "format": "graph-model",
  "modelTopology": {
    "node": [
      {"name": "x", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"}, "shape": {"shape": {"dim": [{"size": "2"}]}}}},
      {"name": "cond", "op": "Const", "attr": {"dtype": {"type": "DT_BOOL"}, "value": {"tensor": {"dtype": "DT_BOOL", "tensorShape": {}, "boolVal": [true]}}}},
      {"name": "y", "op": "StatelessIf", "input": ["cond", "x"], "attr": {
        "then_branch": {"func": {"name": "then_fn"}}, "else_branch": {"func": {"name": "else_fn"}},
        "Tcond": {"type": "DT_BOOL"}, "Tin": {"list": {"type": ["DT_FLOAT"]}}, "Tout": {"list": {"type": ["DT_FLOAT"]}}}}
    ],
    "library": {"function": [
      {"signature": {"name": "then_fn", "inputArg": [{"name": "x", "type": "DT_FLOAT"}], "outputArg": [{"name": "out", "type": "DT_FLOAT"}]},
       "nodeDef": [
         {"name": "then_fn/two", "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"}, "value": {"tensor": {"dtype": "DT_FLOAT", "tensorShape": {}}}}},
         {"name": "mul", "op": "Mul", "input": ["x", "then_fn/two:output:0"], "attr": {"T": {"type": "DT_FLOAT"}}}
       ],
       "ret": {"out": "mul:z:0"}},
      {"signature": {"name": "else_fn", "inputArg": [{"name": "x", "type": "DT_FLOAT"}], "outputArg": [{"name": "out", "type": "DT_FLOAT"}]},
       "nodeDef": [{"name": "neg", "op": "Neg", "input": ["x"]}],
       "ret": {"out": "neg:y:0"}}
    ]},
    "versions": {"producer": 1286}
  },
  "signature": {"outputs": {"y:0": {"name": "y:0"}}},
  "weightsManifest": [{"paths": ["w.bin"], "weights": [{"name": "then_fn/two", "shape": [], "dtype": "float32"}]}]
}`

func TestTFJSLibrary(t *testing.T) {
	w := make([]byte, 4)
	binary.LittleEndian.PutUint32(w, math.Float32bits(3))
	fsys := fstest.MapFS{"model.json": {Data: []byte(ifModelJSON)}, "w.bin": {Data: w}}
	gd, err := readTFJS(fsys, "model.json", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(gd.Functions) != 2 || gd.Functions[0].Nodes[0].Attrs["value"].Tensor.Floats[0] != 3 {
		t.Fatalf("library not read with its weight: %+v", gd.Functions)
	}
	g, err := Import(gd, "if", Options{})
	if err != nil {
		t.Fatal(err)
	}
	outs, err := ir.Run(g, map[string]*ir.Tensor{"x": ir.FloatTensor(ir.Shape{2}, []float32{1, -2})})
	if err != nil {
		t.Fatal(err)
	}
	if got := outs[0].F; got[0] != 3 || got[1] != -6 {
		t.Errorf("output %v, want [3 -6]", got)
	}
}
