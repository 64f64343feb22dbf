package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"veil/data"
	"veil/fixed"
	"veil/ir"
	"veil/model"
	"veil/mpc"
)

type prediction struct {
	Image   string        `json:"image"`
	Output  []float64     `json:"output"` // the first output printed
	Top1    int           `json:"top1"`
	Outputs []namedOutput `json:"outputs"`
}

// namedOutput is one output of a model with its name and shape.
type namedOutput struct {
	Name   string    `json:"name"`
	Shape  ir.Shape  `json:"shape"`
	Values []float64 `json:"values"`
}

func predictCmd() *cobra.Command {
	var (
		df       dataFlags
		mf       modelFlags
		backend  string
		scale    int
		asJSON   bool
		mal      maliciousFlags
		inFlags  []string
		outNames []string
	)
	cmd := &cobra.Command{
		Use:   "predict MODEL|PROGRAM [IMAGE...] [--input NAME=FILE...]",
		Short: "Print every output (and the top-1 class) for each image or set of named inputs",
		Long: `predict runs inputs through a model or a compiled program and prints every
output with its name and shape (and the top-1 class of the first).

Each IMAGE is one inference of a model with one input. --input NAME=FILE
gives one inference of a model with several inputs, one flag per input
(NAME= may be left out for a model with one input); FILE is an image, or a
raw tensor: .npy, .f32/.raw (little-endian float32) or .csv/.txt (numbers),
with as many values as the input's shape holds. --output NAME prints only
the named outputs (for a MODEL, any value of its graph).

--backend float runs the float graph, fixed the cleartext fixed-point program
(the oracle), and a secure backend (` + strings.Join(mpc.Backends(), ", ") + `) runs every party of it on
this machine over loopback TLS, so that the outputs can be compared directly.
A MODEL whose functions need traced ranges (reciprocals, square roots,
exponentials of secret values) is compiled with ranges traced on --data, or
on the inputs themselves when --data is not given.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			secure := backend != "float" && backend != "fixed"
			if secure {
				if _, err := secureOptions(backend); err != nil {
					return usagef("--backend %q: want float, fixed or a secure backend (%s)", backend, strings.Join(mpc.Backends(), ", "))
				}
			}
			images := args[1:]
			switch {
			case len(images) == 0 && len(inFlags) == 0:
				return usagef("give the inputs: IMAGE arguments or --input NAME=FILE")
			case len(images) > 0 && len(inFlags) > 0:
				return usagef("give IMAGE arguments or --input flags, not both")
			}
			var (
				g      *ir.Graph
				prog   *fixed.Program
				ports  []fixed.Port
				layout ir.Layout
				err    error
			)
			if model.IsProgramFile(args[0]) {
				if backend == "float" {
					return usagef("%s is a compiled program: --backend float needs a model", args[0])
				}
				if prog, err = fixed.ReadFile(args[0]); err != nil {
					return err
				}
				if _, err := df.follow(prog.Preprocess, args[0]); err != nil {
					return err
				}
				ports, layout = prog.InputPorts(), prog.InputLayout()
			} else {
				if err := mf.shapesFromData(inFlags); err != nil {
					return err
				}
				if g, _, err = mf.load(args[0]); err != nil {
					return err
				}
				for _, in := range g.Inputs {
					ports = append(ports, fixed.Port{Name: in, Shape: g.Values[in].Shape})
				}
				layout = g.Layout
				if len(outNames) > 0 {
					if err := selectOutputs(g, outNames); err != nil {
						return err
					}
				}
			}
			opt, err := df.options(0)
			if err != nil {
				return err
			}
			var inputs [][]float32
			var labels []string
			if len(images) > 0 {
				if len(ports) != 1 {
					return usagef("%s has %d inputs (%s): give each with --input NAME=FILE", args[0], len(ports), fixed.FormatPorts(ports))
				}
				for _, path := range images {
					x, err := loadInput(path, ports[0], layout, opt)
					if err != nil {
						return err
					}
					inputs, labels = append(inputs, x), append(labels, path)
				}
			} else {
				files, err := readInputFiles(inFlags, opt)
				if err != nil {
					return err
				}
				x, err := assembleInputs(files, ports, layout)
				if err != nil {
					return err
				}
				inputs, labels = [][]float32{x}, []string{strings.Join(inFlags, " ")}
			}
			if prog == nil && backend != "float" {
				calib := make([]fixed.Example, len(inputs))
				for i, x := range inputs {
					calib[i].Input = x
				}
				if df.spec != "" {
					if len(ports) != 1 {
						return usagef("--data: calibration images feed a model with one input; %s has %d", args[0], len(ports))
					}
					if calib, err = df.loadInputs(df.spec, df.limit, ports[0].Shape, layout); err != nil {
						return err
					}
				}
				ranges, err := fixed.TraceRanges(g, calib)
				if err != nil {
					return err
				}
				if prog, err = fixed.CompileWith(g, scale, fixed.Options{Ranges: ranges, Calibration: calib}); err != nil {
					return err
				}
			}
			outs := make([][][]float64, len(inputs))
			switch {
			case backend == "float":
				for i, x := range inputs {
					if outs[i], err = floatOutputs(g, ports, x); err != nil {
						return fmt.Errorf("%s: %w", labels[i], err)
					}
				}
			case secure:
				res, err := runLoopback(cmd.ErrOrStderr(), newProgress(cmd.ErrOrStderr(), asJSON), prog, inputs, backend, &mal)
				if err != nil {
					return err
				}
				outs = res.AllOutputs
			default:
				for i, x := range inputs {
					if outs[i], err = prog.PredictAll(x); err != nil {
						return fmt.Errorf("%s: %w", labels[i], err)
					}
				}
			}
			var names []fixed.Port
			if g != nil {
				for _, o := range g.Outputs {
					names = append(names, fixed.Port{Name: o, Shape: g.Values[o].Shape})
				}
			} else {
				names = prog.OutputPorts()
			}
			keep, err := keptOutputs(names, outNames, g == nil)
			if err != nil {
				return err
			}
			preds := make([]prediction, len(inputs))
			for i, ys := range outs {
				p := prediction{Image: labels[i]}
				for _, k := range keep {
					p.Outputs = append(p.Outputs, namedOutput{Name: names[k].Name, Shape: names[k].Shape, Values: ys[k]})
				}
				p.Output = p.Outputs[0].Values
				p.Top1 = fixed.Top1(p.Output)
				preds[i] = p
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(w).Encode(preds)
			}
			for _, p := range preds {
				fmt.Fprintf(w, "%s: top-1 %d\n", p.Image, p.Top1)
				for _, o := range p.Outputs {
					if len(p.Outputs) == 1 {
						fmt.Fprint(w, "  output")
					} else {
						fmt.Fprintf(w, "  %s %v:", o.Name, o.Shape)
					}
					for _, v := range o.Values {
						fmt.Fprintf(w, " %.5g", v)
					}
					fmt.Fprintln(w)
				}
			}
			return nil
		},
	}
	df.register(cmd, "calibration images for the ranges of functions that need them (default: the inputs themselves)")
	mf.register(cmd)
	cmd.Flags().StringVar(&backend, "backend", "float", "float, fixed, or a secure backend ("+strings.Join(mpc.Backends(), ", ")+") with every party on loopback")
	cmd.Flags().IntVar(&scale, "scale", defaultScale, "fixed-point scale when compiling a MODEL")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: one object per inference")
	cmd.Flags().StringArrayVar(&inFlags, "input", nil, "NAME=FILE: one named input (an image, .npy, .f32/.raw or .csv/.txt); repeat for each input")
	cmd.Flags().StringArrayVar(&outNames, "output", nil, "print only this output (repeatable; for a MODEL, any value of its graph)")
	mal.register(cmd.Flags())
	return cmd
}

// shapesFromData fixes the shape of every input given as a .npy file
// (--input NAME=FILE.npy) to the array's, unless --input-shape names it:
// a model's symbolic dimensions taken from the data.
func (m *modelFlags) shapesFromData(inFlags []string) error {
	given := map[string]bool{}
	for _, f := range m.inputShapes {
		name, _, named := strings.Cut(f, "=")
		if !named {
			name = ""
		}
		given[name] = true
	}
	for _, f := range inFlags {
		name, file, named := strings.Cut(f, "=")
		if !named {
			name, file = "", f
		}
		if given[name] || !strings.EqualFold(filepath.Ext(file), ".npy") {
			continue
		}
		t, err := data.LoadTensor(file)
		if err != nil {
			return err
		}
		if len(t.Shape) == 0 {
			continue
		}
		dims := make([]string, len(t.Shape))
		for i, d := range t.Shape {
			dims[i] = strconv.Itoa(d)
		}
		spec := strings.Join(dims, ",")
		if name != "" {
			spec = name + "=" + spec
		}
		m.inputShapes = append(m.inputShapes, spec)
	}
	return nil
}

// selectOutputs makes names the outputs of g (any of its values).
func selectOutputs(g *ir.Graph, names []string) error {
	for _, n := range names {
		if g.Values[n] == nil {
			return usagef("--output %q: the model has no value of that name (its outputs: %s)", n, strings.Join(g.Outputs, ", "))
		}
	}
	if err := g.SetOutputs(names...); err != nil {
		return err
	}
	g.Prune()
	return nil
}

// keptOutputs returns the indices of the outputs to print: those named
// by --output (checked against a program's outputs), else all.
func keptOutputs(ports []fixed.Port, names []string, check bool) ([]int, error) {
	if len(names) == 0 || !check {
		keep := make([]int, len(ports))
		for i := range keep {
			keep[i] = i
		}
		return keep, nil
	}
	var keep []int
	for _, n := range names {
		i := slices.IndexFunc(ports, func(p fixed.Port) bool { return p.Name == n })
		if i < 0 {
			return nil, usagef("--output %q: the program has no output of that name (its outputs: %s)", n, fixed.FormatPorts(ports))
		}
		keep = append(keep, i)
	}
	return keep, nil
}

// floatOutputs runs the float graph on a flat input (its inputs in
// order, concatenated) and returns every output.
func floatOutputs(g *ir.Graph, ports []fixed.Port, flat []float32) ([][]float64, error) {
	feed := map[string]*ir.Tensor{}
	for _, p := range ports {
		n := p.Shape.Size()
		feed[p.Name] = ir.FloatTensor(p.Shape, flat[:n])
		flat = flat[n:]
	}
	ts, err := ir.Run(g, feed)
	if err != nil {
		return nil, err
	}
	outs := make([][]float64, len(ts))
	for i, t := range ts {
		f := t.Floats()
		outs[i] = make([]float64, len(f))
		for j, v := range f {
			outs[i][j] = float64(v)
		}
	}
	return outs, nil
}
