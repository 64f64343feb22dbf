package tf

import (
	"encoding/json"
	"strconv"
	"strings"

	"veil/ir"
)

// Convolution, pooling, padding, cropping and upsampling layers. Keras's
// kernels are [KH, KW, C_in/groups, C_out] ([K, C_in, C_out] in 1-D,
// [KH, KW, C, M] depthwise); they are transposed here to the IR's
// [O, I/group, KH, KW]. A 1-D layer runs as its 2-D form on [N, 1, T, C].

// hwioToOIHW transposes a [KH, KW, I, O] kernel to [O, I, KH, KW].
func hwioToOIHW(k *ir.Tensor) *ir.Tensor {
	kh, kw, ci, co := k.Shape[0], k.Shape[1], k.Shape[2], k.Shape[3]
	out := make([]float32, len(k.F))
	for h := 0; h < kh; h++ {
		for w := 0; w < kw; w++ {
			for i := 0; i < ci; i++ {
				for o := 0; o < co; o++ {
					out[((o*ci+i)*kh+h)*kw+w] = k.F[((h*kw+w)*ci+i)*co+o]
				}
			}
		}
	}
	return ir.FloatTensor(ir.Shape{co, ci, kh, kw}, out)
}

// depthwiseToOIHW turns a [KH, KW, C, M] depthwise kernel into
// [C·M, 1, KH, KW] (output channel c·M + m, as TensorFlow orders them).
func depthwiseToOIHW(k *ir.Tensor) *ir.Tensor {
	kh, kw, c, m := k.Shape[0], k.Shape[1], k.Shape[2], k.Shape[3]
	return hwioToOIHW(ir.FloatTensor(ir.Shape{kh, kw, 1, c * m}, k.F))
}

// windowPads returns the IR pads [top, left, bottom, right] of padding
// ("valid", "same", or "causal": all on the left) for a window k with
// strides s over the spatial sizes hw.
func windowPads(padding string, hw, k, s []int) []int {
	switch padding {
	case "same":
		t, bt := samePads(hw[0], k[0], s[0])
		lf, r := samePads(hw[1], k[1], s[1])
		return []int{t, lf, bt, r}
	case "causal":
		return []int{0, k[1] - 1, 0, 0}
	}
	return []int{0, 0, 0, 0}
}

// convNode adds a Conv of x by the constant kernel w ([O, I/group, KH,
// KW]) and bias b (nil: none).
func (l *klayer) convNode(x string, w, b *ir.Tensor, strides, pads []int, group int) (string, error) {
	wc, err := l.konst("kernel", w)
	if err != nil {
		return "", err
	}
	ins := []string{x, wc}
	if b != nil {
		bc, err := l.konst("bias", b)
		if err != nil {
			return "", err
		}
		ins = append(ins, bc)
	}
	return l.add(ir.OpConv, "conv", ir.Attrs{Strides: strides, Pads: pads, Group: group, Layout: ir.NHWC}, ins...)
}

// convAttrs reads the attributes every convolution shares: filters (when
// filters), kernel_size, strides and padding over dims axes, with
// data_format channels_last and dilation 1.
func (l *klayer) convAttrs(dims int, filters bool, paddings ...string) (f int, k, s []int, pad string, err error) {
	if err = l.channelsLast(); err != nil {
		return
	}
	if err = l.noDilation(dims); err != nil {
		return
	}
	if filters {
		if f, err = l.int("filters", 0); err != nil {
			return
		}
		if err = l.positive("filters", []int{f}); err != nil {
			return
		}
	}
	if k, err = l.ints("kernel_size", dims, nil); err != nil {
		return
	}
	if k == nil {
		err = l.errorf("attribute \"kernel_size\" is missing")
		return
	}
	if err = l.positive("kernel_size", k); err != nil {
		return
	}
	ones := []int{1, 1}[:dims]
	if s, err = l.ints("strides", dims, ones); err != nil {
		return
	}
	if err = l.positive("strides", s); err != nil {
		return
	}
	pad, err = l.want("padding", append([]string{"valid", "same"}, paddings...)...)
	return
}

