package zoo3p

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"veil/fixed"
	"veil/ir"
)

// The acceptance rules of Check (issue 13), beyond FloatTol.
var (
	// Scales are the candidate scales of the sweep, finest first.
	Scales = []int{16, 14, 12}
	// MaxTruncFail bounds the chance that one secure inference hits a
	// failed local truncation (see TruncFail): a candidate scale above
	// it is not safe for 3PC and is not chosen. 2^−10 is what
	// fixed.Sweep's own rule (every truncated value below 2^32, a
	// failure chance of 2^−32 per element) allows a model of a few
	// million truncated elements, such as these.
	MaxTruncFail = math.Ldexp(1, -10)
	// FixedTol and FixedUnits are the default fixed-point tolerance of
	// outputs not checked by top-1: on every output,
	//
	//	max|fixed − float| ≤ FixedTol · max|float| + FixedUnits · 2^−s
	//
	// a fraction of the output's magnitude, and a few units of the last
	// place at scale s for outputs of tiny magnitude (a saturated
	// sigmoid of 1e-7 is 0 at any scale).
	FixedTol   = 0.02
	FixedUnits = 16.0
	// ExtraInputs is how many seeded inputs besides the reference input
	// the ranges are traced on (see Inputs).
	ExtraInputs = 2
)

// Result is what Check found for one model.
type Result struct {
	ID string
	// Stage is the stage that failed, "" when every stage ran and passed.
	Stage string
	Err   error
	Ops   map[ir.Op]int

	Imported  []Diff // the imported graph against the reference
	Optimized []Diff // the optimized graph against the reference

	Sweep    []ScaleTry // the candidate scales tried
	Scale    int        // the chosen scale (0: none)
	Fixed    []FixedDiff
	Skip3PC  string // why 3PC was not run
	MPC      *MPCResult
	Duration map[string]time.Duration // by stage
}

// ScaleTry is one candidate scale of the sweep.
type ScaleTry struct {
	Scale     int
	Err       error   // compile or run error
	MaxRel    float64 // worst output's max|fixed − float| / max|float|
	Top1Kept  bool    // every top-1 checked output kept its float top-1 on every row
	TruncFail float64 // see TruncFail
}

// FixedDiff is one output of the fixed-point program against float on the
// reference input.
type FixedDiff struct {
	Name   string
	MaxAbs float64 // max |fixed − float|
	AbsMax float64 // max |float|
	Rel    float64 // MaxAbs / AbsMax
	Top1   bool    // checked by top-1 (else by Tol)
	Rows   int     // rows of the last axis (top-1 outputs)
	Flips  int     // rows whose top-1 changed
	Tol    float64
	// Tiny says the output's magnitude is below FixedUnits units of the
	// last place: it passes by that floor, and its Rel means little.
	Tiny bool
	OK   bool
}

func (d FixedDiff) String() string {
	mark := "ok"
	if !d.OK {
		mark = "FAILS"
	}
	if d.Top1 {
		return fmt.Sprintf("%s: top-1 kept on %d of %d rows, max abs err %.3g (%.3g of max %.3g) %s", d.Name, d.Rows-d.Flips, d.Rows, d.MaxAbs, d.Rel, d.AbsMax, mark)
	}
	return fmt.Sprintf("%s: max abs err %.3g = %.3g of max %.3g (tolerance %.3g) %s", d.Name, d.MaxAbs, d.Rel, d.AbsMax, d.Tol, mark)
}

// Passed reports whether every stage passed.
func (r *Result) Passed() bool { return r.Stage == "" }

// FloatErr is the largest error of the optimized graph's outputs against
// the reference relative to the output's magnitude: max|Δ| / max|ref|
// (an output passing FloatTol has at most 1.1e-4).
func (r *Result) FloatErr() float64 {
	m := 0.0
	for _, d := range r.Optimized {
		m = math.Max(m, d.MaxAbs/math.Max(d.AbsMax, 1e-30))
	}
	return m
}

