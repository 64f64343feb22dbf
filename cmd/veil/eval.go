package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"veil/fixed"
	"veil/model"
	"veil/mpc"
	"veil/mpc/session"
)

// evalResult is what `veil eval --json` prints.
type evalResult struct {
	Model         string  `json:"model"`
	Backend       string  `json:"backend"`
	Data          string  `json:"data"`
	N             int     `json:"n"`
	Correct       int     `json:"correct"`
	Accuracy      float64 `json:"accuracy"`
	Scale         int     `json:"scale,omitempty"`
	FloatAccuracy float64 `json:"float_accuracy,omitempty"`
	Agreement     float64 `json:"agreement_with_float,omitempty"`
	Seconds       float64 `json:"seconds"`
	// Secure is set for --backend 3pc: time, traffic and agreement of the
	// secure predictions with the cleartext fixed-point executor.
	Secure *session.Summary `json:"secure,omitempty"`
}

func evalCmd() *cobra.Command {
	var (
		df      dataFlags
		vf      dataFlags
		mf      modelFlags
		backend string
		scale   string
		scales  string
		asJSON  bool
		mal     maliciousFlags
	)
	cmd := &cobra.Command{
		Use:   "eval MODEL|PROGRAM --data D",
		Short: "Measure top-1 accuracy on labelled images, in float or in fixed point",
		Long: `eval runs every labelled image of --data through a model or a compiled
program and prints the top-1 accuracy.

--backend float runs the float graph; --backend fixed runs the fixed-point
program exactly as the secure backends compute it (a compiled PROGRAM always
runs fixed). For a MODEL in fixed point the scale is --scale N, or with
--scale auto the best of a sweep on the validation images of --val (without
--val, the default scale 12); fixed evaluation of a model also reports the
float accuracy and how often the two agree.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if df.spec == "" {
				return fmt.Errorf("give labelled images with --data")
			}
			w := cmd.OutOrStdout()
			pr := newProgress(cmd.ErrOrStderr(), asJSON)
			res := evalResult{Model: args[0], Backend: backend, Data: df.spec}
			secure := false
			if backend != "float" && backend != "fixed" {
				if _, err := mpc.Lookup(backend); err != nil {
					return fmt.Errorf("--backend %q: want float, fixed or a secure backend (%s)", backend, strings.Join(mpc.Backends(), ", "))
				}
				secure = true
			}
			start := time.Now()
			if model.IsProgramFile(args[0]) {
				if cmd.Flags().Changed("backend") && backend == "float" {
					return fmt.Errorf("%s is a compiled program: it runs only with --backend fixed or a secure backend", args[0])
				}
				p, err := fixed.ReadFile(args[0])
				if err != nil {
					return err
				}
				if !secure {
					res.Backend = "fixed"
				}
				res.Scale = p.Scale
				if _, err := df.follow(p.Preprocess, args[0]); err != nil {
					return err
				}
				xs, err := df.loadExamples(df.spec, df.limit, p.InputShape(), p.InputLayout())
				if err != nil {
					return err
				}
				outs, err := countOutputs(pr, "fixed point", xs, func(xs []fixed.Example) ([][]float64, error) { return fixed.FixedOutputs(p, xs) })
				if err != nil {
					return err
				}
				res.N, res.Accuracy = len(xs), fixed.Accuracy(outs, xs)
				if secure {
					if err := evalSecure(cmd.ErrOrStderr(), pr, &res, p, xs, outs, &mal); err != nil {
						return err
					}
				}
			} else {
				g, _, err := mf.load(args[0])
				if err != nil {
					return err
				}
				shape, err := g.InputShape()
				if err != nil {
					return err
				}
				xs, err := df.loadExamples(df.spec, df.limit, shape, g.Layout)
				if err != nil {
					return err
				}
				floatOuts, err := countOutputs(pr, "float", xs, func(xs []fixed.Example) ([][]float64, error) { return fixed.FloatOutputs(g, xs) })
				if err != nil {
					return err
				}
				res.N = len(xs)
				switch {
				case backend == "float":
					res.Accuracy = fixed.Accuracy(floatOuts, xs)
				default: // fixed or secure
					quiet := w
					if asJSON {
						quiet = cmd.ErrOrStderr()
					}
					vf.pixelMax, vf.mean, vf.std, vf.resize, vf.channels, vf.bgr = df.pixelMax, df.mean, df.std, df.resize, df.channels, df.bgr
					s, _, opt, err := chooseScale(quiet, pr, g, &vf, args[0], scale, scales)
					if err != nil {
						return err
					}
					p, err := fixed.CompileWith(g, s, opt)
					if err != nil {
						return err
					}
					outs, err := countOutputs(pr, fmt.Sprintf("fixed point (scale %d)", s), xs, func(xs []fixed.Example) ([][]float64, error) { return fixed.FixedOutputs(p, xs) })
					if err != nil {
						return err
					}
					res.Scale = s
					res.Accuracy = fixed.Accuracy(outs, xs)
					res.FloatAccuracy = fixed.Accuracy(floatOuts, xs)
					res.Agreement, _ = fixed.Compare(outs, floatOuts)
					if secure {
						if err := evalSecure(cmd.ErrOrStderr(), pr, &res, p, xs, outs, &mal); err != nil {
							return err
						}
					}
				}
			}
			res.Correct = int(res.Accuracy*float64(res.N) + 0.5)
			res.Seconds = time.Since(start).Seconds()
			if asJSON {
				enc := json.NewEncoder(w)
				return enc.Encode(res)
			}
			fmt.Fprintf(w, "%s on %s, backend %s", res.Model, res.Data, res.Backend)
			if res.Scale > 0 {
				fmt.Fprintf(w, " (scale %d)", res.Scale)
			}
			fmt.Fprintf(w, ":\n  accuracy %.2f%% (%d/%d) in %.1f s\n", 100*res.Accuracy, res.Correct, res.N, res.Seconds)
			if res.Secure != nil {
				fmt.Fprintf(w, "  secure top-1 agrees with the cleartext fixed-point executor on %.2f%% of the images\n", 100*res.Secure.SecureAgreement)
				printSummary(w, *res.Secure, res.N)
			}
			if res.Backend != "float" && res.FloatAccuracy > 0 {
				fmt.Fprintf(w, "  float accuracy %.2f%%, fixed − float %+.2f points, top-1 agreement with float %.2f%%\n",
					100*res.FloatAccuracy, 100*(res.Accuracy-res.FloatAccuracy), 100*res.Agreement)
			}
			return nil
		},
	}
	df.register(cmd, "labelled images to evaluate (image folder, IDX pair or directory, CSV, JSON)")
	mf.register(cmd)
	cmd.Flags().StringVar(&vf.spec, "val", "", "labelled validation images for --scale auto (same preprocessing flags as --data)")
	cmd.Flags().StringVar(&backend, "backend", "float", "float, fixed (cleartext fixed point) or a secure backend, all parties on loopback: "+strings.Join(mpc.Backends(), ", "))
	cmd.Flags().StringVar(&scale, "scale", "auto", "fixed-point scale for --backend fixed, or auto (sweep on --val)")
	cmd.Flags().StringVar(&scales, "scales", "6:20", "the range of scales an auto sweep tries")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	mal.register(cmd.Flags())
	return cmd
}

// evalSecure runs every example through the parties on loopback and
// replaces res's accuracy with the secure one.
func evalSecure(warn io.Writer, pr progress, res *evalResult, p *fixed.Program, xs []fixed.Example, clear [][]float64, mal *maliciousFlags) error {
	sr, err := runLoopback(warn, pr, p, exampleInputs(xs), res.Backend, mal)
	if err != nil {
		return err
	}
	sum := sr.Summary(clear)
	res.Accuracy = fixed.Accuracy(sr.Outputs, xs)
	res.Secure = &sum
	return nil
}

// countOutputs runs outputs (fixed.FloatOutputs or fixed.FixedOutputs)
// on the examples with a bar counting them, desc saying how they run.
// With a bar it runs them in chunks, each in parallel, so that the bar
// advances; without one, all at once.
func countOutputs(pr progress, desc string, xs []fixed.Example, outputs func([]fixed.Example) ([][]float64, error)) ([][]float64, error) {
	b := pr.count(len(xs), desc+": images")
	if b == nil {
		return outputs(xs)
	}
	defer b.done()
	chunk := max(4*runtime.GOMAXPROCS(0), len(xs)/200)
	outs := make([][]float64, 0, len(xs))
	for lo := 0; lo < len(xs); lo += chunk {
		hi := min(lo+chunk, len(xs))
		o, err := outputs(xs[lo:hi])
		if err != nil {
			return nil, fmt.Errorf("examples %d to %d: %w", lo, hi-1, err)
		}
		outs = append(outs, o...)
		b.add(hi - lo)
	}
	return outs, nil
}
