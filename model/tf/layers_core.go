package tf

import (
	"encoding/json"
	"math"

	"veil/ir"
)

// layerConverters maps each supported Keras layer class to its lowering,
// which returns the value computing the layer's output.
var layerConverters map[string]func(l *klayer, ins []string) (string, error)

func init() {
	identity := func(l *klayer, ins []string) (string, error) { return l.one(ins) }
	layerConverters = map[string]func(*klayer, []string) (string, error){
		// Core layers (this file).
		"Dense":        (*klayer).dense,
		"Activation":   (*klayer).activationLayer,
		"Flatten":      (*klayer).flatten,
		"Reshape":      (*klayer).reshapeLayer,
		"Permute":      (*klayer).permute,
		"RepeatVector": (*klayer).repeatVector,
		"Embedding": func(l *klayer, ins []string) (string, error) {
			return "", l.errorf("Embedding looks rows up by integer token ids; veil's graph inputs are float values, and a lookup at a secret index is not supported")
		},
		// Identity at inference.
		"Dropout":          identity,
		"SpatialDropout1D": identity,
		"SpatialDropout2D": identity,
		"SpatialDropout3D": identity,
		"GaussianNoise":    identity,
		"GaussianDropout":  identity,
		"AlphaDropout":     identity,
		"ActivityRegularization": func(l *klayer, ins []string) (string, error) {
			l.raw("l1")
			l.raw("l2")
			return l.one(ins)
		},

		// Activation layers (this file).
		"ReLU":      (*klayer).relu,
		"LeakyReLU": (*klayer).leakyRelu,
		"PReLU":     (*klayer).prelu,
		"ELU":       (*klayer).elu,
		"Softmax":   (*klayer).softmaxLayer,

		// Normalization and preprocessing (this file).
		"BatchNormalization": (*klayer).batchNorm,
		"LayerNormalization": (*klayer).layerNorm,
		"Rescaling":          (*klayer).rescaling,
		"Normalization":      (*klayer).normalization,

		// Merging layers (this file).
		"Add":         func(l *klayer, ins []string) (string, error) { return l.merge(ins, ir.OpAdd) },
		"Subtract":    func(l *klayer, ins []string) (string, error) { return l.merge(ins, ir.OpSub) },
		"Multiply":    func(l *klayer, ins []string) (string, error) { return l.merge(ins, ir.OpMul) },
		"Maximum":     func(l *klayer, ins []string) (string, error) { return l.merge(ins, ir.OpMax) },
		"Minimum":     func(l *klayer, ins []string) (string, error) { return l.merge(ins, ir.OpMin) },
		"Average":     (*klayer).average,
		"Concatenate": (*klayer).concatenate,

		// Convolution, pooling and resampling (layers_conv.go).
		"Conv1D":                 (*klayer).conv1d,
		"Conv2D":                 (*klayer).conv2d,
		"DepthwiseConv2D":        (*klayer).depthwiseConv2d,
		"SeparableConv2D":        (*klayer).separableConv2d,
		"Conv2DTranspose":        (*klayer).conv2dTranspose,
		"MaxPooling1D":           func(l *klayer, ins []string) (string, error) { return l.pool(ins, ir.OpMaxPool, 1) },
		"MaxPooling2D":           func(l *klayer, ins []string) (string, error) { return l.pool(ins, ir.OpMaxPool, 2) },
		"AveragePooling1D":       func(l *klayer, ins []string) (string, error) { return l.pool(ins, ir.OpAvgPool, 1) },
		"AveragePooling2D":       func(l *klayer, ins []string) (string, error) { return l.pool(ins, ir.OpAvgPool, 2) },
		"GlobalAveragePooling1D": func(l *klayer, ins []string) (string, error) { return l.globalPool(ins, ir.OpReduceMean, 1) },
		"GlobalAveragePooling2D": func(l *klayer, ins []string) (string, error) { return l.globalPool(ins, ir.OpReduceMean, 2) },
		"GlobalMaxPooling1D":     func(l *klayer, ins []string) (string, error) { return l.globalPool(ins, ir.OpReduceMax, 1) },
		"GlobalMaxPooling2D":     func(l *klayer, ins []string) (string, error) { return l.globalPool(ins, ir.OpReduceMax, 2) },
		"ZeroPadding1D":          func(l *klayer, ins []string) (string, error) { return l.padCrop(ins, 1, false) },
		"ZeroPadding2D":          func(l *klayer, ins []string) (string, error) { return l.padCrop(ins, 2, false) },
		"Cropping1D":             func(l *klayer, ins []string) (string, error) { return l.padCrop(ins, 1, true) },
		"Cropping2D":             func(l *klayer, ins []string) (string, error) { return l.padCrop(ins, 2, true) },
		"UpSampling1D":           (*klayer).upSampling1d,
		"UpSampling2D":           (*klayer).upSampling2d,

		// Recurrent layers and wrappers (layers_rnn.go).
		"SimpleRNN":       func(l *klayer, ins []string) (string, error) { return l.rnn(ins, rnnSimple) },
		"LSTM":            func(l *klayer, ins []string) (string, error) { return l.rnn(ins, rnnLSTM) },
		"GRU":             func(l *klayer, ins []string) (string, error) { return l.rnn(ins, rnnGRU) },
		"Bidirectional":   (*klayer).bidirectional,
		"TimeDistributed": (*klayer).timeDistributed,
	}
}