// FixedMaxRel is the largest Rel of the fixed outputs not Tiny, and how
// many are tiny.
func (r *Result) FixedMaxRel() (rel float64, tiny int) {
	for _, d := range r.Fixed {
		if d.Tiny {
			tiny++
			continue
		}
		rel = math.Max(rel, d.Rel)
	}
	return rel, tiny
}

// fail records the failure of stage.
func (r *Result) fail(stage string, err error) Result {
	r.Stage, r.Err = stage, err
	return *r
}

// Tol returns the model's float tolerance.
func (x *Model) Tol() Tolerance {
	if t := x.FloatTol; t != nil {
		return Tolerance{RTol: t.RTol, ATol: t.ATol}
	}
	return FloatTol
}

// Options of Check.
type Options struct {
	// Skip3PC leaves out the secure run (the fixed check is the last).
	Skip3PC bool
	// NoRerun turns off the rerun of a secure run that failed (for
	// a model expected to fail there: its failure is no flake).
	NoRerun bool
	// Log, where set, receives progress lines.
	Log func(format string, args ...any)
}

// Check runs the stages of the acceptance test on x: import it with
// veil's importer; compare the float outputs of the imported and the
// optimized graph with the reference; trace the ranges and compile at the
// candidate scales, choosing one (see ChooseScale); check the cleartext
// fixed-point outputs against float (classifiers keep the top-1,
// other outputs stay within the tolerance); run the program in 3PC
// (Porthos, three parties in this process) and check every output against
// the cleartext executor's within the propagated error bound. It stops at
// the first stage that fails.
func Check(x *Model, cache string, ref *Ref, opt Options) Result {
	logf := opt.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	r := Result{ID: x.ID, Duration: map[string]time.Duration{}}
	t0 := time.Now()
	lap := func(stage string) {
		now := time.Now()
		r.Duration[stage] += now.Sub(t0)
		t0 = now
	}

	g, err := x.Import(cache)
	lap(StageImport)
	if err != nil {
		return r.fail(StageImport, err)
	}
	r.Ops = g.OpCounts()

	feed, err := Feed(g, ref)
	if err != nil {
		return r.fail(StageFloat, err)
	}
	// The float check runs the optimized graph (the one the compiler
	// sees); on a mismatch the imported graph runs too, to tell an
	// importer's error from ir.Optimize's.
	if _, err := ir.Optimize(g); err != nil {
		return r.fail(StageFloat, fmt.Errorf("ir.Optimize: %w", err))
	}
	floatOuts, diffs, err := RunAndCompare(g, feed, ref, x.Tol())
	r.Optimized = diffs
	if err != nil {
		return r.fail(StageFloat, fmt.Errorf("ir.Run of the optimized graph: %w", err))
	}
	for _, d := range r.Optimized {
		if d.OK {
			continue
		}
		imported, err := x.Import(cache)
		if err != nil {
			return r.fail(StageFloat, err)
		}
		_, r.Imported, err = RunAndCompare(imported, feed, ref, x.Tol())
		lap(StageFloat)
		if err != nil {
			return r.fail(StageFloat, fmt.Errorf("ir.Run of the imported graph: %w", err))
		}
		for _, d := range r.Imported {
			if !d.OK {
				return r.fail(StageFloat, fmt.Errorf("float mismatch: %v", d))
			}
		}
		return r.fail(StageFloat, fmt.Errorf("float mismatch after ir.Optimize (the imported graph matches): %v", d))
	}
	lap(StageFloat)

	// Compile: ranges on the reference input and ExtraInputs seeded ones.
	feeds := []map[string]*ir.Tensor{feed}
	for k := 1; k <= ExtraInputs; k++ {
		f, err := Inputs(x, g, k)
		if err != nil {
			return r.fail(StageCompile, err)
		}
		feeds = append(feeds, f)
	}
	ranges, err := TraceRanges(g, feeds)
	if err != nil {
		return r.fail(StageCompile, err)
	}
	check := fixedChecker(x, g, floatOuts)
	best, err := r.sweep(x, g, ranges, feed, check, logf)
	lap(StageCompile)
	if err != nil {
		return r.fail(StageCompile, err)
	}
	r.Scale = best.Scale
	r.Fixed = best.diffs
	for _, d := range r.Fixed {
		if !d.OK {
			return r.fail(StageFixed, fmt.Errorf("scale %d: %v", best.Scale, d))
		}
	}

	if x.Skip3PC != "" || opt.Skip3PC {
		r.Skip3PC = x.Skip3PC
		if r.Skip3PC == "" {
			r.Skip3PC = "skipped in this run"
		}
		return r
	}
	run := func() (*MPCResult, error) {
		m, err := Run3PC(best.prog, best.inputs, best.vals)
		if err == nil {
			m.Float = check(best.Scale, best.prog.DecodeOutputs(m.outs))
		}
		return m, err
	}
	m, err := run()
	if err == nil && m.suspect() && !opt.NoRerun {
		// A local truncation fails with the chance TruncFail (at most
		// MaxTruncFail), and then an output is off by about 2^(64−s):
		// one rerun tells that event from a bug.
		logf("3pc: %v; a failed truncation has chance %.2g: running again", m.Err(), best.TruncFail)
		again, err2 := run()
		if again != nil {
			again.Reruns = m.Reruns + 1
		}
		m, err = again, err2
	}
	lap(Stage3PC)
	r.MPC = m
	if err != nil {
		return r.fail(Stage3PC, err)
	}
	if err := m.Err(); err != nil {
		return r.fail(Stage3PC, err)
	}
	return r
}

