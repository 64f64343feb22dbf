package fixed

import (
	"fmt"
	"math"
	"math/bits"
	"sync"

	"veil/ir"

	"veil/internal/parallel"
)

// Example is one labelled model input (already in the graph's input
// shape and layout).
type Example struct {
	Input []float32
	Label int
}

// Top1 returns the index of the largest value (the prediction of a
// logits or probability vector), or the value itself for a one-element
// output (an ArgMax).
func Top1(y []float64) int {
	if len(y) == 1 {
		return int(math.Round(y[0]))
	}
	best := 0
	for i, v := range y {
		if v > y[best] {
			best = i
		}
	}
	return best
}

// FloatOutputs runs the float graph on every example and returns its
// first output for each.
func FloatOutputs(g *ir.Graph, xs []Example) ([][]float64, error) {
	if len(g.Inputs) != 1 {
		return nil, fmt.Errorf("model has %d inputs; evaluation needs exactly one", len(g.Inputs))
	}
	shape := g.Values[g.Inputs[0]].Shape
	outs := make([][]float64, len(xs))
	err := parallel.Each(len(xs), func(i int) error {
		r, err := ir.Run(g, map[string]*ir.Tensor{g.Inputs[0]: ir.FloatTensor(shape, xs[i].Input)})
		if err != nil {
			return fmt.Errorf("example %d: %w", i, err)
		}
		f := r[0].Floats()
		y := make([]float64, len(f))
		for j, v := range f {
			y[j] = float64(v)
		}
		outs[i] = y
		return nil
	})
	return outs, err
}

// FixedOutputs runs the program on every example and returns its decoded
// first output (with Post applied) for each.
func FixedOutputs(p *Program, xs []Example) ([][]float64, error) {
	outs := make([][]float64, len(xs))
	err := parallel.Each(len(xs), func(i int) error {
		y, err := p.Predict(xs[i].Input)
		if err != nil {
			return fmt.Errorf("example %d: %w", i, err)
		}
		outs[i] = p.ApplyPost(y)
		return nil
	})
	return outs, err
}

// Accuracy is the fraction of outputs whose top-1 equals the label.
func Accuracy(outs [][]float64, xs []Example) float64 {
	if len(xs) == 0 {
		return 0
	}
	ok := 0
	for i, y := range outs {
		if Top1(y) == xs[i].Label {
			ok++
		}
	}
	return float64(ok) / float64(len(xs))
}

// Compare scores fixed outputs against float ones: the fraction with the
// same top-1, and the mean absolute difference of the output values.
func Compare(fixed, float [][]float64) (agreement, meanAbs float64) {
	same, n := 0, 0
	for i := range fixed {
		if Top1(fixed[i]) == Top1(float[i]) {
			same++
		}
		for j := range fixed[i] {
			meanAbs += math.Abs(fixed[i][j] - float[i][j])
			n++
		}
	}
	if len(fixed) > 0 {
		agreement = float64(same) / float64(len(fixed))
	}
	if n > 0 {
		meanAbs /= float64(n)
	}
	return agreement, meanAbs
}

// SafetyBits is the margin Sweep demands for secure execution: at the
// chosen scale, every ScaleDown's input stays below 2^(64−SafetyBits) in
// magnitude on the sweep's examples, so the local truncation of shares
// (see mpc/porthos ScaleDown) fails with probability at most 2^−SafetyBits
// per element.
const SafetyBits = 32

// traceExamples is how many examples Sweep traces to measure TruncBits.
const traceExamples = 64

// TruncBits returns the bit length of the largest |value| that any
// ScaleDown of p truncates when p runs on xs.
func TruncBits(p *Program, xs []Example) (int, error) {
	var mx uint64
	err := parallel.Each(len(xs), func(i int) error {
		vals, err := p.Trace(p.EncodeInput(xs[i].Input))
		if err != nil {
			return err
		}
		var m uint64
		for _, in := range p.Instrs {
			if in.Op != ScaleDown {
				continue
			}
			for _, v := range vals[in.In[0]] {
				a := uint64(int64(v))
				if int64(v) < 0 {
					a = uint64(-int64(v))
				}
				m = max(m, a)
			}
		}
		mu.Lock()
		mx = max(mx, m)
		mu.Unlock()
		return nil
	})
	return bits.Len64(mx), err
}

var mu sync.Mutex

// Sweep compiles g (optimized) at every scale, evaluates each program on
// the labelled examples, and returns one row per scale and the chosen
// scale: among the scales safe for secure execution (see SafetyBits), the
// most accurate, ties broken by agreement with the float model's top-1,
// then by the smaller mean output error. Scales at which compilation
// fails (weights too large for the ring) get a row of accuracy −1.
func Sweep(g *ir.Graph, xs []Example, scales []int) ([]ScaleRow, int, error) {
	return SweepFunc(g, xs, scales, nil)
}

// SweepFunc is Sweep calling f, when not nil, with each scale's row as
// soon as it is measured (for progress).
func SweepFunc(g *ir.Graph, xs []Example, scales []int, f func(ScaleRow)) ([]ScaleRow, int, error) {
	if len(xs) == 0 {
		return nil, 0, fmt.Errorf("scale sweep needs labelled examples")
	}
	float, err := FloatOutputs(g, xs)
	if err != nil {
		return nil, 0, err
	}
	floatAcc := Accuracy(float, xs)
	ranges, err := TraceRanges(g, xs)
	if err != nil {
		return nil, 0, err
	}
	var rows []ScaleRow
	best := -1
	for _, s := range scales {
		p, err := CompileWith(g, s, Options{Ranges: ranges})
		if err != nil {
			rows = append(rows, ScaleRow{Scale: s, FloatAccuracy: floatAcc, FixedAccuracy: -1, N: len(xs)})
			if f != nil {
				f(rows[len(rows)-1])
			}
			continue
		}
		outs, err := FixedOutputs(p, xs)
		if err != nil {
			return nil, 0, err
		}
		agree, mae := Compare(outs, float)
		tb, err := TruncBits(p, xs[:min(len(xs), traceExamples)])
		if err != nil {
			return nil, 0, err
		}
		row := ScaleRow{Scale: s, FloatAccuracy: floatAcc, FixedAccuracy: Accuracy(outs, xs), Agreement: agree, MeanAbsError: mae, N: len(xs),
			TruncBits: tb, Secure: tb <= 64-SafetyBits}
		rows = append(rows, row)
		if f != nil {
			f(row)
		}
		if row.Secure && (best < 0 || better(row, rows[best])) {
			best = len(rows) - 1
		}
	}
	if best < 0 {
		return rows, 0, fmt.Errorf("no scale in %v compiles with values small enough for secure truncation (|x| < 2^%d)", scales, 64-SafetyBits)
	}
	return rows, rows[best].Scale, nil
}

func better(a, b ScaleRow) bool {
	if a.FixedAccuracy != b.FixedAccuracy {
		return a.FixedAccuracy > b.FixedAccuracy
	}
	if a.Agreement != b.Agreement {
		return a.Agreement > b.Agreement
	}
	return a.MeanAbsError < b.MeanAbsError
}
