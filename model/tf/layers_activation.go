package tf

// Keras activations (the activation attribute of every layer and the
// Activation layer) and the activation layers.

import (
	"encoding/json"
	"math"

	"veil/ir"
)

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

// unaryActivation returns the Keras activation name as one element-wise
// node (Identity for linear) and the suffix its node is named after, if
// it is one.
func (l *klayer) unaryActivation(name string) (ir.Activation, string, bool) {
	switch name {
	case "linear", "":
		return ir.Activation{Op: ir.OpIdentity}, "", true
	case "relu":
		return ir.Activation{Op: ir.OpRelu}, "relu", true
	case "sigmoid":
		return ir.Activation{Op: ir.OpSigmoid}, "sigmoid", true
	case "tanh":
		return ir.Activation{Op: ir.OpTanh}, "tanh", true
	case "swish", "silu":
		return ir.Activation{Op: ir.OpSilu}, "swish", true
	case "hard_sigmoid":
		// Keras 2 and TF.js: clip(0.2x + 0.5, 0, 1); Keras 3: relu6(x + 3)/6.
		alpha := float32(0.2)
		if l.b.keras3 {
			alpha = 1.0 / 6
		}
		return ir.Activation{Op: ir.OpHardSigmoid, Alpha: alpha, Beta: 0.5}, "hard_sigmoid", true
	case "hard_swish", "hard_silu":
		return ir.Activation{Op: ir.OpHardSwish}, "hard_swish", true
	case "softplus":
		return ir.Activation{Op: ir.OpSoftplus}, "softplus", true
	case "exponential":
		return ir.Activation{Op: ir.OpExp}, "exp", true
	}
	return ir.Activation{}, "", false
}

// activate applies the Keras activation name to x; key names the
// attribute for errors.
func (l *klayer) activate(x, name, key string) (string, error) {
	if a, suffix, ok := l.unaryActivation(name); ok {
		if a.Op == ir.OpIdentity {
			return x, nil
		}
		return l.add(a.Op, suffix, ir.Attrs{Alpha: a.Alpha, Beta: a.Beta}, x)
	}
	g := l.b.g
	switch name {
	case "relu6":
		return l.add(ir.OpClip, "relu6", ir.Attrs{Min: 0, Max: 6}, x)
	case "softmax":
		return l.add(ir.OpSoftmax, "softmax", ir.Attrs{Axis: len(l.shape(x)) - 1}, x)
	case "log_softmax":
		return l.add(ir.OpLogSoftmax, "log_softmax", ir.Attrs{Axis: len(l.shape(x)) - 1}, x)
	case "gelu":
		return l.add(ir.OpGelu, "gelu", ir.Attrs{}, x)
	case "gelu_new":
		return l.add(ir.OpGelu, "gelu", ir.Attrs{Approximate: true}, x)
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
