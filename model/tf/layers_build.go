package tf

import (
	"fmt"
	"strings"

	"veil/ir"
)

// Graph-building helpers of the layer lowerings: nodes and constants named
// after the layer (its base, then /suffix, made unique), and the lookup of
// its weights in the manifest.

// add appends a node computing a fresh value named after suffix.
func (l *klayer) add(op ir.Op, suffix string, a ir.Attrs, ins ...string) (string, error) {
	out := l.b.g.UniqueName(l.base + "/" + suffix)
	return out, l.b.g.AddNode(&ir.Node{Name: out, Op: op, Inputs: ins, Output: out, Attrs: a})
}

// konst adds a constant named after suffix.
func (l *klayer) konst(suffix string, t *ir.Tensor) (string, error) {
	name := l.b.g.UniqueName(l.base + "/" + suffix)
	return name, l.b.g.AddConst(name, t)
}

// scalar adds a float constant of shape [].
func (l *klayer) scalar(suffix string, v float32) (string, error) {
	return l.konst(suffix, ir.FloatTensor(ir.Shape{}, []float32{v}))
}

// shape returns the static shape of value v.
func (l *klayer) shape(v string) ir.Shape { return l.b.g.Values[v].Shape }

// reshape adds a Reshape of x to the static shape s.
func (l *klayer) reshape(x string, s ir.Shape) (string, error) {
	if l.shape(x).Equal(s) {
		return x, nil
	}
	v := make([]int64, len(s))
	for i, d := range s {
		v[i] = int64(d)
	}
	c, err := l.konst("shape", ir.IntTensor(ir.Shape{len(v)}, v))
	if err != nil {
		return "", err
	}
	return l.add(ir.OpReshape, "reshape", ir.Attrs{AllowZero: true}, x, c)
}

// slice adds a Slice of x along axis from start to end.
func (l *klayer) slice(x string, axis, start, end int) (string, error) {
	if s := l.shape(x); start == 0 && end == s[axis] {
		return x, nil
	}
	var cs [3]string
	for i, v := range []int{start, end, axis} {
		c, err := l.konst("slice", ir.IntTensor(ir.Shape{1}, []int64{int64(v)}))
		if err != nil {
			return "", err
		}
		cs[i] = c
	}
	return l.add(ir.OpSlice, "slice", ir.Attrs{}, x, cs[0], cs[1], cs[2])
}

// one requires exactly one input.
func (l *klayer) one(ins []string) (string, error) {
	if len(ins) != 1 {
		return "", l.errorf("called on %d inputs; the layer takes one", len(ins))
	}
	return ins[0], nil
}

// rank requires x to have one of the given ranks and returns its shape.
func (l *klayer) rank(x string, ranks ...int) (ir.Shape, error) {
	s := l.shape(x)
	for _, r := range ranks {
		if len(s) == r {
			return s, nil
		}
	}
	want := fmt.Sprint(ranks[0])
	for _, r := range ranks[1:] {
		want += " or " + fmt.Sprint(r)
	}
	return nil, l.errorf("input %v has rank %d; the layer takes rank %s (batch included)", s, len(s), want)
}

// weight returns the layer's weight called short ("kernel", "bias" …),
// which must be a float tensor of shape want (nil: any shape).
func (l *klayer) weight(short string, want ir.Shape) (*ir.Tensor, error) {
	t, err := l.optWeight(short, want)
	if err == nil && t == nil {
		err = l.errorf("weight %q is not in the weights manifest (looked for a name ending in /%s under %q)", short, short, l.name)
	}
	return t, err
}

// optWeight is weight for a weight that may be absent (nil).
//
// Keras stores a weight as "layer/short" (tfjs, Keras 3), with the cell's
// name between for recurrent layers ("lstm/lstm_cell/kernel") and under
// the wrapper's name for a wrapped layer ("time_distributed/kernel",
// "bidirectional/forward_lstm/…"). The weight chosen is the one whose
// name ends in short and holds the most of the layer's name (counted
// twice) and its wrappers' names as path elements; a tie is an error.
func (l *klayer) optWeight(short string, want ir.Shape) (*ir.Tensor, error) {
	best, score := "", 0
	tie := false
	for _, n := range l.b.names {
		toks := strings.Split(n, "/")
		if toks[len(toks)-1] != short {
			continue
		}
		s := 0
		for _, t := range toks[:len(toks)-1] {
			if t == l.name {
				s += 2
			}
			for _, w := range l.scope {
				if t == w {
					s++
				}
			}
		}
		switch {
		case s > score:
			best, score, tie = n, s, false
		case s == score && s > 0:
			tie = true
		}
	}
	if score == 0 {
		return nil, nil
	}
	if tie {
		return nil, l.errorf("weight %q: several names in the weights manifest fit the layer equally (one is %q)", short, best)
	}
	t := l.b.weights[best]
	if t.DType != ir.Float32 {
		return nil, l.errorf("weight %q is %s, want float32", best, t.DType)
	}
	if want != nil && !t.Shape.Equal(want) {
		return nil, l.errorf("weight %q has shape %v, want %v", best, t.Shape, want)
	}
	return t, nil
}

// bias returns the layer's bias of n elements when use_bias (default
// true) says it has one, or nil.
func (l *klayer) bias(n int) (*ir.Tensor, error) {
	use, err := l.bool("use_bias", true)
	if err != nil || !use {
		return nil, err
	}
	return l.weight("bias", ir.Shape{n})
}

// addBias adds the constant bias b (nil: none) to x.
func (l *klayer) addBias(x string, b *ir.Tensor) (string, error) {
	if b == nil {
		return x, nil
	}
	c, err := l.konst("bias", b)
	if err != nil {
		return "", err
	}
	return l.add(ir.OpAdd, "bias_add", ir.Attrs{}, x, c)
}
