package fixed

import "veil/ir"

// InputLayout is the layout of the program's image input (Layout, as
// compiled from the model): NHWC or, by default, NCHW.
func (p *Program) InputLayout() ir.Layout {
	if p.Layout == "NHWC" {
		return ir.NHWC
	}
	return ir.NCHW
}

// InputShape is the shape of the program's first input.
func (p *Program) InputShape() ir.Shape {
	return p.Tensors[p.Inputs[0]].Shape
}
