package twopc

import (
	"context"
	"math/rand/v2"
	"strings"
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
	t.Run("one window", func(t *testing.T) { testOfflineDemand(t, false) })
	// Windows as small as the largest instruction's needs: many of them,
	// made as the run reaches them.
	t.Run("windows", func(t *testing.T) { testOfflineDemand(t, true) })
}

func testOfflineDemand(t *testing.T, windows bool) {
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
	defer func(cap int) { maxPrecompute = cap }(maxPrecompute)
	for _, prog := range progs {
		maxPrecompute = 1 << 22
		if windows {
			q := mustLower(t, prog)
			largest := 1
			for j := range q.Instrs {
				d := instrNeed(q, &q.Instrs[j], readersOf(q), mustBits(t, prog))
				largest = max(largest, d.a, d.b, d.triples)
			}
			maxPrecompute = largest
			if n := len(schedule(q, mustBits(t, prog), 1)); n < 2 {
				t.Fatalf("%s: %d windows", prog.Name, n)
			}
		}
		x := prog.EncodeInput(fixedtest.RandTensor(rng, prog.Tensors[prog.Inputs[0]].Shape, 1).F)
		nets := mpc.NewLocal(2, 30*time.Second)
		engines := make([]*Engine, 2)
		var outs [2][][]uint64
		errs := mpctest.Parties(2, func(p mpc.Party) error {
			e, err := New(nets[p], Options{})
			if err != nil {
				return err
			}
			engines[p] = e
			if p == mpc.P0 {
				outs[0], err = e.Run(context.Background(), prog.Public(), x)
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
		want, err := prog.Run(x)
		if err != nil {
			t.Fatal(err)
		}
		if len(outs[0]) != len(want) {
			t.Fatalf("%s: %d outputs", prog.Name, len(outs[0]))
		}
		a, b, triples := demand(mustLower(t, prog), mustBits(t, prog))
		checkOTsTaken(t, prog.Name, engines, a, b, triples)
		for p, e := range engines {
			var offline int64
			for _, o := range e.Cost().Ops {
				if o.Op == "offline OTs" {
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

// checkOTsTaken checks that the engines' runs took a correlated OTs with
// P0 sending, b with P1 sending and the given pair triples, all made
// offline and none left over.
func checkOTsTaken(t *testing.T, name string, engines []*Engine, a, b, triples int) {
	t.Helper()
	for p, e := range engines {
		if s, r := e.p.snd.Pooled(), e.p.rcv.Pooled(); s != 0 || r != 0 {
			t.Errorf("%s: P%d has %d and %d precomputed OTs left", name, p, s, r)
		}
		// P0 sends a, P1 b; the triples take one random OT each way.
		sent, got := uint64(a+triples), uint64(b+triples)
		if p == 1 {
			sent, got = got, sent
		}
		if e.p.triples == nil && triples > 0 {
			t.Errorf("%s: P%d made no triples offline", name, p)
		} else if e.p.triples != nil && len(e.p.triples.a) != e.p.tripleOff {
			t.Errorf("%s: P%d has %d triples left", name, p, len(e.p.triples.a)-e.p.tripleOff)
		}
		if e.p.snd.Used() != sent || e.p.rcv.Used() != got {
			t.Errorf("%s: P%d took %d and %d OTs, the offline phase made %d and %d", name, p, e.p.snd.Used(), e.p.rcv.Used(), sent, got)
		}
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

// TestCompareBitsOption checks the comparison width a run uses: the
// program's traced bound, 62 without one, the session's magnitude option
// when set, and a refusal when the program's bound exceeds the option.
func TestCompareBitsOption(t *testing.T) {
	for _, c := range []struct {
		prog, opt int
		want      int
		refused   bool
	}{
		{0, 0, 62, false},
		{18, 0, 18, false},
		{18, 30, 30, false},
		{18, 18, 18, false},
		{31, 30, 0, true},
	} {
		p := &fixed.Program{Name: "p", CompareBits: c.prog}
		k, err := Options{MagnitudeBits: c.opt}.compareBits(p)
		switch {
		case c.refused && (err == nil || !strings.Contains(err.Error(), "needs comparisons of 31 bits")):
			t.Errorf("%+v: error %v, want a refusal", c, err)
		case !c.refused && (err != nil || k != c.want):
			t.Errorf("%+v: %d bits (%v), want %d", c, k, err, c.want)
		}
	}
	if _, err := ParseOptions(mpc.Options{"magnitude": "7"}); err == nil {
		t.Error("magnitude=7 accepted")
	}
	if o, err := ParseOptions(mpc.Options{"magnitude": "40"}); err != nil || o.MagnitudeBits != 40 {
		t.Errorf("magnitude=40: %+v, %v", o, err)
	}
}
