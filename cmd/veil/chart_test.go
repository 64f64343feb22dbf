package main

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"veil/internal/bench"
)

func TestScalingChart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scaling.png")
	rs := []bench.Result{{Network: "resnet18", WallS: 1, BytesTotal: 1e9}, {Network: "resnet50", WallS: 3, BytesTotal: 3e9}}
	if err := writeScalingChart(path, rs); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("chart is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 600 || b.Dy() < 200 {
		t.Errorf("chart is %v", b)
	}
	if err := writeScalingChart(path, []bench.Result{{Network: "lenet"}}); err == nil {
		t.Error("a network without a depth in its name was charted")
	}
}
