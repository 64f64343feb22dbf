package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"veil/fixed"
	"veil/ir"
	"veil/mpc"
	"veil/mpc/aramis"
	"veil/mpc/session"
	"veil/mpc/transport"
	"veil/zoo"
)

// benchResult is one network's line of `veil bench --json`.
type benchResult struct {
	Network        string    `json:"network"`
	Backend        string    `json:"backend"`
	Compare        string    `json:"compare"` // the comparison protocol
	Scale          int       `json:"scale"`
	WallS          float64   `json:"wall_s"` // the whole session, setup included
	Inferences     int       `json:"inferences"`
	MsPerInference float64   `json:"ms_per_inference"` // median; setup excluded
	CPUS           []float64 `json:"cpu_s_per_party"`
	BytesSent      []int64   `json:"bytes_sent_per_party"`
	BytesTotal     int64     `json:"bytes_total"`
	Rounds         int       `json:"rounds"`
	PeakRSS        int64     `json:"peak_rss_bytes"` // the largest of the parties
	PeakRSSParty   []int64   `json:"peak_rss_bytes_per_party"`
	ReluCount      int       `json:"relu_count"`
	Comparisons    int       `json:"comparisons"` // ReLUs plus MaxPool/ArgMax comparisons
	BytesPerRelu   float64   `json:"bytes_per_comparison"`
	Verified       bool      `json:"verified"`
	MaxDeviation   float64   `json:"max_logit_deviation_units"`
	Params         int       `json:"params"`
	MACs           int64     `json:"macs"`
	CompileS       float64   `json:"compile_s"`
	VerifyProblem  string    `json:"verify_problem,omitempty"`
	Malicious      bool      `json:"malicious"`
}

func benchCmd() *cobra.Command {
	var (
		asJSON   bool
		markdown bool
		seed     uint64
		scale    int
		repeat   int
		chart    string
		mf       modelFlags
		mal      maliciousFlags
		backend  string
	)
	cmd := &cobra.Command{
		Use:   "bench [NETWORK|MODEL...]",
		Short: "Measure secure 3-party inference: time, CPU, bytes, rounds and memory per party",
		Long: `bench compiles each network (a zoo name, or a model file) and runs one inference
through the 3-party Porthos protocol with the client, the server and the
helper as three processes of this program on loopback TLS. It reports wall
time, each party's CPU time, bytes and peak memory, rounds, the ReLU and
comparison counts, and whether the secure output matched the cleartext
fixed-point executor (same top-1, every logit within the propagated
truncation bound). With no arguments it runs the bundled Fashion-MNIST LeNet.
With --malicious the parties run Aramis (attested evidence, every message
authenticated, numbered and chained; see veil party --malicious).

Zoo networks (seeded random weights; their cost does not depend on them):
` + strings.Join(zoo.Names(), ", ") + `.

The ResNet scaling run (the paper's Figure 10):
  veil bench --chart scaling.png resnet18 resnet34 resnet50 resnet101 resnet152 resnet200`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{lenetDefault}
			}
			w := cmd.OutOrStdout()
			var results []benchResult
			for _, name := range args {
				r, err := benchOne(cmd.ErrOrStderr(), &mf, &mal, backend, name, seed, scale, repeat)
				if err != nil {
					return fmt.Errorf("bench %s: %w", name, err)
				}
				results = append(results, *r)
				if asJSON {
					if err := json.NewEncoder(w).Encode(r); err != nil {
						return err
					}
				}
			}
			switch {
			case asJSON:
			case markdown:
				printBenchMarkdown(w, results)
			default:
				printBenchTable(w, results)
			}
			if chart != "" {
				if err := writeScalingChart(chart, results); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s\n", chart)
			}
			for _, r := range results {
				if !r.Verified {
					return fmt.Errorf("%s: the secure output did not match the cleartext executor: %s", r.Network, r.VerifyProblem)
				}
			}
			return nil
		},
	}
	mf.register(cmd)
	mal.register(cmd.Flags())
	backendFlag(cmd, &backend)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per network")
	cmd.Flags().BoolVar(&markdown, "markdown", false, "print a markdown table")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of the random weights (zoo networks) and the random input")
	cmd.Flags().IntVar(&scale, "scale", defaultScale, "fixed-point scale")
	cmd.Flags().IntVarP(&repeat, "inferences", "n", 1, "inferences per network in one session (bytes, rounds and CPU are reported per inference, time as the median)")
	cmd.Flags().StringVar(&chart, "chart", "", "write a PNG of time and communication against depth (for a scaling run such as resnet18 … resnet200)")
	return cmd
}

