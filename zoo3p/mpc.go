package zoo3p

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"veil/fixed"
	"veil/mpc"
	"veil/mpc/porthos"
)

// MPCTimeout is the stall timeout of the in-process parties' networks:
// long, since a party may wait for another's local work on busy cores.
var MPCTimeout = 5 * time.Minute

// MPCResult is one secure run of a program against the cleartext
// executor.
type MPCResult struct {
	Outputs []MPCOutput
	Bytes   int64 // payload bytes sent by the three parties together
	Rounds  int   // P0's rounds
	Elapsed time.Duration
	Reruns  int // runs before this one that failed (see Check)
	// Float is the fixed-point check of the decoded outputs against
	// float, as for the cleartext executor's.
	Float []FixedDiff
	outs  [][]uint64
}

// MPCOutput is one output of a secure run, in units of the output's
// scale: its largest deviation from the cleartext executor's, the
// largest of its elements' propagated bounds (fixed.Program.ElementBounds),
// and the elements that deviate beyond their own bound (Over) and by
// what fraction of it at most (Ratio).
type MPCOutput struct {
	Name  string
	Scale int
	Dev   float64
	Bound float64
	Over  int
	Ratio float64
}

// Err reports the outputs beyond their bound, and those whose decoded
// value fails the fixed-point check against float (Float) that the
// cleartext executor passed: a bound is only as tight as its
// propagation, and deep models' bounds are astronomically loose.
func (m *MPCResult) Err() error {
	var errs []error
	for _, o := range m.Outputs {
		if o.Over > 0 {
			errs = append(errs, fmt.Errorf("3PC output %s: %d elements deviate from the cleartext executor's beyond their propagated bound (at most %.3g times it; largest deviation %g units at scale %d)", o.Name, o.Over, o.Ratio, o.Dev, o.Scale))
		}
	}
	for _, d := range m.Float {
		if !d.OK {
			errs = append(errs, fmt.Errorf("3PC output against float: %v", d))
		}
	}
	if len(errs) > 1 {
		return fmt.Errorf("%w (and %d more)", errs[0], len(errs)-1)
	}
	return errors.Join(errs...)
}

// suspect reports whether the run may have hit a failed truncation: an
// output beyond a finite bound, or off against float.
func (m *MPCResult) suspect() bool {
	for _, o := range m.Outputs {
		if o.Over > 0 {
			return true
		}
	}
	for _, d := range m.Float {
		if !d.OK {
			return true
		}
	}
	return false
}

// MaxRatio is the largest deviation of an element over its bound (0
// where both are 0).
func (m *MPCResult) MaxRatio() float64 {
	r := 0.0
	for _, o := range m.Outputs {
		r = math.Max(r, o.Ratio)
	}
	return r
}

// MaxDev and MaxBound are the largest deviation and bound over outputs,
// in units.
func (m *MPCResult) MaxDev() (dev, bound float64) {
	for _, o := range m.Outputs {
		dev, bound = math.Max(dev, o.Dev), math.Max(bound, o.Bound)
	}
	return dev, bound
}

// Run3PC runs prog on the encoded inputs in Porthos (mpc/porthos, default
// options), the three parties in this process over mpc.NewLocal: P0 holds
// the inputs and the public program and gets the outputs, P1 the full
// program, P2 the public program. vals is the cleartext executor's Trace
// on the same inputs; every output element is compared with it, within
// its bound in fixed.Program.ElementBounds(vals).
func Run3PC(prog *fixed.Program, inputs [][]uint64, vals [][]uint64) (*MPCResult, error) {
	b, err := mpc.Lookup(porthos.BackendName)
	if err != nil {
		return nil, err
	}
	nets := mpc.NewLocal(b.Parties, MPCTimeout)
	pub := prog.Public()
	errs := make([]error, len(nets))
	costs := make([]mpc.Cost, len(nets))
	var outs [][]uint64
	start := time.Now()
	done := make(chan int)
	for i := range nets {
		go func() {
			defer func() { done <- i }()
			net := nets[i]
			defer net.Close()
			e, err := b.New(net, nil)
			if err != nil {
				errs[i] = err
				return
			}
			var out [][]uint64
			switch mpc.Party(i) {
			case mpc.P0:
				out, err = e.Run(context.Background(), pub, inputs...)
			case mpc.P1:
				out, err = e.Run(context.Background(), prog)
			default:
				out, err = e.Run(context.Background(), pub)
			}
			errs[i], costs[i] = err, e.Cost()
			if mpc.Party(i) == mpc.P0 {
				outs = out
			}
		}()
	}
	for range nets {
		<-done
	}
	m := &MPCResult{Elapsed: time.Since(start), Rounds: costs[0].Rounds, outs: outs}
	for _, c := range costs {
		m.Bytes += c.TotalSent()
	}
	if err := errors.Join(errs...); err != nil {
		return m, fmt.Errorf("3PC: %w", err)
	}
	if len(outs) != len(prog.Outputs) {
		return m, fmt.Errorf("3PC: %d outputs, the program has %d", len(outs), len(prog.Outputs))
	}
	eb, err := prog.ElementBounds(vals)
	if err != nil {
		return m, fmt.Errorf("3PC: %w", err)
	}
	for i, id := range prog.Outputs {
		want := vals[id]
		o := MPCOutput{Name: prog.OutputPorts()[i].Name, Scale: prog.Tensors[id].Scale}
		if len(outs[i]) != len(want) {
			o.Dev, o.Over, o.Ratio = math.Inf(1), len(want), math.Inf(1)
		}
		for j := range min(len(outs[i]), len(want)) {
			d, b := math.Abs(float64(int64(outs[i][j]-want[j]))), eb[i][j]
			o.Dev, o.Bound = math.Max(o.Dev, d), math.Max(o.Bound, b)
			if d > b {
				o.Over++
			}
			if d > 0 {
				o.Ratio = math.Max(o.Ratio, d/b)
			}
		}
		m.Outputs = append(m.Outputs, o)
	}
	return m, nil
}
