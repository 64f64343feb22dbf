package ir

import "fmt"

// InputShape returns the shape of the graph's one input: veil feeds a
// model one image input, so a graph with none or several is an error
// naming the model.
func (g *Graph) InputShape() (Shape, error) {
	if len(g.Inputs) != 1 {
		return nil, fmt.Errorf("model %q has %d inputs; veil feeds one image input", g.Name, len(g.Inputs))
	}
	return g.Values[g.Inputs[0]].Shape, nil
}