// benchNetwork builds (zoo) or loads (model file) the named network.
func benchNetwork(mf *modelFlags, name string, seed uint64) (*ir.Graph, error) {
	if _, err := os.Stat(name); err == nil {
		g, _, err := mf.load(name)
		return g, err
	}
	return buildZoo(name, seed)
}

func benchOne(progress io.Writer, mf *modelFlags, mal *maliciousFlags, backend, name string, seed uint64, scale, repeat int) (*benchResult, error) {
	repeat = max(repeat, 1)
	t0 := time.Now()
	g, err := benchNetwork(mf, name, seed)
	if err != nil {
		return nil, err
	}
	if _, err := ir.Optimize(g); err != nil {
		return nil, err
	}
	p, err := fixed.Compile(g, scale)
	if err != nil {
		return nil, err
	}
	res := &benchResult{Network: strings.TrimSuffix(filepath.Base(name), filepath.Ext(name)), Backend: backend, Compare: compareFlag, Scale: scale, Malicious: mal.on,
		ReluCount: p.Stats.ReluElems, Params: p.Stats.Params, MACs: p.Stats.MACs, CompileS: time.Since(t0).Seconds()}
	res.Comparisons = p.Stats.Comparisons

	dir, err := os.MkdirTemp("", "veil-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	progPath := filepath.Join(dir, "program.vp")
	if err := p.WriteFile(progPath); err != nil {
		return nil, err
	}
	in := p.Tensors[p.Inputs[0]]
	x := make([]float32, in.Shape.Size())
	r := rand.New(rand.NewPCG(seed, 0x696e707574))
	for i := range x {
		x[i] = r.Float32()
	}
	inPath := filepath.Join(dir, "input.f32")
	if err := writeFloat32s(inPath, x); err != nil {
		return nil, err
	}
	b, err := mpc.Lookup(backend)
	if err != nil {
		return nil, err
	}
	parties := mpc.PartiesOf(b.Parties)
	for _, pt := range parties {
		if err := transport.GenerateIdentity(pt, dir); err != nil {
			return nil, err
		}
	}
	cfg, err := session.WriteLoopbackConfig(dir, b.Parties, session.DefaultTimeout)
	if err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmp := "--compare=" + compareFlag
	args := make([][]string, len(parties))
	for i, pt := range parties {
		args[i] = []string{"party", cmp, "--backend", backend, "--role", pt.Role(), "--config", cfg, "--json"}
		switch pt {
		case mpc.P0:
			args[i] = append(args[i], "--input-raw", inPath, "--repeat", fmt.Sprint(repeat))
		case mpc.P1:
			args[i] = append(args[i], "--program", progPath)
		}
	}
	if mal.on {
		if err := mal.loopback(progress); err != nil {
			return nil, err
		}
		section, err := aramis.WriteSimulated(dir, b.Parties)
		if err != nil {
			return nil, err
		}
		if err := aramis.AddSection(cfg, section); err != nil {
			return nil, err
		}
		for i := range args {
			args[i] = append(args[i], "--malicious", "--insecure-simulated-attestation")
		}
	}
	outs, stderrs := make([]bytes.Buffer, len(parties)), make([]bytes.Buffer, len(parties)) // the JSON report; errors and warnings
	procs := make([]*exec.Cmd, len(parties))
	for i := range procs {
		c := exec.Command(exe, args[i]...)
		c.Env = append(os.Environ(), "VEIL_TEST_AS_COMMAND=1")
		c.Stdout, c.Stderr = &outs[i], &stderrs[i]
		if err := c.Start(); err != nil {
			return nil, err
		}
		procs[i] = c
	}
	stop := showProgress(progress, res.Network)
	var errs []string
	for i, c := range procs {
		if err := c.Wait(); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v: %s", parties[i], err, strings.TrimSpace(stderrs[i].String()+outs[i].String())))
		}
	}
	stop()
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	reports := make([]session.PartyReport, len(parties))
	res.CPUS, res.BytesSent, res.PeakRSSParty = make([]float64, len(parties)), make([]int64, len(parties)), make([]int64, len(parties))
	for i := range reports {
		if err := json.Unmarshal(outs[i].Bytes(), &reports[i]); err != nil {
			return nil, fmt.Errorf("%s printed %q: %v", parties[i], outs[i].String(), err)
		}
		res.CPUS[i] = reports[i].CPUSeconds
		res.BytesSent[i] = reports[i].BytesSent
		res.BytesTotal += reports[i].BytesSent
		res.PeakRSSParty[i] = reports[i].PeakRSS
		res.PeakRSS = max(res.PeakRSS, reports[i].PeakRSS)
	}
	res.WallS = reports[0].WallS
	res.MsPerInference = reports[0].MsMedian
	res.Inferences = repeat
	res.Rounds = reports[0].Rounds / repeat
	for i := range res.BytesSent {
		res.BytesSent[i] /= int64(repeat)
		res.CPUS[i] /= float64(repeat)
	}
	res.BytesTotal /= int64(repeat)
	if res.Comparisons > 0 {
		res.BytesPerRelu = float64(res.BytesTotal) / float64(res.Comparisons)
	}
	if len(reports[0].Predictions) != repeat {
		return nil, fmt.Errorf("the client returned %d outputs for %d inferences", len(reports[0].Predictions), repeat)
	}
	res.MaxDeviation, err = p.VerifyOutput(x, reports[0].Predictions[0].Output)
	res.Verified = err == nil
	if err != nil {
		res.VerifyProblem = err.Error()
	}
	return res, nil
}

