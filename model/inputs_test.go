package model

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"veil/data"
	"veil/ir"
)

// TestInputs: samples (HWC pixels) become inputs in the layout asked
// for, each its own copy; a sample that does not fit is named.
func TestInputs(t *testing.T) {
	// A 1×2 image with 2 channels: pixel 0 = (1, 2), pixel 1 = (3, 4).
	s := data.Sample{Pixels: []float32{1, 2, 3, 4}, H: 1, W: 2, C: 2, Label: 7}
	for _, c := range []struct {
		name    string
		samples []data.Sample
		shape   ir.Shape
		layout  ir.Layout
		want    [][]float32
		wantErr string
	}{
		{"NCHW", []data.Sample{s}, ir.Shape{1, 2, 1, 2}, ir.NCHW, [][]float32{{1, 3, 2, 4}}, ""},
		{"NHWC", []data.Sample{s, s}, ir.Shape{1, 1, 2, 2}, ir.NHWC, [][]float32{{1, 2, 3, 4}, {1, 2, 3, 4}}, ""},
		{"flat NCHW", []data.Sample{s}, ir.Shape{4}, ir.NCHW, [][]float32{{1, 3, 2, 4}}, ""},
		{"none", nil, ir.Shape{4}, ir.NCHW, [][]float32{}, ""},
		{"second does not fit", []data.Sample{s, {Pixels: make([]float32, 3), H: 1, W: 3, C: 1}}, ir.Shape{4}, ir.NHWC, nil, "image 1: image has 3 values"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Inputs(c.samples, c.shape, c.layout)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got, c.want, slices.Equal) {
				t.Fatalf("Inputs = %v, want %v", got, c.want)
			}
			if len(got) > 0 && &got[0][0] == &s.Pixels[0] {
				t.Error("an input shares the sample's pixels")
			}
		})
	}
}

// TestSourceHash: the SHA-256 of a model file, or of a TF.js
// directory's model.json; a missing file is an error.
func TestSourceHash(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "m.onnx")
	os.WriteFile(file, []byte("model bytes"), 0o644)
	tfjs := filepath.Join(dir, "tfjs")
	os.Mkdir(tfjs, 0o755)
	os.WriteFile(filepath.Join(tfjs, "model.json"), []byte(`{"format":"graph-model"}`), 0o644)
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	for _, c := range []struct {
		path, want string
	}{
		{file, sum("model bytes")},
		{tfjs, sum(`{"format":"graph-model"}`)},
		{filepath.Join(dir, "missing.onnx"), ""},
	} {
		got, err := SourceHash(c.path)
		if (err != nil) != (c.want == "") || got != c.want {
			t.Errorf("SourceHash(%s) = %q, %v; want %q", filepath.Base(c.path), got, err, c.want)
		}
	}
}
