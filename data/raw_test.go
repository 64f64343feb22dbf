package data

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestFloat32sRoundTrip: what WriteFloat32s writes, ReadFloat32s reads
// back bit for bit, little endian, four bytes a value.
func TestFloat32sRoundTrip(t *testing.T) {
	for _, c := range []struct {
		name string
		x    []float32
	}{
		{"empty", []float32{}},
		{"one", []float32{1.5}},
		{"specials", []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), math.MaxFloat32, math.SmallestNonzeroFloat32, -3.25}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.f32")
			if err := WriteFloat32s(path, c.x); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil || len(b) != 4*len(c.x) {
				t.Fatalf("%d bytes (%v), want %d", len(b), err, 4*len(c.x))
			}
			got, err := ReadFloat32s(path)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got, c.x, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
				t.Fatalf("read %v, wrote %v", got, c.x)
			}
		})
	}
	// The byte order is fixed: 1.0 is 00 00 80 3f.
	path := filepath.Join(t.TempDir(), "one.f32")
	if err := os.WriteFile(path, []byte{0, 0, 0x80, 0x3f}, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadFloat32s(path); err != nil || len(got) != 1 || got[0] != 1 {
		t.Errorf("00 00 80 3f read as %v, %v; want [1]", got, err)
	}
}

// TestReadFloat32sRefuses: a file that is not a whole number of values,
// a missing file and one above MaxFileBytes are refused.
func TestReadFloat32sRefuses(t *testing.T) {
	dir := t.TempDir()
	odd := filepath.Join(dir, "odd.f32")
	os.WriteFile(odd, []byte{1, 2, 3, 4, 5}, 0o644)
	big := filepath.Join(dir, "big.f32")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxFileBytes + 4); err != nil {
		t.Skipf("no sparse file: %v", err)
	}
	f.Close()
	for _, c := range []struct {
		path string
		want func(error) bool
	}{
		{odd, func(err error) bool { return strings.Contains(err.Error(), "5 bytes, not a whole number") }},
		{filepath.Join(dir, "missing.f32"), func(err error) bool { return errors.Is(err, os.ErrNotExist) }},
		{big, func(err error) bool { return errors.Is(err, errTooLarge) }},
	} {
		if _, err := ReadFloat32s(c.path); err == nil || !c.want(err) {
			t.Errorf("%s: %v", filepath.Base(c.path), err)
		}
	}
}
