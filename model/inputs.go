package model

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"veil/data"
	"veil/ir"
)

// Inputs converts samples into input values of the given shape and
// layout, one slice per sample (see Input); an error names the sample.
func Inputs(samples []data.Sample, shape ir.Shape, layout ir.Layout) ([][]float32, error) {
	xs := make([][]float32, len(samples))
	for i, s := range samples {
		t, err := Input(s, shape, layout)
		if err != nil {
			return nil, fmt.Errorf("image %d: %w", i, err)
		}
		xs[i] = t.F
	}
	return xs, nil
}

// SourceHash returns the hex SHA-256 of the model file at path (of its
// model.json for a TF.js directory), as a compiled program records its
// source.
func SourceHash(path string) (string, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "model.json")
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
