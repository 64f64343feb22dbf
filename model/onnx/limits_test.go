package onnx

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"veil/ir"
)

// A model of a few hundred bytes whose ConstantOfShape nodes each fold to
// 2^26 elements used to make import allocate 256 MiB per node without
// limit (six of them: 1.5 GiB). The folded constants of one graph are now
// bounded by ir.MaxFoldedElements: import fails naming the node, having
// allocated at most that many elements.
func TestFoldedConstantsBounded(t *testing.T) {
	s := func(xs ...string) []string { return xs }
	nodes := [][]byte{nodeB("Constant", nil, s("sh"), aTensor("value", tInt("", []int64{1}, []int64{1 << 26})))}
	for i := range 6 {
		nodes = append(nodes, nodeB("ConstantOfShape", s("sh"), s(fmt.Sprintf("c%d", i))))
	}
	nodes = append(nodes, nodeB("Relu", s("x"), s("y")))
	data := graphSpec{nodes: nodes, inputs: [][]byte{vinfo("x", 2)}, outputs: [][]byte{vinfo("y", 2)}}.bytes()
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	_, err := Decode(data, "bomb", Options{})
	runtime.ReadMemStats(&b)
	if err == nil || !strings.Contains(err.Error(), "folded constants") || !strings.Contains(err.Error(), "ConstantOfShape") {
		t.Errorf("Decode of a %d-byte model folding 6·2^26 elements: %v", len(data), err)
	}
	if got, limit := b.TotalAlloc-a.TotalAlloc, uint64(4*ir.MaxFoldedElements+(16<<20)); got > limit {
		t.Errorf("import allocated %d bytes, more than the bound %d", got, limit)
	}
}
