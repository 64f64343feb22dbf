package session

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"veil/fixed"
	"veil/internal/testmodel"
	"veil/mpc"
	_ "veil/mpc/porthos" // the 3pc backend
)

func lenetProgram(t *testing.T) (*fixed.Program, [][]float32) {
	t.Helper()
	p := testmodel.Program(t, "fashion_lenet", 12)
	xs, _ := testmodel.Images(t, p, "data/fashion-mnist/test", 0, 8)
	return p, xs
}

func TestLoopbackMatchesCleartext(t *testing.T) {
	p, xs := lenetProgram(t)
	res, err := RunLoopback(context.Background(), p, xs, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.Program.HasWeightData() {
		t.Fatal("the client received the weights")
	}
	if len(res.Outputs) != len(xs) {
		t.Fatalf("%d outputs for %d inputs", len(res.Outputs), len(xs))
	}
	for i, x := range xs {
		clear, err := p.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		if fixed.Top1(res.Outputs[i]) != fixed.Top1(clear) {
			t.Errorf("image %d: secure top-1 %d, cleartext %d", i, fixed.Top1(res.Outputs[i]), fixed.Top1(clear))
		}
	}
	for _, r := range res.Reports {
		if r == nil || r.N != len(xs) || r.Cost.Rounds == 0 || r.Net.TotalSent() == 0 {
			t.Fatalf("report %+v", r)
		}
	}
}

func TestLoopbackRefusesBadInput(t *testing.T) {
	p, xs := lenetProgram(t)
	cases := []struct {
		name   string
		prog   *fixed.Program
		inputs [][]float32
		want   string
	}{
		{"wrong input size", p, [][]float32{xs[0][:100]}, "input 0: 100 input values, but program"},
		{"server without weights", p.Public(), xs[:1], "has no weights"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			_, err := RunLoopback(context.Background(), c.prog, c.inputs, 5*time.Second)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("RunLoopback: %v, want %q", err, c.want)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v to fail", d)
			}
		})
	}
}

// BenchmarkLoopbackLeNet measures one secure Fashion-MNIST LeNet inference
// with the three parties in this process, each over its own TLS
// connections on 127.0.0.1 (setup excluded: one session runs b.N
// inferences).
func BenchmarkLoopbackLeNet(b *testing.B) {
	t := &testing.T{}
	p, xs := lenetProgram(t)
	inputs := make([][]float32, b.N)
	for i := range inputs {
		inputs[i] = xs[i%len(xs)]
	}
	b.ResetTimer()
	res, err := RunLoopback(context.Background(), p, inputs, DefaultTimeout)
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	var sent int64
	for _, r := range res.Reports {
		sent += r.Net.TotalSent()
	}
	b.ReportMetric(float64(sent)/float64(b.N)/(1<<20), "MiB/op")
	b.ReportMetric(float64(res.Reports[0].Cost.Rounds)/float64(b.N), "rounds/op")
}

// TestSettingsMustAgree runs a session whose parties pick different
// backend settings, or settings no backend takes: every party stops with
// an error that says what differs, before any protocol message.
func TestSettingsMustAgree(t *testing.T) {
	p, xs := lenetProgram(t)
	fast := Options{BackendOptions: mpc.Options{"compare": "fast"}}
	paper := Options{BackendOptions: mpc.Options{"compare": "porthos"}}
	cases := []struct {
		name string
		opt  [3]Options
		want [3]string // "" where the party must succeed
	}{
		{"same", [3]Options{fast, fast, fast}, [3]string{}},
		{"client differs", [3]Options{paper, fast, fast}, [3]string{"P1 (server) runs backend 3pc with options map[compare:fast]; P2", "P0 (client) runs backend 3pc with options map[compare:porthos], this party", "P0 (client) runs"}},
		{"helper differs", [3]Options{fast, fast, paper}, [3]string{"P2 (helper) runs", "P2 (helper) runs", "P0 (client) runs backend 3pc with options map[compare:fast]; P1"}},
		{"unknown backend", [3]Options{{Backend: "9pc"}, fast, fast}, [3]string{`unknown secure backend "9pc"`, "P0", "P0"}},
		{"unknown option", [3]Options{fast, {BackendOptions: mpc.Options{"speed": "max"}}, fast}, [3]string{"P1", `no option "speed"`, "P1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			nets := mpc.NewLocal(3, 2*time.Second)
			var errs [3]error
			var wg sync.WaitGroup
			for i := range nets {
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer nets[i].Close()
					switch mpc.Party(i) {
					case mpc.P0:
						_, _, _, errs[i] = Client(context.Background(), nets[i], c.opt[i], func(*fixed.Program) ([][]float32, error) { return xs[:1], nil })
					case mpc.P1:
						_, errs[i] = Server(context.Background(), nets[i], p, c.opt[i])
					default:
						_, errs[i] = Helper(context.Background(), nets[i], c.opt[i])
					}
					if errs[i] != nil {
						nets[i].Close() // a party that stops hangs up
					}
				}()
			}
			wg.Wait()
			for i, want := range c.want {
				switch {
				case want == "" && errs[i] != nil:
					t.Errorf("%s: %v", mpc.Party(i), errs[i])
				case want != "" && (errs[i] == nil || !strings.Contains(errs[i].Error(), want)):
					t.Errorf("%s: error %v, want one containing %q", mpc.Party(i), errs[i], want)
				}
			}
		})
	}
}
