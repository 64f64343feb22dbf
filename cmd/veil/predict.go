package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"veil/data"
	"veil/fixed"
	"veil/ir"
	"veil/model"
	"veil/mpc"
)

type prediction struct {
	Image  string    `json:"image"`
	Output []float64 `json:"output"`
	Top1   int       `json:"top1"`
}

func predictCmd() *cobra.Command {
	var (
		df      dataFlags
		mf      modelFlags
		backend string
		scale   int
		asJSON  bool
		mal     maliciousFlags
	)
	cmd := &cobra.Command{
		Use:   "predict MODEL|PROGRAM IMAGE...",
		Short: "Print the output vector and top-1 class for each image",
		Long: `predict runs each image through a model or a compiled program and prints its
output vector and top-1 class.

--backend float runs the float graph, fixed the cleartext fixed-point program
(the oracle), and a secure backend (` + strings.Join(mpc.Backends(), ", ") + `) runs every party of it on
this machine over loopback TLS, so that the outputs can be compared directly.
A MODEL whose functions need traced ranges (reciprocals, square roots,
exponentials of secret values) is compiled with ranges traced on --data, or
on the images themselves when --data is not given.`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opt, err := df.options(0)
			if err != nil {
				return err
			}
			secure := backend != "float" && backend != "fixed"
			if secure {
				if _, err := secureOptions(backend); err != nil {
					return usagef("--backend %q: want float, fixed or a secure backend (%s)", backend, strings.Join(mpc.Backends(), ", "))
				}
			}
			var (
				g      *ir.Graph
				prog   *fixed.Program
				shape  ir.Shape
				layout ir.Layout
			)
			if model.IsProgramFile(args[0]) {
				if backend == "float" {
					return usagef("%s is a compiled program: --backend float needs a model", args[0])
				}
				if prog, err = fixed.ReadFile(args[0]); err != nil {
					return err
				}
				shape, layout = prog.InputShape(), prog.InputLayout()
			} else {
				if g, _, err = mf.load(args[0]); err != nil {
					return err
				}
				if shape, err = g.InputShape(); err != nil {
					return err
				}
				layout = g.Layout
			}
			inputs := make([][]float32, len(args)-1)
			for i, path := range args[1:] {
				s, err := data.LoadImage(path, opt)
				if err != nil {
					return flagError(err)
				}
				t, err := model.Input(s, shape, layout)
				if err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
				inputs[i] = t.F
			}
			if prog == nil && backend != "float" {
				calib := make([]fixed.Example, len(inputs))
				for i, x := range inputs {
					calib[i].Input = x
				}
				if df.spec != "" {
					if calib, err = df.loadInputs(df.spec, df.limit, shape, layout); err != nil {
						return err
					}
				}
				ranges, err := fixed.TraceRanges(g, calib)
				if err != nil {
					return err
				}
				if prog, err = fixed.CompileWith(g, scale, fixed.Options{Ranges: ranges}); err != nil {
					return err
				}
			}
			outs := make([][]float64, len(inputs))
			switch {
			case backend == "float":
				xs := make([]fixed.Example, len(inputs))
				for i, x := range inputs {
					xs[i].Input = x
				}
				if outs, err = fixed.FloatOutputs(g, xs); err != nil {
					return err
				}
			case secure:
				res, err := runLoopback(cmd.ErrOrStderr(), prog, inputs, backend, &mal)
				if err != nil {
					return err
				}
				outs = res.Outputs
			default:
				for i, x := range inputs {
					y, err := prog.Predict(x)
					if err != nil {
						return fmt.Errorf("%s: %w", args[1+i], err)
					}
					outs[i] = prog.ApplyPost(y)
				}
			}
			preds := make([]prediction, len(inputs))
			for i, y := range outs {
				preds[i] = prediction{Image: args[1+i], Output: y, Top1: fixed.Top1(y)}
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(w).Encode(preds)
			}
			for _, p := range preds {
				fmt.Fprintf(w, "%s: top-1 %d\n  output", p.Image, p.Top1)
				for _, v := range p.Output {
					fmt.Fprintf(w, " %.5g", v)
				}
				fmt.Fprintln(w)
			}
			return nil
		},
	}
	df.register(cmd, "calibration images for the ranges of functions that need them (default: the images themselves)")
	mf.register(cmd)
	cmd.Flags().StringVar(&backend, "backend", "float", "float, fixed, or a secure backend ("+strings.Join(mpc.Backends(), ", ")+") with every party on loopback")
	cmd.Flags().IntVar(&scale, "scale", defaultScale, "fixed-point scale when compiling a MODEL")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: one object per image")
	mal.register(cmd.Flags())
	return cmd
}
