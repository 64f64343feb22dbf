package ir

import (
	"fmt"
	"math"
	"strings"
)

// Shape is a static tensor shape. Every dimension is known (>= 0); a
// scalar has an empty shape.
type Shape []int

// Size is the number of elements a tensor of this shape holds. It does
// not check for overflow: a shape read from a file or a peer is checked
// with CheckedSize first.
func (s Shape) Size() int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// CheckedSize returns the number of elements of s, or an error if a
// dimension is negative or the count exceeds limit. The product is
// checked before every multiplication, so it never wraps around: a shape
// whose true size is 10·2^64 + 784 is refused, not taken for 784. The
// product of the nonzero dimensions is bounded as well, so that an empty
// shape such as [0, 2^40] cannot hide a dimension that a reduction or a
// slice would later turn into a huge allocation.
func (s Shape) CheckedSize(limit int) (int, error) {
	n, nonzero := 1, 1
	for i, d := range s {
		if d < 0 {
			return 0, fmt.Errorf("shape %v: dimension %d is negative", s, i)
		}
		if d == 0 {
			n = 0
			continue
		}
		if nonzero > limit/d {
			return 0, fmt.Errorf("shape %v holds more than %d elements", s, limit)
		}
		nonzero *= d
		n *= d
	}
	return n, nil
}

// Equal reports whether s and t have the same rank and dimensions.
func (s Shape) Equal(t Shape) bool {
	if len(s) != len(t) {
		return false
	}
	for i := range s {
		if s[i] != t[i] {
			return false
		}
	}
	return true
}

// Clone returns a copy of s.
func (s Shape) Clone() Shape { return append(Shape(nil), s...) }

func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, "×") + "]"
}

// Strides returns the row-major element strides of s.
func (s Shape) Strides() []int {
	st := make([]int, len(s))
	acc := 1
	for i := len(s) - 1; i >= 0; i-- {
		st[i] = acc
		acc *= s[i]
	}
	return st
}

// DType is the element type of a tensor. Models compute in Float32; Int64
// exists only for shape arithmetic (Shape, Gather, Concat of dimensions …),
// which constant folding removes before any executor sees the graph.
type DType uint8

const (
	Float32 DType = iota
	Int64
)

func (d DType) String() string {
	switch d {
	case Float32:
		return "float32"
	case Int64:
		return "int64"
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// Tensor is a dense row-major tensor. Exactly one of F (Float32) and I
// (Int64) holds the elements, as DType says.
type Tensor struct {
	DType DType
	Shape Shape
	F     []float32
	I     []int64
}

// NewFloat returns a zeroed float tensor of the given shape.
func NewFloat(shape Shape) *Tensor {
	return &Tensor{DType: Float32, Shape: shape.Clone(), F: make([]float32, shape.Size())}
}

// FloatTensor wraps data (not copied) in a float tensor; len(data) must
// equal shape.Size().
func FloatTensor(shape Shape, data []float32) *Tensor {
	if len(data) != shape.Size() {
		panic(fmt.Sprintf("ir.FloatTensor: %d elements for shape %v", len(data), shape))
	}
	return &Tensor{DType: Float32, Shape: shape.Clone(), F: data}
}

// IntTensor wraps data (not copied) in an int64 tensor.
func IntTensor(shape Shape, data []int64) *Tensor {
	if len(data) != shape.Size() {
		panic(fmt.Sprintf("ir.IntTensor: %d elements for shape %v", len(data), shape))
	}
	return &Tensor{DType: Int64, Shape: shape.Clone(), I: data}
}

// Len is the number of elements.
func (t *Tensor) Len() int {
	if t.DType == Int64 {
		return len(t.I)
	}
	return len(t.F)
}

// clone returns a deep copy of t.
func (t *Tensor) clone() *Tensor {
	c := &Tensor{DType: t.DType, Shape: t.Shape.Clone()}
	if t.F != nil {
		c.F = append([]float32(nil), t.F...)
	}
	if t.I != nil {
		c.I = append([]int64(nil), t.I...)
	}
	return c
}

// Floats returns the elements as float32, converting int64 ones.
func (t *Tensor) Floats() []float32 {
	if t.DType == Float32 {
		return t.F
	}
	f := make([]float32, len(t.I))
	for i, v := range t.I {
		f[i] = float32(v)
	}
	return f
}

// Ints returns the elements as int64. Float elements must be integral.
func (t *Tensor) Ints() ([]int64, error) {
	if t.DType == Int64 {
		return t.I, nil
	}
	out := make([]int64, len(t.F))
	for i, v := range t.F {
		if float32(math.Trunc(float64(v))) != v {
			return nil, fmt.Errorf("element %d is %v, not an integer", i, v)
		}
		out[i] = int64(v)
	}
	return out, nil
}

// asType converts t to dtype d (float to int truncates toward zero, as
// ONNX Cast does).
func (t *Tensor) asType(d DType) *Tensor {
	if t.DType == d {
		return t
	}
	if d == Float32 {
		return FloatTensor(t.Shape, t.Floats())
	}
	out := make([]int64, len(t.F))
	for i, v := range t.F {
		out[i] = int64(v)
	}
	return IntTensor(t.Shape, out)
}

// reshaped returns a tensor sharing t's elements with a new shape of the
// same size.
func (t *Tensor) reshaped(s Shape) *Tensor {
	c := *t
	c.Shape = s.Clone()
	return &c
}