// noGroups requires groups (which Keras writes for every convolution) to
// be 1, for the convolutions that have no groups of their own.
func (l *klayer) noGroups() error {
	g, err := l.int("groups", 1)
	if err == nil && g != 1 {
		err = l.errorf("attribute \"groups\" = %d is not supported (only 1)", g)
	}
	return err
}

// groups reads the groups attribute and checks it divides c and f.
func (l *klayer) groups(c, f int) (int, error) {
	g, err := l.int("groups", 1)
	if err != nil {
		return 0, err
	}
	if g < 1 || c%g != 0 || f%g != 0 {
		return 0, l.errorf("attribute \"groups\" = %d does not divide the %d input channels and %d filters", g, c, f)
	}
	return g, nil
}

func (l *klayer) conv2d(ins []string) (string, error) {
	x, err := l.one(ins)
	if err != nil {
		return "", err
	}
	xs, err := l.rank(x, 4)
	if err != nil {
		return "", err
	}
	f, k, s, pad, err := l.convAttrs(2, true)
	if err != nil {
		return "", err
	}
	g, err := l.groups(xs[3], f)
	if err != nil {
		return "", err
	}
	kt, err := l.weight("kernel", ir.Shape{k[0], k[1], xs[3] / g, f})
	if err != nil {
		return "", err
	}
	b, err := l.bias(f)
	if err != nil {
		return "", err
	}
	y, err := l.convNode(x, hwioToOIHW(kt), b, s, windowPads(pad, xs[1:3], k, s), g)
	if err != nil {
		return "", err
	}
	return l.activation(y)
}

// conv1d runs on [N, 1, T, C]; padding "causal" pads K−1 on the left.
func (l *klayer) conv1d(ins []string) (string, error) {
	x, err := l.one(ins)
	if err != nil {
		return "", err
	}
	xs, err := l.rank(x, 3)
	if err != nil {
		return "", err
	}
	f, k, s, pad, err := l.convAttrs(1, true, "causal")
	if err != nil {
		return "", err
	}
	g, err := l.groups(xs[2], f)
	if err != nil {
		return "", err
	}
	kt, err := l.weight("kernel", ir.Shape{k[0], xs[2] / g, f})
	if err != nil {
		return "", err
	}
	b, err := l.bias(f)
	if err != nil {
		return "", err
	}
	x4, err := l.reshape(x, ir.Shape{xs[0], 1, xs[1], xs[2]})
	if err != nil {
		return "", err
	}
	k2, s2 := []int{1, k[0]}, []int{1, s[0]}
	w := hwioToOIHW(ir.FloatTensor(ir.Shape{1, k[0], xs[2] / g, f}, kt.F))
	y, err := l.convNode(x4, w, b, s2, windowPads(pad, []int{1, xs[1]}, k2, s2), g)
	if err != nil {
		return "", err
	}
	ys := l.shape(y)
	if y, err = l.reshape(y, ir.Shape{ys[0], ys[2], ys[3]}); err != nil {
		return "", err
	}
	return l.activation(y)
}

// depthwise adds the depthwise convolution of DepthwiseConv2D and
// SeparableConv2D (bias b, nil for none) and returns it with its channels.
func (l *klayer) depthwise(x string, xs ir.Shape, k, s []int, pad string, withBias bool) (string, int, error) {
	m, err := l.int("depth_multiplier", 1)
	if err != nil {
		return "", 0, err
	}
	if err := l.positive("depth_multiplier", []int{m}); err != nil {
		return "", 0, err
	}
	c := xs[3]
	kt, err := l.weight("depthwise_kernel", ir.Shape{k[0], k[1], c, m})
	if err != nil {
		return "", 0, err
	}
	var b *ir.Tensor
	if withBias {
		if b, err = l.bias(c * m); err != nil {
			return "", 0, err
		}
	}
	y, err := l.convNode(x, depthwiseToOIHW(kt), b, s, windowPads(pad, xs[1:3], k, s), c)
	return y, c * m, err
}

