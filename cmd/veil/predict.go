package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"veil/data"
	"veil/fixed"
	"veil/ir"
	"veil/model"
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
	)
	cmd := &cobra.Command{
		Use:   "predict MODEL|PROGRAM IMAGE...",
		Short: "Print the output vector and top-1 class for each image",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opt, err := df.options(0)
			if err != nil {
				return err
			}
			var run func(x []float32) ([]float64, error)
			var shape ir.Shape
			var layout ir.Layout
			if model.IsProgramFile(args[0]) {
				p, err := fixed.ReadFile(args[0])
				if err != nil {
					return err
				}
				shape, layout = p.InputShape(), p.InputLayout()
				run = func(x []float32) ([]float64, error) {
					y, err := p.Predict(x)
					return p.ApplyPost(y), err
				}
			} else {
				g, _, err := mf.load(args[0])
				if err != nil {
					return err
				}
				if shape, err = g.InputShape(); err != nil {
					return err
				}
				layout = g.Layout
				switch backend {
				case "float":
					run = func(x []float32) ([]float64, error) {
						outs, err := fixed.FloatOutputs(g, []fixed.Example{{Input: x}})
						if err != nil {
							return nil, err
						}
						return outs[0], nil
					}
				case "fixed":
					p, err := fixed.Compile(g, scale)
					if err != nil {
						return err
					}
					run = func(x []float32) ([]float64, error) {
						y, err := p.Predict(x)
						return p.ApplyPost(y), err
					}
				default:
					return fmt.Errorf("--backend %q: want float or fixed", backend)
				}
			}
			var preds []prediction
			for _, path := range args[1:] {
				s, err := data.LoadImage(path, opt)
				if err != nil {
					return err
				}
				t, err := model.Input(s, shape, layout)
				if err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
				y, err := run(t.F)
				if err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
				preds = append(preds, prediction{Image: path, Output: y, Top1: fixed.Top1(y)})
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
	df.register(cmd, "unused by predict")
	cmd.Flags().MarkHidden("data")
	cmd.Flags().MarkHidden("limit")
	mf.register(cmd)
	cmd.Flags().StringVar(&backend, "backend", "float", "float or fixed (for a MODEL)")
	cmd.Flags().IntVar(&scale, "scale", defaultScale, "fixed-point scale for --backend fixed")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: one object per image")
	return cmd
}
