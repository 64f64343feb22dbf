package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"veil/fixed"
	"veil/internal/demodata"
	"veil/ir"
	"veil/mpc"
	"veil/mpc/session"
)

// printSummary prints the traffic and timing of a loopback run of n
// inferences.
func printSummary(w io.Writer, s session.Summary, n int) {
	fmt.Fprintf(w, "%d secure inferences in %.2f s (%.1f ms each: the median online time plus the offline time per inference; all %d parties on this machine)\n", n, s.WallS, s.MsPerInference, len(s.BytesSent))
	for p, sent := range s.BytesSent {
		fmt.Fprintf(w, "  %-12s sent %s\n", mpc.Party(p), ir.FormatBytes(sent))
	}
	fmt.Fprintf(w, "  total        %s (%s per inference), %d rounds per inference\n", ir.FormatBytes(s.BytesTotal), ir.FormatBytes(s.BytesPerInfer), s.RoundsPerInfer)
	if s.Malicious {
		fmt.Fprintln(w, "  malicious security (Aramis): every party's evidence verified, every message authenticated, numbered and chained, transcripts checked before each output")
	}
}

func demoCmd() *cobra.Command {
	var (
		df      dataFlags
		mf      modelFlags
		modelP  string
		scale   int
		n       int
		asJSON  bool
		mal     maliciousFlags
		backend string
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Secure 3-party inference of the bundled model on real test images, all parties on loopback",
		Long: `demo compiles a model (by default the bundled Fashion-MNIST LeNet) and runs
real test images through the 3-party Porthos protocol: the client (P0, holds
the images), the server (P1, holds the weights) and the helper (P2), each with
its own TLS 1.3 connections over 127.0.0.1 and freshly generated keys. For each
image it prints the secure prediction (which only the client learns), the
cleartext fixed-point prediction and whether they agree, then the time, the
bytes each party sent and the rounds.

Without --model and --data it runs the bundled LeNet on the first
` + strconv.Itoa(demodata.FashionTestImages) + ` Fashion-MNIST test images, both embedded in veil, so it runs
from any directory (-n at most ` + strconv.Itoa(demodata.FashionTestImages) + `). A --model or --data path is read
from disk, relative to the working directory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			modelName, dataName := modelP, df.spec
			if modelP == "" || df.spec == "" {
				if df.spec == "" && n > demodata.FashionTestImages {
					return usagef("-n %d: the embedded test set holds %d images; for more give --data (in a checkout of veil: --data testdata/data/fashion-mnist/test)", n, demodata.FashionTestImages)
				}
				d, err := extractDemoFiles()
				if err != nil {
					return err
				}
				defer d.remove()
				if modelP == "" {
					modelP, modelName = d.lenet(), embeddedLeNetName
				}
				if df.spec == "" {
					df.spec, dataName = d.fashionTest(), embeddedFashionTestName
				}
			}
			pr := newProgress(cmd.ErrOrStderr(), asJSON)
			prog, xs, err := demoProgram(pr, &mf, &df, modelP, scale, n)
			if err != nil {
				return err
			}
			res, err := runLoopback(cmd.ErrOrStderr(), pr, prog, exampleInputs(xs), backend, &mal)
			if err != nil {
				return err
			}
			clear, err := fixed.FixedOutputs(prog, xs)
			if err != nil {
				return err
			}
			type row struct {
				Label     int  `json:"label"`
				Secure    int  `json:"secure"`
				Cleartext int  `json:"cleartext"`
				Agree     bool `json:"agree"`
			}
			rows := make([]row, len(xs))
			agree, right := 0, 0
			for i := range xs {
				r := row{Label: xs[i].Label, Secure: fixed.Top1(res.Outputs[i]), Cleartext: fixed.Top1(clear[i])}
				r.Agree = r.Secure == r.Cleartext
				if r.Agree {
					agree++
				}
				if r.Secure == r.Label {
					right++
				}
				rows[i] = r
			}
			sum := res.Summary(clear)
			w := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(w).Encode(struct {
					Model    string  `json:"model"`
					Scale    int     `json:"scale"`
					N        int     `json:"n"`
					Accuracy float64 `json:"accuracy"`
					Images   []row   `json:"images"`
					session.Summary
				}{modelName, scale, len(xs), float64(right) / float64(len(xs)), rows, sum})
			}
			fmt.Fprintf(w, "model %s (scale %d), %d images of %s\n", modelName, scale, len(xs), dataName)
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "image\tlabel\tsecure\tcleartext\tagree\t")
			for i, r := range rows {
				mark := "yes"
				if !r.Agree {
					mark = "NO"
				}
				fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%s\t\n", i, r.Label, r.Secure, r.Cleartext, mark)
			}
			tw.Flush()
			fmt.Fprintf(w, "secure and cleartext agree on %d of %d images; secure accuracy %.1f%%\n", agree, len(xs), 100*float64(right)/float64(len(xs)))
			printSummary(w, sum, len(xs))
			if agree != len(xs) {
				return fmt.Errorf("secure and cleartext predictions differ on %d images", len(xs)-agree)
			}
			return nil
		},
	}
	df.register(cmd, "labelled test images (default: the Fashion-MNIST test images embedded in veil)")
	mf.register(cmd)
	cmd.Flags().StringVar(&modelP, "model", "", "the model to run securely (default: the Fashion-MNIST LeNet embedded in veil)")
	cmd.Flags().IntVar(&scale, "scale", defaultScale, "fixed-point scale")
	backendFlag(cmd, &backend)
	cmd.Flags().IntVarP(&n, "n", "n", 20, "number of test images (at most "+strconv.Itoa(demodata.FashionTestImages)+" of the embedded ones)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	mal.register(cmd.Flags())
	return cmd
}

// runLoopback runs inputs through the backend's parties on loopback,
// under Aramis if mal says so, with a spinner from pr while they run.
func runLoopback(warn io.Writer, pr progress, prog *fixed.Program, inputs [][]float32, backend string, mal *maliciousFlags) (*session.Result, error) {
	opt, err := secureOptions(backend)
	if err != nil {
		return nil, err
	}
	lo := session.LoopbackOptions{Timeout: session.DefaultTimeout, Session: opt}
	if mal.on {
		if err := mal.loopback(warn); err != nil {
			return nil, err
		}
	}
	b := pr.spin(fmt.Sprintf("secure inference (%s) of %d inputs", backend, len(inputs)))
	defer b.done()
	if !mal.on {
		return session.RunLoopbackWith(context.Background(), prog, inputs, lo)
	}
	return session.RunLoopbackAramis(context.Background(), prog, inputs, lo)
}

// demoProgram loads the model and n images and compiles the model at
// scale, calibrated on the images, with a spinner from pr.
func demoProgram(pr progress, mf *modelFlags, df *dataFlags, modelPath string, scale, n int) (*fixed.Program, []fixed.Example, error) {
	b := pr.spin("importing the model")
	defer b.done()
	g, _, err := mf.load(modelPath)
	if err != nil {
		return nil, nil, err
	}
	shape, err := g.InputShape()
	if err != nil {
		return nil, nil, err
	}
	b.describe("loading images")
	xs, err := df.loadExamples(df.spec, n, shape, g.Layout)
	if err != nil {
		return nil, nil, err
	}
	// The images themselves calibrate the comparison bound.
	b.describe("compiling")
	prog, err := fixed.CompileWith(g, scale, fixed.Options{Calibration: xs})
	return prog, xs, err
}

// exampleInputs returns the examples' inputs.
func exampleInputs(xs []fixed.Example) [][]float32 {
	inputs := make([][]float32, len(xs))
	for i := range xs {
		inputs[i] = xs[i].Input
	}
	return inputs
}