func (l *klayer) depthwiseConv2d(ins []string) (string, error) {
	x, err := l.one(ins)
	if err != nil {
		return "", err
	}
	xs, err := l.rank(x, 4)
	if err != nil {
		return "", err
	}
	_, k, s, pad, err := l.convAttrs(2, false)
	if err != nil {
		return "", err
	}
	if err := l.noGroups(); err != nil {
		return "", err
	}
	y, _, err := l.depthwise(x, xs, k, s, pad, true)
	if err != nil {
		return "", err
	}
	return l.activation(y)
}

// separableConv2d: a depthwise convolution (strides, padding) then a 1×1
// pointwise one with the bias.
func (l *klayer) separableConv2d(ins []string) (string, error) {
	x, err := l.one(ins)
	if err != nil {
		return "", err
	}
	xs, err := l.rank(x, 4)
	if err != nil {
		return "", err
	}
	f, k, s, pad, err := l.convAttrs(2, true)
	if err != nil {
		return "", err
	}
	if err := l.noGroups(); err != nil {
		return "", err
	}
	y, cm, err := l.depthwise(x, xs, k, s, pad, false)
	if err != nil {
		return "", err
	}
	pk, err := l.weight("pointwise_kernel", ir.Shape{1, 1, cm, f})
	if err != nil {
		return "", err
	}
	b, err := l.bias(f)
	if err != nil {
		return "", err
	}
	if y, err = l.convNode(y, hwioToOIHW(pk), b, []int{1, 1}, []int{0, 0, 0, 0}, 1); err != nil {
		return "", err
	}
	return l.activation(y)
}

// conv2dTranspose lowers through ir.AddConvTranspose. The output size is
// Keras's deconv_output_length; the pads are those of the forward
// convolution from that size, as TensorFlow's conv2d_transpose computes
// them, and output padding makes up the rest.
func (l *klayer) conv2dTranspose(ins []string) (string, error) {
	x, err := l.one(ins)
	if err != nil {
		return "", err
	}
	xs, err := l.rank(x, 4)
	if err != nil {
		return "", err
	}
	f, k, s, pad, err := l.convAttrs(2, true)
	if err != nil {
		return "", err
	}
	if err := l.noGroups(); err != nil {
		return "", err
	}
	op, err := l.ints("output_padding", 2, nil)
	if err != nil {
		return "", err
	}
	kt, err := l.weight("kernel", ir.Shape{k[0], k[1], f, xs[3]})
	if err != nil {
		return "", err
	}
	b, err := l.bias(f)
	if err != nil {
		return "", err
	}
	spec := ir.ConvTransposeSpec{Strides: s, Pads: make([]int, 4), OutputPadding: make([]int, 2), Layout: ir.NHWC, WeightsHWOI: true}
	for i := 0; i < 2; i++ {
		in := xs[1+i]
		var out int
		switch {
		case op != nil:
			if op[i] < 0 || op[i] >= s[i] {
				return "", l.errorf("attribute \"output_padding\" = %v: want values below the strides %v", op, s)
			}
			p := 0
			if pad == "same" {
				p = k[i] / 2
			}
			out = (in-1)*s[i] + k[i] - 2*p + op[i]
		case pad == "same":
			out = in * s[i]
		default:
			out = in*s[i] + max(k[i]-s[i], 0)
		}
		if out < 1 {
			return "", l.errorf("the output would have size %d along axis %d", out, 1+i)
		}
		p0, p1 := 0, 0
		if pad == "same" {
			p0, p1 = samePads(out, k[i], s[i])
		}
		spec.Pads[i], spec.Pads[2+i] = p0, p1
		spec.OutputPadding[i] = out - (s[i]*(in-1) + k[i] - p0 - p1)
	}
	w, err := l.konst("kernel", kt)
	if err != nil {
		return "", err
	}
	bias := ""
	if b != nil {
		if bias, err = l.konst("bias", b); err != nil {
			return "", err
		}
	}
	y := l.b.g.UniqueName(l.base + "/conv_transpose")
	if err := l.b.g.AddConvTranspose(y, x, w, bias, y, spec); err != nil {
		return "", err
	}
	return l.activation(y)
}

