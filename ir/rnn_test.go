package ir

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// The recurrent cells are checked against direct float64 recurrences
// written from ONNX's equations (see rnn.go), gate by gate.

func sigmoid64(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// mat is a row-major float64 matrix view of a constant.
type mat struct {
	rows, cols int
	v          []float64
}

func matOf(t *Tensor) mat {
	m := mat{rows: t.Shape[0], cols: t.Shape[1], v: make([]float64, len(t.F))}
	for i, f := range t.F {
		m.v[i] = float64(f)
	}
	return m
}

// vecMat returns x·m for a row vector x.
func vecMat(x []float64, m mat) []float64 {
	out := make([]float64, m.cols)
	for j := range out {
		for i, xi := range x {
			out[j] += xi * m.v[i*m.cols+j]
		}
	}
	return out
}

func vecOf(t *Tensor, n int) []float64 {
	out := make([]float64, n)
	if t != nil {
		for i := range out {
			out[i] = float64(t.F[i])
		}
	}
	return out
}

// cellCase holds random per-gate weights as constants named after the
// gate ("w0", "r0", "wb0", "rb0" …).
type cellCase struct {
	in, hidden, gates int
	consts            map[string]*Tensor
	noWB, noRB        []bool // per gate: leave that bias out
}

func newCellCase(r *rand.Rand, in, hidden, gates int, noWB, noRB []bool) *cellCase {
	c := &cellCase{in: in, hidden: hidden, gates: gates, consts: map[string]*Tensor{}, noWB: noWB, noRB: noRB}
	for k := range gates {
		c.consts[fmt.Sprintf("w%d", k)] = randTensor(r, Shape{in, hidden})
		c.consts[fmt.Sprintf("r%d", k)] = randTensor(r, Shape{hidden, hidden})
		if noWB == nil || !noWB[k] {
			c.consts[fmt.Sprintf("wb%d", k)] = randTensor(r, Shape{hidden})
		}
		if noRB == nil || !noRB[k] {
			c.consts[fmt.Sprintf("rb%d", k)] = randTensor(r, Shape{hidden})
		}
	}
	return c
}

// name returns the constant's name, or "" when the case leaves it out.
func (c *cellCase) name(kind string, k int) string {
	s := fmt.Sprintf("%s%d", kind, k)
	if c.consts[s] == nil {
		return ""
	}
	return s
}

func (c *cellCase) W(k int) mat { return matOf(c.consts[fmt.Sprintf("w%d", k)]) }
func (c *cellCase) R(k int) mat { return matOf(c.consts[fmt.Sprintf("r%d", k)]) }
func (c *cellCase) WB(k int) []float64 {
	return vecOf(c.consts[fmt.Sprintf("wb%d", k)], c.hidden)
}
func (c *cellCase) RB(k int) []float64 {
	return vecOf(c.consts[fmt.Sprintf("rb%d", k)], c.hidden)
}

// pre returns x·W_k + h·R_k + Wb_k + Rb_k.
func (c *cellCase) pre(k int, x, h []float64) []float64 {
	a, b := vecMat(x, c.W(k)), vecMat(h, c.R(k))
	wb, rb := c.WB(k), c.RB(k)
	for j := range a {
		a[j] += b[j] + wb[j] + rb[j]
	}
	return a
}

func apply(f func(float64) float64, v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = f(x)
	}
	return out
}

// refStep is one step of the reference for one batch row; gates are
// numbered as the test passes them (LSTM i f c o, GRU z r h).
func (c *cellCase) refStep(kind string, lbr bool, act func(float64) float64, x, h, cs []float64) ([]float64, []float64) {
	hn := make([]float64, c.hidden)
	switch kind {
	case "LSTM":
		i := apply(sigmoid64, c.pre(0, x, h))
		f := apply(sigmoid64, c.pre(1, x, h))
		g := apply(math.Tanh, c.pre(2, x, h))
		o := apply(sigmoid64, c.pre(3, x, h))
		cn := make([]float64, c.hidden)
		for j := range cn {
			cn[j] = f[j]*cs[j] + i[j]*g[j]
			hn[j] = o[j] * math.Tanh(cn[j])
		}
		return hn, cn
	case "GRU":
		z := apply(sigmoid64, c.pre(0, x, h))
		r := apply(sigmoid64, c.pre(1, x, h))
		xh, wb, rb := vecMat(x, c.W(2)), c.WB(2), c.RB(2)
		var rec []float64
		if lbr {
			hr := vecMat(h, c.R(2))
			rec = make([]float64, c.hidden)
			for j := range rec {
				rec[j] = r[j] * (hr[j] + rb[j])
			}
		} else {
			rh := make([]float64, c.hidden)
			for j := range rh {
				rh[j] = r[j] * h[j]
			}
			rec = vecMat(rh, c.R(2))
			for j := range rec {
				rec[j] += rb[j]
			}
		}
		for j := range hn {
			hc := math.Tanh(xh[j] + rec[j] + wb[j])
			hn[j] = (1-z[j])*hc + z[j]*h[j]
		}
		return hn, nil
	}
	return apply(act, c.pre(0, x, h)), nil
}

