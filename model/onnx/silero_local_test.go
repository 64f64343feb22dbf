//go:build silero

package onnx

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"veil/ir"
)

// Local check, not part of the default tests:
//
//	VEIL_ZOO3P=~/.cache/veil-zoo3p go test -tags silero -run TestSilero -v ./model/onnx
//
// Silero VAD v4 (legacy) and v5 import with sr bound to 16000 and match
// the zoo3p reference (ref/<id>/ref.json and its .f32 files) in float.
func TestSilero(t *testing.T) {
	cache := os.Getenv("VEIL_ZOO3P")
	if cache == "" {
		t.Fatal("VEIL_ZOO3P must name the zoo3p cache (scripts/zoo3p/fetch && scripts/zoo3p/reference)")
	}
	for _, m := range []struct{ id, file string }{
		{"silero-vad-legacy", "silero_vad_legacy.onnx"},
		{"silero-vad-v5", "silero_vad_v5.onnx"},
	} {
		t.Run(m.id, func(t *testing.T) {
			dir := filepath.Join(cache, "ref", m.id)
			b, err := os.ReadFile(filepath.Join(dir, "ref.json"))
			if err != nil {
				t.Fatal(err)
			}
			type tensor struct {
				Name  string `json:"name"`
				Shape []int  `json:"shape"`
				DType string `json:"dtype"`
				File  string `json:"file"`
			}
			var ref struct{ Inputs, Outputs []tensor }
			if err := json.Unmarshal(b, &ref); err != nil {
				t.Fatal(err)
			}
			load := func(x tensor) *ir.Tensor {
				raw, err := os.ReadFile(filepath.Join(dir, x.File))
				if err != nil {
					t.Fatal(err)
				}
				f := make([]float32, len(raw)/4)
				for i := range f {
					f[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
				}
				return ir.FloatTensor(ir.Shape(x.Shape), f)
			}
			opt := Options{InputShapes: map[string][]int{}, Constants: map[string]*ir.Tensor{
				"sr": ir.IntTensor(ir.Shape{}, []int64{16000})}}
			feeds := map[string]*ir.Tensor{}
			for _, in := range ref.Inputs {
				if in.Name == "sr" {
					continue
				}
				opt.InputShapes[in.Name] = in.Shape
				feeds[in.Name] = load(in)
			}
			g, err := Load(filepath.Join(cache, "models", m.id, m.file), opt)
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Validate(); err != nil {
				t.Fatal(err)
			}
			t.Logf("inputs %v outputs %v\n%s", g.Inputs, g.Outputs, ir.FormatOpCounts(g.OpCounts()))
			outs, err := ir.Run(g, feeds)
			if err != nil {
				t.Fatal(err)
			}
			for i, o := range ref.Outputs {
				want, got := load(o), outs[i]
				if got.Len() != want.Len() {
					t.Fatalf("output %s: shape %v, reference %v", o.Name, got.Shape, want.Shape)
				}
				var absmax, maxdiff float64
				for j := range want.F {
					absmax = math.Max(absmax, math.Abs(float64(want.F[j])))
					maxdiff = math.Max(maxdiff, math.Abs(float64(got.F[j]-want.F[j])))
				}
				t.Logf("output %s %v: max |diff| %.3g (absmax %.3g)", o.Name, got.Shape, maxdiff, absmax)
				if maxdiff > 1e-4*absmax+1e-6 {
					t.Errorf("output %s differs from the reference by %g", o.Name, maxdiff)
				}
			}
		})
	}
}
