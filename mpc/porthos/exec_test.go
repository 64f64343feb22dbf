package porthos

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"veil/fixed"
	"veil/internal/testmodel"
	"veil/mpc"
	"veil/mpc/mpctest"
)

// run3PC runs prog on input with the three parties in goroutines over a
// fresh in-process network: P1 holds prog, P0 and P2 prog.Public(). It
// returns P0's outputs, the parties' stats and, if steps, every
// instruction's output reconstructed from P0's and P1's shares.
func run3PC(t testing.TB, prog *fixed.Program, input []uint64, steps bool) ([][]uint64, [3]mpc.Cost, [][]uint64) {
	t.Helper()
	nets := mpc.NewLocal(3, 30*time.Second)
	pub := prog.Public()
	var outs [3][][]uint64
	var stats [3]mpc.Cost
	var shares [2][][]uint64
	errs := mpctest.Parties(len(nets), func(party mpc.Party) error {
		p := int(party)
		e, err := New(nets[p], testOptions)
		if err != nil {
			return err
		}
		if steps && p < 2 {
			shares[p] = make([][]uint64, len(prog.Instrs))
			e.testHookInstr = func(k int, sh []uint64) { shares[p][k] = slices.Clone(sh) }
		}
		switch mpc.Party(p) {
		case mpc.P0:
			outs[p], err = e.Run(context.Background(), pub, input)
		case mpc.P1:
			outs[p], err = e.Run(context.Background(), prog)
		default:
			outs[p], err = e.Run(context.Background(), pub)
		}
		stats[p] = e.Cost()
		return err
	})
	for p, err := range errs {
		if err != nil {
			t.Fatalf("%s: %v", mpc.Party(p), err)
		}
	}
	if outs[1] != nil || outs[2] != nil {
		t.Fatalf("P1 or P2 got an output")
	}
	var vals [][]uint64
	if steps {
		vals = make([][]uint64, len(prog.Tensors))
		for k, in := range prog.Instrs {
			vals[in.Out] = open([3][]uint64{shares[0][k], shares[1][k]})
		}
	}
	return outs[0], stats, vals
}

// checkSteps verifies every instruction of a secure run against the
// cleartext semantics (fixed.Program.Apply) applied to the secure run's
// own operands: bit-identical, except that ScaleDown may exceed the
// arithmetic shift by one unit. It returns how many ScaleDown elements
// did, and of how many.
func checkSteps(t testing.TB, prog *fixed.Program, input []uint64, secure [][]uint64) (ones, total int) {
	t.Helper()
	vals := slices.Clone(secure)
	vals[prog.Inputs[0]] = input
	for id, tt := range prog.Tensors {
		if tt.Kind == fixed.KindWeight {
			vals[id] = tt.Data
		}
	}
	for k := range prog.Instrs {
		in := &prog.Instrs[k]
		args := make([][]uint64, len(in.In))
		for i, id := range in.In {
			args[i] = vals[id]
		}
		want, err := prog.Apply(in, args)
		if err != nil {
			t.Fatal(err)
		}
		got := vals[in.Out]
		for i := range want {
			d := got[i] - want[i]
			if in.Op == fixed.ScaleDown && d <= 1 {
				ones += int(d)
				total++
				continue
			}
			if d != 0 {
				t.Fatalf("instruction %d (%s, node %q) element %d: secure %d, cleartext on the same operands %d", k, in.Op, in.Node, i, int64(got[i]), int64(want[i]))
			}
		}
	}
	return ones, total
}

// loadProgram imports, optimizes and compiles a bundled model at scale s.
func loadProgram(t testing.TB, name string, s int) *fixed.Program {
	t.Helper()
	return testmodel.Program(t, name, s)
}

