package ir

import (
	"strings"
	"testing"
)

// TestCheckLive: a chain of activations whose live set peaks at exactly
// MaxLiveElements passes, one element more is refused.
func TestCheckLive(t *testing.T) {
	mk := func(n int) *Graph {
		g := NewGraph("live")
		if err := g.AddInput("x", Shape{n}); err != nil {
			t.Fatal(err)
		}
		if err := g.AddNode(&Node{Name: "r", Op: OpRelu, Inputs: []string{"x"}, Output: "y"}); err != nil {
			t.Fatal(err)
		}
		g.SetOutputs("y")
		return g
	}
	if err := mk(MaxLiveElements / 2).CheckLive(); err != nil {
		t.Errorf("a peak of MaxLiveElements refused: %v", err)
	}
	if err := mk(MaxLiveElements/2 + 1).CheckLive(); err == nil || !strings.Contains(err.Error(), "activation elements") {
		t.Errorf("a peak above MaxLiveElements: %v", err)
	}
}
