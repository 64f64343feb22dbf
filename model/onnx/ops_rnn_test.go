package onnx

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"veil/ir"
)

// The recurrent ops are checked against a float64 transcription of the
// ONNX operator documentation that reads W, R, B and the states in ONNX's
// own layouts and gate orders (LSTM i o f c, GRU z r h), independently of
// how the importer cuts them for package ir.

type rnnCase struct {
	op        string // LSTM, GRU, RNN
	dir       string
	layout    int
	lbr       bool
	bias      bool
	initial   bool // initial_h (and initial_c) given, as graph inputs
	zeroState bool // initial_h (and initial_c) given as initializers of zeros
	seqLens   bool // sequence_lens given, all full
	noY       bool // the sequence output Y omitted
	opset     int64
}

func (c rnnCase) String() string {
	return fmt.Sprintf("%s/%s/layout%d/lbr=%v/bias=%v/initial=%v/zero=%v/seqlens=%v/noY=%v", c.op, c.dir, c.layout, c.lbr, c.bias, c.initial, c.zeroState, c.seqLens, c.noY)
}

func (c rnnCase) gates() int { return map[string]int{"LSTM": 4, "GRU": 3, "RNN": 1}[c.op] }

func (c rnnCase) dirs() int {
	if c.dir == "bidirectional" {
		return 2
	}
	return 1
}

func randFloats(r *rand.Rand, n int, scale float64) []float32 {
	f := make([]float32, n)
	for i := range f {
		f[i] = float32(r.NormFloat64() * scale)
	}
	return f
}

func dims64(xs ...int) []int64 {
	out := make([]int64, len(xs))
	for i, x := range xs {
		out[i] = int64(x)
	}
	return out
}

// rnnData are a case's tensors in ONNX layouts.
type rnnData struct {
	T, N, In, H int
	x, w, r, b  []float32
	h0, c0      []float32 // nil: zero
}

// stateAt returns element j of direction d, batch n of a state tensor.
func (c rnnCase) stateAt(s []float32, dt rnnData, d, n, j int) float64 {
	if s == nil {
		return 0
	}
	if c.layout == 1 {
		return float64(s[(n*c.dirs()+d)*dt.H+j])
	}
	return float64(s[(d*dt.N+n)*dt.H+j])
}

// reference returns Y, Y_h and Y_c in ONNX layouts.
func (c rnnCase) reference(dt rnnData) (y, yh, yc []float64) {
	D, G, T, N, In, H := c.dirs(), c.gates(), dt.T, dt.N, dt.In, dt.H
	y = make([]float64, T*D*N*H)
	yh, yc = make([]float64, D*N*H), make([]float64, D*N*H)
	yAt := func(t, d, n, j int) *float64 {
		if c.layout == 1 {
			return &y[((n*T+t)*D+d)*H+j]
		}
		return &y[((t*D+d)*N+n)*H+j]
	}
	sAt := func(s []float64, d, n, j int) *float64 {
		if c.layout == 1 {
			return &s[(n*D+d)*H+j]
		}
		return &s[(d*N+n)*H+j]
	}
	xAt := func(t, n, i int) float64 {
		if c.layout == 1 {
			return float64(dt.x[(n*T+t)*In+i])
		}
		return float64(dt.x[(t*N+n)*In+i])
	}
	bAt := func(d, k int) float64 { // B[d][k]
		if dt.b == nil {
			return 0
		}
		return float64(dt.b[d*2*G*H+k])
	}
	sig := func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }
	for d := range D {
		reverse := c.dir == "reverse" || d == 1
		for n := range N {
			h, cs := make([]float64, H), make([]float64, H)
			for j := range H {
				h[j], cs[j] = c.stateAt(dt.h0, dt, d, n, j), c.stateAt(dt.c0, dt, d, n, j)
			}
			for s := range T {
				t := s
				if reverse {
					t = T - 1 - s
				}
				// xw(g, j) = x·W_g + Wb_g; hr(g, j) = h·R_g (+ Rb_g when withRb).
				xw := func(g, j int) float64 {
					v := bAt(d, g*H+j)
					for i := range In {
						v += xAt(t, n, i) * float64(dt.w[(d*G*H+g*H+j)*In+i])
					}
					return v
				}
				hr := func(hv []float64, g, j int) float64 {
					v := bAt(d, G*H+g*H+j)
					for m := range H {
						v += hv[m] * float64(dt.r[(d*G*H+g*H+j)*H+m])
					}
					return v
				}
				nh, nc := make([]float64, H), make([]float64, H)
				switch c.op {
				case "LSTM": // blocks i o f c
					for j := range H {
						i := sig(xw(0, j) + hr(h, 0, j))
						o := sig(xw(1, j) + hr(h, 1, j))
						f := sig(xw(2, j) + hr(h, 2, j))
						g := math.Tanh(xw(3, j) + hr(h, 3, j))
						nc[j] = f*cs[j] + i*g
						nh[j] = o * math.Tanh(nc[j])
					}
				case "GRU": // blocks z r h
					z, r := make([]float64, H), make([]float64, H)
					for j := range H {
						z[j] = sig(xw(0, j) + hr(h, 0, j))
						r[j] = sig(xw(1, j) + hr(h, 1, j))
					}
					rh := make([]float64, H)
					for m := range H {
						rh[m] = r[m] * h[m]
					}
					for j := range H {
						var hc float64
						if c.lbr {
							hc = math.Tanh(xw(2, j) + r[j]*hr(h, 2, j))
						} else {
							hc = math.Tanh(xw(2, j) + hr(rh, 2, j))
						}
						nh[j] = (1-z[j])*hc + z[j]*h[j]
					}
				default:
					for j := range H {
						nh[j] = math.Tanh(xw(0, j) + hr(h, 0, j))
					}
				}
				h, cs = nh, nc
				for j := range H {
					*yAt(t, d, n, j) = h[j]
				}
			}
			for j := range H {
				*sAt(yh, d, n, j), *sAt(yc, d, n, j) = h[j], cs[j]
			}
		}
	}
	return y, yh, yc
}

