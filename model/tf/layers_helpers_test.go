package tf

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"veil/ir"
)

// Helpers of the layers-model tests: a model.json + weights.bin writer and
// naive float references of the layers.

// kweight is one weight a test model stores; quant, when set, stores it
// quantized ("uint8", "uint16" or "float16").
type kweight struct {
	name  string
	shape []int
	vals  []float32
	quant string
}

// writeLayers writes model.json (modelTopology topo) and weights.bin to a
// temporary directory and returns it. Quantized weights are replaced in ws
// by their dequantized values, which the references must use.
func writeLayers(t *testing.T, topo any, ws []kweight) string {
	t.Helper()
	dir := t.TempDir()
	var bin []byte
	var specs []map[string]any
	le := binary.LittleEndian
	for i := range ws {
		w := &ws[i]
		spec := map[string]any{"name": w.name, "shape": w.shape, "dtype": "float32"}
		switch w.quant {
		case "":
			for _, v := range w.vals {
				bin = le.AppendUint32(bin, math.Float32bits(v))
			}
		case "uint8", "uint16":
			lo, hi := w.vals[0], w.vals[0]
			for _, v := range w.vals {
				lo, hi = min(lo, v), max(hi, v)
			}
			levels := 255.0
			if w.quant == "uint16" {
				levels = 65535
			}
			scale := float64(hi-lo) / levels
			spec["quantization"] = map[string]any{"dtype": w.quant, "min": float64(lo), "scale": scale}
			for j, v := range w.vals {
				q := math.Round(float64(v-lo) / scale)
				if w.quant == "uint8" {
					bin = append(bin, byte(q))
				} else {
					bin = le.AppendUint16(bin, uint16(q))
				}
				w.vals[j] = float32(q*scale + float64(lo))
			}
		case "float16":
			spec["quantization"] = map[string]any{"dtype": "float16"}
			for j, v := range w.vals {
				h := floatToHalf(v)
				bin = le.AppendUint16(bin, h)
				w.vals[j] = halfToFloat(h)
			}
		}
		specs = append(specs, spec)
	}
	m := map[string]any{
		"format":          "layers-model",
		"modelTopology":   topo,
		"weightsManifest": []any{map[string]any{"paths": []string{"weights.bin"}, "weights": specs}},
	}
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "weights.bin"), bin, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// seq returns a Keras 2 Sequential topology as tfjs writes it.
func seq(version string, layers ...map[string]any) map[string]any {
	return map[string]any{
		"class_name":    "Sequential",
		"config":        map[string]any{"name": "sequential", "layers": layers},
		"keras_version": version,
		"backend":       "tensorflow",
	}
}

// klay returns a serialized layer; inbound, when given, is its
// inbound_nodes (functional models).
func klay(class, name string, cfg map[string]any, inbound ...any) map[string]any {
	c := map[string]any{"name": name}
	for k, v := range cfg {
		c[k] = v
	}
	m := map[string]any{"class_name": class, "name": name, "config": c}
	if inbound != nil {
		m["inbound_nodes"] = inbound
	}
	return m
}

// call is one Keras 2 inbound node reading the named layers' first outputs.
func call(names ...string) []any {
	var n []any
	for _, s := range names {
		n = append(n, []any{s, 0, 0, map[string]any{}})
	}
	return n
}

// rnd returns n values uniform in [-a, a) from seed.
func rnd(seed int64, n int, a float32) []float32 {
	v := parkMiller(seed, n)
	for i := range v {
		v[i] = a * (2*v[i] - 1)
	}
	return v
}

// loadRun imports dir and runs it on the inputs, in order.
func loadRun(t *testing.T, dir string, opt Options, ins ...*ir.Tensor) []*ir.Tensor {
	t.Helper()
	g, err := LoadLayers(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Inputs) != len(ins) {
		t.Fatalf("graph inputs %v, want %d", g.Inputs, len(ins))
	}
	feeds := map[string]*ir.Tensor{}
	for i, in := range ins {
		feeds[g.Inputs[i]] = in
	}
	outs, err := ir.Run(g, feeds)
	if err != nil {
		t.Fatal(err)
	}
	return outs
}

// refConvNHWC is a naive NHWC convolution: x [1, H, W, C], k [KH, KW, C/g,
// O], bias (nil: none), strides s, pads [top, left, bottom, right].
func refConvNHWC(x []float32, h, w, c int, k []float32, kh, kw, o int, bias []float32, s, p []int, g int) ([]float32, int, int) {
	oh := (h+p[0]+p[2]-kh)/s[0] + 1
	ow := (w+p[1]+p[3]-kw)/s[1] + 1
	cg, og := c/g, o/g
	out := make([]float32, oh*ow*o)
	for y := 0; y < oh; y++ {
		for xx := 0; xx < ow; xx++ {
			for oc := 0; oc < o; oc++ {
				var sum float64
				if bias != nil {
					sum = float64(bias[oc])
				}
				grp := oc / og
				for ky := 0; ky < kh; ky++ {
					for kx := 0; kx < kw; kx++ {
						iy, ix := y*s[0]+ky-p[0], xx*s[1]+kx-p[1]
						if iy < 0 || iy >= h || ix < 0 || ix >= w {
							continue
						}
						for ci := 0; ci < cg; ci++ {
							sum += float64(x[(iy*w+ix)*c+grp*cg+ci]) * float64(k[((ky*kw+kx)*cg+ci)*o+oc])
						}
					}
				}
				out[(y*ow+xx)*o+oc] = float32(sum)
			}
		}
	}
	return out, oh, ow
}

