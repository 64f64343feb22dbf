package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"veil/fixed"
	"veil/ir"
	"veil/model"
)

func infoCmd() *cobra.Command {
	var (
		mf    modelFlags
		noOpt bool
	)
	cmd := &cobra.Command{
		Use:   "info MODEL|PROGRAM",
		Short: "List a model's ops and shapes (or a compiled program's summary)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			if model.IsProgramFile(args[0]) {
				p, err := fixed.ReadFile(args[0])
				if err != nil {
					return err
				}
				printProgram(w, p)
				if len(p.ScaleTable) > 0 {
					printScaleTable(w, p.ScaleTable, p.Scale)
				}
				return nil
			}
			var g *ir.Graph
			var err error
			if noOpt {
				var opt model.Options
				if opt, err = mf.options(); err != nil {
					return err
				}
				g, err = model.Load(args[0], opt)
			} else {
				var st ir.PassStats
				g, st, err = mf.load(args[0])
				if err == nil {
					printPassStats(w, st)
				}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "model %q (%s layout)\n", g.Name, g.Layout)
			for _, in := range g.Inputs {
				fmt.Fprintf(w, "input  %-24s %v\n", in, g.Values[in].Shape)
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "#\top\tnode\tinputs\toutput")
			for i, n := range g.Nodes {
				var ins []string
				for _, in := range n.Inputs {
					v := g.Values[in]
					mark := ""
					if v.Const != nil {
						mark = "const"
					}
					ins = append(ins, mark+v.Shape.String())
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%v\n", i, n.Op, n.Name, strings.Join(ins, " "), g.Values[n.Output].Shape)
			}
			tw.Flush()
			for _, o := range g.Outputs {
				fmt.Fprintf(w, "output %-24s %v\n", o, g.Values[o].Shape)
			}
			fmt.Fprintf(w, "%d nodes: %s\n", len(g.Nodes), ir.FormatOpCounts(g.OpCounts()))
			fmt.Fprintf(w, "%d parameters\n", g.ParamCount())
			fmt.Fprintf(w, "memory plan (float32): %s\n", ir.PlanMemory(g).Summary(4))
			return nil
		},
	}
	mf.register(cmd)
	cmd.Flags().BoolVar(&noOpt, "no-opt", false, "show the graph as imported, before the optimization passes")
	return cmd
}
