package fixed

import (
	"crypto/sha256"
	"encoding/json"
)

// Public returns a copy of p whose weight tensors carry no data: the
// program as the parties of a secure execution that must not see the
// model's parameters (the client and the helper) hold it. Shapes, scales,
// the weights' declared storage widths (Tensor.Bits), instructions and
// public constants (the architecture's own: a clip's bounds, an
// average's reciprocals) are kept; nothing else derived from the weights
// or from where the server keeps them is: not the weight data,
// not the model file's path and hash (Source, SourceHash), not the scale
// sweep's accuracies on the server's validation data (ScaleTable). The
// copy shares the instruction slices with p, which neither must modify
// afterwards.
func (p *Program) Public() *Program {
	q := *p
	q.Source, q.SourceHash, q.ScaleTable = "", "", nil
	q.Tensors = make([]*Tensor, len(p.Tensors))
	for i, t := range p.Tensors {
		c := *t
		c.dropValues()
		q.Tensors[i] = &c
	}
	q.Instrs = append([]Instr(nil), p.Instrs...)
	q.Inputs = append([]int(nil), p.Inputs...)
	q.Outputs = append([]int(nil), p.Outputs...)
	return &q
}

// HasWeightData reports whether some weight tensor of p carries data.
func (p *Program) HasWeightData() bool {
	for _, t := range p.Tensors {
		if t.Kind == KindWeight && t.HasValues() {
			return true
		}
	}
	return false
}

// WeightsComplete reports whether every weight tensor of p carries its
// data (true for a program without weights): what the model owner runs.
func (p *Program) WeightsComplete() bool {
	for _, t := range p.Tensors {
		if t.Kind == KindWeight && !t.HasValues() {
			return false
		}
	}
	return true
}

// ValidatePublic checks p as Validate does, except that weight tensors
// need not carry data (see Public).
func (p *Program) ValidatePublic() error {
	// Validate a shallow copy in which every weight is declared as an
	// extra input: inputs are defined from the start and carry no data,
	// which is all a weight without data is to the structural checks.
	q := *p
	q.Tensors = make([]*Tensor, len(p.Tensors))
	q.Inputs = append([]int(nil), p.Inputs...)
	for i, t := range p.Tensors {
		q.Tensors[i] = t
		if t != nil && t.Kind == KindWeight {
			c := *t
			c.Kind = KindInput
			c.dropValues()
			q.Tensors[i] = &c
			q.Inputs = append(q.Inputs, i)
		}
	}
	return q.Validate()
}

// PublicDigest is the SHA-256 of everything in p that every party of a
// secure execution must agree on: scale, tensors (names, shapes, kinds
// and scales, not weight data), instructions with their public
// constants, inputs and outputs. Parties compare digests before they
// run, so that a mismatched program is an error rather than garbage.
func (p *Program) PublicDigest() [32]byte {
	b, err := json.Marshal(struct {
		Scale, PublicShift int
		Tensors            []*Tensor
		Instrs             []Instr
		Inputs, Outputs    []int
	}{p.Scale, p.PublicShift, p.Tensors, p.Instrs, p.Inputs, p.Outputs})
	if err != nil { // only unsupported types fail, and a Program has none
		panic("fixed: marshalling a program: " + err.Error())
	}
	return sha256.Sum256(b)
}
