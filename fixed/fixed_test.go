package fixed_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"veil/fixed"
	"veil/fixed/fixedtest"

	"veil/ir"
)

func TestCompileMatchesFloat(t *testing.T) {
	for _, l := range []ir.Layout{ir.NCHW, ir.NHWC} {
		t.Run(l.String(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, uint64(l)))
			g := fixedtest.MixedGraph(t, r, l, "softmax")
			p, err := fixed.Compile(g, 16)
			if err != nil {
				t.Fatal(err)
			}
			if p.Post != "softmax" {
				t.Errorf("post %q, want softmax", p.Post)
			}
			// One fixed.ScaleDown per secret multiplication (conv, dw, mul, div,
			// matmul, centred²) and per public one (leaky, avg, mean).
			if p.Stats.ScaleDowns != 9 {
				t.Errorf("%d ScaleDowns, want 9: %v", p.Stats.ScaleDowns, p.Stats.ByOp)
			}
			// The float graph without the trailing softmax is the reference.
			logitsName := g.Producer(g.Outputs[0]).Inputs[0]
			g.Outputs[0] = logitsName
			for trial := 0; trial < 5; trial++ {
				x := fixedtest.RandTensor(r, g.Values["x"].Shape, 1)
				want, err := ir.Run(g, map[string]*ir.Tensor{"x": x})
				if err != nil {
					t.Fatal(err)
				}
				got, err := p.Predict(x.F)
				if err != nil {
					t.Fatal(err)
				}
				for i := range got {
					if d := math.Abs(got[i] - float64(want[0].F[i])); d > 2e-3*math.Max(1, math.Abs(float64(want[0].F[i]))) {
						t.Fatalf("output %d: fixed %g, float %g", i, got[i], want[0].F[i])
					}
				}
			}
		})
	}
}

func TestEncodeDecode(t *testing.T) {
	for _, c := range []struct {
		x float64
		s int
		v int64
	}{{1, 12, 4096}, {-1, 12, -4096}, {0.5, 1, 1}, {-0.75, 2, -3}, {1.0 / 3, 8, 85}, {-1.0 / 3, 8, -85}} {
		if got := int64(fixed.Encode(c.x, c.s)); got != c.v {
			t.Errorf("fixed.Encode(%g, %d) = %d, want %d", c.x, c.s, got, c.v)
		}
		if d := fixed.Decode(fixed.Encode(c.x, c.s), c.s); math.Abs(d-c.x) > math.Pow(2, -float64(c.s)) {
			t.Errorf("fixed.Decode(fixed.Encode(%g)) = %g", c.x, d)
		}
	}
}

func TestProgramFileRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	g := fixedtest.MixedGraph(t, r, ir.NCHW, "softmax")
	p, err := fixed.Compile(g, 12)
	if err != nil {
		t.Fatal(err)
	}
	p.ScaleTable = []fixed.ScaleRow{{Scale: 12, FloatAccuracy: 0.9, FixedAccuracy: 0.9, N: 10}}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	q, err := fixed.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	x := fixedtest.RandTensor(r, ir.Shape{1, 3, 11, 11}, 1)
	a, _ := p.Run(p.EncodeInput(x.F))
	b, err := q.Run(q.EncodeInput(x.F))
	if err != nil {
		t.Fatal(err)
	}
	for i := range a[0] {
		if a[0][i] != b[0][i] {
			t.Fatalf("output %d differs after round trip", i)
		}
	}
	if q.Scale != 12 || len(q.ScaleTable) != 1 || q.Stats.ScaleDowns != p.Stats.ScaleDowns {
		t.Errorf("header fields lost: scale %d table %v", q.Scale, q.ScaleTable)
	}

	hdrEnd := 16 + int(uint32(data[12])|uint32(data[13])<<8|uint32(data[14])<<16|uint32(data[15])<<24)
	corrupt := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "magic"},
		{"magic", append([]byte("VEILPROX"), data[8:]...), "magic"},
		{"version", patch(data, 8, 9), "version"},
		{"truncated header", data[:100], "truncated"},
		{"truncated weights", data[:len(data)-8], "truncated"},
		{"trailing", append(append([]byte(nil), data...), 0), "unexpected bytes"},
		{"flipped weight", patch(data, len(data)-1, data[len(data)-1]^1), "hash"},
		{"bad json", patch(data, 16, '['), "header"},
		{"bad shape", bytes.Replace(data[:hdrEnd], []byte(`"shape":[8,3,3,3]`), []byte(`"shape":[8,3,3,4]`), 1), "truncated"},
	}
	for _, c := range corrupt {
		t.Run(c.name, func(t *testing.T) {
			_, err := fixed.Parse(c.data)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Parse: %v, want error containing %q", err, c.want)
			}
		})
	}
}