// activation applies the layer's "activation" attribute (default linear).
func (l *klayer) activation(x string) (string, error) {
	return l.activationKey(x, "activation", "linear")
}

// activationKey applies the activation named by attribute key.
func (l *klayer) activationKey(x, key, def string) (string, error) {
	r := l.raw(key)
	name := def
	if r != nil {
		var err error
		if name, err = activationName(r); err != nil {
			return "", l.errorf("attribute %q = %s: %v", key, r, err)
		}
	}
	return l.activate(x, name, key)
}

// activationName reads an activation: a name, or a serialized object
// {"class_name": name, "config": {}} without parameters.
func activationName(r json.RawMessage) (string, error) {
	if s, err := jsonString(r); err == nil {
		return snakeCase(s), nil
	}
	var o struct {
		Class  string                     `json:"class_name"`
		Config map[string]json.RawMessage `json:"config"`
	}
	if err := json.Unmarshal(r, &o); err != nil || o.Class == "" {
		return "", errUnsupportedActivation
	}
	for k, v := range o.Config {
		if k != "name" && present(v) {
			return "", errUnsupportedActivation
		}
	}
	return snakeCase(o.Class), nil
}

var errUnsupportedActivation = errorString("not an activation veil knows (want its name)")

type errorString string

func (e errorString) Error() string { return string(e) }

// selu's constants, as Keras and TF.js define them.
const (
	kerasSeluAlpha = 1.6732632423543772848170429916717
	kerasSeluScale = 1.0507009873554804934193349852946
)