func sweepString(ts []ScaleTry) string {
	var s []string
	for _, t := range ts {
		s = append(s, fmt.Sprintf("scale %d: %s", t.Scale, t.String()))
	}
	return strings.Join(s, "; ")
}

func (t ScaleTry) String() string {
	if t.Err != nil {
		return t.Err.Error()
	}
	return fmt.Sprintf("max rel err %.3g, top-1 kept %v, truncation failure chance %.2g", t.MaxRel, t.Top1Kept, t.TruncFail)
}

// tried is a candidate scale with what its check needs later.
type tried struct {
	ScaleTry
	prog   *fixed.Program
	inputs [][]uint64
	vals   [][]uint64 // Trace on the reference input
	diffs  []FixedDiff
}

// better is the scale rule: the fixed check passes, then the top-1 is
// kept, then the smaller error; equal errors prefer the coarser scale
// (smaller values, less chance of a failed truncation).
func (t *tried) better(o *tried) bool {
	ok := func(t *tried) bool {
		for _, d := range t.diffs {
			if !d.OK {
				return false
			}
		}
		return true
	}
	if ok(t) != ok(o) {
		return ok(t)
	}
	if t.Top1Kept != o.Top1Kept {
		return t.Top1Kept
	}
	return t.MaxRel < o.MaxRel
}

func tryScale(g *ir.Graph, s int, ranges map[string][2]float64, feed map[string]*ir.Tensor, check func(int, [][]float64) []FixedDiff) *tried {
	t := &tried{ScaleTry: ScaleTry{Scale: s}}
	p, err := fixed.CompileWith(g, s, fixed.Options{Ranges: ranges})
	if err != nil {
		t.Err = err
		return t
	}
	in := make([][]uint64, len(g.Inputs))
	for i, name := range g.Inputs {
		in[i] = p.EncodeInput(feed[name].Floats())
	}
	vals, err := p.Trace(in...)
	if err != nil {
		t.Err = fmt.Errorf("cleartext fixed executor: %w", err)
		return t
	}
	outs := make([][]uint64, len(p.Outputs))
	for i, id := range p.Outputs {
		outs[i] = vals[id]
	}
	t.prog, t.inputs, t.vals = p, in, vals
	t.diffs = check(s, p.DecodeOutputs(outs))
	t.Top1Kept = true
	for _, d := range t.diffs {
		if !d.Tiny {
			t.MaxRel = math.Max(t.MaxRel, d.Rel)
		}
		if d.Top1 && d.Flips > 0 {
			t.Top1Kept = false
		}
	}
	t.TruncFail = TruncFail(p, vals)
	return t
}

