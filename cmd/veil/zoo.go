package main

import (
	"veil/ir"
	"veil/zoo"
)

// buildZoo builds the named benchmark network of the zoo with seeded
// random weights.
func buildZoo(name string, seed uint64) (*ir.Graph, error) {
	n, err := zoo.Lookup(name)
	if err != nil {
		return nil, err
	}
	return n.Build(seed)
}