// activate applies the Keras activation name to x; key names the
// attribute for errors.
func (l *klayer) activate(x, name, key string) (string, error) {
	g := l.b.g
	switch name {
	case "linear", "":
		return x, nil
	case "relu":
		return l.add(ir.OpRelu, "relu", ir.Attrs{}, x)
	case "relu6":
		return l.add(ir.OpClip, "relu6", ir.Attrs{Min: 0, Max: 6}, x)
	case "sigmoid":
		return l.add(ir.OpSigmoid, "sigmoid", ir.Attrs{}, x)
	case "tanh":
		return l.add(ir.OpTanh, "tanh", ir.Attrs{}, x)
	case "softmax":
		return l.add(ir.OpSoftmax, "softmax", ir.Attrs{Axis: len(l.shape(x)) - 1}, x)
	case "log_softmax":
		return l.add(ir.OpLogSoftmax, "log_softmax", ir.Attrs{Axis: len(l.shape(x)) - 1}, x)
	case "swish", "silu":
		return l.add(ir.OpSilu, "swish", ir.Attrs{}, x)
	case "gelu":
		return l.add(ir.OpGelu, "gelu", ir.Attrs{}, x)
	case "gelu_new":
		return l.add(ir.OpGelu, "gelu", ir.Attrs{Approximate: true}, x)
	case "hard_sigmoid":
		// Keras 2 and TF.js: clip(0.2x + 0.5, 0, 1); Keras 3: relu6(x + 3)/6.
		alpha := float32(0.2)
		if l.b.keras3 {
			alpha = 1.0 / 6
		}
		return l.add(ir.OpHardSigmoid, "hard_sigmoid", ir.Attrs{Alpha: alpha, Beta: 0.5}, x)
	case "hard_swish", "hard_silu":
		return l.add(ir.OpHardSwish, "hard_swish", ir.Attrs{}, x)
	case "softplus":
		return l.add(ir.OpSoftplus, "softplus", ir.Attrs{}, x)
	case "exponential":
		return l.add(ir.OpExp, "exp", ir.Attrs{}, x)
	case "elu":
		out := g.UniqueName(l.base + "/elu")
		return out, g.AddElu(out, x, out, 1, 1)
	case "selu":
		out := g.UniqueName(l.base + "/selu")
		return out, g.AddElu(out, x, out, kerasSeluAlpha, kerasSeluScale)
	case "softsign":
		// x / (1 + |x|)
		a, err := l.add(ir.OpAbs, "abs", ir.Attrs{}, x)
		if err != nil {
			return "", err
		}
		one, err := l.scalar("one", 1)
		if err != nil {
			return "", err
		}
		d, err := l.add(ir.OpAdd, "softsign_den", ir.Attrs{}, a, one)
		if err != nil {
			return "", err
		}
		return l.add(ir.OpDiv, "softsign", ir.Attrs{}, x, d)
	case "mish":
		// x · tanh(softplus(x))
		s, err := l.add(ir.OpSoftplus, "softplus", ir.Attrs{}, x)
		if err != nil {
			return "", err
		}
		t, err := l.add(ir.OpTanh, "tanh", ir.Attrs{}, s)
		if err != nil {
			return "", err
		}
		return l.add(ir.OpMul, "mish", ir.Attrs{}, x, t)
	}
	return "", l.errorf("attribute %q = %q: activation %q is not supported", key, name, name)
}

// dense: x·kernel + bias on the last axis, then the activation.
func (l *klayer) dense(ins []string) (string, error) {
	x, err := l.one(ins)
	if err != nil {
		return "", err
	}
	units, err := l.int("units", 0)
	if err != nil {
		return "", err
	}
	if err := l.positive("units", []int{units}); err != nil {
		return "", err
	}
	xs := l.shape(x)
	if len(xs) < 2 {
		return "", l.errorf("input %v has rank %d; Dense needs at least 2", xs, len(xs))
	}
	k, err := l.weight("kernel", ir.Shape{xs[len(xs)-1], units})
	if err != nil {
		return "", err
	}
	b, err := l.bias(units)
	if err != nil {
		return "", err
	}
	kc, err := l.konst("kernel", k)
	if err != nil {
		return "", err
	}
	y, err := l.add(ir.OpMatMul, "matmul", ir.Attrs{}, x, kc)
	if err != nil {
		return "", err
	}
	if y, err = l.addBias(y, b); err != nil {
		return "", err
	}
	return l.activation(y)
}

func (l *klayer) activationLayer(ins []string) (string, error) {
	x, err := l.one(ins)
	if err != nil {
		return "", err
	}
	return l.activation(x)
}

// flatten reshapes to [N, rest]; with channels_last the order is Keras's.
func (l *klayer) flatten(ins []string) (string, error) {
	x, err := l.one(ins)
	if err != nil {
		return "", err
	}
	if err := l.channelsLast(); err != nil {
		return "", err
	}
	s := l.shape(x)
	if len(s) < 2 {
		return "", l.errorf("input %v has no axis to flatten", s)
	}
	return l.reshape(x, ir.Shape{s[0], s.Size() / max(s[0], 1)})
}

