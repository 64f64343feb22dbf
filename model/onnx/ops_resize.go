package onnx

import (
	"math"

	"veil/ir"
)

// Resize and Upsample, lowered by ir.AddResize to MatMuls by constant
// interpolation matrices. Only the last two axes may change size; any
// rank is brought to 4-D by a Reshape ([∏ leading, 1, H, W]) and back.

// resizeAxes holds the per-axis request: the output size and, when the
// model gives scales, the scale (else 0).
type resizeAxes struct {
	out   []int
	scale []float64
}

// fromScales computes output sizes ⌊in·scale⌋ as ONNX's reference does
// (float32 scales, products in float64).
func fromScales(n *node, xs ir.Shape, scales []float32) (resizeAxes, error) {
	if len(scales) != len(xs) {
		return resizeAxes{}, n.errorf("scales %v for an input of rank %d", scales, len(xs))
	}
	ra := resizeAxes{out: make([]int, len(xs)), scale: make([]float64, len(xs))}
	for i, s := range scales {
		f := float64(s)
		o := math.Floor(float64(xs[i]) * f)
		if !(f > 0) || o < 1 || o > maxElements {
			return resizeAxes{}, n.errorf("scales %v are not valid for input %v", scales, xs)
		}
		ra.out[i], ra.scale[i] = int(o), f
	}
	return ra, nil
}

// addResize checks that only the last two axes change and adds the
// resize of x to out.
func (imp *importer) addResize(n *node, x string, xs ir.Shape, ra resizeAxes, spec ir.ResizeSpec) error {
	r := len(xs)
	if r < 1 {
		return n.errorf("cannot resize a scalar")
	}
	for i := 0; i < r-2; i++ {
		if ra.out[i] != xs[i] || ra.scale[i] != 0 && ra.scale[i] != 1 {
			return n.errorf("resizing axis %d of %v is not supported (only the last two axes)", i, xs)
		}
	}
	// The 4-D view [∏ leading, 1, H, W], with H = 1 for a 1-D input.
	h, oh, sh := 1, 1, 0.0
	if r >= 2 {
		h, oh, sh = xs[r-2], ra.out[r-2], ra.scale[r-2]
	}
	w, ow, sw := xs[r-1], ra.out[r-1], ra.scale[r-1]
	spec.OutH, spec.OutW, spec.ScaleH, spec.ScaleW = oh, ow, sh, sw
	if r == 4 {
		return imp.g.AddResize(n.name, x, n.out(), ir.NCHW, spec)
	}
	lead := 1
	if r >= 2 {
		lead = xs[:r-2].Size()
	}
	v, err := imp.reshape(n, x, "", ir.Shape{lead, 1, h, w})
	if err != nil {
		return err
	}
	y := imp.fresh(n, "resize")
	if err := imp.g.AddResize(y, v, y, ir.NCHW, spec); err != nil {
		return err
	}
	outShape := append(xs[:r-1:r-1].Clone(), ow)
	if r >= 2 {
		outShape[r-2] = oh
	}
	_, err = imp.reshape(n, y, n.out(), outShape)
	return err
}

// legacyNearest is the rounding of nearest mode before Resize-11 (Upsample
// and Resize-10), as onnxruntime implements it: the input index is the
// coordinate truncated, or rounded up where the axis shrinks.
func legacyNearest(n *node, ra resizeAxes, xs ir.Shape) (string, error) {
	up, down := false, false
	for i, s := range ra.scale {
		if ra.out[i] == xs[i] && s == 1 {
			continue
		}
		up = up || s > 1
		down = down || s < 1
	}
	switch {
	case up && down:
		return "", n.errorf("nearest mode that enlarges one axis and shrinks another is not supported before opset 11")
	case down:
		return "ceil", nil
	}
	return "floor", nil
}

