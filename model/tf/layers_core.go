package tf

import (
	"encoding/json"

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

		// Activation layers (layers_activation.go).
		"ReLU":      (*klayer).relu,
		"LeakyReLU": (*klayer).leakyRelu,
		"PReLU":     (*klayer).prelu,
		"ELU":       (*klayer).elu,
		"Softmax":   (*klayer).softmaxLayer,

		// Normalization and preprocessing (layers_norm.go).
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