// reshapeLayer reshapes to [N, target_shape…] (one entry may be -1).
func (l *klayer) reshapeLayer(ins []string) (string, error) {
	x, err := l.one(ins)
	if err != nil {
		return "", err
	}
	r := l.raw("target_shape")
	if r == nil {
		return "", l.errorf("attribute \"target_shape\" is missing")
	}
	// TF.js writes the open size (-1) as null.
	var dims []*int
	if err := json.Unmarshal(r, &dims); err != nil {
		return "", l.errorf("attribute \"target_shape\" = %s: want a list of sizes", r)
	}
	t := make([]int, len(dims))
	for i, d := range dims {
		t[i] = -1
		if d != nil {
			t[i] = *d
		}
	}
	s := l.shape(x)
	out := ir.Shape{s[0]}
	known, open := 1, -1
	for i, d := range t {
		switch {
		case d == -1 && open < 0:
			open = i + 1
			out = append(out, 1)
		case d < 1:
			return "", l.errorf("attribute \"target_shape\" = %v is not valid", t)
		default:
			known *= d
			out = append(out, d)
		}
	}
	rest := s.Size() / max(s[0], 1)
	if open > 0 {
		if rest%known != 0 {
			return "", l.errorf("cannot reshape %v to target_shape %v", s, t)
		}
		out[open] = rest / known
	} else if known != rest {
		return "", l.errorf("cannot reshape %v to target_shape %v", s, t)
	}
	return l.reshape(x, out)
}

// permute transposes the non-batch axes (dims counts them from 1).
func (l *klayer) permute(ins []string) (string, error) {
	x, err := l.one(ins)
	if err != nil {
		return "", err
	}
	r := l.raw("dims")
	dims, err := intList(r)
	s := l.shape(x)
	if err != nil || len(dims) != len(s)-1 {
		return "", l.errorf("attribute \"dims\" = %s: want a permutation of 1…%d", r, len(s)-1)
	}
	perm := []int{0}
	seen := map[int]bool{}
	for _, d := range dims {
		if d < 1 || d >= len(s) || seen[d] {
			return "", l.errorf("attribute \"dims\" = %s: want a permutation of 1…%d", r, len(s)-1)
		}
		seen[d] = true
		perm = append(perm, d)
	}
	return l.add(ir.OpTranspose, "transpose", ir.Attrs{Perm: perm}, x)
}

// repeatVector turns [N, F] into [N, n, F].
func (l *klayer) repeatVector(ins []string) (string, error) {
	x, err := l.one(ins)
	if err != nil {
		return "", err
	}
	n, err := l.int("n", 0)
	if err != nil {
		return "", err
	}
	if err := l.positive("n", []int{n}); err != nil {
		return "", err
	}
	s, err := l.rank(x, 2)
	if err != nil {
		return "", err
	}
	y, err := l.reshape(x, ir.Shape{s[0], 1, s[1]})
	if err != nil {
		return "", err
	}
	if n == 1 {
		return y, nil
	}
	out := l.b.g.UniqueName(l.base + "/tile")
	return out, l.b.g.AddTile(out, y, out, []int{1, n, 1})
}

// relu: Keras's ReLU(max_value, negative_slope, threshold = 0).
func (l *klayer) relu(ins []string) (string, error) {
	x, err := l.one(ins)
	if err != nil {
		return "", err
	}
	th, err := l.float("threshold", 0)
	if err != nil {
		return "", err
	}
	if th != 0 {
		return "", l.errorf("attribute \"threshold\" = %v is not supported (only 0)", th)
	}
	slope, err := l.float("negative_slope", 0)
	if err != nil {
		return "", err
	}
	maxv := math.Inf(1)
	if r := l.raw("max_value"); r != nil {
		if maxv, err = l.float("max_value", 0); err != nil {
			return "", err
		}
		if maxv < 0 {
			return "", l.errorf("attribute \"max_value\" = %v is negative", maxv)
		}
	}
	if slope == 0 {
		if math.IsInf(maxv, 1) {
			return l.add(ir.OpRelu, "relu", ir.Attrs{}, x)
		}
		return l.add(ir.OpClip, "relu", ir.Attrs{Min: 0, Max: float32(maxv)}, x)
	}
	y, err := l.add(ir.OpLeakyRelu, "leaky_relu", ir.Attrs{Alpha: float32(slope)}, x)
	if err != nil || math.IsInf(maxv, 1) {
		return y, err
	}
	return l.add(ir.OpClip, "max", ir.Attrs{Min: -math.MaxFloat32, Max: float32(maxv)}, y)
}

