package onnx

import (
	"veil/ir"
)

// Lowerings of layers built from several ir ops by the graph builders of
// package ir: normalizations, transposed convolution, and data movement
// (DepthToSpace, SpaceToDepth, Tile, Split).

func lowerLayerNorm(imp *importer, n *node) error {
	if err := inputs(n, 2, 3); err != nil {
		return err
	}
	xs, err := imp.shape(n, n.in(0))
	if err != nil {
		return err
	}
	axis := n.int("axis", -1)
	if r := int64(len(xs)); axis < -r || axis >= r {
		return n.errorf("axis %d out of range for rank %d", axis, r)
	}
	// stash_type is the precision of the statistics; float is what the
	// interpreter computes in (and more).
	if st := n.int("stash_type", typeFloat); st != typeFloat {
		return n.errorf("attribute stash_type=%s is not supported (only FLOAT)", typeName(st))
	}
	eps := n.float("epsilon", 1e-5)
	var stats [2]string // Mean and InvStdDev, when the model names them
	for i := range stats {
		if 1+i < len(n.outputs) {
			stats[i] = n.outputs[1+i]
		}
	}
	return imp.g.AddLayerNormStats(n.name, n.in(0), n.in(1), n.in(2), n.out(), stats[0], stats[1], int(axis), eps)
}

func lowerInstanceNorm(imp *importer, n *node) error {
	if err := inputs(n, 3, 3); err != nil {
		return err
	}
	eps := n.float("epsilon", 1e-5)
	return imp.g.AddInstanceNorm(n.name, n.in(0), n.in(1), n.in(2), n.out(), ir.NCHW, eps)
}

