package porthos

import (
	"testing"
	"time"

	"veil/mpc"
)

// BenchmarkLeNet3PC runs one Fashion-MNIST LeNet inference per iteration
// with all three parties in this process over mpc.NewLocal, each in a
// fresh session (setup included). It reports milliseconds per image,
// payload bytes sent per party and rounds.
func BenchmarkLeNet3PC(b *testing.B) {
	bench3PC(b, "fashion_lenet", "testdata/data/fashion-mnist/test", 0)
}

// BenchmarkResNet3PC is BenchmarkLeNet3PC for the MNIST ResNet.
func BenchmarkResNet3PC(b *testing.B) {
	bench3PC(b, "mnist_resnet", "testdata/data/mnist/test", 0)
}

// BenchmarkMLP3PC is BenchmarkLeNet3PC for the digits MLP.
func BenchmarkMLP3PC(b *testing.B) {
	bench3PC(b, "digits_mlp", "testdata/data/digits/test.csv", 16)
}

func bench3PC(b *testing.B, model, data string, pixelMax float64) {
	prog := loadProgram(b, model, 12)
	xs, _ := loadInputs(b, prog, data, pixelMax, 8)
	pub := prog.Public()
	var st [3]mpc.Cost
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		nets := mpc.NewLocal(3, 30*time.Second)
		x := xs[i%len(xs)]
		_, errs := run3nets(nets, func(e *Engine) error {
			_, err := runRole(e, prog, pub, x)
			st[e.me] = e.Cost()
			return err
		})
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/image")
	for p, s := range st {
		b.ReportMetric(float64(s.TotalSent()), "B/"+[]string{"P0", "P1", "P2"}[p])
	}
	b.ReportMetric(float64(st[0].Rounds), "rounds")
}
