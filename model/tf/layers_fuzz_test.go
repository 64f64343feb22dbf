package tf

import (
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"veil/internal/testmodel/testfile"
	"veil/ir"
)

// FuzzLayers: any model.json and weight bytes import to a valid graph or
// fail with an error, never a panic; seeded with the tfjs fixtures.
func FuzzLayers(f *testing.F) {
	limitSizes(f)
	dirs, err := filepath.Glob(testfile.Path("tf/layers/*/model.json"))
	if err != nil || len(dirs) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	for _, m := range dirs {
		js, err := os.ReadFile(m)
		if err != nil {
			f.Fatal(err)
		}
		w, err := os.ReadFile(filepath.Join(filepath.Dir(m), "weights.bin"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(js, w)
	}
	f.Add([]byte(`{"format":"layers-model","modelTopology":{"class_name":"Sequential","config":[{"class_name":"ReLU","config":{"name":"r","batch_input_shape":[null,2]}}]}}`), []byte{})
	f.Fuzz(func(t *testing.T, js, w []byte) {
		fsys := fstest.MapFS{"model.json": {Data: js}, "weights.bin": {Data: w}}
		g, err := readLayers(fsys, "model.json", "", "fuzz", Options{})
		if err != nil {
			return
		}
		if err := g.Validate(); err != nil {
			t.Fatalf("imported graph is invalid: %v", err)
		}
		if p := ir.PlanMemory(g); p.PeakElems > 1<<22 || runWork(g) > 1<<26 {
			return
		}
		feeds := map[string]*ir.Tensor{}
		for _, in := range g.Inputs {
			feeds[in] = ir.NewFloat(g.Values[in].Shape)
		}
		if _, err := ir.Run(g, feeds); err != nil {
			t.Fatalf("imported graph does not run: %v", err)
		}
	})
}

// runWork estimates the multiply-adds of running g once.
func runWork(g *ir.Graph) int64 {
	var w int64
	for _, n := range g.Nodes {
		out := int64(g.Values[n.Output].Shape.Size())
		switch n.Op {
		case ir.OpConv:
			k := g.Values[n.Inputs[1]].Shape
			out *= int64(k[1] * k[2] * k[3])
		case ir.OpMatMul:
			a := g.Values[n.Inputs[0]].Shape
			out *= int64(a[len(a)-1])
		case ir.OpMaxPool, ir.OpAvgPool:
			out *= int64(n.Attrs.Kernel[0] * n.Attrs.Kernel[1])
		}
		for _, in := range n.Inputs {
			out += int64(g.Values[in].Shape.Size())
		}
		w += out
	}
	return w
}
