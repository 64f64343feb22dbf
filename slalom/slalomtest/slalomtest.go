// Package slalomtest holds what the tests of slalom and its packages
// share: the bundled real models compiled for Slalom with their test
// sets, a tiny program, every mode, and an honest device's layer
// outside the wire. (T with an in-process device is
// slalom/device/devicetest's.)
package slalomtest

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"veil/data"
	"veil/internal/testmodel"
	"veil/ir"
	"veil/model"
	"veil/slalom"
)

// Bundled lists the real models (testdata/models) with their validation
// and full test sets (testdata/data).
var Bundled = []struct {
	Name, File, Val, Test string
	PixelMax              float64
}{
	{"fashion_lenet", "fashion_lenet.onnx", "fashion-mnist/val", "fashion-mnist/test", 0},
	{"digits_mlp", "digits_mlp.onnx", "digits/val.csv", "digits/test.csv", 16},
	{"mnist_resnet", "mnist_resnet.onnx", "mnist/val", "mnist/test", 0},
}

// Example is a test image as the model's input, with its label.
type Example struct {
	X     []float32
	Label int
}

// Model is a bundled model: its optimized graph G, the program P
// compiled at the scales SelectScales picks on 100 validation images, and
// its full test set.
type Model struct {
	G    *ir.Graph
	P    *slalom.Program
	Test []Example
}

var (
	loadMu    sync.Mutex
	loadCache = map[string]*Model{}
)

// Load imports, optimizes and compiles Bundled[i] and loads its full test
// set (cached across the tests of a package).
func Load(t testing.TB, i int) *Model {
	t.Helper()
	loadMu.Lock()
	defer loadMu.Unlock()
	m := Bundled[i]
	if l := loadCache[m.Name]; l != nil {
		return l
	}
	g, err := model.Load(testmodel.Path("models/"+m.File), model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ir.Optimize(g); err != nil {
		t.Fatal(err)
	}
	shape := g.Values[g.Inputs[0]].Shape
	read := func(spec string, limit int) []Example {
		ds, err := data.Load(testmodel.Path("data/"+spec), data.Options{PixelMax: m.PixelMax, Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		var xs []Example
		for _, s := range ds.Samples {
			x, err := model.Input(s, shape, g.Layout)
			if err != nil {
				t.Fatal(err)
			}
			xs = append(xs, Example{x.F, s.Label})
		}
		return xs
	}
	var val [][]float32
	for _, e := range read(m.Val, 100) {
		val = append(val, e.X)
	}
	opt, _, err := slalom.SelectScales(g, val)
	if err != nil {
		t.Fatal(err)
	}
	p, err := slalom.Compile(g, opt)
	if err != nil {
		t.Fatal(err)
	}
	l := &Model{G: g, P: p, Test: read(m.Test, 0)}
	loadCache[m.Name] = l
	return l
}

// TinyProgram is a small compiled program: a dense layer 4 → 3 with its
// bias and a ReLU (one linear layer, requantized).
func TinyProgram(tb testing.TB) *slalom.Program {
	tb.Helper()
	g := ir.NewGraph("tiny")
	if err := g.AddInput("x", ir.Shape{1, 4}); err != nil {
		tb.Fatal(err)
	}
	g.AddConst("w", ir.FloatTensor(ir.Shape{4, 3}, []float32{0.5, -1, 0.25, 1, 0.75, -0.5, -0.25, 0.125, 1, 2, -2, 0.5}))
	g.AddConst("b", ir.FloatTensor(ir.Shape{3}, []float32{0.1, -0.2, 0.3}))
	for _, n := range []*ir.Node{
		{Name: "mm", Op: ir.OpMatMul, Inputs: []string{"x", "w"}, Output: "z"},
		{Name: "add", Op: ir.OpAdd, Inputs: []string{"z", "b"}, Output: "y"},
		{Name: "relu", Op: ir.OpRelu, Inputs: []string{"y"}, Output: "r"},
	} {
		if err := g.AddNode(n); err != nil {
			tb.Fatal(err)
		}
	}
	if err := g.SetOutputs("r"); err != nil {
		tb.Fatal(err)
	}
	p, err := slalom.Compile(g, slalom.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// Modes are every mode of T: outsourced, verified (one round trip, per
// layer, on the fly, structured), private, and private + verified.
var Modes = []slalom.Mode{
	{},
	{Verify: true},
	{Verify: true, PerLayer: true},
	{Verify: true, Check: slalom.OnTheFly},
	{Verify: true, Check: slalom.Structured},
	{Verify: true, Blind: true, Check: slalom.Structured},
	{Blind: true},
	{Verify: true, Blind: true},
}

// Parallel runs f(0), …, f(n−1) on GOMAXPROCS goroutines.
func Parallel(n int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}

// Residue is v mod P, for |v| ≤ H (or any int64).
func Residue(v int64) uint32 {
	r := v % slalom.P
	if r < 0 {
		r += slalom.P
	}
	return uint32(r)
}

// Signed is the value in [−H, H] whose residue is a.
func Signed(a uint32) int64 {
	if a <= slalom.H {
		return int64(a)
	}
	return int64(a) - slalom.P
}

// FieldLinear is an honest device's layer on a clamped signed input: Z =
// Signed(f(x) + b mod P), which is f(x) + b over the integers.
func FieldLinear(l *slalom.Layer, x []int64) []int64 {
	r := make([]uint32, len(x))
	for i, v := range x {
		r[i] = Residue(v)
	}
	y := l.Compute(r)
	z := make([]int64, len(y))
	for i, v := range y {
		z[i] = Signed(v)
	}
	return z
}