// rows returns row n of a [N, H] tensor (zeros for nil).
func rows(t *Tensor, n, h int) []float64 {
	out := make([]float64, h)
	if t != nil {
		for j := range out {
			out[j] = float64(t.F[n*h+j])
		}
	}
	return out
}

type unrollCase struct {
	kind     string
	lbr      bool
	act      Activation // RNN only
	timeAxis int
	reverse  bool
	state    bool // non-zero initial state
	noWB     []bool
	noRB     []bool
}

func (u unrollCase) String() string {
	return fmt.Sprintf("%s/lbr=%v/%s/time%d/reverse=%v/state=%v/noWB=%v/noRB=%v", u.kind, u.lbr, u.act.Op, u.timeAxis, u.reverse, u.state, u.noWB, u.noRB)
}

func TestCellUnroll(t *testing.T) {
	cases := []unrollCase{
		{kind: "LSTM"},
		{kind: "LSTM", timeAxis: 1, reverse: true, state: true},
		{kind: "LSTM", state: true, noWB: []bool{true, false, true, false}, noRB: []bool{true, true, false, false}},
		{kind: "LSTM", noWB: []bool{true, true, true, true}, noRB: []bool{true, true, true, true}},
		{kind: "GRU"},
		{kind: "GRU", state: true, reverse: true},
		{kind: "GRU", lbr: true},
		{kind: "GRU", lbr: true, state: true, timeAxis: 1},
		{kind: "GRU", lbr: true, noRB: []bool{false, false, true}},
		{kind: "GRU", lbr: true, state: true, noWB: []bool{true, true, true}, noRB: []bool{true, true, true}},
		{kind: "GRU", state: true, noWB: []bool{true, false, true}},
		{kind: "RNN"},
		{kind: "RNN", act: Activation{Op: OpRelu}, state: true, reverse: true, timeAxis: 1},
		{kind: "RNN", act: Activation{Op: OpSigmoid}, noWB: []bool{true}, noRB: []bool{true}},
		{kind: "RNN", act: Activation{Op: OpHardSigmoid, Alpha: 1.0 / 6, Beta: 0.5}, state: true},
		{kind: "RNN", act: Activation{Op: OpSilu}},
		{kind: "RNN", act: Activation{Op: OpHardSwish}, state: true},
	}
	r := rand.New(rand.NewPCG(7, 8))
	const T, N, In, H = 4, 2, 3, 5
	for _, uc := range cases {
		t.Run(uc.String(), func(t *testing.T) {
			gates := map[string]int{"LSTM": 4, "GRU": 3, "RNN": 1}[uc.kind]
			c := newCellCase(r, In, H, gates, uc.noWB, uc.noRB)
			xs := Shape{T, N, In}
			if uc.timeAxis == 1 {
				xs = Shape{N, T, In}
			}
			x := randTensor(r, xs)
			var h0, c0 *Tensor
			if uc.state {
				h0, c0 = randTensor(r, Shape{N, H}), randTensor(r, Shape{N, H})
				c.consts["h0"], c.consts["c0"] = h0, c0
			}
			g := NewGraph("rnn")
			if err := g.AddInput("x", xs); err != nil {
				t.Fatal(err)
			}
			for name, v := range c.consts {
				if err := g.AddConst(name, v); err != nil {
					t.Fatal(err)
				}
			}
			var cell *Cell
			var err error
			n := func(kind string, k int) string { return c.name(kind, k) }
			switch uc.kind {
			case "LSTM":
				cell, err = g.NewLSTMCell("lstm", LSTMWeights{
					W:  LSTMGates{n("w", 0), n("w", 1), n("w", 2), n("w", 3)},
					R:  LSTMGates{n("r", 0), n("r", 1), n("r", 2), n("r", 3)},
					WB: LSTMGates{n("wb", 0), n("wb", 1), n("wb", 2), n("wb", 3)},
					RB: LSTMGates{n("rb", 0), n("rb", 1), n("rb", 2), n("rb", 3)}})
			case "GRU":
				cell, err = g.NewGRUCell("gru", GRUWeights{
					W:  GRUGates{n("w", 0), n("w", 1), n("w", 2)},
					R:  GRUGates{n("r", 0), n("r", 1), n("r", 2)},
					WB: GRUGates{n("wb", 0), n("wb", 1), n("wb", 2)},
					RB: GRUGates{n("rb", 0), n("rb", 1), n("rb", 2)}, LinearBeforeReset: uc.lbr})
			default:
				cell, err = g.NewRNNCell("rnn", RNNWeights{W: n("w", 0), R: n("r", 0), WB: n("wb", 0), RB: n("rb", 0), Act: uc.act})
			}
			if err != nil {
				t.Fatal(err)
			}
			hIn, cIn := "", ""
			if uc.state {
				hIn = "h0"
				if uc.kind == "LSTM" {
					cIn = "c0"
				}
			}
			seq, err := cell.Unroll("x", uc.timeAxis, hIn, cIn, uc.reverse)
			if err != nil {
				t.Fatal(err)
			}
			outs := append(append([]string{}, seq.H...), seq.Last)
			if uc.kind == "LSTM" {
				outs = append(outs, seq.Cell)
			} else if seq.Cell != "" {
				t.Fatalf("a %s returned a cell state", uc.kind)
			}
			if err := g.SetOutputs(outs...); err != nil {
				t.Fatal(err)
			}
			if err := g.Validate(); err != nil {
				t.Fatal(err)
			}
			got, err := Run(g, map[string]*Tensor{"x": x})
			if err != nil {
				t.Fatal(err)
			}
			act := math.Tanh
			switch uc.act.Op {
			case OpRelu:
				act = func(v float64) float64 { return math.Max(v, 0) }
			case OpSigmoid:
				act = sigmoid64
			case OpHardSigmoid:
				a, b := float64(uc.act.Alpha), float64(uc.act.Beta)
				act = func(v float64) float64 { return math.Max(0, math.Min(1, a*v+b)) }
			case OpSilu:
				act = func(v float64) float64 { return v * sigmoid64(v) }
			case OpHardSwish:
				act = func(v float64) float64 { return v * math.Max(0, math.Min(1, v/6+0.5)) }
			}
			for b := range N {
				h, cs := rows(h0, b, H), rows(c0, b, H)
				for j := range T {
					ti := j
					if uc.reverse {
						ti = T - 1 - j
					}
					xt := make([]float64, In)
					for i := range xt {
						if uc.timeAxis == 0 {
							xt[i] = float64(x.F[(ti*N+b)*In+i])
						} else {
							xt[i] = float64(x.F[(b*T+ti)*In+i])
						}
					}
					h, cs = c.refStep(uc.kind, uc.lbr, act, xt, h, cs)
					closeRow(t, fmt.Sprintf("h[t=%d] row %d", ti, b), got[ti], b, h)
				}
				closeRow(t, "last h", got[T], b, h)
				if uc.kind == "LSTM" {
					closeRow(t, "last c", got[T+1], b, cs)
				}
			}
		})
	}
}

