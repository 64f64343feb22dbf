package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// resnetConv is ResNet's 3×3×256 convolution on a 14×14 map.
var resnetConv = ConvParams{N: 1, C: 256, H: 14, W: 14, O: 256, KH: 3, KW: 3, SH: 1, SW: 1,
	PadT: 1, PadL: 1, PadB: 1, PadR: 1, Group: 1}

func benchMatMul(b *testing.B, m, k, n int) {
	r := rand.New(rand.NewPCG(7, 7))
	x, y := randRing(r, m*k), randRing(r, k*n)
	dst := make([]uint64, m*n)
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		MatMul(dst, x, y, m, k, n)
	}
	reportMACs(b, float64(m)*float64(k)*float64(n), cpuTime()-cpu0)
}

// reportMACs reports multiply-adds per second of wall time and, since
// other processes may share the machine, per second of this process's
// CPU time (the rate of one core kept busy).
func reportMACs(b *testing.B, macsPerOp float64, cpu time.Duration) {
	macs := macsPerOp * float64(b.N)
	b.ReportMetric(macs/b.Elapsed().Seconds()/1e6, "MMAC/s")
	if cpu > 0 {
		b.ReportMetric(macs/cpu.Seconds()/1e6, "MMAC/cpu-s")
	}
}

func BenchmarkMatMulU64(b *testing.B) {
	for _, s := range [][3]int{{64, 64, 64}, {256, 256, 256}, {512, 512, 512}, {256, 2304, 196}, {1, 2048, 1000}, {8, 2048, 1000}} {
		b.Run(fmt.Sprintf("%dx%dx%d", s[0], s[1], s[2]), func(b *testing.B) { benchMatMul(b, s[0], s[1], s[2]) })
	}
}

func BenchmarkConv2DU64(b *testing.B) {
	cases := map[string]ConvParams{
		"resnet3x3x256@14": resnetConv,
		"dw3x3x96@56":      {N: 1, C: 96, H: 56, W: 56, O: 96, KH: 3, KW: 3, SH: 1, SW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Group: 96},
		"pw1x1x96to24@56":  {N: 1, C: 96, H: 56, W: 56, O: 24, KH: 1, KW: 1, SH: 1, SW: 1, Group: 1},
	}
	for name, p := range cases {
		b.Run(name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(8, 8))
			x := randRing(r, p.N*p.C*p.H*p.W)
			w := randRing(r, p.O*(p.C/p.Group)*p.KH*p.KW)
			dst := make([]uint64, p.N*p.O*p.OutH()*p.OutW())
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				Conv2D(dst, x, w, p)
			}
			reportMACs(b, float64(p.N*p.O*p.OutH()*p.OutW())*float64(p.C/p.Group*p.KH*p.KW), cpuTime()-cpu0)
		})
	}
}