// leakyRelu: alpha (Keras 2, TF.js; default 0.3) or negative_slope (Keras 3).
func (l *klayer) leakyRelu(ins []string) (string, error) {
	x, err := l.one(ins)
	if err != nil {
		return "", err
	}
	a, err := l.float("alpha", 0.3)
	if err != nil {
		return "", err
	}
	if l.cfg["negative_slope"] != nil {
		if a, err = l.float("negative_slope", 0.3); err != nil {
			return "", err
		}
	}
	return l.add(ir.OpLeakyRelu, "leaky_relu", ir.Attrs{Alpha: float32(a)}, x)
}

// prelu: a learned slope of shape x's without the batch, size 1 along
// shared_axes, which broadcasts as it is.
func (l *klayer) prelu(ins []string) (string, error) {
	x, err := l.one(ins)
	if err != nil {
		return "", err
	}
	l.raw("shared_axes") // the weight's shape holds them
	a, err := l.weight("alpha", nil)
	if err != nil {
		return "", err
	}
	s := l.shape(x)
	if len(a.Shape) != len(s)-1 {
		return "", l.errorf("weight \"alpha\" has shape %v, input %v", a.Shape, s)
	}
	for i, d := range a.Shape {
		if d != 1 && d != s[i+1] {
			return "", l.errorf("weight \"alpha\" has shape %v, input %v", a.Shape, s)
		}
	}
	c, err := l.konst("alpha", a)
	if err != nil {
		return "", err
	}
	return l.add(ir.OpPRelu, "prelu", ir.Attrs{}, x, c)
}

func (l *klayer) elu(ins []string) (string, error) {
	x, err := l.one(ins)
	if err != nil {
		return "", err
	}
	a, err := l.float("alpha", 1)
	if err != nil {
		return "", err
	}
	out := l.b.g.UniqueName(l.base + "/elu")
	return out, l.b.g.AddElu(out, x, out, float32(a), 1)
}

// softmaxLayer: Softmax(axis); TF.js writes its default axis (1), Keras
// its (-1). Several axes are not supported.
func (l *klayer) softmaxLayer(ins []string) (string, error) {
	x, err := l.one(ins)
	if err != nil {
		return "", err
	}
	r := l.raw("axis")
	axis := -1
	if r != nil {
		axes, err := intList(r)
		if err != nil || len(axes) != 1 {
			return "", l.errorf("attribute \"axis\" = %s is not supported (only one axis)", r)
		}
		axis = axes[0]
	}
	ax, err := l.normAxis("axis", axis, len(l.shape(x)))
	if err != nil {
		return "", err
	}
	return l.add(ir.OpSoftmax, "softmax", ir.Attrs{Axis: ax}, x)
}

// oneAxis reads key as a single axis (an integer or a list of one) of a
// rank-r input; def when absent.
func (l *klayer) oneAxis(key string, def, r int) (int, error) {
	raw := l.raw(key)
	axis := def
	if raw != nil {
		axes, err := intList(raw)
		if err != nil || len(axes) != 1 {
			return 0, l.errorf("attribute %q = %s is not supported (only one axis)", key, raw)
		}
		axis = axes[0]
	}
	return l.normAxis(key, axis, r)
}

// batchNorm: inference batch normalization with the moving statistics,
// along one axis (default the last).
func (l *klayer) batchNorm(ins []string) (string, error) {
	x, err := l.one(ins)
	if err != nil {
		return "", err
	}
	s := l.shape(x)
	ax, err := l.oneAxis("axis", -1, len(s))
	if err != nil {
		return "", err
	}
	eps, err := l.float("epsilon", 1e-3)
	if err != nil {
		return "", err
	}
	for _, k := range []string{"renorm", "trainable_statistics"} {
		if err := l.flag(k, false); err != nil {
			return "", err
		}
	}
	if r := l.raw("virtual_batch_size"); r != nil {
		return "", l.errorf("attribute \"virtual_batch_size\" = %s is not supported", r)
	}
	if r := l.raw("adjustment"); r != nil {
		return "", l.errorf("attribute \"adjustment\" = %s is not supported", r)
	}
	c := s[ax]
	params := make([]string, 4)
	for i, p := range []struct {
		key, weight string
		def         float32
	}{{"scale", "gamma", 1}, {"center", "beta", 0}, {"", "moving_mean", 0}, {"", "moving_variance", 1}} {
		use := true
		if p.key != "" {
			if use, err = l.bool(p.key, true); err != nil {
				return "", err
			}
		}
		var t *ir.Tensor
		if use {
			if t, err = l.weight(p.weight, ir.Shape{c}); err != nil {
				return "", err
			}
		} else {
			v := make([]float32, c)
			for j := range v {
				v[j] = p.def
			}
			t = ir.FloatTensor(ir.Shape{c}, v)
		}
		if params[i], err = l.konst(p.weight, t); err != nil {
			return "", err
		}
	}
	return l.add(ir.OpBatchNorm, "batch_norm", ir.Attrs{Epsilon: float32(eps), Axis: ax}, x, params[0], params[1], params[2], params[3])
}

