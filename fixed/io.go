package fixed

import (
	"fmt"

	"veil/ir"
)

// A Port is one named input or output of a program: its name (the model's
// value name) and shape.
type Port struct {
	Name  string   `json:"name"`
	Shape ir.Shape `json:"shape"`
}

// InputPorts returns the program's inputs, in order.
func (p *Program) InputPorts() []Port { return p.ports(p.Inputs) }

// OutputPorts returns the program's outputs, in order.
func (p *Program) OutputPorts() []Port { return p.ports(p.Outputs) }

func (p *Program) ports(ids []int) []Port {
	ps := make([]Port, len(ids))
	for i, id := range ids {
		t := p.Tensors[id]
		name := t.Node
		if name == "" {
			name = t.Name
		}
		ps[i] = Port{Name: name, Shape: t.Shape}
	}
	return ps
}

// InputsSize is the number of values of all the program's inputs
// together: the length of one flat input (see SplitInputs).
func (p *Program) InputsSize() int {
	n := 0
	for _, id := range p.Inputs {
		n += p.Tensors[id].Shape.Size()
	}
	return n
}

// SplitInputs splits a flat input — the program's inputs in order, each
// in its shape, concatenated — into one slice per input.
func (p *Program) SplitInputs(flat []float32) ([][]float32, error) {
	if len(flat) != p.InputsSize() {
		return nil, fmt.Errorf("%d input values, but program %q takes %d (%s)", len(flat), p.Name, p.InputsSize(), FormatPorts(p.InputPorts()))
	}
	xs := make([][]float32, len(p.Inputs))
	for i, id := range p.Inputs {
		n := p.Tensors[id].Shape.Size()
		xs[i], flat = flat[:n], flat[n:]
	}
	return xs, nil
}

// EncodeInputs encodes a flat input (see SplitInputs) into the program's
// inputs.
func (p *Program) EncodeInputs(flat []float32) ([][]uint64, error) {
	xs, err := p.SplitInputs(flat)
	if err != nil {
		return nil, err
	}
	enc := make([][]uint64, len(xs))
	for i, x := range xs {
		enc[i] = p.EncodeInput(x)
	}
	return enc, nil
}

// DecodeOutputs decodes every output, with Post applied (a program with
// Post has one output).
func (p *Program) DecodeOutputs(outs [][]uint64) [][]float64 {
	ys := make([][]float64, len(outs))
	for i, o := range outs {
		ys[i] = p.DecodeOutput(i, o)
	}
	if len(ys) == 1 {
		ys[0] = p.ApplyPost(ys[0])
	}
	return ys
}

// PredictAll runs the program on a flat input (see SplitInputs) and
// returns every output, decoded, with Post applied.
func (p *Program) PredictAll(flat []float32) ([][]float64, error) {
	in, err := p.EncodeInputs(flat)
	if err != nil {
		return nil, err
	}
	outs, err := p.Run(in...)
	if err != nil {
		return nil, err
	}
	return p.DecodeOutputs(outs), nil
}

// FormatPorts renders ports as "name [1×3×224×224], …".
func FormatPorts(ps []Port) string {
	s := ""
	for i, pt := range ps {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %v", pt.Name, pt.Shape)
	}
	return s
}
