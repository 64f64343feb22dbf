package ir

import (
	"slices"
	"strings"
	"testing"
)

// TestInputShape: a graph with exactly one input gives its shape; none
// or two are refused, naming the model and the count.
func TestInputShape(t *testing.T) {
	for _, c := range []struct {
		name    string
		inputs  []Shape
		want    Shape
		wantErr string
	}{
		{"one image", []Shape{{1, 3, 8, 8}}, Shape{1, 3, 8, 8}, ""},
		{"one vector", []Shape{{10}}, Shape{10}, ""},
		{"none", nil, nil, `model "g" has 0 inputs`},
		{"two", []Shape{{1, 4}, {1, 4}}, nil, `model "g" has 2 inputs`},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := NewGraph("g")
			for i, s := range c.inputs {
				if err := g.AddInput(string(rune('a'+i)), s); err != nil {
					t.Fatal(err)
				}
			}
			got, err := g.InputShape()
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, c.want) {
				t.Fatalf("InputShape() = %v, %v; want %v", got, err, c.want)
			}
		})
	}
}