// pool lowers MaxPooling and AveragePooling in 1-D (on [N, 1, T, C]) and
// 2-D. Average pooling divides by the window's elements inside the input,
// as TensorFlow does.
func (l *klayer) pool(ins []string, op ir.Op, dims int) (string, error) {
	x, err := l.one(ins)
	if err != nil {
		return "", err
	}
	xs, err := l.rank(x, dims+2)
	if err != nil {
		return "", err
	}
	if err := l.channelsLast(); err != nil {
		return "", err
	}
	k, err := l.ints("pool_size", dims, []int{2, 2}[:dims])
	if err != nil {
		return "", err
	}
	if err := l.positive("pool_size", k); err != nil {
		return "", err
	}
	s, err := l.ints("strides", dims, k)
	if err != nil {
		return "", err
	}
	if err := l.positive("strides", s); err != nil {
		return "", err
	}
	pad, err := l.want("padding", "valid", "same")
	if err != nil {
		return "", err
	}
	if dims == 1 {
		if x, err = l.reshape(x, ir.Shape{xs[0], 1, xs[1], xs[2]}); err != nil {
			return "", err
		}
		k, s = []int{1, k[0]}, []int{1, s[0]}
	}
	hw := l.shape(x)[1:3]
	y, err := l.add(op, "pool", ir.Attrs{Kernel: k, Strides: s, Pads: windowPads(pad, hw, k, s), Layout: ir.NHWC}, x)
	if err != nil || dims == 2 {
		return y, err
	}
	ys := l.shape(y)
	return l.reshape(y, ir.Shape{ys[0], ys[2], ys[3]})
}

// globalPool reduces the spatial axes (1-D: the time axis).
func (l *klayer) globalPool(ins []string, op ir.Op, dims int) (string, error) {
	x, err := l.one(ins)
	if err != nil {
		return "", err
	}
	if _, err := l.rank(x, dims+2); err != nil {
		return "", err
	}
	if err := l.channelsLast(); err != nil {
		return "", err
	}
	keep, err := l.bool("keepdims", false)
	if err != nil {
		return "", err
	}
	axes := []int{1, 2}[:dims]
	return l.add(op, "reduce", ir.Attrs{Axes: axes, KeepDims: keep}, x)
}

// pairs reads ZeroPadding's padding or Cropping's cropping for dims axes:
// an integer (every side), one integer per axis (both sides), or a
// [before, after] pair per axis (in 1-D, one pair).
func (l *klayer) pairs(key string, dims int) ([][2]int, error) {
	r := l.raw(key)
	out := make([][2]int, dims)
	if r == nil {
		def := 1
		if key == "cropping" {
			def = 0
		}
		for i := range out {
			out[i] = [2]int{def, def}
		}
		return out, nil
	}
	bad := l.errorf("attribute %q = %s: want an integer, %d integers or %d pairs", key, r, dims, dims)
	var nested [][]int
	if json.Unmarshal(r, &nested) == nil && dims > 1 {
		if len(nested) != dims {
			return nil, bad
		}
		for i, p := range nested {
			if len(p) != 2 {
				return nil, bad
			}
			out[i] = [2]int{p[0], p[1]}
		}
	} else {
		vs, err := intList(r)
		switch {
		case err != nil:
			return nil, bad
		case len(vs) == 1 && !strings.HasPrefix(strings.TrimSpace(string(r)), "["):
			for i := range out {
				out[i] = [2]int{vs[0], vs[0]}
			}
		case dims == 1 && len(vs) == 2:
			out[0] = [2]int{vs[0], vs[1]}
		case dims > 1 && len(vs) == dims:
			for i := range out {
				out[i] = [2]int{vs[i], vs[i]}
			}
		default:
			return nil, bad
		}
	}
	for _, p := range out {
		if p[0] < 0 || p[1] < 0 {
			return nil, bad
		}
	}
	return out, nil
}

