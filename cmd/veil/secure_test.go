package main

import (
	"context"
	"fmt"
	"math"
	"testing"

	"veil/fixed"
	"veil/internal/testmodel"
	"veil/mpc/session"
)

// TestSecureAgreesWithCleartext runs at least 500 real images of the
// bundled LeNet and MLP through the three parties in this process (each
// with its own TLS connections on 127.0.0.1; TestPartiesAsProcesses does
// every model with the parties as processes) and checks, image by image, that the secure
// top-1 equals the cleartext fixed-point executor's and that every logit
// is within its worst-case truncation bound (fixed.Program.ElementBounds,
// from the one-unit error of each secure ScaleDown). (The
// digits set has 397 test images; its validation images make up 697.)
func TestSecureAgreesWithCleartext(t *testing.T) {
	cases := []struct {
		model    string
		data     []string
		pixelMax float64
		n        int
	}{
		{"fashion_lenet.onnx", []string{"fashion-mnist/test"}, 0, 500},
		{"digits_mlp.onnx", []string{"digits/test.csv", "digits/val.csv"}, 16, 697},
	}
	for _, c := range cases {
		t.Run(c.model, func(t *testing.T) {
			var mf modelFlags
			g, _, err := mf.load(testmodel.Path("models/" + c.model))
			if err != nil {
				t.Fatal(err)
			}
			p, err := fixed.Compile(g, defaultScale)
			if err != nil {
				t.Fatal(err)
			}
			shape, _ := g.InputShape()
			df := dataFlags{pixelMax: c.pixelMax}
			var xs []fixed.Example
			for _, d := range c.data {
				more, err := df.loadExamples(testmodel.Path("data/"+d), c.n-len(xs), shape, g.Layout)
				if err != nil {
					t.Fatal(err)
				}
				xs = append(xs, more...)
			}
			if len(xs) != c.n {
				t.Fatalf("%d images, want %d", len(xs), c.n)
			}
			inputs := make([][]float32, len(xs))
			for i := range xs {
				inputs[i] = xs[i].Input
			}
			res, err := session.RunLoopback(context.Background(), p, inputs, session.DefaultTimeout)
			if err != nil {
				t.Fatal(err)
			}
			maxDev, maxBound := checkSecureOutputs(t, p, xs, res.Outputs)
			rep := res.Reports[0]
			t.Logf("%s: %d images, all top-1 agree; max logit deviation %.0f units of 2^-%d (worst-case bound up to %.0f); %.1f ms/inference, %s and %d rounds per inference",
				c.model, len(xs), maxDev, p.Scale, maxBound, 1000*rep.Wall.Seconds()/float64(len(xs)),
				fmtPerInference(res, len(xs)), rep.Cost.Rounds/len(xs))
		})
	}
}

func fmtPerInference(res *session.Result, n int) string {
	var total int64
	for _, r := range res.Reports {
		total += r.Net.TotalSent()
	}
	return fmtMiB(total / int64(n))
}

func fmtMiB(b int64) string {
	return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20))
}

// checkSecureOutputs checks secure outputs image by image against the
// cleartext fixed-point executor: equal top-1, and every logit within its
// own worst-case truncation bound (fixed.Program.ElementBounds). It
// returns the largest deviation and bound seen, in units of 2^-scale.
func checkSecureOutputs(t *testing.T, p *fixed.Program, xs []fixed.Example, outs [][]float64) (maxDev, maxBound float64) {
	t.Helper()
	if len(outs) != len(xs) {
		t.Fatalf("%d secure outputs for %d images", len(outs), len(xs))
	}
	unit := math.Ldexp(1, -p.Scale)
	for i, x := range xs {
		vals, err := p.Trace(p.EncodeInput(x.Input))
		if err != nil {
			t.Fatal(err)
		}
		out := p.Outputs[0]
		clear := p.DecodeOutput(0, vals[out])
		bounds, err := p.ElementBounds(vals)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fixed.Top1(outs[i]), fixed.Top1(clear); got != want {
			t.Errorf("image %d: secure top-1 %d, cleartext %d", i, got, want)
		}
		if len(outs[i]) != len(clear) {
			t.Fatalf("image %d: %d secure outputs, %d cleartext", i, len(outs[i]), len(clear))
		}
		for j := range clear {
			dev, bound := math.Abs(outs[i][j]-clear[j])/unit, bounds[0][j]
			maxDev, maxBound = math.Max(maxDev, dev), math.Max(maxBound, bound)
			if dev > bound {
				t.Errorf("image %d logit %d: secure %g, cleartext %g: %g units apart, bound %g", i, j, outs[i][j], clear[j], dev, bound)
			}
		}
	}
	return maxDev, maxBound
}
