package main

import (
	"fmt"

	"veil/ir"
)

func buildZoo(name string, seed uint64) (*ir.Graph, error) {
	return nil, fmt.Errorf("no zoo yet: %s", name)
}
