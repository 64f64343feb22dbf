package fixed

import "fmt"

// Trace runs p in the clear like Run but keeps and returns the value of
// every tensor (indexed like p.Tensors), for checking a secure execution
// against the cleartext one instruction by instruction.
func (p *Program) Trace(inputs ...[]uint64) ([][]uint64, error) {
	if len(inputs) != len(p.Inputs) {
		return nil, fmt.Errorf("program %q takes %d inputs, got %d", p.Name, len(p.Inputs), len(inputs))
	}
	vals := make([][]uint64, len(p.Tensors))
	for i, id := range p.Inputs {
		if want := p.Tensors[id].Shape.Size(); len(inputs[i]) != want {
			return nil, fmt.Errorf("input %q has %d values, the program expects %d", p.Tensors[id].Name, len(inputs[i]), want)
		}
		vals[id] = inputs[i]
	}
	for id, t := range p.Tensors {
		if t.Kind == KindWeight {
			if len(t.Data) != t.Shape.Size() {
				return nil, fmt.Errorf("program %q: weight %q has no data", p.Name, t.Name)
			}
			vals[id] = t.Data
		}
	}
	for k := range p.Instrs {
		in := &p.Instrs[k]
		args := make([][]uint64, len(in.In))
		for i, id := range in.In {
			args[i] = vals[id]
		}
		out, err := p.exec(in, args)
		if err != nil {
			return nil, fmt.Errorf("instruction %d (%s from node %q): %w", k, in.Op, in.Node, err)
		}
		vals[in.Out] = out
	}
	return vals, nil
}
