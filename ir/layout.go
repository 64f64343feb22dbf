package ir

import (
	"fmt"
	"slices"
)

// ToNCHW returns a graph that computes what the NHWC graph g computes,
// with every 4-D activation held in NCHW order instead: the inputs take
// NCHW data, the convolutions and pools run in NCHW, the constants that
// broadcast against activations are transposed, and the outputs keep g's
// shapes (an NHWC 4-D output is transposed back). For a backend that runs
// only NCHW programs (Slalom) or runs them faster.
//
// Convolutions, pools, element-wise ops, batch norms, reductions,
// concatenations, pads and softmax over the channels are rewritten in
// place; any other op that reads a 4-D activation gets it transposed back
// to NHWC first, so that every op computes what it did. g itself is not
// changed; a graph already NCHW is returned as it is.
func ToNCHW(g *Graph) (*Graph, error) {
	if g.Layout != NHWC {
		return g, nil
	}
	c := &relayout{g: g, h: NewGraph(g.Name), perm: map[string]bool{}, back: map[string]string{}}
	c.h.Layout = NCHW
	for name, v := range g.Values {
		if v.Const != nil {
			if err := c.h.AddConst(name, v.Const); err != nil {
				return nil, err
			}
		}
	}
	for _, in := range g.Inputs {
		s := g.Values[in].Shape
		if len(s) == 4 {
			if err := c.h.AddInput(in, toNCHWShape(s)); err != nil {
				return nil, err
			}
			c.perm[in] = true
			continue
		}
		if err := c.h.AddInput(in, s); err != nil {
			return nil, err
		}
	}
	for _, n := range g.Nodes {
		if err := c.node(n); err != nil {
			return nil, err
		}
	}
	outs := make([]string, len(g.Outputs))
	for i, o := range g.Outputs {
		v, err := c.nhwc(o)
		if err != nil {
			return nil, err
		}
		outs[i] = v
	}
	if err := c.h.SetOutputs(outs...); err != nil {
		return nil, err
	}
	return c.h, c.h.Validate()
}

// The permutations between the layouts: NCHW = NHWC[0, 3, 1, 2].
var (
	nhwcToNCHW = []int{0, 3, 1, 2}
	nchwToNHWC = []int{0, 2, 3, 1}
	// nchwAxis maps an NHWC axis to the same dimension's NCHW axis.
	nchwAxis = []int{0, 2, 3, 1}
)

func toNCHWShape(s Shape) Shape { return Shape{s[0], s[3], s[1], s[2]} }

// relayout is the state of ToNCHW.
type relayout struct {
	g, h *Graph
	// perm marks the 4-D values of h held in NCHW order for g's NHWC
	// value of the same name.
	perm map[string]bool
	// back caches the NHWC transposes of perm values.
	back map[string]string
}

// nhwc returns a value of h holding g's value name in g's own order.
func (c *relayout) nhwc(name string) (string, error) {
	if !c.perm[name] {
		return name, nil
	}
	if b, ok := c.back[name]; ok {
		return b, nil
	}
	b := c.h.UniqueName(name + "@nhwc")
	if err := c.h.AddNode(&Node{Name: b, Op: OpTranspose, Inputs: []string{name}, Output: b, Attrs: Attrs{Perm: nchwToNHWC}}); err != nil {
		return "", err
	}
	c.back[name] = b
	return b, nil
}

// nchw returns a value of h that broadcasts against 4-D NCHW activations
// as g's value name does against NHWC ones: name itself if it is held in
// NCHW, a transposed constant, or a reshaped and transposed value.
func (c *relayout) nchw(n *Node, name string) (string, error) {
	if c.perm[name] {
		return name, nil
	}
	v := c.h.Values[name]
	s := v.Shape
	if len(s) > 4 {
		return "", n.Errorf("operand %q of rank %d broadcast against a 4-D activation", name, len(s))
	}
	s4 := append(slices.Repeat(Shape{1}, 4-len(s)), s...)
	if s.Size() == 1 { // a scalar broadcasts alike in both layouts
		return name, nil
	}
	if v.Const != nil {
		t := Transpose(v.Const.reshaped(s4), nhwcToNCHW)
		cn := c.h.UniqueName(name + "@nchw")
		if err := c.h.AddConst(cn, t); err != nil {
			return "", err
		}
		return cn, nil
	}
	src := name
	if len(s) != 4 {
		src = c.h.UniqueName(name + "@4d")
		shape := make([]int64, 4)
		for i, d := range s4 {
			shape[i] = int64(d)
		}
		sc := c.h.UniqueName(src + "@shape")
		if err := c.h.AddConst(sc, IntTensor(Shape{4}, shape)); err != nil {
			return "", err
		}
		if err := c.h.AddNode(&Node{Name: src, Op: OpReshape, Inputs: []string{name, sc}, Output: src}); err != nil {
			return "", err
		}
	}
	out := c.h.UniqueName(name + "@nchw")
	return out, c.h.AddNode(&Node{Name: out, Op: OpTranspose, Inputs: []string{src}, Output: out, Attrs: Attrs{Perm: nhwcToNCHW}})
}

