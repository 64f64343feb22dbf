package slalom

import (
	"sync"
	"testing"

	"veil/data"
	"veil/internal/testmodel"
	"veil/ir"
	"veil/model"
)

// bundled lists the real models with their full test sets.
var bundled = []struct {
	name, file, val, test string
	pixelMax              float64
}{
	{"fashion_lenet", "fashion_lenet.onnx", "fashion-mnist/val", "fashion-mnist/test", 0},
	{"digits_mlp", "digits_mlp.onnx", "digits/val.csv", "digits/test.csv", 16},
	{"mnist_resnet", "mnist_resnet.onnx", "mnist/val", "mnist/test", 0},
}

type example struct {
	x     []float32
	label int
}

type loaded struct {
	g    *ir.Graph
	p    *Program
	test []example
}

var (
	loadMu    sync.Mutex
	loadCache = map[string]*loaded{}
)

// loadBundled imports, optimizes and compiles a bundled model and loads
// its full test set (cached across tests).
func loadBundled(t testing.TB, i int) *loaded {
	t.Helper()
	loadMu.Lock()
	defer loadMu.Unlock()
	m := bundled[i]
	if l := loadCache[m.name]; l != nil {
		return l
	}
	g, err := model.Load(testmodel.Path("models/"+m.file), model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ir.Optimize(g); err != nil {
		t.Fatal(err)
	}
	shape := g.Values[g.Inputs[0]].Shape
	read := func(spec string, limit int) []example {
		ds, err := data.Load(testmodel.Path("data/"+spec), data.Options{PixelMax: m.pixelMax, Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		var xs []example
		for _, s := range ds.Samples {
			x, err := model.Input(s, shape, g.Layout)
			if err != nil {
				t.Fatal(err)
			}
			xs = append(xs, example{x.F, s.Label})
		}
		return xs
	}
	var val [][]float32
	for _, e := range read(m.val, 100) {
		val = append(val, e.x)
	}
	opt, _, err := SelectScales(g, val)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(g, opt)
	if err != nil {
		t.Fatal(err)
	}
	l := &loaded{g: g, p: p, test: read(m.test, 0)}
	loadCache[m.name] = l
	return l
}
