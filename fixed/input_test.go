package fixed

import (
	"slices"
	"testing"

	"veil/ir"
)

// TestInputLayout: the layout string a program carries maps to its
// ir.Layout, NCHW where it says nothing else.
func TestInputLayout(t *testing.T) {
	for _, c := range []struct {
		layout string
		want   ir.Layout
	}{
		{"NHWC", ir.NHWC},
		{"NCHW", ir.NCHW},
		{"", ir.NCHW},
	} {
		p := &Program{Layout: c.layout}
		if got := p.InputLayout(); got != c.want {
			t.Errorf("Layout %q: InputLayout() = %v, want %v", c.layout, got, c.want)
		}
	}
}

// TestInputShape: the shape of the tensor the first input names.
func TestInputShape(t *testing.T) {
	p := &Program{
		Tensors: []*Tensor{{Name: "w", Shape: ir.Shape{4, 4}}, {Name: "x", Shape: ir.Shape{1, 1, 28, 28}}},
		Inputs:  []int{1},
	}
	if got := p.InputShape(); !slices.Equal(got, ir.Shape{1, 1, 28, 28}) {
		t.Errorf("InputShape() = %v, want [1 1 28 28]", got)
	}
}
