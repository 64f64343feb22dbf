package twopc

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"veil/fixed"
	"veil/fixed/fixedtest"
	"veil/internal/testmodel"
	"veil/mpc"
	"veil/mpc/mpctest"
)

// runPlanned runs progs[i] on xs[i] one after another in one session
// whose parties were told plans[p] runs (Plan; none for a negative
// plan). It returns P0's outputs, both engines and each party's error.
func runPlanned(t *testing.T, plans [2]int, progs []*fixed.Program, xs [][]uint64) ([][][]uint64, []*Engine, []error) {
	t.Helper()
	nets := mpc.NewLocal(2, 30*time.Second)
	engines := make([]*Engine, 2)
	outs := make([][][]uint64, len(progs))
	errs := mpctest.Parties(2, func(p mpc.Party) error {
		defer nets[p].Close()
		e, err := New(nets[p], Options{})
		if err != nil {
			return err
		}
		engines[p] = e
		if plans[p] >= 0 {
			e.Plan(plans[p])
		}
		for i, prog := range progs {
			if p == mpc.P0 {
				outs[i], err = e.Run(context.Background(), prog.Public(), xs[i])
			} else {
				_, err = e.Run(context.Background(), prog)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	return outs, engines, errs
}

// randomInputs returns n random inputs of prog.
func randomInputs(rng *rand.Rand, prog *fixed.Program, n int) [][]uint64 {
	xs := make([][]uint64, n)
	for i := range xs {
		xs[i] = prog.EncodeInput(fixedtest.RandTensor(rng, prog.Tensors[prog.Inputs[0]].Shape, 1).F)
	}
	return xs
}

// checkOutputs requires every output within its propagated bound of the
// cleartext executor's.
func checkOutputs(t *testing.T, prog *fixed.Program, x []uint64, got [][]uint64) {
	t.Helper()
	vals, err := prog.Trace(x)
	if err != nil {
		t.Fatal(err)
	}
	bounds, err := prog.ElementBounds(vals)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(prog.Outputs) {
		t.Fatalf("%s: %d outputs, want %d", prog.Name, len(got), len(prog.Outputs))
	}
	for o, id := range prog.Outputs {
		for j, want := range vals[id] {
			if d := math.Abs(float64(int64(got[o][j] - want))); d > bounds[o][j] {
				t.Fatalf("%s: output %d element %d deviates by %g units, beyond its bound %g", prog.Name, o, j, d, bounds[o][j])
			}
		}
	}
}

// planSession runs a session planned for n runs of prog on random
// inputs and checks every output against the cleartext executor and the
// engines afterwards: the runs took exactly the OTs and triples n runs
// take, the offline phase made no more, and neither a plan nor a stock
// is left. It returns the engines.
func planSession(t *testing.T, rng *rand.Rand, prog *fixed.Program, n int) []*Engine {
	t.Helper()
	xs := randomInputs(rng, prog, n)
	outs, engines, errs := runPlanned(t, [2]int{n, n}, repeat(prog, n), xs)
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, x := range xs {
		checkOutputs(t, prog, x, outs[i])
	}
	a, b, triples := demand(mustLower(t, prog), mustBits(t, prog))
	checkOTsTaken(t, prog.Name, engines, n*a, n*b, n*triples)
	for p, e := range engines {
		if e.stock != nil || e.planned != 0 {
			t.Errorf("P%d: %d runs planned and a stock left after the plan", p, e.planned)
		}
	}
	return engines
}

func repeat(prog *fixed.Program, n int) []*fixed.Program {
	progs := make([]*fixed.Program, n)
	for i := range progs {
		progs[i] = prog
	}
	return progs
}

// TestPlanAhead runs planned sessions of the bundled LeNet and digits
// MLP and checks every output against the cleartext executor, and that
// the first run's offline phase made the OTs and triples of all of
// them: one offline phase in all, exactly what the runs took, nothing
// left over, the plan and the stock used up.
func TestPlanAhead(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for _, prog := range []*fixed.Program{testmodel.Program(t, "fashion_lenet", 12), testmodel.Program(t, "digits_mlp", 12)} {
		t.Run(prog.Name, func(t *testing.T) {
			const n = 5
			engines := planSession(t, rng, prog, n)
			for p, e := range engines {
				for _, o := range e.Cost().Ops {
					if o.Offline && o.Calls != 1 {
						t.Errorf("P%d: %q ran %d times for %d planned runs, want once", p, o.Op, o.Calls, n)
					}
				}
			}
		})
	}
}

// TestPlanAheadWindows runs a planned session of the bundled LeNet with
// windows as small as its largest instruction's needs: the first run
// makes the masks of every run, in windows that fit them, and each run
// makes its own OTs and triples, window by window, exactly what it
// takes.
func TestPlanAheadWindows(t *testing.T) {
	prog := testmodel.Program(t, "fashion_lenet", 12)
	q, k := mustLower(t, prog), mustBits(t, prog)
	defer func(cap int) { maxPrecompute = cap }(maxPrecompute)
	largest := 1
	for j := range q.Instrs {
		d := instrNeed(q, &q.Instrs[j], readersOf(q), k)
		largest = max(largest, d.a, d.b, d.triples, d.masks)
	}
	maxPrecompute = 2 * largest
	const n = 3
	ws, first := schedule(q, k, 1), schedule(q, k, n)
	if len(ws) < 2 {
		t.Fatalf("%d windows", len(ws))
	}
	engines := planSession(t, rand.New(rand.NewPCG(49, 50)), prog, n)
	var masks int
	for _, w := range ws {
		masks += w.masks
	}
	for p, e := range engines {
		calls := map[string]int{}
		elems := map[string]int64{}
		for _, o := range e.Cost().Ops {
			calls[o.Op], elems[o.Op] = o.Calls, o.Elems
		}
		if wantOTs := len(first) + (n-1)*len(ws); calls["offline masks"] != len(first) || calls["offline OTs"] != wantOTs {
			t.Errorf("P%d: %d offline mask phases and %d OT phases, want %d and %d", p, calls["offline masks"], calls["offline OTs"], len(first), wantOTs)
		}
		if elems["offline masks"] != int64(n*masks) {
			t.Errorf("P%d: masks for %d elements, %d runs take %d", p, elems["offline masks"], n, n*masks)
		}
	}
}

// TestScheduleRunsMasks checks the windows of a first run that makes
// the masks of several: each fits the bound with its masks made for all
// the runs (unless it is one instruction alone), there are more of them
// the more runs, and together they take what the one-run windows take.
func TestScheduleRunsMasks(t *testing.T) {
	prog := testmodel.Program(t, "fashion_lenet", 12)
	q, k := mustLower(t, prog), mustBits(t, prog)
	defer func(cap int) { maxPrecompute = cap }(maxPrecompute)
	readers := readersOf(q)
	largest := 1
	for j := range q.Instrs {
		d := instrNeed(q, &q.Instrs[j], readers, k)
		largest = max(largest, d.a, d.b, d.triples, d.masks)
	}
	maxPrecompute = 2 * largest
	total := func(ws []window) (t need) {
		for _, w := range ws {
			t = t.plus(w.need)
		}
		return t
	}
	one := schedule(q, k, 1)
	last := len(one)
	for _, runs := range []int{2, 16, 64} {
		ws := schedule(q, k, runs)
		if total(ws) != total(one) {
			t.Errorf("%d runs: windows take %+v, one run's %+v", runs, total(ws), total(one))
		}
		if len(ws) < last {
			t.Errorf("%d runs: %d windows, fewer than %d for fewer runs", runs, len(ws), last)
		}
		last = len(ws)
		for i, w := range ws {
			end := len(q.Instrs)
			if i+1 < len(ws) {
				end = ws[i+1].start
			}
			var instrs int
			for j := w.start; j < end; j++ {
				if instrNeed(q, &q.Instrs[j], readers, k) != (need{}) {
					instrs++
				}
			}
			if instrs > 1 && !w.withMasks(runs).fits() {
				t.Errorf("%d runs: window %d (%d instructions) takes %+v with its masks for every run, beyond %d", runs, i, instrs, w.withMasks(runs), maxPrecompute)
			}
		}
	}
	if last <= len(one) {
		t.Errorf("%d windows for one run and for 64: the runs' masks split none", len(one))
	}
}

// TestPlanAheadMasksOwn checks the split of a batch's masks after the
// first run of a plan: every later run's r and share of each product
// are blocks of their own (no two runs share memory), r's blocks differ
// in value, and the shares' layers are set only when a run takes them.
func TestPlanAheadMasksOwn(t *testing.T) {
	prog := testmodel.Program(t, "digits_mlp", 12)
	const n = 4
	xs := randomInputs(rand.New(rand.NewPCG(43, 44)), prog, 1)
	_, engines, errs := runPlanned(t, [2]int{n, n}, []*fixed.Program{prog}, xs)
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for p, e := range engines {
		if e.stock == nil || len(e.stock.masks) != n-1 || e.planned != n-1 {
			t.Fatalf("P%d: after one of %d planned runs, %d planned and a stock of %v", p, n, e.planned, e.stock)
		}
		runs := e.stock.masks
		for i := range runs[0] {
			for j := range runs {
				m := runs[j][i]
				if m.layer != nil {
					t.Errorf("P%d: run %d's mask %d has a layer before the run", p, j+1, i)
				}
				if (m.r != nil) != (p == 0) {
					t.Errorf("P%d: run %d's mask %d: r present is %v", p, j+1, i, m.r != nil)
				}
				for k := range j {
					o := runs[k][i]
					if &o.share[0] == &m.share[0] || cap(o.share) > len(o.share) || cap(m.share) > len(m.share) {
						t.Errorf("P%d: runs %d and %d share the output block of mask %d", p, k+1, j+1, i)
					}
					if p == 0 && (&o.r[0] == &m.r[0] || slices.Equal(o.r, m.r)) {
						t.Errorf("P0: runs %d and %d share the mask r of product %d", k+1, j+1, i)
					}
				}
			}
		}
	}
}

// TestPlanEndsWithAnotherProgram: a run of another program in the
// middle of a plan drops the stock and runs on its own offline phase;
// every output is right.
func TestPlanEndsWithAnotherProgram(t *testing.T) {
	rng := rand.New(rand.NewPCG(45, 46))
	mlp, lenet := testmodel.Program(t, "digits_mlp", 12), testmodel.Program(t, "fashion_lenet", 12)
	progs := []*fixed.Program{mlp, lenet, mlp}
	xs := [][]uint64{randomInputs(rng, mlp, 1)[0], randomInputs(rng, lenet, 1)[0], randomInputs(rng, mlp, 1)[0]}
	outs, engines, errs := runPlanned(t, [2]int{3, 3}, progs, xs)
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, prog := range progs {
		checkOutputs(t, prog, xs[i], outs[i])
	}
	for p, e := range engines {
		if e.stock != nil {
			t.Errorf("P%d keeps a stock after the plan ended", p)
		}
	}
}

// TestPlanMustAgree: parties told different plans stop before their
// offline phase, each naming the other, rather than run out of step.
func TestPlanMustAgree(t *testing.T) {
	prog := testmodel.Program(t, "digits_mlp", 12)
	xs := randomInputs(rand.New(rand.NewPCG(47, 48)), prog, 1)
	_, _, errs := runPlanned(t, [2]int{3, -1}, []*fixed.Program{prog}, xs)
	for p, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "runs in this offline phase") {
			t.Errorf("P%d: %v, want a refusal of the other's plan", p, err)
		}
	}
}
