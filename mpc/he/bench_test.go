package he

import (
	"math/rand/v2"
	"testing"

	"veil/tensor"
)

// benchLayers are layers of real models.
var benchLayers = []struct {
	name string
	cp   tensor.ConvParams
	mm   [3]int // m, k, n of a matmul when cp is zero
}{
	{name: "LeNet-conv1-28x28x1-5x5x6", cp: conv(1, 1, 28, 28, 6, 5, 5, 1, 0, 1)},
	{name: "ResNet-conv3x3-56x56x64", cp: conv(1, 64, 56, 56, 64, 3, 3, 1, 1, 1)},
	{name: "ResNet50-conv1-224x224x3-7x7s2", cp: conv(1, 3, 224, 224, 64, 7, 7, 2, 3, 1)},
	{name: "ResNet50-conv1x1-56x56x256-64", cp: conv(1, 256, 56, 56, 64, 1, 1, 1, 0, 1)},
	{name: "ResNet50-conv3x3s2-28x28x128", cp: conv(1, 128, 56, 56, 128, 3, 3, 2, 1, 1)},
	{name: "MobileNet-dw3x3-112x112x32", cp: conv(1, 32, 112, 112, 32, 3, 3, 1, 1, 32)},
	{name: "ResNet50-fc-2048x1000", mm: [3]int{1, 2048, 1000}},
}

func benchLayer(b *testing.B, i int) Layer {
	p := Default()
	bl := benchLayers[i]
	var l Layer
	var err error
	if bl.mm[0] != 0 {
		l, err = NewMatMul(p, bl.mm[0], bl.mm[1], bl.mm[2], p.LogT())
	} else {
		l, err = NewConv(p, bl.cp, p.LogT())
	}
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// loop runs f b.N times and reports the CPU time it took per operation
// (on a shared machine wall time measures the other load as well).
func loop(b *testing.B, f func() error) {
	start := cpuTime()
	for b.Loop() {
		if err := f(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-start)/1e6/float64(b.N), "cpu-ms/op")
}

func reportBytes(b *testing.B, l Layer) {
	q, r := l.Ciphertexts()
	b.ReportMetric(float64(l.QueryBytes()), "query-B")
	b.ReportMetric(float64(l.ResponseBytes()), "resp-B")
	b.ReportMetric(float64(q+r), "cts")
}

// BenchmarkEncrypt measures the client's query of each layer.
func BenchmarkEncrypt(b *testing.B) {
	ps := newParties(b, Default())
	for i, bl := range benchLayers {
		b.Run(bl.name, func(b *testing.B) {
			l := benchLayer(b, i)
			x := randVec(rand.New(rand.NewPCG(1, 1)), l.InputLen(), 0)
			loop(b, func() error { _, err := ps.c.EncryptInput(l, x); return err })
			reportBytes(b, l)
		})
	}
}

// BenchmarkEval measures the server's evaluation of each layer.
func BenchmarkEval(b *testing.B) {
	ps := newParties(b, Default())
	for i, bl := range benchLayers {
		b.Run(bl.name, func(b *testing.B) {
			l := benchLayer(b, i)
			rng := rand.New(rand.NewPCG(1, 1))
			x, w := randVec(rng, l.InputLen(), 0), randVec(rng, l.WeightLen(), 0)
			q, err := ps.c.EncryptInput(l, x)
			if err != nil {
				b.Fatal(err)
			}
			loop(b, func() error { _, _, err := ps.s.Eval(l, w, x, q); return err })
			reportBytes(b, l)
		})
	}
}

// BenchmarkDecrypt measures the client's decryption of each layer's
// response.
func BenchmarkDecrypt(b *testing.B) {
	ps := newParties(b, Default())
	for i, bl := range benchLayers {
		b.Run(bl.name, func(b *testing.B) {
			l := benchLayer(b, i)
			rng := rand.New(rand.NewPCG(1, 1))
			x, w := randVec(rng, l.InputLen(), 0), randVec(rng, l.WeightLen(), 0)
			q, err := ps.c.EncryptInput(l, x)
			if err != nil {
				b.Fatal(err)
			}
			resp, _, err := ps.s.Eval(l, w, x, q)
			if err != nil {
				b.Fatal(err)
			}
			loop(b, func() error { _, err := ps.c.DecryptOutput(l, resp); return err })
			reportBytes(b, l)
		})
	}
}

func BenchmarkMulAdd(b *testing.B) {
	p := Default()
	x, y, z := p.ringQ.NewPoly(), p.ringQ.NewPoly(), p.ringQ.NewPoly()
	for b.Loop() {
		p.ringQ.MulCoeffsMontgomeryThenAdd(x, y, z)
	}
}