// loadInputs reads limit labelled images and encodes them for prog.
func loadInputs(t testing.TB, prog *fixed.Program, spec string, pixelMax float64, limit int) ([][]uint64, []int) {
	t.Helper()
	fs, labels := testmodel.Images(t, prog, strings.TrimPrefix(spec, "testdata/"), pixelMax, limit)
	xs := make([][]uint64, len(fs))
	for i, f := range fs {
		xs[i] = prog.EncodeInput(f)
	}
	return xs, labels
}

func argmax(v []uint64) (best int, margin float64) {
	for k := range v {
		if int64(v[k]) > int64(v[best]) {
			best = k
		}
	}
	margin = math.Inf(1)
	for k := range v {
		if k != best {
			margin = math.Min(margin, float64(int64(v[best])-int64(v[k])))
		}
	}
	return best, margin
}

// TestModels runs the bundled real models through 3PC on real test
// images and checks:
//
//   - every instruction of every run is exact on its secure operands,
//     ScaleDown within one unit (checkSteps);
//   - every logit is within the worst-case bound errorBounds propagates
//     from those one-unit truncation errors (it always holds, barring
//     ScaleDown's failure event of probability |x|/2^64 per element);
//   - every logit is within the statistical bound: twice the largest
//     deviation seen in clear simulations of the protocol's truncation
//     (simulate, two per image), which, given checkSteps, draw from the
//     secure runs' own distribution;
//   - top-1 equals the cleartext executor's, unless the cleartext margin
//     between the two best logits is within twice the statistical bound.
func TestModels(t *testing.T) {
	n := 50
	if testing.Short() {
		n = 5
	}
	cases := []struct {
		model, data string
		pixelMax    float64
	}{
		{"fashion_lenet", "testdata/data/fashion-mnist/test", 0},
		{"digits_mlp", "testdata/data/digits/test.csv", 16},
		{"mnist_resnet", "testdata/data/mnist/test", 0},
	}
	for _, c := range cases {
		for _, cmp := range []Compare{ComparePorthos, CompareFast} {
			t.Run(c.model+"/"+cmp.String(), func(t *testing.T) {
				defer func(old Options) { testOptions = old }(testOptions)
				testOptions.Compare = cmp
				prog := loadProgram(t, c.model, 12)
				xs, labels := loadInputs(t, prog, c.data, c.pixelMax, n)
				r := rand.New(rand.NewPCG(40, 40))
				var simDev float64
				for i := range xs {
					clear, err := prog.Run(xs[i])
					if err != nil {
						t.Fatal(err)
					}
					for k := 0; k < 2; k++ {
						simDev = math.Max(simDev, deviation(simulate(t, prog, r, xs[i]), clear[0]))
					}
				}
				stat := 2 * math.Max(simDev, 1)
				var maxDev, maxBound float64
				agree, correct, correctClear := 0, 0, 0
				truncOnes, truncTotal := 0, 0
				var elapsed time.Duration
				var st [3]mpc.Cost
				for i, x := range xs {
					vals := trace(t, prog, x)
					out := prog.Outputs[0]
					clear := vals[out]
					bound := prog.ErrorBounds(vals)[out]
					start := time.Now()
					got, stats, steps := run3PC(t, prog, x, true)
					elapsed += time.Since(start)
					st = stats
					o, n := checkSteps(t, prog, x, steps)
					truncOnes, truncTotal = truncOnes+o, truncTotal+n
					dev := deviation(got[0], clear)
					maxDev, maxBound = math.Max(maxDev, dev), math.Max(maxBound, bound)
					if dev > bound || dev > stat {
						t.Errorf("image %d: logits deviate by %g units; worst-case bound %g, statistical bound %g", i, dev, bound, stat)
					}
					top, _ := argmax(got[0])
					want, margin := argmax(clear)
					if top == want {
						agree++
					} else if margin > 2*stat {
						t.Errorf("image %d: 3PC top-1 %d, cleartext %d (margin %g units, statistical bound %g)", i, top, want, margin, stat)
					} else {
						t.Logf("image %d: near tie: 3PC top-1 %d, cleartext %d (margin %g ≤ 2·%g)", i, top, want, margin, stat)
					}
					if top == labels[i] {
						correct++
					}
					if want == labels[i] {
						correctClear++
					}
				}
				t.Logf("%s: %d images: top-1 agreement %d/%d, accuracy 3PC %d/%d, cleartext %d/%d", c.model, len(xs), agree, len(xs), correct, len(xs), correctClear, len(xs))
				t.Logf("%s: max logit deviation %g units at scale %d (statistical bound %g, worst-case bound %g); every instruction exact on its operands, ScaleDown +1 on %d of %d elements; %.1f ms/image",
					c.model, maxDev, prog.Scale, stat, maxBound, truncOnes, truncTotal, float64(elapsed.Microseconds())/1000/float64(len(xs)))
				for _, s := range st {
					t.Logf("per image: %s", s)
				}
			})
		}
	}
}

