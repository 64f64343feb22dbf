package main

import (
	"fmt"
	"math"
	"testing"

	"veil/fixed"
	"veil/internal/testmodel"
)

// bundled lists the real models with labelled data: the validation set
// the scale sweep uses and the held-out test set accuracy is measured on.
var bundled = []struct {
	name, model, val, test string
	pixelMax               float64
}{
	{"Fashion-MNIST LeNet", "fashion_lenet.onnx", "fashion-mnist/val", "fashion-mnist/test", 0},
	{"digits MLP", "digits_mlp.onnx", "digits/val.csv", "digits/test.csv", 16},
	{"MNIST ResNet (BN, residual, avg-pool)", "mnist_resnet.onnx", "mnist/val", "mnist/test", 0},
}

// TestBundledModelAccuracy reproduces the paper's Table VII on real data:
// for every bundled model, the scale chosen automatically on the
// validation set gives fixed-point top-1 accuracy within 0.3 points of
// float on the full test set. Run with -v for the README's table.
func TestBundledModelAccuracy(t *testing.T) {
	t.Log("| model | test images | float top-1 | fixed top-1 | Δ (points) | agreement | chosen scale | ScaleDowns |")
	t.Log("|---|---|---|---|---|---|---|---|")
	for _, m := range bundled {
		t.Run(m.model, func(t *testing.T) {
			var mf modelFlags
			g, _, err := mf.load(testmodel.Path("models/" + m.model))
			if err != nil {
				t.Fatal(err)
			}
			shape, err := g.InputShape()
			if err != nil {
				t.Fatal(err)
			}
			df := dataFlags{pixelMax: m.pixelMax}
			val, err := df.loadExamples(testmodel.Path("data/"+m.val), 0, shape, g.Layout)
			if err != nil {
				t.Fatal(err)
			}
			test, err := df.loadExamples(testmodel.Path("data/"+m.test), 0, shape, g.Layout)
			if err != nil {
				t.Fatal(err)
			}
			scales, _, _ := parseScales("6:20")
			_, s, err := fixed.Sweep(g, val, scales)
			if err != nil {
				t.Fatal(err)
			}
			p, err := fixed.Compile(g, s)
			if err != nil {
				t.Fatal(err)
			}
			floatOuts, err := fixed.FloatOutputs(g, test)
			if err != nil {
				t.Fatal(err)
			}
			fixedOuts, err := fixed.FixedOutputs(p, test)
			if err != nil {
				t.Fatal(err)
			}
			fa, xa := fixed.Accuracy(floatOuts, test), fixed.Accuracy(fixedOuts, test)
			agree, _ := fixed.Compare(fixedOuts, floatOuts)
			t.Logf("| %s | %d | %.2f%% | %.2f%% | %+.2f | %.2f%% | %d | %d |", m.name, len(test), 100*fa, 100*xa, 100*(xa-fa), 100*agree, s, p.Stats.ScaleDowns)
			if fa < 0.8 {
				t.Errorf("float accuracy %.2f%% is implausibly low for a trained model", 100*fa)
			}
			if d := math.Abs(xa - fa); d > 0.003 {
				t.Errorf("fixed accuracy %.2f%% is %.2f points from float %.2f%% (limit 0.3)", 100*xa, 100*d, 100*fa)
			}
		})
	}
}

// TestScaleSweepRejectsTinyScales checks the sweep can fail: at scale 2
// a real model loses accuracy, and the sweep never chooses it.
func TestScaleSweepRejectsTinyScales(t *testing.T) {
	var mf modelFlags
	g, _, err := mf.load(lenet)
	if err != nil {
		t.Fatal(err)
	}
	shape, _ := g.InputShape()
	df := dataFlags{}
	val, err := df.loadExamples(fashionV, 400, shape, g.Layout)
	if err != nil {
		t.Fatal(err)
	}
	rows, s, err := fixed.Sweep(g, val, []int{2, 3, 12})
	if err != nil {
		t.Fatal(err)
	}
	if s != 12 {
		t.Errorf("chose scale %d from %s", s, fmt.Sprint(rows))
	}
	if rows[0].FixedAccuracy >= rows[2].FixedAccuracy-0.05 {
		t.Errorf("scale 2 accuracy %.3f is not clearly below scale 12's %.3f", rows[0].FixedAccuracy, rows[2].FixedAccuracy)
	}
}
