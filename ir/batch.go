package ir

import "fmt"

// WithBatch returns a copy of g whose one input takes n examples along
// its leading axis instead of one: every node is added again (sharing
// g's constants), so that the shapes follow. A graph built for one
// example only (a Reshape to a fixed leading 1, a constant joined along
// the leading axis) is refused with an error naming the node, or the
// output whose leading axis does not follow the input's.
func (g *Graph) WithBatch(n int) (*Graph, error) {
	shape, err := g.InputShape()
	if err != nil {
		return nil, err
	}
	if n < 1 {
		return nil, fmt.Errorf("model %q: a batch of %d examples: want at least 1", g.Name, n)
	}
	if len(shape) == 0 || shape[0] != 1 {
		return nil, fmt.Errorf("model %q: input %q of shape %v has no leading axis of one example to batch", g.Name, g.Inputs[0], shape)
	}
	if n == 1 {
		return g, nil
	}
	b := NewGraph(g.Name)
	b.Layout = g.Layout
	shape = shape.Clone()
	shape[0] = n
	if err := b.AddInput(g.Inputs[0], shape); err != nil {
		return nil, fmt.Errorf("model %q: a batch of %d: %w", g.Name, n, err)
	}
	for name, v := range g.Values {
		if v.Const != nil {
			b.Values[name] = &Value{Name: name, Shape: v.Shape.Clone(), DType: v.DType, Const: v.Const}
		}
	}
	b.folded = g.folded
	for _, nd := range g.Nodes {
		c := *nd
		c.Inputs = append([]string(nil), nd.Inputs...)
		if err := b.AddNode(&c); err != nil {
			return nil, fmt.Errorf("model %q does not take a batch of %d: %w", g.Name, n, err)
		}
	}
	if err := b.SetOutputs(g.Outputs...); err != nil {
		return nil, err
	}
	for _, o := range b.Outputs {
		if s := b.Values[o].Shape; len(s) == 0 || s[0] != n {
			return nil, fmt.Errorf("model %q does not take a batch of %d: output %q has shape %v, whose leading axis is not the batch", g.Name, n, o, s)
		}
	}
	return b, nil
}