// TestPublicProgramAtP0AndP2 checks that P0 and P2 run from a program
// without weight data, and that P1 refuses to.
func TestPublicProgramAtP0AndP2(t *testing.T) {
	prog := loadProgram(t, "digits_mlp", 12)
	xs, _ := loadInputs(t, prog, "testdata/data/digits/test.csv", 16, 1)
	pub := prog.Public()
	if pub.HasWeightData() {
		t.Fatal("public program has weights")
	}
	got, _, _ := run3PC(t, prog, xs[0], false) // P0 and P2 hold pub
	clear, _ := prog.Run(xs[0])
	if len(got[0]) != len(clear[0]) {
		t.Fatalf("output of %d values, want %d", len(got[0]), len(clear[0]))
	}
	// P1 with the public program: an error naming the weight, and the
	// others stop with an error naming P1.
	nets := mpc.NewLocal(3, 5*time.Second)
	var errs [3]error
	mpctest.Parties(len(nets), func(party mpc.Party) error {
		p := int(party)
		var in [][]uint64
		if p == 0 {
			in = [][]uint64{xs[0]}
		}
		_, _, errs[p] = Run(context.Background(), nets[p], pub, in...)
		return nil
	})
	if errs[1] == nil || !strings.Contains(errs[1].Error(), "needs the full program") {
		t.Errorf("P1 without weights: %v", errs[1])
	}
	for _, p := range []int{0, 2} {
		if errs[p] == nil || !strings.Contains(errs[p].Error(), "P1") {
			t.Errorf("%s: %v", mpc.Party(p), errs[p])
		}
	}
}

func TestMismatchedPrograms(t *testing.T) {
	prog := loadProgram(t, "digits_mlp", 12)
	other := loadProgram(t, "digits_mlp", 10)
	xs, _ := loadInputs(t, prog, "testdata/data/digits/test.csv", 16, 1)
	nets := mpc.NewLocal(3, 5*time.Second)
	var errs [3]error
	mpctest.Parties(len(nets), func(party mpc.Party) error {
		p := int(party)
		switch p {
		case 0:
			_, _, errs[p] = Run(context.Background(), nets[p], prog.Public(), xs[0])
		case 1:
			_, _, errs[p] = Run(context.Background(), nets[p], prog)
		default:
			_, _, errs[p] = Run(context.Background(), nets[p], other.Public())
		}
		return nil
	})
	// The digests are checked as each peer's first message arrives: the
	// parties that see a differing one say so, the others stop on their
	// report of it. Nobody gets an output.
	saw := 0
	for p, err := range errs {
		var pe *mpc.PeerError
		switch {
		case err == nil || !errors.As(err, &pe) || pe.Peer == mpc.Party(p):
			t.Errorf("%s: %v, want an error naming a peer", mpc.Party(p), err)
		case strings.Contains(err.Error(), "different program"):
			saw++
		case !strings.Contains(err.Error(), "failure reported by"):
			t.Errorf("%s: %v, want a different program or a peer's report", mpc.Party(p), err)
		}
	}
	if saw == 0 {
		t.Error("no party reported a different program")
	}
}