// padCrop lowers ZeroPadding (a Pad) and Cropping (Slices) over the dims
// axes after the batch.
func (l *klayer) padCrop(ins []string, dims int, crop bool) (string, error) {
	x, err := l.one(ins)
	if err != nil {
		return "", err
	}
	xs, err := l.rank(x, dims+2)
	if err != nil {
		return "", err
	}
	if err := l.channelsLast(); err != nil {
		return "", err
	}
	key := "padding"
	if crop {
		key = "cropping"
	}
	p, err := l.pairs(key, dims)
	if err != nil {
		return "", err
	}
	if !crop {
		pads := make([]int, 2*len(xs))
		for i, q := range p {
			pads[1+i], pads[len(xs)+1+i] = q[0], q[1]
		}
		return l.add(ir.OpPad, "pad", ir.Attrs{Pads: pads}, x)
	}
	for i, q := range p {
		n := xs[1+i]
		if q[0]+q[1] >= n {
			return "", l.errorf("attribute \"cropping\" removes %d of the %d elements along axis %d", q[0]+q[1], n, 1+i)
		}
		if x, err = l.slice(x, 1+i, q[0], n-q[1]); err != nil {
			return "", err
		}
	}
	return x, nil
}

// upSampling2d resizes by integer factors through ir.AddResize. Nearest
// neighbour is the same under every coordinate convention for integer
// factors; bilinear follows the writer: TF.js (and Keras before 2.3) use
// tf.image.resize_bilinear without half-pixel centers, tf.keras since 2.3
// resize_images_v2 with them.
func (l *klayer) upSampling2d(ins []string) (string, error) {
	x, err := l.one(ins)
	if err != nil {
		return "", err
	}
	xs, err := l.rank(x, 4)
	if err != nil {
		return "", err
	}
	if err := l.channelsLast(); err != nil {
		return "", err
	}
	size, err := l.ints("size", 2, []int{2, 2})
	if err != nil {
		return "", err
	}
	if err := l.positive("size", size); err != nil {
		return "", err
	}
	mode, err := l.want("interpolation", "nearest", "bilinear")
	if err != nil {
		return "", err
	}
	spec := ir.ResizeSpec{Mode: "nearest", Coord: "asymmetric", Nearest: "floor", OutH: xs[1] * size[0], OutW: xs[2] * size[1]}
	if mode == "bilinear" {
		spec.Mode, spec.Nearest = "linear", ""
		if !l.b.tfjs && !oldKeras(l.b.version) {
			spec.Coord = "half_pixel"
		}
	}
	y := l.b.g.UniqueName(l.base + "/resize")
	return y, l.b.g.AddResize(y, x, y, ir.NHWC, spec)
}

// oldKeras reports whether a Keras version is before 2.3.
func oldKeras(v string) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	return err1 == nil && err2 == nil && (major < 2 || major == 2 && minor < 3)
}

// upSampling1d repeats each step size times: [N, T, C] → [N, T, s, C]
// (a Tile) → [N, T·s, C].
func (l *klayer) upSampling1d(ins []string) (string, error) {
	x, err := l.one(ins)
	if err != nil {
		return "", err
	}
	xs, err := l.rank(x, 3)
	if err != nil {
		return "", err
	}
	n, err := l.int("size", 2)
	if err != nil {
		return "", err
	}
	if err := l.positive("size", []int{n}); err != nil {
		return "", err
	}
	y, err := l.reshape(x, ir.Shape{xs[0], xs[1], 1, xs[2]})
	if err != nil {
		return "", err
	}
	t := l.b.g.UniqueName(l.base + "/tile")
	if err := l.b.g.AddTile(t, y, t, []int{1, 1, n, 1}); err != nil {
		return "", err
	}
	return l.reshape(t, ir.Shape{xs[0], xs[1] * n, xs[2]})
}