// lowerResize imports Resize from opset 10 on.
func lowerResize(imp *importer, n *node) error {
	xs, err := imp.shape(n, n.in(0))
	if err != nil {
		return err
	}
	mode := n.str("mode", "nearest")
	if imp.opset < 11 {
		if err := inputs(n, 2, 2); err != nil {
			return err
		}
		scales, err := imp.constFloats(n, n.in(1), "scales")
		if err != nil {
			return err
		}
		ra, err := fromScales(n, xs, scales)
		if err != nil {
			return err
		}
		spec := ir.ResizeSpec{Mode: mode, Coord: "asymmetric"}
		if mode == "nearest" {
			if spec.Nearest, err = legacyNearest(n, ra, xs); err != nil {
				return err
			}
		}
		return imp.addResize(n, n.in(0), xs, ra, spec)
	}
	if err := inputs(n, 1, 4); err != nil {
		return err
	}
	coord := n.str("coordinate_transformation_mode", "half_pixel")
	nearest := n.str("nearest_mode", "round_prefer_floor")
	switch {
	case coord == "tf_crop_and_resize":
		return n.errorf("attribute coordinate_transformation_mode=%q is not supported", coord)
	case coord == "half_pixel_symmetric" && imp.opset < 19:
		return n.errorf("attribute coordinate_transformation_mode=%q is defined from opset 19 on", coord)
	}
	if mode != "nearest" && mode != "linear" {
		return n.errorf("attribute mode=%q is not supported (only nearest and linear)", mode)
	}
	// roi and extrapolation_value act only in tf_crop_and_resize;
	// cubic_coeff_a only in cubic mode; exclude_outside moves weight from
	// outside the input to inside, which with the edge clamping of linear
	// and nearest interpolation changes nothing.
	n.ignore("cubic_coeff_a", "extrapolation_value", "exclude_outside")
	var scales []float32
	var sizes []int64
	if s := n.in(2); s != "" {
		if scales, err = imp.constFloats(n, s, "scales"); err != nil {
			return err
		}
	}
	if s := n.in(3); s != "" {
		if sizes, err = imp.constInts(n, s, "sizes"); err != nil {
			return err
		}
	}
	if len(scales) > 0 && len(sizes) > 0 {
		return n.errorf("both scales and sizes are given")
	}
	if len(scales) == 0 && len(sizes) == 0 {
		return n.errorf("one of scales and sizes is required")
	}
	// From opset 18, scales and sizes may cover only the axes listed.
	axes := make([]int, len(xs))
	for i := range axes {
		axes[i] = i
	}
	antialias := false
	policy := "stretch"
	if imp.opset >= 18 {
		if a := n.ints("axes"); a != nil {
			if axes, err = axesOf(n, a, len(xs)); err != nil {
				return err
			}
		}
		antialias = n.int("antialias", 0) != 0
		policy = n.str("keep_aspect_ratio_policy", "stretch")
	}
	full := func(part []float32, one float32) []float32 {
		f := make([]float32, len(xs))
		for i := range f {
			f[i] = one
		}
		for i, ax := range axes {
			if i < len(part) {
				f[ax] = part[i]
			}
		}
		return f
	}
	var ra resizeAxes
	if len(scales) > 0 {
		if len(scales) != len(axes) {
			return n.errorf("scales %v for %d axes", scales, len(axes))
		}
		if ra, err = fromScales(n, xs, full(scales, 1)); err != nil {
			return err
		}
	} else {
		if len(sizes) != len(axes) {
			return n.errorf("sizes %v for %d axes", sizes, len(axes))
		}
		if policy != "stretch" {
			return n.errorf("attribute keep_aspect_ratio_policy=%q is not supported (only stretch)", policy)
		}
		ra = resizeAxes{out: append([]int(nil), xs...), scale: make([]float64, len(xs))}
		for i, ax := range axes {
			if sizes[i] < 1 || sizes[i] > maxElements {
				return n.errorf("sizes %v are not valid", sizes)
			}
			ra.out[ax] = int(sizes[i])
		}
	}
	if antialias && mode == "linear" {
		for i := range xs {
			if ra.out[i] < xs[i] {
				return n.errorf("attribute antialias=1 when downscaling is not supported")
			}
		}
	}
	return imp.addResize(n, n.in(0), xs, ra, ir.ResizeSpec{Mode: mode, Coord: coord, Nearest: nearest})
}

// lowerUpsample imports Upsample (opset 7 to 9; accepted later as
// Upsample-9): asymmetric coordinates, nearest rounding down.
func lowerUpsample(imp *importer, n *node) error {
	xs, err := imp.shape(n, n.in(0))
	if err != nil {
		return err
	}
	var scales []float32
	if imp.opset < 9 {
		if err := inputs(n, 1, 1); err != nil {
			return err
		}
		if scales = n.floats("scales"); scales == nil {
			return n.errorf("attribute scales is required")
		}
	} else {
		if err := inputs(n, 2, 2); err != nil {
			return err
		}
		if scales, err = imp.constFloats(n, n.in(1), "scales"); err != nil {
			return err
		}
	}
	mode := n.str("mode", "nearest")
	if mode != "nearest" && mode != "linear" {
		return n.errorf("attribute mode=%q is not supported (only nearest and linear)", mode)
	}
	ra, err := fromScales(n, xs, scales)
	if err != nil {
		return err
	}
	spec := ir.ResizeSpec{Mode: mode, Coord: "asymmetric"}
	if mode == "nearest" {
		if spec.Nearest, err = legacyNearest(n, ra, xs); err != nil {
			return err
		}
	}
	return imp.addResize(n, n.in(0), xs, ra, spec)
}