func writeFloat32s(path string, x []float32) error {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return os.WriteFile(path, b, 0o644)
}

func readFloat32s(path string, n int) ([]float32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) != 4*n {
		return nil, fmt.Errorf("%s: %d bytes, want %d float32 values (%d bytes)", path, len(b), n, 4*n)
	}
	x := make([]float32, n)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return x, nil
}

// showProgress displays a spinner with the elapsed time on w while a
// network runs, if w is a terminal; the returned function stops it.
func showProgress(w io.Writer, name string) func() {
	f, ok := w.(*os.File)
	if !ok {
		return func() {}
	}
	if st, err := f.Stat(); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return func() {}
	}
	bar := progressbar.NewOptions(-1, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(name+": secure inference"),
		progressbar.OptionSpinnerType(14), progressbar.OptionShowElapsedTimeOnFinish(), progressbar.OptionClearOnFinish())
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				bar.Add(1)
			}
		}
	}()
	return func() { close(done); bar.Finish() }
}

func printBenchTable(w io.Writer, rs []benchResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "network\tms/inference\tCPU s P0/P1/…\tsent P0/P1/…\ttotal\trounds\tpeak RSS\tReLUs\tcomparisons\tB/cmp\tverified\t")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%.1f\t%s\t%s\t%s\t%d\t%s\t%d\t%d\t%.0f\t%v\t\n", r.Network, r.MsPerInference,
			perParty(r.CPUS, "/", func(v float64) string { return fmt.Sprintf("%.2f", v) }), perParty(r.BytesSent, "/", ir.FormatBytes),
			ir.FormatBytes(r.BytesTotal), r.Rounds, ir.FormatBytes(r.PeakRSS), r.ReluCount, r.Comparisons, r.BytesPerRelu, r.Verified)
	}
	tw.Flush()
}

func printBenchMarkdown(w io.Writer, rs []benchResult) {
	fmt.Fprintln(w, "| network | time per inference | CPU s P0 / P1 / … | total bytes | rounds | peak RSS (max party) | ReLUs | comparisons | bytes/comparison | verified |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %d | %s | %d | %d | %.0f | %v |\n", r.Network, fmtMs(r.MsPerInference), perParty(r.CPUS, " / ", func(v float64) string { return fmt.Sprintf("%.2f", v) }),
			ir.FormatBytes(r.BytesTotal), r.Rounds, ir.FormatBytes(r.PeakRSS), r.ReluCount, r.Comparisons, r.BytesPerRelu, r.Verified)
	}
}

func fmtMs(ms float64) string {
	if ms >= 1000 {
		return fmt.Sprintf("%.2f s", ms/1000)
	}
	return fmt.Sprintf("%.1f ms", ms)
}

// perParty formats one value per party, joined by sep.
func perParty[T any](vs []T, sep string, f func(T) string) string {
	ss := make([]string, len(vs))
	for i, v := range vs {
		ss[i] = f(v)
	}
	return strings.Join(ss, sep)
}