// TruncFail is the expected number of failed local truncations in one
// secure run of p on the traced input: Porthos' ScaleDown of a value x
// fails with probability |x|/2^64 (see mpc/porthos ScaleDown), summed
// over every truncated element.
func TruncFail(p *fixed.Program, vals [][]uint64) float64 {
	sum := 0.0
	for _, in := range p.Instrs {
		if in.Op != fixed.ScaleDown {
			continue
		}
		for _, v := range vals[in.In[0]] {
			sum += math.Abs(float64(int64(v)))
		}
	}
	return sum / math.Ldexp(1, 64)
}

// fixedChecker returns the check of the decoded fixed outputs (program
// output i is graph output i) against the float outputs of g.
func fixedChecker(x *Model, g *ir.Graph, float []*ir.Tensor) func(scale int, got [][]float64) []FixedDiff {
	tol := FixedTol
	var top1 []string
	if f := x.Fixed; f != nil {
		if f.Tol != 0 {
			tol = f.Tol
		}
		top1 = f.Top1
	}
	isTop1 := func(i int) bool {
		if x.Kind != "classifier" {
			return false
		}
		if top1 != nil {
			return slices.Contains(top1, strings.TrimSuffix(g.Outputs[i], ":0"))
		}
		sh := float[i].Shape
		return len(sh) > 0 && sh[len(sh)-1] >= 2
	}
	return func(scale int, got [][]float64) []FixedDiff {
		ds := make([]FixedDiff, len(got))
		for i, y := range got {
			f := float[i].Floats()
			d := FixedDiff{Name: g.Outputs[i], Tol: tol, Top1: isTop1(i)}
			if len(y) != len(f) {
				d.MaxAbs, d.Rel = math.Inf(1), math.Inf(1)
				ds[i] = d
				continue
			}
			for j, v := range f {
				d.AbsMax = math.Max(d.AbsMax, math.Abs(float64(v)))
				e := math.Abs(y[j] - float64(v))
				if math.IsNaN(e) {
					e = math.Inf(1)
				}
				d.MaxAbs = math.Max(d.MaxAbs, e)
			}
			d.Rel = d.MaxAbs / math.Max(d.AbsMax, 1e-12)
			if d.Top1 {
				sh := float[i].Shape
				k := sh[len(sh)-1]
				d.Rows = len(f) / k
				for row := 0; row < d.Rows; row++ {
					if argmax64(y[row*k:(row+1)*k]) != argmax32(f[row*k:(row+1)*k]) {
						d.Flips++
					}
				}
				d.OK = d.Flips == 0
			} else {
				d.OK = d.MaxAbs <= tol*d.AbsMax+FixedUnits*math.Ldexp(1, -scale)
				d.Tiny = d.AbsMax < FixedUnits*math.Ldexp(1, -scale)
			}
			ds[i] = d
		}
		return ds
	}
}

func argmax64(y []float64) int {
	b := 0
	for i, v := range y {
		if v > y[b] {
			b = i
		}
	}
	return b
}

func argmax32(y []float32) int {
	b := 0
	for i, v := range y {
		if v > y[b] {
			b = i
		}
	}
	return b
}

// TraceRanges returns the Ranges of fixed.CompileWith traced on the
// feeds with fixed.TraceRanges (an example holds every graph input, in
// order, concatenated).
func TraceRanges(g *ir.Graph, feeds []map[string]*ir.Tensor) (map[string][2]float64, error) {
	xs := make([]fixed.Example, len(feeds))
	for i, f := range feeds {
		for _, in := range g.Inputs {
			xs[i].Input = append(xs[i].Input, f[in].Floats()...)
		}
	}
	return fixed.TraceRanges(g, xs)
}

