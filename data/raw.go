package data

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
)

// The raw input format (veil party --input-raw, written by veil bench):
// one input's values as little-endian IEEE 754 float32, in the program's
// input layout, nothing else.

// WriteFloat32s writes x to path in the raw input format.
func WriteFloat32s(path string, x []float32) error {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return os.WriteFile(path, b, 0o644)
}

// ReadFloat32s reads a file in the raw input format: a whole number of
// float32 values, at most MaxFileBytes of them.
func ReadFloat32s(path string) ([]float32, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > MaxFileBytes {
		return nil, fmt.Errorf("%s: %d bytes: %w (%d bytes)", path, st.Size(), errTooLarge, MaxFileBytes)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("%s: %d bytes, not a whole number of float32 values", path, len(b))
	}
	x := make([]float32, len(b)/4)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return x, nil
}