func patch(b []byte, i int, v byte) []byte {
	c := append([]byte(nil), b...)
	c[i] = v
	return c
}

func TestValidateRejectsBadPrograms(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	g := fixedtest.MixedGraph(t, r, ir.NCHW, "softmax")
	mk := func() *fixed.Program {
		p, err := fixed.Compile(g, 12)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name string
		edit func(p *fixed.Program)
		want string
	}{
		{"use before def", func(p *fixed.Program) { p.Instrs[0].In[0] = p.Instrs[1].Out }, "not defined"},
		{"bad shape", func(p *fixed.Program) { p.Tensors[p.Instrs[0].Out].Shape = ir.Shape{1, 8, 5, 5} }, "computes"},
		{"bad shift", func(p *fixed.Program) {
			for i := range p.Instrs {
				if p.Instrs[i].Op == fixed.ScaleDown {
					p.Instrs[i].Shift = 70
					return
				}
			}
		}, "shift"},
		{"bad op", func(p *fixed.Program) { p.Instrs[0].Op = "Frobnicate" }, "unknown op"},
		{"short weight", func(p *fixed.Program) {
			for _, tt := range p.Tensors {
				if tt.Kind == fixed.KindWeight {
					tt.Data = tt.Data[1:]
					return
				}
			}
		}, "values for shape"},
		{"no outputs", func(p *fixed.Program) { p.Outputs = nil }, "no outputs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mk()
			c.edit(p)
			if err := p.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate: %v, want %q", err, c.want)
			}
		})
	}
}

func TestCompileErrorsNameTheNode(t *testing.T) {
	g := ir.NewGraph("bad")
	g.AddInput("x", ir.Shape{1, 4})
	// A reciprocal of a secret value needs the traced range of its input.
	g.AddNode(&ir.Node{Name: "inv", Op: ir.OpReciprocal, Inputs: []string{"x"}, Output: "t"})
	g.AddNode(&ir.Node{Name: "r", Op: ir.OpRelu, Inputs: []string{"t"}, Output: "y"})
	g.SetOutputs("y")
	_, err := fixed.Compile(g, 12)
	if err == nil || !strings.Contains(err.Error(), `"inv"`) || !strings.Contains(err.Error(), "Reciprocal") {
		t.Fatalf("Compile: %v, want an error naming node inv (Reciprocal)", err)
	}
}

func TestArgMaxTies(t *testing.T) {
	for _, last := range []bool{false, true} {
		g := ir.NewGraph("argmax")
		g.AddInput("x", ir.Shape{1, 4})
		if err := g.AddNode(&ir.Node{Name: "am", Op: ir.OpArgMax, Inputs: []string{"x"}, Output: "y", Attrs: ir.Attrs{Axis: 1, SelectLast: last}}); err != nil {
			t.Fatal(err)
		}
		g.SetOutputs("y")
		p, err := fixed.Compile(g, 8)
		if err != nil {
			t.Fatal(err)
		}
		x := []float32{1, 3, -2, 3}
		got, err := p.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		fl, err := ir.Run(g, map[string]*ir.Tensor{"x": ir.FloatTensor(ir.Shape{1, 4}, x)})
		if err != nil {
			t.Fatal(err)
		}
		want := 1.0
		if last {
			want = 3
		}
		if got[0] != want || float64(fl[0].I[0]) != want {
			t.Errorf("SelectLast=%v: fixed %v float %v, want %v", last, got[0], fl[0].I[0], want)
		}
	}
}

func TestPublicProgramFile(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	g := fixedtest.MixedGraph(t, r, ir.NCHW, "softmax")
	p, err := fixed.Compile(g, 12)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := p.Public().Write(&buf); err != nil {
		t.Fatal(err)
	}
	q, err := fixed.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if q.HasWeightData() || q.PublicDigest() != p.PublicDigest() {
		t.Fatalf("public program round trip: weights %v, digest match %v", q.HasWeightData(), q.PublicDigest() == p.PublicDigest())
	}
	var full bytes.Buffer
	p.Write(&full)
	if buf.Len() >= full.Len() {
		t.Errorf("public program is %d bytes, full %d", buf.Len(), full.Len())
	}
	// A public program cannot run in the clear.
	if _, err := q.Run(q.EncodeInput(make([]float32, q.Tensors[q.Inputs[0]].Shape.Size()))); err == nil {
		t.Error("a program without weights ran in the clear")
	}
}
