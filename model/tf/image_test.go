package tf

import (
	"math"
	"strings"
	"testing"

	"veil/ir"
)

// resizeScale is TensorFlow's CalculateResizeScale, in float32.
func resizeScale(in, out int, align bool) float32 {
	if align && out > 1 {
		return float32(in-1) / float32(out-1)
	}
	return float32(in) / float32(out)
}

// refResizeBilinear is TensorFlow's ResizeBilinear
// (compute_interpolation_weights and the lerps), in float32.
func refResizeBilinear(x nhwc, oh, ow int, align, half bool) nhwc {
	type w struct {
		lo, hi int
		lerp   float32
	}
	weights := func(in, out int) []w {
		s := resizeScale(in, out, align)
		ws := make([]w, out)
		for i := range ws {
			c := float32(i) * s
			if half {
				c = (float32(i)+0.5)*s - 0.5
			}
			f := float32(math.Floor(float64(c)))
			ws[i] = w{max(int(f), 0), min(int(math.Ceil(float64(c))), in-1), c - f}
		}
		return ws
	}
	ys, xs := weights(x.h, oh), weights(x.w, ow)
	out := nhwc{x.n, oh, ow, x.c, make([]float32, x.n*oh*ow*x.c)}
	for n := range x.n {
		for i, y := range ys {
			for j, xx := range xs {
				for c := range x.c {
					tl, tr := x.at(n, y.lo, xx.lo, c), x.at(n, y.lo, xx.hi, c)
					bl, br := x.at(n, y.hi, xx.lo, c), x.at(n, y.hi, xx.hi, c)
					top := tl + (tr-tl)*xx.lerp
					bot := bl + (br-bl)*xx.lerp
					out.v[((n*oh+i)*ow+j)*x.c+c] = top + (bot-top)*y.lerp
				}
			}
		}
	}
	return out
}

// refResizeNearest is TensorFlow's ResizeNearestNeighbor, in float32.
func refResizeNearest(x nhwc, oh, ow int, align, half bool) nhwc {
	index := func(i, in, out int) int {
		s := resizeScale(in, out, align)
		c := float32(i) * s
		if half {
			c = (float32(i) + 0.5) * s
		}
		var k int
		if align {
			k = int(math.Round(float64(c)))
		} else {
			k = int(math.Floor(float64(c)))
		}
		k = min(k, in-1)
		if half {
			k = max(k, 0)
		}
		return k
	}
	out := nhwc{x.n, oh, ow, x.c, make([]float32, x.n*oh*ow*x.c)}
	for n := range x.n {
		for i := range oh {
			for j := range ow {
				for c := range x.c {
					out.v[((n*oh+i)*ow+j)*x.c+c] = x.at(n, index(i, x.h, oh), index(j, x.w, ow), c)
				}
			}
		}
	}
	return out
}

func TestResize(t *testing.T) {
	x := nhwc{2, 5, 4, 3, randFloats(51, 2*5*4*3)}
	for _, op := range []string{"ResizeBilinear", "ResizeNearestNeighbor"} {
		for _, mode := range []struct {
			name        string
			align, half bool
		}{{"asymmetric", false, false}, {"align_corners", true, false}, {"half_pixel_centers", false, true}} {
			for _, size := range [][2]int{{10, 8}, {7, 3}, {3, 9}, {1, 1}, {5, 4}} {
				oh, ow := size[0], size[1]
				var want nhwc
				if op == "ResizeBilinear" {
					want = refResizeBilinear(x, oh, ow, mode.align, mode.half)
				} else {
					want = refResizeNearest(x, oh, ow, mode.align, mode.half)
				}
				c := opCase{
					nodes: []*NodeDef{placeholder("x", 2, 5, 4, 3), constI("size", []int64{2}, int64(oh), int64(ow)),
						nd("y", op, []string{"x", "size"}, map[string]*AttrValue{"align_corners": aB(mode.align), "half_pixel_centers": aB(mode.half)}),
						// Relu keeps the output a node when the resize is the identity.
						nd("z", "Relu", []string{"y"}, nil)},
					x:    ir.FloatTensor(ir.Shape{2, 5, 4, 3}, x.v),
					want: ir.FloatTensor(ir.Shape{2, oh, ow, 3}, mapFloats(want.v, relu)),
				}
				t.Run(op+" "+mode.name+" "+ir.Shape{oh, ow}.String(), func(t *testing.T) { runOpCase(t, c) })
			}
		}
	}
}

func TestResizeErrors(t *testing.T) {
	nodes := []*NodeDef{placeholder("x", 1, 2, 2, 1), constI("size", []int64{2}, 4, 4),
		nd("y", "ResizeBilinear", []string{"x", "size"}, map[string]*AttrValue{"align_corners": aB(true), "half_pixel_centers": aB(true)})}
	_, err := importBinary(t, nodes, Options{})
	if err == nil || !strings.Contains(err.Error(), `node "y" (ResizeBilinear)`) || !strings.Contains(err.Error(), "align_corners") {
		t.Errorf("error %v, want one naming node y, ResizeBilinear and align_corners", err)
	}
}

