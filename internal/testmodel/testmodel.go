// Package testmodel gives tests the bundled real models and test images
// (under testdata/ at the repository root), from any package.
package testmodel

import (
	"testing"

	"veil/data"
	"veil/fixed"
	"veil/internal/testmodel/testfile"
	"veil/ir"
	"veil/model"
)

// Path is rel (slash-separated) under the repository's testdata
// directory; it is [testfile.Path], which the tests of packages that
// testmodel imports use instead.
func Path(rel string) string { return testfile.Path(rel) }

// Program imports testdata/models/NAME.onnx, optimizes it and compiles it
// at scale s.
func Program(t testing.TB, name string, s int) *fixed.Program {
	t.Helper()
	g, err := model.Load(Path("models/"+name+".onnx"), model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ir.Optimize(g); err != nil {
		t.Fatal(err)
	}
	p, err := fixed.Compile(g, s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Images reads the first limit labelled images of testdata/SPEC (pixels
// divided by pixelMax; 0 means 255) and returns them as inputs of prog,
// in its layout, with their labels.
func Images(t testing.TB, prog *fixed.Program, spec string, pixelMax float64, limit int) ([][]float32, []int) {
	t.Helper()
	ds, err := data.Load(Path(spec), data.Options{PixelMax: pixelMax, Limit: limit})
	if err != nil {
		t.Fatal(err)
	}
	layout := ir.NCHW
	if prog.Layout == "NHWC" {
		layout = ir.NHWC
	}
	shape := prog.Tensors[prog.Inputs[0]].Shape
	var xs [][]float32
	var labels []int
	for i, s := range ds.Samples {
		in, err := model.Input(s, shape, layout)
		if err != nil {
			t.Fatalf("%s image %d: %v", spec, i, err)
		}
		xs, labels = append(xs, in.F), append(labels, s.Label)
	}
	return xs, labels
}
