package tf

import (
	"os"
	"testing"
	"testing/fstest"

	"veil/internal/testmodel/testfile"
)

// limitSizes lowers the tensor and folding limits for the length of a
// fuzz run, so inputs that ask for large (legal) tensors stay fast.
func limitSizes(f *testing.F) {
	elems, work := maxTensorElements, maxFoldWork
	maxTensorElements, maxFoldWork = 1<<20, 1<<24
	f.Cleanup(func() { maxTensorElements, maxFoldWork = elems, work })
}

func FuzzDecodeGraphDef(f *testing.F) {
	limitSizes(f)
	cases := append(opCases(), elementwiseCases()...)
	cases = append(cases, shapeCases()...)
	cases = append(cases, reduceCases()...)
	cases = append(cases, fusedCases()...)
	for _, c := range cases {
		data, err := marshalGraphDef(&GraphDef{Nodes: c.nodes, Producer: 175})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, nodes := range [][]*NodeDef{
		convNodes("_FusedConv2D", map[string]*AttrValue{"fused_ops": aStrs("BiasAdd", "Relu6"), "num_args": aI(1)}, constF("b", []int64{2}, []float32{1, 2})),
		convNodes("Conv2D", map[string]*AttrValue{"dilations": aInts(1, 2, 2, 1)}),
		{nd("n", "NoOp", nil, nil), nd("y", "Relu", []string{"n"}, nil)},
	} {
		data, err := marshalGraphDef(&GraphDef{Nodes: nodes})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	data, err := marshalGraphDef(&GraphDef{Nodes: ifGraph("If", constI("cond", nil, 1)), Functions: branchLibrary()})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	small, err := os.ReadFile(testfile.Path("tf/small.pb"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(small)
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x05, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := DecodeGraphDef(data, "fuzz", Options{})
		if err != nil {
			return
		}
		if err := g.Validate(); err != nil {
			t.Fatalf("imported graph does not validate: %v", err)
		}
		// Whatever decodes must survive a write and a second read.
		gd, err := ParseGraphDef(data)
		if err != nil {
			t.Fatal(err)
		}
		out, err := marshalGraphDef(gd)
		if err != nil {
			return // e.g. a tensor with a dtype the writer does not store
		}
		if _, err := DecodeGraphDef(out, "again", Options{}); err != nil {
			t.Fatalf("re-encoded graph fails to import: %v", err)
		}
		// Unfusing must not break a graph that imports, nor panic.
		if err := Unfuse(gd); err == nil {
			if _, err := Import(gd, "unfused", Options{}); err != nil {
				t.Fatalf("unfused graph fails to import: %v", err)
			}
		}
	})
}

func FuzzReadTFJS(f *testing.F) {
	limitSizes(f)
	a, b, c := smallShard()
	f.Add([]byte(smallModelJSON))
	f.Add([]byte(`{"modelTopology": {"node": [{"name": "x", "op": "Placeholder", "attr": {"shape": {"shape": {"dim": [{"size": 2}]}}}},
		{"name": "y", "op": "Relu", "input": ["x"]}]}}`))
	f.Add([]byte(`{"format": "layers-model"}`))
	f.Add([]byte(ifModelJSON))
	f.Add([]byte(`{"modelTopology": {"node": [{"name": "c", "op": "Const", "attr": {"value": {"tensor": {"dtype": "DT_HALF",
		"tensorShape": {"dim": [{"size": "2"}]}, "halfVal": [15360, 0]}}}}, {"name": "y", "op": "Relu", "input": ["c"]}]}}`))
	f.Fuzz(func(t *testing.T, model []byte) {
		fsys := fstest.MapFS{
			"model.json":           {Data: model},
			"group1-shard1of2.bin": {Data: a},
			"group1-shard2of2.bin": {Data: b},
			"group2-shard1of1.bin": {Data: c},
		}
		gd, err := readTFJS(fsys, "model.json", "")
		if err != nil {
			return
		}
		g, err := Import(gd, "fuzz", Options{})
		if err != nil {
			return
		}
		if err := g.Validate(); err != nil {
			t.Fatalf("imported graph does not validate: %v", err)
		}
	})
}