// refConvTranspose is TensorFlow's conv2d_transpose by its definition:
// every input element scatters its products with the kernel [KH, KW, O,
// C] to out[y·s + ky − pad], for an output of oh × ow.
func refConvTranspose(x []float32, h, w, c int, k []float32, kh, kw, o int, bias []float32, s []int, pt, pl, oh, ow int) []float32 {
	out := make([]float64, oh*ow*o)
	for y := 0; y < h; y++ {
		for xx := 0; xx < w; xx++ {
			for ky := 0; ky < kh; ky++ {
				for kx := 0; kx < kw; kx++ {
					oy, ox := y*s[0]+ky-pt, xx*s[1]+kx-pl
					if oy < 0 || oy >= oh || ox < 0 || ox >= ow {
						continue
					}
					for oc := 0; oc < o; oc++ {
						for ci := 0; ci < c; ci++ {
							out[(oy*ow+ox)*o+oc] += float64(x[(y*w+xx)*c+ci]) * float64(k[((ky*kw+kx)*o+oc)*c+ci])
						}
					}
				}
			}
		}
	}
	res := make([]float32, len(out))
	for i, v := range out {
		if bias != nil {
			v += float64(bias[i%o])
		}
		res[i] = float32(v)
	}
	return res
}

// refDense is x [n, f] · k [f, u] + b.
func refDense(x []float32, n, f int, k []float32, u int, b []float32) []float32 {
	out := make([]float32, n*u)
	for i := 0; i < n; i++ {
		for j := 0; j < u; j++ {
			var s float64
			if b != nil {
				s = float64(b[j])
			}
			for q := 0; q < f; q++ {
				s += float64(x[i*f+q]) * float64(k[q*u+j])
			}
			out[i*u+j] = float32(s)
		}
	}
	return out
}

// rndWeight is a weight of the given shape with random values in ±0.6.
func rndWeight(name string, shape []int, seed int64) kweight {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return kweight{name: name, shape: shape, vals: rnd(seed, n, 0.6)}
}

func refSigmoid(v float64) float64 { return 1 / (1 + math.Exp(-v)) }

func refHardSigmoid(v float64) float64 { return math.Max(0, math.Min(1, 0.2*v+0.5)) }

// refRNN runs a Keras recurrent layer over x [T, F] (batch 1) and returns
// the states in the order computed. kind is "simple", "lstm" or "gru";
// rb is GRU reset_after's recurrent bias (nil: reset_after false).
func refRNN(kind string, x []float32, T, F int, W, U, B, rb []float32, units int, act, rec func(float64) float64, backwards bool) [][]float32 {
	G := map[string]int{"simple": 1, "lstm": 4, "gru": 3}[kind]
	h := make([]float64, units)
	c := make([]float64, units)
	var out [][]float32
	dot := func(v []float64, M []float32, col int) float64 {
		var s float64
		for i := range v {
			s += v[i] * float64(M[i*G*units+col])
		}
		return s
	}
	for j := 0; j < T; j++ {
		t := j
		if backwards {
			t = T - 1 - j
		}
		xt := make([]float64, F)
		for i := range xt {
			xt[i] = float64(x[t*F+i])
		}
		xw := make([]float64, G*units)
		for col := range xw {
			xw[col] = dot(xt, W, col)
			if B != nil {
				xw[col] += float64(B[col])
			}
		}
		nh := make([]float64, units)
		for u := 0; u < units; u++ {
			switch kind {
			case "simple":
				nh[u] = act(xw[u] + dot(h, U, u))
			case "lstm":
				i := rec(xw[u] + dot(h, U, u))
				f := rec(xw[units+u] + dot(h, U, units+u))
				g := act(xw[2*units+u] + dot(h, U, 2*units+u))
				o := rec(xw[3*units+u] + dot(h, U, 3*units+u))
				c[u] = f*c[u] + i*g
				nh[u] = o * act(c[u])
			}
		}
		if kind == "gru" {
			z := make([]float64, units)
			r := make([]float64, units)
			for u := 0; u < units; u++ {
				rz, rr := dot(h, U, u), dot(h, U, units+u)
				if rb != nil {
					rz += float64(rb[u])
					rr += float64(rb[units+u])
				}
				z[u] = rec(xw[u] + rz)
				r[u] = rec(xw[units+u] + rr)
			}
			for u := 0; u < units; u++ {
				var rh float64
				if rb != nil {
					rh = r[u] * (dot(h, U, 2*units+u) + float64(rb[2*units+u]))
				} else {
					hr := make([]float64, units)
					for i := range hr {
						hr[i] = r[i] * h[i]
					}
					rh = dot(hr, U, 2*units+u)
				}
				hh := act(xw[2*units+u] + rh)
				nh[u] = z[u]*h[u] + (1-z[u])*hh
			}
		}
		h = nh
		s := make([]float32, units)
		for i, v := range h {
			s[i] = float32(v)
		}
		out = append(out, s)
	}
	return out
}

func flatRows(rows [][]float32) []float32 {
	var out []float32
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}