// model encodes the case's node with W, R, B (and zero states, sequence
// lengths) as initializers, X and the states as inputs.
func (c rnnCase) model(dt rnnData) []byte {
	D, G, H := c.dirs(), c.gates(), dt.H
	xd := []any{dt.T, dt.N, dt.In}
	sd := []int{D, dt.N, H}
	if c.layout == 1 {
		xd, sd = []any{dt.N, dt.T, dt.In}, []int{dt.N, D, H}
	}
	sdAny := []any{sd[0], sd[1], sd[2]}
	inits := [][]byte{
		tFloat("W", dims64(D, G*H, dt.In), dt.w),
		tFloat("R", dims64(D, G*H, H), dt.r),
	}
	ins := []string{"X", "W", "R", "", "", "", ""}
	inputs := [][]byte{vinfo("X", xd...)}
	if c.bias {
		inits = append(inits, tFloat("B", dims64(D, 2*G*H), dt.b))
		ins[3] = "B"
	}
	if c.seqLens {
		inits = append(inits, tInt("L", dims64(dt.N), ones64(dt.N, dt.T)))
		ins[4] = "L"
	}
	states := []string{"initial_h"}
	if c.op == "LSTM" {
		states = append(states, "initial_c")
	}
	for i, st := range states {
		switch {
		case c.initial:
			inputs = append(inputs, vinfo(st, sdAny...))
		case c.zeroState:
			inits = append(inits, tFloat(st, dims64(sd...), make([]float32, D*dt.N*H)))
		default:
			continue
		}
		ins[5+i] = st
	}
	for len(ins) > 3 && ins[len(ins)-1] == "" {
		ins = ins[:len(ins)-1]
	}
	outs := []string{"Y", "Y_h"}
	if c.noY {
		outs[0] = ""
	}
	yd := []any{dt.T, D, dt.N, H}
	if c.layout == 1 {
		yd = []any{dt.N, dt.T, D, H}
	}
	outputs := [][]byte{vinfo("Y_h", sdAny...)}
	if !c.noY {
		outputs = append(outputs, vinfo("Y", yd...))
	}
	if c.op == "LSTM" {
		outs = append(outs, "Y_c")
		outputs = append(outputs, vinfo("Y_c", sdAny...))
	}
	attrs := [][]byte{aInt("hidden_size", int64(H)), aStr("direction", c.dir)}
	if c.layout != 0 {
		attrs = append(attrs, aInt("layout", int64(c.layout)))
	}
	if c.lbr {
		attrs = append(attrs, aInt("linear_before_reset", 1))
	}
	opset := c.opset
	if opset == 0 {
		opset = 14
	}
	return graphSpec{opset: opset, nodes: [][]byte{nodeB(c.op, ins, outs, attrs...)}, inits: inits,
		inputs: inputs, outputs: outputs}.bytes()
}

