package tf

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"unicode"

	"veil/ir"
)

// klayer is one Keras layer being lowered: its class and config, the
// config keys read so far (every other key must be one that cannot change
// inference, see ignoredKey), and the names under which its weights are
// stored.
type klayer struct {
	b     *kbuilder
	class string
	name  string // the Keras layer name, for errors and weights
	base  string // prefix of the graph values it makes (nested models add theirs)
	cfg   map[string]json.RawMessage
	read  map[string]bool
	// scope holds the names of the layers that wrap this one (a
	// Bidirectional, a TimeDistributed, a nested model): the weights of a
	// wrapped layer are stored under the wrapper's name.
	scope []string
}

func (b *kbuilder) newLayer(class, name, base string, cfg map[string]json.RawMessage, scope []string) *klayer {
	if cfg == nil {
		cfg = map[string]json.RawMessage{}
	}
	return &klayer{b: b, class: class, name: name, base: base, cfg: cfg, read: map[string]bool{}, scope: scope}
}

// errorf returns an *ir.NodeError naming the layer and its class.
func (l *klayer) errorf(format string, args ...any) error {
	return &ir.NodeError{Node: l.name, Op: ir.Op(l.class), Err: fmt.Errorf(format, args...)}
}

// wrap turns err into an error naming the layer and its class. An error
// of a shared ir builder about the layer's own node is relabelled with
// the class.
func (l *klayer) wrap(err error) error {
	if err == nil {
		return nil
	}
	var ne *ir.NodeError
	if errors.As(err, &ne) && ne.Node == l.name {
		if ne.Op == ir.Op(l.class) {
			return err
		}
		return &ir.NodeError{Node: l.name, Op: ir.Op(l.class), Err: ne.Err}
	}
	return &ir.NodeError{Node: l.name, Op: ir.Op(l.class), Err: err}
}

// ignoredKey reports whether a config key cannot change what a trained
// layer computes at inference: training-time settings (initializers,
// regularizers, constraints, dropout rates, momentum), bookkeeping (name,
// trainable, dtype policy) and shapes that the graph's inputs fix anyway.
func ignoredKey(k string) bool {
	switch k {
	case "name", "trainable", "dtype", "batch_input_shape", "batch_shape", "batch_size",
		"input_dim", "input_length", "input_shape", "sparse", "ragged", "autocast",
		"activity_regularizer", "seed", "module", "registered_name", "build_config",
		"rate", "noise_shape", "stddev", "dropout", "recurrent_dropout",
		"implementation", "unroll", "unit_forget_bias", "momentum", "fused",
		"renorm_clipping", "renorm_momentum", "synchronized", "use_cudnn",
		"build_input_shape":
		return true
	}
	return strings.HasSuffix(k, "_initializer") || strings.HasSuffix(k, "_regularizer") ||
		strings.HasSuffix(k, "_constraint")
}

// checkKeys refuses config keys the layer's lowering did not read and
// that could change inference.
func (l *klayer) checkKeys() error {
	var extra []string
	for k, v := range l.cfg {
		if l.read[k] || ignoredKey(k) || !present(v) {
			continue
		}
		extra = append(extra, k)
	}
	if len(extra) == 0 {
		return nil
	}
	sort.Strings(extra)
	return l.errorf("attribute %q (= %s) is not supported", extra[0], l.cfg[extra[0]])
}

// raw returns the value of key (nil when absent or null) and marks it read.
func (l *klayer) raw(key string) json.RawMessage {
	l.read[key] = true
	if v := l.cfg[key]; present(v) {
		return v
	}
	return nil
}

func (l *klayer) str(key, def string) (string, error) {
	r := l.raw(key)
	if r == nil {
		return def, nil
	}
	s, err := jsonString(r)
	if err != nil {
		return "", l.errorf("attribute %q = %s: want a string", key, r)
	}
	return snakeCase(s), nil
}

// want requires key to be absent or one of the values allowed (the first
// being its default) and returns it.
func (l *klayer) want(key string, allowed ...string) (string, error) {
	s, err := l.str(key, allowed[0])
	if err != nil {
		return "", err
	}
	if !slices.Contains(allowed, s) {
		return "", l.errorf("attribute %q = %q is not supported (only %s)", key, s, strings.Join(quoteAll(allowed), ", "))
	}
	return s, nil
}