// layerNorm: normalization over trailing axes (ir.AddLayerNorm), with
// gamma and beta of those axes' shape.
func (l *klayer) layerNorm(ins []string) (string, error) {
	x, err := l.one(ins)
	if err != nil {
		return "", err
	}
	s := l.shape(x)
	r := l.raw("axis")
	axes := []int{-1}
	if r != nil {
		if axes, err = intList(r); err != nil || len(axes) == 0 {
			return "", l.errorf("attribute \"axis\" = %s: want an axis or a list of axes", r)
		}
	}
	norm := make([]int, len(axes))
	for i, a := range axes {
		if norm[i], err = l.normAxis("axis", a, len(s)); err != nil {
			return "", err
		}
	}
	first := len(s)
	seen := map[int]bool{}
	for _, a := range norm {
		seen[a] = true
		first = min(first, a)
	}
	for a := first; a < len(s); a++ {
		if !seen[a] || len(seen) != len(s)-first {
			return "", l.errorf("attribute \"axis\" = %s is not supported (only the trailing axes)", r)
		}
	}
	eps, err := l.float("epsilon", 1e-3)
	if err != nil {
		return "", err
	}
	if err := l.flag("rms_scaling", false); err != nil {
		return "", err
	}
	ps := s[first:].Clone()
	names := []string{"", ""}
	for i, p := range []struct{ key, weight string }{{"scale", "gamma"}, {"center", "beta"}} {
		use, err := l.bool(p.key, true)
		if err != nil || !use {
			if err != nil {
				return "", err
			}
			continue
		}
		t, err := l.weight(p.weight, nil)
		if err != nil {
			return "", err
		}
		if t.Len() != ps.Size() {
			return "", l.errorf("weight %q has shape %v, want %v", p.weight, t.Shape, ps)
		}
		if names[i], err = l.konst(p.weight, ir.FloatTensor(ps, t.F)); err != nil {
			return "", err
		}
	}
	out := l.b.g.UniqueName(l.base + "/layer_norm")
	return out, l.b.g.AddLayerNorm(out, x, names[0], names[1], out, first, float32(eps))
}

// constParam returns attribute key of Rescaling (a number, or one number
// per channel of x's last axis) as a constant, or "" when it is absent or
// a number equal to def, the identity.
func (l *klayer) constParam(key string, def float64, x string) (string, error) {
	r := l.raw(key)
	if r == nil {
		return "", nil
	}
	var vs []float64
	if json.Unmarshal(r, &vs) != nil {
		v, err := l.float(key, def)
		if err != nil || v == def {
			return "", err
		}
		return l.scalar(key, float32(v))
	}
	s := l.shape(x)
	if len(vs) != 1 && len(vs) != s[len(s)-1] {
		return "", l.errorf("attribute %q has %d values for input %v", key, len(vs), s)
	}
	f := make([]float32, len(vs))
	for i, v := range vs {
		f[i] = float32(v)
	}
	return l.konst(key, ir.FloatTensor(ir.Shape{len(f)}, f))
}

// rescaling: x·scale + offset.
func (l *klayer) rescaling(ins []string) (string, error) {
	x, err := l.one(ins)
	if err != nil {
		return "", err
	}
	for _, p := range []struct {
		key string
		def float64
		op  ir.Op
	}{{"scale", 1, ir.OpMul}, {"offset", 0, ir.OpAdd}} {
		c, err := l.constParam(p.key, p.def, x)
		if err != nil {
			return "", err
		}
		if c != "" {
			if x, err = l.add(p.op, p.key, ir.Attrs{}, x, c); err != nil {
				return "", err
			}
		}
	}
	return x, nil
}

