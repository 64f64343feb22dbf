package tf

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"veil/ir"
)

// Builders for hand-made GraphDefs.

func nd(name, op string, inputs []string, attrs map[string]*AttrValue) *NodeDef {
	if attrs == nil {
		attrs = map[string]*AttrValue{}
	}
	return &NodeDef{Name: name, Op: op, Inputs: inputs, Attrs: attrs}
}

func aS(s string) *AttrValue      { return &AttrValue{Kind: AttrS, S: []byte(s)} }
func aI(i int64) *AttrValue       { return &AttrValue{Kind: AttrI, I: i} }
func aF(f float32) *AttrValue     { return &AttrValue{Kind: AttrF, F: f} }
func aB(b bool) *AttrValue        { return &AttrValue{Kind: AttrB, B: b} }
func aT(d DataType) *AttrValue    { return &AttrValue{Kind: AttrType, Type: d} }
func aInts(v ...int64) *AttrValue { return &AttrValue{Kind: AttrList, List: &AttrListValue{I: v}} }
func aStrs(v ...string) *AttrValue {
	l := &AttrListValue{}
	for _, s := range v {
		l.S = append(l.S, []byte(s))
	}
	return &AttrValue{Kind: AttrList, List: l}
}

func placeholder(name string, dims ...int64) *NodeDef {
	return nd(name, "Placeholder", nil, map[string]*AttrValue{
		"dtype": aT(DTFloat),
		"shape": {Kind: AttrShape, Shape: &TensorShape{Dims: dims}},
	})
}

func constF(name string, shape []int64, vals []float32) *NodeDef {
	return nd(name, "Const", nil, map[string]*AttrValue{
		"dtype": aT(DTFloat),
		"value": {Kind: AttrTensor, Tensor: &Tensor{DType: DTFloat, Shape: shape, Floats: vals}},
	})
}

func constI(name string, shape []int64, vals ...int64) *NodeDef {
	return nd(name, "Const", nil, map[string]*AttrValue{
		"dtype": aT(DTInt32),
		"value": {Kind: AttrTensor, Tensor: &Tensor{DType: DTInt32, Shape: shape, Ints: vals}},
	})
}

// randFloats returns n values uniform in [-1, 1) from a fixed seed.
func randFloats(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.Float64()*2 - 1)
	}
	return out
}

// marshalGraphDef returns gd in the binary format WriteGraphDef writes.
func marshalGraphDef(gd *GraphDef) ([]byte, error) {
	var b bytes.Buffer
	err := WriteGraphDef(&b, gd)
	return b.Bytes(), err
}

// importBinary writes nodes as a binary GraphDef, decodes and imports it:
// every op test also exercises the protobuf encoder and decoder.
func importBinary(t *testing.T, nodes []*NodeDef, opt Options) (*ir.Graph, error) {
	t.Helper()
	data, err := marshalGraphDef(&GraphDef{Nodes: nodes, Producer: 175})
	if err != nil {
		t.Fatal(err)
	}
	return DecodeGraphDef(data, "test", opt)
}

// nhwc is a dense NHWC tensor for the reference implementations below,
// which follow TensorFlow's definitions directly (no IR code).
type nhwc struct {
	n, h, w, c int
	v          []float32
}

func (x nhwc) at(n, h, w, c int) float32 {
	if h < 0 || h >= x.h || w < 0 || w >= x.w {
		return 0
	}
	return x.v[((n*x.h+h)*x.w+w)*x.c+c]
}

// refConv is TensorFlow's Conv2D (filter [KH, KW, I, O], groups = C/I) or,
// with depthwise, DepthwiseConv2dNative (filter [KH, KW, C, M], output
// channel c*M + m), with the given top/left padding and output size.
func refConv(x nhwc, f []float32, kh, kw, fi, fo int, depthwise bool, sh, sw, pt, pl, oh, ow int) nhwc {
	oc := fo
	if depthwise {
		oc = x.c * fo
	}
	out := nhwc{x.n, oh, ow, oc, make([]float32, x.n*oh*ow*oc)}
	for n := 0; n < x.n; n++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				for o := 0; o < oc; o++ {
					var s float64
					for a := 0; a < kh; a++ {
						for b := 0; b < kw; b++ {
							ih, iw := i*sh-pt+a, j*sw-pl+b
							if depthwise {
								c, m := o/fo, o%fo
								s += float64(x.at(n, ih, iw, c)) * float64(f[((a*kw+b)*fi+c)*fo+m])
								continue
							}
							g := o / (fo / (x.c / fi))
							for ci := 0; ci < fi; ci++ {
								s += float64(x.at(n, ih, iw, g*fi+ci)) * float64(f[((a*kw+b)*fi+ci)*fo+o])
							}
						}
					}
					out.v[((n*oh+i)*ow+j)*oc+o] = float32(s)
				}
			}
		}
	}
	return out
}

// refPool is TensorFlow's MaxPool or AvgPool; padding is never part of a
// window (not in the max, not in the average's count).
func refPool(x nhwc, kh, kw, sh, sw, pt, pl, oh, ow int, isMax bool) nhwc {
	out := nhwc{x.n, oh, ow, x.c, make([]float32, x.n*oh*ow*x.c)}
	for n := 0; n < x.n; n++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				for c := 0; c < x.c; c++ {
					best, sum, cnt := float32(math.Inf(-1)), float32(0), 0
					for a := 0; a < kh; a++ {
						for b := 0; b < kw; b++ {
							ih, iw := i*sh-pt+a, j*sw-pl+b
							if ih < 0 || ih >= x.h || iw < 0 || iw >= x.w {
								continue
							}
							v := x.at(n, ih, iw, c)
							best = max(best, v)
							sum += v
							cnt++
						}
					}
					r := best
					if !isMax {
						r = sum / float32(cnt)
					}
					out.v[((n*oh+i)*ow+j)*x.c+c] = r
				}
			}
		}
	}
	return out
}

func mapFloats(v []float32, f func(float32) float32) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = f(x)
	}
	return out
}

func relu6(v float32) float32 { return min(max(v, 0), 6) }
func relu(v float32) float32  { return max(v, 0) }