func quoteAll(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprintf("%q", x)
	}
	return out
}

func (l *klayer) bool(key string, def bool) (bool, error) {
	r := l.raw(key)
	if r == nil {
		return def, nil
	}
	v, err := jsonBool(r)
	if err != nil {
		return false, l.errorf("attribute %q = %s: want true or false", key, r)
	}
	return v, nil
}

// flag requires the boolean key to be absent or equal to def.
func (l *klayer) flag(key string, def bool) error {
	v, err := l.bool(key, def)
	if err == nil && v != def {
		err = l.errorf("attribute %q = %v is not supported (only %v)", key, v, def)
	}
	return err
}

func (l *klayer) float(key string, def float64) (float64, error) {
	r := l.raw(key)
	if r == nil {
		return def, nil
	}
	v, err := jsonFloat(r)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, l.errorf("attribute %q = %s: want a finite number", key, r)
	}
	return v, nil
}

// maxAttrInt bounds the integers of a layer config (sizes, strides,
// axes), so that arithmetic on them cannot overflow.
const maxAttrInt = 1 << 24

func (l *klayer) int(key string, def int) (int, error) {
	r := l.raw(key)
	if r == nil {
		return def, nil
	}
	v, err := jsonInt64(r)
	if err != nil || v < -maxAttrInt || v > maxAttrInt {
		return 0, l.errorf("attribute %q = %s: want an integer", key, r)
	}
	return int(v), nil
}

// ints reads key as n integers: a list of n, or one integer repeated
// (Keras accepts both for kernel sizes and strides). def is used when the
// key is absent or null.
func (l *klayer) ints(key string, n int, def []int) ([]int, error) {
	r := l.raw(key)
	if r == nil {
		return def, nil
	}
	vs, err := intList(r)
	if err != nil {
		return nil, l.errorf("attribute %q = %s: want an integer or a list of %d", key, r, n)
	}
	if len(vs) == 1 && n > 1 && !strings.HasPrefix(strings.TrimSpace(string(r)), "[") {
		for len(vs) < n {
			vs = append(vs, vs[0])
		}
	}
	if len(vs) != n {
		return nil, l.errorf("attribute %q = %s: want %d values", key, r, n)
	}
	return vs, nil
}

// intList decodes an integer or a list of integers.
func intList(r json.RawMessage) ([]int, error) {
	var items []json.RawMessage
	if json.Unmarshal(r, &items) != nil {
		items = []json.RawMessage{r}
	}
	out := make([]int, len(items))
	for i, it := range items {
		v, err := jsonInt64(it)
		if err != nil || v < -maxAttrInt || v > maxAttrInt {
			return nil, fmt.Errorf("%s is not an integer", it)
		}
		out[i] = int(v)
	}
	return out, nil
}

// positive requires every element of xs to be at least 1.
func (l *klayer) positive(key string, xs []int) error {
	for _, x := range xs {
		if x < 1 {
			return l.errorf("attribute %q = %v: want positive values", key, xs)
		}
	}
	return nil
}

// channelsLast requires data_format to be channels_last (Keras's default
// and the IR's NHWC layout).
func (l *klayer) channelsLast() error {
	_, err := l.want("data_format", "channels_last")
	return err
}

// noDilation requires dilation_rate to be 1 along each of n axes.
func (l *klayer) noDilation(n int) error {
	d, err := l.ints("dilation_rate", n, nil)
	if err != nil {
		return err
	}
	for _, v := range d {
		if v != 1 {
			return l.errorf("attribute \"dilation_rate\" = %v is not supported (only 1)", d)
		}
	}
	return nil
}

// snakeCase turns tfjs's camelCase names ("hardSigmoid") into Keras's
// snake_case ("hard_sigmoid"); snake_case passes unchanged.
func snakeCase(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// normAxis turns a Keras axis (negative counts from the end) of a rank-r
// tensor into [0, r), refusing the batch axis.
func (l *klayer) normAxis(key string, axis, r int) (int, error) {
	a := axis
	if a < 0 {
		a += r
	}
	if a < 1 || a >= r {
		return 0, l.errorf("attribute %q = %d is out of range for a rank-%d input (or is the batch axis)", key, axis, r)
	}
	return a, nil
}
