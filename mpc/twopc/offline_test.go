package twopc

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"veil/fixed"
	"veil/fixed/fixedtest"
	"veil/internal/testmodel"
	"veil/ir"
	"veil/mpc"
	"veil/mpc/mpctest"
)

// TestOfflineDemandExact runs programs of every op and the bundled LeNet
// and checks that the offline phase precomputed exactly the OTs the run
// took: both parties' pools are empty afterwards, and the online phase
// extended none on the spot.
func TestOfflineDemandExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	var progs []*fixed.Program
	for _, l := range []ir.Layout{ir.NCHW, ir.NHWC} {
		for _, out := range []string{"softmax", "first", "last"} {
			p, err := fixed.Compile(fixedtest.MixedGraph(t, rng, l, out), 12)
			if err != nil {
				t.Fatal(err)
			}
			progs = append(progs, p)
		}
	}
	progs = append(progs, testmodel.Program(t, "fashion_lenet", 12))
	for _, prog := range progs {
		x := prog.EncodeInput(fixedtest.RandTensor(rng, prog.Tensors[prog.Inputs[0]].Shape, 1).F)
		nets := mpc.NewLocal(2, 30*time.Second)
		engines := make([]*Engine, 2)
		errs := mpctest.Parties(2, func(p mpc.Party) error {
			e, err := New(nets[p], Options{})
			if err != nil {
				return err
			}
			engines[p] = e
			if p == mpc.P0 {
				_, err = e.Run(context.Background(), prog.Public(), x)
			} else {
				_, err = e.Run(context.Background(), prog)
			}
			return err
		})
		for _, err := range errs {
			if err != nil {
				t.Fatalf("%s: %v", prog.Name, err)
			}
		}
		a, b, triples := demand(mustLower(t, prog), mustBits(t, prog))
		for p, e := range engines {
			if s, r := e.p.snd.Pooled(), e.p.rcv.Pooled(); s != 0 || r != 0 {
				t.Errorf("%s: P%d has %d and %d precomputed OTs left", prog.Name, p, s, r)
			}
			// P0 sends a, P1 b; the triples take one random OT each way.
			sent, got := uint64(a+triples), uint64(b+triples)
			if p == 1 {
				sent, got = got, sent
			}
			if e.p.triples == nil && triples > 0 {
				t.Errorf("%s: P%d made no triples offline", prog.Name, p)
			} else if left := triples - e.p.tripleOff; e.p.triples != nil && left != 0 {
				t.Errorf("%s: P%d has %d triples left", prog.Name, p, left)
			}
			if e.p.snd.Used() != sent || e.p.rcv.Used() != got {
				t.Errorf("%s: P%d took %d and %d OTs, the offline phase made %d and %d", prog.Name, p, e.p.snd.Used(), e.p.rcv.Used(), sent, got)
			}
			var offline int64
			for _, o := range e.Cost().Ops {
				if o.Op == "offline" {
					offline = o.Elems
				}
			}
			if offline == 0 {
				t.Errorf("%s: P%d ran no offline phase", prog.Name, p)
			}
		}
		nets[0].Close()
		nets[1].Close()
	}
}

// mustLower is prog lowered as the engine runs it.
func mustLower(t *testing.T, prog *fixed.Program) *fixed.Program {
	q, err := prog.Lower((&backend{}).Fuses)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func mustBits(t *testing.T, prog *fixed.Program) int {
	k, err := Options{}.compareBits(prog)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