// normalization: Keras's preprocessing Normalization, (x − mean) /
// max(√variance, 1e-7), with mean and variance from the config or the
// weights, along the kept axes (default the last).
func (l *klayer) normalization(ins []string) (string, error) {
	x, err := l.one(ins)
	if err != nil {
		return "", err
	}
	if err := l.flag("invert", false); err != nil {
		return "", err
	}
	s := l.shape(x)
	keep := []int{len(s) - 1}
	if r, ok := l.cfg["axis"]; ok {
		l.read["axis"] = true
		switch {
		case !present(r):
			keep = nil
		default:
			axes, err := intList(r)
			if err != nil {
				return "", l.errorf("attribute \"axis\" = %s: want axes", r)
			}
			keep = keep[:0]
			for _, a := range axes {
				n, err := l.normAxis("axis", a, len(s))
				if err != nil {
					return "", err
				}
				keep = append(keep, n)
			}
		}
	}
	bshape := make(ir.Shape, len(s))
	for i := range bshape {
		bshape[i] = 1
	}
	for _, a := range keep {
		bshape[a] = s[a]
	}
	n := bshape.Size()
	stats := make([][]float32, 2)
	for i, key := range []string{"mean", "variance"} {
		if r := l.raw(key); r != nil {
			var vs []float64
			if json.Unmarshal(r, &vs) != nil {
				v, err := l.float(key, 0)
				if err != nil {
					return "", err
				}
				vs = []float64{v}
			}
			if len(vs) != 1 && len(vs) != n {
				return "", l.errorf("attribute %q has %d values, want %d", key, len(vs), n)
			}
			f := make([]float32, n)
			for j := range f {
				f[j] = float32(vs[min(j, len(vs)-1)])
			}
			stats[i] = f
			continue
		}
		t, err := l.weight(key, nil)
		if err != nil {
			return "", err
		}
		if t.Len() != n {
			return "", l.errorf("weight %q has shape %v, want %d values", key, t.Shape, n)
		}
		stats[i] = t.F
	}
	k := make([]float32, n)
	sh := make([]float32, n)
	for j := range k {
		k[j] = float32(1 / math.Max(math.Sqrt(float64(stats[1][j])), 1e-7))
		sh[j] = -stats[0][j] * k[j]
	}
	kc, err := l.konst("scale", ir.FloatTensor(bshape, k))
	if err != nil {
		return "", err
	}
	y, err := l.add(ir.OpMul, "scale", ir.Attrs{}, x, kc)
	if err != nil {
		return "", err
	}
	sc, err := l.konst("shift", ir.FloatTensor(bshape, sh))
	if err != nil {
		return "", err
	}
	return l.add(ir.OpAdd, "shift", ir.Attrs{}, y, sc)
}

// merge folds the inputs with a broadcasting binary op (Add, Multiply,
// Maximum, Minimum; Subtract takes exactly two).
func (l *klayer) merge(ins []string, op ir.Op) (string, error) {
	if len(ins) < 2 || (op == ir.OpSub && len(ins) != 2) {
		return "", l.errorf("called on %d inputs", len(ins))
	}
	y := ins[0]
	for _, x := range ins[1:] {
		var err error
		if y, err = l.add(op, "merge", ir.Attrs{}, y, x); err != nil {
			return "", err
		}
	}
	return y, nil
}

func (l *klayer) average(ins []string) (string, error) {
	y, err := l.merge(ins, ir.OpAdd)
	if err != nil {
		return "", err
	}
	c, err := l.scalar("inv_n", float32(1/float64(len(ins))))
	if err != nil {
		return "", err
	}
	return l.add(ir.OpMul, "average", ir.Attrs{}, y, c)
}

func (l *klayer) concatenate(ins []string) (string, error) {
	if len(ins) < 1 {
		return "", l.errorf("called on no inputs")
	}
	ax, err := l.oneAxis("axis", -1, len(l.shape(ins[0])))
	if err != nil {
		return "", err
	}
	if len(ins) == 1 {
		return ins[0], nil
	}
	return l.add(ir.OpConcat, "concat", ir.Attrs{Axis: ax}, ins...)
}