func TestDepthSpace(t *testing.T) {
	const bs = 2
	x := nhwc{1, 2, 3, 8, randFloats(52, 48)}
	// DepthToSpace: out[h·bs + i, w·bs + j, c] = in[h, w, (i·bs + j)·C' + c].
	d2s := nhwc{1, 4, 6, 2, make([]float32, 48)}
	for h := range 2 {
		for w := range 3 {
			for i := range bs {
				for j := range bs {
					for c := range 2 {
						d2s.v[((h*bs+i)*6+w*bs+j)*2+c] = x.at(0, h, w, (i*bs+j)*2+c)
					}
				}
			}
		}
	}
	attrs := map[string]*AttrValue{"block_size": aI(bs), "data_format": aS("NHWC")}
	runOpCase(t, opCase{
		nodes: []*NodeDef{placeholder("x", 1, 2, 3, 8), nd("y", "DepthToSpace", []string{"x"}, attrs)},
		x:     ir.FloatTensor(ir.Shape{1, 2, 3, 8}, x.v), want: ir.FloatTensor(ir.Shape{1, 4, 6, 2}, d2s.v),
	})
	runOpCase(t, opCase{
		nodes: []*NodeDef{placeholder("x", 1, 4, 6, 2), nd("y", "SpaceToDepth", []string{"x"}, attrs)},
		x:     ir.FloatTensor(ir.Shape{1, 4, 6, 2}, d2s.v), want: ir.FloatTensor(ir.Shape{1, 2, 3, 8}, x.v),
	})
}

// refConvBackpropInput is the gradient of TensorFlow's Conv2D with
// respect to its input: every out_backprop element, times the filter,
// scattered back onto the input positions its window read.
func refConvBackpropInput(dy nhwc, f []float32, kh, kw, ci, co, sh, sw, pt, pl, h, w int) nhwc {
	out := nhwc{dy.n, h, w, ci, make([]float32, dy.n*h*w*ci)}
	for n := range dy.n {
		for i := range dy.h {
			for j := range dy.w {
				for o := range co {
					g := dy.at(n, i, j, o)
					for a := range kh {
						for b := range kw {
							y, x := i*sh-pt+a, j*sw-pl+b
							if y < 0 || y >= h || x < 0 || x >= w {
								continue
							}
							for c := range ci {
								out.v[((n*h+y)*w+x)*ci+c] += g * f[((a*kw+b)*ci+c)*co+o]
							}
						}
					}
				}
			}
		}
	}
	return out
}

func TestConv2DBackpropInput(t *testing.T) {
	for _, tc := range []struct {
		name           string
		padding        string
		h, w, kh, kw   int
		sh, sw         int
		ci, co         int
		oh, ow, pt, pl int // out_backprop size; the forward conv's pads
	}{
		// SAME stride 2 on 7×6: out 4×3, pads total 2 (1 before) and 1 (0 before).
		{"SAME stride 2 odd", "SAME", 7, 6, 3, 3, 2, 2, 2, 3, 4, 3, 1, 0},
		{"SAME stride 2 even", "SAME", 8, 8, 4, 4, 2, 2, 3, 2, 4, 4, 1, 1},
		{"VALID stride 2", "VALID", 7, 9, 3, 3, 2, 2, 2, 2, 3, 4, 0, 0},
		{"VALID stride 3 uneven", "VALID", 8, 5, 2, 3, 3, 1, 1, 2, 3, 3, 0, 0},
		{"SAME stride 1", "SAME", 5, 5, 3, 3, 1, 1, 2, 4, 5, 5, 1, 1},
		// H 9: (9-2)/3+1 = 3 rows read 8 of the 9; the 9th is output padding.
		{"VALID output padding", "VALID", 9, 6, 2, 2, 3, 2, 2, 2, 3, 3, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dy := nhwc{2, tc.oh, tc.ow, tc.co, randFloats(53, 2*tc.oh*tc.ow*tc.co)}
			f := randFloats(54, tc.kh*tc.kw*tc.ci*tc.co)
			want := refConvBackpropInput(dy, f, tc.kh, tc.kw, tc.ci, tc.co, tc.sh, tc.sw, tc.pt, tc.pl, tc.h, tc.w)
			runOpCase(t, opCase{
				nodes: []*NodeDef{placeholder("dy", 2, int64(tc.oh), int64(tc.ow), int64(tc.co)),
					constI("sizes", []int64{4}, 2, int64(tc.h), int64(tc.w), int64(tc.ci)),
					constF("f", []int64{int64(tc.kh), int64(tc.kw), int64(tc.ci), int64(tc.co)}, f),
					nd("y", "Conv2DBackpropInput", []string{"sizes", "f", "dy"}, map[string]*AttrValue{
						"strides": aInts(1, int64(tc.sh), int64(tc.sw), 1), "padding": aS(tc.padding), "data_format": aS("NHWC")})},
				x:    ir.FloatTensor(ir.Shape{2, tc.oh, tc.ow, tc.co}, dy.v),
				want: ir.FloatTensor(ir.Shape{2, tc.h, tc.w, tc.ci}, want.v),
			})
		})
	}
}