// node rewrites one node of g into h.
func (c *relayout) node(n *Node) error {
	m := *n
	m.Inputs = slices.Clone(n.Inputs)
	a := &m.Attrs
	anyPerm := slices.ContainsFunc(n.Inputs, func(in string) bool { return c.perm[in] })
	out := c.g.Values[n.Output].Shape
	keep := func() error { // the output is held in NCHW
		if err := c.h.AddNode(&m); err != nil {
			return err
		}
		c.perm[m.Output] = true
		return nil
	}
	if n.Op == OpConv || n.Op == OpMaxPool || n.Op == OpAvgPool {
		x, err := c.nchw(n, n.Inputs[0])
		if err != nil {
			return err
		}
		m.Inputs[0], a.Layout = x, NCHW
		return keep()
	}
	if anyPerm {
		switch n.Op {
		case OpRelu, OpClip, OpLeakyRelu, OpSigmoid, OpTanh, OpIdentity, OpSqrt, OpNeg, OpReciprocal,
			OpAbs, OpHardSigmoid, OpHardSwish, OpExp, OpErf, OpGelu, OpSoftplus, OpSilu, OpRsqrt:
			if len(n.Inputs) == 1 {
				return keep()
			}
		case OpAdd, OpSub, OpMul, OpDiv, OpMax, OpMin, OpPRelu:
			if len(out) == 4 {
				for i, in := range n.Inputs {
					v, err := c.nchw(n, in)
					if err != nil {
						return err
					}
					m.Inputs[i] = v
				}
				return keep()
			}
		case OpBatchNorm:
			if a.Axis == 3 || a.Axis == -1 {
				a.Axis = 1
				return keep()
			}
		case OpConcat:
			if len(out) == 4 {
				ax := a.Axis
				if ax < 0 {
					ax += 4
				}
				if ax >= 0 && ax < 4 {
					for i, in := range n.Inputs {
						v, err := c.nchw(n, in)
						if err != nil {
							return err
						}
						m.Inputs[i] = v
					}
					a.Axis = nchwAxis[ax]
					return keep()
				}
			}
		case OpSoftmax:
			if ax := a.Axis; ax == 3 || ax == -1 {
				a.Axis = 1
				return keep()
			}
		case OpPad:
			if len(a.Pads) == 8 {
				p := make([]int, 8)
				for i := range 4 {
					p[nchwAxis[i]], p[4+nchwAxis[i]] = a.Pads[i], a.Pads[4+i]
				}
				a.Pads = p
				return keep()
			}
		case OpReduceMean, OpReduceSum, OpReduceMax, OpReduceMin:
			if a.KeepDims && len(a.Axes) > 0 {
				axes := make([]int, len(a.Axes))
				for i, ax := range a.Axes {
					if ax < 0 {
						ax += 4
					}
					if ax < 0 || ax > 3 {
						return n.Errorf("axis %d of a 4-D value", a.Axes[i])
					}
					axes[i] = nchwAxis[ax]
				}
				a.Axes = axes
				return keep()
			}
			if reducesSpatial(a.Axes) { // [N, H, W, C] → [N, C] either way
				a.Axes = []int{2, 3}
				return c.h.AddNode(&m)
			}
		}
	}
	// Any other op sees g's own layout.
	for i, in := range n.Inputs {
		v, err := c.nhwc(in)
		if err != nil {
			return err
		}
		m.Inputs[i] = v
	}
	if err := c.h.AddNode(&m); err != nil {
		return fmt.Errorf("relayout: %w", err)
	}
	return nil
}

// reducesSpatial reports whether axes are exactly the NHWC spatial axes.
func reducesSpatial(axes []int) bool {
	s := slices.Clone(axes)
	for i, a := range s {
		if a < 0 {
			s[i] = a + 4
		}
	}
	slices.Sort(s)
	return slices.Equal(s, []int{1, 2})
}