func ones64(n, v int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(v)
	}
	return out
}

func TestRecurrentOps(t *testing.T) {
	cases := []rnnCase{
		{op: "LSTM", dir: "forward", bias: true, initial: true},
		{op: "LSTM", dir: "bidirectional", layout: 1, bias: true, initial: true},
		{op: "LSTM", dir: "reverse", noY: true},
		{op: "LSTM", dir: "bidirectional", zeroState: true, seqLens: true},
		{op: "LSTM", dir: "forward", bias: true, opset: 7},
		{op: "GRU", dir: "forward", bias: true, initial: true},
		{op: "GRU", dir: "bidirectional", bias: true, initial: true},
		{op: "GRU", dir: "reverse", layout: 1, lbr: true, bias: true, initial: true},
		{op: "GRU", dir: "bidirectional", layout: 1, lbr: true, bias: true},
		{op: "GRU", dir: "forward", lbr: true, zeroState: true},
		{op: "RNN", dir: "bidirectional", layout: 1, bias: true, initial: true},
		{op: "RNN", dir: "reverse", seqLens: true, noY: true},
	}
	r := rand.New(rand.NewPCG(13, 14))
	for _, c := range cases {
		t.Run(c.String(), func(t *testing.T) {
			dt := rnnData{T: 3, N: 2, In: 4, H: 3}
			D, G := c.dirs(), c.gates()
			dt.x = randFloats(r, dt.T*dt.N*dt.In, 1)
			dt.w = randFloats(r, D*G*dt.H*dt.In, 0.5)
			dt.r = randFloats(r, D*G*dt.H*dt.H, 0.5)
			if c.bias {
				dt.b = randFloats(r, D*2*G*dt.H, 0.5)
			}
			sd := ir.Shape{D, dt.N, dt.H}
			if c.layout == 1 {
				sd = ir.Shape{dt.N, D, dt.H}
			}
			xs := ir.Shape{dt.T, dt.N, dt.In}
			if c.layout == 1 {
				xs = ir.Shape{dt.N, dt.T, dt.In}
			}
			feeds := map[string]*ir.Tensor{"X": ir.FloatTensor(xs, dt.x)}
			if c.initial {
				dt.h0 = randFloats(r, sd.Size(), 1)
				feeds["initial_h"] = ir.FloatTensor(sd, dt.h0)
				if c.op == "LSTM" {
					dt.c0 = randFloats(r, sd.Size(), 1)
					feeds["initial_c"] = ir.FloatTensor(sd, dt.c0)
				}
			}
			g, err := Decode(c.model(dt), c.op, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Validate(); err != nil {
				t.Fatal(err)
			}
			outs, err := ir.Run(g, feeds)
			if err != nil {
				t.Fatal(err)
			}
			y, yh, yc := c.reference(dt)
			want := map[string][]float64{"Y": y, "Y_h": yh, "Y_c": yc}
			for i, name := range g.Outputs {
				got, w := outs[i], want[name]
				if got.Len() != len(w) {
					t.Fatalf("%s has %d elements (shape %v), want %d", name, got.Len(), got.Shape, len(w))
				}
				for j := range w {
					if d := math.Abs(float64(got.F[j]) - w[j]); d > 1e-5+1e-5*math.Abs(w[j]) {
						t.Fatalf("%s element %d is %v, want %v", name, j, got.F[j], w[j])
					}
				}
			}
			if c.zeroState {
				// A zero initial state is left out: the first step has no
				// recurrent product, so each direction has T-1 of them.
				if n := g.OpCounts()[ir.OpMatMul]; n != D*dt.T {
					t.Errorf("%d MatMuls, want %d (one input projection and %d recurrent products per direction)", n, D*dt.T, dt.T-1)
				}
			}
		})
	}
}

func TestRecurrentErrors(t *testing.T) {
	const T, N, In, H = 2, 1, 2, 2
	lstm := func(extraIn []string, inits [][]byte, attrs ...[]byte) []byte {
		ins := append([]string{"X", "W", "R"}, extraIn...)
		inits = append([][]byte{tFloat("W", dims64(1, 4*H, In), ones(4*H*In, 0.1)), tFloat("R", dims64(1, 4*H, H), ones(4*H*H, 0.1))}, inits...)
		return graphSpec{opset: 14, nodes: [][]byte{nodeB("LSTM", ins, s("", "Y_h"), attrs...)}, inits: inits,
			inputs: [][]byte{vinfo("X", T, N, In)}, outputs: [][]byte{vinfo("Y_h", 1, N, H)}}.bytes()
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"activations", lstm(nil, nil, aStrs("activations", "Relu", "Tanh", "Tanh")), `attribute activations=[Relu Tanh Tanh] is not supported`},
		{"activation-alpha", lstm(nil, nil, aFloats("activation_alpha", 1)), "attribute activation_alpha is not supported"},
		{"clip", lstm(nil, nil, aFloat("clip", 3)), "attribute clip is not supported"},
		{"input-forget", lstm(nil, nil, aInt("input_forget", 1)), "attribute input_forget=1 is not supported"},
		{"direction", lstm(nil, nil, aStr("direction", "sideways")), `attribute direction="sideways" is not supported`},
		{"bidirectional-weights", lstm(nil, nil, aStr("direction", "bidirectional")), "do not match"},
		{"layout", lstm(nil, nil, aInt("layout", 2)), "attribute layout=2 is not supported"},
		{"hidden-size", lstm(nil, nil, aInt("hidden_size", 3)), "hidden_size=3 disagrees with R"},
		{"short-sequence", lstm(s("", "L"), [][]byte{tInt("L", dims64(N), []int64{1})}), "only full sequences"},
		{"peepholes", lstm(s("", "", "", "", "P"), [][]byte{tFloat("P", dims64(1, 3*H), ones(3*H, 0))}), "input P (peepholes) is not supported"},
		{"bias-shape", lstm(s("B"), [][]byte{tFloat("B", dims64(1, 4*H), ones(4*H, 0))}), "B has shape [1×8], want [1×16]"},
		{"state-shape", lstm(s("", "", "h"), [][]byte{tFloat("h", dims64(1, N, H+1), ones(N*(H+1), 0))}), "initial_h has shape [1×1×3], want [1×1×2]"},
		{"unroll-limit", graphSpec{opset: 14, nodes: [][]byte{nodeB("RNN", s("X", "W", "R"), s("", "Y_h"))},
			inits:  [][]byte{tFloat("W", dims64(1, 1, 1), ones(1, 1)), tFloat("R", dims64(1, 1, 1), ones(1, 1))},
			inputs: [][]byte{vinfo("X", maxUnrolledSteps+1, 1, 1)}, outputs: [][]byte{vinfo("Y_h", 1, 1, 1)}}.bytes(),
			"more than 16384 steps"},
		{"gru-linear-before-reset", graphSpec{opset: 14, nodes: [][]byte{nodeB("GRU", s("X", "W", "R"), s("", "Y_h"), aInt("linear_before_reset", 2))},
			inits:  [][]byte{tFloat("W", dims64(1, 3, 1), ones(3, 1)), tFloat("R", dims64(1, 3, 1), ones(3, 1))},
			inputs: [][]byte{vinfo("X", 1, 1, 1)}, outputs: [][]byte{vinfo("Y_h", 1, 1, 1)}}.bytes(),
			"linear_before_reset=2 is not valid"},
		{"opset-6", graphSpec{opset: 6, nodes: [][]byte{nodeB("RNN", s("X", "W", "R"), s("", "Y_h"))},
			inputs: [][]byte{vinfo("X", 1, 1, 1)}, outputs: [][]byte{vinfo("Y_h", 1, 1, 1)}}.bytes(), "RNN before opset 7 is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.data, tt.name, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	// The default activations, given explicitly, import.
	if _, err := Decode(lstm(nil, nil, aStrs("activations", "Sigmoid", "Tanh", "Tanh")), "defaults", Options{}); err != nil {
		t.Errorf("explicit default activations: %v", err)
	}
}
