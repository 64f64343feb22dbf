package twopc

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"veil/fixed"
	"veil/fixed/fixedtest"
	"veil/ir"
	"veil/mpc"
	"veil/mpc/he"
	"veil/mpc/mpctest"
)

// recordingNet keeps every message its party receives.
type recordingNet struct {
	mpc.Network
	msgs [][]byte
}

func (n *recordingNet) Recv(from mpc.Party) ([]byte, error) {
	m, err := n.Network.Recv(from)
	n.msgs = append(n.msgs, m)
	return m, err
}

// matMulProgram is x (1×k) times a weight matrix (k×5): one linear layer
// by the server's weights, whose input is the client's alone.
func matMulProgram(t *testing.T, k int) *fixed.Program {
	t.Helper()
	r := rand.New(rand.NewPCG(3, 4))
	g := ir.NewGraph("matmul")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(g.AddInput("x", ir.Shape{1, k}))
	must(g.AddConst("w", fixedtest.RandTensor(r, ir.Shape{k, 5}, 0.5)))
	must(g.AddNode(&ir.Node{Name: "y", Op: ir.OpMatMul, Inputs: []string{"x", "w"}, Output: "y"}))
	must(g.SetOutputs("y"))
	prog, err := fixed.Compile(g, 12)
	if err != nil {
		t.Fatal(err)
	}
	return prog
}

// TestMaskedInputUniform checks the server's online view of a linear
// layer: the client's masked share x0 − r, for inputs all 0 and all at
// the largest encodable value, is uniform in its low and its high four
// bits (chi-square over 16 values, 64 inferences of 37 elements), and
// the outputs are right. Without the mask the words would be the
// client's input itself.
func TestMaskedInputUniform(t *testing.T) {
	const k, runs = 37, 64
	prog := matMulProgram(t, k)
	for _, fill := range []float32{0, 1000} {
		x := make([]float32, k)
		for j := range x {
			x[j] = fill
		}
		in := prog.EncodeInput(x)
		want, err := prog.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		nets := mpc.NewLocal(2, 30*time.Second)
		rec := &recordingNet{Network: nets[1]}
		errs := mpctest.Parties(2, func(p mpc.Party) error {
			net := mpc.Network(nets[0])
			if p == mpc.P1 {
				net = rec
			}
			e, err := New(net, Options{})
			if err != nil {
				return err
			}
			for range runs {
				if p == mpc.P0 {
					out, err := e.Run(context.Background(), prog.Public(), in)
					if err != nil {
						return err
					}
					for j := range want[0] {
						if out[0][j] != want[0][j] {
							return errors.New("wrong output")
						}
					}
				} else if _, err := e.Run(context.Background(), prog); err != nil {
					return err
				}
			}
			return nil
		})
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		nets[0].Close()
		nets[1].Close()
		var low, high [16]int
		seen := 0
		for _, m := range rec.msgs {
			if len(m) != 8*k {
				continue
			}
			seen++
			for j := 0; j < k; j++ {
				w := binary.LittleEndian.Uint64(m[8*j:])
				low[w&15]++
				high[w>>60]++
			}
		}
		if seen != runs {
			t.Fatalf("input %v: the server received %d masked inputs of %d bytes, want %d", fill, seen, 8*k, runs)
		}
		// 15 degrees of freedom: beyond 45 is past 1e-4.
		for name, counts := range map[string][16]int{"low": low, "high": high} {
			if c := chiSquare(counts[:]); c > 45 {
				t.Errorf("input %v: the masked input's %s four bits are not uniform (chi-square %.1f, counts %v)", fill, name, c, counts)
			}
		}
	}
}

// chiSquare is the statistic of counts against the uniform distribution.
func chiSquare(counts []int) float64 {
	total := 0
	for _, c := range counts {
		total += c
	}
	e := float64(total) / float64(len(counts))
	s := 0.0
	for _, c := range counts {
		s += (float64(c) - e) * (float64(c) - e) / e
	}
	return s
}

// TestMasksOutOfStep checks that a product without its mask, or a run
// that leaves masks over, is an error, not a wrong answer.
func TestMasksOutOfStep(t *testing.T) {
	e := &Engine{}
	if _, err := e.takeMask(nil); !errors.Is(err, errMasks) {
		t.Errorf("no mask queued: %v, want errMasks", err)
	}
	b := &backend{e: e, prods: map[int][]product{}}
	if _, err := b.online(3); !errors.Is(err, errMasks) {
		t.Errorf("instruction without products: %v, want errMasks", err)
	}
	e.masks = []linearMask{{}}
	if _, err := b.End(nil); !errors.Is(err, errMasks) {
		t.Errorf("masks left over: %v, want errMasks", err)
	}
}

// TestLinearCommunication checks a linear layer's bytes on the wire
// against the formula (framing excluded): offline, P0 sends the layer's
// query (he.Layer.QueryBytes) and P1 its response (ResponseBytes);
// online, P0 sends 8 bytes per input element and P1 nothing.
func TestLinearCommunication(t *testing.T) {
	const k = 300
	prog := matMulProgram(t, k)
	layer, err := he.NewMatMul(he.Default(), 1, k, 5, prog.Tensors[prog.Instrs[0].In[1]].Bits)
	if err != nil {
		t.Fatal(err)
	}
	in := prog.EncodeInput(make([]float32, k))
	nets := mpc.NewLocal(2, 30*time.Second)
	defer nets[0].Close()
	defer nets[1].Close()
	var costs [2]mpc.Cost
	errs := mpctest.Parties(2, func(p mpc.Party) error {
		e, err := New(nets[p], Options{})
		if err != nil {
			return err
		}
		if p == mpc.P0 {
			_, err = e.Run(context.Background(), prog.Public(), in)
		} else {
			_, err = e.Run(context.Background(), prog)
		}
		costs[p] = e.Cost()
		return err
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	want := map[string][2]int64{
		"offline masks":      {int64(layer.QueryBytes()), int64(layer.ResponseBytes())},
		string(fixed.MatMul): {8 * k, 0},
	}
	for op, w := range want {
		for p := range 2 {
			found := false
			for _, o := range costs[p].Ops {
				if o.Op != op {
					continue
				}
				found = true
				if got := o.TotalSent() - 4*o.Msgs; got != w[p] {
					t.Errorf("%s: P%d sent %d bytes, the formula says %d", op, p, got, w[p])
				}
			}
			if !found {
				t.Errorf("P%d ran no %s", p, op)
			}
		}
	}
}