// lowerConvTranspose imports a 1-D or 2-D ConvTranspose with constant
// weights through ir.AddConvTranspose. Pads come from the pads attribute,
// auto_pad, or output_shape as ONNX's reference computes them (with
// floor division, so an output_shape larger than the natural size widens
// the end).
func lowerConvTranspose(imp *importer, n *node) error {
	if err := inputs(n, 2, 3); err != nil {
		return err
	}
	xs, err := imp.shape(n, n.in(0))
	if err != nil {
		return err
	}
	ws, err := imp.shape(n, n.in(1))
	if err != nil {
		return err
	}
	oneD := spatial1D(xs) && len(ws) == 3
	if !oneD && (len(xs) != 4 || len(ws) != 4) {
		return n.errorf("only 1-D and 2-D transposed convolution are supported (input %v, weights %v)", xs, ws)
	}
	d := len(ws) - 2
	k := toInts64(ws[2:])
	if ks := n.ints("kernel_shape"); ks != nil && !equalInts(ks, k) {
		return n.errorf("kernel_shape %v disagrees with weights %v", ks, ws)
	}
	if dl := n.ints("dilations"); dl != nil {
		for _, v := range dl {
			if v != 1 {
				return n.errorf("attribute dilations=%v is not supported (only dilation 1)", dl)
			}
		}
	}
	group := n.int("group", 1)
	if group < 1 || group > maxElements {
		return n.errorf("group %d is not valid", group)
	}
	attr := func(name string, def, lo int64, count int) ([]int, error) {
		v := n.ints(name)
		if v == nil {
			out := make([]int, count)
			for i := range out {
				out[i] = int(def)
			}
			return out, nil
		}
		if len(v) != count {
			return nil, n.errorf("%s %v: want %d values for a %d-D window", name, v, count, d)
		}
		for _, x := range v {
			if x < lo || x > maxElements {
				return nil, n.errorf("%s %v are not supported", name, v)
			}
		}
		return toInts(v), nil
	}
	strides, err := attr("strides", 1, 1, d)
	if err != nil {
		return err
	}
	opad, err := attr("output_padding", 0, 0, d)
	if err != nil {
		return err
	}
	autoPad := n.str("auto_pad", "NOTSET")
	outShape := n.ints("output_shape")
	if len(outShape) == d+2 {
		outShape = outShape[2:]
	}
	if outShape != nil && len(outShape) != d {
		return n.errorf("output_shape %v: want %d values", n.ints("output_shape"), d)
	}
	if imp.opset < 11 && (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
		return n.errorf("attribute auto_pad=%s before opset 11 is not supported", autoPad)
	}
	var pads []int
	switch {
	case outShape != nil || autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER":
		if autoPad != "NOTSET" && autoPad != "SAME_UPPER" && autoPad != "SAME_LOWER" {
			return n.errorf("auto_pad %q with output_shape is not supported", autoPad)
		}
		pads = make([]int, 2*d)
		for i := 0; i < d; i++ {
			in := int64(xs[2+i])
			out := in * int64(strides[i])
			if outShape != nil {
				out = outShape[i]
			}
			if out < 1 || out > maxElements {
				return n.errorf("output_shape %v is not valid", outShape)
			}
			total := int64(strides[i])*(in-1) + int64(opad[i]) + k[i] - out
			half := floorDiv(total, 2)
			// ConvTranspose-11 put the larger half at the end only for
			// SAME_UPPER; ConvTranspose-1 did so except for SAME_UPPER.
			if (autoPad == "SAME_UPPER") == (imp.opset >= 11) {
				pads[i], pads[i+d] = int(half), int(total-half)
			} else {
				pads[i], pads[i+d] = int(total-half), int(half)
			}
		}
		n.ignore("pads") // output_shape decides
	case autoPad == "NOTSET" || autoPad == "":
		if pads, err = attr("pads", 0, 0, 2*d); err != nil {
			return err
		}
	case autoPad == "VALID":
		pads = make([]int, 2*d)
	default:
		return n.errorf("auto_pad %q is not supported", autoPad)
	}
	spec := ir.ConvTransposeSpec{Strides: strides, Pads: pads, OutputPadding: opad, Group: int(group), Layout: ir.NCHW}
	x, w, out, name := n.in(0), n.in(1), n.out(), n.name
	if oneD {
		spec.Strides, spec.Pads = lift2D(strides, pads)
		spec.OutputPadding = []int{0, opad[0]}
		if x, err = imp.unsqueezeH(n, x, xs); err != nil {
			return err
		}
		if w, err = imp.unsqueezeH(n, w, ws); err != nil {
			return err
		}
		out = imp.fresh(n, "convtranspose")
		name = out
	}
	if err := imp.g.AddConvTranspose(name, x, w, n.in(2), out, spec); err != nil {
		return err
	}
	if !oneD {
		return nil
	}
	return imp.squeezeH(n, out, n.out())
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func toInts64(xs []int) []int64 {
	out := make([]int64, len(xs))
	for i, x := range xs {
		out[i] = int64(x)
	}
	return out
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// blocksize reads the required blocksize attribute.
func blocksize(n *node) (int, error) {
	if !n.has("blocksize") {
		return 0, n.errorf("attribute blocksize is required")
	}
	b := n.int("blocksize", 0)
	if b < 1 || b > maxElements {
		return 0, n.errorf("blocksize %d is not valid", b)
	}
	return int(b), nil
}

func lowerDepthToSpace(imp *importer, n *node) error {
	if err := inputs(n, 1, 1); err != nil {
		return err
	}
	b, err := blocksize(n)
	if err != nil {
		return err
	}
	mode := "DCR"
	if imp.opset >= 11 {
		mode = n.str("mode", "DCR")
	}
	if mode != "DCR" && mode != "CRD" {
		return n.errorf("attribute mode=%q is not supported (only DCR and CRD)", mode)
	}
	return imp.g.AddDepthToSpace(n.name, n.in(0), n.out(), ir.NCHW, b, mode)
}

func lowerSpaceToDepth(imp *importer, n *node) error {
	if err := inputs(n, 1, 1); err != nil {
		return err
	}
	b, err := blocksize(n)
	if err != nil {
		return err
	}
	return imp.g.AddSpaceToDepth(n.name, n.in(0), n.out(), ir.NCHW, b, "DCR")
}

func lowerTile(imp *importer, n *node) error {
	if err := inputs(n, 2, 2); err != nil {
		return err
	}
	reps, err := imp.constInts(n, n.in(1), "repeats")
	if err != nil {
		return err
	}
	for _, r := range reps {
		if r < 0 || r > maxElements {
			return n.errorf("repeats %v are not valid", reps)
		}
	}
	return imp.g.AddTile(n.name, n.in(0), n.out(), toInts(reps))
}

// lowerSplit imports Split: sizes from the split attribute (before opset
// 13) or input (from 13), else equal parts, one per output; from opset 18
// num_outputs gives the count and the last part may be smaller.
func lowerSplit(imp *importer, n *node) error {
	xs, err := imp.shape(n, n.in(0))
	if err != nil {
		return err
	}
	axis := n.int("axis", 0)
	r := int64(len(xs))
	if axis < -r || axis >= r {
		return n.errorf("axis %d out of range for rank %d", axis, r)
	}
	if axis < 0 {
		axis += r
	}
	dim := int64(xs[axis])
	var split []int64
	if imp.opset < 13 {
		if err := inputs(n, 1, 1); err != nil {
			return err
		}
		split = n.ints("split")
	} else {
		if err := inputs(n, 1, 2); err != nil {
			return err
		}
		if s := n.in(1); s != "" {
			if split, err = imp.constInts(n, s, "split"); err != nil {
				return err
			}
		}
	}
	k := int64(len(n.outputs))
	if imp.opset >= 18 && n.has("num_outputs") {
		num := n.int("num_outputs", 0)
		if split != nil {
			return n.errorf("both split and num_outputs are given")
		}
		if num != k {
			return n.errorf("num_outputs %d, but the node has %d outputs", num, k)
		}
	} else if imp.opset >= 18 && split == nil {
		return n.errorf("either the split input or attribute num_outputs is required")
	}
	if split == nil {
		chunk := (dim + k - 1) / k
		if imp.opset < 18 {
			if dim%k != 0 {
				return n.errorf("axis %d of size %d does not split into %d equal parts", axis, dim, k)
			}
			chunk = dim / k
		}
		for i := int64(0); i < k; i++ {
			split = append(split, max(0, min(chunk, dim-i*chunk)))
		}
	}
	if int64(len(split)) != k {
		return n.errorf("split %v has %d sizes for %d outputs", split, len(split), k)
	}
	for _, v := range split {
		if v < 0 || v > maxElements {
			return n.errorf("split %v is not valid", split)
		}
	}
	return imp.g.AddSplit(n.name, n.in(0), n.outputs, int(axis), toInts(split))
}
