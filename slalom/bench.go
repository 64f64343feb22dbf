package slalom

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"time"
)

// BenchResult is one measurement of T's work with and without
// outsourcing, in the same process and run.
type BenchResult struct {
	Model   string `json:"model"`
	Variant string `json:"variant,omitempty"`
	Mode    string `json:"mode"`
	Check   string `json:"check,omitempty"`
	Lx      int    `json:"l_x"`
	Lw      int    `json:"l_w"`
	MACs    int64  `json:"macs"`
	Layers  int    `json:"linear_layers"`
	Runs    int    `json:"runs"`
	Threads int    `json:"trusted_threads"`
	// TrustedCPU is T's process CPU time per online inference with
	// outsourcing (median), BaselineCPU T's CPU time computing every layer
	// itself with the same kernels (median); Ratio = BaselineCPU/TrustedCPU.
	TrustedCPU  float64 `json:"trusted_cpu_s"`
	TrustedWall float64 `json:"trusted_wall_s"`
	BaselineCPU float64 `json:"baseline_cpu_s"`
	BaseWall    float64 `json:"baseline_wall_s"`
	Ratio       float64 `json:"work_ratio"`
	// OfflineCPU is T's CPU time per sealed pair (R, U = f(R), AES-GCM),
	// the offline price of privacy; PrepareCPU T's CPU time per key epoch
	// for the preprocessed checks (s, s̃ = f^T(s), β).
	OfflineCPU float64 `json:"offline_cpu_s"`
	PrepareCPU float64 `json:"prepare_cpu_s"`
	// DeviceCPU is D's process CPU time per inference (its own report).
	DeviceCPU float64 `json:"device_cpu_s"`
	BytesToD  int64   `json:"bytes_to_device"`
	BytesFrom int64   `json:"bytes_from_device"`
	// Verified: every outsourced output equalled the cleartext quantized
	// reference (the oracle) bit for bit.
	Verified bool `json:"verified"`
}

// OnlineHook, if set, is called before and after the online runs (profiling).
var OnlineHook func(start bool)

// settle collects garbage and returns freed memory to the OS before a
// measured phase, so that the runtime's background scavenger does not
// charge the earlier phases' garbage to it.
func settle() { debug.FreeOSMemory() }

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func measure(f func() error) (cpu, wall float64, err error) {
	c0, t0 := ProcessCPU(), time.Now()
	err = f()
	return ProcessCPU() - c0, time.Since(t0).Seconds(), err
}

// MeteredLink is a Link that also reports D's CPU time and the payload
// bytes it carried (slalom/device's Remote does).
type MeteredLink interface {
	Link
	// DeviceCPU asks D for its process CPU time in seconds.
	DeviceCPU() (float64, error)
	// Traffic is the payload bytes sent to D and received from it so far.
	Traffic() (sent, received int64)
}

// Bench measures T on input: the baseline (T computes every layer
// itself), the offline phases, and online inference through dev in the
// given mode, runs times each after a warm-up. logf reports progress.
func Bench(p *Program, mode Mode, dev MeteredLink, input []float32, runs int, logf func(string, ...any)) (*BenchResult, error) {
	if runs < 1 {
		runs = 1
	}
	r := &BenchResult{Model: p.Name, Mode: mode.String(), Lx: p.Lx, Lw: p.Lw, MACs: p.MACs(), Layers: len(p.Layers), Runs: runs,
		Threads: runtime.GOMAXPROCS(0), Verified: true}
	if mode.Verify {
		r.Check = mode.Check.String()
	}
	want, err := p.Oracle(input)
	if err != nil {
		return nil, err
	}
	settle()
	// Baseline.
	var cpus, walls []float64
	mem := &arena{}
	for i := 0; i <= runs; i++ {
		var out []int64
		c, w, err := measure(func() error {
			var err error
			out, err = p.local(input, mem)
			return err
		})
		if err != nil {
			return nil, err
		}
		if !slices.Equal(out, want) {
			return nil, fmt.Errorf("slalom: baseline output differs from the oracle")
		}
		if i > 0 {
			cpus, walls = append(cpus, c), append(walls, w)
		}
		logf("baseline run %d: cpu %.3f s, wall %.3f s", i, c, w)
	}
	r.BaselineCPU, r.BaseWall = median(cpus), median(walls)
	settle()

	t, err := NewTrusted(p, mode, dev, nil)
	if err != nil {
		return nil, err
	}
	if mode.Verify {
		c, _, _ := measure(func() error { t.Prepare(); return nil })
		r.PrepareCPU = c
		logf("prepare (s, s̃ for %d repetitions): cpu %.3f s", Reps, c)
	}
	if mode.Blind {
		c, _, _ := measure(func() error { t.Offline(runs + 1); return nil })
		r.OfflineCPU = c / float64(runs+1)
		logf("offline (R, U = f(R), sealing) for %d pairs: cpu %.3f s per pair", runs+1, r.OfflineCPU)
	}
	settle()
	d0, _ := dev.DeviceCPU()
	out0, in0 := dev.Traffic()
	cpus, walls = cpus[:0], walls[:0]
	if OnlineHook != nil {
		OnlineHook(true)
		defer OnlineHook(false)
	}
	for i := 0; i <= runs; i++ {
		var out []int64
		c, w, err := measure(func() error {
			var err error
			out, err = t.Infer(input)
			return err
		})
		if err != nil {
			return nil, err
		}
		if !slices.Equal(out, want) {
			r.Verified = false
		}
		if i > 0 {
			cpus, walls = append(cpus, c), append(walls, w)
		}
		logf("%s run %d: T cpu %.3f s, wall %.3f s", mode, i, c, w)
	}
	d1, _ := dev.DeviceCPU()
	r.DeviceCPU = (d1 - d0) / float64(runs+1)
	out1, in1 := dev.Traffic()
	r.BytesToD = (out1 - out0) / int64(runs+1)
	r.BytesFrom = (in1 - in0) / int64(runs+1)
	r.TrustedCPU, r.TrustedWall = median(cpus), median(walls)
	if r.TrustedCPU > 0 {
		r.Ratio = r.BaselineCPU / r.TrustedCPU
	}
	return r, nil
}
