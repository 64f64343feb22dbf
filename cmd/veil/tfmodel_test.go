package main

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"veil/fixed"
	"veil/internal/testmodel"
	"veil/ir"
)

var nsfwModel = testmodel.Path("models/tfjs-nsfw-mobilenet_v2_mid")

// TestTFModelFixedPoint runs the real TF.js MobileNetV2 in fixed point on
// the real photos of its reference file and checks that the fixed-point
// probabilities agree with the float graph's and with tfjs's top-1.
func TestTFModelFixedPoint(t *testing.T) {
	raw, err := os.ReadFile(testmodel.Path("tf/nsfw_mobilenet_v2_mid.ref.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		InputShape []int       `json:"input_shape"`
		InputScale float64     `json:"input_scale"`
		Images     []string    `json:"images"`
		Inputs     [][]float64 `json:"inputs"`
		Outputs    [][]float64 `json:"outputs"`
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	var mf modelFlags
	g, _, err := mf.load(nsfwModel)
	if err != nil {
		t.Fatal(err)
	}
	if g.Layout != ir.NHWC {
		t.Fatalf("TF model layout %s, want NHWC", g.Layout)
	}
	p, err := fixed.Compile(g, 12)
	if err != nil {
		t.Fatal(err)
	}
	if p.Post != "softmax" {
		t.Errorf("post %q, want softmax", p.Post)
	}
	xs := make([]fixed.Example, len(ref.Inputs))
	for i, in := range ref.Inputs {
		x := make([]float32, len(in))
		for j, v := range in {
			x[j] = float32(v * ref.InputScale)
		}
		xs[i] = fixed.Example{Input: x}
	}
	floatOuts, err := fixed.FloatOutputs(g, xs)
	if err != nil {
		t.Fatal(err)
	}
	fixedOuts, err := fixed.FixedOutputs(p, xs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range xs {
		if fixed.Top1(fixedOuts[i]) != fixed.Top1(ref.Outputs[i]) || fixed.Top1(floatOuts[i]) != fixed.Top1(ref.Outputs[i]) {
			t.Errorf("%s: top-1 fixed %d float %d tfjs %d", ref.Images[i], fixed.Top1(fixedOuts[i]), fixed.Top1(floatOuts[i]), fixed.Top1(ref.Outputs[i]))
		}
		for j := range fixedOuts[i] {
			if d := math.Abs(fixedOuts[i][j] - floatOuts[i][j]); d > 0.02 {
				t.Errorf("%s class %d: fixed %.4f float %.4f", ref.Images[i], j, fixedOuts[i][j], floatOuts[i][j])
			}
		}
		t.Logf("%s: fixed %.4f float %.4f tfjs %.4f", ref.Images[i], fixedOuts[i], floatOuts[i], ref.Outputs[i])
	}
}