func closeRow(t *testing.T, what string, got *Tensor, b int, want []float64) {
	t.Helper()
	h := len(want)
	if len(got.Shape) != 2 || got.Shape[1] != h {
		t.Fatalf("%s: shape %v", what, got.Shape)
	}
	for j, w := range want {
		if g := float64(got.F[b*h+j]); !(math.Abs(g-w) <= 1e-5+1e-5*math.Abs(w)) {
			t.Fatalf("%s: element %d is %v, want %v", what, j, g, w)
		}
	}
}

// TestAddCell checks the one-step builders: the values they compute, and
// that the node computing hOut carries the node's name.
func TestAddCell(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const N, In, H = 3, 4, 2
	for _, kind := range []string{"LSTM", "GRU", "RNN"} {
		t.Run(kind, func(t *testing.T) {
			gates := map[string]int{"LSTM": 4, "GRU": 3, "RNN": 1}[kind]
			c := newCellCase(r, In, H, gates, nil, nil)
			h0, c0 := randTensor(r, Shape{N, H}), randTensor(r, Shape{N, H})
			c.consts["h0"], c.consts["c0"] = h0, c0
			x := randTensor(r, Shape{N, In})
			outs := []string{"h"}
			if kind == "LSTM" {
				outs = append(outs, "c")
			}
			var g *Graph
			got := runOn(t, x, c.consts, outs, func(gr *Graph) error {
				g = gr
				n := func(kind string, k int) string { return c.name(kind, k) }
				switch kind {
				case "LSTM":
					return gr.AddLSTMCell("cell", "x", "h0", "c0", LSTMWeights{
						W:  LSTMGates{I: n("w", 0), F: n("w", 1), C: n("w", 2), O: n("w", 3)},
						R:  LSTMGates{I: n("r", 0), F: n("r", 1), C: n("r", 2), O: n("r", 3)},
						WB: LSTMGates{I: n("wb", 0), F: n("wb", 1), C: n("wb", 2), O: n("wb", 3)},
						RB: LSTMGates{I: n("rb", 0), F: n("rb", 1), C: n("rb", 2), O: n("rb", 3)}}, "h", "c")
				case "GRU":
					return gr.AddGRUCell("cell", "x", "h0", GRUWeights{
						W:  GRUGates{Z: n("w", 0), R: n("w", 1), H: n("w", 2)},
						R:  GRUGates{Z: n("r", 0), R: n("r", 1), H: n("r", 2)},
						WB: GRUGates{Z: n("wb", 0), R: n("wb", 1), H: n("wb", 2)},
						RB: GRUGates{Z: n("rb", 0), R: n("rb", 1), H: n("rb", 2)}}, "h")
				}
				return gr.AddRNNCell("cell", "x", "h0", RNNWeights{W: "w0", R: "r0", WB: "wb0", RB: "rb0"}, "h")
			})
			if p := g.Producer("h"); p == nil || p.Name != "cell" {
				t.Errorf("the node computing h is %+v, want one named cell", p)
			}
			for b := range N {
				xt := rows(x, b, In)
				h, cs := c.refStep(kind, false, math.Tanh, xt, rows(h0, b, H), rows(c0, b, H))
				closeRow(t, "h", got[0], b, h)
				if kind == "LSTM" {
					closeRow(t, "c", got[1], b, cs)
				}
			}
		})
	}
}

func TestCellErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	c := newCellCase(r, 3, 2, 4, nil, nil)
	c.consts["wide"] = randTensor(r, Shape{3, 3})
	c.consts["bias3"] = randTensor(r, Shape{3})
	c.consts["int"] = IntTensor(Shape{3, 2}, make([]int64, 6))
	lstm := func(mod func(*LSTMWeights)) LSTMWeights {
		w := LSTMWeights{W: LSTMGates{"w0", "w1", "w2", "w3"}, R: LSTMGates{"r0", "r1", "r2", "r3"}}
		mod(&w)
		return w
	}
	tests := []struct {
		name string
		w    LSTMWeights
		want string
	}{
		{"missing-kernel", lstm(func(w *LSTMWeights) { w.R.F = "" }), "gate 2 has no kernel"},
		{"wrong-recurrent-shape", lstm(func(w *LSTMWeights) { w.R.C = "wide" }), `recurrent kernel of gate 3 "wide" has shape [3×3], want [2×2]`},
		{"wrong-bias", lstm(func(w *LSTMWeights) { w.WB.O = "bias3" }), `bias of gate 4 "bias3" has shape [3], want [2]`},
		{"integer-kernel", lstm(func(w *LSTMWeights) { w.W.I = "int" }), "is not a float tensor"},
		{"undefined", lstm(func(w *LSTMWeights) { w.W.I = "nope" }), `input "nope" is not defined`},
		{"activation", lstm(func(w *LSTMWeights) { w.Cell = Activation{Op: OpSoftmax} }), "activation Softmax is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewGraph("e")
			for name, v := range c.consts {
				if err := g.AddConst(name, v); err != nil {
					t.Fatal(err)
				}
			}
			_, err := g.NewLSTMCell("bad", tt.w)
			var ne *NodeError
			if err == nil || !strings.Contains(err.Error(), tt.want) || !asNodeError(err, &ne) || ne.Node != "bad" || ne.Op != "LSTM" {
				t.Fatalf("error %v, want a NodeError of node bad (LSTM) containing %q", err, tt.want)
			}
		})
	}
	g := NewGraph("e")
	for name, v := range c.consts {
		if err := g.AddConst(name, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.AddInput("x", Shape{2, 5, 4}); err != nil {
		t.Fatal(err)
	}
	cell, err := g.NewLSTMCell("ok", lstm(func(*LSTMWeights) {}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cell.Unroll("x", 0, "", "", false); err == nil || !strings.Contains(err.Error(), "want [..., 3]") {
		t.Errorf("Unroll of a sequence with 4 features into a cell of 3: %v", err)
	}
	if _, err := cell.Unroll("x", 2, "", "", false); err == nil || !strings.Contains(err.Error(), "time on axis 0 or 1") {
		t.Errorf("Unroll with time axis 2: %v", err)
	}
}