// Min3PC is the acceptance floor of models through 3PC.
const Min3PC = 25

// Verdict compares r with the model's expectation: with an Expect entry
// the model must fail at exactly that stage with an error containing its
// text (passing every stage before); without one it must pass every
// stage.
func Verdict(x *Model, r *Result) error {
	e := x.Expect
	if e == nil {
		if r.Stage != "" {
			return fmt.Errorf("fails at stage %s: %v", r.Stage, r.Err)
		}
		return nil
	}
	at := func(s string) int { return slices.Index(Stages, s) }
	switch {
	case r.Stage == "" || at(r.Stage) > at(e.Stage):
		return fmt.Errorf("unexpected pass: stage %s passes now, the manifest expects it to fail with %q; delete the model's expect entry (or move it to the stage that fails)", e.Stage, e.Error)
	case r.Stage != e.Stage:
		return fmt.Errorf("fails at stage %s (%v), before the expected failure at stage %s", r.Stage, r.Err, e.Stage)
	case !strings.Contains(r.Err.Error(), e.Error):
		return fmt.Errorf("fails at stage %s as expected, but with %q, which does not contain the expected %q", r.Stage, r.Err, e.Error)
	}
	return nil
}

// sweep picks the scale (see Scales and MaxTruncFail): the finest
// candidate scale whose chance of a failed truncation is at most
// MaxTruncFail, since rounding error falls with the scale (a finer scale
// is kept only if its fixed check is at least as good). Tracing is what
// costs, so not every candidate is traced: the middle one first; the
// chance grows about 4× per bit of scale (a product's magnitude grows
// 2^2Δ), which predicts the others, and a finer candidate is traced only
// if predicted safe, a coarser one only if the middle one is not safe. A
// manifest scale replaces the sweep.
func (r *Result) sweep(x *Model, g *ir.Graph, ranges map[string][2]float64, feed map[string]*ir.Tensor, check func(int, [][]float64) []FixedDiff, logf func(string, ...any)) (*tried, error) {
	try := func(s int) *tried {
		t := tryScale(g, s, ranges, feed, check)
		r.Sweep = append(r.Sweep, t.ScaleTry)
		logf("scale %d: %s", s, t.ScaleTry)
		return t
	}
	safe := func(t *tried) bool { return t.Err == nil && t.TruncFail <= MaxTruncFail }
	if x.Fixed != nil && x.Fixed.Scale != 0 {
		t := try(x.Fixed.Scale)
		if t.Err != nil {
			return nil, t.Err
		}
		if !safe(t) {
			return nil, fmt.Errorf("scale %d (the manifest's) is not safe for 3PC: the chance of a failed truncation is %.2g, above %.2g", t.Scale, t.TruncFail, MaxTruncFail)
		}
		return t, nil
	}
	mid := len(Scales) / 2
	first := try(Scales[mid])
	predict := func(s int) float64 { return first.TruncFail * math.Pow(4, float64(s-first.Scale)) }
	if safe(first) {
		best := first
		for i := mid - 1; i >= 0; i-- { // finer
			if predict(Scales[i]) > MaxTruncFail {
				break
			}
			if t := try(Scales[i]); safe(t) && !best.better(t) {
				best = t
			}
		}
		return best, nil
	}
	for _, s := range Scales[mid+1:] { // coarser
		if first.Err == nil && predict(s) > MaxTruncFail && s != Scales[len(Scales)-1] {
			continue
		}
		if t := try(s); safe(t) {
			return t, nil
		}
	}
	if first.Err != nil {
		return nil, first.Err
	}
	last := r.Sweep[len(r.Sweep)-1]
	if last.Err != nil {
		return nil, last.Err
	}
	return nil, fmt.Errorf("no scale of %v is safe for 3PC: the chance of a failed truncation is %.2g at scale %d, above %.2g", Scales, last.TruncFail, last.Scale, MaxTruncFail)
}
