package tf

// Normalization (BatchNormalization, LayerNormalization) and the
// preprocessing layers (Rescaling, Normalization).

import (
	"encoding/json"
	"math"

	"veil/ir"
)

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
