package main

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"veil/fixed"
	"veil/internal/bench"
	"veil/ir"
	"veil/model"
)

func compileCmd() *cobra.Command {
	var (
		df     dataFlags
		mf     modelFlags
		scale  string
		scales string
		out    string
	)
	cmd := &cobra.Command{
		Use:   "compile MODEL|zoo:NETWORK -o PROGRAM",
		Short: "Convert a model to a fixed-point program, choosing the scale on labelled data",
		Long: `compile imports MODEL, optimizes the float graph (identity removal, constant
folding, batch-norm folding, ReLU/MaxPool swap), converts it to a fixed-point
program over Z_2^64 and writes it to PROGRAM.

With --scale auto (the default) and --data, every scale in --scales is tried
on the labelled images of --data (a validation set, not the test set) and the
most accurate is kept; the sweep is printed and stored in the program.

zoo:NETWORK compiles a network of veil bench's zoo (seeded random weights,
calibrated on seeded random inputs) exactly as veil bench runs it, at
--scale (default 12): to serve it with veil serve, say.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("give the output program file with -o")
			}
			if name, ok := strings.CutPrefix(args[0], "zoo:"); ok {
				return compileZoo(cmd.OutOrStdout(), name, scale, out)
			}
			pr := newProgress(cmd.ErrOrStderr(), false)
			start := time.Now()
			b := pr.spin("importing " + args[0])
			g, st, err := mf.load(args[0])
			b.done()
			if err != nil {
				return err
			}
			imported := time.Since(start)
			w := cmd.OutOrStdout()
			printPassStats(w, st)
			fmt.Fprintf(w, "memory plan (ring values, 8 bytes each): %s\n", ir.PlanMemory(g).Summary(8))
			s, rows, opt, err := chooseScale(w, pr, g, &df, args[0], scale, scales)
			if err != nil {
				return err
			}
			t0 := time.Now()
			p, err := fixed.CompileWith(g, s, opt)
			if err != nil {
				return err
			}
			compiled := imported + time.Since(t0)
			p.ScaleTable = rows
			if p.Preprocess, err = df.preprocess(); err != nil {
				return err
			}
			p.Name = strings.TrimSuffix(filepath.Base(args[0]), filepath.Ext(args[0]))
			p.Source = args[0]
			if h, err := model.SourceHash(args[0]); err == nil {
				p.SourceHash = h
			}
			if err := p.WriteFile(out); err != nil {
				return err
			}
			printProgram(w, p)
			fmt.Fprintf(w, "compile time (import, optimize, convert; excluding the sweep): %.3f s\n", compiled.Seconds())
			fmt.Fprintf(w, "wrote %s (scale %d)\n", out, p.Scale)
			return nil
		},
	}
	df.register(cmd, "labelled validation images for the scale sweep (image folder, IDX pair, CSV, JSON)")
	mf.register(cmd)
	cmd.Flags().StringVar(&scale, "scale", "auto", "fixed-point scale s (values are x·2^s), or auto to sweep on --data")
	cmd.Flags().StringVar(&scales, "scales", "6:20", "the range of scales an auto sweep tries")
	cmd.Flags().StringVarP(&out, "output", "o", "", "program file to write")
	return cmd
}

// defaultScale is used when no labelled data is given for a sweep.
const defaultScale = 12

// chooseScale resolves --scale: a fixed value, or a sweep on --data.
// With --data it also returns the compile options traced on it (the
// ranges of the functions that need them, see fixed.TraceRanges). It
// prints the sweep's table on w and its progress with pr: a spinner,
// since fixed.Sweep reports nothing until it has tried every scale.
func chooseScale(w io.Writer, pr progress, g *ir.Graph, df *dataFlags, modelPath, scale, scales string) (int, []fixed.ScaleRow, fixed.Options, error) {
	var opt fixed.Options
	fixedScales, auto, err := parseScales(scale)
	if err != nil {
		return 0, nil, opt, err
	}
	if df.spec == "" {
		if !auto {
			return fixedScales[0], nil, opt, nil
		}
		fmt.Fprintf(w, "no --data for a scale sweep: using the default scale %d\n", defaultScale)
		return defaultScale, nil, opt, nil
	}
	shape, err := g.InputShape()
	if err != nil {
		return 0, nil, opt, err
	}
	b := pr.spin("loading " + df.spec)
	defer b.done()
	xs, err := df.loadExamples(df.spec, df.limit, shape, g.Layout)
	if err != nil {
		return 0, nil, opt, err
	}
	b.describe(fmt.Sprintf("tracing ranges on %d images", len(xs)))
	if opt.Ranges, err = fixed.TraceRanges(g, xs); err != nil {
		return 0, nil, opt, err
	}
	opt.Calibration = xs
	if !auto {
		return fixedScales[0], nil, opt, nil
	}
	rng, _, err := parseScales(scales)
	if err != nil {
		return 0, nil, opt, err
	}
	b.done()
	sweep := pr.count(len(rng), fmt.Sprintf("scale sweep: %d scales on %d images", len(rng), len(xs)))
	t0 := time.Now()
	rows, best, err := fixed.SweepFunc(g, xs, rng, func(fixed.ScaleRow) { sweep.add(1) })
	sweep.done()
	if err != nil {
		return 0, nil, opt, err
	}
	fmt.Fprintf(w, "scale sweep on %d labelled images of %s (%.1f s):\n", len(xs), df.spec, time.Since(t0).Seconds())
	printScaleTable(w, rows, best)
	return best, rows, opt, nil
}

func printScaleTable(w io.Writer, rows []fixed.ScaleRow, chosen int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scale\tfloat acc\tfixed acc\tagree w/ float\tmean |Δout|\ttrunc. failure/elem\t")
	for _, r := range rows {
		mark := ""
		switch {
		case r.Scale == chosen:
			mark = "  ← chosen"
		case !r.Secure && r.FixedAccuracy >= 0:
			mark = "  (unsafe for secure truncation)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%.2e\t2^%d\t%s\n", r.Scale, pct(r.FloatAccuracy), pct(r.FixedAccuracy), pct(r.Agreement), r.MeanAbsError, r.TruncBits-64, mark)
	}
	tw.Flush()
}

func printPassStats(w io.Writer, st ir.PassStats) {
	fmt.Fprintf(w, "passes: %d identities removed, %d constants folded, %d batch norms folded into convolutions, %d lowered to multiply-add, %d activations hoisted over concatenations, %d ReLU/MaxPool swaps saving %d of %d ReLUs\n",
		st.IdentitiesRemoved, st.ConstantsFolded, st.BatchNormsFolded, st.BatchNormsLowered, st.ActsHoisted, st.ReluPoolSwaps, st.ReLUsSaved(), st.ReluElemsBefore)
}

func printProgram(w io.Writer, p *fixed.Program) {
	ops := make([]string, 0, len(p.Stats.ByOp))
	for op, n := range p.Stats.ByOp {
		ops = append(ops, fmt.Sprintf("%s×%d", op, n))
	}
	sort.Strings(ops)
	fmt.Fprintf(w, "program %q: %d instructions (%s)\n", p.Name, p.Stats.Instrs, strings.Join(ops, " "))
	fmt.Fprintf(w, "  ScaleDowns: %d   parameters: %d   ReLU comparisons: %d   multiply-adds: %d\n",
		p.Stats.ScaleDowns, p.Stats.Params, p.Stats.ReluElems, p.Stats.MACs)
	in := p.Tensors[p.Inputs[0]]
	out := p.Tensors[p.Outputs[0]]
	post := ""
	if p.Post != "" {
		post = fmt.Sprintf(", then %s in the clear", p.Post)
	}
	fmt.Fprintf(w, "  input %q %v (%s) → output %v%s; scale %d\n", in.Name, in.Shape, p.Layout, out.Shape, post, p.Scale)
}

// compileZoo writes the program of zoo network name as veil bench
// compiles it (seed 1).
func compileZoo(w io.Writer, name, scale, out string) error {
	s := defaultScale
	if scale != "auto" {
		var err error
		if s, err = strconv.Atoi(scale); err != nil {
			return usagef("--scale %q: a number (zoo networks have no data for a sweep)", scale)
		}
	}
	g, err := buildZoo(name, 1)
	if err != nil {
		return err
	}
	p, err := bench.Compile(g, s, 1)
	if err != nil {
		return err
	}
	p.Name = name
	if err := p.WriteFile(out); err != nil {
		return err
	}
	printProgram(w, p)
	fmt.Fprintf(w, "wrote %s (zoo network %s, seeded random weights, scale %d)\n", out, name, p.Scale)
	return nil
}
